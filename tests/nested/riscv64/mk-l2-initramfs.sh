#!/usr/bin/env bash
# Builds the initramfs of the riscv64 L2 guest (the Linux that ember boots
# inside L1): a static /init from l2-init.c and, for the snapshot runs
# (rdinit=/snap-init), /snap-init from l2-snap.c; nothing else (this test bed
# has no riscv64 busybox). Optionally also writes the raw disk image their
# checks expect.
#
# usage: mk-l2-initramfs.sh OUT.cpio[.gz] [DISK_OUT.img [VSOCK_TOOL]]
#   VSOCK_TOOL  a riscv64 static build of ../tools/vsock_tool.c, which becomes
#               /bin/vsock_tool (l2-snap.c's vsock checks, with ember.vsock=1)
# environment: CROSS_CC (default riscv64-linux-gnu-gcc)
# The markers /init prints are described in l2-init.c and README.md.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"

if [ $# -lt 1 ] || [ $# -gt 3 ]; then
	echo "usage: $0 OUT.cpio[.gz] [DISK_OUT.img [VSOCK_TOOL]]" >&2
	exit 2
fi
out=$1 disk=${2:-} vsock_tool=${3:-}
cc=${CROSS_CC:-riscv64-linux-gnu-gcc}
marker="EMBER-NESTED-RISCV64-DISK-0"

command -v "$cc" >/dev/null || {
	echo "mk-l2-initramfs: no $cc (apt-get install gcc-riscv64-linux-gnu)" >&2
	exit 1
}

if [ -n "$disk" ]; then
	mkdir -p "$(dirname "$disk")"
	# 1 MiB: the marker, then zeros.
	{ printf '%s' "$marker"; head -c $((1024 * 1024 - ${#marker})) /dev/zero; } >"$disk"
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root/dev" "$root/proc" "$root/sys" "$root/tmp"
[ -z "$vsock_tool" ] || install -D -m 755 "$vsock_tool" "$root/bin/vsock_tool"
"$cc" -static -O2 -s -Wall -DDISK_MARKER="\"$marker\"" -o "$root/init" "$here/l2-init.c"
"$cc" -static -O2 -s -Wall -DDISK_MARKER="\"$marker\"" -o "$root/snap-init" "$here/l2-snap.c"
# Without /dev/console in the archive the kernel starts /init with no stdio;
# mknod needs root, and /init reopens the console from devtmpfs anyway.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true
nested_cpio "$root" "$out"
