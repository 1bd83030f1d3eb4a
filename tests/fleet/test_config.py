# SPDX-License-Identifier: Apache-2.0
"""vm config: checked in full before anything is written, with ember's own messages."""
import json
import os

import fleetlib


def refused(fleet, doc, *words):
    text = doc if isinstance(doc, str) else json.dumps(doc)
    r = fleet.run("vm", "config", "-", input=text, check=False)
    assert r.returncode == 1, r
    assert r.stderr.startswith("emberctl: standard input: "), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    for w in words:
        assert w in r.stderr, (w, r.stderr)
    vms = os.path.join(fleet.dir, "vms")
    assert not os.path.exists(vms) or os.listdir(vms) == []
    return r.stderr


def good(name="v", **block):
    return {"boot-source": {"kernel_image_path": fleetlib.IDLE},
            "machine-config": {"vcpu_count": 1, "mem_size_mib": 16},
            "emberctl": dict({"name": name}, **block)}


def test_unknown_field_in_the_block_is_named(fleet):
    refused(fleet, good(colour="red"), "emberctl.colour: unknown field")


def test_block_fields(fleet):
    doc = good()
    del doc["emberctl"]
    refused(fleet, doc, "emberctl: required block missing")
    refused(fleet, good(name="no spaces"), "emberctl.name", "not a name")
    refused(fleet, good(name="x" * 65), "emberctl.name")
    refused(fleet, dict(good(), emberctl={"cpus": "1"}), "emberctl.name: required")
    refused(fleet, good(cpus="3-1"), "emberctl.cpus", "not a CPU list")
    refused(fleet, good(cpus="1,,2"), "emberctl.cpus")
    refused(fleet, good(cpus="5000"), "emberctl.cpus: CPU 5000")
    refused(fleet, good(restart="sometimes"), "emberctl.restart")
    refused(fleet, good(realtime="yes"), "emberctl.realtime: must be true or false")
    refused(fleet, dict(good(), emberctl="web1"), "emberctl: must be an object")


def test_embers_own_messages(fleet):
    doc = good()
    doc["machine-config"]["vcpu_count"] = 0
    refused(fleet, doc, "machine-config.vcpu_count")
    doc = good()
    doc["machine-config"]["bogus"] = 1
    refused(fleet, doc, "machine-config", "bogus")
    doc = good()
    del doc["boot-source"]
    refused(fleet, doc, "boot-source: required section missing")
    doc = good()
    doc["drives"] = [{"drive_id": "a b", "path_on_host": "/x", "is_root_device": True,
                      "is_read_only": False}]
    refused(fleet, doc, "drives[0].drive_id")
    refused(fleet, '{"emberctl": {"name": "x"}, }', "line 1, column")
    refused(fleet, '[1, 2]', "top level must be an object")


def test_switch_with_host_dev_name(fleet):
    doc = good()
    doc["network-interfaces"] = [{"iface_id": "eth0", "switch": "lan",
                                  "host_dev_name": "tap0"}]
    refused(fleet, doc, "network-interfaces[0]: give switch or host_dev_name, not both")
    doc["network-interfaces"] = [{"iface_id": "eth0", "switch": "no/slash"}]
    refused(fleet, doc, "network-interfaces[0].switch: must be a switch name")


def test_switch_becomes_switch_socket(fleet):
    doc = good("sw")
    doc["network-interfaces"] = [{"iface_id": "eth0", "switch": "lan"}]
    fleet.run("vm", "config", "-", input=json.dumps(doc))
    with open(os.path.join(fleet.vm_dir("sw"), "ember.json")) as f:
        ember = json.load(f)
    nic = ember["network-interfaces"][0]
    assert nic == {"iface_id": "eth0",
                   "switch_socket": os.path.join(fleet.dir, "switches", "lan", "sock")}
    assert "emberctl" not in ember
    # Booting needs the switch running.
    r = fleet.run("vm", "boot", "sw", check=False)
    assert r.returncode == 1 and "switch lan is not running" in r.stderr


def test_config_is_kept_as_given(fleet):
    text = '{"emberctl": {"name": "g"},\n  "boot-source": {"kernel_image_path": "rel.elf"}}\n'
    fleet.run("vm", "config", "-", input=text)
    with open(os.path.join(fleet.vm_dir("g"), "config.json")) as f:
        assert f.read() == text
    with open(os.path.join(fleet.vm_dir("g"), "ember.json")) as f:
        ember = json.load(f)
    # Relative paths were the caller's: made absolute, as ember runs in the VM's folder.
    assert ember["boot-source"]["kernel_image_path"] == os.path.join(os.getcwd(), "rel.elf")
    r = fleet.run("vm", "config", "-", input=text, check=False)
    assert r.returncode == 1 and "a VM named g already exists" in r.stderr


def test_state_dir_too_long_for_sockets(fleet):
    deep = os.path.join(fleet.dir, "d" * 100)
    r = fleet.run("--state-dir", deep, "vm", "config", "-", input=json.dumps(good()),
                  check=False)
    assert r.returncode == 1 and "too long" in r.stderr, r.stderr
