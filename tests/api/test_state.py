# SPDX-License-Identifier: Apache-2.0
"""What is allowed before and after InstanceStart, and what a running VM does:
pause/resume, Ctrl-Alt-Del, drive updates, metrics, balloon, MMDS."""
import json
import os
import time

import pytest

import embervm
from apiclient import POST_BOOT_ONLY, PRE_BOOT_ONLY
from embervm import TICKER, drive, make_file, ticker_boot_source


@pytest.fixture(scope="module")
def booted(module_spawn):
    """One running ticker for the tests that leave it running, with a drive, a
    balloon with statistics, metrics and MMDS configured before the start."""
    e = module_spawn()
    d = module_spawn.sockdir()
    e.scratch = d
    e.metrics = os.path.join(d, "metrics.json")
    api = e.api
    embervm.configure_ticker(api)
    api.ok("PUT", "/drives/data", drive("data", make_file(d, "data.img")))
    api.ok("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                               "stats_polling_interval_s": 1})
    api.ok("PUT", "/metrics", {"metrics_path": e.metrics})
    embervm.start(e)
    return e


def pre_boot_requests(d):
    """Requests that only configure a VM that has not started; valid bodies."""
    img = make_file(d, "pre.img")
    return [
        ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64}),
        ("PATCH", "/machine-config", {"vcpu_count": 1}),
        ("PUT", "/boot-source", ticker_boot_source()),
        ("PUT", "/drives/new", drive("new", img)),
        ("PUT", "/drives/data", drive("data", img)),
        ("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "host_dev_name": "eatap0"}),
        ("PUT", "/vsock", {"guest_cid": 3, "uds_path": os.path.join(d, "v.sock")}),
        ("PUT", "/entropy", {}),
        ("PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": False}),
        ("PUT", "/logger", {"level": "Info"}),
        ("PUT", "/metrics", {"metrics_path": os.path.join(d, "m2")}),
        ("PUT", "/mmds/config", {"network_interfaces": ["eth0"]}),
        ("PUT", "/actions", {"action_type": "InstanceStart"}),
    ]


PRE_BOOT_IDS = ["PUT-machine-config", "PATCH-machine-config", "PUT-boot-source",
                "PUT-drives-new", "PUT-drives-existing", "PUT-network-interfaces", "PUT-vsock",
                "PUT-entropy", "PUT-balloon", "PUT-logger", "PUT-metrics", "PUT-mmds-config",
                "InstanceStart"]


@pytest.mark.parametrize("index", range(len(PRE_BOOT_IDS)), ids=PRE_BOOT_IDS)
def test_pre_boot_only_refused_after_start(booted, index):
    method, path, body = pre_boot_requests(booted.scratch)[index]
    assert booted.api.fault(method, path, body) == PRE_BOOT_ONLY
    assert booted.api.ok("GET", "/")["state"] == "Running"


POST_BOOT = [
    ("PATCH", "/drives/data", {"drive_id": "data", "path_on_host": "/dev/null"}),
    ("PATCH", "/network-interfaces/eth0", {"iface_id": "eth0"}),
    ("PATCH", "/vm", {"state": "Paused"}),
    ("PATCH", "/vm", {"state": "Resumed"}),
    ("PUT", "/actions", {"action_type": "SendCtrlAltDel"}),
    ("PUT", "/actions", {"action_type": "FlushMetrics"}),
    ("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 2}),
    ("PATCH", "/balloon", {"amount_mib": 1}),
    ("GET", "/balloon/statistics", None),
]
POST_BOOT_IDS = ["PATCH-drives", "PATCH-network-interfaces", "PATCH-vm-Paused",
                 "PATCH-vm-Resumed", "SendCtrlAltDel", "FlushMetrics",
                 "PATCH-balloon-statistics", "PATCH-balloon", "GET-balloon-statistics"]


@pytest.mark.parametrize("method,path,body", POST_BOOT, ids=POST_BOOT_IDS)
def test_post_boot_only_refused_before_start(vm, scratch, method, path, body):
    api = vm.api
    # give the request something to act on, so only the state is wrong
    api.ok("PUT", "/drives/data", drive("data", make_file(scratch, "data.img")))
    api.ok("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                               "stats_polling_interval_s": 1})
    api.ok("PUT", "/metrics", {"metrics_path": os.path.join(scratch, "metrics")})
    assert api.fault(method, path, body) == POST_BOOT_ONLY
    assert api.ok("GET", "/")["state"] == "Not started"


def test_instance_start_without_boot_source(api):
    api.fault("PUT", "/actions", {"action_type": "InstanceStart"})
    assert api.ok("GET", "/")["state"] == "Not started"
    # and the VM can still be configured and started afterwards
    embervm.configure_ticker(api)


def test_instance_start_boots(vm):
    embervm.configure_ticker(vm.api)
    assert vm.api.ok("GET", "/")["state"] == "Not started"
    assert "TICK" not in vm.serial()
    embervm.start(vm)
    assert vm.api.ok("GET", "/")["state"] == "Running"
    vm.wait_ticks(3)
    c = vm.api.ok("GET", "/vm/config")
    assert c["boot-source"]["kernel_image_path"] == TICKER
    assert c["machine-config"]["mem_size_mib"] == 64


def test_reads_still_work_after_start(booted):
    api = booted.api
    assert api.ok("GET", "/machine-config")["mem_size_mib"] == 64
    assert api.ok("GET", "/vm/config")["drives"][0]["drive_id"] == "data"
    assert api.ok("GET", "/version")["firecracker_version"]
    assert api.ok("GET", "/balloon")["stats_polling_interval_s"] == 1


def test_pause_resume(running):
    api = running.api
    running.wait_ticks(2)
    api.ok("PATCH", "/vm", {"state": "Paused"})
    assert api.ok("GET", "/")["state"] == "Paused"
    time.sleep(0.3)  # a line the vCPU was writing when it stopped may still land
    size = running.serial_size()
    time.sleep(1.2)  # the ticker would print ~12 lines in this time
    assert running.serial_size() == size, "serial output grew while paused:\n" + \
        running.serial()[-300:]
    api.ok("PATCH", "/vm", {"state": "Paused"})  # pausing a paused VM is fine
    api.ok("PATCH", "/vm", {"state": "Resumed"})
    assert api.ok("GET", "/")["state"] == "Running"
    running.wait_ticks(3, timeout=5)
    assert running.serial_size() > size
    api.ok("PATCH", "/vm", {"state": "Resumed"})  # so is resuming a running one
    assert api.ok("GET", "/")["state"] == "Running"


def test_sigterm_while_paused_exits_0(running):
    running.api.ok("PATCH", "/vm", {"state": "Paused"})
    assert running.stop() == 0


def test_ctrl_alt_del_resets_guest(running):
    running.api.ok("PUT", "/actions", {"action_type": "SendCtrlAltDel"})
    running.wait_serial("CTRL-ALT-DEL", timeout=5)
    assert running.wait_exit(10) == 0, running.describe()


def test_patch_drive_after_start(booted):
    api = booted.api
    new = make_file(booted.scratch, "data2.img")
    api.ok("PATCH", "/drives/data", {"drive_id": "data", "path_on_host": new})
    assert api.ok("GET", "/vm/config")["drives"][0]["path_on_host"] == new
    api.ok("PATCH", "/drives/data", {"drive_id": "data", "rate_limiter": {
        "ops": {"size": 100, "refill_time": 1000}}})
    assert api.ok("GET", "/")["state"] == "Running"


def test_patch_drive_bad_requests_after_start(booted):
    api = booted.api
    api.fault("PATCH", "/drives/nosuch", {"drive_id": "nosuch",
                                          "path_on_host": make_file(booted.scratch, "x.img")})
    api.fault("PATCH", "/drives/data", {"drive_id": "other", "path_on_host": "/dev/null"})
    api.fault("PATCH", "/drives/data", {"drive_id": "data",
                                        "path_on_host": os.path.join(booted.scratch, "none")})
    assert api.ok("GET", "/")["state"] == "Running"


def test_flush_metrics(booted):
    booted.api.ok("PUT", "/actions", {"action_type": "FlushMetrics"})
    deadline = time.monotonic() + 5
    while True:
        with open(booted.metrics) as f:
            lines = [ln for ln in f.read().splitlines() if ln.strip()]
        if lines or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert lines, "no metrics line after FlushMetrics"
    assert isinstance(json.loads(lines[-1]), dict)


def test_flush_metrics_to_fifo(spawn, scratch):
    fifo = os.path.join(scratch, "metrics.fifo")
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        e = spawn()
        embervm.configure_ticker(e.api)
        e.api.ok("PUT", "/metrics", {"metrics_path": fifo})
        embervm.start(e)
        e.api.ok("PUT", "/actions", {"action_type": "FlushMetrics"})
        data = b""
        deadline = time.monotonic() + 5
        while b"\n" not in data and time.monotonic() < deadline:
            try:
                data += os.read(reader, 1 << 20)
            except BlockingIOError:
                time.sleep(0.05)
        assert b"\n" in data, "no metrics line in the FIFO"
        assert isinstance(json.loads(data.split(b"\n")[0]), dict)
    finally:
        os.close(reader)


def test_balloon_after_start(booted):
    api = booted.api
    api.ok("PATCH", "/balloon", {"amount_mib": 2})
    assert api.ok("GET", "/balloon")["amount_mib"] == 2
    stats = api.ok("GET", "/balloon/statistics")
    assert stats["target_mib"] == 2
    assert stats["target_pages"] == 2 * 256
    api.ok("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 3})
    assert api.ok("GET", "/balloon")["stats_polling_interval_s"] == 3
    # statistics cannot be switched off after the start
    api.fault("PATCH", "/balloon/statistics", {"stats_polling_interval_s": 0})
    api.ok("PATCH", "/balloon", {"amount_mib": 0})


def test_balloon_statistics_disabled(running):
    running.api.fault("GET", "/balloon")  # no balloon at all
    running.api.fault("GET", "/balloon/statistics")
    running.api.fault("PATCH", "/balloon", {"amount_mib": 1})


def test_sigterm_exits_0(spawn, running):
    idle = spawn()
    assert idle.stop() == 0, "an unstarted ember did not exit 0 on SIGTERM:\n" + idle.describe()
    assert running.stop() == 0, "a running ember did not exit 0 on SIGTERM:\n" + \
        running.describe()


def test_guest_still_ticking(booted):
    """After everything above, the shared guest still runs."""
    booted.wait_ticks(2, timeout=5)
    assert booted.api.ok("GET", "/")["state"] == "Running"
