#!/usr/bin/env bash
# The API integration tests (pytest), one "PASS: api/<file>::<test>" or "FAIL: ..." line
# per test (skipped tests print "SKIP: ..."), after pytest's own report.
#   tests/api/run.sh [EMBER_BIN] [pytest args...]
# EMBER_BIN defaults to build/ember; GUEST_DIR (build/guest) must hold api_ticker.elf.
set -u
cd "$(dirname "$0")/../.."
if [ $# -gt 0 ] && [ -x "$1" ] && [ ! -d "$1" ]; then
	EMBER_BIN=$(realpath "$1")
	export EMBER_BIN
	shift
fi

# The Debian python3-pytest, even when another python3 comes first in PATH.
py=
for p in python3 /usr/bin/python3; do
	if command -v "$p" >/dev/null && "$p" -c 'import pytest, jsonschema, yaml' 2>/dev/null; then
		py=$p
		break
	fi
done
if [ -z "$py" ]; then
	echo "FAIL: api (no python3 with pytest, jsonschema and yaml)"
	exit 1
fi

export PYTHONDONTWRITEBYTECODE=1 # no __pycache__ in the tree
tmp=$(mktemp -d /tmp/ember-api-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
"$py" -m pytest -p no:cacheprovider -q -rfEs --basetemp="$tmp/pytest" \
	--junitxml="$tmp/junit.xml" -o junit_family=xunit1 tests/api "$@"
rc=$?

"$py" - "$tmp/junit.xml" <<'EOF' || rc=1
import sys
import xml.etree.ElementTree as ET

try:
    root = ET.parse(sys.argv[1]).getroot()
except (OSError, ET.ParseError) as e:
    print("FAIL: api (no results: %s)" % e)
    sys.exit(1)
for case in root.iter("testcase"):
    module = case.get("classname", "").split(".")[-1]
    name = "api/%s.py::%s" % (module, case.get("name"))
    if case.find("failure") is not None or case.find("error") is not None:
        print("FAIL: " + name)
    elif case.find("skipped") is not None:
        print("SKIP: " + name)
    else:
        print("PASS: " + name)
EOF
if [ $rc -ne 0 ]; then
	exit 1
fi
exit 0
