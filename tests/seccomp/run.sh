#!/usr/bin/env bash
# Seccomp in ember: every thread of a booted VM is confined (Seccomp: 2), with a console
# socket and --cpus too, and --no-seccomp leaves them all unconfined (0); the built-in
# policy, printed as seccompiler JSON, loads back through --seccomp-filter; a policy that
# leaves out a syscall the VMM thread needs ends ember with status 148, the syscall and the
# thread named in the log and the fault counted in the metrics; a malformed policy is
# refused with its JSON path and status 2.
# usage: run.sh EMBER GUEST_DIR      prints one PASS:/FAIL: line per check
set -u
ember=$1
guests=$2
tmp=$(mktemp -d)
pid=
cleanup() {
	[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
pass() { echo "PASS: seccomp/$1"; }
flunk() {
	echo "FAIL: seccomp/$1 ($2)"
	fail=1
}

# boot NAME ARGS...: start a ticking guest with 2 vCPUs in the background; pid is ember's.
boot() {
	local name=$1
	shift
	"$ember" --kernel "$guests/api_ticker.elf" --vcpus 2 "$@" </dev/null \
		>"$tmp/$name.out" 2>"$tmp/$name.err" &
	pid=$!
	# Both vCPU threads exist once the VM runs.
	local i
	for i in $(seq 100); do
		[ "$(grep -l '^ember_vcpu' /proc/$pid/task/*/comm 2>/dev/null | wc -l)" -ge 2 ] &&
			return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	# Not running as it should: never leave it behind.
	kill -9 "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	pid=
	return 1
}

# stop: SIGTERM, and the exit status in rc.
stop() {
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	pid=
}

# threads_say NAME WANT: every thread of the running ember shows "Seccomp: WANT"; the API
# thread and both vCPU threads are among them.
threads_say() {
	local name=$1 want=$2 t bad= names=
	for t in /proc/$pid/task/*; do
		names="$names$(cat "$t/comm"),"
		grep -q "^Seccomp:[[:space:]]*$want\$" "$t/status" ||
			bad="$bad $(cat "$t/comm")=$(awk '/^Seccomp:/ {print $2}' "$t/status")"
	done
	case "$names" in
	*ember_api*ember_vcpu\ 0*ember_vcpu\ 1* | *ember_vcpu\ 0*ember_vcpu\ 1*ember_api*) ;;
	*) bad="$bad threads:$names" ;;
	esac
	if [ -z "$bad" ]; then pass "$name"; else flunk "$name" "$bad"; fi
}

# 1. The default: every thread confined; a clean stop still exits 0.
if boot default --api-sock "$tmp/api.sock"; then
	threads_say all-threads-filtered 2
	stop
	[ "$rc" = 0 ] && pass default-clean-exit || flunk default-clean-exit "exit $rc: $(tail -3 "$tmp/default.err")"
else
	flunk all-threads-filtered "no VM: $(tail -3 "$tmp/default.err")"
fi

# 1b. --console-sock and --cpus under the filters: a viewer attaches, gets the history and
# the ticks, a second one is refused, the first types, leaves and comes back; every thread
# stays confined and nothing traps (a trap would end ember with 148). (--realtime acts
# before a vCPU's filter is loaded: the cli tier runs it, filtered as always.)
if boot console --api-sock "$tmp/api.sock" --console-sock "$tmp/console.sock" \
	--cpus "$(cat /sys/devices/system/cpu/online)"; then
	if timeout 30 python3 - "$tmp/console.sock" >"$tmp/console.viewer" 2>&1 <<'PY'
import socket, sys, time
def viewer():
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    s.settimeout(10)
    return s
def until(s, text):
    data = b""
    while text not in data:
        chunk = s.recv(65536)
        assert chunk, "closed before %r: %r" % (text, data[-200:])
        data += chunk
    return data
a = viewer()
assert until(a, b"TICK 2\n").startswith(b"BOOT-PROTOCOL=pvh\nTICKER-READY\nTICK 0\n")
b = viewer()
assert until(b, b"busy") == b"ember: console busy\r\n"
a.sendall(b"typed\n")
a.close()
time.sleep(0.2)
a = viewer()
until(a, b"TICKER-READY")
a.close()
print("viewer-ok")
PY
	then
		pass console-sock-viewers
	else
		flunk console-sock-viewers "$(tail -c 300 "$tmp/console.viewer")"
	fi
	threads_say console-sock-cpus-filtered 2
	stop
	[ "$rc" = 0 ] && pass console-sock-cpus-clean-exit ||
		flunk console-sock-cpus-clean-exit "exit $rc: $(tail -3 "$tmp/console.err")"
else
	flunk console-sock-cpus-filtered "no VM: $(tail -3 "$tmp/console.err")"
fi

# 2. --no-seccomp: none.
if boot off --no-seccomp --api-sock "$tmp/api.sock"; then
	threads_say no-seccomp-unfiltered 0
	stop
else
	flunk no-seccomp-unfiltered "no VM: $(tail -3 "$tmp/off.err")"
fi

# 3. The built-in policy as JSON, and back.
if "$ember" --print-seccomp-filter >"$tmp/builtin.json" &&
	python3 -c 'import json,sys; p=json.load(open(sys.argv[1])); assert sorted(p)==["api","vcpu","vmm"]' \
		"$tmp/builtin.json"; then
	pass print-builtin-policy
else
	flunk print-builtin-policy "not a seccompiler policy: $(head -c 200 "$tmp/builtin.json")"
fi
if boot file --seccomp-filter "$tmp/builtin.json" --api-sock "$tmp/api.sock"; then
	threads_say policy-file-filtered 2
	stop
else
	flunk policy-file-filtered "no VM: $(tail -3 "$tmp/file.err")"
fi

# 4. A VMM filter without write: the VMM thread's first write (SIGTERM makes it wake the
# loop's stop eventfd) ends ember with 148, the log naming write and the thread, and the
# metrics counting the fault.
python3 - "$tmp/builtin.json" "$tmp/nowrite.json" <<'PY'
import json, sys
p = json.load(open(sys.argv[1]))
p["vmm"]["filter"] = [r for r in p["vmm"]["filter"] if r["syscall"] != "write"]
json.dump(p, open(sys.argv[2], "w"))
PY
cat >"$tmp/vm.json" <<JSON
{
  "boot-source": { "kernel_image_path": "$guests/api_ticker.elf" },
  "machine-config": { "vcpu_count": 2, "mem_size_mib": 64 },
  "logger": { "log_path": "$tmp/fault.log", "level": "Info" },
  "metrics": { "metrics_path": "$tmp/fault.metrics" }
}
JSON
: >"$tmp/fault.log"
: >"$tmp/fault.metrics"
"$ember" --config-file "$tmp/vm.json" --no-api --seccomp-filter "$tmp/nowrite.json" </dev/null \
	>"$tmp/nowrite.out" 2>"$tmp/nowrite.err" &
pid=$!
for i in $(seq 100); do
	[ "$(grep -l '^ember_vcpu' /proc/$pid/task/*/comm 2>/dev/null | wc -l)" -ge 2 ] && break
	sleep 0.1
done
stop
if [ "$rc" = 148 ]; then pass missing-syscall-exits-148; else flunk missing-syscall-exits-148 "exit $rc"; fi
if grep -q 'bad syscall: write ([0-9]*) in thread ember' "$tmp/fault.log"; then
	pass missing-syscall-named
else
	flunk missing-syscall-named "log: $(tail -c 300 "$tmp/fault.log") stderr: $(tail -c 200 "$tmp/nowrite.err")"
fi
if grep -q '"seccomp":{"num_faults":1}' "$tmp/fault.metrics"; then
	pass missing-syscall-counted
else
	flunk missing-syscall-counted "metrics: $(tail -c 300 "$tmp/fault.metrics")"
fi

# 4b. A device reset on a vCPU thread waits for the disk's requests in flight (io_uring_enter
# there): with the images out of the page cache, reads are still in flight when the guest
# resets the device, every time.
python3 - "$tmp/blk0" "$tmp/blk1" <<'PY'
import sys
open(sys.argv[1], "wb").write(bytes(1 << 20))
open(sys.argv[2], "wb").write(bytes(64 << 10))
PY
cold_ok=0
for i in 1 2 3; do
	python3 - "$tmp/blk0" "$tmp/blk1" <<'PY'
import os, sys
for p in sys.argv[1:]:
    fd = os.open(p, os.O_RDWR)
    os.fsync(fd)
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    os.close(fd)
PY
	timeout 30 "$ember" --kernel "$guests/virtio_blk.elf" --memory 128 --disk "$tmp/blk0,id=cold" \
		--disk "$tmp/blk1,ro" </dev/null >"$tmp/cold.out" 2>"$tmp/cold.err" && cold_ok=$((cold_ok + 1))
done
if [ "$cold_ok" = 3 ]; then
	pass blk-reset-with-requests-in-flight
else
	flunk blk-reset-with-requests-in-flight "$cold_ok of 3 runs exited 0: $(tail -1 "$tmp/cold.err")"
fi

# 5. Malformed policies: status 2, the JSON path named, no VM.
refused() {
	local name=$1 pattern=$2 policy=$3
	printf '%s' "$policy" >"$tmp/$name.json"
	timeout 20 "$ember" --kernel "$guests/api_ticker.elf" --seccomp-filter "$tmp/$name.json" \
		</dev/null >"$tmp/$name.out" 2>"$tmp/$name.err"
	local status=$?
	if [ "$status" != 2 ]; then
		flunk "$name" "exit $status, expected 2: $(head -c 200 "$tmp/$name.err")"
	elif ! grep -qE -- "$pattern" "$tmp/$name.err"; then
		flunk "$name" "no '$pattern' in: $(head -c 200 "$tmp/$name.err")"
	else
		pass "$name"
	fi
}
ok='{"default_action":"trap","filter_action":"allow","filter":[{"syscall":"exit_group"},{"syscall":"write"}]}'
refused malformed-json 'line 1' '{"vmm": '
refused missing-thread 'vcpu' "{\"vmm\": $ok, \"api\": $ok}"
refused unknown-key 'bogus' "{\"vmm\": $ok, \"api\": $ok, \"vcpu\": $ok, \"bogus\": 1}"
refused bad-op 'vmm\.filter\[0\]\.args\[0\]\.op' \
	"{\"vmm\": {\"default_action\":\"trap\",\"filter_action\":\"allow\",\"filter\":[{\"syscall\":\"ioctl\",\"args\":[{\"index\":1,\"type\":\"dword\",\"op\":\"about\",\"val\":1}]}]}, \"api\": $ok, \"vcpu\": $ok}"
refused bad-action 'api\.default_action' \
	"{\"vmm\": $ok, \"api\": {\"default_action\":\"shrug\",\"filter_action\":\"allow\",\"filter\":[]}, \"vcpu\": $ok}"
refused unknown-syscall 'vcpu\.filter\[2\]\.syscall' \
	"{\"vmm\": $ok, \"api\": $ok, \"vcpu\": {\"default_action\":\"trap\",\"filter_action\":\"allow\",\"filter\":[{\"syscall\":\"exit_group\"},{\"syscall\":\"write\"},{\"syscall\":\"no_such_call\"}]}}"
refused unreportable 'vmm: a filter that traps must allow exit_group' \
	"{\"vmm\": {\"default_action\":\"trap\",\"filter_action\":\"allow\",\"filter\":[{\"syscall\":\"read\"}]}, \"api\": $ok, \"vcpu\": $ok}"
refused dword-ordered-compare 'api\.filter\[2\]\.args\[0\]\.op: a dword takes only eq or masked_eq' \
	"{\"vmm\": $ok, \"api\": {\"default_action\":\"trap\",\"filter_action\":\"allow\",\"filter\":[{\"syscall\":\"exit_group\"},{\"syscall\":\"write\"},{\"syscall\":\"dup\",\"args\":[{\"index\":0,\"type\":\"dword\",\"op\":\"ne\",\"val\":1}]}]}, \"vcpu\": $ok}"
timeout 20 "$ember" --kernel "$guests/api_ticker.elf" --seccomp-filter "$tmp/none.json" </dev/null \
	>/dev/null 2>"$tmp/none.err"
status=$?
if [ "$status" = 2 ] && grep -q 'No such file' "$tmp/none.err"; then
	pass missing-policy-file
else
	flunk missing-policy-file "exit $status: $(head -c 200 "$tmp/none.err")"
fi
exit $fail
