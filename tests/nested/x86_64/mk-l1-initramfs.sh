#!/usr/bin/env bash
# Builds the initramfs of the L1 Linux (the KVM host that runs ember under
# QEMU TCG).
#
# usage: mk-l1-initramfs.sh OUT.cpio[.gz] EMBER_BIN L1_SCRIPT [EXTRA_FILES_DIR]
#   EMBER_BIN        becomes /bin/ember (must be static: L1 has no libc)
#   L1_SCRIPT        becomes /run.sh, run by /init once /dev/kvm is up
#   EXTRA_FILES_DIR  its contents become /payload (L2 kernels, L2 initramfs)
# The L1 kernel modules come from l1-kernel.sh's cache: $NESTED_CACHE, by
# default <repo>/build/nested/cache (fetched there if missing).
#
# /init prints L1-KVM-MISSING if /dev/kvm did not appear, then L1-STARTED,
# runs /run.sh, prints L1-RUN-RC=<its status> and powers L1 off.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"

if [ $# -lt 3 ] || [ $# -gt 4 ]; then
	echo "usage: $0 OUT.cpio.gz EMBER_BIN L1_SCRIPT [EXTRA_FILES_DIR]" >&2
	exit 2
fi
out=$1 ember=$2 script=$3 extra=${4:-}
cache=${NESTED_CACHE:-$repo/build/nested/cache}

[ -f "$ember" ] || { echo "mk-l1-initramfs: no ember binary at $ember" >&2; exit 1; }
[ -f "$script" ] || { echo "mk-l1-initramfs: no L1 script at $script" >&2; exit 1; }
if [ -n "$extra" ] && [ ! -d "$extra" ]; then
	echo "mk-l1-initramfs: $extra is not a directory" >&2
	exit 1
fi
if LC_ALL=C readelf -l "$ember" 2>/dev/null | grep -q 'Requesting program interpreter'; then
	echo "mk-l1-initramfs: warning: $ember is dynamically linked; it will not run in L1 (build with make STATIC=1)" >&2
fi

"$here/l1-kernel.sh" "$cache"

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
nested_rootfs "$root"
mkdir -p "$root/lib/modules" "$root/payload"
for m in irqbypass kvm kvm-amd tun loop; do
	cp "$cache/l1/modules/$m.ko" "$root/lib/modules/"
done
cp "$ember" "$root/bin/ember"
chmod 755 "$root/bin/ember"
cp "$script" "$root/run.sh"
chmod 755 "$root/run.sh"
if [ -n "$extra" ]; then
	cp -rL "$extra"/. "$root/payload/"
fi

{
	cat <<'EOS'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null
exec </dev/console >/dev/console 2>&1
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
cd /
for m in irqbypass kvm kvm-amd tun loop; do
	insmod "/lib/modules/$m.ko" || echo "L1-INSMOD-FAILED $m"
done
EOS
	# A TAP for virtio-net runs, on a link-local subnet that exists only inside this VM.
	nested_l1_tap
	cat <<'EOS'
[ -c /dev/kvm ] || echo "L1-KVM-MISSING"
echo "L1-STARTED uptime=$(cut -d' ' -f1 /proc/uptime)"
sh /run.sh
echo "L1-RUN-RC=$?"
sync
poweroff -f
while :; do sleep 1; done
EOS
} >"$root/init"
chmod 755 "$root/init"
nested_cpio "$root" "$out"
