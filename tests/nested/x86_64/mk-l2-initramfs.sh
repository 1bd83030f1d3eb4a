#!/usr/bin/env bash
# Builds the busybox initramfs for the L2 guest (the Linux that ember boots).
#
# usage: mk-l2-initramfs.sh OUT.cpio.gz MODE [EXTRA_BIN...]   (copied into /bin)
#        mk-l2-initramfs.sh OUT.cpio.gz stock MODULE_DIR
#   MODE=test              prints L2-CPUS=<online cpus>, what it reads from the devices it
#                          finds (L2-HWRNG-BYTES=..., L2-BLK ...), and L2-MARKER-OK, resets;
#                          with ember.snapshot=1 it first starts a process that counts,
#                          prints L2-SNAP-READY and waits for a line on the console (the
#                          host snapshots and restores it meanwhile), then L2-RESTORED;
#                          with ember.ip=A ember.peer=B it pings B from A over eth0
#                          (L2-PEER-PING-OK B 3 packets received); with ember.end=poweroff
#                          it powers off instead of resetting
#   MODE=stock             for a stock distribution kernel whose virtio drivers are
#                          modules: insmods MODULE_DIR's modules in the order its file
#                          "order" gives (L2-INSMOD-FAIL <name> if one does not load),
#                          prints L2-CPUS=<n>, L2-VDA-READ=<vda's first 27 bytes> (or
#                          L2-NO-VDA) and L2-MARKER-OK, and powers off
#   MODE=demo-interactive  banner, then a shell on the console; resets when it ends
#   MODE=demo-scripted     banner, a short scripted shell session, resets
#   MODE=bench             prints L2-BENCH-CMDLINE <its /proc/cmdline> and L2-BENCH-INIT
#                          cpus=<online> uptime=<L2 s> as soon as /init runs (no forks
#                          before them), then idles until the VMM is killed (bench/nested-exits)
# Every mode but stock and bench resets with `reboot -f` by default (with reboot=k: an
# i8042 reset, which ends ember): an x86 guest cannot power off in a way the
# VMM sees without ACPI. Before it powers off (`poweroff -f`), a guest prints
# L2-POWEROFF; every virtio device it found is printed as
# "L2-VIRTIO <name> via=acpi|cmdline|<its parent>": how virtio_mmio found it.
set -eu

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"

[ $# -ge 2 ] || {
	echo "usage: $0 OUT.cpio.gz test|demo-interactive|demo-scripted|bench [EXTRA_BIN...]" >&2
	echo "       $0 OUT.cpio.gz stock MODULE_DIR" >&2
	exit 2
}
out=$1 mode=$2
case $mode in
test | demo-interactive | demo-scripted | bench) ;;
stock)
	if [ $# -ne 3 ] || [ ! -s "$3/order" ]; then
		echo "mk-l2-initramfs: stock needs a MODULE_DIR with an 'order' file" >&2
		exit 2
	fi
	;;
*)
	echo "mk-l2-initramfs: unknown mode '$mode'" >&2
	exit 2
	;;
esac

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
nested_rootfs "$root"
if [ "$mode" = stock ]; then
	mkdir -p "$root/lib/modules"
	cp "$3/order" "$3"/*.ko "$root/lib/modules/"
else
	for bin in "${@:3}"; do cp "$bin" "$root/bin/"; done
fi

# Common start of /init: mounts, console, then the mode's part.
cat >"$root/init" <<'EOS'
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts 2>/dev/null
exec </dev/console >/dev/console 2>&1
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/root
cd /
ncpus() { grep -c '^processor' /proc/cpuinfo; }
# virtio_report: one line per virtio device: through which path its virtio-mmio
# platform device came (ACPI names it after its _HID, LNRO0005:NN; the command
# line's virtio_mmio.device= makes virtio-mmio.N).
virtio_report() {
	for d in /sys/bus/virtio/devices/*; do
		[ -e "$d" ] || continue
		p=$(basename "$(dirname "$(readlink -f "$d")")")
		case $p in
		LNRO0005:*) via=acpi ;;
		virtio-mmio.*) via=cmdline ;;
		*) via=$p ;;
		esac
		echo "L2-VIRTIO $(basename "$d") device=$(cat "$d/device") via=$via"
	done
}
# end [poweroff]: reset (reboot=k), or power off with "poweroff" or ember.end=poweroff.
end() {
	sync
	if [ "${1:-}" = poweroff ] || grep -q 'ember.end=poweroff' /proc/cmdline; then
		echo "L2-POWEROFF"
		poweroff -f
	else
		reboot -f
	fi
	# Only reached if that failed; do not let init exit (that panics).
	while :; do sleep 1; done
}
EOS

case $mode in
test)
	# arg, l1_ping and mmds_checks.
	nested_l2_net >>"$root/init"
	cat >>"$root/init" <<'EOS'
echo "L2-CPUS=$(ncpus)"
# ember.snapshot=1: a process and the uptime that must outlive a snapshot and restore. The
# host pauses, snapshots and kills ember while this waits for a line, then restores the
# snapshot in a new ember and sends the line; the device checks below then run restored.
if grep -q 'ember.snapshot=1' /proc/cmdline; then
	(
		n=0
		while :; do
			n=$((n + 1))
			echo $n >/tmp/ticks
			sleep 1
		done
	) &
	ticker=$!
	sleep 2
	echo "L2-SNAP-READY uptime=$(cut -d' ' -f1 /proc/uptime) ticks=$(cat /tmp/ticks)"
	read -r line
	alive=0
	kill -0 $ticker 2>/dev/null && alive=1
	sleep 2
	echo "L2-RESTORED uptime=$(cut -d' ' -f1 /proc/uptime) ticker-alive=$alive ticks=$(cat /tmp/ticks) got=$line"
fi
# Devices the run gave us, each reported on one line for the host to check.
# ember.ip=A ember.peer=B: two guests on one switch. Each pings the other until it answers
# (the other may boot later), then stays up a while so that the other's pings find it.
if [ -e /sys/class/net/eth0 ] && [ -n "$(arg ember.peer)" ]; then
	ip link set eth0 up
	ip addr add "$(arg ember.ip)/24" dev eth0
	i=0
	until { ping -c 3 -W 2 "$(arg ember.peer)" >/tmp/ping 2>&1; grep -q ' 3 packets received' /tmp/ping; } ||
		[ $i -ge 20 ]; do
		i=$((i + 1))
	done
	if grep -q ' 3 packets received' /tmp/ping; then
		echo "L2-PEER-PING-OK $(arg ember.peer) $(grep -o '[0-9]* packets received' /tmp/ping) tries=$i"
	else
		echo "L2-PEER-PING-FAILED $(arg ember.peer)"
		cat /tmp/ping
	fi
	sleep 8
elif [ -e /sys/class/net/eth0 ]; then
	l1_ping
	# ember.mmds=V1|V2: ember's MMDS on eth0 (the L1 started it with --metadata holding
	# latest/meta-data/{ami-id=ami-12345678,n=1}); then the L1 PATCHes n to 2 while we
	# wait for a console line, and the next read must see it.
	[ -z "$(arg ember.mmds)" ] || mmds_checks "$(arg ember.mmds)"
fi
# ember.vsock=1: echo on vsock port 1234 for the host's client, and stream 1 MiB through
# the host's echo on port 5000 (vsock_tool checks every byte).
if grep -q 'ember.vsock=1' /proc/cmdline && [ -x /bin/vsock_tool ]; then
	vsock_tool echo-vsock 1234 &
	e=$!
	vsock_tool client-vsock 2 5000 1048576 5001
	i=0
	while kill -0 $e 2>/dev/null && [ $i -lt 60 ]; do sleep 1; i=$((i + 1)); done
fi
# ember.ext4=write: write a file on the ext4 disk, sync, and wait to be killed.
if grep -q 'ember.ext4=write' /proc/cmdline; then
	mkdir -p /mnt
	if mount -t ext4 /dev/vda /mnt && echo "ember-ext4-payload-42" >/mnt/ember.txt && sync; then
		echo "L2-EXT4-SYNCED"
	else
		echo "L2-EXT4-FAILED"
	fi
	sleep 600
fi
if [ -e /sys/block/vda ] && ! grep -q 'ember.ext4' /proc/cmdline; then
	# Sector 0 as the host wrote it; sector 1 written, flushed, dropped from the page cache
	# and read back from the device; the read-only vdb must refuse a write.
	s0=$(dd if=/dev/vda bs=512 count=1 2>/dev/null | md5sum | cut -c1-32)
	printf 'ember-blk-nested' | dd of=/dev/vda bs=512 seek=1 count=1 conv=sync,fsync 2>/dev/null
	echo 3 >/proc/sys/vm/drop_caches
	rb=$(dd if=/dev/vda bs=512 skip=1 count=1 2>/dev/null | head -c 16)
	if dd if=/dev/zero of=/dev/vdb bs=512 count=1 conv=fsync 2>/dev/null; then w=accepted; else w=refused; fi
	echo "L2-BLK vda=$(cat /sys/block/vda/size) bytes=$(cat /dev/vda | wc -c) serial=$(cat /sys/block/vda/serial 2>/dev/null) vdb-ro=$(cat /sys/block/vdb/ro 2>/dev/null) sector0=$s0 readback=$rb vdb-write=$w"
fi
if [ -e /dev/hwrng ]; then
	n=$(head -c 64 /dev/hwrng 2>/dev/null | wc -c)
	echo "L2-HWRNG-BYTES=$n L2-HWRNG-CURRENT=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)"
fi
virtio_report
echo "L2-MARKER-OK"
end
EOS
	;;
stock)
	cat >>"$root/init" <<'EOS'
for m in $(cat /lib/modules/order); do
	insmod "/lib/modules/$m.ko" || echo "L2-INSMOD-FAIL $m"
done
echo "L2-CPUS=$(ncpus)"
echo "L2-ACPI-TABLES=$(ls /sys/firmware/acpi/tables 2>/dev/null | tr '\n' ' ')"
# The keyboard controller's driver bound with an IRQ (from the DSDT's PNP0303): what
# Ctrl-Alt-Del needs.
echo "L2-I8042-IRQS=$(grep -c i8042 /proc/interrupts)"
virtio_report
# virtio_blk's probe adds the disk; give devtmpfs a moment for the node.
i=0
while [ ! -b /dev/vda ] && [ -e /sys/block/vda ] && [ $i -lt 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
if [ -b /dev/vda ]; then
	echo "L2-VDA-READ=$(head -c 27 /dev/vda)"
else
	echo "L2-NO-VDA"
fi
echo "L2-MARKER-OK"
end poweroff
EOS
	;;
demo-interactive)
	# A guest without ACPI cannot power off (the VMM would not see it), so
	# poweroff, halt and reboot reset at once. Busybox's sh runs its own
	# applets before anything in PATH, hence shell functions. (Run any other
	# way, these applets signal init, which is busy waiting for the shell.)
	cat >"$root/etc/profile" <<'EOS'
export PS1='ember-guest:\w# '
poweroff() { sync; busybox reboot -f; }
halt() { sync; busybox reboot -f; }
reboot() { sync; busybox reboot -f; }
EOS
	cat >>"$root/init" <<'EOS'
hostname ember-guest
echo
echo "=== ember L2 guest: $(uname -sr), $(ncpus) vCPUs, $(awk '/MemTotal/ { print int($2 / 1024) }' /proc/meminfo) MiB ==="
echo "=== interactive busybox shell; type 'poweroff' or 'exit' to end the VM ==="
echo
# cttyhack opens the console's real tty (ttyS0) as the controlling terminal,
# so job control and Ctrl-C work; setsid gives it a session to own it in.
# (Not in the background: there SIGINT would be ignored, Ctrl-C with it.)
setsid cttyhack sh -l
echo "=== shell ended, resetting the guest ==="
end
EOS
	;;
bench)
	# Shell builtins only: the marker should come as close to /init's start as it can.
	cat >>"$root/init" <<'EOS'
read -r cmdline </proc/cmdline
read -r online </sys/devices/system/cpu/online
read -r up _ </proc/uptime
echo "L2-BENCH-CMDLINE $cmdline"
echo "L2-BENCH-INIT cpus=$online uptime=$up"
# The host reads its VMM's exit counts now, then kills it.
while :; do sleep 3600; done
EOS
	;;
demo-scripted)
	cat >>"$root/init" <<'EOS'
hostname ember-guest
echo
echo "=== ember L2 guest: scripted session (stdin is not a terminal) ==="
run() {
	echo "ember-guest:/# $*"
	sh -c "$*"
}
run uname -a
run 'grep -c ^processor /proc/cpuinfo'
run 'cat /proc/cmdline'
run free -m
run ls /
run 'dmesg | grep -E "Brought up|Total of"'
echo "ember-guest:/# poweroff"
echo "=== scripted session done, resetting the guest ==="
end
EOS
	;;
esac
chmod 755 "$root/init"
nested_cpio "$root" "$out"
