# SPDX-License-Identifier: Apache-2.0
"""Snapshots of a tiny guest that keeps virtio devices busy (snap_virtio.elf): an
entropy device with a rate limiter, a disk and a vsock device. After a load the guest
goes on with its devices where it stopped (a device that lost its place in the rings
stops answering, and the guest says FAIL), and the vsock device tells it its
connections were reset; the VM a snapshot was taken of goes on too."""
import os
import re
import time

import pytest

import embervm

GUEST = os.path.join(embervm.GUEST_DIR, "snap_virtio.elf")
VIO_RE = re.compile(r"^VIO (\d+)\r?$", re.M)


def vio(e):
    return [int(n) for n in VIO_RE.findall(e.serial())]


def wait_vio(e, n, timeout=20.0):
    start = len(vio(e))
    deadline = time.monotonic() + timeout
    while len(vio(e)) < start + n:
        if "FAIL" in e.serial() or not e.alive() or time.monotonic() > deadline:
            pytest.fail("the guest printed %d of %d more VIO lines:\n%s" %
                        (len(vio(e)) - start, n, e.describe()))
        time.sleep(0.05)
    return vio(e)


def disk(d):
    """8 sectors, sector k filled with 'A' + k, as the guest expects."""
    path = os.path.join(d, "disk.img")
    with open(path, "wb") as f:
        for k in range(8):
            f.write(bytes([ord("A") + k]) * 512)
    return path


def boot(spawn, d, tap=None, switch=None):
    if not os.path.exists(GUEST):
        pytest.skip("%s is missing: run make guests" % GUEST)
    e = spawn()
    e.api.ok("PUT", "/boot-source", {"kernel_image_path": GUEST, "boot_args": "console=ttyS0"})
    e.api.ok("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    e.api.ok("PUT", "/entropy", {"rate_limiter": {
        "bandwidth": {"size": 1 << 20, "one_time_burst": 4096, "refill_time": 100}}})
    e.api.ok("PUT", "/drives/rootfs", embervm.drive("rootfs", disk(d)))
    e.api.ok("PUT", "/vsock", {"guest_cid": 3, "uds_path": os.path.join(d, "v.sock")})
    if tap:
        e.api.ok("PUT", "/network-interfaces/eth0", {
            "iface_id": "eth0", "host_dev_name": tap,
            "tx_rate_limiter": {"ops": {"size": 100, "refill_time": 100}}})
    if switch:
        e.api.ok("PUT", "/network-interfaces/eth0", {
            "iface_id": "eth0", "switch_socket": switch.sock, "guest_mac": "06:00:00:00:00:01"})
    e.api.ok("PUT", "/actions", {"action_type": "InstanceStart"})
    e.wait_serial("SNAPV-READY", 20)
    wait_vio(e, 2)
    return e


def pause_and_snapshot(e, d, name="snap", kind="Full"):
    e.api.ok("PATCH", "/vm", {"state": "Paused"})
    time.sleep(0.2)
    last = vio(e)[-1]
    state, mem = os.path.join(d, name + ".state"), os.path.join(d, name + ".mem")
    e.api.ok("PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem,
                                         "snapshot_type": kind})
    return last, state, mem


def load(spawn, state, mem, **extra):
    r = spawn()
    body = {"snapshot_path": state, "mem_file_path": mem, "resume_vm": True}
    body.update(extra)
    r.api.ok("PUT", "/snapshot/load", body)
    return r


def goes_on(r, last):
    """(r) prints 3 more VIO lines, counting on from (last)."""
    before = len(vio(r))
    after = wait_vio(r, 3)[before:]
    assert after[0] > last, "the count restarted: %r after %d" % (after[:3], last)
    assert "FAIL" not in r.serial(), r.describe()


def kill(e):
    e.proc.kill()
    e.proc.wait()


def patched(base, diff, out):
    """(base) with the pages of the Diff file (diff) put over it, into (out): what a
    rebase does. The Diff file holds its pages in place and holes elsewhere."""
    with open(base, "rb") as f:
        data = bytearray(f.read())
    with open(diff, "rb") as f:
        off = 0
        while True:
            try:
                off = os.lseek(f.fileno(), off, os.SEEK_DATA)
            except OSError:  # ENXIO: no data past (off)
                break
            end = os.lseek(f.fileno(), off, os.SEEK_HOLE)
            f.seek(off)
            data[off:end] = f.read(end - off)
            off = end
    with open(out, "wb") as f:
        f.write(data)


def test_devices_go_on_after_a_load(spawn, scratch):
    e = boot(spawn, scratch)
    last, state, mem = pause_and_snapshot(e, scratch)
    kill(e)
    r = load(spawn, state, mem)
    goes_on(r, last)
    # The restored vsock device told the guest its connections were reset.
    r.wait_serial("VSOCK-EVENT 0", 10)
    assert r.serial().count("VSOCK-EVENT") == 1, r.serial()
    # And the restored VM can be snapshotted and restored in turn.
    last, state2, mem2 = pause_and_snapshot(r, scratch, "two")
    kill(r)
    goes_on(load(spawn, state2, mem2), last)


def test_the_original_goes_on_after_a_snapshot(spawn, scratch):
    e = boot(spawn, scratch)
    for _ in range(3):
        last, _, _ = pause_and_snapshot(e, scratch)
        e.api.ok("PATCH", "/vm", {"state": "Resumed"})
        goes_on(e, last)
    assert "VSOCK-EVENT" not in e.serial()


def test_diff_snapshot_of_busy_devices(spawn, scratch):
    """A Diff snapshot taken over a Full one, loaded from the Full memory file patched
    with the Diff's pages: the pages the devices wrote since (their rings, the buffers
    they filled) must be among those pages, or the guest finds stale rings and stops."""
    e = boot(spawn, scratch)
    _, base_state, base = pause_and_snapshot(e, scratch, "base")
    kill(e)
    # Tracking from the load on: the Diff holds what changed since base.mem.
    r = load(spawn, base_state, base, track_dirty_pages=True)
    wait_vio(r, 5)
    last, state, diff = pause_and_snapshot(r, scratch, "diff", "Diff")
    # The same moment in full, to compare with: every page the Diff left out must be
    # as it was in base.mem.
    full = os.path.join(scratch, "full.mem")
    r.api.ok("PUT", "/snapshot/create", {"snapshot_path": os.path.join(scratch, "full.state"),
                                         "mem_file_path": full})
    kill(r)
    merged = os.path.join(scratch, "merged.mem")
    patched(base, diff, merged)
    with open(merged, "rb") as a, open(full, "rb") as b:
        m, f = a.read(), b.read()
    stale = [off // 4096 for off in range(0, len(f), 4096) if m[off:off + 4096] != f[off:off + 4096]]
    assert not stale, "pages changed but not in the Diff: %s" % [hex(p) for p in stale[:20]]
    goes_on(load(spawn, state, merged), last)


def test_network_device_goes_on(spawn, scratch, tap_name):
    e = boot(spawn, scratch, tap_name)
    last, state, mem = pause_and_snapshot(e, scratch)
    kill(e)
    r = load(spawn, state, mem)
    goes_on(r, last)
    cfg = r.api.ok("GET", "/vm/config")
    assert cfg["network-interfaces"][0]["host_dev_name"] == tap_name


def port_of(switch, e, frames_over=0, timeout=10.0):
    """(e)'s port on (switch) once it has sent more than (frames_over) frames; it must be
    the only port there."""
    deadline = time.monotonic() + timeout
    while True:
        ports = switch.status()["ports"]
        if len(ports) == 1 and ports[0]["pid"] == e.proc.pid and \
                ports[0]["rx_frames"] > frames_over:
            return ports[0]
        if time.monotonic() > deadline:
            pytest.fail("the switch's ports: %r, want one of pid %d with more than %d frames"
                        % (ports, e.proc.pid, frames_over))
        time.sleep(0.05)


def test_switch_port_goes_on(spawn, scratch, switch):
    """A VM on an ember-switch port: the restored one connects to the switch again (a new
    port; the old one went with its process) and its frames go on through it."""
    e = boot(spawn, scratch, switch=switch)
    before = port_of(switch, e)
    assert before["macs"] == ["06:00:00:00:00:01"]
    last, state, mem = pause_and_snapshot(e, scratch)
    kill(e)
    # network_overrides names TAPs: not for an interface on a switch.
    fault = spawn().api.fault("PUT", "/snapshot/load", {
        "snapshot_path": state, "mem_file_path": mem,
        "network_overrides": [{"iface_id": "eth0", "host_dev_name": "tap0"}]})
    assert "on a switch" in fault, fault
    r = load(spawn, state, mem)
    goes_on(r, last)
    after = port_of(switch, r, 2)
    assert after["port"] != before["port"]
    assert after["macs"] == ["06:00:00:00:00:01"]
    cfg = embervm.get_unchecked(r, "/vm/config")
    assert cfg["network-interfaces"][0]["switch_socket"] == switch.sock
