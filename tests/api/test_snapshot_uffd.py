# SPDX-License-Identifier: Apache-2.0
"""The Uffd memory backend on /dev/kvm: a snapshot of the counting guest restored through
uffd-handler (tests/snapshot/uffd_handler.c, built beside ember), which fills guest memory
from the memory file as the guest touches it and ends by itself when ember does."""
import os
import subprocess
import time

import pytest

import embervm
from test_snapshot import assert_goes_on, boot_counter, kill, load, pause, snapshot

HANDLER = os.path.join(os.path.dirname(embervm.EMBER), "uffd-handler")


@pytest.fixture
def handler(scratch):
    """start(mem, name) -> (socket path, process): a handler serving (mem) on a socket of
    its own; any still running after the test is killed."""
    procs = []

    def start(mem, name="uffd"):
        if not os.access(HANDLER, os.X_OK):
            pytest.skip("no %s: run make" % HANDLER)
        sock = os.path.join(scratch, name + ".sock")
        p = subprocess.Popen([HANDLER, sock, mem], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        procs.append(p)
        deadline = time.monotonic() + 5
        while not os.path.exists(sock):
            assert p.poll() is None, "uffd-handler exited: %s" % p.communicate()[1]
            assert time.monotonic() < deadline, "uffd-handler made no socket"
            time.sleep(0.01)
        return sock, p

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def served(p, timeout=10):
    """(p) must end by itself, ember gone, and exit 0: the pages it served."""
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, "uffd-handler exited %d: %s" % (p.returncode, err)
    assert "served" in out, out
    return int(out.split("served ")[1].split()[0])


def counter_snapshot(spawn, scratch):
    e = boot_counter(spawn)
    last = pause(e)
    state, mem = snapshot(e, scratch)
    kill(e)
    return state, mem, last


def test_uffd_restore_goes_on(spawn, scratch, handler):
    state, mem, last = counter_snapshot(spawn, scratch)
    sock, p = handler(mem)
    r = load(spawn, state, sock, backend="Uffd")
    assert r.api.ok("GET", "/")["state"] == "Running"
    assert_goes_on(r, last)
    assert r.stop() == 0
    pages = served(p)
    # Only what the guest and ember touched, never more than its 64 MiB.
    assert 0 < pages <= 64 * 256, pages


def test_uffd_clones_and_a_paused_load(spawn, scratch, handler):
    """Two VMs from one memory file, each with its handler; one loaded Paused."""
    state, mem, last = counter_snapshot(spawn, scratch)
    sock_a, pa = handler(mem, "a")
    sock_b, pb = handler(mem, "b")
    a = load(spawn, state, sock_a, backend="Uffd")
    b = load(spawn, state, sock_b, backend="Uffd", resume=False)
    assert b.api.ok("GET", "/")["state"] == "Paused"
    b.api.ok("PATCH", "/vm", {"state": "Resumed"})
    assert_goes_on(a, last)
    assert_goes_on(b, last)
    assert a.stop() == 0 and b.stop() == 0
    assert served(pa) > 0 and served(pb) > 0


def test_uffd_refusals_leave_ember_loadable(spawn, scratch, handler):
    state, mem, last = counter_snapshot(spawn, scratch)
    e = spawn()
    body = {"snapshot_path": state, "resume_vm": True,
            "mem_backend": {"backend_type": "Uffd",
                            "backend_path": os.path.join(scratch, "nobody.sock")}}
    fault = e.api.fault("PUT", "/snapshot/load", body)
    assert "no page-fault handler's socket at" in fault, fault
    assert e.api.ok("GET", "/")["state"] == "Not started"
    # A handler that was there and went away: its socket file is left behind.
    sock, p = handler(mem, "gone")
    p.kill()
    p.wait()
    body["mem_backend"]["backend_path"] = sock
    fault = e.api.fault("PUT", "/snapshot/load", body)
    assert "no page-fault handler listening on" in fault, fault
    assert e.api.ok("GET", "/")["state"] == "Not started"
    # The same ember then loads with a handler that is there.
    sock, p = handler(mem, "there")
    body["mem_backend"]["backend_path"] = sock
    e.api.ok("PUT", "/snapshot/load", body)
    assert_goes_on(e, last)
    assert e.stop() == 0
    assert served(p) > 0


def test_uffd_restore_from_the_command_line(spawn, scratch, handler):
    state, mem, last = counter_snapshot(spawn, scratch)
    sock, p = handler(mem)
    r = spawn(["--restore", "%s,%s,uffd" % (state, sock)], api_sock=False)
    assert_goes_on(r, last)
    assert r.stop() == 0
    assert served(p) > 0
