#!/usr/bin/env bash
# Installs the Debian packages ember needs to build, test and demo.
# Idempotent: skips apt entirely when everything is already there.
set -eu
pkgs=(
	build-essential make gcc libc6-dev      # the VMM and the tiny guests
	clang                                   # libFuzzer targets (make fuzz)
	libcmocka-dev                           # unit tests
	libfdt-dev device-tree-compiler         # unit tests check ember's own FDT blobs with them
	liburing-dev                            # virtio-blk I/O (liburing.a for the static build)
	libjansson-dev                          # --config-file JSON (libjansson.a for the static build)
	libhttp-parser-dev                      # the API server's HTTP/1.1 parser
	qemu-system-x86                         # the nested tier's L1 (TCG) and the peer VMM
	busybox-static cpio xz-utils zstd       # initramfs for L1 and L2 guests
	e2fsprogs iproute2                      # ext4 disk images; network namespaces and TAPs
	ca-certificates                         # apt-get download of the L1 kernel
	python3                                 # bench scripts
	python3-pytest python3-jsonschema python3-yaml  # API integration tests against the spec
	util-linux procps                       # script(1), ps
)
missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "deps: installing ${missing[*]}" >&2
SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
