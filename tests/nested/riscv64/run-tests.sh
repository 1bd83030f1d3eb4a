#!/usr/bin/env bash
# The riscv64 nested test suite: boots a riscv64 L1 Linux under QEMU TCG with
# the H extension (its KVM is real) and, inside it, boots a riscv64 L2 Linux
# with ember. The interrupt controller is a property of the L1 machine, so
# each one gets its own L1 boot: plic (Linux 6.1, ember emulates the PLIC) and
# aia (Linux 6.12 on an APLIC + IMSIC machine, KVM's in-kernel AIA). The same
# Image is L1 and L2. Prints one line per run:
#   PASS: nested/<name> (<secs>s in L1, cpus=<n>)
#   FAIL: nested/<name> (<reason>)
# A run passes when ember exits 0 and the guest printed L2-CPUS=2,
# L2-DISK-OK, L2-RNG-OK and L2-MARKER-OK (the *-sbi runs: sbi-guest.S's
# markers; the *-snap runs: l2-snap.c's, see want_markers), and no L2-FAIL
# (see l2-init.c); in the API runs, every API request must succeed too. A
# *-snap run is two embers: one boots the guest and is saved and killed, the
# next restores it and must see it go on (see snap_lines).
#
# usage: run-tests.sh EMBER_RISCV64_BIN       (static: make ARCH=riscv64)
# environment:
#   EMBER_SHARED          the shared directory (default <repo>/../shared)
#   NESTED_IMAGE_PLIC     L1/L2 kernel of the plic runs (default $EMBER_SHARED/guest/riscv64/Image)
#   NESTED_IMAGE_AIA      L1/L2 kernel of the aia runs (default $EMBER_SHARED/guest/riscv64-6.12/Image)
#   NESTED_RV_L2_IMAGE    an L2 kernel with a vsock driver (CONFIG_VIRTIO_VSOCKETS) for
#                         plic-snap, whose guest checks the vsock across the restore too
#                         (default: the shared kernel's config plus vsock, built once by
#                         l2-vsock-kernel.sh, ~8 min, into EMBER_MACHINE_CACHE (default
#                         ~/.cache/ember, shared by every checkout); "none": no
#                         vsock checks, the shared kernel as L2)
#   NESTED_RUN_TIMEOUT    seconds per ember run inside L1 (default 120)
#   NESTED_START_TIMEOUT  seconds for L1 to reach its /init (default 30)
#   NESTED_ONLY           space-separated run names to do (default: all)
#   VERBOSE=1             stream the L1 console while it runs
#   NESTED_AIA_DT_FIX, NESTED_AIA_GUESTS: see run-l1.sh
# Exit status: 0 only if every run passed.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
out=$repo/build/nested/riscv64
shared=${EMBER_SHARED:-$repo/../shared}
export NESTED_IMAGE_PLIC=${NESTED_IMAGE_PLIC:-$shared/guest/riscv64/Image}
export NESTED_IMAGE_AIA=${NESTED_IMAGE_AIA:-$shared/guest/riscv64-6.12/Image}
run_timeout=${NESTED_RUN_TIMEOUT:-120}
# L1 silent this long means L1 is stuck, not a run: L1's watchdog ends any run sooner.
freeze_secs=$((run_timeout + 30))
# L1 reaches /init in 2-3 s of wall time here, plic and aia alike (README.md).
start_timeout=${NESTED_START_TIMEOUT:-30}
tries=3

[ $# -eq 1 ] || {
	echo "usage: $0 EMBER_RISCV64_BIN" >&2
	exit 2
}
ember=$1
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"

# The L2 guest: the same VM three ways. Its console is the 16550 (ttyS0).
l2_args="console=ttyS0 earlycon=sbi panic=1"
l2_cpus=2
# The saved guest: l2-snap.c, on every device whose state a snapshot holds (the shared
# kernels have no vsock driver, so that device stays idle unless NESTED_RV_L2_IMAGE). 128 MiB: the memory file
# and the restored guest's RAM share L1's 1 GiB.
# With NESTED_RV_L2_IMAGE, plic-snap's L2 is that kernel (the L1 stays
# NESTED_IMAGE_PLIC) and its guest checks the vsock too (ember.vsock=1).
cache=${NESTED_CACHE:-$repo/build/nested/cache}
# That kernel depends only on the shared config and Debian's source package (its stamp), so
# it is kept per machine, not per checkout: a fresh clone's make check does not spend ~8 min
# building it again. NESTED_CACHE, when given, keeps it there instead.
machine_cache=${EMBER_MACHINE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ember}
l2_vsock_built=${NESTED_CACHE:-$machine_cache}/riscv64-l2-vsock
l2_vsock_image=${NESTED_RV_L2_IMAGE:-$l2_vsock_built/Image}
[ "$l2_vsock_image" != none ] || l2_vsock_image=
plic_snap_kernel=/payload/Image plic_snap_boot=
if [ -n "$l2_vsock_image" ]; then
	plic_snap_kernel=/payload/L2-Image plic_snap_boot=" ember.vsock=1"
fi
snap_args="--initrd /payload/l2.cpio --vcpus $l2_cpus --memory 128 \
--disk /payload/disk.img --rng --vsock 3,/tmp/snap.vsock --api-sock /tmp/ember.sock --level info \
--boot-args '$l2_args rdinit=/snap-init"
# name, the L1's irqchip, the kind of run (run: ember alone; api: ember, then
# the requests of api_requests below), then ember's arguments, as sh words.
tests=(
	"plic-2cpu plic run --irqchip plic --kernel /payload/Image --initrd /payload/l2.cpio --vcpus $l2_cpus --memory 256 --disk /payload/disk.img --rng --boot-args '$l2_args'"
	"plic-2cpu-api plic api --irqchip plic --api-sock /tmp/ember.sock"
	"aia-2cpu aia run --irqchip aia --kernel /payload/Image --initrd /payload/l2.cpio --vcpus $l2_cpus --memory 256 --disk /payload/disk.img --rng --boot-args '$l2_args'"
	"aia-2cpu-config aia run --irqchip aia --no-api --config-file /payload/vm.json"
	"aia-sbi aia run --irqchip aia --kernel /payload/sbi-guest.Image --vcpus $l2_cpus --memory 64"
	"plic-snap plic snap --kernel $plic_snap_kernel $snap_args$plic_snap_boot' --irqchip plic"
	"aia-snap aia snap --kernel /payload/Image $snap_args' --irqchip aia"
)
# want_markers NAME: what the run's guest must print (besides L2-CPUS=$l2_cpus):
# sbi-guest.S's checks for the *-sbi runs, l2-init.c's for the Linux ones. Only
# the 6.12 L1's KVM forwards an SBI console (DBCN) to ember: the 6.1 one has
# neither DBCN nor (built without RISCV_SBI_V01) the legacy console, so the
# SBI guest could not print there.
# shellcheck disable=SC2317 # (called through nested_runs)
want_markers() {
	case $1 in
	*-sbi) echo L2-SBI-DBCN-OK L2-SBI-DBCN-BADADDR-OK L2-BOOT-REGS-OK L2-SBI-UNSUPPORTED-OK ;;
	# The saved ember was still there to be killed (137: SIGKILL) after the snapshot.
	*-snap)
		echo L2-SNAP-READY first-rc=137 L2-SNAP-RESTORED L2-SNAP-TICKER-OK L2-SNAP-DISK-OK \
			L2-SNAP-RNG-OK L2-SNAP-OK
		# The vsock across the restore (vsock_tool's lines): the held connection reset,
		# 1 MiB each way on new connections.
		if vsock_run "$1"; then
			echo L2-HOLD-CONNECTED L2-HOLD-RESET L2-CLIENT-OK L2-REFUSED L2-ECHO-DONE.bytes=1048576 \
				L1-CLIENT-OK L1-ECHO-DONE.bytes=1048576
		fi
		;;
	*) echo L2-DISK-OK L2-RNG-OK L2-MARKER-OK ;;
	esac
}
# vsock_run NAME: whether that run's guest checks the vsock.
# shellcheck disable=SC2317 # (called through nested_runs)
vsock_run() { [ "$1" = plic-snap ] && [ -n "$l2_vsock_image" ]; }
nested_select tests
mkdir -p "$out"
log=$out/run-tests.log
: >"$log"
echo "nested: full log in $log"
[ ${#tests[@]} -gt 0 ] || nested_setup_fail "NESTED_ONLY='${NESTED_ONLY:-}' names no run"

# --- setup -------------------------------------------------------------------
command -v qemu-system-riscv64 >/dev/null ||
	nested_setup_fail "no qemu-system-riscv64 on this host (apt-get install qemu-system-misc opensbi)"
command -v riscv64-linux-gnu-gcc >/dev/null ||
	nested_setup_fail "no riscv64-linux-gnu-gcc on this host (apt-get install gcc-riscv64-linux-gnu)"
[ -f "$ember" ] || nested_setup_fail "no ember binary at $ember (make ARCH=riscv64)"
# A RISC-V ELF, or a script stand-in (L1 has no shell: its #! interpreter
# must be in L1 too, e.g. in the payload).
if [ "$(head -c 2 "$ember")" != '#!' ] &&
	[ "$(LC_ALL=C readelf -h "$ember" 2>/dev/null | sed -n 's/^ *Machine: *//p')" != RISC-V ]; then
	nested_setup_fail "$ember is neither a RISC-V ELF executable nor a script"
fi
for t in "${tests[@]}"; do
	read -r _ chip _ <<<"$t"
	if [ "$chip" = plic ]; then image=$NESTED_IMAGE_PLIC; else image=$NESTED_IMAGE_AIA; fi
	[ -f "$image" ] || nested_setup_fail "no riscv64 kernel at $image (for the $chip runs)"
done
if [ -z "${NESTED_RV_L2_IMAGE:-}" ] && [ -n "$l2_vsock_image" ] &&
	! grep -qw plic-snap <<<"${tests[*]}"; then
	l2_vsock_image= # no run needs it: do not build it
fi
if [ -n "$l2_vsock_image" ] && [ -z "${NESTED_RV_L2_IMAGE:-}" ]; then
	echo "nested: the riscv64 L2 kernel with vsock (built once, ~8 min): $l2_vsock_built" >&2
	"$here/l2-vsock-kernel.sh" "$(dirname "$NESTED_IMAGE_PLIC")/config" "$l2_vsock_built" \
		>>"$log" 2>&1 || nested_setup_fail "could not build the L2 kernel with vsock (see $log)"
fi
[ -z "$l2_vsock_image" ] || [ -f "$l2_vsock_image" ] ||
	nested_setup_fail "no riscv64 kernel at NESTED_RV_L2_IMAGE=$l2_vsock_image"

# L1's /payload, one per irqchip: its own Image (the L1 kernel, which is the
# L2 kernel too) and the common L2 initramfs, disk and config file. Links here;
# mk-l1-initramfs.sh copies the files they point to.
common=$out/payload
rm -rf "$common" "$out"/payload-*
mkdir -p "$common"
# Both ends of the vsock checks: L1's (/payload/vsock_tool) and the guest's.
riscv64-linux-gnu-gcc -static -O2 -s -o "$common/vsock_tool" "$here/../tools/vsock_tool.c" >>"$log" 2>&1 ||
	nested_setup_fail "could not build vsock_tool (see $log)"
"$here/mk-l2-initramfs.sh" "$common/l2.cpio" "$common/disk.img" "$common/vsock_tool" >>"$log" 2>&1 ||
	nested_setup_fail "could not build the L2 initramfs (see $log)"
# The SBI guest: an Image of a few hundred instructions, linked where ember loads it.
{ riscv64-linux-gnu-gcc -nostdlib -static -march=rv64imac -mabi=lp64 -Wl,-Ttext=0x80200000 \
	-Wl,--build-id=none -o "$common/sbi-guest.elf" "$here/sbi-guest.S" &&
	riscv64-linux-gnu-objcopy -O binary "$common/sbi-guest.elf" "$common/sbi-guest.Image"; } \
	>>"$log" 2>&1 || nested_setup_fail "could not build sbi-guest.S (see $log)"
# The config-file run's VM, in Firecracker's --config-file shape.
cat >"$common/vm.json" <<EOF
{
  "boot-source": {"kernel_image_path": "/payload/Image", "initrd_path": "/payload/l2.cpio",
                  "boot_args": "$l2_args"},
  "machine-config": {"vcpu_count": $l2_cpus, "mem_size_mib": 256},
  "drives": [{"drive_id": "rootfs", "path_on_host": "/payload/disk.img", "is_root_device": false,
              "is_read_only": true}],
  "entropy": {}
}
EOF
# What the restoring ember gives the saved guest's console (l2-snap.c waits for a line).
echo restored >"$common/snap-input"
for chip in plic aia; do
	mkdir -p "$out/payload-$chip"
	ln -s "$common/l2.cpio" "$common/disk.img" "$common/vm.json" "$common/sbi-guest.Image" \
		"$common/snap-input" "$out/payload-$chip/"
done
ln -s "$NESTED_IMAGE_PLIC" "$out/payload-plic/Image"
if [ -n "$l2_vsock_image" ]; then
	ln -s "$common/vsock_tool" "$out/payload-plic/"
	ln -s "$l2_vsock_image" "$out/payload-plic/L2-Image"
fi
ln -s "$NESTED_IMAGE_AIA" "$out/payload-aia/Image"

# The API run's requests, in order, as "METHOD PATH [BODY]" (Firecracker's API).
# shellcheck disable=SC2317 # (called through nested_runs)
api_requests() {
	cat <<EOS
PUT /machine-config {"vcpu_count":$l2_cpus,"mem_size_mib":256}
PUT /boot-source {"kernel_image_path":"/payload/Image","initrd_path":"/payload/l2.cpio","boot_args":"$l2_args"}
PUT /drives/rootfs {"drive_id":"rootfs","path_on_host":"/payload/disk.img","is_root_device":false,"is_read_only":true}
PUT /entropy {}
PUT /actions {"action_type":"InstanceStart"}
EOS
}

# snap_lines NAME: the rest of a snap run once its first ember has booted the
# guest: wait for l2-snap.c to be ready, pause, a Full snapshot, then (l1-init
# kills that ember) a second ember restores it, through the API on the plic L1
# (PUT /snapshot/load, Firecracker's) and --restore on the aia one, and gives
# the guest the console line it waits for.
# shellcheck disable=SC2317 # (called through nested_runs)
snap_lines() {
	cat <<EOS
> WAIT L2-SNAP-READY
> PATCH /vm {"state":"Paused"}
> PUT /snapshot/create {"snapshot_type":"Full","snapshot_path":"/tmp/snap.state","mem_file_path":"/tmp/snap.mem"}
= --level
= info
< /payload/snap-input
EOS
	case $1 in
	plic-*)
		cat <<EOS
= --api-sock
= /tmp/ember2.sock
>> PUT /snapshot/load {"snapshot_path":"/tmp/snap.state","mem_backend":{"backend_type":"File","backend_path":"/tmp/snap.mem"},"resume_vm":true}
EOS
		;;
	*) printf '%s\n' "= --restore" "= /tmp/snap.state,/tmp/snap.mem" ;;
	esac
	# The host ends of the vsock (ember's Unix sockets, /tmp/snap.vsock_PORT): echoes on
	# port 5002, for the connection the restore resets, and on 5000; after the restore a
	# client to the guest's port 1234. That client waits until the guest has seen the
	# transport reset: a connection the guest accepts before it handles the reset event
	# is reset with the old ones (seen here on the first try).
	if vsock_run "$1"; then
		cat <<EOS
& /payload/vsock_tool echo-uds /tmp/snap.vsock_5002
& /payload/vsock_tool echo-uds /tmp/snap.vsock_5000
>> WAIT L2-HOLD-RESET
&& /payload/vsock_tool client-uds /tmp/snap.vsock 1234 1048576
EOS
	fi
}

# gen_runs IRQCHIP NAME...: L1's /runs (format in README.md) for those runs (of
# that irqchip).
# shellcheck disable=SC2317 # (called through nested_runs)
gen_runs() {
	local chip=$1 name c how args wanted
	shift
	wanted=" $* " # kept apart: the loop's eval "set --" replaces "$@"
	echo "# Generated by tests/nested/riscv64/run-tests.sh ($chip L1)."
	for t in "${tests[@]}"; do
		read -r name c how args <<<"$t"
		case $wanted in *" $name "*) ;; *) continue ;; esac
		[ "$c" = "$chip" ] || continue
		echo "$how $name $run_timeout"
		# The table's own words (quotes and all), one argument a line.
		eval "set -- $args"
		printf '%s\n' "$@"
		[ "$how" != api ] || api_requests | sed 's/^/> /'
		[ "$how" != snap ] || snap_lines "$name"
		echo
	done
}

# --- boot each L1, retrying only one that never reached its /init ------------
# boot_l1 IRQCHIP INITRD NRUNS: the last console in $out/l1-<IRQCHIP>.log (see
# nested_boot_l1). Returns 1 if L1 never started.
# shellcheck disable=SC2317 # (called through nested_runs)
boot_l1() {
	local total=$((start_timeout + $3 * (run_timeout + 10) + 30))
	nested_boot_l1 "$1" "$out/l1-$1.log" "$total" "$here/run-l1.sh" "$2" "$total" "$1"
}

l1_pids=
# Interrupted: take QEMU (run-l1.sh execs timeout, which passes it on) along.
# shellcheck disable=SC2317,SC2086 # (called by the trap; a list of pids)
cleanup() { [ -z "$l1_pids" ] || kill $l1_pids 2>/dev/null || true; }
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# boot_chip NAME...: an L1 with $chip that does these runs (nested_runs' BOOT).
# shellcheck disable=SC2317 # (called by nested_runs)
boot_chip() {
	local runs_file=$out/l1-$chip.runs initrd=$out/l1-$chip.cpio bad
	gen_runs "$chip" "$@" >"$runs_file"
	# Uncompressed: gzip costs more time than it saves in L1's boot.
	"$here/mk-l1-initramfs.sh" "$initrd" "$ember" "$runs_file" "$out/payload-$chip" >>"$log" 2>&1 ||
		nested_setup_fail "could not build the L1 initramfs (see $log)"
	not_started=
	boot_l1 "$chip" "$initrd" "$#" || not_started="L1 ($chip) did not start in $tries tries"
	rm -f "$initrd" "$initrd.dtb"
	cur=$out/l1-$chip.log
	l1_note=
	grep -q 'L1-KVM-MISSING' "$cur" && l1_note=" (L1 had no /dev/kvm)"
	bad=$(grep -a -m 1 '^L1-RUNS-BAD' "$cur" || true)
	[ -z "$bad" ] || l1_note="$l1_note ($bad)"
	return 0
}
# judge_chip NAME: the run's line (nested_runs' JUDGE).
# shellcheck disable=SC2317,SC2046 # (called by nested_runs; the markers, one word each)
judge_chip() {
	nested_judge "$1" "$cur" "$not_started" "$l1_note" "$l2_cpus" $(want_markers "$1")
}

# A riscv64 L2's backtrace request (6.12 has one) is an IPI, not an NMI (see
# nested_classify_stall).
stall_opts=--no-nmi
status=0
for chip in plic aia; do
	names=()
	for t in "${tests[@]}"; do
		read -r name c _ <<<"$t"
		[ "$c" != "$chip" ] || names+=("$name")
	done
	[ ${#names[@]} -gt 0 ] || continue
	# --- this L1's results (a run that stalled: once more, in a new L1) -------
	nested_runs boot_chip judge_chip "${names[@]}" || status=1
done
exit $status
