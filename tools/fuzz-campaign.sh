#!/usr/bin/env bash
# tools/fuzz-campaign.sh [EXECS [TARGET...]]
# The long fuzzing campaign: every libFuzzer target (or the ones named) until it has run
# EXECS inputs in all (default 10 million), JOBS targets at a time (default: one per CPU).
# A campaign can be done in slices: SLICE=SECONDS caps each target's run this time, and
# the next call goes on from the corpus and the count kept in build/fuzz-campaign/
# (corpus/TARGET/, seeded from tests/fuzz/corpus/TARGET/; TARGET.total). Crashing inputs
# go to build/fuzz-campaign/crashes/TARGET/ and end that target's run: fix the bug, copy
# the input to tests/fuzz/regress/TARGET/ (make check replays it) and call again.
# Prints a table (target, executions in all and in this call, coverage, corpus size and
# new entries, crashes, seconds) and writes it as JSON to build/fuzz-campaign/results.json.
# Exit status 1 if anything crashed. To stop a call early and keep the counts, send SIGINT
# to the fuzzers after stopping xargs (libFuzzer prints its count on SIGINT).
set -u
cd "$(dirname "$0")/.."
execs=${1:-10000000}
shift || true
jobs=${JOBS:-$(nproc)}
slice=${SLICE:-0}
out=build/fuzz-campaign
mkdir -p "$out"
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -ra targets <<<"$(make -s --no-print-directory print-fuzz-targets)"
make -s -j"$jobs" "${targets[@]/#/build/fuzz/fuzz_}" >"$out/build.log" 2>&1 ||
	{ tail -20 "$out/build.log"; exit 1; }

# One target: writes $out/TARGET.result as "total this cov corpus new crashes seconds".
one() {
	local t=$1 execs=$2 out=$3 slice=$4
	local corpus=$out/corpus/$t crashes=$out/crashes/$t log=$out/$t.log
	local total=0 left before after start rc n=0 cov ncrash
	mkdir -p "$corpus" "$crashes"
	[ -f "$out/$t.total" ] && total=$(cat "$out/$t.total")
	left=$((execs - total))
	before=$(find "$corpus" -type f | wc -l)
	start=$(date +%s)
	rc=0
	if [ "$left" -gt 0 ]; then
		local opts=(-close_fd_mask=3 -max_len=65536 -timeout=10 -rss_limit_mb=4096
			-print_final_stats=1 -runs="$left" -max_total_time="$slice"
			-artifact_prefix="$crashes/")
		[ -f "tests/fuzz/fuzz_$t.dict" ] && opts+=("-dict=tests/fuzz/fuzz_$t.dict")
		local seeds=()
		[ -d "tests/fuzz/corpus/$t" ] && seeds=("tests/fuzz/corpus/$t")
		build/fuzz/fuzz_"$t" "${opts[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
		rc=$?
		n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		n=${n:-0}
		total=$((total + n))
		echo "$total" >"$out/$t.total"
	fi
	after=$(find "$corpus" -type f | wc -l)
	cov=$(grep -o 'cov: [0-9]*' "$log" 2>/dev/null | tail -1 | cut -d' ' -f2)
	ncrash=$(find "$crashes" -type f | wc -l)
	# 72: libFuzzer's exit on SIGINT, a call stopped early (its count is kept), not a crash.
	[ $rc -ne 0 ] && [ $rc -ne 72 ] && [ "$ncrash" -eq 0 ] && ncrash="exit-$rc"
	echo "$total $n ${cov:-0} $after $((after - before)) $ncrash $(($(date +%s) - start))" >"$out/$t.result"
}
export -f one
for t in "${targets[@]}"; do rm -f "$out/$t.result"; done
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'one "$@"' _ {} "$execs" "$out" "$slice"

failed=0
printf '%-16s %12s %11s %9s %8s %6s %8s %8s\n' target executions this-call coverage corpus new crashes seconds
echo '[' >"$out/results.json"
sep=
for t in "${targets[@]}"; do
	# A target whose run this call never started (the call was stopped first) has no result.
	[ -f "$out/$t.result" ] || { printf '%-16s %12s\n' "$t" "not run"; continue; }
	read -r total n cov corpus new crash secs <"$out/$t.result"
	printf '%-16s %12s %11s %9s %8s %6s %8s %8s\n' "$t" "$total" "$n" "$cov" "$corpus" "$new" "$crash" "$secs"
	printf '%s{"target":"%s","executions":%s,"this_call":%s,"coverage":%s,"corpus":%s,"new_corpus":%s,"crashes":"%s","seconds":%s}\n' \
		"$sep" "$t" "$total" "$n" "$cov" "$corpus" "$new" "$crash" "$secs" >>"$out/results.json"
	sep=,
	[ "$crash" = 0 ] || failed=1
done
echo ']' >>"$out/results.json"
exit $failed
