# SPDX-License-Identifier: Apache-2.0
"""200 boot/stop cycles through emberctl: nothing grows (the host's open files, emberctl's
peak memory, the state directory) and nothing is left running."""
import os
import subprocess
import time

import pytest

CYCLES = int(os.environ.get("FLEET_CHURN_CYCLES", "200"))
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
