# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the emberctl tests: a fleet (state directory) per test, torn down with every
process it started. Until ember has --console-sock, --cpus and --realtime (the console
branch), the VMs run through a wrapper that leaves those options out, and the console
tests are skipped."""
import os
import stat

import pytest

import fleetlib
from fleetlib import Fleet

WRAPPER = """#!/bin/sh
# ember without --console-sock/--cpus/--realtime: leave them out (emberctl tests only).
ember=%s
n=$#
i=0
while [ $i -lt $n ]; do
	a=$1
	shift
	i=$((i + 1))
	case $a in
	--console-sock|--cpus) shift; i=$((i + 1)) ;;
	--realtime) ;;
	*) set -- "$@" "$a" ;;
	esac
done
exec "$ember" "$@"
"""


@pytest.fixture(scope="session")
def ember_bin(tmp_path_factory):
    for path, what in ((fleetlib.EMBERCTL, "run make"), (fleetlib.EMBER, "run make"),
                       (fleetlib.IDLE, "run make guests")):
        if not os.path.exists(path):
            pytest.fail("%s is missing: %s" % (path, what), pytrace=False)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("no usable /dev/kvm")
    if fleetlib.ember_has("--console-sock"):
        return fleetlib.EMBER
    wrapper = str(tmp_path_factory.mktemp("bin") / "ember")
    with open(wrapper, "w") as f:
        f.write(WRAPPER % fleetlib.EMBER)
    os.chmod(wrapper, stat.S_IRWXU)
    # emberctl looks for ember's siblings next to it.
    for sibling in ("ember-switch", "ember-jailer", "ember-static"):
        path = os.path.join(os.path.dirname(fleetlib.EMBER), sibling)
        if os.path.exists(path):
            os.symlink(path, os.path.join(os.path.dirname(wrapper), sibling))
    return wrapper


@pytest.fixture
def fleet(ember_bin):
    f = Fleet(ember_bin)
    yield f
    f.cleanup()


@pytest.fixture
def console_sock(ember_bin):
    if ember_bin != fleetlib.EMBER:
        pytest.skip("ember has no --console-sock yet (the console branch)")
