# SPDX-License-Identifier: Apache-2.0
"""vm console: attach, see the history replayed, type, detach with Ctrl-], re-attach; one
viewer at a time; a pipe's end detaches; a terminal is put in raw mode and restored."""
import os
import select
import subprocess
import termios
import time

import pytest

def read_until(stream_fd, want, timeout=10):
    """Bytes read from (stream_fd) until (want) shows up."""
    got = b""
    deadline = time.monotonic() + timeout
    while want not in got:
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no %r in %r" % (want, got))
        r, _, _ = select.select([stream_fd], [], [], left)
        if r:
            chunk = os.read(stream_fd, 4096)
            if not chunk:
                raise AssertionError("EOF before %r in %r" % (want, got))
            got += chunk
    return got


@pytest.fixture
def vm(fleet):
    fleet.config("con")
    fleet.run("vm", "boot", "con")
    yield "con"
    fleet.run("vm", "stop", "con", check=False)


def attach(fleet, name):
    return subprocess.Popen(fleet.cmd("vm", "console", name), stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_attach_type_detach_reattach(fleet, vm):
    p = attach(fleet, vm)
    # The history: what the guest wrote before anyone was attached.
    read_until(p.stdout.fileno(), b"IDLE-READY")
    p.stdin.write(b"hello fleet\n")
    p.stdin.flush()
    read_until(p.stdout.fileno(), b"ECHO: hello fleet")
    p.stdin.write(b"\x1d")  # Ctrl-]
    p.stdin.flush()
    assert p.wait(timeout=5) == 0, p.stderr.read()
    p.stdin.close()
    p.stdout.close()
    p.stderr.close()
    assert fleet.list()[vm]["state"] == "Running"
    # Output while nobody watches goes on into the history; a new viewer sees it all.
    r = fleet.run("vm", "console", vm, input="typed blind\n")
    assert "IDLE-READY" in r.stdout and "ECHO: hello fleet" in r.stdout
    assert "ECHO: typed blind" in r.stdout
    p = attach(fleet, vm)
    got = read_until(p.stdout.fileno(), b"ECHO: typed blind")
    assert got.index(b"IDLE-READY") < got.index(b"ECHO: hello fleet")
    p.stdin.close()  # a pipe's end detaches too
    assert p.wait(timeout=5) == 0
    p.stdout.close()
    p.stderr.close()
    assert fleet.list()[vm]["state"] == "Running"


def test_one_viewer_at_a_time(fleet, vm):
    first = attach(fleet, vm)
    read_until(first.stdout.fileno(), b"IDLE-READY")
    r = fleet.run("vm", "console", vm, input="", check=False)
    assert r.returncode == 1, r
    assert "console busy" in r.stdout, r.stdout
    assert "console closed" in r.stderr
    first.stdin.write(b"\x1d")
    first.stdin.flush()
    assert first.wait(timeout=5) == 0
    for f in (first.stdin, first.stdout, first.stderr):
        f.close()
    r = fleet.run("vm", "console", vm, input="second\n")
    assert "ECHO: second" in r.stdout


def test_terminal_raw_and_restored(fleet, vm):
    master, slave = os.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen(fleet.cmd("vm", "console", vm), stdin=slave, stdout=slave,
                         stderr=slave, close_fds=True)
    try:
        read_until(master, b"IDLE-READY")
        raw = termios.tcgetattr(slave)
        assert not raw[3] & termios.ICANON and not raw[3] & termios.ECHO
        os.write(master, b"in a tty\r")  # Enter in raw mode is a carriage return
        read_until(master, b"ECHO: in a tty")
        os.write(master, b"\x1d")
        out = read_until(master, b"detached")
        assert p.wait(timeout=5) == 0, out
        assert termios.tcgetattr(slave) == before
    finally:
        if p.poll() is None:
            p.kill()
        os.close(master)
        os.close(slave)


def test_console_of_a_stopped_vm(fleet):
    fleet.config("off")
    r = fleet.run("vm", "console", "off", check=False)
    assert r.returncode == 1 and "cannot attach" in r.stderr
    r = fleet.run("vm", "console", "nosuch", check=False)
    assert r.returncode == 1 and "no VM named nosuch" in r.stderr


def test_reset_from_the_console(fleet, vm):
    """The guest's own reset ends ember with 0: Stopped; the viewer sees the console close."""
    r = fleet.run("vm", "console", vm, input="reset\n", check=False)
    assert "RESET-NOW" in r.stdout
    v = fleet.wait_state(vm, ("Stopped",))
    assert v["exit_status"] == "exit 0"
