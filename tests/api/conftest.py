# SPDX-License-Identifier: Apache-2.0
"""Fixtures for the API tests: ember processes with an API socket, and a booted
ticker guest.  EMBER_BIN, GUEST_DIR and EMBER_API_SPEC override the defaults
(build/ember, build/guest, ../shared/spec/firecracker-api.yaml)."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time

import pytest

import embervm
from apiclient import SPEC_PATH
from embervm import Ember


def _prerequisites():
    if not os.path.exists(SPEC_PATH):
        return "the API spec %s is missing (set EMBER_API_SPEC)" % SPEC_PATH
    if not os.access(embervm.EMBER, os.X_OK):
        return "%s is missing: run make" % embervm.EMBER
    if not os.path.exists(embervm.TICKER):
        return "%s is missing: run make guests" % embervm.TICKER
    return None


def _private_copy(src, directory):
    """A copy of the ember binary for this run, so a rebuild while the tests run (make
    relinks build/ember in place) cannot change or hide it halfway through."""
    dst = os.path.join(str(directory), "ember")
    for _ in range(20):
        try:
            shutil.copy2(src, dst)
            r = subprocess.run([dst, "--version"], capture_output=True, timeout=10)
            if r.returncode == 0:
                return dst
        except (OSError, subprocess.SubprocessError):
            pass
        time.sleep(0.5)  # probably being relinked: try again
    pytest.fail("%s does not run (--version)" % src, pytrace=False)


@pytest.fixture(scope="session", autouse=True)
def prerequisites(tmp_path_factory):
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        pytest.skip("no usable /dev/kvm")
    why = _prerequisites()
    if why:
        pytest.fail(why, pytrace=False)
    embervm.EMBER = _private_copy(embervm.EMBER, tmp_path_factory.mktemp("bin"))


class Spawner:
    """Starts ember processes for one test (or module) and stops them all afterwards."""

    def __init__(self, workdir):
        self.workdir = str(workdir)
        self.embers = []
        self.dirs = []

    def sockdir(self):
        # Unix socket paths are short (108 bytes; ember allows 96 for vsock): keep them in /tmp.
        d = tempfile.mkdtemp(prefix="ea-", dir="/tmp")
        self.dirs.append(d)
        return d

    def __call__(self, args=(), api_sock=True, start=True, wait=True, sockdir=None):
        workdir = os.path.join(self.workdir, "ember%d" % len(self.embers))
        os.makedirs(workdir, exist_ok=True)
        e = Ember(workdir, sockdir or self.sockdir(), args, api_sock)
        self.embers.append(e)
        if start:
            e.start(wait)
        return e

    def cleanup(self):
        """Stop every ember; fail if one did not exit 0 on SIGTERM or had a sanitizer report."""
        problems = []
        for e in self.embers:
            e.stop()
            if e.problems:
                problems.append("%s: %s\n%s" % (" ".join(e.cmd()), "; ".join(e.problems),
                                                e.stderr()[-3000:]))
        for d in self.dirs:
            shutil.rmtree(d, ignore_errors=True)
        if problems:
            pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture
def spawn(tmp_path):
    s = Spawner(tmp_path)
    yield s
    s.cleanup()


@pytest.fixture
def vm(spawn):
    """An ember waiting, unbooted, for its configuration on the API socket."""
    return spawn()


@pytest.fixture
def api(vm):
    return vm.api


@pytest.fixture
def scratch(spawn):
    """A short directory under /tmp for files and sockets the test creates."""
    return spawn.sockdir()


@pytest.fixture
def running(spawn):
    """A booted ticker guest of its own (for tests that pause, reset or break it)."""
    e = spawn()
    embervm.configure_ticker(e.api)
    embervm.start(e)
    return e


@pytest.fixture(scope="module")
def module_spawn(tmp_path_factory):
    s = Spawner(tmp_path_factory.mktemp("module"))
    yield s
    s.cleanup()


# ember-switch from the same build as ember (taken before ember is copied away).
SWITCH = os.path.abspath(os.environ.get(
    "EMBER_SWITCH_BIN", os.path.join(os.path.dirname(embervm.EMBER), "ember-switch")))


class Switch:
    """An ember-switch of the test's own, with its port and control sockets in (d)."""

    def __init__(self, d):
        self.sock = os.path.join(d, "sw.sock")
        self.ctl = os.path.join(d, "sw.ctl")
        self.err_path = os.path.join(d, "switch.err")
        with open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen([SWITCH, "--socket", self.sock, "--control", self.ctl,
                                          "--name", "api"], stdin=subprocess.DEVNULL,
                                         stderr=err)
        deadline = time.monotonic() + 10
        while not os.path.exists(self.ctl):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("ember-switch did not start: %s" % open(self.err_path).read())
            time.sleep(0.02)

    def status(self):
        """The control socket's JSON object."""
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(5)
        s.connect(self.ctl)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
        s.close()
        return json.loads(data)

    def stop(self):
        self.proc.terminate()
        assert self.proc.wait(10) == 0, open(self.err_path).read()
        assert not os.path.exists(self.sock) and not os.path.exists(self.ctl)


@pytest.fixture
def switch(scratch):
    """A running ember-switch (build/ember-switch), stopped with SIGTERM afterwards."""
    if not os.access(SWITCH, os.X_OK):
        pytest.skip("%s is missing: run make" % SWITCH)
    s = Switch(scratch)
    yield s
    s.stop()


@pytest.fixture(scope="session")
def tap_name():
    """A host TAP device, or a skip when this host cannot make one (needs root)."""
    name = "embapi%d" % (os.getpid() % 100000)
    try:
        r = subprocess.run(["ip", "tuntap", "add", "dev", name, "mode", "tap"],
                           capture_output=True, text=True)
        why = (r.stderr.strip() or "exit status %d" % r.returncode) if r.returncode else None
    except OSError as e:
        why = str(e)
    if why:
        pytest.skip("cannot create a TAP device: %s" % why)
    yield name
    subprocess.run(["ip", "link", "del", name], capture_output=True)
