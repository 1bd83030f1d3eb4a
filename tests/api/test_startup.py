# SPDX-License-Identifier: Apache-2.0
"""Starting from a config file (with and without the API) and preloading MMDS."""
import json
import os
import re
import stat
import time

from embervm import GUEST_DIR, TICKER, make_file


def write_json(directory, name, obj):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        json.dump(obj, f)
    return path


def config(scratch):
    return {
        "boot-source": {"kernel_image_path": TICKER, "boot_args": "console=ttyS0"},
        "machine-config": {"vcpu_count": 1, "mem_size_mib": 96},
        "drives": [{"drive_id": "data", "path_on_host": make_file(scratch, "data.img"),
                    "is_root_device": False, "is_read_only": True}],
        "balloon": {"amount_mib": 0, "deflate_on_oom": True},
        "entropy": {},
    }


def test_config_file_with_api_boots_at_once(spawn, scratch):
    cfg = config(scratch)
    e = spawn(["--config-file", write_json(scratch, "vm.json", cfg)])
    e.wait_serial("TICKER-READY", timeout=15)
    api = e.api
    assert api.ok("GET", "/")["state"] == "Running"
    c = api.ok("GET", "/vm/config")
    assert c["boot-source"]["kernel_image_path"] == TICKER
    assert c["boot-source"]["boot_args"] == "console=ttyS0"
    assert (c["machine-config"]["vcpu_count"], c["machine-config"]["mem_size_mib"]) == (1, 96)
    assert [(d["drive_id"], d["path_on_host"], d["is_read_only"]) for d in c["drives"]] == \
        [("data", cfg["drives"][0]["path_on_host"], True)]
    assert (c["balloon"]["amount_mib"], c["balloon"]["deflate_on_oom"]) == (0, True)
    assert isinstance(c["entropy"], dict)
    # it is started: configuration is refused, runtime operations work
    api.fault("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    api.fault("PUT", "/actions", {"action_type": "InstanceStart"})
    api.ok("PATCH", "/vm", {"state": "Paused"})
    api.ok("PATCH", "/vm", {"state": "Resumed"})
    e.wait_ticks(2, timeout=5)


def test_config_file_acpi_off(spawn, scratch):
    """"acpi": false in machine-config is --no-acpi: the virtio devices go back on the
    command line (the boot-info guest prints it); by default they are in the DSDT only."""
    seen = {}
    for acpi in (True, False):
        cfg = config(scratch)
        cfg["boot-source"]["kernel_image_path"] = os.path.join(GUEST_DIR, "pvh_boot.elf")
        if not acpi:
            cfg["machine-config"]["acpi"] = False
        e = spawn(["--no-api", "--config-file", write_json(scratch, "vm.json", cfg)],
                  api_sock=False)
        e.wait_serial("CMDLINE=", timeout=15)
        e.wait_exit(15)
        seen[acpi] = re.findall(r"virtio_mmio\.device=\S+", e.serial())
    assert seen[True] == []
    assert len(seen[False]) == 3, seen[False]  # the drive, the balloon, the rng


def socket_files(directory):
    found = []
    for root, _, files in os.walk(directory):
        for f in files:
            p = os.path.join(root, f)
            if stat.S_ISSOCK(os.lstat(p).st_mode):
                found.append(p)
    return found


def test_config_file_without_api(spawn, scratch):
    default_sock = "/run/firecracker.socket"
    had_default = os.path.exists(default_sock)
    e = spawn(["--no-api", "--config-file", write_json(scratch, "vm.json", config(scratch))],
              api_sock=False)
    e.wait_serial("TICKER-READY", timeout=15)
    e.wait_ticks(2, timeout=5)
    assert socket_files(e.workdir) == [] and socket_files(scratch) == []
    assert os.path.exists(default_sock) == had_default
    assert e.alive()
    assert e.stop() == 0


def test_config_file_ctrl_alt_del_exit(spawn, scratch):
    """A config-file VM that resets makes ember exit 0 (and the API goes away)."""
    e = spawn(["--config-file", write_json(scratch, "vm.json", config(scratch))])
    e.wait_serial("TICKER-READY", timeout=15)
    e.api.ok("PUT", "/actions", {"action_type": "SendCtrlAltDel"})
    assert e.wait_exit(10) == 0, e.describe()
    assert not os.path.exists(e.sock) or not e.alive()


def test_config_file_refused(spawn, scratch):
    cfg = config(scratch)
    cfg["foo"] = 1
    e = spawn(["--config-file", write_json(scratch, "bad.json", cfg)], wait=False)
    rc = e.wait_exit(10)
    assert rc not in (None, 0), e.describe()
    assert "foo" in e.stderr()


def test_metadata_preloads_mmds(spawn, scratch):
    data = {"latest": {"meta-data": {"instance-id": "i-1234", "list": [1, 2, 3]}}}
    e = spawn(["--metadata", write_json(scratch, "meta.json", data)])
    assert e.api.ok("GET", "/mmds") == data
    e.api.ok("PATCH", "/mmds", {"latest": {"user-data": "x"}})
    got = e.api.ok("GET", "/mmds")
    assert got["latest"]["user-data"] == "x"
    assert got["latest"]["meta-data"]["instance-id"] == "i-1234"


def test_metadata_with_config_file(spawn, scratch):
    data = {"k": "v"}
    e = spawn(["--config-file", write_json(scratch, "vm.json", config(scratch)),
               "--metadata", write_json(scratch, "meta.json", data)])
    e.wait_serial("TICKER-READY", timeout=15)
    assert e.api.ok("GET", "/mmds") == data


def test_metadata_bad_json_refused(spawn, scratch):
    path = os.path.join(scratch, "meta.json")
    with open(path, "w") as f:
        f.write("{not json")
    e = spawn(["--metadata", path], wait=False)
    deadline = time.monotonic() + 10
    while e.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not e.alive(), "ember runs with a metadata file that is not JSON"
    assert e.wait_exit(1) not in (None, 0)


LOG_LINE = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+ \[%s:[^\]\s]+\] \S"


def read_lines(path, timeout=3.0):
    """The log's lines, once there are some (ember may write them just after answering)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(path) as f:
                lines = [ln for ln in f.read().splitlines() if ln]
        except FileNotFoundError:
            lines = []
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.05)


def test_log_path_option(spawn, scratch):
    """--log-path writes Firecracker's log format: '<time> [<id>:<thread>[:LEVEL]] <msg>'."""
    log = os.path.join(scratch, "ember.log")
    e = spawn(["--log-path", log, "--level", "Info", "--show-level", "--id", "logtest"])
    e.api.fault("GET", "/nope")
    lines = read_lines(log)
    assert lines, "nothing logged at Info"
    for ln in lines:
        assert re.match(LOG_LINE % "logtest", ln), ln
    assert any(":INFO]" in ln for ln in lines), lines


def test_put_logger_moves_the_log(vm, scratch):
    log = os.path.join(scratch, "api.log")
    vm.api.ok("PUT", "/logger", {"log_path": log, "level": "Debug", "show_level": True,
                                 "show_log_origin": True})
    vm.api.fault("GET", "/nope")
    vm.api.ok("GET", "/machine-config")
    lines = read_lines(log)
    assert lines, "nothing logged at Debug"
    for ln in lines:
        assert re.match(LOG_LINE % "anonymous-instance", ln), ln
