# SPDX-License-Identifier: Apache-2.0
"""What review 15 found in emberctl: a FIFO where a log goes, a relative --ember, a console
that a paused VM stops reading, a hung ember's console holding the state directory, a stop
racing a restart, a cut UTF-8 problem text, stale temporary files."""
import json
import os
import signal
import subprocess
import time

import fleetlib


def test_fifo_logs_do_not_hang(fleet):
    fleet.config("f1")
    os.mkfifo(os.path.join(fleet.vm_dir("f1"), "ember.log"))
    r = fleet.run("vm", "boot", "f1", check=False, timeout=15)
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr
    # A symlink is not followed either.
    os.unlink(os.path.join(fleet.vm_dir("f1"), "ember.log"))
    target = os.path.join(fleet.dir, "elsewhere")
    os.symlink(target, os.path.join(fleet.vm_dir("f1"), "ember.log"))
    r = fleet.run("vm", "boot", "f1", check=False, timeout=15)
    assert r.returncode == 1 and not os.path.exists(target), r.stderr
    # The lock was given back: other commands go on.
    fleet.run("vm", "list", timeout=15)

    sw = os.path.join(fleet.dir, "switches", "s1")
    os.makedirs(sw)
    os.mkfifo(os.path.join(sw, "log"))
    r = fleet.run("switch", "create", "s1", check=False, timeout=15)
    assert r.returncode == 1 and "not a regular file" in r.stderr, r.stderr
    fleet.run("vm", "list", timeout=15)


def test_relative_ember(fleet):
    fleet.config("r1")
    bindir = os.path.dirname(fleetlib.EMBER)
    base = os.path.basename(fleetlib.EMBER)
    cmd = [fleetlib.EMBERCTL, "--state-dir", fleet.dir]
    for args, extra in ((["--ember", base], {}), ([], {"EMBER_BIN": base})):
        env = {k: v for k, v in os.environ.items() if k != "EMBER_BIN"}
        env.update(extra)
        r = subprocess.run(cmd + args + ["vm", "boot", "r1"], cwd=bindir, env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        assert fleet.list()["r1"]["state"] == "Running"
        fleet.run("vm", "kill", "r1")
        r = subprocess.run(cmd + args + ["switch", "create", "rs"], cwd=bindir, env=env,
                           capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        fleet.run("switch", "rm", "rs")


def test_console_of_a_paused_vm_still_detaches(fleet):
    fleet.config("p1")
    fleet.run("vm", "boot", "p1")
    fleet.run("vm", "pause", "p1")
    start = time.monotonic()
    r = subprocess.run(fleet.cmd("vm", "console", "p1"), input=b"\0" * (4 << 20) + b"\x1d",
                       capture_output=True, timeout=30)
    took = time.monotonic() - start
    assert r.returncode == 0, r.stderr
    assert took < 5, took
    assert b"dropped" in r.stderr, r.stderr
    # The VM goes on, and the console still serves a viewer.
    fleet.run("vm", "resume", "p1")
    assert fleet.list()["p1"]["state"] == "Running"
    fleet.run("vm", "kill", "p1")


def test_console_sigterm_restores_the_terminal(fleet):
    import pty
    import termios
    fleet.config("t1")
    fleet.run("vm", "boot", "t1")
    master, slave = pty.openpty()
    before = termios.tcgetattr(slave)
    p = subprocess.Popen(fleet.cmd("vm", "console", "t1"), stdin=slave, stdout=slave,
                         stderr=slave, start_new_session=True)
    deadline = time.monotonic() + 10
    while termios.tcgetattr(slave)[3] == before[3]:  # lflag: raw mode clears ICANON, ECHO
        assert time.monotonic() < deadline and p.poll() is None
        time.sleep(0.02)
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=10) == -signal.SIGTERM
    assert termios.tcgetattr(slave) == before
    os.close(master)
    os.close(slave)
    fleet.run("vm", "kill", "t1")


def test_hung_ember_consoles_do_not_block_the_fleet(fleet):
    fleet.config("a")
    fleet.config("b")
    fleet.run("vm", "boot", "a")
    fleet.run("vm", "boot", "b")
    a = fleet.pidfile("a", "ember.pid")
    os.kill(a, signal.SIGSTOP)
    viewers = []
    try:
        # More than the console socket's backlog: the later connects would wait for ember.
        for _ in range(7):
            viewers.append(subprocess.Popen(fleet.cmd("vm", "console", "a"),
                                            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                            stderr=subprocess.DEVNULL))
        time.sleep(0.5)
        start = time.monotonic()
        fleet.run("vm", "list", timeout=20)
        fleet.run("vm", "stop", "b", "--timeout", "5", timeout=20)
        assert time.monotonic() - start < 15
        assert fleet.list()["b"]["state"] in ("Stopped", "Dead")
    finally:
        os.kill(a, signal.SIGCONT)
        for v in viewers:
            v.kill()
            v.wait()
    fleet.run("vm", "kill", "a")


def test_switch_create_keeps_a_live_switchs_sockets(fleet):
    fleet.run("switch", "create", "s1")
    sw = os.path.join(fleet.dir, "switches", "s1")
    with open(os.path.join(sw, "pid")) as f:
        real = f.read()
    with open(os.path.join(sw, "pid"), "w") as f:
        f.write("1 0\n")  # stale: the switch runs on
    r = fleet.run("switch", "create", "s1", check=False, timeout=20)
    assert r.returncode == 1
    assert os.path.exists(os.path.join(sw, "sock")) and os.path.exists(os.path.join(sw, "ctl.sock"))
    with open(os.path.join(sw, "pid"), "w") as f:
        f.write(real)
    assert json.loads(fleet.run("switch", "show", "s1", "--json").stdout)["ports"] == []
    fleet.run("switch", "rm", "s1")


def test_stop_that_raced_a_restart_stops_the_new_ember(fleet):
    """vm stop names the ember it saw (none, between two restarts) in its SIGUSR1; an
    ember the supervisor started since is stopped, not left running."""
    import ctypes
    fleet.config("race", {"restart": "always"})
    fleet.run("vm", "boot", "race")
    sup = fleet.pidfile("race", "supervisor.pid")
    ember = fleet.pidfile("race", "ember.pid")
    libc = ctypes.CDLL(None, use_errno=True)
    # What a vm stop that looked during the back-off sends, arriving after the restart.
    assert libc.sigqueue(sup, signal.SIGUSR1, ctypes.c_void_p(0)) == 0
    deadline = time.monotonic() + 10
    while fleetlib.alive(ember) or fleetlib.alive(sup):
        assert time.monotonic() < deadline, "the new ember runs on"
        time.sleep(0.05)
    v = fleet.list()["race"]
    assert v["state"] in ("Stopped", "Dead") and v["pid"] is None
    assert not fleet.processes()


def test_a_problem_cut_mid_character_is_still_listed(fleet):
    fleet.config("cut")
    path = os.path.join(fleet.vm_dir("cut"), "config.json")
    cfg = json.load(open(path))
    cfg["emberctl"]["name"] = "a" + "\u00e9" * 60  # '%.80s' cuts an é in two
    with open(path, "w") as f:
        json.dump(cfg, f)
    v = fleet.list()["cut"]
    assert v["state"] == "Broken" and "is not a name" in v["problem"], v


def test_every_state_word_is_documented():
    text = subprocess.run([fleetlib.EMBERCTL, "--help"], capture_output=True,
                          text=True).stdout
    readme = open(os.path.join(fleetlib.REPO, "README.md")).read()
    for word in ("Running", "Paused", "Not started", "Unresponsive", "Starting", "Restarting",
                 "Stopped", "Dead", "Broken"):
        assert word in text, word
        assert "`%s`" % word in readme, word


def test_pause_takes_the_lock_exclusive(fleet):
    import fcntl
    fleet.config("pl")
    fleet.run("vm", "boot", "pl")
    with open(os.path.join(fleet.dir, "lock")) as lock:
        fcntl.flock(lock, fcntl.LOCK_SH)  # a reader: a change of state waits for it
        p = subprocess.Popen(fleet.cmd("vm", "pause", "pl"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        time.sleep(0.5)
        assert p.poll() is None
        assert fleet.list()["pl"]["state"] == "Running"
        fcntl.flock(lock, fcntl.LOCK_UN)
        assert p.wait(timeout=10) == 0, p.stderr.read()
    p.stdout.close()
    p.stderr.close()
    assert fleet.list()["pl"]["state"] == "Paused"
    fleet.run("vm", "kill", "pl")


def test_stale_temporary_files_are_cleaned(fleet):
    fleet.config("tmp")
    d = fleet.vm_dir("tmp")
    with open("/proc/sys/kernel/pid_max") as f:
        gone = int(f.read())  # no process ever has it
    old = time.time() - 3600
    stale = os.path.join(d, "status.json.tmp-%d" % gone)
    fresh = os.path.join(d, "ember.pid.tmp-%d" % gone)
    live = os.path.join(d, "config.json.tmp-%d" % os.getpid())
    other = os.path.join(d, "notes.tmp-x")
    for path in (stale, fresh, live, other):
        with open(path, "w") as f:
            f.write("half")
    for path in (stale, live, other):
        os.utime(path, (old, old))
    fleet.run("vm", "list")  # a reader leaves them
    assert os.path.exists(stale)
    fleet.config("another")  # a writer takes the lock exclusive
    assert not os.path.exists(stale)
    for path in (fresh, live, other):
        assert os.path.exists(path), path
    assert fleet.list()["tmp"]["state"] == "Stopped"
