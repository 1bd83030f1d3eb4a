#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
#
# run.sh EMBER EMBER_SWITCH [GUEST_DIR] - ember-switch and ember's switch backend on
# /dev/kvm, with no root or TAP in use:
#   two net_switch guests on switch A exchange unicast and broadcast frames while a
#   hostile port floods A with garbage and never reads; a third guest on switch B sees
#   none of it; what the guests count matches A's and B's control sockets; a switch that
#   goes away leaves its guest running; a port that stops reading loses frames (counted)
#   and holds up no other; and ember-switch's command line and sockets.
# Prints one "PASS: switch/<name>" or "FAIL: switch/<name> (<reason>)" line per test;
# exits 0 only if all passed. Logs: $GUEST_DIR/logs/switch-*.
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 EMBER EMBER_SWITCH [GUEST_DIR]" >&2
	exit 2
fi
EMBER=$(realpath "$1")
SWITCH=$(realpath "$2")
GUEST_DIR=${3:-$(cd "$(dirname "$0")/../.." && pwd)/build/guest}
HERE=$(cd "$(dirname "$0")" && pwd)
TIMEOUT=${TIMEOUT:-90}
ELF=$GUEST_DIR/net_switch.elf
# Frames each guest sends its peer: unicast, then broadcasts. Their sum stays well under
# what the switch's socket to a port buffers (~290 small frames at the default wmem) plus
# its queue, so a guest that is not scheduled for a while still loses none.
N=120
B=120
export LC_ALL=C

failed=0
pass() { echo "PASS: switch/$1"; }
fail() {
	echo "FAIL: switch/$1 ($2)"
	failed=1
}

if ! why=$("$(dirname "$0")/../../tools/kvm-usable.sh"); then
	fail kvm "$why"
	exit 1
fi
if [ ! -f "$ELF" ]; then
	fail guests "missing $ELF (make guests)"
	exit 1
fi
# Short paths: a Unix socket's path has room for 107 bytes.
WORK=$(mktemp -d /tmp/ember-switch-XXXXXX)
LOGS=$GUEST_DIR/logs
mkdir -p "$LOGS"
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill -KILL "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$WORK"
}
trap cleanup EXIT

# start_switch NAME [ARGS...]: ember-switch on $WORK/NAME.sock and NAME.ctl; sets $sw_pid.
start_switch() {
	local name=$1
	shift
	"$SWITCH" --socket "$WORK/$name.sock" --control "$WORK/$name.ctl" --name "$name" "$@" \
		2>"$LOGS/switch-$name.err" &
	sw_pid=$!
	pids+=("$sw_pid")
	for _ in $(seq 100); do [ -S "$WORK/$name.ctl" ] && return 0; sleep 0.05; done
	return 1
}

# status NAME: the switch's control socket's JSON on stdout.
status() {
	python3 - "$WORK/$1.ctl" <<'EOF'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
data = b""
while True:
    d = s.recv(65536)
    if not d:
        break
    data += d
sys.stdout.write(data.decode())
EOF
}

# start_guest NAME SWITCH MAC PEER [EXTRA_ARGS]: ember with net_switch.elf, stdin a FIFO
# (fd in $NAME_fd via eval); sets $guest_pid (timeout's) and writes the logs.
declare -A guest_fd guest_pid ember_pid
next_fd=10
start_guest() {
	local name=$1 sw=$2 mac=$3 peer=$4 extra=${5:-} fd=$next_fd
	next_fd=$((next_fd + 1))
	mkfifo "$WORK/$name.in"
	eval "exec $fd<>\"$WORK/$name.in\""
	guest_fd[$name]=$fd
	timeout -k 5 "$TIMEOUT" "$EMBER" --kernel "$ELF" --memory 64 --level info \
		--net "switch=$WORK/$sw.sock,mac=$mac" \
		--boot-args "console=ttyS0 sw.peer=$peer $extra" \
		<&"$fd" >"$LOGS/switch-$name.out" 2>"$LOGS/switch-$name.err" &
	guest_pid[$name]=$!
	pids+=("$!")
}

# say NAME CHAR: type CHAR on the guest's console.
say() {
	printf '%s' "$2" >&"${guest_fd[$1]}"
}

# await NAME REGEX [TRIES]: wait (0.1 s a try, 300 by default) for a console line.
await() {
	local i
	for i in $(seq "${3:-300}"); do
		grep -aEq -- "$2" "$LOGS/switch-$1.out" && return 0
		kill -0 "${guest_pid[$1]}" 2>/dev/null || break
		sleep 0.1
	done
	grep -aEq -- "$2" "$LOGS/switch-$1.out"
}

# value NAME KEY: the number after KEY= on the guest's console.
value() {
	grep -aoE "(^| )$2=[0-9]+" "$LOGS/switch-$1.out" | tail -1 | sed 's/.*=//'
}

# The ember process under timeout, whose pid the switch sees.
find_ember() {
	local i p
	for i in $(seq 50); do
		p=$(pgrep -P "${guest_pid[$1]}" | head -1)
		[ -n "$p" ] && { ember_pid[$1]=$p; return 0; }
		sleep 0.05
	done
	return 1
}

# finish NAME: 'q', then ember's exit status.
finish() {
	say "$1" q
	wait "${guest_pid[$1]}"
}

test_exchange() {
	local a b rc1 rc2 rc3 why='' f_out=$WORK/flood.out confined
	if ! start_switch A || ! start_switch B; then
		fail exchange "ember-switch did not start: $(cat "$LOGS"/switch-[AB].err)"
		return
	fi
	: >"$f_out"
	python3 "$HERE/flood.py" "$WORK/A.sock" "$WORK/go" "$WORK/stop" >"$f_out" 2>&1 &
	pids+=("$!")
	start_guest g1 A 02:00:00:00:00:01 02:00:00:00:00:02 "sw.n=$N sw.b=$B"
	start_guest g2 A 02:00:00:00:00:02 02:00:00:00:00:01 "sw.n=$N sw.b=$B"
	# g3 sends to g1's address from switch B: nothing may cross.
	start_guest g3 B 02:00:00:00:00:03 02:00:00:00:00:01 "sw.n=$N sw.b=$B sw.expect=0"
	for g in g1 g2 g3; do
		await $g '^SWITCH-READY$' || why=${why:-"$g never got ready"}
		find_ember $g || why=${why:-"no ember process for $g"}
	done
	for _ in $(seq 100); do grep -q FLOOD-READY "$f_out" && break; sleep 0.05; done
	if [ -n "$why" ]; then
		fail exchange "$why"
		return
	fi
	# The frames below go through filtered threads (unless this ember has no filters).
	confined=$(grep -h '^Seccomp:' /proc/"${ember_pid[g1]}"/task/*/status | sort -u | tr -d '\t')
	# All at once: the flood runs while the guests exchange their frames.
	touch "$WORK/go"
	say g1 g
	say g2 g
	say g3 g
	for g in g1 g2 g3; do
		await $g '^RX-(COMPLETE|INCOMPLETE)' 600 || why=${why:-"$g never finished receiving"}
	done
	touch "$WORK/stop"
	for _ in $(seq 600); do grep -q FLOOD-SENT "$f_out" && break; sleep 0.1; done
	grep -q FLOOD-SENT "$f_out" || why=${why:-"the flooder never finished: $(tail -1 "$f_out")"}
	# The counters, while every port is still there.
	status A >"$WORK/A.json"
	status B >"$WORK/B.json"
	cp "$WORK/A.json" "$WORK/B.json" "$LOGS/" 2>/dev/null
	for g in g1 g2 g3; do say $g r; done
	for g in g1 g2 g3; do await $g '^RX-UNICAST=' || why=${why:-"$g never reported"}; done
	finish g1; rc1=$?
	finish g2; rc2=$?
	finish g3; rc3=$?

	# exchange: each of g1 and g2 got all of its peer's frames, and nothing else.
	a=$why
	for g in g1 g2; do
		[ "$(value $g RX-UNICAST)" = "$N" ] && [ "$(value $g RX-BROADCAST)" = "$B" ] &&
			[ "$(value $g RX-OTHER)" = 0 ] ||
			a=${a:-"$g: $(grep -a '^RX-' "$LOGS/switch-$g.out" | tr '\n' ' ')(the switch's \
counters: $(grep -o '"pid":'"${ember_pid[$g]}"',[^]]*' "$WORK/A.json"))"}
		grep -aqx 'NET-OFFLOADS=none' "$LOGS/switch-$g.out" ||
			a=${a:-"$g: the device offered offloads on a switch port"}
	done
	[ "$rc1" -eq 0 ] && [ "$rc2" -eq 0 ] || a=${a:-"ember exit status $rc1, $rc2"}
	[ -z "$a" ] && pass exchange || fail exchange "$a"

	# isolation: g3, alone on B, received nothing; its frames went nowhere.
	b=
	[ "$(value g3 RX-FRAMES)" = 0 ] || b="g3 received $(value g3 RX-FRAMES) frames"
	[ "$rc3" -eq 0 ] || b=${b:-"ember exit status $rc3"}
	[ -z "$b" ] && pass isolation || fail isolation "$b"

	# garbage-flood and counters: what the control sockets show, against the guests'.
	b=$(python3 - "$WORK/A.json" "$WORK/B.json" "${ember_pid[g1]}" "${ember_pid[g2]}" \
		"${ember_pid[g3]}" "$LOGS/switch-g1.out" "$LOGS/switch-g2.out" \
		"$LOGS/switch-g3.out" "$f_out" "$B" <<'EOF'
import json, re, sys
a = json.load(open(sys.argv[1]))
b = json.load(open(sys.argv[2]))
pids = [int(p) for p in sys.argv[3:6]]
outs = [open(f, errors="replace").read() for f in sys.argv[6:9]]
flood_sent = int(re.search(r"FLOOD-SENT=(\d+)", open(sys.argv[9]).read()).group(1))
bcasts = int(sys.argv[10])
queue_len = 16  # PORT_QUEUE_LEN: frames a port holds for a peer that is not reading
macs = ["02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"]

def num(out, key):
    return int(re.findall(r"(?:^| )%s=(\d+)" % key, out, re.M)[-1])

problems = []
def check(what, got, want):
    if got != want:
        problems.append("%s: %s, want %s" % (what, got, want))

by_pid = lambda doc, pid: [p for p in doc["ports"] if p["pid"] == pid]
check("A's name", a["name"], "A")
check("A's ports", len(a["ports"]), 3)
check("A's learned addresses", a["macs"], 2)
for i in (0, 1):
    ports = by_pid(a, pids[i])
    check("ports of g%d on A" % (i + 1), len(ports), 1)
    if not ports:
        continue
    p, out = ports[0], outs[i]
    check("g%d rx_frames" % (i + 1), p["rx_frames"], num(out, "TX-FRAMES"))
    check("g%d rx_bytes" % (i + 1), p["rx_bytes"], num(out, "TX-BYTES"))
    check("g%d tx_frames" % (i + 1), p["tx_frames"], num(out, "RX-FRAMES"))
    check("g%d tx_bytes" % (i + 1), p["tx_bytes"], num(out, "RX-BYTES"))
    check("g%d tx_dropped" % (i + 1), p["tx_dropped"], 0)
    check("g%d rx_garbage" % (i + 1), p["rx_garbage"], 0)
    check("g%d macs" % (i + 1), p["macs"], [macs[i]])
flood = [p for p in a["ports"] if p["pid"] not in pids]
check("flooder ports", len(flood), 1)
if flood:
    f = flood[0]
    check("flooder rx_garbage", f["rx_garbage"], flood_sent)
    check("flooder rx_frames", f["rx_frames"], 0)
    check("flooder macs", f["macs"], [])
    # Every broadcast reached it, or was dropped there, or still waits in its queue.
    if f["tx_frames"] + f["tx_dropped"] + queue_len < 2 * bcasts:
        problems.append("flooder: %d sent + %d dropped, want at least the %d broadcasts"
                        " less a queue of %d" % (f["tx_frames"], f["tx_dropped"],
                                                 2 * bcasts, queue_len))
check("B's ports", len(b["ports"]), 1)
if b["ports"]:
    p = b["ports"][0]
    check("g3's pid", p["pid"], pids[2])
    check("g3 rx_frames", p["rx_frames"], num(outs[2], "TX-FRAMES"))
    check("g3 tx_frames", p["tx_frames"], 0)
    check("g3 macs", p["macs"], [macs[2]])
print("; ".join(problems[:4]))
EOF
) || b=${b:-"the counters could not be checked (see the log)"}
	[ -n "$b" ] && ! grep -q '^{' "$WORK/A.json" && b="no JSON from A: $(head -c 200 "$WORK/A.json")"
	if [ -z "$b" ] && [ -z "$a" ]; then
		pass garbage-flood
		pass counters
	elif [ -n "$a" ]; then
		fail garbage-flood "the guests' exchange suffered: $a"
		[ -z "$b" ] && pass counters || fail counters "$b"
	else
		fail garbage-flood "$b"
		fail counters "$b"
	fi
	if grep -aq 'bad syscall' "$LOGS"/switch-g[123].err; then
		fail seccomp "a guest's ember hit its seccomp filter"
	elif [ "$confined" != Seccomp:2 ] && ! grep -q 'seccomp filters off' "$LOGS/switch-g1.err"; then
		fail seccomp "ember's threads are not all filtered: $confined"
	else
		pass seccomp
	fi
}

# The switch exits while its guest waits: ember logs it once, counts what the guest then
# sends as dropped, and the guest runs to the end.
test_switch_gone() {
	local rc why= err=$LOGS/switch-g4.err
	if ! start_switch C; then
		fail switch-gone "ember-switch did not start"
		return
	fi
	start_guest g4 C 02:00:00:00:00:04 02:00:00:00:00:05 "sw.n=50 sw.b=0 sw.expect=0"
	await g4 '^SWITCH-READY$' || why="the guest never got ready"
	kill -TERM "$sw_pid"
	wait "$sw_pid" || why=${why:-"ember-switch exit status $? on SIGTERM"}
	for _ in $(seq 50); do grep -q 'the switch closed the connection' "$err" && break; sleep 0.1; done
	say g4 g
	await g4 '^RX-(COMPLETE|INCOMPLETE)' || why=${why:-"the guest stopped sending"}
	say g4 r
	await g4 '^RX-UNICAST=' || why=${why:-"the guest never reported"}
	finish g4
	rc=$?
	[ "$rc" -eq 0 ] || why=${why:-"ember exit status $rc"}
	[ "$(grep -c 'the switch closed the connection' "$err")" -eq 1 ] ||
		why=${why:-"ember did not log the switch's end exactly once"}
	grep -q "tx 0 frames 0 bytes 50 dropped" "$err" ||
		why=${why:-"the 50 frames sent after were not counted as dropped"}
	[ ! -e "$WORK/C.sock" ] && [ ! -e "$WORK/C.ctl" ] ||
		why=${why:-"ember-switch left its sockets behind"}
	[ -z "$why" ] && pass switch-gone || fail switch-gone "$why"
}

# ember-switch's command line and sockets, with Python ports.
test_cli() {
	local why= rc
	"$SWITCH" --socket "$WORK/x.sock" 2>/dev/null
	rc=$?
	[ $rc -eq 2 ] || why="no --control: exit status $rc, want 2"
	"$SWITCH" --socket "$WORK/x.sock" --control "$WORK/x.ctl" --ports 0 2>/dev/null
	rc=$?
	[ $rc -eq 2 ] || why=${why:-"--ports 0: exit status $rc, want 2"}
	"$SWITCH" --help | grep -q -- '--socket PATH' || why=${why:-"--help says nothing"}
	: >"$WORK/plain"
	"$SWITCH" --socket "$WORK/plain" --control "$WORK/x.ctl" 2>"$WORK/plain.err"
	rc=$?
	[ $rc -eq 1 ] && grep -q 'not a socket' "$WORK/plain.err" ||
		why=${why:-"a plain file in the way: exit status $rc"}
	# A socket file a dead switch left is replaced; a live switch's is not.
	python3 -c 'import socket,sys; socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET).bind(sys.argv[1])' \
		"$WORK/D.sock"
	start_switch D --ports 2 || why=${why:-"a stale socket file stopped the switch"}
	"$SWITCH" --socket "$WORK/D.sock" --control "$WORK/D2.ctl" 2>"$WORK/d2.err"
	rc=$?
	[ $rc -eq 1 ] && grep -q 'in use' "$WORK/d2.err" ||
		why=${why:-"a second switch on a live socket: exit status $rc"}
	python3 "$HERE/ports.py" limits "$WORK/D.sock" "$WORK/D.ctl" >"$LOGS/switch-ports.out" 2>&1 ||
		why=${why:-"ports: $(tail -1 "$LOGS/switch-ports.out")"}
	kill -TERM "$sw_pid"
	wait "$sw_pid"
	rc=$?
	[ $rc -eq 0 ] || why=${why:-"SIGTERM: exit status $rc"}
	[ ! -e "$WORK/D.sock" ] && [ ! -e "$WORK/D.ctl" ] || why=${why:-"sockets left behind"}
	[ -z "$why" ] && pass cli || fail cli "$why"
}

# A port that stops reading: its frames are dropped and counted, the others' are not.
test_slow_port() {
	local why=
	if ! start_switch E; then
		fail slow-port "ember-switch did not start"
		return
	fi
	python3 "$HERE/ports.py" slow "$WORK/E.sock" "$WORK/E.ctl" >"$LOGS/switch-slow.out" 2>&1 ||
		why="$(tail -1 "$LOGS/switch-slow.out")"
	kill -TERM "$sw_pid"
	wait "$sw_pid" || why=${why:-"SIGTERM: exit status $?"}
	[ -z "$why" ] && pass slow-port || fail slow-port "$why"
}

# ember's side of the command line and the config file.
test_ember_config() {
	local why= rc
	"$EMBER" --kernel "$ELF" --net "switch=" 2>"$WORK/e1.err"
	rc=$?
	[ $rc -eq 2 ] || why="--net switch= (no path): exit status $rc, want 2"
	"$EMBER" --kernel "$ELF" --net "switch=$WORK/none.sock" 2>"$WORK/e2.err"
	rc=$?
	[ $rc -ne 0 ] && grep -q 'cannot connect to the switch' "$WORK/e2.err" ||
		why=${why:-"no switch: exit status $rc, $(tail -1 "$WORK/e2.err")"}
	cat >"$WORK/both.json" <<EOF
{"boot-source": {"kernel_image_path": "$ELF"},
 "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
 "network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                         "switch_socket": "$WORK/A.sock"}]}
EOF
	"$EMBER" --config-file "$WORK/both.json" 2>"$WORK/e3.err"
	rc=$?
	[ $rc -ne 0 ] && grep -q 'exactly one of host_dev_name and switch_socket' "$WORK/e3.err" ||
		why=${why:-"both backends: exit status $rc, $(tail -1 "$WORK/e3.err")"}
	[ -z "$why" ] && pass ember-config || fail ember-config "$why"
}

test_exchange
test_switch_gone
test_cli
test_slow_port
test_ember_config
exit $failed
