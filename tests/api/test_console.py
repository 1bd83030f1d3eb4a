# SPDX-License-Identifier: Apache-2.0
"""--console-sock with console_echo.elf: one viewer at a time sees the last 64 KiB of
output replayed and then the live console, types to the guest, detaches and comes back;
a second viewer is told the console is busy; output goes on into the history while
nobody is attached, and a viewer that never reads stalls neither the guest nor ember;
a restored VM serves its console too; ember removes the socket at exit; a viewer that comes
while ember has no descriptor to spare waits, without ember spinning."""
import os
import resource
import select
import socket
import time

import pytest

import embervm

CONSOLE_ECHO = os.path.join(embervm.GUEST_DIR, "console_echo.elf")
HISTORY = 64 * 1024
BUSY = b"ember: console busy\r\n"
BANNER = b"BOOT-PROTOCOL=pvh\nCONSOLE-READY\n"


def flood_text(n):
    """What "flood N" prints, byte for byte (console_echo.c)."""
    return b"".join(b"FLOOD %06d %s\n" % (i, b"." * 50) for i in range(n)) + b"FLOOD-DONE\n"


class Viewer:
    """One connection to the console socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.data = b""
        self.eof = False

    def _recv(self, timeout):
        r, _, _ = select.select([self.sock], [], [], timeout)
        if not r:
            return False
        chunk = self.sock.recv(65536)
        if not chunk:
            self.eof = True
            return False
        self.data += chunk
        return True

    def read_until(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout
        while text not in self.data:
            left = deadline - time.monotonic()
            if left <= 0 or self.eof:
                pytest.fail("the console did not show %r in %.0f s (eof %s); it showed:\n%r" %
                            (text, timeout, self.eof, self.data[-2000:]))
            self._recv(min(left, 0.2))
        return self.data

    def read_quiet(self, quiet=0.5, limit=10.0):
        """Everything until nothing more comes for (quiet) seconds or the peer closes."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline and not self.eof:
            if not self._recv(quiet):
                break
        return self.data

    def send(self, text):
        self.sock.sendall(text)

    def close(self):
        self.sock.close()


@pytest.fixture
def console(spawn):
    """A console_echo guest booted at once, its console on a socket; (ember, socket path)."""
    if not os.path.exists(CONSOLE_ECHO):
        pytest.fail("%s is missing: run make guests" % CONSOLE_ECHO)
    path = os.path.join(spawn.sockdir(), "console.sock")
    e = spawn(["--kernel", CONSOLE_ECHO, "--console-sock", path, "--level", "info"])
    return e, path


def test_attach_type_detach_reattach(console):
    e, path = console
    v = Viewer(path)
    v.read_until(b"CONSOLE-READY\n")
    assert v.data == BANNER, "the replay is not the guest's output so far: %r" % v.data
    v.send(b"hello ember\n")
    v.read_until(b"ECHO: hello ember\n")

    # A second viewer: one line, then closed; the first one is not disturbed.
    other = Viewer(path)
    assert other.read_quiet() == BUSY
    assert other.eof, "the second viewer was not closed"
    other.close()
    v.send(b"still here\n")
    v.read_until(b"ECHO: still here\n")
    v.close()

    # Back again: the whole history, and the console still answers.
    v = Viewer(path)
    v.read_until(b"ECHO: still here\n")
    assert v.data == BANNER + b"ECHO: hello ember\nECHO: still here\n"
    v.send(b"again\n")
    v.read_until(b"ECHO: again\n")
    v.close()
    assert e.serial() == "", "guest output went to stdout as well"


def test_typed_then_closed_at_once(console):
    """A script that writes a command and hangs up straight away: the guest gets all of it."""
    _, path = console
    v = Viewer(path)
    v.read_until(b"CONSOLE-READY\n")
    v.send(b"first\n" + b"x" * 2000 + b"\nlast\n")
    v.close()
    v = Viewer(path)
    v.read_until(b"ECHO: last\n")
    assert b"ECHO: first\nECHO: " + b"x" * 128 + b"\nECHO: last\n" in v.data
    v.close()


def test_history_kept_while_detached(console):
    """Output while nobody is attached goes into the history; a viewer gets its last 64 KiB."""
    _, path = console
    lines = 1200  # 76 KiB: more than the history holds
    v = Viewer(path)
    v.read_until(b"CONSOLE-READY\n")
    v.send(b"flood %d\nmark\n" % lines)
    v.close()
    # Look in until the guest is done (a look while it floods just goes away again)...
    deadline = time.monotonic() + 60
    while True:
        v = Viewer(path)
        seen = v.read_quiet(quiet=0.3)
        v.close()
        if seen.endswith(b"ECHO: mark\n"):
            break
        if time.monotonic() > deadline:
            pytest.fail("the flood did not end within 60 s: %r" % seen[-300:])
        time.sleep(0.3)
    # ...then attach once more: all of that viewer's bytes are the replay.
    v = Viewer(path)
    seen = v.read_quiet(quiet=0.5)
    v.close()
    everything = BANNER + flood_text(lines) + b"ECHO: mark\n"
    assert len(seen) == HISTORY, "replayed %d bytes, not the last 64 KiB" % len(seen)
    assert seen == everything[-HISTORY:], "the replay is not the last 64 KiB of the output"


def vmm_thread_cpu_s(pid):
    """The user + system CPU time of ember's VMM thread (its main thread, which serves the
    console) so far, in seconds. Not the process's: console_echo polls the UART."""
    with open("/proc/%d/task/%d/stat" % (pid, pid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_accept_out_of_descriptors(console):
    """With no descriptor left (RLIMIT_NOFILE lowered under it), a viewer's connection
    stays pending: ember neither spins on the readable listener nor logs at every turn,
    and takes the viewer once a descriptor is free again."""
    e, path = console
    pid = e.proc.pid
    v = Viewer(path)
    v.read_until(b"CONSOLE-READY\n")
    attached = len(os.listdir("/proc/%d/fd" % pid))
    v.close()
    # The limit is ember's count once it has closed that viewer: counted earlier, it would
    # leave the viewer's descriptor free for the next one.
    deadline = time.monotonic() + 10
    while len(os.listdir("/proc/%d/fd" % pid)) >= attached:
        assert time.monotonic() < deadline, "ember kept the closed viewer's descriptor"
        time.sleep(0.01)
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    open_fds = len(os.listdir("/proc/%d/fd" % pid))
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (open_fds, limits[1]))
    try:
        waiting = [Viewer(path) for _ in range(2)]
        time.sleep(0.2)
        cpu = vmm_thread_cpu_s(pid)
        time.sleep(1.0)
        cpu = vmm_thread_cpu_s(pid) - cpu
        assert cpu < 0.3, "the VMM thread used %.2f s of CPU in 1 s with accept failing" % cpu
        assert e.stderr().count("console: accept") == 1, e.stderr()
        assert not waiting[0]._recv(0), "a viewer was served without a descriptor"
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
    # A descriptor again: the first one waiting is the viewer, the second one is told.
    waiting[0].read_until(b"CONSOLE-READY\n")
    assert waiting[1].read_quiet() == BUSY
    waiting[0].send(b"back\n")
    waiting[0].read_until(b"ECHO: back\n")
    for w in waiting:
        w.close()
    assert "console: accept works again" in e.stderr()


def test_viewer_that_never_reads(console):
    """A viewer that stops reading stalls nothing: the guest prints far more than the
    socket and the pipe can hold, then quits, and ember exits 0 with the viewer still
    attached. The viewer has a prefix of the output: it lost the rest, not the guest."""
    e, path = console
    lines = 6000  # 384 KiB
    v = Viewer(path)
    v.read_until(b"CONSOLE-READY\n")
    v.send(b"flood %d\nquit\n" % lines)
    rc = e.wait_exit(120)
    assert rc == 0, "ember did not finish (exit %r) with a viewer that does not read:\n%s" % (
        rc, e.describe())
    assert not os.path.exists(path), "ember left its console socket behind"
    got = v.read_quiet(quiet=0.5, limit=30)
    everything = BANNER + flood_text(lines) + b"SUCCESS\n"
    assert everything.startswith(got), "what the slow viewer got is not the output's start"
    assert len(BANNER) < len(got) < len(everything) - HISTORY, (
        "the slow viewer got %d of %d bytes" % (len(got), len(everything)))
    v.close()


def test_viewer_before_boot(spawn):
    """A viewer that connects while ember waits for InstanceStart sees the boot."""
    path = os.path.join(spawn.sockdir(), "console.sock")
    e = spawn(["--console-sock", path])
    assert os.path.exists(path), "no console socket before InstanceStart"
    v = Viewer(path)
    e.api.ok("PUT", "/boot-source", {"kernel_image_path": CONSOLE_ECHO})
    e.api.ok("PUT", "/actions", {"action_type": "InstanceStart"})
    v.read_until(b"CONSOLE-READY\n")
    v.send(b"booted\n")
    v.read_until(b"ECHO: booted\n")
    v.close()


def snapshot_console_guest(spawn, d):
    """A console_echo guest that has echoed a line, paused and snapshotted, then killed."""
    path = os.path.join(d, "old.sock")
    e = spawn(["--console-sock", path])
    e.api.ok("PUT", "/boot-source", {"kernel_image_path": CONSOLE_ECHO})
    e.api.ok("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    e.api.ok("PUT", "/actions", {"action_type": "InstanceStart"})
    v = Viewer(path)
    v.send(b"before\n")
    v.read_until(b"ECHO: before\n")
    v.close()
    e.api.ok("PATCH", "/vm", {"state": "Paused"})
    state, mem = os.path.join(d, "c.state"), os.path.join(d, "c.mem")
    e.api.ok("PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem})
    e.proc.kill()
    e.proc.wait()
    return state, mem


def test_restored_vm_serves_its_console(spawn, scratch):
    """PUT /snapshot/load and --restore: the restored guest's console is on the new socket."""
    state, mem = snapshot_console_guest(spawn, scratch)
    path = os.path.join(scratch, "loaded.sock")
    e = spawn(["--console-sock", path])
    e.api.ok("PUT", "/snapshot/load", {"snapshot_path": state, "resume_vm": True,
                                       "mem_backend": {"backend_type": "File",
                                                       "backend_path": mem}})
    v = Viewer(path)
    v.send(b"after load\n")
    v.read_until(b"ECHO: after load\n")
    v.close()

    path = os.path.join(scratch, "restored.sock")
    r = spawn(["--restore", "%s,%s" % (state, mem), "--console-sock", path], api_sock=False)
    deadline = time.monotonic() + 10
    while not os.path.exists(path):
        assert r.alive() and time.monotonic() < deadline, "no console socket:\n" + r.describe()
        time.sleep(0.05)
    v = Viewer(path)
    v.send(b"after restore\nquit\n")
    v.read_until(b"ECHO: after restore\nSUCCESS\n")
    v.close()
    assert r.wait_exit(10) == 0, r.describe()
    assert not os.path.exists(path), "ember left its console socket behind"
