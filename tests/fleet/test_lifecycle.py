# SPDX-License-Identifier: Apache-2.0
"""A VM's life through emberctl: boot, list, pause, resume, stop, kill, rm, restarts."""
import os
import signal
import subprocess
import time

import fleetlib
from fleetlib import alive

FLEET_SIZE = 20


def test_help_shows_a_fleet_session():
    r = subprocess.run([fleetlib.EMBERCTL, "--help"], capture_output=True, text=True)
    assert r.returncode == 0
    for words in ("A fleet session", "emberctl vm config web1.json", "emberctl vm boot",
                  "emberctl vm list", "emberctl switch create lan", "Ctrl-]"):
        assert words in r.stdout, words


def test_bad_usage_exits_2(fleet):
    for args in (["vm"], ["vm", "bogus"], ["vm", "boot"], ["vm", "list", "--force"],
                 ["frobnicate", "x"], ["vm", "stop", "x", "--timeout", "soon"]):
        r = fleet.run(*args, check=False)
        assert r.returncode == 2, (args, r.stderr)
        assert r.stderr.startswith("emberctl: "), r.stderr


def test_twenty_vms(fleet):
    t0 = time.monotonic()
    for i in range(FLEET_SIZE):
        assert fleet.config("vm%02d" % i).stdout == "vm%02d\n" % i
    for i in range(FLEET_SIZE):
        fleet.run("vm", "boot", "vm%02d" % i)
    booted = time.monotonic() - t0
    vms = fleet.list()
    assert sorted(vms) == ["vm%02d" % i for i in range(FLEET_SIZE)]
    pids = set()
    for name, v in vms.items():
        assert v["state"] == "Running", v
        assert v["id"] == name
        assert v["vcpus"] == 1 and v["mem_mib"] == 16
        assert v["uptime_s"] >= 0 and v["cpus"] is None and v["exit_status"] is None
        assert alive(v["pid"]), v
        with open("/proc/%d/cmdline" % v["pid"], "rb") as f:
            assert os.path.join(fleet.vm_dir(name), "api.sock").encode() in f.read()
        pids.add(v["pid"])
    assert len(pids) == FLEET_SIZE
    table = fleet.run("vm", "list").stdout.splitlines()
    assert table[0].split() == ["NAME", "ID", "STATE", "VCPUS", "MEM", "UPTIME", "PID", "CPUS"]
    assert len(table) == FLEET_SIZE + 1

    fleet.run("vm", "pause", "vm07")
    assert fleet.list()["vm07"]["state"] == "Paused"
    assert fleet.list()["vm08"]["state"] == "Running"
    fleet.run("vm", "resume", "vm07")
    assert fleet.list()["vm07"]["state"] == "Running"

    t1 = time.monotonic()
    for i in range(FLEET_SIZE):
        fleet.run("vm", "stop", "vm%02d" % i)
    stopped = time.monotonic() - t1
    for name, v in fleet.list().items():
        assert v["state"] == "Stopped" and v["exit_status"] == "exit 0", v
        assert v["pid"] is None and not alive(vms[name]["pid"])
    assert not fleet.processes()
    print("20 VMs: configured and booted in %.2f s, stopped in %.2f s" % (booted, stopped))


def test_kill_9_ember_is_dead_signal_9(fleet):
    fleet.config("k")
    fleet.run("vm", "boot", "k")
    pid = fleet.list()["k"]["pid"]
    os.kill(pid, signal.SIGKILL)
    v = fleet.wait_state("k", ("Dead",))
    assert v["exit_status"] == "signal 9" and v["pid"] is None
    assert "Dead (signal 9)" in fleet.run("vm", "list").stdout
    fleet.run("vm", "rm", "k")


def test_kill_9_supervisor_and_ember_is_dead_unknown(fleet):
    fleet.config("k2")
    fleet.run("vm", "boot", "k2")
    sup, ember = fleet.pidfile("k2", "supervisor.pid"), fleet.list()["k2"]["pid"]
    os.kill(sup, signal.SIGKILL)
    os.kill(ember, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while (alive(sup) or alive(ember)) and time.monotonic() < deadline:
        time.sleep(0.02)
    v = fleet.list()["k2"]
    assert v["state"] == "Dead" and v["exit_status"] == "unknown", v
    # A new boot starts afresh.
    fleet.run("vm", "boot", "k2")
    assert fleet.list()["k2"]["state"] == "Running"
    fleet.run("vm", "kill", "k2")
    assert fleet.list()["k2"]["exit_status"] == "signal 9"


def test_vm_kill(fleet):
    fleet.config("k3", {"restart": "always"})
    fleet.run("vm", "boot", "k3")
    fleet.run("vm", "kill", "k3")
    v = fleet.list()["k3"]
    assert v["state"] == "Dead" and v["exit_status"] == "signal 9"
    assert fleet.info("k3")["restarts"] == 0
    r = fleet.run("vm", "kill", "k3", check=False)
    assert r.returncode == 1 and "is not running" in r.stderr


def test_stop_without_ctrl_alt_del_takes_sigterm(fleet):
    """A guest that ignores Ctrl-Alt-Del: SIGTERM after the time-out (ember exits 0)."""
    fleet.config("deaf", boot_args="nocad")
    fleet.run("vm", "boot", "deaf")
    viewer = fleet.console_viewer("deaf")
    t0 = time.monotonic()
    fleet.run("vm", "stop", "deaf", "--timeout", "1")
    took = time.monotonic() - t0
    assert 1.0 <= took < 5, took
    v = fleet.list()["deaf"]
    assert v["state"] == "Stopped" and v["exit_status"] == "exit 0"
    assert "CTRL-ALT-DEL-IGNORED" in fleet.guest_output(viewer)


def test_stop_a_paused_vm(fleet):
    fleet.config("p")
    fleet.run("vm", "boot", "p")
    fleet.run("vm", "pause", "p")
    fleet.run("vm", "stop", "p")
    assert fleet.list()["p"]["state"] == "Stopped"


def test_restart_on_failure(fleet):
    fleet.config("r", {"restart": "on-failure"})
    fleet.run("vm", "boot", "r")
    first = fleet.list()["r"]["pid"]
    os.kill(first, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while True:
        v = fleet.list()["r"]
        if v["state"] == "Running" and v["pid"] != first:
            break
        assert time.monotonic() < deadline, v
        time.sleep(0.05)
    assert fleet.info("r")["restarts"] == 1
    # A stop is not a failure, and a stopped VM is not restarted.
    fleet.run("vm", "stop", "r")
    time.sleep(0.5)
    v = fleet.list()["r"]
    assert v["state"] == "Stopped" and v["pid"] is None
    assert not fleet.processes()


def test_restart_no_leaves_it_dead(fleet):
    fleet.config("n")
    fleet.run("vm", "boot", "n")
    os.kill(fleet.list()["n"]["pid"], signal.SIGKILL)
    fleet.wait_state("n", ("Dead",))
    time.sleep(0.3)
    assert fleet.list()["n"]["state"] == "Dead"
    assert not fleet.processes()


def test_boot_failure_shows_the_log(fleet):
    fleet.config("bad", extra={"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}})
    r = fleet.run("vm", "boot", "bad", check=False)
    assert r.returncode == 1
    assert "ember exited during boot" in r.stderr
    assert "/nonexistent/vmlinux" in r.stderr  # ember's own words, from its log
    v = fleet.list()["bad"]
    assert v["state"] == "Dead" and v["exit_status"].startswith("exit "), v
    assert not fleet.processes()


def test_boot_twice_and_rm(fleet):
    fleet.config("b")
    fleet.run("vm", "boot", "b")
    r = fleet.run("vm", "boot", "b", check=False)
    assert r.returncode == 1 and "already running" in r.stderr
    r = fleet.run("vm", "rm", "b", check=False)
    assert r.returncode == 1 and "is running" in r.stderr
    pid = fleet.list()["b"]["pid"]
    fleet.run("vm", "rm", "b", "--force")
    assert "b" not in fleet.list() and not alive(pid)
    assert not os.path.exists(fleet.vm_dir("b"))
    r = fleet.run("vm", "boot", "b", check=False)
    assert r.returncode == 1 and "no VM named b" in r.stderr
    assert not fleet.processes()


def test_cpus_overlap_refused(fleet):
    fleet.config("c1", {"cpus": "0"})
    fleet.config("c2", {"cpus": "0-1"})
    fleet.config("c3", {"cpus": "1", "share_cpus": True})
    fleet.run("vm", "boot", "c1")
    r = fleet.run("vm", "boot", "c2", check=False)
    assert r.returncode == 1 and "overlap" in r.stderr and "c1" in r.stderr, r.stderr
    fleet.run("vm", "boot", "c2", "--share-cpus")
    fleet.run("vm", "boot", "c3")
    vms = fleet.list()
    assert vms["c1"]["cpus"] == "0" and vms["c2"]["cpus"] == "0-1"
    # ember --cpus: every thread of each VM runs on its CPUs.
    for name, want in (("c1", "0"), ("c2", "0-1"), ("c3", "1")):
        tasks = "/proc/%d/task" % vms[name]["pid"]
        for t in os.listdir(tasks):
            with open(os.path.join(tasks, t, "status")) as f:
                allowed = [l.split()[1] for l in f if l.startswith("Cpus_allowed_list")]
            assert allowed == [want], (name, t, allowed)
    for n in ("c1", "c2", "c3"):
        fleet.run("vm", "stop", n)


def test_info(fleet):
    fleet.config("i", {"restart": "on-failure", "cpus": "1"})
    fleet.run("vm", "boot", "i")
    info = fleet.info("i")
    assert info["state"] == "Running" and info["restart"] == "on-failure"
    assert info["api_sock"] == os.path.join(fleet.vm_dir("i"), "api.sock")
    assert info["console_sock"] == os.path.join(fleet.vm_dir("i"), "console.sock")
    assert info["log"] == os.path.join(fleet.vm_dir("i"), "ember.log")
    assert info["config"]["emberctl"]["name"] == "i"
    assert info["restarts"] == 0 and alive(info["supervisor_pid"])
    text = fleet.run("vm", "info", "i").stdout
    assert "api_sock" in text and "config:" in text
    fleet.run("vm", "stop", "i")
