# SPDX-License-Identifier: Apache-2.0
"""Client flows: ember started and driven the way three Firecracker clients start and drive
Firecracker, each checked to a booted tiny guest (the ticker).

- firecracker-go-sdk: exec with --api-sock and --id, poll GET /machine-config until it
  answers, then PUT logger and metrics (FIFOs the client drains), machine-config,
  boot-source, drives "1".., network-interfaces (when a TAP can be made), vsock,
  InstanceStart; stop with SendCtrlAltDel and wait for the process to exit.
- Kata Containers: exec with --api-sock and --config-file, poll GET / until "Running", then
  hot-swap a placeholder drive with PATCH /drives/{id}, as Kata attaches container disks.
- flintlock: exec with --id, --boot-timer, --no-api, --config-file and --metadata.
"""
import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

import embervm
from embervm import TICKER, make_file

# TIMESTAMP [ID:THREAD(:LEVEL)(:FILE:LINE)] message, the optional parts as configured.
FC_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9} \[([\w-]+):[^:\]]+"
                         r"(:(?:ERROR|WARN|INFO|DEBUG))?(:[^:\]]+:\d+)?\] .+$")


class FifoReader(threading.Thread):
    """Drains a FIFO the way the go SDK's log and metrics goroutines do."""

    def __init__(self, path):
        super().__init__(daemon=True)
        os.mkfifo(path)
        self.path = path
        self.lines = []

    def run(self):
        with open(self.path, "r", errors="replace") as f:
            for line in f:
                self.lines.append(line.rstrip("\n"))


def poll_until(fn, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        try:
            v = fn()
            if v:
                return v
        except (OSError, AssertionError):
            pass
        if time.monotonic() > deadline:
            pytest.fail("timed out waiting for " + what)
        time.sleep(0.02)


def test_firecracker_go_sdk_flow(spawn, scratch, request):
    vm = spawn(["--id", "sdk-vm-1"], wait=False)
    # waitForSocket: the socket file, then GET /machine-config until it answers 200.
    poll_until(lambda: os.path.exists(vm.sock), what="the API socket")
    poll_until(lambda: vm.new_api().get("/machine-config").status == 200,
               what="GET /machine-config")
    api = vm.api
    log = FifoReader(os.path.join(scratch, "log.fifo"))
    metrics = FifoReader(os.path.join(scratch, "metrics.fifo"))
    log.start()
    metrics.start()
    api.ok("PUT", "/logger", {"log_path": log.path, "level": "Debug", "show_level": True,
                              "show_log_origin": True})
    api.ok("PUT", "/metrics", {"metrics_path": metrics.path})
    api.ok("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 64, "smt": False})
    api.ok("PUT", "/boot-source", {"kernel_image_path": TICKER,
                                   "boot_args": "console=ttyS0 reboot=k panic=1"})
    for i in (1, 2):
        path = make_file(scratch, "disk%d.img" % i)
        api.ok("PUT", "/drives/%d" % i, {"drive_id": str(i), "path_on_host": path,
                                         "is_root_device": i == 1, "is_read_only": False})
    tap = "embsdk%d" % (os.getpid() % 10000)
    if subprocess.run(["ip", "tuntap", "add", "dev", tap, "mode", "tap"],
                      capture_output=True).returncode == 0:
        request.addfinalizer(lambda: subprocess.run(["ip", "link", "del", tap],
                                                    capture_output=True))
        api.ok("PUT", "/network-interfaces/1", {"iface_id": "1", "host_dev_name": tap,
                                                "guest_mac": "06:00:ac:10:00:02"})
    api.ok("PUT", "/vsock", {"guest_cid": 3, "uds_path": os.path.join(scratch, "v.sock")})
    api.ok("PUT", "/actions", {"action_type": "InstanceStart"})
    vm.wait_serial("TICKER-READY", 15)
    assert api.ok("GET", "/")["state"] == "Running"
    cfg = api.ok("GET", "/vm/config")
    assert [d["drive_id"] for d in cfg["drives"]] == ["1", "2"]
    assert cfg["machine-config"]["vcpu_count"] == 2
    api.ok("PUT", "/actions", {"action_type": "FlushMetrics"})
    # StopVMM: Ctrl-Alt-Del, then the SDK waits for the process.
    api.ok("PUT", "/actions", {"action_type": "SendCtrlAltDel"})
    assert vm.wait_exit(15) == 0, vm.describe()
    assert "CTRL-ALT-DEL" in vm.serial()
    log.join(5)
    metrics.join(5)
    assert log.lines, "nothing came through the log FIFO"
    for line in log.lines:
        m = FC_LOG_LINE.match(line)
        assert m and m.group(2) and m.group(3), "not Firecracker's log format: %r" % line
        assert m.group(1) == "sdk-vm-1"
    assert metrics.lines, "no metrics line came through the FIFO"
    flushed = [json.loads(x) for x in metrics.lines]
    assert all("utc_timestamp_ms" in m for m in flushed)
    assert any(m["put_api_requests"]["actions_count"] >= 1 for m in flushed)


def test_kata_flow(spawn, scratch):
    placeholder = make_file(scratch, "placeholder.img", 0)
    real = make_file(scratch, "container.img", 4 << 20)
    config = {
        "boot-source": {"kernel_image_path": TICKER, "boot_args": "console=ttyS0"},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
        "drives": [{"drive_id": "drive_0", "path_on_host": placeholder,
                    "is_root_device": False, "is_read_only": False}],
        "vsock": {"guest_cid": 3, "uds_path": os.path.join(scratch, "kata.hvsock")},
        "logger": {"log_path": os.path.join(scratch, "kata.log"), "level": "Info"},
    }
    path = os.path.join(scratch, "kata.json")
    with open(path, "w") as f:
        json.dump(config, f)
    vm = spawn(["--id", "kata-1", "--config-file", path])
    poll_until(lambda: vm.new_api().get("/").json["state"] == "Running",
               what='GET / state "Running"')
    vm.wait_serial("TICKER-READY", 15)
    # Kata attaches a container's block device by swapping the placeholder's file.
    vm.api.ok("PATCH", "/drives/drive_0", {"drive_id": "drive_0", "path_on_host": real})
    assert vm.api.ok("GET", "/vm/config")["drives"][0]["path_on_host"] == real
    vm.wait_ticks(2)
    # Kata stops the VMM by killing it.
    vm.proc.send_signal(signal.SIGTERM)
    assert vm.wait_exit(10) == 0, vm.describe()
    with open(config["logger"]["log_path"]) as f:
        assert any(FC_LOG_LINE.match(line.rstrip("\n")) for line in f)


def test_flintlock_flow(spawn, scratch):
    config = {
        "boot-source": {"kernel_image_path": TICKER, "boot_args": "console=ttyS0"},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
        "drives": [{"drive_id": "root", "path_on_host": make_file(scratch, "root.img"),
                    "is_root_device": True, "is_read_only": True}],
    }
    cfg_path = os.path.join(scratch, "flintlock.json")
    meta_path = os.path.join(scratch, "metadata.json")
    with open(cfg_path, "w") as f:
        json.dump(config, f)
    with open(meta_path, "w") as f:
        json.dump({"latest": {"meta-data": {"instance-id": "ns/vm1"}}}, f)
    vm = spawn(["--id", "vm1", "--boot-timer", "--no-api", "--config-file", cfg_path,
                "--metadata", meta_path], api_sock=False)
    vm.wait_serial("TICKER-READY", 15)
    vm.wait_ticks(2)
    assert not [p for p in os.listdir(scratch) if p.endswith(".sock")]
    vm.proc.send_signal(signal.SIGTERM)
    assert vm.wait_exit(10) == 0, vm.describe()
