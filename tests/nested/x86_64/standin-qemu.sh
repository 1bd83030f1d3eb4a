#!/usr/bin/env bash
# Builds a stand-in for ember out of the host's QEMU (-M microvm, KVM), to
# check the nested harness end to end before ember boots Linux, and to get
# a peer's figures inside the same L1.
#
# usage: standin-qemu.sh OUTDIR
# leaves: OUTDIR/ember    a shell script that takes ember's options and runs
#                         QEMU from /payload/standin (give it as EMBER_BIN)
#         OUTDIR/payload/standin/  QEMU, its libraries and firmware
#                         (give OUTDIR/payload as NESTED_EXTRA_PAYLOAD)
# e.g.  tests/nested/x86_64/standin-qemu.sh build/nested/standin
#       NESTED_EXTRA_PAYLOAD=build/nested/standin/payload \
#           tests/nested/x86_64/run-tests.sh build/nested/standin/ember
set -eu

[ $# -eq 1 ] || {
	echo "usage: $0 OUTDIR" >&2
	exit 2
}
dir=$1
qemu=$(command -v qemu-system-x86_64) || {
	echo "standin-qemu: no qemu-system-x86_64" >&2
	exit 1
}
s=$dir/payload/standin
rm -rf "$s"
mkdir -p "$s/lib" "$s/share"
cp "$qemu" "$s/qemu-system-x86_64"
# Every library QEMU links, and the dynamic loader (run explicitly in L1).
ldd "$qemu" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }' |
	while read -r lib; do
		cp -L "$lib" "$s/lib/"
	done
[ -f "$s/lib/ld-linux-x86-64.so.2" ] || {
	echo "standin-qemu: no ld-linux-x86-64.so.2 among QEMU's libraries" >&2
	exit 1
}
cp -L /usr/share/qemu/bios-microvm.bin /usr/share/qemu/qboot.rom "$s/share/"

cat >"$dir/ember" <<'EOS'
#!/bin/sh
# Stand-in for ember (QEMU microvm on KVM), made by standin-qemu.sh.
d=/payload/standin
kernel= initrd= vcpus=1 mem=128 proto=auto
# microvm has no i8042, so reboot=k would hang: reboot=t (triple fault) ends
# QEMU (-no-reboot) the way an i8042 reset ends ember.
args="console=ttyS0 reboot=t panic=1 pci=off nomodule i8042.noaux i8042.nomux i8042.nopnp i8042.dumbkbd"
while [ $# -gt 0 ]; do
	case $1 in
	--kernel) kernel=$2; shift ;;
	--initrd) initrd=$2; shift ;;
	--boot-args) args=$(echo "$2" | sed 's/reboot=k/reboot=t/'); shift ;;
	--vcpus) vcpus=$2; shift ;;
	--memory) mem=$2; shift ;;
	--boot-protocol) proto=$2; shift ;;
	--boot-timer) ;;
	*) echo "ember stand-in: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
echo "ember stand-in: QEMU microvm, $vcpus vCPUs, $mem MiB, kernel $kernel (protocol $proto ignored)" >&2
# signal=off: Ctrl-C goes to the guest, as with ember's raw mode.
exec "$d/lib/ld-linux-x86-64.so.2" --library-path "$d/lib" "$d/qemu-system-x86_64" \
	-L "$d/share" -M microvm,x-option-roms=off,rtc=off,acpi=off -accel kvm \
	-cpu host,arch-capabilities=off -smp "$vcpus" -m "$mem" \
	-nodefaults -no-user-config -display none -no-reboot \
	-chardev stdio,id=con,signal=off -serial chardev:con \
	-kernel "$kernel" ${initrd:+-initrd "$initrd"} -append "$args"
EOS
chmod 755 "$dir/ember"
echo "standin-qemu: $dir/ember, payload $dir/payload ($(du -sh "$s" | cut -f1))" >&2
