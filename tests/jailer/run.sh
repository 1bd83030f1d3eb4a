#!/usr/bin/env bash
# ember-jailer tests (as root): bad arguments get one message, a non-zero exit and leave
# nothing on the host; a tiny guest boots through the jailer with cgroups v1, a network
# namespace, a new PID namespace and --daemonize, and the jailed ember is checked from the
# host (ids, capabilities, no_new_privs, seccomp, root, cgroups, netns, rlimits, API, the
# console socket and --cpus passed through to ember); a cgroup v2 run; a failure after the
# forks is undone, and so is a jailer process killed before ember's exec; an exec file
# swapped after its checks is refused; fsize=1 is set only at the exec; the umask and the
# signals ember is started with.
# usage: tests/jailer/run.sh JAILER EMBER GUEST_DIR      one PASS:/FAIL: line per check
# EMBER must be statically linked (the jail holds nothing else); given a dynamic one, its
# static sibling EMBER-static (make STATIC=1) is used instead.
set -u
if [ $# -ne 3 ]; then
	echo "usage: $0 JAILER EMBER GUEST_DIR" >&2
	exit 2
fi
jailer=$(realpath "$1")
ember=$(realpath "$2")
guests=$(realpath "$3")
export LC_ALL=C
failed=0
uid=12345
gid=12345

pass() { echo "PASS: jailer/$1"; }
fail() {
	echo "FAIL: jailer/$1 ($2)"
	failed=1
}
# check NAME REASON-IF-NOT COMMAND...: PASS if COMMAND succeeds.
check() {
	local name=$1 reason=$2
	shift 2
	if "$@"; then pass "$name"; else fail "$name" "$reason"; fi
}

if [ "$(id -u)" -ne 0 ]; then
	fail root "the jailer tests need root"
	exit 1
fi
if readelf -l "$ember" 2>/dev/null | grep -q 'program interpreter'; then
	if [ -x "$ember-static" ]; then
		echo "note: $ember is dynamically linked; using $ember-static (a jail holds only the binary)"
		dynamic_ember=$ember
		ember=$ember-static
	else
		fail static-ember "$ember is dynamically linked and there is no $ember-static: make STATIC=1"
		exit 1
	fi
fi
ticker=$guests/api_ticker.elf
[ -f "$ticker" ] || { fail guest "$ticker is missing: make guests"; exit 1; }

tmp=$(mktemp -d /tmp/ember-jailer-test.XXXXXX)
base=$tmp/base
mkdir -p "$base" "$tmp/bin"
cp "$ember" "$tmp/bin/ember" # as a Firecracker user gives /usr/bin/firecracker
exe=$tmp/bin/ember
parent=ember-jail-test-$$
netns=ember-jail-test-$$
cg1=/sys/fs/cgroup
cg2=$(awk '$3 == "cgroup2" { print $2; exit }' /proc/mounts)
subtree_before=$([ -n "$cg2" ] && cat "$cg2/cgroup.subtree_control")

# Stop every jailed ember (their pid files), then remove jails, cgroups and the netns, and
# give the cgroup2 root back the controllers it had.
cleanup() {
	local f pid i c d
	for f in "$base"/*/*/root/*.pid; do
		[ -f "$f" ] || continue
		pid=$(cat "$f")
		kill -TERM "$pid" 2>/dev/null
		for i in $(seq 100); do
			[ -e "/proc/$pid" ] || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null
	done
	sleep 0.2
	rm -rf "$tmp"
	for d in "$cg1"/*/"$parent" ${cg2:+"$cg2/$parent"}; do
		[ -d "$d" ] || continue
		find "$d" -mindepth 1 -depth -type d -exec rmdir {} + 2>/dev/null
		rmdir "$d"
	done
	ip netns del "$netns" 2>/dev/null
	if [ -n "$cg2" ]; then
		for c in $(cat "$cg2/cgroup.subtree_control"); do
			case " $subtree_before " in *" $c "*) ;; *) echo "-$c" >"$cg2/cgroup.subtree_control" ;; esac
		done
	fi
}
trap cleanup EXIT

# api SOCKET METHOD PATH [BODY]: print the response body, then the status on its own line.
api() {
	local sock=$1 method=$2 path=$3 body=${4:-}
	if command -v curl >/dev/null; then
		curl -s --max-time 5 --unix-socket "$sock" -X "$method" ${body:+-d "$body"} \
			-w '\n%{http_code}\n' "http://localhost$path"
	else
		python3 - "$sock" "$method" "$path" "$body" <<'PY'
import http.client, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(sys.argv[1])
c = C("localhost", timeout=5)
c.request(sys.argv[2], sys.argv[3], body=sys.argv[4] or None)
r = c.getresponse()
print(r.read().decode())
print(r.status)
PY
	fi
}

# The cgroup directories of (parent) that exist, one a line (none: nothing left).
cgroup_dirs() {
	ls -d "$cg1"/*/"$parent" ${cg2:+"$cg2/$parent"} 2>/dev/null
}

common=(--exec-file "$exe" --uid "$uid" --gid "$gid" --chroot-base-dir "$base"
	--parent-cgroup "$parent")
# but FLAG: set (args) to (common) without FLAG, which a test gives itself (a flag given
# twice is refused).
but() {
	local i
	args=()
	for ((i = 0; i < ${#common[@]}; i += 2)); do
		[ "${common[i]}" = "$1" ] || args+=("${common[i]}" "${common[i + 1]}")
	done
}

# refuse NAME STATUS PATTERN -- ARGS...: the jailer exits STATUS with one stderr line
# matching PATTERN, and leaves nothing under the chroot base or in the cgroups. The jailer
# is started through the command in the array (wrap), if any.
n=0
wrap=()
refuse() {
	local name=$1 want=$2 pattern=$3 rc lines left
	shift 4
	n=$((n + 1))
	timeout 20 ${wrap[@]+"${wrap[@]}"} "$jailer" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	rc=$?
	lines=$(wc -l <"$tmp/err")
	left=$(find "$base" -mindepth 1 | head -3; cgroup_dirs)
	if [ "$rc" -ne "$want" ]; then
		fail "$name" "exit $rc, expected $want: $(head -c 300 "$tmp/err")"
	elif ! grep -qE -- "$pattern" "$tmp/err"; then
		fail "$name" "no '$pattern' in: $(head -c 300 "$tmp/err")"
	elif [ "$lines" -ne 1 ] || ! grep -q '^ember-jailer: ' "$tmp/err"; then
		fail "$name" "expected one 'ember-jailer: ' line, got: $(head -c 300 "$tmp/err")"
	elif [ -n "$left" ]; then
		fail "$name" "left behind: $(echo $left)"
	else
		pass "$name"
	fi
	rm -rf "${base:?}"/* # so that one failure does not fail the rest
	for d in $(cgroup_dirs); do
		find "$d" -depth -type d -exec rmdir {} + 2>/dev/null
	done
}

# --- help, version, bad arguments ---------------------------------------------------------
"$jailer" --help >"$tmp/out" 2>&1
check help "no usage, or a non-zero exit" grep -q -- '--cgroup-version' "$tmp/out"
check version "no version" bash -c "'$jailer' --version | grep -q '^ember-jailer v'"
refuse id-slash 2 '^ember-jailer: --id a/b: ' -- --id a/b "${common[@]}"
refuse id-dotdot 2 '--id \.\.: ' -- --id .. "${common[@]}"
refuse id-too-long 2 '1 to 64' -- --id "$(printf 'a%.0s' $(seq 65))" "${common[@]}"
but --exec-file
refuse exec-missing 2 '--exec-file /nonexistent: No such file' -- --id x "${args[@]}" \
	--exec-file /nonexistent
but --exec-file
refuse exec-directory 2 'not a regular file' -- --id x "${args[@]}" --exec-file "$tmp"
printf '#!/bin/sh\necho hi\n' >"$tmp/script"
chmod +x "$tmp/script"
but --exec-file
refuse exec-script 2 'not an ELF' -- --id x "${args[@]}" --exec-file "$tmp/script"
if [ -n "${dynamic_ember:-}" ]; then
	but --exec-file
	refuse exec-dynamic 2 'dynamically linked' -- --id x "${args[@]}" --exec-file "$dynamic_ember"
fi
but --uid
refuse uid-not-a-number 2 '--uid abc: must be a number' -- --id x "${args[@]}" --uid abc
but --gid
refuse gid-not-a-number 2 '--gid 1x: must be a number' -- --id x "${args[@]}" --gid 1x
refuse missing-id 2 '--id is required' -- "${common[@]}"
refuse missing-uid 2 '--uid is required' -- --id x --exec-file "$exe" --gid 1
refuse missing-exec-file 2 '--exec-file is required' -- --id x --uid 1 --gid 1
refuse unknown-flag 2 "unknown option '--frobnicate'" -- --id x "${common[@]}" --frobnicate
refuse flag-without-value 2 '--netns needs a value' -- --id x "${common[@]}" --netns
refuse operand 2 "unexpected argument 'boot'" -- --id x "${common[@]}" boot
refuse unknown-resource 2 "unknown resource 'cpu'" -- --id x "${common[@]}" --resource-limit cpu=1
refuse resource-not-a-number 2 'must be a number' -- --id x "${common[@]}" \
	--resource-limit no-file=lots
refuse resource-format 2 'RESOURCE=VALUE' -- --id x "${common[@]}" --resource-limit fsize
refuse cgroup-version 2 '--cgroup-version 3: must be 1 or 2' -- --id x "${common[@]}" \
	--cgroup-version 3
refuse cgroup-format 2 'expected FILE=VALUE' -- --id x "${common[@]}" --cgroup pids.max
refuse cgroup-no-controller 2 "no cgroup v1 hierarchy has the controller 'nosuch'" -- \
	--id x "${common[@]}" --cgroup nosuch.max=1
# No <parent> yet and not at the hierarchy's root: looked for once <parent> is made, which
# is then removed again.
refuse cgroup-no-file 2 'no file memory.no_such_file in /sys/fs/cgroup/memory/' -- \
	--id x "${common[@]}" --cgroup cpuset.cpus=0 --cgroup memory.no_such_file=1
refuse cgroup-v2-unavailable 2 "'memory' is not available in the cgroup2" -- --id x \
	"${common[@]}" --cgroup-version 2 --cgroup memory.max=1
refuse cgroup-v2-no-file 2 'no file hugetlb.no_such_file' -- --id x "${common[@]}" \
	--cgroup-version 2 --cgroup hugetlb.no_such_file=1
but --parent-cgroup
refuse parent-cgroup-dotdot 2 '--parent-cgroup \.\./x: ' -- --id x "${args[@]}" \
	--parent-cgroup ../x
refuse netns-missing 2 '--netns /nonexistent: No such file' -- --id x "${common[@]}" \
	--netns /nonexistent
refuse netns-not-a-namespace 2 'not a network namespace' -- --id x "${common[@]}" \
	--netns /etc/hostname
but --chroot-base-dir
refuse chroot-base-missing 2 'chroot-base-dir .*: No such file' -- --id x "${args[@]}" \
	--chroot-base-dir "$tmp/nonexistent"
# Refused by the kernel once the jail and the cgroups exist: all of it is removed again.
refuse cgroup-value-refused 1 'pids.max=abc: writing .*: Invalid argument' -- --id x \
	"${common[@]}" --cgroup cpuset.cpus=0 --cgroup pids.max=abc
# An executable the kernel will not run fails the exec after both forks, as uid:gid: the
# original jailer hears of it, removes everything and exits 1.
cp "$exe" "$tmp/bin/not-runnable"
printf '\0\0' | dd of="$tmp/bin/not-runnable" bs=1 seek=18 conv=notrunc status=none # e_machine
but --exec-file
refuse exec-fails-after-forks 1 'exec /not-runnable in the jail: Exec format error' -- \
	--id x "${args[@]}" --exec-file "$tmp/bin/not-runnable" --new-pid-ns --daemonize \
	--cgroup pids.max=10
rm -f "$tmp/bin/not-runnable"
# A jailer process killed before ember's exec (as by the OOM killer) closes the report pipe
# with nothing in it, as the exec does: the original finds that the process was not
# exec'd, removes everything and exits 1. strace kills it as it enters a system call that
# only the process that is to exec ember makes (setresuid), or only the first fork of
# --daemonize (setsid), where there is no pid file yet.
if command -v strace >/dev/null; then
	kill_at() {
		wrap=(strace -f -qq -o /dev/null -e trace="$1" -e inject="$1":signal=KILL)
	}
	kill_at setresuid
	refuse killed-before-exec 1 "ember's process \(pid [0-9]+\) ended before its exec, without a report: killed by signal 9" -- \
		--id x "${common[@]}" --new-pid-ns --daemonize --cgroup pids.max=10
	refuse killed-before-exec-pid-ns 1 "ember's process \(pid [0-9]+\) ended before its exec.*signal 9" -- \
		--id x "${common[@]}" --new-pid-ns --cgroup pids.max=10
	kill_at setsid
	refuse killed-before-pid-file 1 "a jailer process ended before ember's exec, without a report \(no pid file: .*\): killed by signal 9" -- \
		--id x "${common[@]}" --daemonize --cgroup pids.max=10
	# The exec file is replaced between its checks and its copy (strace holds the jailer
	# up at its first mkdir, which is the jail's): a FIFO would block the copy, another
	# file (which may well get the removed one's inode number) would be copied unchecked.
	swap() { # swap SECONDS KIND: after SECONDS, $tmp/bin/swap becomes a KIND (fifo|file)
		sleep "$1"
		rm -f "$tmp/bin/swap"
		if [ "$2" = fifo ]; then mkfifo "$tmp/bin/swap"; else cp "$exe" "$tmp/bin/swap"; fi
	}
	wrap=(strace -f -qq -o /dev/null -e trace=mkdirat -e inject=mkdirat:delay_enter=1000000:when=1)
	for kind in fifo file; do
		rm -f "$tmp/bin/swap"
		cp "$exe" "$tmp/bin/swap"
		swap 0.4 "$kind" &
		but --exec-file
		refuse "exec-swapped-for-$kind" 1 'not the file that was checked' -- --id x "${args[@]}" \
			--exec-file "$tmp/bin/swap"
		wait
	done
	rm -f "$tmp/bin/swap"
	wrap=()
else
	echo "SKIP: jailer/killed-before-exec, exec-swapped (no strace)"
fi
# A jail root made beforehand (its kernel put there first, as Firecracker users do) keeps
# what it held when a later step fails: only what the jailer made goes.
mkdir -p "$base/ember/pre/root"
cp "$ticker" "$base/ember/pre/root/guest.elf"
"$jailer" --id pre "${common[@]}" --cgroup pids.max=abc </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
left=$(cd "$base" && find . -mindepth 1 | sort | tr '\n' ' ')
check undo-keeps-what-was-there "exit $rc, left: $left, cgroups: $(cgroup_dirs)" \
	test "$rc:$left:$(cgroup_dirs)" = "1:./ember ./ember/pre ./ember/pre/root ./ember/pre/root/guest.elf :"
rm -rf "${base:?}"/*

# --- a tiny guest, jailed with cgroups v1, a netns, a PID namespace, --daemonize ------------
# wait_for PATH: up to 10 s for PATH to exist.
wait_for() {
	local i
	for i in $(seq 100); do
		[ -e "$1" ] && return 0
		sleep 0.1
	done
	return 1
}
# status_is PID FIELD VALUE: /proc/PID/status has "FIELD:<tab>VALUE".
status_is() {
	grep -qP "^$2:\t$3\$" "/proc/$1/status"
}

ip netns add "$netns" || fail netns "ip netns add $netns failed"
id=boot-v1-$$
jail=$base/ember/$id/root
fsize=$((64 << 20))
memory=$((512 << 20))
"$jailer" --id "$id" "${common[@]}" --netns "/var/run/netns/$netns" --new-pid-ns --daemonize \
	--cgroup-version 1 --cgroup cpuset.cpus=0 --cgroup pids.max=100 \
	--cgroup memory.limit_in_bytes=$memory \
	--resource-limit no-file=1024 --resource-limit fsize=$fsize \
	-- --api-sock /api.sock --console-sock /console.sock --cpus 0 </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || ! [ -s "$jail/ember.pid" ]; then
	fail v1/start "exit $rc, $(head -c 300 "$tmp/err")"
else
	pass v1/start
	pid=$(cat "$jail/ember.pid")
	check v1/pid-file "pid $pid is not a running /ember" \
		grep -q '^/ember' "/proc/$pid/cmdline"
	check v1/api-socket "no $jail/api.sock" wait_for "$jail/api.sock"
	cp "$ticker" "$jail/guest.elf"
	boot=$(api "$jail/api.sock" PUT /boot-source '{"kernel_image_path": "/guest.elf"}' | tail -1)
	start=$(api "$jail/api.sock" PUT /actions '{"action_type": "InstanceStart"}' | tail -1)
	info=$(api "$jail/api.sock" GET /)
	check v1/api-boots-guest "boot-source $boot, InstanceStart $start, GET / $info" \
		grep -q "\"id\": *\"$id\".*\"state\": *\"Running\"" <<<"$info"
	# --console-sock and --cpus passed through: the console is in the jail, every thread
	# on CPU 0 (the cpuset allows only that one).
	console=$(timeout 20 python3 - "$jail/console.sock" 2>&1 <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(10)
data = b""
while b"TICKER-READY" not in data:
    chunk = s.recv(4096)
    if not chunk:
        break
    data += chunk
print("TICKER-READY" if b"TICKER-READY" in data else "console said: %r" % data[-200:])
PY
)
	check v1/console-socket "$console" test "$console" = TICKER-READY
	check v1/cpus "$(grep -H '^Cpus_allowed_list' /proc/$pid/task/*/status | tr '\n\t' '  ')" \
		bash -c "[ \"\$(grep -h '^Cpus_allowed_list' /proc/$pid/task/*/status | sort -u | tr '\t' ' ')\" = 'Cpus_allowed_list: 0' ]"
	check v1/uid "$(grep -E '^(Uid|Gid)' /proc/$pid/status | tr '\n\t' '  ')" \
		bash -c "grep -qP '^Uid:\t$uid\t$uid\t$uid\t$uid\$' /proc/$pid/status &&
			 grep -qP '^Gid:\t$gid\t$gid\t$gid\t$gid\$' /proc/$pid/status"
	check v1/groups "$(grep ^Groups /proc/$pid/status)" grep -qP '^Groups:\s*$' "/proc/$pid/status"
	for c in CapEff CapPrm CapInh CapAmb CapBnd; do
		check "v1/$c" "$(grep "^$c" /proc/$pid/status)" status_is "$pid" "$c" 0000000000000000
	done
	check v1/no-new-privs "$(grep ^NoNewPrivs /proc/$pid/status)" status_is "$pid" NoNewPrivs 1
	# Every thread of the booted VM: the VMM thread, the API thread and the vCPU.
	check v1/seccomp "$(grep -H '^Seccomp:' /proc/$pid/task/*/status | tr '\n\t' '  ')" \
		bash -c "[ \$(ls /proc/$pid/task | wc -l) -ge 3 ] &&
			 ! grep -L -P '^Seccomp:\t2\$' /proc/$pid/task/*/status | grep -q ."
	check v1/root "/proc/$pid/root is $(stat -L -c %d:%i /proc/$pid/root), the jail $(stat -c %d:%i "$jail")" \
		test "$(stat -L -c %d:%i "/proc/$pid/root")" = "$(stat -c %d:%i "$jail")"
	check v1/env "environment: $(tr '\0' ' ' <"/proc/$pid/environ")" test ! -s "/proc/$pid/environ"
	for c in cpuset pids memory; do
		check "v1/cgroup-$c" "$(grep ":$c:" "/proc/$pid/cgroup")" \
			grep -q "^[0-9]*:$c:/$parent/$id\$" "/proc/$pid/cgroup"
	done
	check v1/cgroup-values "cpuset.cpus $(cat $cg1/cpuset/$parent/$id/cpuset.cpus), pids.max $(cat $cg1/pids/$parent/$id/pids.max), memory $(cat $cg1/memory/$parent/$id/memory.limit_in_bytes)" \
		test "$(cat $cg1/cpuset/$parent/$id/cpuset.cpus):$(cat $cg1/pids/$parent/$id/pids.max):$(cat $cg1/memory/$parent/$id/memory.limit_in_bytes)" = "0:100:$memory"
	check v1/netns "ns/net $(readlink /proc/$pid/ns/net), $netns has inode $(stat -L -c %i /var/run/netns/$netns)" \
		test "$(readlink "/proc/$pid/ns/net")" = "net:[$(stat -L -c %i "/var/run/netns/$netns")]"
	check v1/pid-namespace "$(grep ^NSpid /proc/$pid/status)" \
		grep -qP "^NSpid:\t$pid\t1\$" "/proc/$pid/status"
	check v1/daemonized "session $(ps -o sid= -p "$pid"), ours $(ps -o sid= -p $$), stdin $(readlink /proc/$pid/fd/0)" \
		bash -c "[ \$(ps -o sid= -p $pid) != \$(ps -o sid= -p $$) ] &&
			 [ \$(readlink /proc/$pid/fd/0) = /dev/null ] && [ \$(readlink /proc/$pid/fd/2) = /dev/null ]"
	check v1/rlimits "$(grep -E 'open files|file size' /proc/$pid/limits | tr -s ' ')" \
		bash -c "grep -qE '^Max open files +1024 +1024 ' /proc/$pid/limits &&
			 grep -qE '^Max file size +$fsize +$fsize ' /proc/$pid/limits"
	devices_ok=true
	for d in kvm net/tun userfaultfd; do
		[ -e "/dev/$d" ] || continue
		[ "$(stat -c '%t:%T %u:%g %a %F' "$jail/dev/$d")" = \
			"$(stat -c '%t:%T' "/dev/$d") $uid:$gid 600 character special file" ] ||
			devices_ok=false
	done
	check v1/devices "$(ls -ln "$jail/dev" "$jail/dev/net" | tr '\n' ' ')" $devices_ok
	check v1/exec-copy "owner and mode $(stat -c '%u:%g %a' "$jail/ember"), expected 0:0 555" \
		test "$(stat -c '%u:%g %a' "$jail/ember")" = "0:0 555"
	check v1/no-mount-on-host "the host sees $(grep -c "$jail" /proc/self/mountinfo) mounts in the jail" \
		bash -c "! grep -q '$jail' /proc/self/mountinfo"
	check v1/ember-args "cmdline: $(tr '\0' ' ' <"/proc/$pid/cmdline")" \
		grep -qaE "^/ember.--id.$id.--start-time-us.[0-9]+.--start-time-cpu-us.[0-9]+.--parent-cpu-time-us.[0-9]+.--api-sock./api.sock.--console-sock./console.sock.--cpus.0.\$" \
		"/proc/$pid/cmdline"
	kill -TERM "$pid"
	for i in $(seq 100); do
		[ -e "/proc/$pid" ] || break
		sleep 0.1
	done
	check v1/stops "ember $pid still runs 10 s after SIGTERM" test ! -e "/proc/$pid"
	check v1/console-socket-removed "$jail/console.sock left behind" test ! -e "$jail/console.sock"
	rm -rf "${base:?}/ember/$id"
	for c in cpuset pids memory; do
		rmdir "$cg1/$c/$parent/$id" "$cg1/$c/$parent" 2>/dev/null
	done
	check v1/cleaned-up "left: $(cgroup_dirs)" test -z "$(cgroup_dirs)"
fi

# --- fsize=1, a blocked and an ignored signal, umask 0 ---------------------------------------
# RLIMIT_FSIZE is set just before the exec: the jailer's own writes (the pid file, here by a
# parent) are not cut off by it, nor is ember's seccomp set-up (it compiles its filters
# through a pipe, which RLIMIT_FSIZE does not cover). The jailer is started with SIGUSR1 blocked, SIGUSR2 ignored and umask
# 0, and ember has none of them (umask 0077).
id=fsize-$$
jail=$base/ember/$id/root
launch=(bash -c 'trap "" USR2; umask 0; exec "$@"' launch)
if command -v python3 >/dev/null; then
	launch=(python3 -c 'import os, signal, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
signal.signal(signal.SIGUSR2, signal.SIG_IGN)
os.umask(0)
os.execv(sys.argv[1], sys.argv[1:])')
fi
"${launch[@]}" "$jailer" --id "$id" "${common[@]}" --new-pid-ns --daemonize \
	--resource-limit fsize=1 -- --api-sock /api.sock </dev/null >"$tmp/out" 2>"$tmp/err"
rc=$?
if [ $rc -ne 0 ] || ! [ -s "$jail/ember.pid" ]; then
	fail fsize/start "exit $rc, $(head -c 300 "$tmp/err")"
else
	pass fsize/start
	pid=$(cat "$jail/ember.pid")
	check fsize/limit "$(grep 'file size' "/proc/$pid/limits" | tr -s ' ')" \
		grep -qE '^Max file size +1 +1 ' "/proc/$pid/limits"
	check fsize/api-socket "no $jail/api.sock" wait_for "$jail/api.sock"
	cp "$ticker" "$jail/guest.elf"
	api "$jail/api.sock" PUT /boot-source '{"kernel_image_path": "/guest.elf"}' >/dev/null
	api "$jail/api.sock" PUT /actions '{"action_type": "InstanceStart"}' >/dev/null
	info=$(api "$jail/api.sock" GET /)
	check fsize/boots-guest "GET / $info" grep -q '"state": *"Running"' <<<"$info"
	check exec/umask "$(grep ^Umask "/proc/$pid/status")" status_is "$pid" Umask 0077
	# ember blocks SIGTERM and the like itself, and ignores SIGPIPE.
	blocked=$(awk '$1 == "SigBlk:" { print $2 }' "/proc/$pid/status")
	ignored=$(awk '$1 == "SigIgn:" { print $2 }' "/proc/$pid/status")
	check exec/signals-ignored "SigIgn $ignored (SIGUSR2 is 0x800)" test $((0x$ignored & 0x800)) -eq 0
	if [ "${launch[0]}" = python3 ]; then
		check exec/signals-blocked "SigBlk $blocked (SIGUSR1 is 0x200)" test $((0x$blocked & 0x200)) -eq 0
	else
		echo "SKIP: jailer/exec/signals-blocked (no python3 to start the jailer with a signal blocked)"
	fi
	kill -TERM "$pid"
	for i in $(seq 100); do
		[ -e "/proc/$pid" ] || break
		sleep 0.1
	done
fi
rm -rf "${base:?}"/*

# --- cgroup v2, without forks: the jailer itself becomes ember ------------------------------
# A hugetlb file of the first page size the host has, e.g. hugetlb.2MB.max.
hugetlb_file() {
	local d kib
	d=$(ls -d /sys/kernel/mm/hugepages/hugepages-*kB 2>/dev/null | head -1)
	[ -n "$d" ] || return 1
	kib=${d##*hugepages-}
	kib=${kib%kB}
	if [ $((kib % 1048576)) -eq 0 ]; then
		echo "hugetlb.$((kib / 1048576))GB.max"
	elif [ $((kib % 1024)) -eq 0 ]; then
		echo "hugetlb.$((kib / 1024))MB.max"
	else
		echo "hugetlb.${kib}KB.max"
	fi
}
file=$(hugetlb_file)
if [ -z "$cg2" ] || [ -z "$file" ] || ! grep -qw hugetlb "$cg2/cgroup.controllers"; then
	echo "SKIP: jailer/v2 (no cgroup2 mount with hugetlb)"
else
	# The controllers the jailer enabled in cgroup.subtree_control on the way down to
	# <parent>/<id> (at the hierarchy's root too) are disabled again when a step fails:
	# after this refusal and the v2 ones above, the root has what it had at the start.
	but --parent-cgroup
	refuse v2/value-refused 1 "--cgroup $file=abc: writing .*: Invalid argument" -- --id x \
		"${args[@]}" --parent-cgroup "$parent/sub" --cgroup-version 2 --cgroup "$file=abc"
	check v2/subtree-control-undone "the root's cgroup.subtree_control was '$subtree_before', is '$(cat "$cg2/cgroup.subtree_control")'" \
		test "$(cat "$cg2/cgroup.subtree_control")" = "$subtree_before"
	id=boot-v2-$$
	jail=$base/ember/$id/root
	"$jailer" --id "$id" "${common[@]}" --cgroup-version 2 --cgroup "$file=0" \
		-- --api-sock /api.sock </dev/null >"$tmp/out-v2" 2>"$tmp/err-v2" &
	jailer_pid=$!
	if ! wait_for "$jail/api.sock"; then
		fail v2/start "no API socket: $(head -c 300 "$tmp/err-v2")"
	else
		pass v2/start
		check v2/pid-file "pid file says $(cat "$jail/ember.pid"), the jailer was $jailer_pid" \
			test "$(cat "$jail/ember.pid")" = "$jailer_pid"
		check v2/cgroup "$(cat /proc/$jailer_pid/cgroup | tr '\n' ' ')" \
			grep -q "^0::/$parent/$id\$" "/proc/$jailer_pid/cgroup"
		check v2/cgroup-value "$file is $(cat "$cg2/$parent/$id/$file")" \
			test "$(cat "$cg2/$parent/$id/$file")" = 0
		info=$(api "$jail/api.sock" GET /)
		check v2/api "GET / said $info" grep -q "\"id\": *\"$id\"" <<<"$info"
		kill -TERM "$jailer_pid"
		wait "$jailer_pid"
		rm -rf "${base:?}/ember/$id"
		rmdir "$cg2/$parent/$id" "$cg2/$parent" 2>/dev/null
		check v2/cleaned-up "left: $(cgroup_dirs)" test -z "$(cgroup_dirs)"
	fi
fi

exit $failed
