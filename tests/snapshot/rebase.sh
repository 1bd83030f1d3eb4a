#!/usr/bin/env bash
# ember-rebase-snap on sparse files made here (no VM): base + diff gives the later memory,
# diffs apply in turn, a page the diff wrote as zeros is copied (it is data, not a hole),
# and bad arguments get one clear message, exit status 2 and an untouched base.
# usage: rebase.sh EMBER_REBASE_SNAP      prints one PASS:/FAIL: line per test
set -u
rebase=$1
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
PAGES=256 # 1 MiB of 4 KiB pages

pass() { echo "PASS: rebase/$1"; }
flunk() {
	echo "FAIL: rebase/$1 ($2)"
	fail=1
}

# write FILE PAGE COUNT SOURCE: COUNT pages of SOURCE at page PAGE, the rest of FILE kept.
write() {
	dd if="$4" of="$1" bs=4096 seek="$2" count="$3" conv=notrunc status=none iflag=fullblock
}

# A diff as ember writes one: the memory's size, holes but for the pages written.
new_diff() {
	rm -f "$1"
	truncate -s $((PAGES * 4096)) "$1"
}

head -c $((PAGES * 4096)) /dev/urandom >"$tmp/base"
cp "$tmp/base" "$tmp/expect"

# The first page, a run in the middle, the last page, and a page of zeros.
new_diff "$tmp/diff1"
head -c $((8 * 4096)) /dev/urandom >"$tmp/data"
for target in diff1 expect; do
	write "$tmp/$target" 0 1 "$tmp/data"
	write "$tmp/$target" 100 5 "$tmp/data"
	write "$tmp/$target" $((PAGES - 1)) 1 "$tmp/data"
	write "$tmp/$target" 50 1 /dev/zero
done
if [ "$(du -k "$tmp/diff1" | cut -f1)" -ge $((PAGES * 4)) ]; then
	flunk setup "the diff is not sparse on this filesystem"
fi
cp "$tmp/base" "$tmp/merged"
if ! out=$("$rebase" --base-file "$tmp/merged" --diff-file "$tmp/diff1" 2>&1); then
	flunk merges-a-diff "exit status $?: $out"
elif ! cmp -s "$tmp/merged" "$tmp/expect"; then
	flunk merges-a-diff "the result differs from base + diff: $(cmp "$tmp/merged" "$tmp/expect")"
else
	pass merges-a-diff
fi

# A second diff on top of the first, the --opt=value spelling.
new_diff "$tmp/diff2"
for target in diff2 expect; do
	write "$tmp/$target" 101 2 /dev/zero
	write "$tmp/$target" 200 3 "$tmp/data"
done
if "$rebase" --diff-file="$tmp/diff2" --base-file="$tmp/merged" &&
	cmp -s "$tmp/merged" "$tmp/expect"; then
	pass applies-diffs-in-turn
else
	flunk applies-diffs-in-turn "the result differs from base + diff1 + diff2"
fi

# A diff with no page written changes nothing.
new_diff "$tmp/empty"
cp "$tmp/base" "$tmp/copy"
if "$rebase" --base-file "$tmp/copy" --diff-file "$tmp/empty" && cmp -s "$tmp/copy" "$tmp/base"; then
	pass empty-diff-changes-nothing
else
	flunk empty-diff-changes-nothing "the base changed"
fi

# expect NAME PATTERN ARGS...: exit status 2, PATTERN on stderr, the base untouched.
expect() {
	local name=$1 pattern=$2
	shift 2
	cp "$tmp/base" "$tmp/copy"
	"$rebase" "$@" </dev/null >"$tmp/out" 2>"$tmp/err"
	local rc=$?
	if [ "$rc" -ne 2 ]; then
		flunk "$name" "exit $rc, expected 2: $(head -c 200 "$tmp/err")"
	elif ! grep -qE -- "$pattern" "$tmp/err"; then
		flunk "$name" "no '$pattern' in: $(head -c 200 "$tmp/err")"
	elif ! cmp -s "$tmp/copy" "$tmp/base"; then
		flunk "$name" "the base changed"
	else
		pass "$name"
	fi
}

head -c 4096 /dev/urandom >"$tmp/small"
head -c 5000 /dev/urandom >"$tmp/odd"
cp "$tmp/odd" "$tmp/odd2"
expect no-arguments '--base-file is required'
expect no-diff '--diff-file is required' --base-file "$tmp/copy"
expect no-base '--base-file is required' --diff-file "$tmp/diff1"
expect missing-value '--diff-file needs a value' --base-file "$tmp/copy" --diff-file
expect unknown-option "unknown option '--bsae-file'" --bsae-file "$tmp/copy" --diff-file "$tmp/diff1"
expect stray-argument "unexpected argument 'extra'" --base-file "$tmp/copy" --diff-file "$tmp/diff1" extra
expect given-twice '--base-file given twice' --base-file "$tmp/copy" --base-file "$tmp/copy" \
	--diff-file "$tmp/diff1"
expect empty-path 'an empty path' --base-file "" --diff-file "$tmp/diff1"
expect missing-base 'No such file' --base-file "$tmp/none" --diff-file "$tmp/diff1"
expect missing-diff 'No such file' --base-file "$tmp/copy" --diff-file "$tmp/none"
expect diff-is-directory 'not a regular file' --base-file "$tmp/copy" --diff-file "$tmp"
expect same-file 'the same file' --base-file "$tmp/copy" --diff-file "$tmp/copy"
expect sizes-differ 'not memory files of the same VM' --base-file "$tmp/copy" --diff-file "$tmp/small"
expect not-whole-pages 'is not a memory file' --base-file "$tmp/odd" --diff-file "$tmp/odd2"

if "$rebase" --help | grep -q '^usage: ember-rebase-snap --base-file BASE --diff-file DIFF' &&
	"$rebase" --version | grep -q '^ember-rebase-snap v'; then
	pass help-and-version
else
	flunk help-and-version "--help or --version"
fi
exit $fail
