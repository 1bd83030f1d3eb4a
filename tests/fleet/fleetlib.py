# SPDX-License-Identifier: Apache-2.0
"""The emberctl tests' helpers: a state directory of its own per test, emberctl runs,
VM configs of the fleet_idle guest, and a sweep that leaves no process behind.
EMBERCTL, EMBER_BIN and GUEST_DIR override build/emberctl, build/ember, build/guest."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
EMBERCTL = os.path.abspath(os.environ.get("EMBERCTL", os.path.join(REPO, "build", "emberctl")))
EMBER = os.path.abspath(os.environ.get("EMBER_BIN", os.path.join(REPO, "build", "ember")))
GUEST_DIR = os.path.abspath(os.environ.get("GUEST_DIR", os.path.join(REPO, "build", "guest")))
IDLE = os.path.join(GUEST_DIR, "fleet_idle.elf")
SWITCH = os.path.join(os.path.dirname(EMBER), "ember-switch")


def ember_has(option):
    r = subprocess.run([EMBER, "--help"], capture_output=True, text=True)
    return option in r.stdout + r.stderr


def proc_start(pid):
    """The start time of /proc/PID/stat (field 22), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            text = f.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def alive(pid):
    return pid is not None and proc_start(pid) is not None


class Fleet:
    """One state directory and the emberctl commands run on it."""

    def __init__(self, ember=None):
        # Short: the VMs' sockets live below it (108 bytes for a socket path).
        self.dir = tempfile.mkdtemp(prefix="ef-", dir="/tmp")
        self.ember = ember or EMBER
        self.cfgdir = os.path.join(self.dir, "cfg")
        os.makedirs(self.cfgdir)

    def cmd(self, *args):
        return [EMBERCTL, "--state-dir", self.dir, "--ember", self.ember] + [str(a) for a in args]

    def run(self, *args, check=True, timeout=60, input=None):
        r = subprocess.run(self.cmd(*args), capture_output=True, text=True, timeout=timeout,
                           input=input, stdin=None if input is not None else subprocess.DEVNULL)
        if check and r.returncode != 0:
            raise AssertionError("emberctl %s: exit %d\nstdout: %s\nstderr: %s" % (
                " ".join(str(a) for a in args), r.returncode, r.stdout, r.stderr))
        return r

    def config(self, name, block=None, mem=16, boot_args=None, extra=None, check=True):
        doc = {
            "boot-source": {"kernel_image_path": IDLE},
            "machine-config": {"vcpu_count": 1, "mem_size_mib": mem},
            "emberctl": dict({"name": name}, **(block or {})),
        }
        if boot_args:
            doc["boot-source"]["boot_args"] = boot_args
        doc.update(extra or {})
        path = os.path.join(self.cfgdir, "%s.json" % name)
        with open(path, "w") as f:
            json.dump(doc, f)
        return self.run("vm", "config", path, check=check)

    def console_viewer(self, name):
        """A `vm console` attached until the VM ends."""
        return subprocess.Popen(self.cmd("vm", "console", name), stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)

    def guest_output(self, viewer):
        """What the guest wrote, as (viewer) saw it until the console closed."""
        out = viewer.stdout.read()  # to the console's close: the VM has ended
        viewer.stdin.close()
        viewer.wait(timeout=20)
        viewer.stdout.close()
        viewer.stderr.close()
        return out.decode(errors="replace")

    def list(self):
        return {v["name"]: v for v in json.loads(self.run("vm", "list", "--json").stdout)}

    def info(self, name):
        return json.loads(self.run("vm", "info", name, "--json").stdout)

    def vm_dir(self, name):
        return os.path.join(self.dir, "vms", name)

    def pidfile(self, name, leaf):
        try:
            with open(os.path.join(self.vm_dir(name), leaf)) as f:
                return int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def wait_state(self, name, states, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            v = self.list().get(name)
            if v and v["state"] in states:
                return v
            if time.monotonic() > deadline:
                raise AssertionError("%s: state %s, not %s" % (name, v and v["state"], states))
            time.sleep(0.05)

    def processes(self):
        """Every live process whose command line names this state directory."""
        found = []
        for p in os.listdir("/proc"):
            if not p.isdigit():
                continue
            try:
                with open("/proc/%s/cmdline" % p, "rb") as f:
                    cmd = f.read()
            except OSError:
                continue
            d = self.dir.encode()
            if (d + b"/" in cmd or d + b"\0" in cmd) and alive(int(p)):
                found.append(int(p))
        return found

    def cleanup(self):
        """Kill what is left (supervisors first, so that nothing restarts) and remove the dir."""
        leftovers = []
        for leaf in ("supervisor.pid", "ember.pid", "pid"):
            for sub in ("vms", "switches"):
                base = os.path.join(self.dir, sub)
                for name in os.listdir(base) if os.path.isdir(base) else []:
                    path = os.path.join(base, name, leaf)
                    try:
                        with open(path) as f:
                            pid, start = (int(x) for x in f.read().split()[:2])
                    except (OSError, ValueError):
                        continue
                    if proc_start(pid) == start:
                        leftovers.append(pid)
                        os.kill(pid, signal.SIGKILL)
        for pid in self.processes():
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)
        return leftovers
