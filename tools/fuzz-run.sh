#!/usr/bin/env bash
# tools/fuzz-run.sh TARGET SECONDS [CORPUS_DIR [RUNS]]
# One libFuzzer target (build/fuzz/fuzz_TARGET, from `make fuzz-build`): first every input
# in tests/fuzz/regress/TARGET/ (each once crashed it and must not any more), then up to
# SECONDS of fuzzing (0: no time limit) from tests/fuzz/corpus/TARGET/ with the target's
# dictionary, if any. With CORPUS_DIR, libFuzzer keeps what it finds there
# (tools/fuzz-campaign.sh); without it, nothing is written outside build/. RUNS caps the
# inputs. Prints one PASS or FAIL line; the fuzzer's output goes to build/fuzz/TARGET.log
# and a crashing input to build/fuzz/crash-TARGET-* (FUZZ_DIR for build/fuzz, as in make).
set -u
cd "$(dirname "$0")/.."
t=$1
secs=$2
corpus=${3:-}
runs=${4:--1}
fdir=${FUZZ_DIR:-build/fuzz}
bin=$fdir/fuzz_$t
log=$fdir/$t.log
if [ ! -x "$bin" ]; then
	echo "FAIL: fuzz/$t (no $bin: run make fuzz-build)"
	exit 1
fi
opts=(-close_fd_mask=2 -max_len=65536 -timeout=10)
[ -f "tests/fuzz/fuzz_$t.dict" ] && opts+=("-dict=tests/fuzz/fuzz_$t.dict")

# Regression inputs: run once each (libFuzzer runs the files it is given and exits).
nreg=0
if [ -d "tests/fuzz/regress/$t" ]; then
	nreg=$(find "tests/fuzz/regress/$t" -type f | wc -l)
fi
if [ "$nreg" -gt 0 ]; then
	if ! "$bin" "${opts[@]}" tests/fuzz/regress/"$t"/* >"$log" 2>&1; then
		echo "FAIL: fuzz/$t (a regression input crashes it again, see $log)"
		exit 1
	fi
fi

seeds=()
if [ -d "tests/fuzz/corpus/$t" ] && [ -n "$(ls -A "tests/fuzz/corpus/$t")" ]; then
	if [ -n "$corpus" ]; then
		seeds=("tests/fuzz/corpus/$t")
	else
		seeds=("-seed_inputs=$(find "tests/fuzz/corpus/$t" -type f | sort | paste -sd,)")
	fi
fi
# libFuzzer writes what it finds into the first directory it is given.
dirs=()
[ -n "$corpus" ] && mkdir -p "$corpus" && dirs=("$corpus")
if ! "$bin" "${opts[@]}" -max_total_time="$secs" -runs="$runs" -print_final_stats=1 \
	-artifact_prefix="$fdir/crash-$t-" "${dirs[@]}" "${seeds[@]}" >>"$log" 2>&1; then
	echo "FAIL: fuzz/$t (see $log; the input is $fdir/crash-$t-*)"
	exit 1
fi
execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
echo "PASS: fuzz/$t (${execs:-?} inputs in ${secs} s, coverage ${cov:-?} edges, $nreg regression inputs)"
