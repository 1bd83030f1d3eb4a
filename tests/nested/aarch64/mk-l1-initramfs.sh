#!/usr/bin/env bash
# Builds the initramfs of the aarch64 L1 Linux (the KVM host that runs ember
# under QEMU TCG with virtualization=on).
#
# usage: mk-l1-initramfs.sh OUT.cpio[.gz] EMBER_BIN L1_SCRIPT [PAYLOAD_DIR]
#   EMBER_BIN    becomes /bin/ember (static arm64: L1 has no libc)
#   L1_SCRIPT    becomes /run.sh, run by /init once /dev/kvm is up
#   PAYLOAD_DIR  its contents become /payload (L2 Image, initramfs, disk)
# /bin/api_client is built from ../tools/api_client.c. The arm64 busybox and
# L1's modules come from l1-kernel.sh's cache: $NESTED_CACHE, by default
# <repo>/build/nested/cache-aarch64.
#
# /init prints L1-INSMOD-FAILED <mod> for a module that does not load, makes
# tap0 (169.254.100.1/24, for virtio-net), prints L1-KVM-MISSING without
# /dev/kvm, L1-DMESG: <line> for the kernel's kvm/vgic lines,
# L1-STARTED uptime=<s>, runs /run.sh, prints L1-RUN-RC=<its status> and
# powers L1 off.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 OUT.cpio[.gz] EMBER_BIN L1_SCRIPT [PAYLOAD_DIR]" >&2
	exit 2
fi
out=$1 ember=$2 script=$3 payload=${4:-}
cache=${NESTED_CACHE:-$repo/build/nested/cache-aarch64}
cc=${CROSS_CC:-aarch64-linux-gnu-gcc}

die() {
	echo "mk-l1-initramfs: $*" >&2
	exit 1
}
[ -f "$ember" ] || die "no ember binary at $ember"
[ -f "$script" ] || die "no L1 script at $script"
[ -z "$payload" ] || [ -d "$payload" ] || die "$payload is not a directory"
if LC_ALL=C readelf -l "$ember" 2>/dev/null | grep -q 'Requesting program interpreter'; then
	echo "mk-l1-initramfs: warning: $ember is dynamically linked; it will not run in L1" >&2
fi
command -v "$cc" >/dev/null || die "no $cc (apt-get install gcc-aarch64-linux-gnu)"

"$here/l1-kernel.sh" "$cache"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
nested_rootfs "$root" "$cache/busybox"
mkdir -p "$root/lib/modules" "$root/payload"
mods=$(tr '\n' ' ' <"$cache/l1.modules")
for m in $mods; do cp "$cache/modules/$m" "$root/lib/modules/"; done
"$cc" -static -O2 -o "$root/bin/api_client" "$here/../tools/api_client.c" || die "could not build api_client"
cp "$ember" "$root/bin/ember"
chmod 755 "$root/bin/ember"
cp "$script" "$root/run.sh"
chmod 755 "$root/run.sh"
[ -z "$payload" ] || cp -rL "$payload"/. "$root/payload/"

{
	nested_init_head
	sed "s/@MODS@/$mods/" <<'EOS'
for m in @MODS@; do
	insmod "/lib/modules/$m" || echo "L1-INSMOD-FAILED $m"
done
EOS
	# A TAP for the MMDS runs' virtio-net (tun is among L1's modules).
	nested_l1_tap
	cat <<'EOS'
[ -c /dev/kvm ] || echo "L1-KVM-MISSING"
dmesg | grep -E 'kvm \[|vgic|Hyp mode' | sed 's/^/L1-DMESG: /'
echo "L1-STARTED uptime=$(cut -d' ' -f1 /proc/uptime)"
sh /run.sh
echo "L1-RUN-RC=$?"
EOS
	nested_init_end
} >"$root/init"
chmod 755 "$root/init"
nested_cpio "$root" "$out"
