# SPDX-License-Identifier: Apache-2.0
"""200 boot/stop cycles through emberctl: nothing grows (the host's open files, emberctl's
peak memory, the state directory) and nothing is left running. And the descriptors of the
processes that outlive the churn around them stay put: ember across console viewers that
come, are refused as busy and go; the supervisor across restarts (its ember killed, its
guest resetting); ember-switch across ports and control clients that come and go. A leak
of one descriptor per cycle shows there, where the host-wide count would drown it."""
import json
import os
import signal
import socket
import subprocess
import time

import pytest

from fleetlib import alive

CYCLES = int(os.environ.get("FLEET_CHURN_CYCLES", "200"))
# Descriptors a long-lived process may hold more after the churn than after its first
# cycles (a log reopened, a cache filled): a few, whatever the number of cycles.
FD_MARGIN = 3
BUSY = b"ember: console busy\r\n"
VMS = 4  # booted and stopped in turn, so that folders other than the one cycling are read


def open_files():
    """The host's allocated file handles (/proc/sys/fs/file-nr, first field)."""
    with open("/proc/sys/fs/file-nr") as f:
        return int(f.read().split()[0])


GNU_TIME = "/usr/bin/time"  # Debian's time (tools/deps.sh)


def run_measured(cmd, tmp):
    """Run emberctl; its peak RSS (KiB). Measured by GNU time, a small process: a child
    forked from pytest would count pytest's own memory in its maximum."""
    out = os.path.join(tmp, "rss")
    r = subprocess.run([GNU_TIME, "-f", "%M", "-o", out] + cmd, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert r.returncode == 0, (cmd, r.stderr)
    with open(out) as f:
        return int(f.read().split()[-1])


def dir_size(path):
    total, entries = 0, 0
    for root, dirs, files in os.walk(path):
        entries += len(dirs) + len(files)
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total, entries


def test_churn(fleet):
    if not os.access(GNU_TIME, os.X_OK):
        pytest.fail("%s is missing: tools/deps.sh installs it" % GNU_TIME, pytrace=False)
    names = ["churn%d" % i for i in range(VMS)]
    for n in names:
        fleet.config(n)
    rss = []
    t0 = time.monotonic()
    files_before = None
    size_first = None
    for i in range(CYCLES):
        n = names[i % VMS]
        peak = run_measured(fleet.cmd("vm", "boot", n), fleet.dir)
        peak = max(peak, run_measured(fleet.cmd("vm", "stop", n), fleet.dir))
        if i % 10 == 0:
            peak = max(peak, run_measured(fleet.cmd("vm", "list", "--json"), fleet.dir))
        rss.append(peak)
        if i == VMS - 1:
            # Every VM has been through one cycle: the state dir has its steady shape.
            size_first = dir_size(fleet.dir)
            files_before = open_files()
    took = time.monotonic() - t0
    size_last = dir_size(fleet.dir)
    files_after = open_files()
    first, last = max(rss[:20]), max(rss[-20:])
    print("churn: %d boot/stop cycles in %.1f s (%.0f ms each); emberctl peak RSS %d KiB "
          "(first 20) / %d KiB (last 20); open files %d -> %d; state dir %s -> %s "
          "(bytes, entries)" % (CYCLES, took, 1000 * took / CYCLES, first, last,
                                files_before, files_after, size_first, size_last))
    assert last <= first + 256, (first, last)
    assert size_last[1] == size_first[1], (size_first, size_last)
    assert abs(size_last[0] - size_first[0]) < 256, (size_first, size_last)
    # Other programs on the host open and close files too: a leak of one per cycle would
    # stand out above that noise.
    assert files_after - files_before < CYCLES, (files_before, files_after)
    assert not fleet.processes()
    assert all(v["state"] == "Stopped" for v in fleet.list().values())


def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def settled_fds(pid, limit, timeout=3.0):
    """(pid)'s descriptors once at most (limit), or what it has after (timeout): a peer's
    close is handled on the process's next turn, not at once."""
    deadline = time.monotonic() + timeout
    while True:
        n = fd_count(pid)
        if n <= limit or time.monotonic() > deadline:
            return n
        time.sleep(0.02)


def recv_until(sock, text, timeout=10.0):
    """Read (sock) until (text) has come or it closed; everything read."""
    sock.settimeout(timeout)
    data = b""
    while text not in data:
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def console_connect(path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(path)
    return s


def test_console_viewer_churn_fds(fleet):
    """ember across viewers: attach (the history replayed), type, a second one refused as
    busy, detach; some hang up before ember has even accepted them; some through
    `vm console`."""
    fleet.config("cv")
    fleet.run("vm", "boot", "cv")
    pid = fleet.pidfile("cv", "ember.pid")
    path = os.path.join(fleet.vm_dir("cv"), "console.sock")
    cycles, baseline = 60, None
    for i in range(cycles):
        v = console_connect(path)
        assert b"IDLE-READY" in recv_until(v, b"IDLE-READY")
        busy = console_connect(path)
        assert recv_until(busy, b"never") == BUSY
        busy.close()
        v.sendall(b"cycle %d\n" % i)
        echo = b"ECHO: cycle %d" % i
        assert echo in recv_until(v, echo)
        v.close()
        console_connect(path).close()  # gone before it was accepted
        if i % 10 == 5:
            fleet.run("vm", "console", "cv", input="via emberctl %d\n" % i)
        if i == 4:
            baseline = settled_fds(pid, 0, timeout=0.5)
    after = settled_fds(pid, baseline)
    print("console churn: ember %d fds after 5 cycles, %d after %d" % (baseline, after, cycles))
    assert after <= baseline + FD_MARGIN, (baseline, after)
    assert fleet.pidfile("cv", "ember.pid") == pid and alive(pid)
    fleet.run("vm", "stop", "cv")


def wait_restarted(fleet, name, old, timeout=20):
    """The pid of the ember that replaced (old), once the VM runs again."""
    deadline = time.monotonic() + timeout
    while True:
        v = fleet.list()[name]
        if v["state"] == "Running" and v["pid"] not in (None, old):
            return v["pid"]
        assert time.monotonic() < deadline, v
        time.sleep(0.05)


def test_supervisor_restart_churn_fds(fleet):
    """The supervisor across restarts of "restart": "always": its ember killed, or its
    guest reset from the console (ember exits 0). The back-off doubles from 100 ms, so
    six restarts take about 6 s."""
    fleet.config("rs", {"restart": "always"})
    fleet.run("vm", "boot", "rs")
    sup = fleet.pidfile("rs", "supervisor.pid")
    path = os.path.join(fleet.vm_dir("rs"), "console.sock")
    ember, baseline, restarts = fleet.list()["rs"]["pid"], None, 6
    for i in range(restarts):
        if i % 2:
            v = console_connect(path)
            recv_until(v, b"IDLE-READY")
            v.sendall(b"reset\n")
            recv_until(v, b"never")  # closed when ember exits
            v.close()
        else:
            os.kill(ember, signal.SIGKILL)
        ember = wait_restarted(fleet, "rs", ember)
        if i == 0:
            baseline = settled_fds(sup, 0, timeout=0.3)
    after = settled_fds(sup, baseline)
    info = fleet.info("rs")
    print("restart churn: supervisor %d fds after 1 restart, %d after %d" % (
        baseline, after, info["restarts"]))
    assert info["restarts"] == restarts, info
    assert after <= baseline + FD_MARGIN, (baseline, after)
    assert fleet.pidfile("rs", "supervisor.pid") == sup and alive(sup)
    fleet.run("vm", "stop", "rs")
    assert not fleet.processes()


def eth_frame(src_index):
    """A broadcast frame from a made-up station."""
    src = bytes([0x02, 0x43, 0, 0, src_index >> 8 & 0xff, src_index & 0xff])
    return b"\xff" * 6 + src + b"\x88\xb5" + bytes(46)


def test_switch_port_churn_fds(fleet):
    """ember-switch across ports that come, send and go (some with a frame to a port
    already gone), control clients that read the status or hang up at once, and VMs on it
    booted and stopped."""
    fleet.run("switch", "create", "churn")
    base = os.path.join(fleet.dir, "switches", "churn")
    with open(os.path.join(base, "pid")) as f:
        pid = int(f.read().split()[0])
    fleet.config("sv", extra={"network-interfaces": [
        {"iface_id": "eth0", "switch": "churn", "guest_mac": "02:43:00:00:ff:01"}]})
    cycles, baseline = 120, None
    for i in range(cycles):
        a = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        a.connect(os.path.join(base, "sock"))
        b = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        b.connect(os.path.join(base, "sock"))
        a.send(eth_frame(i))
        a.close()
        b.send(eth_frame(1000 + i))  # flooded, also toward a port that just closed
        c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        c.connect(os.path.join(base, "ctl.sock"))
        if i % 2:
            c.settimeout(10)
            status = b""
            while not status.endswith(b"\n"):
                chunk = c.recv(65536)
                assert chunk, status
                status += chunk
            json.loads(status)
        c.close()
        b.close()
        if i % 30 == 10:
            fleet.run("vm", "boot", "sv")
            fleet.run("vm", "stop", "sv")
        if i == 4:
            baseline = settled_fds(pid, 0, timeout=0.3)
    after = settled_fds(pid, baseline)
    show = json.loads(fleet.run("switch", "show", "churn", "--json").stdout)
    print("switch churn: ember-switch %d fds after 5 cycles, %d after %d" % (
        baseline, after, cycles))
    assert after <= baseline + FD_MARGIN, (baseline, after)
    assert alive(pid)
    assert show["ports"] == [], show
    fleet.run("switch", "rm", "churn")
