#!/usr/bin/env bash
# The folders of src/ are layers, and an include may only point down:
#   util  <  seccomp, snapshot  <  config  <  vmm  <  devices, virtio, arch/<arch>  <  machine  <  api
#   mmds (the metadata service and its network stack) uses util only; machine and api use it.
#   <  main.c (with usage.c, its --help text)
# src/jailer, src/snaptools and src/switch are programs of their own (ember-jailer,
# ember-rebase-snap, ember-switch; libc only): they may use util and nothing of ember's VM
# layers, and nothing else uses them.
# src/ctl (emberctl) may use util and config (ember's own parser checks its VM configs),
# and of the arch only arch_defs.h: constants and types, no code (vm stop asks for
# Ctrl-Alt-Del where ARCH_HAS_I8042 says the guest has one; config's headers need it
# anyway). Nothing else of the VM layers: it talks to ember through the API and console
# sockets. Since src/arch/<arch> is on the include path, a bare "name.h" in src/ctl must
# be its own header or arch_defs.h (ctl-includes-are-its-own).
# (arch/arch.h and arch_defs.h are the arch's interface, which vmm and config may use;
# arch_defs.h names only libc and, on riscv64, its sibling fdt_tree.h, types only too.)
# One PASS/FAIL line per rule; the offending lines go to stderr.
set -u
cd "$(dirname "$0")/.."
failed=0

# check NAME FOLDER FORBIDDEN-REGEX: no quoted include in FOLDER matches the regex.
check() {
	local name=$1 dir=$2 forbidden=$3 hits
	hits=$(grep -rnE "^#\s*include\s+\"[^\"]*($forbidden)" "$dir" 2>/dev/null)
	if [ -n "$hits" ]; then
		echo "$hits" >&2
		echo "FAIL: lint/layers/$name"
		failed=1
	else
		echo "PASS: lint/layers/$name"
	fi
}

check util-is-the-floor src/util '(seccomp|snapshot|config|vmm|virtio|devices|arch|machine|api)/'
check seccomp-above-util src/seccomp '(snapshot|config|vmm|virtio|devices|arch|machine|api)/'
check snapshot-above-util src/snapshot '(seccomp|config|vmm|virtio|devices|arch|machine|api)/'
check config-below-vmm src/config '(vmm|virtio|devices|machine|api)/|arch/arch\.h|/arch\.h'
check vmm-is-the-core src/vmm '(virtio|devices|machine|api)/|arch/(x86_64|aarch64|riscv64)/'
check devices-below-machine src/devices '(virtio|machine|api)/|arch/'
check virtio-below-machine src/virtio '(devices|machine|api)/|arch/'
check arch-below-machine src/arch '(machine|api)/'
check machine-below-api src/machine 'api/'
check mmds-uses-only-util src/mmds '(seccomp|snapshot|config|vmm|virtio|devices|arch|machine|api|jailer|ctl|switch)/'
check jailer-uses-only-util src/jailer '(config|vmm|virtio|devices|arch|machine|api|seccomp|snapshot|snaptools)/'
check ctl-uses-only-util-and-config src/ctl '(vmm|virtio|devices|arch|machine|api|seccomp|snapshot|jailer|snaptools|switch)/'
check snaptools-uses-only-util src/snaptools '(config|vmm|virtio|devices|arch|machine|api|seccomp|snapshot|jailer)/'
check switch-uses-only-util src/switch '(config|vmm|virtio|devices|arch|machine|api|seccomp|snapshot|jailer|snaptools)/'

# Every bare quoted include of src/ctl is a header of src/ctl, or arch_defs.h.
ctl_includes_are_its_own() {
	local hits="" line inc
	while IFS= read -r line; do
		inc=$(sed -nE 's/^.*#\s*include\s+"([^"/]+)".*$/\1/p' <<<"$line")
		[ -z "$inc" ] || [ "$inc" = arch_defs.h ] || [ -e "src/ctl/$inc" ] ||
			hits+="$line"$'\n'
	done < <(grep -rnE '^#\s*include\s+"[^"/]+"' src/ctl 2>/dev/null)
	if [ -n "$hits" ]; then
		printf '%s' "$hits" >&2
		echo "FAIL: lint/layers/ctl-includes-are-its-own"
		failed=1
	else
		echo "PASS: lint/layers/ctl-includes-are-its-own"
	fi
}
ctl_includes_are_its_own

# only_its_own NAME FOLDER: nothing outside src/FOLDER includes it.
only_its_own() {
	local name=$1 prog=$2 hits
	hits=$(grep -rnE --exclude-dir="$prog" "^#\s*include\s+\"[^\"]*$prog/" src 2>/dev/null)
	if [ -n "$hits" ]; then
		echo "$hits" >&2
		echo "FAIL: lint/layers/$name"
		failed=1
	else
		echo "PASS: lint/layers/$name"
	fi
}
only_its_own nothing-includes-the-jailer jailer
only_its_own nothing-includes-snaptools snaptools
only_its_own nothing-includes-ctl ctl
only_its_own nothing-includes-the-switch switch
exit $failed
