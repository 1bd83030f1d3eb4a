#!/usr/bin/env bash
# tools/fuzz-keep.sh [TARGET...]
# Keeps what a campaign learnt: merges each target's campaign corpus
# (build/fuzz-campaign/corpus/TARGET/) into its seed corpus (tests/fuzz/corpus/TARGET/)
# with libFuzzer's -merge=1, which adds only the inputs that reach features the seeds do
# not. A checkout starts with an empty build/, so this is how the next campaign (and
# make check's short runs) start where this one got to. Default: every target that has a
# campaign corpus. Prints, per target, the inputs added and the seed corpus's size.
set -u
cd "$(dirname "$0")/.."
camp=build/fuzz-campaign/corpus
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
	for d in "$camp"/*/; do
		[ -d "$d" ] && targets+=("$(basename "$d")")
	done
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz-keep: no campaign corpus in $camp" >&2; exit 1; }
make -s -j"$(nproc)" "${targets[@]/#/build/fuzz/fuzz_}" >/dev/null || exit 1
failed=0
printf '%-16s %6s %8s %10s\n' target added seeds bytes
for t in "${targets[@]}"; do
	seeds=tests/fuzz/corpus/$t
	[ -d "$camp/$t" ] || { echo "fuzz-keep: no $camp/$t" >&2; failed=1; continue; }
	mkdir -p "$seeds"
	before=$(find "$seeds" -type f | wc -l)
	if ! build/fuzz/fuzz_"$t" -merge=1 -close_fd_mask=3 -max_len=65536 -timeout=10 \
		-rss_limit_mb=4096 "$seeds" "$camp/$t" >"build/fuzz-campaign/$t.keep.log" 2>&1; then
		echo "fuzz-keep: $t: merge failed (see build/fuzz-campaign/$t.keep.log)" >&2
		failed=1
		continue
	fi
	after=$(find "$seeds" -type f | wc -l)
	printf '%-16s %6d %8d %10d\n' "$t" $((after - before)) "$after" "$(du -sb "$seeds" | cut -f1)"
done
exit $failed
