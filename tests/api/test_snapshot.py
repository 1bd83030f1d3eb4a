# SPDX-License-Identifier: Apache-2.0
"""Snapshots on /dev/kvm with a tiny guest (snap_counter.elf): a guest that counts in
memory is paused, snapshotted and killed, and a new ember goes on from its count with its
memory intact; Diff snapshots, clones, and every way a load or a create is refused."""
import os
import re
import shutil
import json
import struct
import subprocess
import time

import pytest

import embervm

COUNTER = os.path.join(embervm.GUEST_DIR, "snap_counter.elf")
REBASE = os.path.join(os.path.dirname(embervm.EMBER), "ember-rebase-snap")
COUNT_RE = re.compile(r"^COUNT (\d+) SUM ([0-9a-f]{8})\r?$", re.M)


def counts(e):
    return [(int(n), s) for n, s in COUNT_RE.findall(e.serial())]


def wait_counts(e, n, timeout=15.0):
    """Wait for (n) more COUNT lines; return them all."""
    start = len(counts(e))
    deadline = time.monotonic() + timeout
    while len(counts(e)) < start + n:
        if not e.alive() or time.monotonic() > deadline:
            pytest.fail("the guest printed %d of %d more COUNT lines:\n%s" %
                        (len(counts(e)) - start, n, e.describe()))
        time.sleep(0.05)
    return counts(e)


def boot_counter(spawn, track=False, vcpus=1):
    e = spawn()
    e.api.ok("PUT", "/boot-source", {"kernel_image_path": COUNTER})
    e.api.ok("PUT", "/machine-config", {"vcpu_count": vcpus, "mem_size_mib": 64,
                                        "track_dirty_pages": track})
    e.api.ok("PUT", "/actions", {"action_type": "InstanceStart"})
    e.wait_serial("COUNTER-READY")
    wait_counts(e, 2)
    return e


def pause(e):
    e.api.ok("PATCH", "/vm", {"state": "Paused"})
    time.sleep(0.2)  # a line the vCPU was printing when it stopped may still land
    return counts(e)[-1]


def snapshot(e, d, name="snap", kind="Full"):
    state, mem = os.path.join(d, name + ".state"), os.path.join(d, name + ".mem")
    e.api.ok("PUT", "/snapshot/create", {"snapshot_path": state, "mem_file_path": mem,
                                         "snapshot_type": kind})
    return state, mem


def kill(e):
    e.proc.kill()
    e.proc.wait()


def load(spawn, state, mem, resume=True, backend="File", **extra):
    e = spawn()
    body = {"snapshot_path": state, "mem_backend": {"backend_type": backend,
                                                   "backend_path": mem},
            "resume_vm": resume}
    body.update(extra)
    e.api.ok("PUT", "/snapshot/load", body)
    return e


def assert_goes_on(e, last):
    """(e) counts on from (last), a (count, sum) pair, with the same checksum."""
    after = wait_counts(e, 2)
    assert after[0][0] > last[0], "the count restarted: %r after %r" % (after[:3], last)
    assert all(s == last[1] for _, s in after), "the region changed: %r" % after[:3]


def test_full_snapshot_file_backend(spawn, scratch):
    e = boot_counter(spawn)
    last = pause(e)
    state, mem = snapshot(e, scratch)
    assert e.api.ok("GET", "/")["state"] == "Paused"
    kill(e)
    r = load(spawn, state, mem)
    assert r.api.ok("GET", "/")["state"] == "Running"
    assert_goes_on(r, last)
    cfg = r.api.ok("GET", "/vm/config")
    assert cfg["machine-config"]["mem_size_mib"] == 64
    assert "boot-source" not in cfg, "a restored VM shows no boot source, as in Firecracker"


def test_load_paused_then_resume(spawn, scratch):
    e = boot_counter(spawn)
    last = pause(e)
    state, mem = snapshot(e, scratch)
    kill(e)
    r = load(spawn, state, mem, resume=False)
    assert r.api.ok("GET", "/")["state"] == "Paused"
    time.sleep(0.5)
    assert not counts(r), "a paused restore ran:\n" + r.serial()
    r.api.ok("PATCH", "/vm", {"state": "Resumed"})
    assert_goes_on(r, last)


def test_snapshot_of_a_restored_vm(spawn, scratch):
    """A restored VM can be snapshotted again, and that snapshot restores too."""
    e = boot_counter(spawn)
    pause(e)
    state, mem = snapshot(e, scratch, "one")
    kill(e)
    r = load(spawn, state, mem)
    wait_counts(r, 2)
    last = pause(r)
    state2, mem2 = snapshot(r, scratch, "two")
    kill(r)
    assert_goes_on(load(spawn, state2, mem2), last)


def test_two_clones_side_by_side(spawn, scratch):
    e = boot_counter(spawn)
    last = pause(e)
    state, mem = snapshot(e, scratch)
    kill(e)
    a = load(spawn, state, mem)
    b = load(spawn, state, mem)
    assert_goes_on(a, last)
    assert_goes_on(b, last)
    assert a.alive() and b.alive()


def load_rebased(spawn, d, state, base, diff):
    """An ember that loads (state) with (diff) merged onto a copy of (base)."""
    if not os.access(REBASE, os.X_OK):
        pytest.skip("no %s" % REBASE)
    merged = os.path.join(d, "merged.mem")
    shutil.copy(base, merged)
    subprocess.run([REBASE, "--base-file", merged, "--diff-file", diff], check=True)
    return load(spawn, state, merged)


def allocated(path):
    return os.stat(path).st_blocks * 512


def test_diff_snapshot_is_small_and_rebases(spawn, scratch):
    e = boot_counter(spawn, track=True)
    assert e.api.ok("GET", "/machine-config")["track_dirty_pages"] is True
    pause(e)
    base_state, base = snapshot(e, scratch, "base")
    e.api.ok("PATCH", "/vm", {"state": "Resumed"})
    wait_counts(e, 3)
    last = pause(e)
    state, diff = snapshot(e, scratch, "diff", "Diff")
    kill(e)
    assert os.path.getsize(diff) == os.path.getsize(base)
    assert allocated(diff) * 10 < allocated(base), \
        "diff %d bytes allocated, full %d" % (allocated(diff), allocated(base))
    assert allocated(diff) > 0
    assert_goes_on(load_rebased(spawn, scratch, state, base, diff), last)


def test_diff_after_a_load_with_tracking(spawn, scratch):
    """A load asking for dirty page tracking can take Diffs against the loaded memory."""
    e = boot_counter(spawn)
    pause(e)
    state, mem = snapshot(e, scratch, "base")
    kill(e)
    r = load(spawn, state, mem, track_dirty_pages=True)
    assert r.api.ok("GET", "/machine-config")["track_dirty_pages"] is True
    wait_counts(r, 2)
    pause(r)
    _, diff = snapshot(r, scratch, "diff", "Diff")
    assert 0 < allocated(diff) and allocated(diff) * 10 < allocated(mem)


def test_failed_create_keeps_files_and_dirty_marks(spawn, scratch):
    """A create that fails writing its state file leaves no new memory file and loses
    none of the pages the next Diff must hold."""
    e = boot_counter(spawn, track=True)
    pause(e)
    base_state, base = snapshot(e, scratch, "base")
    e.api.ok("PATCH", "/vm", {"state": "Resumed"})
    wait_counts(e, 3)
    last = pause(e)
    bad_mem = os.path.join(scratch, "try1.mem")
    fault = e.api.fault("PUT", "/snapshot/create", {
        "snapshot_path": os.path.join(scratch, "no", "such", "dir"), "mem_file_path": bad_mem,
        "snapshot_type": "Diff"})
    assert "cannot create" in fault, fault
    assert sorted(os.listdir(scratch)) == ["base.mem", "base.state"], \
        "a new or temporary file was left: %r" % os.listdir(scratch)
    state, diff = snapshot(e, scratch, "diff", "Diff")
    kill(e)
    assert allocated(diff) > 0
    assert_goes_on(load_rebased(spawn, scratch, state, base, diff), last)


def test_create_refuses_unknown_fields(spawn, scratch):
    e = boot_counter(spawn)
    pause(e)
    assert "version" in e.api.fault("PUT", "/snapshot/create", {
        "snapshot_path": os.path.join(scratch, "s"), "mem_file_path": os.path.join(scratch, "m"),
        "version": "1.0.0"})


def test_diff_needs_dirty_tracking(spawn, scratch):
    e = boot_counter(spawn)
    pause(e)
    fault = e.api.fault("PUT", "/snapshot/create", {
        "snapshot_path": os.path.join(scratch, "s"), "mem_file_path":
        os.path.join(scratch, "m"), "snapshot_type": "Diff"})
    assert "Diff snapshots are not allowed on uVMs with dirty page tracking disabled" in fault
    assert not os.path.exists(os.path.join(scratch, "s"))
    assert not os.path.exists(os.path.join(scratch, "m"))


def test_create_needs_a_paused_vm(spawn, scratch):
    e = boot_counter(spawn)
    body = {"snapshot_path": os.path.join(scratch, "s"),
            "mem_file_path": os.path.join(scratch, "m")}
    assert "save/restore unavailable while running" in e.api.fault(
        "PUT", "/snapshot/create", body)
    assert not os.listdir(scratch)


def test_create_before_boot_and_load_after(spawn, scratch):
    e = spawn()
    body = {"snapshot_path": os.path.join(scratch, "s"),
            "mem_file_path": os.path.join(scratch, "m")}
    assert "not supported before starting" in e.api.fault("PUT", "/snapshot/create", body)
    r = boot_counter(spawn)
    assert "not supported after starting" in r.api.fault("PUT", "/snapshot/load", {
        "snapshot_path": "/nonexistent", "mem_file_path": "/nonexistent"})


def test_load_refused_after_configuration(spawn, scratch):
    e = spawn()
    e.api.ok("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    fault = e.api.fault("PUT", "/snapshot/load", {"snapshot_path": "/x", "mem_file_path": "/y"})
    assert "not allowed after configuring boot-specific resources" in fault
    # A logger or metrics first is fine.
    f = spawn()
    f.api.ok("PUT", "/metrics", {"metrics_path": os.path.join(scratch, "metrics")})
    assert "cannot open" in f.api.fault("PUT", "/snapshot/load",
                                        {"snapshot_path": "/x", "mem_file_path": "/y"})


def test_load_body_is_checked(vm):
    api = vm.api
    assert "Exactly one of mem_file_path and mem_backend" in api.fault(
        "PUT", "/snapshot/load", {"snapshot_path": "/x"})
    assert "Exactly one of mem_file_path and mem_backend" in api.fault(
        "PUT", "/snapshot/load", {"snapshot_path": "/x", "mem_file_path": "/y",
                                  "mem_backend": {"backend_type": "File", "backend_path": "/y"}})
    assert "backend_type" in api.fault("PUT", "/snapshot/load", {
        "snapshot_path": "/x", "mem_backend": {"backend_type": "Disk", "backend_path": "/y"}})
    assert "nonsense" in api.fault("PUT", "/snapshot/load", {
        "snapshot_path": "/x", "mem_file_path": "/y", "nonsense": 1})
    assert api.ok("GET", "/")["state"] == "Not started"


@pytest.fixture(scope="module")
def good_snapshot(module_spawn, tmp_path_factory):
    """One Paused snapshot of the counter, for the tests that damage copies of it."""
    d = str(tmp_path_factory.mktemp("good"))
    e = boot_counter(module_spawn)
    last = pause(e)
    state, mem = snapshot(e, d)
    kill(e)
    with open(state, "rb") as f:
        return f.read(), mem, last


def refused(spawn, scratch, data, mem, want):
    """A load of (data) as the state file is refused with (want) in the message, and the
    ember is left Not started."""
    path = os.path.join(scratch, "bad.state")
    with open(path, "wb") as f:
        f.write(data)
    e = spawn()
    fault = e.api.fault("PUT", "/snapshot/load", {"snapshot_path": path,
                                                  "mem_file_path": mem})
    assert want in fault, fault
    assert e.api.ok("GET", "/")["state"] == "Not started"
    return e


def with_crc(data):
    """(data) with its trailing CRC64 (CRC-64/XZ) recomputed, as a forger would."""
    body = data[:-8]
    return body + struct.pack("<Q", crc64_xz(body))


def crc64_xz(data):
    poly, crc = 0xC96C5795D7870F42, 0xFFFFFFFFFFFFFFFF
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ poly if c & 1 else c >> 1
        table.append(c)
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFFFFFFFFFF


def test_refused_state_files(spawn, scratch, good_snapshot):
    data, mem, last = good_snapshot
    assert crc64_xz(data[:-8]) == struct.unpack("<Q", data[-8:])[0]
    refused(spawn, scratch, b"", mem, "not an ember snapshot")
    refused(spawn, scratch, data[:20], mem, "truncated")
    refused(spawn, scratch, data[:len(data) // 2], mem, "truncated")
    refused(spawn, scratch, data[:-1], mem, "truncated")
    flipped = bytearray(data)
    flipped[len(data) // 3] ^= 0x10
    refused(spawn, scratch, bytes(flipped), mem, "corrupted")
    version = bytearray(data)
    version[8] = 99
    refused(spawn, scratch, with_crc(bytes(version)), mem, "format version 99")
    arch = bytearray(data)
    arch[12:16] = struct.pack("<I", 183)
    refused(spawn, scratch, with_crc(bytes(arch)), mem, "made for aarch64")
    # And after all that, the same kind of ember still loads the good file.
    e = refused(spawn, scratch, data[:20], mem, "truncated")
    path = os.path.join(scratch, "good.state")
    with open(path, "wb") as f:
        f.write(data)
    e.api.ok("PUT", "/snapshot/load", {"snapshot_path": path, "mem_file_path": mem,
                                       "resume_vm": True})
    assert_goes_on(e, last)


def test_refused_memory_files(spawn, scratch, good_snapshot):
    data, mem, _ = good_snapshot
    path = os.path.join(scratch, "good.state")
    with open(path, "wb") as f:
        f.write(data)
    small = os.path.join(scratch, "small.mem")
    with open(small, "wb") as f:
        f.truncate(1 << 20)
    e = spawn()
    assert "holds 1048576 bytes" in e.api.fault(
        "PUT", "/snapshot/load", {"snapshot_path": path, "mem_file_path": small})
    assert "cannot open the memory file" in e.api.fault(
        "PUT", "/snapshot/load", {"snapshot_path": path, "mem_file_path": small + "-no"})
    assert e.api.ok("GET", "/")["state"] == "Not started"


def test_snapshot_metrics(spawn, scratch):
    metrics = os.path.join(scratch, "metrics.json")
    e = spawn()
    e.api.ok("PUT", "/metrics", {"metrics_path": metrics})
    e.api.ok("PUT", "/boot-source", {"kernel_image_path": COUNTER})
    e.api.ok("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    e.api.ok("PUT", "/actions", {"action_type": "InstanceStart"})
    wait_counts(e, 1)
    pause(e)
    snapshot(e, scratch)
    e.api.ok("PUT", "/actions", {"action_type": "FlushMetrics"})
    with open(metrics) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    assert lines[-1]["latencies_us"]["full_create_snapshot"] > 0


def test_restore_from_the_command_line(spawn, scratch):
    e = boot_counter(spawn)
    last = pause(e)
    state, mem = snapshot(e, scratch)
    kill(e)
    r = spawn(["--restore", "%s,%s" % (state, mem)], api_sock=False)
    assert_goes_on(r, last)
    p = spawn(["--restore", "%s,%s,paused" % (state, mem)])
    assert p.api.ok("GET", "/")["state"] == "Paused"
    p.api.ok("PATCH", "/vm", {"state": "Resumed"})
    assert_goes_on(p, last)
    bad = spawn(["--restore", "%s,%s" % (mem, mem)], api_sock=False)
    assert bad.wait_exit(10) == 1
    assert "not an ember snapshot" in bad.stderr()
    for args in (["--restore", state], ["--restore", "%s,%s,fast" % (state, mem)],
                 ["--restore", "%s,%s" % (state, mem), "--kernel", COUNTER]):
        usage = spawn(args, api_sock=False)
        assert usage.wait_exit(10) == 2, args


def test_restore_from_a_config_file(spawn, scratch):
    e = boot_counter(spawn)
    last = pause(e)
    state, mem = snapshot(e, scratch)
    kill(e)
    cfg = os.path.join(scratch, "restore.json")
    with open(cfg, "w") as f:
        json.dump({"snapshot-load": {"snapshot_path": state, "mem_backend": {
            "backend_type": "File", "backend_path": mem}, "resume_vm": True}}, f)
    r = spawn(["--config-file", cfg])
    assert r.api.ok("GET", "/")["state"] == "Running"
    assert_goes_on(r, last)
    with open(cfg, "w") as f:
        json.dump({"snapshot-load": {"snapshot_path": state, "mem_file_path": mem},
                   "machine-config": {"vcpu_count": 1, "mem_size_mib": 64}}, f)
    bad = spawn(["--config-file", cfg, "--no-api"], api_sock=False)
    assert bad.wait_exit(10) == 2
    assert "machine-config: cannot be given with snapshot-load" in bad.stderr()
