#!/usr/bin/env bash
# Runs cmocka test binaries and prints one "PASS: unit/<suite>/<test>" or "FAIL: ..." line per test.
set -u
fail=0
for t in "$@"; do
	suite=$(basename "$t")
	out=$(CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>/dev/null)
	rc=$?
	printf '%s\n' "$out" | sed -n \
		-e "s/^ok [0-9]* - \(.*\)/PASS: unit\/$suite\/\1/p" \
		-e "s/^not ok [0-9]* - \(.*\)/FAIL: unit\/$suite\/\1/p"
	if [ $rc -ne 0 ]; then
		printf '%s\n' "$out" | grep -q '^not ok' || echo "FAIL: unit/$suite (exit status $rc)"
		fail=1
	fi
done
exit $fail
