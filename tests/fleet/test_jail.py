# SPDX-License-Identifier: Apache-2.0
""""jail": true: ember started through ember-jailer (as root, with a static ember)."""
import os
import shutil
import signal
import time

import pytest

import fleetlib
from fleetlib import Fleet, alive


def jail_config(fleet, name, block=None):
    # Hard-linked into the jail: the kernel must be on the state directory's filesystem.
    kernel = os.path.join(fleet.cfgdir, "idle.elf")
    if not os.path.exists(kernel):
        shutil.copy(fleetlib.IDLE, kernel)
    return fleet.config(name, dict({"jail": True}, **(block or {})),
                        extra={"boot-source": {"kernel_image_path": kernel}})


def test_jail_needs_the_jailer(fleet):
    bindir = os.path.join(fleet.dir, "bin")
    os.mkdir(bindir)
    os.symlink(fleet.ember, os.path.join(bindir, "ember"))
    lonely = Fleet(os.path.join(bindir, "ember"))
    try:
        jail_config(lonely, "j")
        r = lonely.run("vm", "boot", "j", check=False)
        assert r.returncode == 1 and "there is no ember-jailer" in r.stderr, r.stderr
    finally:
        lonely.cleanup()


@pytest.fixture
def jailed(fleet):
    here = os.path.dirname(fleetlib.EMBER)
    if os.geteuid() != 0:
        pytest.skip("the jail needs root")
    for prog in ("ember-jailer", "ember-static"):
        if not os.access(os.path.join(here, prog), os.X_OK):
            pytest.skip("no %s next to ember (make all STATIC=1)" % prog)
    return fleet


def test_jailed_vm(jailed):
    fleet = jailed
    jail_config(fleet, "jv", {"restart": "on-failure"})
    fleet.run("vm", "boot", "jv")
    v = fleet.list()["jv"]
    assert v["state"] == "Running" and v["id"] == "jv"
    with open("/proc/%d/cmdline" % v["pid"], "rb") as f:
        cmd = f.read().split(b"\0")
    assert cmd[0] == b"/ember-static" and b"/api.sock" in cmd, cmd
    root = os.path.join(fleet.dir, "jail", "ember-static", "jv", "root")
    assert os.path.exists(os.path.join(root, "kernel"))
    r = fleet.run("vm", "console", "jv", input="jailed\n")
    assert "ECHO: jailed" in r.stdout
    # A restart makes the jail again (the jailer refuses old device nodes).
    os.kill(v["pid"], signal.SIGKILL)
    deadline = time.monotonic() + 10
    while fleet.list()["jv"]["state"] != "Running" or fleet.list()["jv"]["pid"] == v["pid"]:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    assert fleet.info("jv")["restarts"] == 1
    fleet.run("vm", "stop", "jv")
    assert fleet.list()["jv"]["state"] == "Stopped"
    fleet.run("vm", "boot", "jv")
    pid = fleet.list()["jv"]["pid"]
    fleet.run("vm", "rm", "--force", "jv")
    assert not alive(pid)
    assert not os.path.exists(os.path.join(fleet.dir, "jail", "ember-static", "jv"))
    assert not fleet.processes()
