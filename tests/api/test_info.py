# SPDX-License-Identifier: Apache-2.0
"""GET / and GET /version."""


def test_instance_info_defaults(api):
    info = api.ok("GET", "/")
    assert set(info) >= {"id", "state", "vmm_version", "app_name"}
    assert info["id"] == "anonymous-instance"
    assert info["state"] == "Not started"
    assert info["vmm_version"] and info["app_name"]


def test_instance_id_option(spawn):
    e = spawn(["--id", "my_vm-1"])
    assert e.api.ok("GET", "/")["id"] == "my_vm-1"


def test_version(api):
    v = api.ok("GET", "/version")
    assert isinstance(v["firecracker_version"], str) and v["firecracker_version"]
    assert api.ok("GET", "/")["vmm_version"]


def test_state_running_then_paused(running):
    api = running.api
    assert api.ok("GET", "/")["state"] == "Running"
    api.ok("PATCH", "/vm", {"state": "Paused"})
    assert api.ok("GET", "/")["state"] == "Paused"
    api.ok("PATCH", "/vm", {"state": "Resumed"})
    assert api.ok("GET", "/")["state"] == "Running"
