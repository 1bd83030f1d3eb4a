#!/usr/bin/env bash
# Command-line and lifecycle tests: bad arguments get one clear message and the right exit
# status; SIGTERM and guest resets stop ember cleanly; a terminal on stdin is restored.
# usage: cli.sh EMBER GUEST_DIR      prints one PASS:/FAIL: line per test
set -u
ember=$1
guests=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0

# expect NAME STATUS PATTERN -- ARGS...: run ember with ARGS, check exit status and stderr.
expect() {
	local name=$1 want=$2 pattern=$3
	shift 4
	timeout 20 "$ember" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -ne "$want" ]; then
		echo "FAIL: cli/$name (exit $rc, expected $want: $(head -c 200 "$tmp/err"))"
		fail=1
	elif ! grep -qE -- "$pattern" "$tmp/err" "$tmp/out"; then
		echo "FAIL: cli/$name (no '$pattern' in: $(head -c 200 "$tmp/err"))"
		fail=1
	else
		echo "PASS: cli/$name"
	fi
}

printf 'not a kernel at all\n' >"$tmp/junk"
head -c 300 "$guests/reset.elf" >"$tmp/truncated.elf"
expect no-kernel 2 '--kernel is required' --
expect missing-kernel 1 'No such file' -- --kernel "$tmp/nonexistent"
expect kernel-is-directory 1 'is a directory' -- --kernel "$tmp"
expect not-a-kernel 1 'not a kernel' -- --kernel "$tmp/junk"
expect truncated-elf 1 'outside the .*file' -- --kernel "$tmp/truncated.elf"
expect zero-vcpus 2 'from 1 to 32' -- --kernel "$guests/reset.elf" --vcpus 0
expect too-many-vcpus 2 'from 1 to 32' -- --kernel "$guests/reset.elf" --vcpus 33
expect bad-memory 2 'MiB' -- --kernel "$guests/reset.elf" --memory lots
expect memory-too-small 1 'larger --memory' -- --kernel "$guests/reset.elf" --memory 2
expect missing-initrd 1 'initrd.*No such file' -- --kernel "$guests/reset.elf" --initrd "$tmp/none"
head -c $((4 << 20)) /dev/zero >"$tmp/big.initrd"
expect initrd-too-big 1 'do not fit' -- --kernel "$guests/reset.elf" --memory 3 \
	--initrd "$tmp/big.initrd"
expect bad-protocol 2 'auto, linux or pvh' -- --kernel "$guests/reset.elf" --boot-protocol efi
expect pvh-without-note 1 'no PVH entry' -- --kernel "$guests/linux_boot.elf" --boot-protocol pvh
expect elf32-linux-protocol 1 'linux needs a 64-bit image; this ELF32 one boots only through PVH' \
	-- --kernel "$guests/pvh32_boot.elf" --boot-protocol linux
expect net-bad-mac 2 'expected TAP' -- --kernel "$guests/reset.elf" --net tap0,mac=02:00:00:00:00:zz
expect net-multicast-mac 2 'unicast' -- --kernel "$guests/reset.elf" --net tap0,mac=01:00:5e:00:00:01
expect net-unknown-option 2 'expected TAP' -- --kernel "$guests/reset.elf" --net tap0,speed=10
expect net-too-many 2 'at most 4' -- --kernel "$guests/reset.elf" --net a --net b --net c --net d --net e
expect balloon-bad-size 2 'expected MIB' -- --kernel "$guests/reset.elf" --balloon lots
expect balloon-bad-option 2 'expected MIB' -- --kernel "$guests/reset.elf" --balloon 16,stats=0
expect rng-bad-limit 2 'expected bw=' -- --kernel "$guests/reset.elf" --rng=bw=10
expect rng-unknown-limit 2 'expected bw=' -- --kernel "$guests/reset.elf" --rng=iops=1:1
head -c 4096 /dev/zero >"$tmp/disk.img"
expect disk-bad-limit 2 'a token bucket is SIZE:REFILL_MS' -- --kernel "$guests/reset.elf" \
	--disk "$tmp/junk,bw=1"
expect disk-missing 1 "drive 'disk0' \($tmp/nonexistent\): No such file" -- --kernel "$guests/reset.elf" \
	--disk "$tmp/nonexistent"
expect disk-directory 1 'not a regular file or a block device' -- --kernel "$guests/reset.elf" \
	--disk "$tmp,ro"
expect disk-bad-option 2 "unknown option 'foo=bar'" -- --kernel "$guests/reset.elf" \
	--disk "$tmp/disk.img,foo=bar"
expect disk-bad-cache 2 'unsafe or writeback' -- --kernel "$guests/reset.elf" \
	--disk "$tmp/disk.img,cache=none"
expect disk-long-id 2 'longer than 20' -- --kernel "$guests/reset.elf" \
	--disk "$tmp/disk.img,id=123456789012345678901"
expect disk-no-path 2 'no image path' -- --kernel "$guests/reset.elf" --disk ,ro
expect disk-too-many 2 'at most 8 disks' -- --kernel "$guests/reset.elf" \
	$(for _ in $(seq 9); do printf -- '--disk %s ' "$tmp/disk.img"; done)
expect disk-boots 0 'RESET-NOW' -- --kernel "$guests/reset.elf" --disk "$tmp/disk.img" \
	--disk "$tmp/disk.img,ro,id=x,cache=writeback"
expect vsock-bad-cid 2 'expected CID,UDS_PATH' -- --kernel "$guests/reset.elf" --vsock abc,"$tmp/v.sock"
expect vsock-cid-2 2 'CID from 3' -- --kernel "$guests/reset.elf" --vsock 2,"$tmp/v.sock"
expect vsock-cid-any 2 'CID from 3' -- --kernel "$guests/reset.elf" --vsock 4294967295,"$tmp/v.sock"
expect vsock-missing-path 2 'expected CID,UDS_PATH' -- --kernel "$guests/reset.elf" --vsock 3
expect vsock-empty-path 2 'expected CID,UDS_PATH' -- --kernel "$guests/reset.elf" --vsock 3,
expect vsock-long-path 2 'at most 96 bytes' -- --kernel "$guests/reset.elf" \
	--vsock "3,/$(printf 'a%.0s' $(seq 100))"
expect vsock-twice 2 'only one vsock' -- --kernel "$guests/reset.elf" --vsock 3,"$tmp/a" \
	--vsock 4,"$tmp/b"
expect vsock-not-a-socket 1 'exists and is not a socket' -- --kernel "$guests/reset.elf" \
	--vsock 3,"$tmp/junk"
# A socket left behind by an earlier run is replaced, and ember removes its own on exit.
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/v.sock"
expect vsock-stale-socket 0 'RESET-NOW' -- --kernel "$guests/reset.elf" --vsock 3,"$tmp/v.sock"
if [ -e "$tmp/v.sock" ]; then
	echo "FAIL: cli/vsock-socket-removed ($tmp/v.sock left behind)"
	fail=1
else
	echo "PASS: cli/vsock-socket-removed"
fi
expect unknown-option 2 'unknown' -- --kernel "$guests/reset.elf" --frobnicate
expect version 0 '^ember v' -- --version
expect reset-exits-zero 0 'RESET-NOW' -- --kernel "$guests/reset.elf"

# --config-file: Firecracker's JSON is the whole VM; a bad one exits 2 naming the field.
cat >"$tmp/reset.json" <<EOF
{"boot-source": {"kernel_image_path": "$guests/reset.elf"},
 "machine-config": {"vcpu_count": 2, "mem_size_mib": 64, "smt": false},
 "drives": [{"drive_id": "rootfs", "path_on_host": "$tmp/disk.img", "is_root_device": true,
             "is_read_only": true, "cache_type": "Writeback"}],
 "logger": {"level": "Warning"}}
EOF
expect config-file-boots 0 'RESET-NOW' -- --no-api --config-file "$tmp/reset.json"
cat >"$tmp/rng.json" <<EOF
{"boot-source": {"kernel_image_path": "$guests/virtio_rng.elf"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 128},
 "entropy": {"rate_limiter": {"bandwidth": {"size": 4096, "refill_time": 100}}}}
EOF
expect config-file-entropy 0 '^RNG-BYTES=[0-9a-f]{64}' -- --config-file "$tmp/rng.json"
cat >"$tmp/bad.json" <<EOF
{"boot-source": {"kernel_image_path": "$guests/reset.elf"},
 "machine-config": {"vcpu_count": 64, "mem_size_mib": 64}}
EOF
expect config-file-bad-vcpus 2 'machine-config.vcpu_count: 64 is out of range' -- \
	--config-file "$tmp/bad.json"
cat >"$tmp/unknown.json" <<EOF
{"boot-source": {"kernel_image_path": "$guests/reset.elf"},
 "drives": [{"drive_id": "a", "is_root_device": false, "foo": 1}]}
EOF
expect config-file-unknown-field 2 "drives\[0\]: unknown field 'foo'" -- \
	--config-file "$tmp/unknown.json"
printf '{\n  "boot-source": {,}\n}' >"$tmp/syntax.json"
expect config-file-bad-json 2 'line 2, column' -- --config-file "$tmp/syntax.json"
expect config-file-missing 2 'No such file' -- --config-file "$tmp/none.json"
expect start-time-not-a-number 2 'number of microseconds' -- \
	--kernel "$guests/reset.elf" --start-time-us soon
expect start-time-in-the-future 2 'later than now' -- \
	--kernel "$guests/reset.elf" --start-time-us 18446744073709551615
expect no-seccomp-with-filter 2 'cannot be combined with --seccomp-filter' -- \
	--kernel "$guests/reset.elf" --no-seccomp --seccomp-filter "$tmp/none.json"
expect config-file-with-kernel 2 'cannot be combined with --config-file' -- \
	--config-file "$tmp/reset.json" --kernel "$guests/reset.elf"

# --cpus: a list that does not parse, or names a CPU that is not online or not one ember
# may run on, is a bad argument (status 2, the reason named).
expect cpus-empty 2 "--cpus : an empty list" -- --kernel "$guests/reset.elf" --cpus ''
expect cpus-junk 2 "--cpus 0-x: '0-x': expected a CPU number" -- --kernel "$guests/reset.elf" \
	--cpus 0-x
expect cpus-trailing-comma 2 "--cpus 0,: '': expected a CPU number" -- \
	--kernel "$guests/reset.elf" --cpus 0,
expect cpus-backwards 2 "'1-0': a range runs from the lower CPU up" -- \
	--kernel "$guests/reset.elf" --cpus 1-0
expect cpus-beyond-setsize 2 "'4096': CPUs from 0 to 1023 only" -- \
	--kernel "$guests/reset.elf" --cpus 0,4096
# The first CPU number the host does not have online, and the online ones.
read -r offline online_cpus < <(python3 - <<'PY'
cpus = set()
for item in open("/sys/devices/system/cpu/online").read().strip().split(","):
    a, _, b = item.partition("-")
    cpus.update(range(int(a), int(b or a) + 1))
print(min(set(range(1024)) - cpus), " ".join(map(str, sorted(cpus))))
PY
)
first_cpu=${online_cpus%% *}
expect cpus-offline 2 "--cpus $offline: CPU $offline is not online" -- \
	--kernel "$guests/reset.elf" --cpus "$offline"
# taskset stands for a cpuset or a jailer: a CPU outside ember's affinity is refused.
second_cpu=$(awk '{ print $2 }' <<<"$online_cpus")
if [ -n "$second_cpu" ]; then
	timeout 20 taskset -c "$first_cpu" "$ember" --kernel "$guests/reset.elf" \
		--cpus "$second_cpu" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ $rc -eq 2 ] && grep -q "CPU $second_cpu is not one ember may run on (allowed: $first_cpu)" "$tmp/err"; then
		echo "PASS: cli/cpus-not-allowed"
	else
		echo "FAIL: cli/cpus-not-allowed (exit $rc: $(head -c 200 "$tmp/err"))"
		fail=1
	fi
else
	echo "SKIP: cli/cpus-not-allowed (one CPU online)"
fi

# ticker NAME [WRAPPER...] -- ARGS...: the ticking guest with 2 vCPUs in the background (pid),
# started through WRAPPER if any; returns once both vCPU threads exist.
ticker() {
	local name=$1 i
	shift
	local wrap=()
	while [ "$1" != -- ]; do
		wrap+=("$1")
		shift
	done
	shift
	"${wrap[@]}" "$ember" --kernel "$guests/api_ticker.elf" --vcpus 2 "$@" </dev/null \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	for i in $(seq 100); do
		[ "$(grep -l '^ember_vcpu' /proc/$pid/task/*/comm 2>/dev/null | wc -l)" -ge 2 ] &&
			return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	return 1
}

# ticker_stop: SIGTERM; the exit status in rc.
ticker_stop() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
}

# policies: "comm=policy" of every thread of ember (pid), by chrt.
policies() {
	local t
	for t in /proc/$pid/task/*; do
		printf '%s=%s ' "$(tr ' ' _ <"$t/comm")" \
			"$(chrt -p "${t##*/}" | sed -n 's/.*current scheduling policy: //p')"
	done
}

# --cpus N: every thread, the VMM's, the API's and both vCPUs', inherits the affinity.
if ticker cpus -- --cpus "$first_cpu" --api-sock "$tmp/api.sock"; then
	lists=$(grep -h '^Cpus_allowed_list' /proc/$pid/task/*/status | awk '{ print $2 }' | sort -u)
	threads=$(ls /proc/$pid/task | wc -l)
	ticker_stop
	if [ "$lists" = "$first_cpu" ] && [ "$threads" -ge 4 ] && [ $rc -eq 0 ]; then
		echo "PASS: cli/cpus-every-thread"
	else
		echo "FAIL: cli/cpus-every-thread ($threads threads on: $lists; exit $rc)"
		fail=1
	fi
else
	echo "FAIL: cli/cpus-every-thread (no VM: $(tail -c 300 "$tmp/cpus.err"))"
	fail=1
	kill -9 "$pid" 2>/dev/null
fi

# --realtime: the vCPU threads run SCHED_FIFO, the others stay SCHED_OTHER.
if ticker realtime -- --realtime --api-sock "$tmp/api.sock"; then
	got=$(policies)
	ticker_stop
	case "$got" in
	*ember_vcpu_0=SCHED_FIFO*ember_vcpu_1=SCHED_FIFO*) bad= ;;
	*) bad="vCPUs not FIFO" ;;
	esac
	# Nor do threads a vCPU thread makes (KVM's own worker) inherit it.
	tr ' ' '\n' <<<"$got" | grep -v '^ember_vcpu' | grep -q SCHED_FIFO &&
		bad="$bad; a thread that is not a vCPU is FIFO"
	if [ -z "$bad" ] && [ $rc -eq 0 ]; then
		echo "PASS: cli/realtime-vcpus-fifo"
	else
		echo "FAIL: cli/realtime-vcpus-fifo ($bad: $got; exit $rc)"
		fail=1
	fi
else
	echo "FAIL: cli/realtime-vcpus-fifo (no VM: $(tail -c 300 "$tmp/realtime.err"))"
	fail=1
	kill -9 "$pid" 2>/dev/null
fi

# --realtime on no more CPUs than vCPUs: allowed, with a warning (the guest resets at once).
expect realtime-no-room 0 "--realtime with 1 vCPUs on 1 host CPUs: .*give ember more CPUs than vCPUs" -- \
	--kernel "$guests/reset.elf" --realtime --cpus "$first_cpu"

# --realtime without CAP_SYS_NICE (and RLIMIT_RTPRIO 0): a warning at the default level that
# says why, and the VM runs on with normal vCPU threads.
if ticker realtime-refused prlimit --rtprio=0 setpriv --inh-caps=-sys_nice \
	--bounding-set=-sys_nice -- --realtime; then
	got=$(policies)
	ticker_stop
	if grep -q 'WARN.*--realtime: SCHED_FIFO refused: no CAP_SYS_NICE and RLIMIT_RTPRIO is 0' \
		"$tmp/realtime-refused.err" && [ "$(grep -c 'SCHED_FIFO refused' "$tmp/realtime-refused.err")" = 1 ] &&
		! grep -q SCHED_FIFO <<<"$got" && [ $rc -eq 0 ]; then
		echo "PASS: cli/realtime-refused-warns"
	else
		echo "FAIL: cli/realtime-refused-warns (policies $got; exit $rc; stderr: $(head -c 300 "$tmp/realtime-refused.err"))"
		fail=1
	fi
else
	echo "FAIL: cli/realtime-refused-warns (no VM: $(tail -c 300 "$tmp/realtime-refused.err"))"
	fail=1
	kill -9 "$pid" 2>/dev/null
fi

# --console-sock: a path in use by a live console, or a file that is not a socket, is
# refused; a stale socket is replaced; ember removes its socket at exit.
: >"$tmp/not-a-socket"
expect console-sock-not-a-socket 1 "--console-sock $tmp/not-a-socket: exists and is not a socket" -- \
	--kernel "$guests/reset.elf" --console-sock "$tmp/not-a-socket"
python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$tmp/c.sock"
expect console-sock-stale 0 '' -- --kernel "$guests/reset.elf" --console-sock "$tmp/c.sock"
if [ -e "$tmp/c.sock" ]; then
	echo "FAIL: cli/console-sock-removed ($tmp/c.sock left behind)"
	fail=1
else
	echo "PASS: cli/console-sock-removed"
fi
if ticker console-live -- --console-sock "$tmp/c.sock"; then
	expect console-sock-in-use 1 "--console-sock $tmp/c.sock: in use by another process" -- \
		--kernel "$guests/reset.elf" --console-sock "$tmp/c.sock"
	ticker_stop
else
	echo "FAIL: cli/console-sock-in-use (no VM: $(tail -c 300 "$tmp/console-live.err"))"
	fail=1
	kill -9 "$pid" 2>/dev/null
fi

# SIGTERM while the guest waits for input: every vCPU stops, exit status 0.
mkfifo "$tmp/in"
exec 3<>"$tmp/in"
"$ember" --kernel "$guests/serial_echo.elf" <&3 >"$tmp/out" 2>"$tmp/err" &
pid=$!
for _ in $(seq 100); do grep -q ECHO-READY "$tmp/out" && break; sleep 0.1; done
kill -TERM $pid
for _ in $(seq 50); do kill -0 $pid 2>/dev/null || break; sleep 0.1; done
if kill -0 $pid 2>/dev/null; then
	kill -KILL $pid
	echo "FAIL: lifecycle/sigterm (still running 5 s after SIGTERM)"
	fail=1
else
	wait $pid
	rc=$?
	if [ $rc -eq 0 ] && grep -q ECHO-READY "$tmp/out"; then
		echo "PASS: lifecycle/sigterm"
	else
		echo "FAIL: lifecycle/sigterm (exit $rc)"
		fail=1
	fi
fi
exec 3>&-

# A terminal on stdin goes raw while the guest runs and is restored afterwards, both when
# the guest resets and when ember is stopped by a signal.
python3 - "$ember" "$guests" >"$tmp/pty" <<'PY'
import os, pty, signal, subprocess, sys, termios, time
ember, guests = sys.argv[1], sys.argv[2]
def check(name, guest, stop):
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen([ember, "--kernel", os.path.join(guests, guest)], stdin=slave,
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    raw_seen = False
    for _ in range(100):
        if termios.tcgetattr(slave) != before:
            raw_seen = True
            break
        if p.poll() is not None:
            break
        time.sleep(0.02)
    if stop:
        p.send_signal(signal.SIGTERM)
    try:
        p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        print(f"FAIL: lifecycle/{name} (did not exit)")
        return
    after = termios.tcgetattr(slave)
    if after != before:
        print(f"FAIL: lifecycle/{name} (terminal left changed)")
    elif stop and not raw_seen:
        print(f"FAIL: lifecycle/{name} (terminal never went raw)")
    else:
        print(f"PASS: lifecycle/{name}")
check("tty-restored-after-reset", "reset.elf", False)
check("tty-restored-after-sigterm", "serial_echo.elf", True)
PY
cat "$tmp/pty"
grep -q '^PASS' "$tmp/pty" && ! grep -q '^FAIL' "$tmp/pty" || fail=1
exit $fail
