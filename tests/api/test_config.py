# SPDX-License-Identifier: Apache-2.0
"""Pre-boot configuration: each resource is accepted, checked, and echoed by
GET /vm/config (and by its own GET where it has one)."""
import os
import shutil

import pytest

import embervm
from embervm import TICKER, drive, make_file, ticker_boot_source


def machine(api):
    return api.ok("GET", "/machine-config")


def vm_config(api):
    return api.ok("GET", "/vm/config")


def drives_by_id(api):
    return {d["drive_id"]: d for d in vm_config(api).get("drives") or []}


# machine-config

def test_machine_config_defaults(api):
    m = machine(api)
    assert (m["vcpu_count"], m["mem_size_mib"]) == (1, 128)
    assert m.get("smt", False) is False
    assert m.get("track_dirty_pages", False) is False
    assert vm_config(api)["machine-config"]["vcpu_count"] == 1


def test_put_machine_config(api):
    api.ok("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 256})
    m = machine(api)
    assert (m["vcpu_count"], m["mem_size_mib"]) == (2, 256)
    assert vm_config(api)["machine-config"]["mem_size_mib"] == 256


def test_machine_config_track_dirty_pages(api):
    """A PUT sets it, a PATCH that leaves it out keeps it, a PUT that leaves it out clears it."""
    api.ok("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128,
                                      "track_dirty_pages": True})
    assert machine(api)["track_dirty_pages"] is True
    api.ok("PATCH", "/machine-config", {"vcpu_count": 2})
    assert machine(api)["track_dirty_pages"] is True
    assert vm_config(api)["machine-config"]["track_dirty_pages"] is True
    api.ok("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})
    assert machine(api)["track_dirty_pages"] is False


def test_machine_config_acpi(api):
    """ember's own field: absent from the default view (Firecracker's bytes stay), shown
    when false; a PUT without it turns ACPI back on, a PATCH without it keeps it; a
    non-boolean is refused with the field named."""
    assert "acpi" not in machine(api)
    assert "acpi" not in vm_config(api)["machine-config"]
    api.ok("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128, "acpi": False})
    assert machine(api)["acpi"] is False
    assert vm_config(api)["machine-config"]["acpi"] is False
    api.ok("PATCH", "/machine-config", {"vcpu_count": 2})
    assert machine(api)["acpi"] is False
    api.ok("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128})
    assert "acpi" not in machine(api)
    assert "acpi" in api.fault("PATCH", "/machine-config", {"acpi": "no"})
    assert "acpi" not in machine(api)


@pytest.mark.parametrize("body,field", [({"vcpu_count": 2}, "mem_size_mib"),
                                        ({"mem_size_mib": 256}, "vcpu_count")],
                         ids=["no-mem", "no-vcpus"])
def test_put_machine_config_needs_both(api, body, field):
    assert field in api.fault("PUT", "/machine-config", body)
    assert (machine(api)["vcpu_count"], machine(api)["mem_size_mib"]) == (1, 128)


def test_patch_machine_config_is_partial(api):
    api.ok("PATCH", "/machine-config", {"vcpu_count": 4})
    assert (machine(api)["vcpu_count"], machine(api)["mem_size_mib"]) == (4, 128)
    api.ok("PATCH", "/machine-config", {"mem_size_mib": 64})
    assert (machine(api)["vcpu_count"], machine(api)["mem_size_mib"]) == (4, 64)


def test_patch_machine_config_empty_refused(api):
    api.fault("PATCH", "/machine-config", {})


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize("vcpus", [0, 33])
def test_vcpu_count_out_of_range(api, method, vcpus):
    fault = api.fault(method, "/machine-config", {"vcpu_count": vcpus, "mem_size_mib": 128})
    assert "vcpu" in fault.lower(), fault
    assert machine(api)["vcpu_count"] == 1


def test_vcpu_count_32_accepted(api):
    api.ok("PUT", "/machine-config", {"vcpu_count": 32, "mem_size_mib": 128})
    assert machine(api)["vcpu_count"] == 32


def test_mem_size_zero_refused(api):
    fault = api.fault("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 0})
    assert "mem" in fault.lower(), fault


def test_smt_refused_as_not_supported(api):
    fault = api.fault("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 128,
                                                  "smt": True})
    assert "smt" in fault and "not supported" in fault.lower(), fault
    api.ok("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 128, "smt": False})


# boot-source

def test_boot_source_echoed(api):
    body = ticker_boot_source(boot_args="console=ttyS0 reboot=k x=1")
    api.ok("PUT", "/boot-source", body)
    bs = vm_config(api)["boot-source"]
    assert bs["kernel_image_path"] == TICKER
    assert bs["boot_args"] == "console=ttyS0 reboot=k x=1"
    assert bs.get("initrd_path") is None


def test_boot_source_replaced(api, scratch):
    initrd = make_file(scratch, "initrd", 4096)
    api.ok("PUT", "/boot-source", ticker_boot_source(boot_args="a=1"))
    api.ok("PUT", "/boot-source", ticker_boot_source(boot_args="b=2", initrd_path=initrd))
    bs = vm_config(api)["boot-source"]
    assert (bs["boot_args"], bs["initrd_path"]) == ("b=2", initrd)


def test_boot_source_missing_kernel(api, scratch):
    path = os.path.join(scratch, "no-such-vmlinux")
    fault = api.fault("PUT", "/boot-source", {"kernel_image_path": path})
    assert path in fault or "kernel" in fault.lower(), fault


def test_kernel_opened_at_put_time(vm, scratch):
    """As Firecracker: PUT /boot-source opens the kernel, so removing the file afterwards
    does not stop InstanceStart."""
    kernel = os.path.join(scratch, "vmlinux")
    shutil.copy(TICKER, kernel)
    vm.api.ok("PUT", "/boot-source", {"kernel_image_path": kernel})
    vm.api.ok("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
    os.unlink(kernel)
    embervm.start(vm)


def test_boot_source_missing_initrd(api, scratch):
    path = os.path.join(scratch, "no-such-initrd")
    fault = api.fault("PUT", "/boot-source", ticker_boot_source(initrd_path=path))
    assert path in fault or "initrd" in fault.lower(), fault


# drives

def test_drive_echoed(api, scratch):
    root = make_file(scratch, "root.img")
    data = make_file(scratch, "data.img")
    api.ok("PUT", "/drives/rootfs", drive("rootfs", root, root=True))
    api.ok("PUT", "/drives/data", drive("data", data, is_read_only=True, cache_type="Writeback",
                                        rate_limiter={"bandwidth": {"size": 1000,
                                                                    "refill_time": 100}}))
    d = drives_by_id(api)
    assert set(d) == {"rootfs", "data"}
    assert (d["rootfs"]["path_on_host"], d["rootfs"]["is_root_device"]) == (root, True)
    assert d["rootfs"].get("is_read_only") is False
    assert (d["data"]["path_on_host"], d["data"]["is_root_device"]) == (data, False)
    assert d["data"]["is_read_only"] is True
    assert d["data"]["cache_type"] == "Writeback"
    assert d["data"]["rate_limiter"]["bandwidth"]["size"] == 1000
    assert d["data"]["rate_limiter"]["bandwidth"]["refill_time"] == 100


def test_drive_id_must_match_path(api, scratch):
    img = make_file(scratch, "a.img")
    api.fault("PUT", "/drives/a", drive("b", img))
    assert drives_by_id(api) == {}


def test_drive_id_characters(api, scratch):
    img = make_file(scratch, "a.img")
    api.fault("PUT", "/drives/a-b", drive("a-b", img))


def test_drive_missing_file(api, scratch):
    path = os.path.join(scratch, "no-such.img")
    fault = api.fault("PUT", "/drives/a", drive("a", path))
    assert path in fault or "path_on_host" in fault, fault
    assert drives_by_id(api) == {}


def test_at_most_8_drives(api, scratch):
    for i in range(8):
        api.ok("PUT", "/drives/d%d" % i, drive("d%d" % i, make_file(scratch, "d%d" % i, 4096)))
    api.fault("PUT", "/drives/d8", drive("d8", make_file(scratch, "d8", 4096)))
    assert len(drives_by_id(api)) == 8
    # replacing one of the eight is still fine
    api.ok("PUT", "/drives/d3", drive("d3", make_file(scratch, "d3b", 4096)))
    assert drives_by_id(api)["d3"]["path_on_host"].endswith("d3b")


def test_one_root_device(api, scratch):
    api.ok("PUT", "/drives/r1", drive("r1", make_file(scratch, "r1"), root=True))
    api.fault("PUT", "/drives/r2", drive("r2", make_file(scratch, "r2"), root=True))
    assert set(drives_by_id(api)) == {"r1"}
    # the root itself may be put again
    api.ok("PUT", "/drives/r1", drive("r1", make_file(scratch, "r1b"), root=True))


def test_drive_put_again_updates(api, scratch):
    a, b = make_file(scratch, "a.img"), make_file(scratch, "b.img")
    api.ok("PUT", "/drives/disk", drive("disk", a))
    api.ok("PUT", "/drives/disk", drive("disk", b, is_read_only=True))
    d = vm_config(api)["drives"]
    assert len(d) == 1
    assert (d[0]["path_on_host"], d[0]["is_read_only"]) == (b, True)


def test_drive_bad_cache_type(api, scratch):
    fault = api.fault("PUT", "/drives/a", drive("a", make_file(scratch, "a"), cache_type="None"))
    assert "cache_type" in fault or "None" in fault, fault


# vsock, entropy, balloon

def test_vsock_echoed(api, scratch):
    uds = os.path.join(scratch, "v.sock")
    api.ok("PUT", "/vsock", {"guest_cid": 3, "uds_path": uds})
    v = vm_config(api)["vsock"]
    assert (v["guest_cid"], v["uds_path"]) == (3, uds)
    api.ok("PUT", "/vsock", {"guest_cid": 7, "uds_path": uds + "2"})
    v = vm_config(api)["vsock"]
    assert (v["guest_cid"], v["uds_path"]) == (7, uds + "2")


def test_vsock_cid_below_3(api, scratch):
    fault = api.fault("PUT", "/vsock", {"guest_cid": 2, "uds_path": os.path.join(scratch, "v")})
    assert "cid" in fault.lower(), fault
    assert vm_config(api).get("vsock") is None


def test_entropy_echoed(api):
    assert vm_config(api).get("entropy") is None
    api.ok("PUT", "/entropy", {})
    assert isinstance(vm_config(api)["entropy"], dict)
    api.ok("PUT", "/entropy", {"rate_limiter": {"ops": {"size": 10, "refill_time": 100}}})
    rl = vm_config(api)["entropy"]["rate_limiter"]
    assert (rl["ops"]["size"], rl["ops"]["refill_time"]) == (10, 100)


def test_balloon_not_configured(api):
    fault = api.fault("GET", "/balloon")
    assert "balloon" in fault.lower(), fault


def test_balloon_put_get(api):
    api.ok("PUT", "/balloon", {"amount_mib": 16, "deflate_on_oom": True})
    b = api.ok("GET", "/balloon")
    assert (b["amount_mib"], b["deflate_on_oom"]) == (16, True)
    assert b.get("stats_polling_interval_s", 0) == 0
    api.ok("PUT", "/balloon", {"amount_mib": 8, "deflate_on_oom": False,
                               "stats_polling_interval_s": 2})
    b = api.ok("GET", "/balloon")
    assert (b["amount_mib"], b["deflate_on_oom"], b["stats_polling_interval_s"]) == (8, False, 2)
    assert vm_config(api)["balloon"]["amount_mib"] == 8


def test_balloon_free_page_reporting_not_supported(api):
    fault = api.fault("PUT", "/balloon", {"amount_mib": 1, "deflate_on_oom": False,
                                          "free_page_reporting": True})
    assert "not supported" in fault.lower(), fault


# logger, metrics

def test_logger(api, scratch):
    log = make_file(scratch, "ember.log", 0)
    api.ok("PUT", "/logger", {"log_path": log, "level": "Info", "show_level": True,
                              "show_log_origin": False})
    api.ok("PUT", "/logger", {"level": "debug"})  # levels are case-insensitive


def test_logger_bad_level(api):
    fault = api.fault("PUT", "/logger", {"level": "Loud"})
    assert "level" in fault or "Loud" in fault, fault


def test_logger_bad_path(api, scratch):
    api.fault("PUT", "/logger", {"log_path": os.path.join(scratch, "no", "such", "dir", "log")})


def test_metrics_file(api, scratch):
    path = os.path.join(scratch, "metrics.json")
    api.ok("PUT", "/metrics", {"metrics_path": path})


def test_metrics_fifo(api, scratch):
    path = os.path.join(scratch, "metrics.fifo")
    os.mkfifo(path)
    api.ok("PUT", "/metrics", {"metrics_path": path})


def test_metrics_only_once(api, scratch):
    api.ok("PUT", "/metrics", {"metrics_path": os.path.join(scratch, "m1")})
    api.fault("PUT", "/metrics", {"metrics_path": os.path.join(scratch, "m2")})


def test_metrics_bad_path(api, scratch):
    api.fault("PUT", "/metrics", {"metrics_path": os.path.join(scratch, "no", "such", "m")})


# mmds

def test_mmds_empty_at_first(api):
    assert api.ok("GET", "/mmds") == {}


def test_mmds_put_patch_get(api):
    data = {"latest": {"meta-data": {"ami-id": "ami-1", "tags": ["a", "b"], "n": 5}}}
    api.ok("PUT", "/mmds", data)
    assert api.ok("GET", "/mmds") == data
    # PATCH is a JSON merge patch: objects merge, null removes, the rest replaces.
    api.ok("PATCH", "/mmds", {"latest": {"meta-data": {"ami-id": "ami-2", "tags": None,
                                                       "new": {"x": True}}}})
    assert api.ok("GET", "/mmds") == {"latest": {"meta-data": {"ami-id": "ami-2", "n": 5,
                                                               "new": {"x": True}}}}
    api.ok("PUT", "/mmds", {"other": 1})
    assert api.ok("GET", "/mmds") == {"other": 1}


def test_mmds_patch_before_put(api):
    """As Firecracker: PATCH needs data to patch; PUT creates the data store."""
    assert api.fault("PATCH", "/mmds", {"a": 1}) == "The MMDS data store is not initialized."
    assert api.ok("GET", "/mmds") == {}


def test_mmds_config_unknown_interface(api):
    api.fault("PUT", "/mmds/config", {"network_interfaces": ["eth9"]})
    assert vm_config(api).get("mmds-config") is None


def test_mmds_unknown_subpath(api):
    api.fault("PUT", "/mmds/other", {"a": 1})


# vm/config

def test_vm_config_fresh(api):
    c = vm_config(api)
    assert (c["machine-config"]["vcpu_count"], c["machine-config"]["mem_size_mib"]) == (1, 128)
    assert not c.get("drives")
    assert not c.get("network-interfaces")
    for key in ("balloon", "vsock", "entropy"):
        assert c.get(key) is None, key


def test_vm_config_echoes_everything(api, scratch):
    root = make_file(scratch, "root.img")
    uds = os.path.join(scratch, "vsock")
    api.ok("PUT", "/boot-source", ticker_boot_source(boot_args="console=ttyS0 panic=1"))
    api.ok("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 96})
    api.ok("PUT", "/drives/rootfs", drive("rootfs", root, root=True, is_read_only=True))
    api.ok("PUT", "/balloon", {"amount_mib": 4, "deflate_on_oom": True,
                               "stats_polling_interval_s": 1})
    api.ok("PUT", "/vsock", {"guest_cid": 5, "uds_path": uds})
    api.ok("PUT", "/entropy", {})
    c = vm_config(api)
    assert c["boot-source"]["kernel_image_path"] == TICKER
    # the root drive must not leak into the echoed boot_args (Firecracker adds root= later)
    assert c["boot-source"]["boot_args"] == "console=ttyS0 panic=1"
    assert (c["machine-config"]["vcpu_count"], c["machine-config"]["mem_size_mib"]) == (2, 96)
    assert [(d["drive_id"], d["path_on_host"], d["is_root_device"], d["is_read_only"])
            for d in c["drives"]] == [("rootfs", root, True, True)]
    b = c["balloon"]
    assert (b["amount_mib"], b["deflate_on_oom"], b["stats_polling_interval_s"]) == (4, True, 1)
    assert (c["vsock"]["guest_cid"], c["vsock"]["uds_path"]) == (5, uds)
    assert isinstance(c["entropy"], dict)
