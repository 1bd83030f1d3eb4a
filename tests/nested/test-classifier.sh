#!/usr/bin/env bash
# Checks the stall classifier (classify-stall.sh, nested_classify_stall in
# lib.sh) on the saved nested-run consoles in fixtures/, and the suites' redo
# of a stalled run (nested_runs in lib.sh) with stand-in L1 boots whose
# consoles are made of those fixtures. Needs no QEMU.
# Prints one line per case:
#   PASS: nested-classifier/<case>
#   FAIL: nested-classifier/<case> (got '<verdict>', ..., expected '<verdict>')
# Exit status: 0 only if every case passed.
set -u
here=$(cd "$(dirname "$0")" && pwd)
classify=$here/classify-stall.sh

# case | fixture (fixtures/<name>.log) | classifier options | the verdict it must
# print | for a failure, words its -v reason must contain (the right rule fired)
cases=(
	"rcu-nmi-unanswered|rcu-nmi-unanswered||stall: L2 CPU 0 stalled, no answer to the NMI from CPU 1|"
	"nmi-answered|nmi-answered||failure|L2 CPU 0 answered the NMI"
	"l2-panic|l2-panic||failure|a kernel panic"
	"ember-error|ember-error||failure|the VMM wrote: ember: ERROR:"
	"ember-error-with-stall-signature|ember-error-stall||failure|the VMM wrote: ember: ERROR:"
	"stall-then-ember-exited|stall-then-exit||failure|the VMM ended by itself"
	"workqueue-lockup|workqueue-lockup||stall: L2 workqueue lockup on CPU 1 (stuck for 60s)|"
	"l1-soft-lockup|l1-soft-lockup||stall: L1 soft lockup in ember (CPU#1 stuck for 23s)|"
	"l2-soft-lockup|l2-soft-lockup||failure|no test-bed stall signature"
	# L1's own kernel overflowed its stack in ember's vCPU thread (then panicked).
	"l1-stack-guard|l1-stack-guard||stall: L1 kernel stack overflow in page-fault handling, in ember's thread|"
	"l1-stack-guard-other-vmm|l1-stack-guard|--vmm lkvm|failure|a kernel panic"
	"wrong-output|wrong-output||failure|the guest finished its checks"
	# A check that says "<NAME> FAIL" (the MMDS checks' form) is a failure before any stall.
	"mmds-fail-then-stall|mmds-fail-stall||failure|the guest reported a failed check"
	# arm64 and riscv64 (--no-nmi): an unanswered backtrace IPI proves nothing.
	"no-nmi-rcu-unanswered|rcu-nmi-unanswered|--no-nmi|failure|no test-bed stall signature"
	"no-nmi-workqueue-lockup|riscv-workqueue-lockup|--no-nmi|stall: L2 workqueue lockup on CPU 1 (stuck for 31s)|"
	# Another VMM's soft lockup in L1 is not ember's.
	"l1-soft-lockup-other-vmm|l1-soft-lockup|--vmm lkvm|failure|no test-bed stall signature"
)

errf=$(mktemp)
trap 'rm -f "$errf"' EXIT
status=0
for c in "${cases[@]}"; do
	IFS='|' read -r name fixture opts want why <<<"$c"
	# shellcheck disable=SC2086 # (the options, as words)
	got=$("$classify" -v $opts "$here/fixtures/$fixture.log" 2>"$errf")
	rc=$?
	case $got in stall:*) want_rc=0 ;; failure) want_rc=1 ;; *) want_rc=x ;; esac
	if [ "$got" != "$want" ] || [ "$rc" != "$want_rc" ]; then
		echo "FAIL: nested-classifier/$name (got '$got', exit $rc, expected '$want')"
		status=1
	elif [ -n "$why" ] && ! grep -q -F -- "$why" "$errf"; then
		echo "FAIL: nested-classifier/$name (a failure, but for another reason: $(head -n 1 "$errf"); expected '$why')"
		status=1
	else
		echo "PASS: nested-classifier/$name"
	fi
done
# A usage error is neither verdict.
if "$classify" "$here/fixtures/no-such.log" >/dev/null 2>&1; [ $? -eq 2 ]; then
	echo "PASS: nested-classifier/usage-error"
else
	echo "FAIL: nested-classifier/usage-error (a missing console must exit 2)"
	status=1
fi

# --- nested_runs: what the suites print, with stand-in L1s ---------------------
# shellcheck source=SCRIPTDIR/lib.sh
. "$here/lib.sh"
out=$(mktemp -d)
trap 'rm -f "$errf"; rm -rf "$out"' EXIT
log=$out/run-tests.log
cur=$out/l1.log
stall_opts=
# fake_boot NAME...: an L1 console with each run as $scenario says for this boot
# ("<boot>:<run>" -> a fixture, "pass", or "-" for an L1 that ends before it).
# shellcheck disable=SC2317 # (called by nested_runs)
fake_boot() {
	local name what
	boots=$((boots + 1))
	: >"$cur"
	for name in "$@"; do
		what=${scenario[$boots:$name]:-pass}
		case $what in
		-) return 0 ;;
		pass) printf 'NESTED-BEGIN %s\nL2-MARKER-OK\n\nNESTED-RESULT %s rc=0 secs=9.0 timeout=0\n' \
			"$name" "$name" >>"$cur" ;;
		*) sed "s/^NESTED-BEGIN .*/NESTED-BEGIN $name/; s/^NESTED-RESULT [^ ]*/NESTED-RESULT $name/" \
			"$here/fixtures/$what.log" >>"$cur" ;;
		esac
	done
	echo NESTED-DONE >>"$cur"
}
# fake_judge NAME: PASS if the guest finished and its VMM exited 0.
# shellcheck disable=SC2317 # (called by nested_runs)
fake_judge() {
	nested_section "$1" "$cur" >"$out/$1.out"
	if grep -q L2-MARKER-OK "$out/$1.out" && grep -q "^NESTED-RESULT $1 rc=0 .* timeout=0" "$out/$1.out"; then
		nested_report "$1" 9.0 2 2 ""
	else
		nested_report "$1" "" 2 2 "" "no L2-MARKER-OK"
	fi
}
# check_runs CASE WANT_BOOTS WANT_OUTPUT RUN...: nested_runs with $scenario.
check_runs() {
	local name=$1 want_boots=$2 want=$3 got
	shift 3
	boots=0
	got=$(nested_runs fake_boot fake_judge "$@"; echo "rc=$? boots=$boots")
	if [ "$got" = "$(printf '%s\nrc=%s boots=%s' "$want" "${want_rc}" "$want_boots")" ]; then
		echo "PASS: nested-classifier/$name"
	else
		echo "FAIL: nested-classifier/$name (nested_runs printed: $(tr '\n' '|' <<<"$got"))"
		status=1
	fi
}
rcu_why="test-bed stall: L2 CPU 0 stalled, no answer to the NMI from CPU 1"
declare -A scenario
scenario=([1:a]=rcu-nmi-unanswered)
want_rc=0
check_runs redo-once-then-pass 2 "REDO: nested/a ($rcu_why)
PASS: nested/b (9.0s in L1, cpus=2)
PASS: nested/a (9.0s in L1, cpus=2)" a b
scenario=([1:a]=rcu-nmi-unanswered [2:a]=rcu-nmi-unanswered)
want_rc=1
check_runs stalled-twice 2 "REDO: nested/a ($rcu_why)
PASS: nested/b (9.0s in L1, cpus=2)
FAIL: nested/a (no L2-MARKER-OK; stalled twice, $rcu_why)" a b
scenario=([1:b]=nmi-answered)
check_runs real-failure-not-redone 1 "PASS: nested/a (9.0s in L1, cpus=2)
FAIL: nested/b (no L2-MARKER-OK)" a b
# L1 stuck in ember's thread until QEMU's time-out: the runs after it never began.
scenario=([1:a]=l1-soft-lockup [1:b]=-)
want_rc=0
check_runs never-started-after-stall 2 "REDO: nested/a (test-bed stall: L1 soft lockup in ember (CPU#1 stuck for 23s))
nested: b never started (its L1 ended after a stalled); it goes to the new L1 too
PASS: nested/a (9.0s in L1, cpus=2)
PASS: nested/b (9.0s in L1, cpus=2)" a b

# --- nested_watch_l1: when L1 is judged stopped ---------------------------------
# watch_case CASE WANT_RC WANT_OUTPUT LINE_CMD PROGRESS_SECS: a stand-in QEMU that runs
# LINE_CMD every 0.2 s for 5 s (appending to the console) after a NESTED-BEGIN, watched with a
# 3 s silence limit and, if PROGRESS_SECS is not 0, a progress limit that long.
watch_case() {
	local name=$1 want_rc=$2 want=$3 cmd=$4 psecs=$5 qpid got rc=0 re=
	: >"$out/console"
	# shellcheck disable=SC2016 # (the stand-in's own $n)
	bash -c 'trap "exit 0" TERM; echo "NESTED-BEGIN run-x" >>"$1"; n=0
		while [ $n -lt 25 ]; do n=$((n + 1)); eval "$2"; sleep 0.2; done' _ "$out/console" "$cmd" 2>/dev/null &
	qpid=$!
	[ "$psecs" = 0 ] || re='^NESTED-(BEGIN|STEP|RESULT) '
	got=$(nested_watch_l1 "$qpid" "$out/console" 3 "" "$re" "$psecs") || rc=$?
	kill "$qpid" 2>/dev/null || true
	wait "$qpid" 2>/dev/null || true
	if [ "$rc" = "$want_rc" ] && [ "$got" = "$want" ]; then
		echo "PASS: nested-classifier/$name"
	else
		echo "FAIL: nested-classifier/$name (rc=$rc, printed: $(tr '\n' '|' <<<"$got"))"
		status=1
	fi
}
watch_case watch-silent 1 "run-x
its console silent for 3s" ":" 0
# Kernel warnings only (say, RCU stalls while L1's user space no longer runs).
# shellcheck disable=SC2016 # (the stand-in's $n and $1)
watch_case watch-no-progress 1 "run-x
no progress line for 2s, its console still growing: rcu: INFO: stall 5" \
	'[ $n -gt 5 ] || echo "rcu: INFO: stall $n" >>"$1"; [ $n -le 5 ] || echo "rcu: INFO: stall 5" >>"$1"' 2
# Steps keep a long run going; the stand-in ends by itself (5 s): not stopped.
# shellcheck disable=SC2016 # (the stand-in's $n and $1)
watch_case watch-steps 0 "" 'echo "NESTED-STEP run-x $n" >>"$1"' 2

# --- nested_stuck: an ember that SIGKILL did not end ----------------------------
printf 'NESTED-BEGIN s\nNESTED-STUCK s pid=42 D (disk sleep) wchan=0\nNESTED-STUCK s thread 42 ember: D\n' >"$out/s.out"
got=$(nested_stuck s "$out/s.out")
if [ "$got" = "ember did not end on SIGKILL: pid=42 D (disk sleep) wchan=0 (its threads' stacks in $out/s.out)" ] &&
	[ -z "$(nested_stuck s "$out/console")" ]; then
	echo "PASS: nested-classifier/stuck-ember"
else
	echo "FAIL: nested-classifier/stuck-ember (printed: $got)"
	status=1
fi
exit $status
