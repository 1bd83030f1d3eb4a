#!/usr/bin/env bash
# Builds the busybox initramfs of the aarch64 L2 guest (the Linux that ember
# boots inside L1), and optionally the raw disk image its checks expect.
#
# usage: mk-l2-initramfs.sh OUT.cpio[.gz] [DISK_OUT.img [BIN...]]
#   BIN         arm64 static programs copied into /bin: vsock_tool
#               (../tools/vsock_tool.c) for the vsock checks, mmds_client
#               (../tools/mmds_client.c) for the MMDS checks
# The kernel modules and the arm64 busybox come from l1-kernel.sh's cache:
# $NESTED_CACHE, by default <repo>/build/nested/cache-aarch64.
#
# /init loads the modules, then prints, each on its own line:
#   L2-CPUS=<online CPUs>
#   with ember.snapshot=1 on the command line: it starts a process that counts
#   seconds, prints L2-SNAP-READY uptime=<s> ticks=<n> and waits for a line on
#   the console (the host pauses, snapshots, kills and restores it meanwhile);
#   then L2-RESTORED uptime=<s> ticker-alive=0|1 ticks=<n> got=<line>, and the
#   device checks below run on the restored VM
#   with ember.vsock=1 too (guest CID 3; the host is CID 2): before the
#   snapshot it listens on port 1234 (vsock_tool echo-vsock) and connects to
#   host port 5002, a connection left open; after the restore:
#     L2-HOLD-CONNECTED, L2-HOLD-RESET  that connection ended with ECONNRESET
#                       (the restored device's transport reset)
#     L2-CLIENT-OK      a new connection to host port 5000 echoed 1 MiB intact
#     L2-REFUSED rc=-1 errno=...   host port 5001 (no listener) refused
#     L2-ECHO-DONE bytes=1048576   the host's new connection to port 1234
#                       was echoed (the host checks the bytes)
#   with ember.mmds=V1|V2 (a virtio-net on L1's tap0, ember's MMDS on it; see
#   nested_l2_net in ../lib.sh): L2-PING-OK <n> packets received (eth0 is
#   169.254.100.2/24, L1 169.254.100.1), then each MMDS check as
#   L2-MMDS-<CHECK> ok|FAIL <got>, with L2-MMDS-PATCH-READY before the line it
#   waits for on the console while L1 PATCHes the store
#   L2-DISK-OK        the first 512 bytes of /dev/vda start with the marker
#                     that DISK_OUT.img starts with
#   L2-RNG-OK ...     /dev/hwrng gave 64 bytes and rng_current is virtio_rng
#   L2-MARKER-OK
# or L2-FAIL <what> for each failed check, and always ends in `poweroff -f`
# (a PSCI SYSTEM_OFF on arm64, after which the VMM exits 0).
set -eu

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
# shellcheck source=SCRIPTDIR/../lib.sh
. "$here/../lib.sh"

if [ $# -lt 1 ]; then
	echo "usage: $0 OUT.cpio[.gz] [DISK_OUT.img [BIN...]]" >&2
	exit 2
fi
out=$1 disk=${2:-}
cache=${NESTED_CACHE:-$repo/build/nested/cache-aarch64}
marker="EMBER-NESTED-AARCH64-DISK-0"

"$here/l1-kernel.sh" "$cache"

if [ -n "$disk" ]; then
	mkdir -p "$(dirname "$disk")"
	# 1 MiB: the marker, then zeros.
	{ printf '%s' "$marker"; head -c $((1024 * 1024 - ${#marker})) /dev/zero; } >"$disk"
fi

root=$(mktemp -d)
trap 'rm -rf "$root"' EXIT
nested_rootfs "$root" "$cache/busybox"
mkdir -p "$root/lib/modules"
mods=$(tr '\n' ' ' <"$cache/l2.modules")
for m in $mods; do cp "$cache/modules/$m" "$root/lib/modules/"; done
for bin in "${@:3}"; do install -m 755 "$bin" "$root/bin/"; done

{
	nested_init_head
	# arg, l1_ping and mmds_checks.
	nested_l2_net
	sed "s/@MODS@/$mods/; s/@MARKER@/$marker/" <<'EOS'
# Kernel messages from the drivers loaded below would cut into the markers.
dmesg -n 1
fail() { echo "L2-FAIL $*"; }
for m in @MODS@; do
	insmod "/lib/modules/$m" || fail "insmod $m"
done
# wait_for PATH: up to 5 s for a device node the drivers just probed.
wait_for() {
	i=0
	while [ ! -e "$1" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
	[ -e "$1" ]
}
echo "L2-CPUS=$(grep -c '^processor' /proc/cpuinfo)"
vsock=0
if grep -q 'ember.vsock=1' /proc/cmdline; then
	vsock=1
	[ -x /bin/vsock_tool ] || { fail "vsock: no /bin/vsock_tool in this initramfs"; vsock=0; }
fi
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
	if [ $vsock = 1 ]; then
		# A listener, which must outlive the restore, for the host's new
		# connection; and a connection that the restore must reset.
		vsock_tool echo-vsock 1234 &
		echoer=$!
		vsock_tool hold-vsock 2 5002 >/tmp/hold 2>&1 &
		holder=$!
		i=0
		while ! grep -q 'L2-HOLD-' /tmp/hold 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		grep -q 'L2-HOLD-CONNECTED' /tmp/hold ||
			fail "vsock: no connection to host port 5002 before the snapshot: $(cat /tmp/hold)"
	fi
	sleep 2
	echo "L2-SNAP-READY uptime=$(cut -d' ' -f1 /proc/uptime) ticks=$(cat /tmp/ticks)"
	up0=$(cut -d. -f1 /proc/uptime)
	ticks0=$(cat /tmp/ticks)
	read -r line
	alive=0
	kill -0 $ticker 2>/dev/null && alive=1
	sleep 2
	up1=$(cut -d. -f1 /proc/uptime)
	ticks1=$(cat /tmp/ticks)
	echo "L2-RESTORED uptime=$(cut -d' ' -f1 /proc/uptime) ticker-alive=$alive ticks=$ticks1 got=$line"
	[ "$up1" -ge "$up0" ] || fail "snapshot: uptime went back from $up0 s to $up1 s"
	[ $alive = 1 ] || fail "snapshot: the process started before it is gone"
	[ "$ticks1" -gt "$ticks0" ] || fail "snapshot: the process stopped counting ($ticks0, then $ticks1)"
	if [ $vsock = 1 ]; then
		i=0
		while kill -0 $holder 2>/dev/null && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
		kill $holder 2>/dev/null
		cat /tmp/hold
		grep -q 'L2-HOLD-RESET' /tmp/hold ||
			fail "vsock: the connection from before the snapshot was not reset"
		# New connections both ways: 1 MiB through the host's echo on port 5000,
		# every byte checked (host port 5001 has no listener: refused), while
		# the host streams through the echo on 1234 (it checks its bytes).
		vsock_tool client-vsock 2 5000 1048576 5001
		i=0
		while kill -0 $echoer 2>/dev/null && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
		if kill -0 $echoer 2>/dev/null; then
			fail "vsock: no connection from the host to port 1234 after the restore"
			kill $echoer
		fi
	fi
fi
if [ -n "$(arg ember.mmds)" ]; then
	if wait_for /sys/class/net/eth0; then
		l1_ping
		mmds_checks "$(arg ember.mmds)"
	else
		fail "net: no eth0"
	fi
fi
want=@MARKER@
if ! wait_for /dev/vda; then
	fail "disk: no /dev/vda"
elif [ "$(dd if=/dev/vda bs=512 count=1 2>/dev/null | head -c ${#want})" = "$want" ]; then
	echo "L2-DISK-OK"
else
	fail "disk: sector 0 of /dev/vda does not start with $want"
fi
if ! wait_for /dev/hwrng; then
	fail "rng: no /dev/hwrng"
else
	n=$(head -c 64 /dev/hwrng 2>/dev/null | wc -c)
	cur=$(cat /sys/class/misc/hw_random/rng_current 2>/dev/null)
	case "$n $cur" in
	"64 virtio_rng"*) echo "L2-RNG-OK bytes=$n rng_current=$cur" ;;
	*) fail "rng: read $n bytes of 64 from /dev/hwrng, rng_current=$cur" ;;
	esac
fi
echo "L2-MARKER-OK"
EOS
	nested_init_end
} >"$root/init"
chmod 755 "$root/init"
nested_cpio "$root" "$out"
