# SPDX-License-Identifier: Apache-2.0
"""Network interfaces (on a host TAP made for the session; skipped where this host
cannot make one) and the MMDS configuration that names them."""
import embervm


def iface(tap, iface_id="eth0", **extra):
    body = {"iface_id": iface_id, "host_dev_name": tap}
    body.update(extra)
    return body


def test_network_interface_echoed(api, tap_name):
    api.ok("PUT", "/network-interfaces/eth0", iface(tap_name, guest_mac="06:00:AC:10:00:02",
                                                    rx_rate_limiter={"ops": {"size": 7,
                                                                             "refill_time": 70}}))
    nets = api.ok("GET", "/vm/config")["network-interfaces"]
    assert len(nets) == 1
    n = nets[0]
    assert (n["iface_id"], n["host_dev_name"]) == ("eth0", tap_name)
    assert n["guest_mac"].lower() == "06:00:ac:10:00:02"
    assert (n["rx_rate_limiter"]["ops"]["size"], n["rx_rate_limiter"]["ops"]["refill_time"]) \
        == (7, 70)


def test_network_interface_id_must_match_path(api, tap_name):
    api.fault("PUT", "/network-interfaces/eth0", iface(tap_name, "eth1"))
    assert not api.ok("GET", "/vm/config").get("network-interfaces")


def test_network_interface_bad_mac(api, tap_name):
    for mac in ["06:00:00:00:00:zz", "06:00:00:00:00", "06:00:00:00:00:01:02", "nonsense"]:
        fault = api.fault("PUT", "/network-interfaces/eth0", iface(tap_name, guest_mac=mac))
        assert "mac" in fault.lower(), fault
    assert not api.ok("GET", "/vm/config").get("network-interfaces")


def test_network_interface_put_again_updates(api, tap_name):
    api.ok("PUT", "/network-interfaces/eth0", iface(tap_name, guest_mac="06:00:00:00:00:01"))
    api.ok("PUT", "/network-interfaces/eth0", iface(tap_name, guest_mac="06:00:00:00:00:02"))
    nets = api.ok("GET", "/vm/config")["network-interfaces"]
    assert [n["guest_mac"] for n in nets] == ["06:00:00:00:00:02"]


def test_mmds_config(api, tap_name):
    api.ok("PUT", "/network-interfaces/eth0", iface(tap_name))
    api.ok("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "version": "V2"})
    mc = api.ok("GET", "/vm/config")["mmds-config"]
    assert mc["network_interfaces"] == ["eth0"]
    assert mc.get("version", "V2") == "V2"
    api.fault("PUT", "/mmds/config", {"network_interfaces": ["eth0", "eth7"]})
    api.fault("PUT", "/mmds/config", {"network_interfaces": ["eth0"], "version": "V3"})


def test_patch_network_interface_after_start(vm, tap_name):
    api = vm.api
    embervm.configure_ticker(api)
    api.ok("PUT", "/network-interfaces/eth0", iface(tap_name))
    embervm.start(vm)
    api.ok("PATCH", "/network-interfaces/eth0", {"iface_id": "eth0", "tx_rate_limiter": {
        "bandwidth": {"size": 100000, "refill_time": 100}}})
    api.fault("PATCH", "/network-interfaces/eth9", {"iface_id": "eth9"})
    api.fault("PATCH", "/network-interfaces/eth0", {"iface_id": "eth1"})
    assert api.ok("GET", "/")["state"] == "Running"
    vm.wait_ticks(2, timeout=5)


def test_mmds_after_start(vm, tap_name):
    """With MMDS on an interface, its data can be read and changed while the VM runs."""
    api = vm.api
    embervm.configure_ticker(api)
    api.ok("PUT", "/network-interfaces/eth0", iface(tap_name))
    api.ok("PUT", "/mmds/config", {"network_interfaces": ["eth0"]})
    api.ok("PUT", "/mmds", {"before": "start"})
    embervm.start(vm)
    api.ok("PATCH", "/mmds", {"after": {"k": "v"}})
    assert api.ok("GET", "/mmds") == {"before": "start", "after": {"k": "v"}}
    api.ok("PUT", "/mmds", {"replaced": True})
    assert api.ok("GET", "/mmds") == {"replaced": True}
    assert api.ok("GET", "/vm/config")["mmds-config"]["network_interfaces"] == ["eth0"]


# On an ember-switch port: "switch_socket" in place of "host_dev_name" (ember's own field).
def test_switch_socket_echoed(vm, switch):
    api = vm.api
    api.ok("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "switch_socket": switch.sock,
                                               "guest_mac": "06:00:AC:10:00:03"})
    # Not through the checking client: the spec's NetworkInterface requires host_dev_name.
    nets = embervm.get_unchecked(vm, "/vm/config")["network-interfaces"]
    assert len(nets) == 1
    assert nets[0]["switch_socket"] == switch.sock
    assert "host_dev_name" not in nets[0]
    assert nets[0]["guest_mac"].lower() == "06:00:ac:10:00:03"


def test_switch_socket_or_host_dev_name(api, tap_name):
    for body in [{"iface_id": "eth0"},
                 {"iface_id": "eth0", "host_dev_name": tap_name, "switch_socket": "/tmp/s"}]:
        fault = api.fault("PUT", "/network-interfaces/eth0", body)
        assert "exactly one of host_dev_name and switch_socket" in fault, fault
    fault = api.fault("PUT", "/network-interfaces/eth0", {"iface_id": "eth0",
                                                          "switch_socket": ""})
    assert "switch_socket" in fault, fault
    fault = api.fault("PUT", "/network-interfaces/eth0", {"iface_id": "eth0",
                                                          "switch_socket": "/" + "s" * 200})
    assert "switch_socket" in fault, fault
    assert not api.ok("GET", "/vm/config").get("network-interfaces")


def test_switch_port_connects_at_start(vm, switch):
    """InstanceStart connects to the switch: a port with ember's pid; the rate limiters
    can be changed after, as on a TAP."""
    api = vm.api
    embervm.configure_ticker(api)
    api.ok("PUT", "/network-interfaces/eth0", {"iface_id": "eth0", "switch_socket": switch.sock})
    assert switch.status()["ports"] == []
    embervm.start(vm)
    assert [p["pid"] for p in switch.status()["ports"]] == [vm.proc.pid]
    api.ok("PATCH", "/network-interfaces/eth0", {"iface_id": "eth0", "rx_rate_limiter": {
        "bandwidth": {"size": 100000, "refill_time": 100}}})
    vm.wait_ticks(2, timeout=5)


def test_start_without_the_switch_fails(vm, scratch):
    api = vm.api
    embervm.configure_ticker(api)
    api.ok("PUT", "/network-interfaces/eth0", {"iface_id": "eth0",
                                               "switch_socket": scratch + "/none.sock"})
    fault = api.fault("PUT", "/actions", {"action_type": "InstanceStart"})
    assert "cannot connect to the switch" in fault, fault
