#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# run.sh EMBER_BIN - tier-2 tests: boot each tiny guest (build/guest/*.elf,
# made by tests/guest/Makefile) under ember on /dev/kvm and check what it
# prints on the serial console (ember's stdout).
#
# Prints exactly one line per test, "PASS: guest/<name>" or
# "FAIL: guest/<name> (<reason>)"; exits 0 only if every test passed.
# Logs: $GUEST_DIR/logs/<name>.{cmd,out,err} (.cmd replays the run).
# Environment: GUEST_DIR (default <repo>/build/guest), TIMEOUT (60 s).
set -u

if [ $# -ne 1 ]; then
	echo "usage: $0 EMBER_BIN" >&2
	exit 2
fi
EMBER=$1
GUEST_DIR=${GUEST_DIR:-$(cd "$(dirname "$0")/../.." && pwd)/build/guest}
TIMEOUT=${TIMEOUT:-60}
LOGS=$GUEST_DIR/logs
CMDLINE='console=ttyS0 foo="a b" x=1 ünï'
INITRD_LEN=5000
export LC_ALL=C

if ! why=$("$(dirname "$0")/../../tools/kvm-usable.sh"); then
	echo "FAIL: guest/kvm ($why)"
	exit 1
fi
mkdir -p "$LOGS"

# A reproducible pseudo-random initrd and its FNV-1a 32, computed here.
INITRD=$LOGS/initrd.bin
python3 - "$INITRD" "$INITRD_LEN" <<'PY'
import random, sys
open(sys.argv[1], "wb").write(random.Random(20261122).randbytes(int(sys.argv[2])))
PY
INITRD_FNV=$(python3 - "$INITRD" <<'PY'
import sys
h = 0x811c9dc5
for b in open(sys.argv[1], "rb").read():
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print("%08x" % h)
PY
)
INITRD_SIZE=$(printf '0x%x' "$INITRD_LEN")
head -c 65536 /dev/zero >"$LOGS/acpi.img"

failed=0
name='' out='' err='' rc=0 reason='' elf=''

# run NAME INPUT ARGS... : run ember with INPUT (may be empty) piped into
# its stdin -- a pipe, as a user would, never a regular file (which epoll
# rejects); leave rc/out/err set.
run() {
	name=$1
	local input=$2
	shift 2
	out=$LOGS/$name.out
	err=$LOGS/$name.err
	reason=
	{
		printf "printf '%%s' %q | " "$input"
		[ -z "${EMBER_BLK_SYNC:-}" ] || printf 'EMBER_BLK_SYNC=%q ' "$EMBER_BLK_SYNC"
		printf '%q ' "$EMBER" "$@"
		echo
	} > "$LOGS/$name.cmd"
	printf '%s' "$input" | timeout -k 5 "$TIMEOUT" "$EMBER" "$@" > "$out" 2> "$err"
	rc=$?
	if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
		reason="timed out after ${TIMEOUT} s"
	elif [ "$rc" -eq 126 ] || [ "$rc" -eq 127 ]; then
		reason="cannot run $EMBER"
	elif grep -aq '^FAIL: ' "$out"; then
		reason="guest said: $(grep -a -m1 '^FAIL: ' "$out" | cut -c7- | cut -c1-100)"
	elif ! head -n1 "$out" | grep -aq '^BOOT-PROTOCOL='; then
		# Every guest prints this first, right after setting the baud rate.
		reason="first console line is not BOOT-PROTOCOL= (stray bytes? UART LCR.DLAB ignored?)"
	fi
}

# Record the first problem only.
bad() {
	[ -n "$reason" ] || reason=$1
}

# Exact whole line on the guest console.
want_line() {
	grep -aFxq -- "$1" "$out" || bad "no line '$1'"
}

# Extended regex on the guest console.
want_re() {
	grep -aEq -- "$1" "$out" || bad "${2:-no line matching /$1/}"
}

# Common tail: the guest's verdict (unless $1 = nosuccess), then ember's
# exit status, then the one result line.
verdict() {
	[ "${1:-}" = nosuccess ] || want_line SUCCESS
	[ "$rc" -eq 0 ] || bad "ember exit status $rc"
	if [ -z "$reason" ]; then
		echo "PASS: guest/$name"
	else
		echo "FAIL: guest/$name ($reason)"
		failed=1
	fi
}

# E820 check: some type-1 entry ends exactly at $1 (hex).
want_ram_end() {
	local addr size type
	while read -r _ _ addr size type; do
		if [ "$type" = 1 ] && [ $((addr + size)) -eq $(($1)) ]; then
			return 0
		fi
	done < <(grep -a '^E820 ' "$out")
	bad "no RAM entry ending at $1"
}

# guest ELF_NAME TEST_NAME: set $elf, or report the test failed.
guest() {
	elf=$GUEST_DIR/$1.elf
	if [ ! -f "$elf" ]; then
		echo "FAIL: guest/$2 (missing $elf)"
		failed=1
		return 1
	fi
}

check_boot() {	# NAME ELF PROTOCOL
	guest "$2" "$1" || return
	run "$1" "" --kernel "$elf" --memory 128 --initrd "$INITRD" \
		--boot-args "$CMDLINE"
	want_line "BOOT-PROTOCOL=$3"
	[ "$3" = pvh ] && want_line PVH-MAGIC-OK
	want_line RAM-TOP=0x8000000
	want_line "CMDLINE=$CMDLINE"
	want_re "^INITRD-ADDR=0x[0-9a-f]+ INITRD-SIZE=$INITRD_SIZE INITRD-FNV=$INITRD_FNV\$" \
		"initrd size/FNV differ (want $INITRD_SIZE/$INITRD_FNV)"
	verdict
}

# pvh32_boot.elf is pvh_boot.elf repacked as ELF32: the same checks, once we know the
# repacking really made an ELF32 (EI_CLASS 1), so a 64-bit file cannot pass for it.
check_boot_elf32() {
	guest pvh32_boot pvh32_boot || return
	if [ "$(od -An -tu1 -j4 -N1 "$elf" | tr -d ' ')" != 1 ]; then
		echo "FAIL: guest/pvh32_boot ($elf is not an ELF32)"
		failed=1
		return
	fi
	check_boot pvh32_boot pvh32_boot pvh
}

check_boot_4g() {
	guest linux_boot linux_boot_4g || return
	run linux_boot_4g "" --kernel "$elf" --memory 4096 --boot-args console=ttyS0
	want_line BOOT-PROTOCOL=linux
	want_ram_end 0xc0000000
	want_re '^E820 [0-9]+ 0x100000000 0x40000000 1$' "no RAM entry 0x100000000 size 0x40000000"
	want_line RAM-TOP=0x140000000
	want_line INITRD=none
	verdict
}

check_smp() {	# N [PROTOCOL]
	local ids proto=${2:-auto} name=smp_$1
	[ "$proto" = auto ] || name=smp_${1}_$proto
	guest smp "$name" || return
	ids=$(seq -s ' ' 0 $(($1 - 1)))
	run "$name" "" --kernel "$elf" --memory 128 --vcpus "$1" --boot-protocol "$proto"
	[ "$proto" = auto ] || want_line "BOOT-PROTOCOL=$proto"
	want_re "(^| )MPTABLE-CPUS=$1\$" "MP table does not list $1 CPUs"
	want_line "STARTED-CPUS=$1"
	want_line "APIC-IDS=$ids"
	verdict
}

check_serial_echo() {
	guest serial_echo serial_echo || return
	run serial_echo $'hello ember\n' --kernel "$elf" --memory 128
	want_line ECHO-READY
	want_line "ECHO: hello ember"
	verdict
}

# A prompt with no newline, then a guest that makes no exit: its last byte must reach the
# console while ember still runs (not only when ember stops and empties its queues).
check_serial_tail() {
	name=serial_tail
	guest serial_tail serial_tail || return
	out=$LOGS/$name.out
	err=$LOGS/$name.err
	reason=
	printf '%q ' "$EMBER" --kernel "$elf" --memory 128 >"$LOGS/$name.cmd"
	timeout -k 5 "$TIMEOUT" "$EMBER" --kernel "$elf" --memory 128 </dev/null >"$out" 2>"$err" &
	local pid=$! i seen=
	for i in $(seq 1 50); do
		sleep 0.1
		if grep -aq 'PROMPT> $' "$out"; then
			seen=1
			break
		fi
	done
	kill -0 "$pid" 2>/dev/null || bad "ember ended by itself"
	[ -n "$seen" ] || bad "no 'PROMPT> ' (got: $(tail -c 20 "$out" | od -An -c | tr -s ' '))"
	kill "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	want_line TAIL-PROMPT-NEXT
	verdict nosuccess
}

check_reset() {
	guest reset reset || return
	run reset "" --kernel "$elf" --memory 128
	want_line RESET-NOW
	verdict nosuccess
}

check_triple_fault() {
	guest triple_fault triple_fault || return
	run triple_fault "" --kernel "$elf" --memory 128 --vcpus 2
	want_line TRIPLE-FAULT-NOW
	verdict nosuccess
}

# NAME [EMBER ARGS...]: with ACPI (the default) the guest finds the device in the DSDT,
# with --no-acpi on the command line.
check_virtio_rng() {
	local name=${1:-virtio_rng}
	shift
	guest virtio_rng "$name" || return
	run "$name" "" --kernel "$elf" --memory 128 --rng "$@"
	want_line VIRTIO-RNG-AT=0xd0001000
	want_re '^RNG-BYTES=[0-9a-f]{64}$' "no RNG-BYTES line"
	verdict
}

# 64 bytes a second: the second 64-byte request waits about a second, on a timer.
check_virtio_rng_limited() {
	local t0 ms
	guest virtio_rng virtio_rng_limited || return
	t0=$(date +%s%N)
	run virtio_rng_limited "" --kernel "$elf" --memory 128 --rng=bw=64:1000
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "run took $ms ms" >>"$err"
	want_re '^RNG-BYTES=[0-9a-f]{64}$' "no RNG-BYTES line"
	[ "$ms" -ge 900 ] || bad "finished in $ms ms: the limit did not hold the second request"
	[ "$ms" -le 5000 ] || bad "took $ms ms: the throttled queue did not resume on time"
	verdict
}

# 10 requests a second with a bucket of 10: the last 10 of 20 reads wait about a second.
check_virtio_blk_limited() {
	local t0 ms disk=$LOGS/limited.img
	guest bench_virtio virtio_blk_limited || return
	head -c $((1 << 20)) /dev/zero >"$disk"
	t0=$(date +%s%N)
	run virtio_blk_limited "" --kernel "$elf" --memory 128 --disk "$disk,ops=10:1000" \
		--boot-args "console=ttyS0 bench.n=20"
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "run took $ms ms" >>"$err"
	want_line BENCH-BLK-REQUESTS=20
	[ "$ms" -ge 900 ] || bad "finished in $ms ms: the ops limit did not hold"
	[ "$ms" -le 5000 ] || bad "took $ms ms: the throttled queue did not resume on time"
	verdict
}

# Eight indirect reads behind each notification, the last batches under an ops limit of 40
# a second with a bucket of 40: 64 reads take about 0.6 s, and a batch that the bucket splits
# resumes on the timer.
check_virtio_blk_batched() {
	local t0 ms disk=$LOGS/batched.img
	guest bench_virtio virtio_blk_batched || return
	head -c $((1 << 20)) /dev/zero >"$disk"
	t0=$(date +%s%N)
	run virtio_blk_batched "" --kernel "$elf" --memory 128 --disk "$disk,ops=40:1000" \
		--boot-args "console=ttyS0 bench.n=64 bench.qd=8"
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "run took $ms ms" >>"$err"
	want_line BENCH-BLK-REQUESTS=64
	[ "$ms" -ge 500 ] || bad "finished in $ms ms: the ops limit did not hold"
	[ "$ms" -le 5000 ] || bad "took $ms ms: the throttled queue did not resume on time"
	verdict
}

# One frame a second with a bucket of one: the 2nd and 3rd of 3 frames wait about 2 s.
check_virtio_net_limited() {
	local t0 ms ns=ember-limit-$$ saved=$EMBER
	guest bench_virtio virtio_net_limited || return
	if ! netns_with_tap "$ns"; then
		echo "FAIL: guest/virtio_net_limited (cannot create a network namespace: not root?)"
		failed=1
		return
	fi
	EMBER=$(ember_in_netns "$ns")
	t0=$(date +%s%N)
	run virtio_net_limited "" --kernel "$elf" --memory 128 --net tap0,tx_ops=1:1000 \
		--boot-args "console=ttyS0 bench.n=3"
	ms=$((($(date +%s%N) - t0) / 1000000))
	EMBER=$saved
	ip netns del "$ns"
	echo "run took $ms ms" >>"$err"
	want_line BENCH-NET-FRAMES=3
	[ "$ms" -ge 1800 ] || bad "finished in $ms ms: the tx limit did not hold"
	[ "$ms" -le 6000 ] || bad "took $ms ms: the throttled queue did not resume on time"
	verdict
}

check_virtio_hostile() {
	local disk=$LOGS/hostile.img ns=ember-hostile-$$ saved=$EMBER
	guest virtio_hostile virtio_hostile || return
	head -c $((1 << 20)) /dev/zero >"$disk"
	rm -f "$LOGS/hostile.vsock"
	if ! netns_with_tap "$ns"; then
		echo "FAIL: guest/virtio_hostile (cannot create a network namespace: not root?)"
		failed=1
		return
	fi
	EMBER=$(ember_in_netns "$ns")
	run virtio_hostile "" --kernel "$elf" --memory 128 --rng --disk "$disk" --balloon 1 \
		--net tap0 --vsock "3,$LOGS/hostile.vsock"
	EMBER=$saved
	ip netns del "$ns"
	[ "$(grep -ac ' refused$' "$out")" -eq 35 ] || bad "not every broken chain was refused"
	[ "$(grep -ac '^GOOD-REQUEST-OK$' "$out")" -eq 35 ] || bad "a good request failed after a reset"
	verdict
}

# regs_hostile: random values into every register of every device and random queue
# layouts (tests/guest/regs_hostile.c), three seeds of 4000 steps: ember stays up and
# exits 0 when the guest resets at the end. (The nested tier's tiny-hostile runs do the
# same inside a TCG L1, for hosts whose /dev/kvm cannot.)
check_regs_hostile() {
	local disk=$LOGS/regs_hostile.img ns=ember-regs-$$ saved=$EMBER seed
	guest regs_hostile regs_hostile || return
	head -c $((1 << 20)) /dev/zero >"$disk"
	if ! netns_with_tap "$ns"; then
		echo "FAIL: guest/regs_hostile (cannot create a network namespace: not root?)"
		failed=1
		return
	fi
	EMBER=$(ember_in_netns "$ns")
	for seed in 1 2 3; do
		rm -f "$LOGS/regs_hostile.vsock"
		run "regs_hostile-$seed" "" --kernel "$elf" --memory 128 --rng --disk "$disk" --balloon 1 \
			--net tap0 --vsock "3,$LOGS/regs_hostile.vsock" --boot-timer \
			--boot-args "console=ttyS0 hostile.seed=$seed hostile.iters=4000"
		want_line "HOSTILE-DONE iters=4000"
		verdict
	done
	EMBER=$saved
	ip netns del "$ns"
}

# netns_with_tap NS: a network namespace of our own with an up TAP, tap0, in it.
netns_with_tap() {
	ip netns add "$1" 2>/dev/null || return 1
	ip netns exec "$1" ip tuntap add dev tap0 mode tap
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1
	ip netns exec "$1" ip link set tap0 up
}

# ember_in_netns NS: the path of a wrapper that runs $EMBER inside NS.
ember_in_netns() {
	local wrapper=$LOGS/ember-in-$1
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$1" "$EMBER" >"$wrapper"
	chmod +x "$wrapper"
	echo "$wrapper"
}

# A TAP in a network namespace of our own, a peer on it, and ember inside the namespace.
check_virtio_net() {
	local ns=ember-guest-$$ peer_out=$LOGS/virtio_net.peer
	local saved=$EMBER
	guest virtio_net virtio_net || return
	if ! netns_with_tap "$ns"; then
		echo "FAIL: guest/virtio_net (cannot create a network namespace: not root?)"
		failed=1
		return
	fi
	: >"$peer_out" # before the peer starts, so an old PEER-READY cannot count
	ip netns exec "$ns" python3 "$(dirname "$0")/net_peer.py" tap0 30 >"$peer_out" 2>&1 &
	local peer=$!
	for _ in $(seq 50); do grep -q PEER-READY "$peer_out" && break; sleep 0.1; done
	EMBER=$(ember_in_netns "$ns")
	run virtio_net "" --kernel "$elf" --memory 128 --net tap0,mac=02:00:00:00:00:01 --level info
	EMBER=$saved
	wait "$peer" 2>/dev/null
	want_line NET-MAC=02:00:00:00:00:01
	want_line NET-TX-DONE
	want_line NET-RX=ember-pong
	grep -q 'PEER-GOT-PING from 02:00:00:00:00:01' "$peer_out" || bad "the peer never saw the ping"
	ip netns del "$ns"
	verdict
}

# ember's resident memory in KiB.
rss_kib() {
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# Wait up to 10 s for a line on the guest console.
await_line() {
	for _ in $(seq 100); do
		grep -aFxq -- "$1" "$out" && return 0
		sleep 0.1
	done
	return 1
}

# The guest touches 16 MiB, then balloons it: ember's RSS must fall by most of that.
check_virtio_balloon() {
	local fifo=$LOGS/virtio_balloon.in pid before=0 after=0
	guest virtio_balloon virtio_balloon || return
	name=virtio_balloon out=$LOGS/$name.out err=$LOGS/$name.err reason=
	rm -f "$fifo"
	mkfifo "$fifo"
	exec 4<>"$fifo"
	"$EMBER" --kernel "$elf" --memory 128 --balloon 16,stats=1 <&4 >"$out" 2>"$err" &
	pid=$!
	if await_line BALLOON-TOUCHED; then
		before=$(rss_kib $pid)
		printf g >&4
		await_line BALLOON-INFLATED && after=$(rss_kib $pid)
		printf g >&4
	fi
	for _ in $(seq 100); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
	kill -KILL $pid 2>/dev/null && bad "ember still running"
	wait $pid
	rc=$?
	exec 4>&-
	echo "rss before inflating: ${before:-?} KiB, after: ${after:-?} KiB" >>"$err"
	want_line BALLOON-TARGET-PAGES=4096
	want_line BALLOON-INFLATED
	want_line BALLOON-STATS-REQUESTED
	[ $((${before:-0} - ${after:-0})) -ge 12288 ] ||
		bad "RSS fell from ${before:-?} to ${after:-?} KiB, expected at least 12 MiB less"
	verdict
}

# Two images: disk 0 (1 MiB, a known random sector 0, zeros after it) and disk 1 (64 KiB,
# attached read-only). The guest writes sector 1 of disk 0 and must be refused on disk 1;
# afterwards the host checks both files. NAME ENGINE(io_uring|synchronous I/O) [DISK0-OPTS]
check_virtio_blk() {
	local name=$1 engine=$2 opts=${3:-} d0=$LOGS/$1.disk0 d1=$LOGS/$1.disk1 fnv cache=unsafe
	[[ $opts == *cache=writeback* ]] && cache=writeback
	guest virtio_blk "$name" || return
	fnv=$(python3 - "$d0" "$d1" <<'PY'
import random, sys
d = bytearray(1 << 20)
d[:512] = random.Random(20261123).randbytes(512)
open(sys.argv[1], "wb").write(d)
open(sys.argv[2], "wb").write(random.Random(20261124).randbytes(64 << 10))
h = 0x811c9dc5
for b in d[:512]:
    h = ((h ^ b) * 0x01000193) & 0xffffffff
print("%08x" % h)
PY
)
	cp "$d1" "$d1.orig"
	run "$name" "" --kernel "$elf" --memory 128 --level info \
		--disk "$d0,id=ember-test-disk$opts" --disk "$d1,ro"
	want_line BLK-CAPACITY=2048
	want_line BLK-WRITE-READBACK=ok
	want_line BLK-ID=ember-test-disk
	want_line "BLK-SECTOR0-FNV=$fnv"
	want_line BLK-BAD-REQUESTS=refused
	want_line BLK-RESET=ok
	want_line BLK-RO-WRITE=refused
	grep -aq "virtio-blk $d0: 2048 sectors, cache=$cache, $engine\$" "$err" ||
		bad "disk 0 did not use $engine with cache=$cache"
	python3 - "$d0" <<'PY' || bad "sector 1 of the image does not hold the guest's pattern"
import random, sys
d = open(sys.argv[1], "rb").read()
want = bytearray(1 << 20)
want[:512] = random.Random(20261123).randbytes(512)
want[512:1024] = bytes((i * 31 + 17) & 0xff for i in range(512))
sys.exit(d != want)
PY
	cmp -s "$d1" "$d1.orig" || bad "the read-only image changed"
	verdict
}

# ember --vsock with vsock_peer.py on the host side: it listens on <uds>_5000 for the guest
# and connects to <uds> to reach guest port 1234.
check_virtio_vsock() {
	local uds=$LOGS/vsock.sock peer_out=$LOGS/virtio_vsock.peer port
	guest virtio_vsock virtio_vsock || return
	# Emptied here, not by the background job's redirection: that may come after our first grep.
	rm -f "$uds" "${uds}_5000"
	: >"$peer_out"
	python3 "$(dirname "$0")/vsock_peer.py" "$uds" 30 "$LOGS/virtio_vsock.err" >"$peer_out" 2>&1 &
	local peer=$!
	for _ in $(seq 50); do grep -q PEER-READY "$peer_out" && break; sleep 0.1; done
	# debug: to see that the slow peer made ember buffer (and then resume) the guest's stream
	run virtio_vsock "" --kernel "$elf" --memory 128 --vsock "3,$uds" --level debug
	for _ in $(seq 50); do kill -0 "$peer" 2>/dev/null || break; sleep 0.1; done
	kill "$peer" 2>/dev/null
	wait "$peer" 2>/dev/null
	want_line VSOCK-CID=3
	want_line VSOCK-HOSTILE-OK
	want_line VSOCK-REFUSED=5001
	want_line "VSOCK-CONNECTED=5000 HOST-BUF-ALLOC=65536"
	want_line "VSOCK-RX=hello from host"
	want_line VSOCK-CLOSED=5000
	want_line VSOCK-RESET-WITH-CONNECTION
	port=$(sed -n 's/^PEER-OK=//p' "$peer_out")
	[ -n "$port" ] || bad "peer: $(grep -m1 -e PEER-FAIL -e Error "$peer_out" || echo 'no OK line')"
	want_line "VSOCK-REQUEST=1234 FROM=$port"
	want_line VSOCK-RX=ping
	want_line VSOCK-BULK-IN-OK
	want_line VSOCK-BULK-OUT-OK
	want_line VSOCK-HOST-CLOSED
	grep -q 'host socket full, buffering' "$err" || bad "ember never buffered for the slow peer"
	grep -qx PEER-BULK-RECEIVED "$peer_out" || bad "the peer never got the guest's bulk stream"
	grep -qx 'PEER-GOT=hello from guest' "$peer_out" || bad "the peer never got the guest's hello"
	grep -qx PEER-RESET-EOF "$peer_out" || bad "a device reset left a host connection open"
	grep -qx PEER-BAD-LINE-CLOSED "$peer_out" || bad "a malformed CONNECT line was not refused"
	grep -qx PEER-DONE "$peer_out" || bad "peer: $(grep -m1 PEER-FAIL "$peer_out")"
	[ ! -e "$uds" ] || bad "ember left $uds behind"
	verdict
}

check_boot_timer() {
	guest boot_timer boot_timer || return
	run boot_timer "" --kernel "$elf" --memory 128 --boot-timer
	want_line BOOT-TIMER-SIGNALLED
	grep -aq 'Guest-boot-time =' "$err" || bad "no 'Guest-boot-time =' on stderr"
	verdict
}

# acpi_walk.elf: the RSDP found both ways (legacy scan, boot protocol), every table's
# checksum, and what the tables describe. NAME VCPUS PROTOCOL VIRTIO-DEVICES [EMBER ARGS...]
check_acpi_walk() {
	local name=$1 vcpus=$2 proto=$3 nvirtio=$4
	shift 4
	guest acpi_walk "$name" || return
	# pvh: the default for an ELF with the PVH note
	run "$name" "" --kernel "$elf" --memory 128 --vcpus "$vcpus" \
		--boot-protocol "${proto/pvh/auto}" "$@"
	want_line "BOOT-PROTOCOL=$proto"
	want_line "ACPI rsdp-scan=0xe0000 rsdp-boot=0xe0000 agree=1"
	want_line "ACPI XSDT ok tables=FACP,APIC"
	want_re '^ACPI FADT ok rev=6 len=276 hw-reduced=1 sleep-ctl=0x600 sleep-sts=0x601 ' \
		"FADT is not rev 6, 276 bytes, hardware-reduced with sleep registers 0x600/0x601"
	want_re "^ACPI MADT ok cpus=$vcpus ioapic=0xfec00000 lapic=0xfee00000 overrides=[0-9]+ nmi=[1-9]" \
		"MADT does not list $vcpus CPUs, the IOAPIC at 0xfec00000 and an NMI entry"
	want_line "ACPI DSDT ok virtio=$nvirtio serial=1 i8042=1 s5=5"
	[ "$(grep -ac '^ACPI VIRTIO ' "$out")" -eq "$nvirtio" ] || bad "not $nvirtio virtio devices"
	want_line VIRTIO-CMDLINE=0
	verdict
}

# The same devices without ACPI: no RSDP either way, the devices on the command line, and
# (ACPI-RUN) the same addresses, sizes, IRQs and device IDs as the DSDT gave in that run.
check_acpi_walk_off() {	# NAME ACPI-RUN VIRTIO-DEVICES [EMBER ARGS...]
	local name=$1 acpi_out=$LOGS/$2.out nvirtio=$3
	shift 3
	guest acpi_walk "$name" || return
	run "$name" "" --kernel "$elf" --memory 128 --no-acpi "$@"
	want_line "ACPI rsdp-scan=none rsdp-boot=none agree=1"
	want_line "ACPI none"
	want_line "VIRTIO-CMDLINE=$nvirtio"
	[ "$(sed -n 's/^CMDLINE VIRTIO //p' "$out")" = "$(sed -n 's/^ACPI VIRTIO //p' "$acpi_out")" ] ||
		bad "the command line's virtio devices differ from the DSDT's in $2"
	verdict
}

# acpi_poweroff.elf writes \_S5_'s SLP_TYP | SLP_EN to the FADT's sleep control register:
# ember exits 0 and the guest's announcement is its last line. With another sleep type
# (SLP-TYP) ember must keep running: the guest says so and resets.
check_acpi_poweroff() {	# NAME [SLP-TYP]
	local name=$1 typ=${2:-}
	guest acpi_poweroff "$name" || return
	if [ -n "$typ" ]; then
		run "$name" "" --kernel "$elf" --memory 128 --boot-args "console=ttyS0 poweroff.slp_typ=$typ"
		want_line "POWEROFF port=0x600 s5=5 slp-typ=$typ value=$(printf '0x%x' $((typ << 2 | 32)))"
		want_line POWEROFF-RETURNED
	else
		run "$name" "" --kernel "$elf" --memory 128
		[ "$(tail -n1 "$out")" = "POWEROFF port=0x600 s5=5 slp-typ=5 value=0x34" ] ||
			bad "last line is not 'POWEROFF port=0x600 s5=5 slp-typ=5 value=0x34'"
	fi
	verdict nosuccess
}

check_boot linux_boot linux_boot linux
check_boot_4g
check_boot pvh_boot pvh_boot pvh
check_boot_elf32
check_smp 1
check_smp 2
check_smp 4
check_smp 2 linux
check_serial_echo
check_serial_tail
check_reset
check_triple_fault
check_boot_timer
check_virtio_rng virtio_rng
check_virtio_rng virtio_rng_noacpi --no-acpi
check_virtio_rng_limited
check_virtio_blk_limited
check_virtio_blk_batched
check_virtio_net_limited
check_virtio_hostile
check_regs_hostile
check_virtio_blk virtio_blk io_uring
EMBER_BLK_SYNC=1 check_virtio_blk virtio_blk_sync "synchronous I/O"
check_virtio_blk virtio_blk_writeback io_uring ,cache=writeback
check_virtio_net
check_virtio_balloon
check_virtio_vsock
check_acpi_walk acpi_walk_1 1 pvh 0
check_acpi_walk acpi_walk_2 2 pvh 0
check_acpi_walk acpi_walk_linux 2 linux 0
check_acpi_walk acpi_walk_virtio 1 pvh 2 --rng --disk "$LOGS/acpi.img"
check_acpi_walk acpi_walk_virtio_linux 1 linux 2 --rng --disk "$LOGS/acpi.img"
check_acpi_walk_off acpi_walk_noacpi acpi_walk_virtio 2 --rng --disk "$LOGS/acpi.img"
check_acpi_poweroff acpi_poweroff
check_acpi_poweroff acpi_poweroff_s1 1
exit $failed
