#!/usr/bin/env bash
# tools/fuzz-campaign.sh [EXECS [TARGET...]]
# The long fuzzing campaign: every libFuzzer target (or the ones named) for EXECS inputs
# each (default 10 million), JOBS of them at a time (default: one per CPU). Each keeps its
# corpus in build/fuzz-campaign/corpus/TARGET/ across campaigns (seeded from
# tests/fuzz/corpus/TARGET/) and its crashing inputs in build/fuzz-campaign/crashes/TARGET/.
# A crash ends that target's run: fix it, copy the input to tests/fuzz/regress/TARGET/
# (make check replays it) and run the target again.
# Prints a table (target, executions, coverage, new corpus entries, crashes, seconds) and
# writes it as JSON to build/fuzz-campaign/results.json. Exit status 1 if anything crashed.
set -u
cd "$(dirname "$0")/.."
execs=${1:-10000000}
shift || true
jobs=${JOBS:-$(nproc)}
out=build/fuzz-campaign
mkdir -p "$out"
make -s -j"$jobs" fuzz-build >"$out/build.log" 2>&1 || { tail -20 "$out/build.log"; exit 1; }
targets=("$@")
[ ${#targets[@]} -gt 0 ] || read -ra targets <<<"$(make -s --no-print-directory print-fuzz-targets)"

# One target: writes $out/TARGET.result as "execs cov new crashes seconds".
one() {
	local t=$1 execs=$2 out=$3
	local corpus=$out/corpus/$t crashes=$out/crashes/$t log=$out/$t.log
	local opts=(-close_fd_mask=3 -max_len=65536 -timeout=10 -rss_limit_mb=4096
		-print_final_stats=1 -runs="$execs" -artifact_prefix="$crashes/")
	local before after start rc n cov ncrash
	mkdir -p "$corpus" "$crashes"
	[ -f "tests/fuzz/fuzz_$t.dict" ] && opts+=("-dict=tests/fuzz/fuzz_$t.dict")
	local seeds=()
	[ -d "tests/fuzz/corpus/$t" ] && seeds=("tests/fuzz/corpus/$t")
	before=$(find "$corpus" -type f | wc -l)
	start=$(date +%s)
	build/fuzz/fuzz_"$t" "${opts[@]}" "$corpus" "${seeds[@]}" >"$log" 2>&1
	rc=$?
	after=$(find "$corpus" -type f | wc -l)
	n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | cut -d' ' -f2)
	ncrash=$(find "$crashes" -type f | wc -l)
	[ $rc -ne 0 ] && [ "$ncrash" -eq 0 ] && ncrash="exit-$rc"
	echo "${n:-0} ${cov:-0} $((after - before)) $ncrash $(($(date +%s) - start))" >"$out/$t.result"
}
export -f one
printf '%s\n' "${targets[@]}" | xargs -P "$jobs" -I{} bash -c 'one "$@"' _ {} "$execs" "$out"

failed=0
printf '%-18s %12s %9s %12s %8s %8s\n' target executions coverage new-corpus crashes seconds
echo '[' >"$out/results.json"
sep=
for t in "${targets[@]}"; do
	read -r n cov new crash secs <"$out/$t.result"
	printf '%-18s %12s %9s %12s %8s %8s\n' "$t" "$n" "$cov" "$new" "$crash" "$secs"
	printf '%s{"target":"%s","executions":%s,"coverage":%s,"new_corpus":%s,"crashes":"%s","seconds":%s}\n' \
		"$sep" "$t" "$n" "$cov" "$new" "$crash" "$secs" >>"$out/results.json"
	sep=,
	[ "$crash" = 0 ] || failed=1
done
echo ']' >>"$out/results.json"
exit $failed
