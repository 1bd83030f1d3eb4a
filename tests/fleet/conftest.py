# SPDX-License-Identifier: Apache-2.0
"""Fixtures of the emberctl tests: a fleet (state directory) per test, torn down with every
process it started."""
import os

import pytest

import fleetlib
from fleetlib import Fleet


@pytest.fixture(scope="session")
def prerequisites():
    for path, what in ((fleetlib.EMBERCTL, "run make"), (fleetlib.EMBER, "run make"),
                       (fleetlib.IDLE, "run make guests")):
        if not os.path.exists(path):
            pytest.fail("%s is missing: %s" % (path, what), pytrace=False)
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("no usable /dev/kvm")
    if not fleetlib.ember_has("--console-sock"):
        pytest.fail("%s has no --console-sock: rebuild it" % fleetlib.EMBER, pytrace=False)


@pytest.fixture
def fleet(prerequisites):
    f = Fleet()
    yield f
    f.cleanup()
