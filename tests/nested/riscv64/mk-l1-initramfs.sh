#!/usr/bin/env bash
# Builds the initramfs of the riscv64 L1 Linux (the KVM host that runs ember
# under QEMU TCG with the H extension). This test bed has no riscv64 busybox:
# /init is l1-init.c, which reads the runs from /runs (format in README.md).
#
# usage: mk-l1-initramfs.sh OUT.cpio[.gz] EMBER_BIN RUNS_FILE [PAYLOAD_DIR]
#   EMBER_BIN    becomes /bin/ember (static riscv64: L1 has no libc)
#   RUNS_FILE    becomes /runs
#   PAYLOAD_DIR  its contents become /payload (L2 Image, initramfs, disk);
#                symbolic links in it are copied as the files they point to
# /bin/api_client is built from ../tools/api_client.c.
# environment: CROSS_CC (default riscv64-linux-gnu-gcc)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 OUT.cpio[.gz] EMBER_BIN RUNS_FILE [PAYLOAD_DIR]" >&2
	exit 2
fi
out=$1 ember=$2 runs_file=$3 payload=${4:-}
cc=${CROSS_CC:-riscv64-linux-gnu-gcc}

die() {
	echo "mk-l1-initramfs: $*" >&2
	exit 1
}
[ -f "$ember" ] || die "no ember binary at $ember"
[ -f "$runs_file" ] || die "no runs file at $runs_file"
[ -z "$payload" ] || [ -d "$payload" ] || die "$payload is not a directory"
if LC_ALL=C readelf -l "$ember" 2>/dev/null | grep -q 'Requesting program interpreter'; then
	echo "mk-l1-initramfs: warning: $ember is dynamically linked; it will not run in L1" >&2
fi
command -v "$cc" >/dev/null || die "no $cc (apt-get install gcc-riscv64-linux-gnu)"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
chmod 755 "$root"
mkdir -p "$root/bin" "$root/dev" "$root/proc" "$root/sys" "$root/tmp" "$root/payload"
chmod 1777 "$root/tmp"
"$cc" -static -O2 -s -Wall -o "$root/init" "$here/l1-init.c" || die "could not build l1-init"
"$cc" -static -O2 -s -Wall -o "$root/bin/api_client" "$here/../tools/api_client.c" ||
	die "could not build api_client"
cp "$ember" "$root/bin/ember"
chmod 755 "$root/bin/ember"
cp "$runs_file" "$root/runs"
[ -z "$payload" ] || cp -rL "$payload"/. "$root/payload/"
# Without /dev/console in the archive the kernel starts /init with no stdio;
# mknod needs root, and /init reopens the console from devtmpfs anyway.
mknod -m 600 "$root/dev/console" c 5 1 2>/dev/null || true
mknod -m 666 "$root/dev/null" c 1 3 2>/dev/null || true
nested_cpio "$root" "$out"
