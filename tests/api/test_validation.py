# SPDX-License-Identifier: Apache-2.0
"""Bodies with unknown fields, wrong types or missing required fields are refused
with a 400 whose fault_message names the offending field; nothing is applied."""
import pytest

import embervm
from embervm import TICKER

IMG = "/dev/null"  # an existing path for drives; never opened when the body is refused
RL_NO_REFILL = {"bandwidth": {"size": 1}}

CASES = [
    # (method, path, body, field named in the fault)
    ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "foo": 1}, "foo"),
    ("PUT", "/machine-config", {"vcpu_count": "2", "mem_size_mib": 128}, "vcpu_count"),
    ("PUT", "/machine-config", {"vcpu_count": 1.5, "mem_size_mib": 128}, "vcpu_count"),
    ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": None}, "mem_size_mib"),
    ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "smt": "no"}, "smt"),
    ("PUT", "/machine-config", {"vcpu_count": 1}, "mem_size_mib"),
    ("PATCH", "/machine-config", {"mem_size_mib": "64"}, "mem_size_mib"),
    ("PATCH", "/machine-config", {"vcpus": 2}, "vcpus"),
    ("PUT", "/boot-source", {}, "kernel_image_path"),
    ("PUT", "/boot-source", {"kernel_image_path": 5}, "kernel_image_path"),
    ("PUT", "/boot-source", {"kernel_image_path": TICKER, "bootargs": "x"}, "bootargs"),
    ("PUT", "/boot-source", {"kernel_image_path": TICKER, "boot_args": ["x"]}, "boot_args"),
    ("PUT", "/drives/a", {"drive_id": "a", "path_on_host": IMG}, "is_root_device"),
    ("PUT", "/drives/a", {"drive_id": "a", "path_on_host": IMG, "is_root_device": "no"},
     "is_root_device"),
    ("PUT", "/drives/a", {"drive_id": "a", "path_on_host": IMG, "is_root_device": False,
                          "foo": 1}, "foo"),
    ("PUT", "/drives/a", {"drive_id": "a", "path_on_host": 7, "is_root_device": False},
     "path_on_host"),
    ("PUT", "/drives/a", {"path_on_host": IMG, "is_root_device": False}, "drive_id"),
    ("PUT", "/drives/a", {"drive_id": "a", "path_on_host": IMG, "is_root_device": False,
                          "rate_limiter": RL_NO_REFILL}, "refill_time"),
    ("PUT", "/drives/a", {"drive_id": "a", "path_on_host": IMG, "is_root_device": False,
                          "rate_limiter": {"ops": {"size": "1", "refill_time": 1}}}, "size"),
    ("PUT", "/network-interfaces/e", {"iface_id": "e"}, "host_dev_name"),
    ("PUT", "/network-interfaces/e", {"iface_id": "e", "host_dev_name": "t", "mac": "x"}, "mac"),
    ("PUT", "/vsock", {"uds_path": "/tmp/ea-v"}, "guest_cid"),
    ("PUT", "/vsock", {"guest_cid": "3", "uds_path": "/tmp/ea-v"}, "guest_cid"),
    ("PUT", "/vsock", {"guest_cid": 3}, "uds_path"),
    ("PUT", "/balloon", {"amount_mib": 1}, "deflate_on_oom"),
    ("PUT", "/balloon", {"amount_mib": -1, "deflate_on_oom": False}, "amount_mib"),
    ("PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": 1}, "deflate_on_oom"),
    ("PUT", "/entropy", {"foo": 1}, "foo"),
    ("PUT", "/entropy", {"rate_limiter": {"ops": {"refill_time": 1}}}, "size"),
    ("PUT", "/actions", {}, "action_type"),
    ("PUT", "/actions", {"action_type": 1}, "action_type"),
    ("PUT", "/actions", {"action_type": "InstanceStart", "x": 1}, "x"),
    ("PUT", "/logger", {"level": 5}, "level"),
    ("PUT", "/logger", {"show_level": "yes"}, "show_level"),
    ("PUT", "/logger", {"colour": True}, "colour"),
    ("PUT", "/metrics", {}, "metrics_path"),
    ("PUT", "/metrics", {"metrics_path": 1}, "metrics_path"),
    ("PUT", "/mmds/config", {"version": "V2"}, "network_interfaces"),
    ("PUT", "/mmds/config", {"network_interfaces": "eth0"}, "network_interfaces"),
    ("PATCH", "/vm", {}, "state"),
    ("PATCH", "/vm", {"state": 1}, "state"),
    ("PATCH", "/balloon/statistics", {}, "stats_polling_interval_s"),
    ("PUT", "/machine-config", b'{"vcpu_count": 1, "vcpu_count": 2, "mem_size_mib": 128}',
     "vcpu_count"),
    ("PUT", "/machine-config", b'{"vcpu_count": 1e30, "mem_size_mib": 128}', "vcpu_count"),
    ("PUT", "/machine-config", b'{"vcpu_count": 4294967297, "mem_size_mib": 128}',
     "vcpu_count"),
    ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": -1}, "mem_size_mib"),
    ("PUT", "/balloon", {"amount_mib": 1 << 40, "deflate_on_oom": False}, "amount_mib"),
    ("PUT", "/vsock", {"guest_cid": 1 << 40, "uds_path": "/tmp/ea-v"}, "guest_cid"),
]


def case_id(c):
    method, path, body, field = c
    return "%s%s-%s" % (method, path.replace("/", "-"), field)


@pytest.mark.parametrize("method,path,body,field", CASES, ids=[case_id(c) for c in CASES])
def test_bad_field_named(api, method, path, body, field):
    fault = api.fault(method, path, body)
    assert field in fault, "fault %r does not name %r" % (fault, field)


def test_unknown_action_type(api):
    fault = api.fault("PUT", "/actions", {"action_type": "Reboot"})
    assert "action_type" in fault or "Reboot" in fault, fault
    assert api.ok("GET", "/")["state"] == "Not started"


def test_bad_vm_state(api):
    fault = api.fault("PATCH", "/vm", {"state": "Sleeping"})
    assert "state" in fault or "Sleeping" in fault, fault


def test_nothing_applied_after_refusals(api):
    for method, path, body, _ in CASES:
        api.request(method, path, body)
    c = api.ok("GET", "/vm/config")
    assert (c["machine-config"]["vcpu_count"], c["machine-config"]["mem_size_mib"]) == (1, 128)
    assert not c.get("drives") and not c.get("network-interfaces")
    for key in ("balloon", "vsock", "entropy", "mmds-config"):
        assert c.get(key) is None, key
    assert not (c.get("boot-source") or {}).get("kernel_image_path")
    assert api.ok("GET", "/")["state"] == "Not started"


RUNNING_CASES = [
    # after the start; as in Firecracker the body is checked before the state
    ("PATCH", "/vm", {}, "state"),
    ("PATCH", "/vm", {"state": "Paused", "now": True}, "now"),
    ("PATCH", "/drives/data", {"path_on_host": "/dev/null"}, "drive_id"),
    ("PATCH", "/drives/data", {"drive_id": "data", "path_on_host": 1}, "path_on_host"),
    ("PATCH", "/drives/data", {"drive_id": "data", "is_read_only": True}, "is_read_only"),
    ("PATCH", "/network-interfaces/eth0", {"iface_id": "eth0", "rx_rate_limiter": 5},
     "rx_rate_limiter"),
    ("PATCH", "/balloon", {"amount_mib": "1"}, "amount_mib"),
    ("PATCH", "/balloon/statistics", {"stats_polling_interval_s": True},
     "stats_polling_interval_s"),
    ("PUT", "/actions", {"action_type": "SendCtrlAltDel", "now": 1}, "now"),
    ("PUT", "/machine-config", {"vcpu_count": "x", "mem_size_mib": 64}, "vcpu_count"),
    ("PUT", "/drives/new", {"drive_id": "new", "path_on_host": "/dev/null"}, "is_root_device"),
]


@pytest.fixture(scope="module")
def started(module_spawn):
    e = module_spawn()
    embervm.configure_ticker(e.api)
    e.api.ok("PUT", "/drives/data", embervm.drive("data", embervm.make_file(
        module_spawn.sockdir(), "data.img")))
    e.api.ok("PUT", "/balloon", {"amount_mib": 0, "deflate_on_oom": False,
                                 "stats_polling_interval_s": 1})
    embervm.start(e)
    return e


@pytest.mark.parametrize("method,path,body,field", RUNNING_CASES,
                         ids=[case_id(c) for c in RUNNING_CASES])
def test_bad_field_named_after_start(started, method, path, body, field):
    fault = started.api.fault(method, path, body)
    assert field in fault, "fault %r does not name %r" % (fault, field)
    assert started.api.ok("GET", "/")["state"] == "Running"
