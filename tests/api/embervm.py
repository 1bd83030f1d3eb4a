# SPDX-License-Identifier: Apache-2.0
"""One ember process under test: start, wait for its API socket, read its serial
output, stop it.  Plus the helpers that configure and boot the ticker guest."""
import os
import re
import signal
import socket
import subprocess
import time

import pytest

from apiclient import REPO, Api, Connection

EMBER = os.path.abspath(os.environ.get("EMBER_BIN", os.path.join(REPO, "build", "ember")))
GUEST_DIR = os.path.abspath(os.environ.get("GUEST_DIR", os.path.join(REPO, "build", "guest")))
TICKER = os.path.join(GUEST_DIR, "api_ticker.elf")

SOCKET_TIMEOUT = 10.0  # for ember to accept on its API socket
STOP_GRACE = 5.0  # SIGTERM, then SIGKILL after this
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")


class Ember:
    def __init__(self, workdir, sockdir, args=(), api_sock=True):
        self.workdir = str(workdir)
        self.sock = os.path.join(str(sockdir), "api.sock") if api_sock else None
        self.args = [str(a) for a in args]
        self.proc = None
        self.rc = None
        self.out_path = os.path.join(self.workdir, "ember.out")
        self.err_path = os.path.join(self.workdir, "ember.err")
        self._api = None
        self._files = []
        self.problems = []  # found by stop(): reported when the fixture ends

    def cmd(self):
        c = [EMBER]
        if self.sock:
            c += ["--api-sock", self.sock]
        return c + self.args

    def start(self, wait=True):
        out = open(self.out_path, "wb")
        err = open(self.err_path, "wb")
        self._files = [out, err]
        self.proc = subprocess.Popen(self.cmd(), stdin=subprocess.DEVNULL, stdout=out,
                                     stderr=err, cwd=self.workdir)
        if wait and self.sock:
            self.wait_socket()
        return self

    def describe(self):
        return "%s\n-- stderr:\n%s\n-- stdout (tail):\n%s" % (
            " ".join(self.cmd()), self.stderr()[-3000:], self.serial()[-1000:])

    def wait_socket(self, timeout=SOCKET_TIMEOUT):
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                pytest.fail("ember exited (%d) before its API socket accepted:\n%s" %
                            (self.proc.returncode, self.describe()))
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.sock)
                return
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("ember's API socket %s did not accept within %.0f s:\n%s" %
                                (self.sock, timeout, self.describe()))
            finally:
                s.close()
            time.sleep(0.02)

    @property
    def api(self):
        """A checking client on one keep-alive connection."""
        if self._api is None:
            self._api = Api(self.sock)
        return self._api

    def new_api(self, timeout=10.0):
        return Api(self.sock, timeout)

    def serial(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode("latin-1")

    def serial_size(self):
        return os.path.getsize(self.out_path)

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("latin-1")
        except OSError:
            return ""

    def ticks(self):
        return [int(n) for n in re.findall(r"^TICK (\d+)\r?$", self.serial(), re.M)]

    def wait_serial(self, text, timeout=10.0):
        """Wait until (text) appears on the guest console."""
        deadline = time.monotonic() + timeout
        while True:
            if text in self.serial():
                return
            if self.proc.poll() is not None and text not in self.serial():
                pytest.fail("ember exited (%d) before the guest printed %r:\n%s" %
                            (self.proc.returncode, text, self.describe()))
            if time.monotonic() > deadline:
                pytest.fail("the guest did not print %r within %.0f s:\n%s" %
                            (text, timeout, self.describe()))
            time.sleep(0.05)

    def wait_ticks(self, n, timeout=10.0):
        """Wait until the ticker has printed (n) more TICK lines; returns the last tick."""
        start = len(self.ticks())
        deadline = time.monotonic() + timeout
        while True:
            t = self.ticks()
            if len(t) >= start + n:
                return t[-1]
            if self.proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail("the guest printed %d of %d more TICK lines in %.0f s:\n%s" %
                            (len(t) - start, n, timeout, self.describe()))
            time.sleep(0.05)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self, timeout):
        try:
            self.rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.rc

    def stop(self):
        """SIGTERM (SIGKILL after STOP_GRACE); the exit status, negative for a signal."""
        if self._api:
            self._api.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                self.problems.append("did not exit within %.0f s of SIGTERM" % STOP_GRACE)
            else:
                if self.proc.returncode != 0:
                    self.problems.append("exited %d on SIGTERM" % self.proc.returncode)
        if self.proc is not None:
            self.rc = self.proc.returncode
        for f in self._files:
            f.close()
        self._files = []
        for marker in SANITIZER_MARKERS:
            if marker in self.stderr():
                self.problems.append("sanitizer report (%s)" % marker)
        return self.rc


def ticker_boot_source(**extra):
    body = {"kernel_image_path": TICKER, "boot_args": "console=ttyS0"}
    body.update(extra)
    return body


def configure_ticker(api, vcpus=1, mem=64):
    api.ok("PUT", "/boot-source", ticker_boot_source())
    api.ok("PUT", "/machine-config", {"vcpu_count": vcpus, "mem_size_mib": mem})


def start(vm, timeout=15.0):
    """InstanceStart, then wait for the ticker to come up."""
    vm.api.ok("PUT", "/actions", {"action_type": "InstanceStart"})
    vm.wait_serial("TICKER-READY", timeout)


def make_file(directory, name, size=1 << 20):
    path = os.path.join(str(directory), name)
    with open(path, "wb") as f:
        f.truncate(size)
    return path


def drive(drive_id, path, root=False, **extra):
    body = {"drive_id": drive_id, "path_on_host": path, "is_root_device": root,
            "is_read_only": False}
    body.update(extra)
    return body


def get_unchecked(e, path):
    """GET (path) on (e)'s API without the spec's schema check, for ember's own extensions:
    a network interface on a switch has switch_socket where the spec requires
    host_dev_name. The JSON body of a 200."""
    c = Connection(e.sock)
    try:
        r = c.request("GET", path)
    finally:
        c.close()
    assert r.status == 200, r
    return r.json
