#!/usr/bin/env bash
# `make check`: builds everything, runs every tier, prints one PASS/FAIL line per test
# and ends with "N passed, N failed". Exit status 0 only if nothing failed.
#   tiers: build, lint, unit (plain and ASan/UBSan), every libFuzzer target (tests/fuzz,
#   docs/reliability.md) replaying its regression inputs then 10 s of fuzzing, command
#   line, tiny guests on /dev/kvm (plain and ASan/UBSan: hostile guests must not trip the
#   sanitizers), ember-switch between guests, the API, seccomp, the jailer, nested real
#   Linux on x86_64, arm64 (GICv2 and GICv3 L1s) and riscv64, tiny guests in a TCG L1
#   (the hostile-register guest, start/stop churn under ASan, an API soak), and (without
#   QEMU) the nested tier's test-bed stall classifier.
# Set EMBER_SKIP_NESTED=1 to leave out the nested tier (it needs ~5 minutes of QEMU TCG).
# The tiers on /dev/kvm are skipped, each with a SKIP line, on a host without a usable KVM
# (tools/kvm-usable.sh); the nested tier brings its own KVM (inside QEMU) and still runs.
set -u
cd "$(dirname "$0")/.."
mkdir -p build
results=build/check-results.txt
: >"$results"

# Run one step; its PASS/FAIL lines are kept, the rest goes to build/check-<name>.log.
# REDO lines (a nested run done again after a test-bed stall) and the nested tiers' notes
# (an L1 retried, or stopped and booted again) are shown, not counted.
step() {
	local name=$1 t0=$SECONDS
	shift
	echo "== $name: $*"
	"$@" >"build/check-$name.log" 2>&1
	local rc=$?
	echo "   ($name took $((SECONDS - t0)) s)"
	grep -E '^REDO: |^nested: ' "build/check-$name.log" | grep -v '^nested: full log in '
	grep -E '^(PASS|FAIL): ' "build/check-$name.log" | tee -a "$results"
	if [ $rc -ne 0 ] && ! grep -q '^FAIL: ' "build/check-$name.log"; then
		echo "FAIL: $name (exit status $rc, see build/check-$name.log)" | tee -a "$results"
		tail -20 "build/check-$name.log"
	fi
	return $rc
}

build_all() {
	make -j2 all && echo "PASS: build/ember" || { echo "FAIL: build/ember"; return 1; }
	make -j2 STATIC=1 all && echo "PASS: build/ember-static" ||
		{ echo "FAIL: build/ember-static"; return 1; }
	make -j2 guests && echo "PASS: build/tiny-guests" || { echo "FAIL: build/tiny-guests"; return 1; }
	make -j2 ARCH=aarch64 all && echo "PASS: build/ember-aarch64" ||
		{ echo "FAIL: build/ember-aarch64"; return 1; }
	make -j2 ARCH=riscv64 all && echo "PASS: build/ember-riscv64" ||
		{ echo "FAIL: build/ember-riscv64"; return 1; }
}

asan_unit() {
	make -j2 ASAN=1 all || return 1
	make -s ASAN=1 unit | sed 's/^\(PASS\|FAIL\): unit/\1: asan-unit/'
	return "${PIPESTATUS[0]}"
}

# The tiers that run guests on this host's /dev/kvm. On a host without a usable KVM (a
# machine whose kernel is itself a guest, say) each is one SKIP line with the reason,
# counted apart: not a pass, and not a failure of ember's. Where /dev/kvm works, they run.
kvm_why=$(tools/kvm-usable.sh)
kvm_step() {
	local name=$1
	if [ -z "$kvm_why" ]; then
		step "$@"
		return
	fi
	echo "== $name: skipped"
	echo "SKIP: $name (this tier needs a usable /dev/kvm: $kvm_why)" | tee -a "$results"
}

start=$(date +%s)
step build build_all
step lint tools/check-arch-ifdefs.sh
step lint-layers tools/check-layers.sh
step lint-seccomp-table tools/seccomp-table.py build/ember --check README.md
# The nested tier's stall classifier and redo logic, on saved consoles: no QEMU needed.
step nested-classifier tests/nested/test-classifier.sh
step unit make -s unit
# ember-rebase-snap on sparse files (the Uffd backend's tests are unit tests: test_uffd).
step snapshot-tools tests/snapshot/rebase.sh build/ember-rebase-snap
step asan asan_unit
# Every libFuzzer target for 10 s, after replaying its regression inputs; two at a time
# (one per core), the lines in target order.
fuzz_short() {
	local t
	make -j2 fuzz-build || return 1
	mkdir -p build/fuzz/short
	make -s --no-print-directory print-fuzz-targets | tr ' ' '\n' | grep . |
		xargs -P 2 -I{} sh -c 'tools/fuzz-run.sh "$1" 10 >build/fuzz/short/"$1" 2>&1' _ {}
	for t in $(make -s --no-print-directory print-fuzz-targets); do
		cat "build/fuzz/short/$t"
	done
	! grep -q '^FAIL' build/fuzz/short/*
}
step fuzz fuzz_short
kvm_step cli tests/integration/cli.sh build/ember build/guest
kvm_step guest tests/guest/run.sh build/ember
asan_guests() {
	GUEST_DIR=build/guest tests/guest/run.sh build/ember-asan | sed 's/^\(PASS\|FAIL\): guest/\1: asan-guest/'
	local rc=${PIPESTATUS[0]}
	if grep -l 'AddressSanitizer\|runtime error' build/guest/logs/*.err; then
		echo "FAIL: asan-guest/sanitizer-clean"
		return 1
	fi
	echo "PASS: asan-guest/sanitizer-clean"
	return "$rc"
}
kvm_step asan-guest asan_guests
# ember-switch between tiny guests (no root or TAP), its control socket and command line.
kvm_step switch tests/switch/run.sh build/ember build/ember-switch build/guest
kvm_step seccomp tests/seccomp/run.sh build/ember build/guest
kvm_step api tests/api/run.sh build/ember
# emberctl: a fleet of VMs (20 at once, churn, races, a stale state directory), and the
# same but the churn with emberctl under ASan+UBSan (ember as usual).
kvm_step fleet tests/fleet/run.sh build/emberctl
asan_fleet() {
	tests/fleet/run.sh build/emberctl-asan -k "not churn" |
		sed 's/^\(PASS\|FAIL\|SKIP\): fleet/\1: asan-fleet/'
	return "${PIPESTATUS[0]}"
}
kvm_step asan-fleet asan_fleet
# ember started through ember-jailer (as root; the jail needs the static build, which the
# test takes as build/ember-static).
kvm_step jailer tests/jailer/run.sh build/ember-jailer build/ember build/guest
# The API under ASan+UBSan too: every request path through a sanitized server.
asan_api() {
	local rc
	rm -rf build/api-asan
	tests/api/run.sh build/ember-asan -k "not abuse" --basetemp=build/api-asan |
		sed 's/^\(PASS\|FAIL\|SKIP\): api/\1: asan-api/'
	rc=${PIPESTATUS[0]}
	if grep -rl 'AddressSanitizer\|LeakSanitizer\|runtime error' build/api-asan --include='*.err'; then
		echo "FAIL: asan-api/sanitizer-clean"
		return 1
	fi
	echo "PASS: asan-api/sanitizer-clean"
	return "$rc"
}
kvm_step asan-api asan_api
if [ "${EMBER_SKIP_NESTED:-0}" = 1 ]; then
	echo "== nested: skipped (EMBER_SKIP_NESTED=1)"
else
	step nested tests/nested/x86_64/run-tests.sh build/ember-static
	# Tiny guests in a TCG L1: the hostile-register guest, and start/stop churn under ASan.
	step nested-tiny tests/nested/x86_64/run-tiny.sh build/ember-static build/ember-asan build/guest
	step nested-aarch64 tests/nested/aarch64/run-tests.sh build/ember-aarch64
	step nested-riscv64 tests/nested/riscv64/run-tests.sh build/ember-riscv64
fi

passed=$(grep -c '^PASS: ' "$results")
failed=$(grep -c '^FAIL: ' "$results")
skipped=$(grep -c '^SKIP: ' "$results")
echo "== done in $(($(date +%s) - start)) s; failures, if any:"
grep '^FAIL: ' "$results"
if [ "$skipped" -gt 0 ]; then
	echo "== skipped (not run here, so not passed):"
	grep '^SKIP: ' "$results"
fi
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
