# SPDX-License-Identifier: Apache-2.0
"""What review 15 found in emberctl: a FIFO where a log goes, a relative --ember, a console
that a paused VM stops reading, a hung ember's console holding the state directory, a stop
racing a restart, a cut UTF-8 problem text, stale temporary files."""
import json
import os
import signal
import subprocess
import time

import fleetlib


def test_fifo_logs_do_not_hang(fleet):
    fleet.config("f1")
    os.mkfifo(os.path.join(fleet.vm_dir("f1"), "ember.log"))
    r = fleet.run("vm", "boot", "f1", check=False, timeout=15)
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr
    # A symlink is not followed either.
    os.unlink(os.path.join(fleet.vm_dir("f1"), "ember.log"))
    target = os.path.join(fleet.dir, "elsewhere")
    os.symlink(target, os.path.join(fleet.vm_dir("f1"), "ember.log"))
    r = fleet.run("vm", "boot", "f1", check=False, timeout=15)
    assert r.returncode == 1 and not os.path.exists(target), r.stderr
    # The lock was given back: other commands go on.
    fleet.run("vm", "list", timeout=15)

    sw = os.path.join(fleet.dir, "switches", "s1")
    os.makedirs(sw)
    os.mkfifo(os.path.join(sw, "log"))
    r = fleet.run("switch", "create", "s1", check=False, timeout=15)
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr
    fleet.run("vm", "list", timeout=15)
