# SPDX-License-Identifier: Apache-2.0
"""The state directory as it may be found: stale, half-written, hand-edited; and two
emberctl processes at once."""
import json
import os
import subprocess
import threading

from fleetlib import alive, proc_start


def write(path, text, mode="w"):
    with open(path, mode) as f:
        f.write(text)


def test_broken_folders_are_listed(fleet):
    for name in ("ok", "emptycfg", "garbage", "reused", "nopid", "bigstatus", "fifo",
                 "wrongname", "noember"):
        fleet.config(name)
    vms = os.path.join(fleet.dir, "vms")
    write(os.path.join(vms, "emptycfg", "config.json"), "")
    write(os.path.join(vms, "garbage", "status.json"), "\x00\xff{not json")
    # A pid the kernel has given to another process since: ours (pytest), with another start.
    me = os.getpid()
    write(os.path.join(vms, "reused", "ember.pid"), "%d %d\n" % (me, proc_start(me) + 1))
    write(os.path.join(vms, "reused", "supervisor.pid"), "1 0\n")
    write(os.path.join(vms, "reused", "status.json"),
          '{"state": "running", "pid": %d, "restarts": 0, "exit": null}' % me)
    write(os.path.join(vms, "nopid", "ember.pid"), "%d\n" % me)  # no start time: not ours
    write(os.path.join(vms, "bigstatus", "status.json"), "[" * (1 << 17))
    os.mkfifo(os.path.join(vms, "fifo", "status.json"))
    cfg = json.load(open(os.path.join(vms, "wrongname", "config.json")))
    cfg["emberctl"]["name"] = "other"
    write(os.path.join(vms, "wrongname", "config.json"), json.dumps(cfg))
    os.unlink(os.path.join(vms, "noember", "ember.json"))
    os.mkdir(os.path.join(vms, "noconfig"))
    os.mkdir(os.path.join(vms, ".new-half-123"))  # a vm config that never finished
    write(os.path.join(vms, "straybytes"), "x")
    write(os.path.join(vms, "bad name!"), "x")

    vms_seen = fleet.list()
    assert vms_seen["ok"]["state"] == "Stopped"
    assert vms_seen["emptycfg"]["state"] == "Broken"
    assert "config.json" in vms_seen["emptycfg"]["problem"]
    assert vms_seen["garbage"]["state"] == "Broken"
    assert "status.json" in vms_seen["garbage"]["problem"]
    assert vms_seen["reused"]["state"] == "Dead" and vms_seen["reused"]["pid"] is None
    assert vms_seen["reused"]["exit_status"] == "unknown"
    assert vms_seen["nopid"]["state"] == "Stopped" and vms_seen["nopid"]["pid"] is None
    assert vms_seen["bigstatus"]["state"] == "Broken"
    assert vms_seen["fifo"]["state"] == "Broken"
    assert vms_seen["wrongname"]["state"] == "Broken"
    assert vms_seen["noember"]["problem"] == "no ember.json"
    assert vms_seen["noconfig"]["problem"] == "no config.json"
    assert ".new-half-123" not in vms_seen and "bad name!" not in vms_seen
    table = fleet.run("vm", "list").stdout
    assert "Broken: no config.json" in table
    # A folder with a broken status.json boots, and gets a new one.
    fleet.run("vm", "boot", "garbage")
    assert fleet.list()["garbage"]["state"] == "Running"
    fleet.run("vm", "stop", "garbage")
    assert fleet.list()["garbage"]["state"] == "Stopped"
    # vm info and vm rm work on broken folders too.
    r = fleet.run("vm", "info", "noconfig", "--json")
    assert json.loads(r.stdout)["problem"] == "no config.json"
    r = fleet.run("vm", "boot", "noconfig", check=False)
    assert r.returncode == 1 and "no config.json" in r.stderr
    os.makedirs(os.path.join(vms, "emptycfg", "a", "b"))  # rm takes subfolders too
    for name in ("emptycfg", "noconfig", "fifo", "reused"):
        fleet.run("vm", "rm", name)
    assert "noconfig" not in fleet.list()
    assert not os.path.exists(os.path.join(vms, "emptycfg"))
    # The next vm config (holding the lock) clears what a dead one left half-made.
    fleet.config("late")
    assert not os.path.exists(os.path.join(vms, ".new-half-123"))


def run_all(cmds):
    """Start every command at once; their CompletedProcess-like results, in order."""
    procs = [subprocess.Popen(c, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              stdin=subprocess.DEVNULL, text=True) for c in cmds]
    out = []
    for p in procs:
        o, e = p.communicate(timeout=120)
        out.append((p.returncode, o, e))
    return out


def test_racing_configs(fleet):
    """Two emberctl at a time, 20 rounds: distinct names all land, an equal name once."""
    paths = {}
    for i in range(20):
        for name in ("a%d" % i, "b%d" % i, "same%d" % i):
            paths[name] = os.path.join(fleet.cfgdir, name + ".json")
            with open(paths[name], "w") as f:
                json.dump({"boot-source": {"kernel_image_path": "/x"},
                           "emberctl": {"name": name}}, f)
    cmds = []
    for i in range(20):
        cmds += [fleet.cmd("vm", "config", paths["a%d" % i]),
                 fleet.cmd("vm", "config", paths["b%d" % i]),
                 fleet.cmd("vm", "config", paths["same%d" % i]),
                 fleet.cmd("vm", "config", paths["same%d" % i])]
    results = run_all(cmds)
    for i in range(20):
        a, b, s1, s2 = results[4 * i:4 * i + 4]
        assert a[0] == 0 and b[0] == 0, (a, b)
        assert sorted([s1[0], s2[0]]) == [0, 1], (s1, s2)
        loser = s1 if s1[0] else s2
        assert "already exists" in loser[2]
    entries = sorted(os.listdir(os.path.join(fleet.dir, "vms")))
    assert len(entries) == 60, entries  # no temporary folders left
    for e in entries:
        assert sorted(os.listdir(os.path.join(fleet.dir, "vms", e))) == \
            ["config.json", "ember.json"]
    assert all(v["state"] == "Stopped" for v in fleet.list().values())


def test_racing_boot_and_rm(fleet):
    """boot and rm --force of the same VMs at once: each VM ends up either gone with no
    process of it left, or there and consistent; then a clean stop of what is left."""
    names = ["r%d" % i for i in range(8)]
    for n in names:
        fleet.config(n)
    for round_ in range(3):
        cmds = []
        for n in names:
            cmds += [fleet.cmd("vm", "boot", n), fleet.cmd("vm", "rm", "--force", n)]
        run_all(cmds)
        vms = fleet.list()
        for n in names:
            if n not in vms:
                assert not os.path.exists(fleet.vm_dir(n))
                continue
            v = vms[n]
            assert v["state"] in ("Running", "Stopped", "Dead"), v
            if v["state"] == "Running":
                assert alive(v["pid"])
        # Every live process of this fleet belongs to a VM that is listed as running.
        running = {v["pid"] for v in vms.values() if v["state"] == "Running"}
        sups = {fleet.pidfile(n, "supervisor.pid") for n in vms}
        for pid in fleet.processes():
            assert pid in running or pid in sups, pid
        for n in names:
            if n in vms and vms[n]["state"] == "Running":
                fleet.run("vm", "stop", n)
            if n not in vms:
                fleet.config(n)
    assert not any(v["state"] == "Running" for v in fleet.list().values())


def test_concurrent_lists_while_booting(fleet):
    """Readers (shared lock) beside writers: every list is whole, never an error."""
    for i in range(6):
        fleet.config("l%d" % i)
    errors = []

    def lister():
        for _ in range(15):
            r = fleet.run("vm", "list", "--json", check=False)
            if r.returncode != 0:
                errors.append(r.stderr)
            else:
                json.loads(r.stdout)

    t = threading.Thread(target=lister)
    t.start()
    for i in range(6):
        fleet.run("vm", "boot", "l%d" % i)
    for i in range(6):
        fleet.run("vm", "stop", "l%d" % i)
    t.join()
    assert not errors, errors
