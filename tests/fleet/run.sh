#!/usr/bin/env bash
# The emberctl tests (pytest): one "PASS: fleet/<file>::<test>" or "FAIL: ..." line per test
# (skipped tests print "SKIP: ..."), after pytest's own report.
#   tests/fleet/run.sh [EMBERCTL] [pytest args...]
# EMBERCTL defaults to build/emberctl; it runs build/ember (EMBER_BIN) and the guest
# build/guest/fleet_idle.elf (GUEST_DIR).
set -u
cd "$(dirname "$0")/../.."
if [ $# -gt 0 ] && [ -x "$1" ] && [ ! -d "$1" ]; then
	EMBERCTL=$(realpath "$1")
	export EMBERCTL
	shift
fi

py=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null && "$p" -c 'import pytest' 2>/dev/null; then
		py=$p
		break
	fi
done
if [ -z "$py" ]; then
	echo "FAIL: fleet (no python3 with pytest)"
	exit 1
fi

export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the tree
tmp=$(mktemp -d /tmp/ember-fleet-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$py" -m pytest -p no:cacheprovider -q -rfEs -s --basetemp="$tmp/pytest" \
	--junitxml="$tmp/junit.xml" -o junit_family=xunit1 tests/fleet "$@"
rc=$?

"$py" - "$tmp/junit.xml" <<'PY' || rc=1
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as e:
    print("FAIL: fleet (no results: %s)" % e)
    sys.exit(1)
for case in root.iter("testcase"):
    module = case.get("classname", "").split(".")[-1]
    name = "fleet/%s.py::%s" % (module, case.get("name"))
    if case.find("failure") is not None or case.find("error") is not None:
        print("FAIL: " + name)
    elif case.find("skipped") is not None:
        skipped = case.find("skipped")
        print("SKIP: %s (%s)" % (name, skipped.get("message", "")))
    else:
        print("PASS: %s (%.1f s)" % (name, float(case.get("time", 0))))
PY
[ $rc -eq 0 ] || exit 1
exit 0
