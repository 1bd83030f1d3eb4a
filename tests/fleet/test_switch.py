# SPDX-License-Identifier: Apache-2.0
"""switch create/show/rm/list, and VMs on a switch."""
import json
import os
import socket
import subprocess
import time

import pytest

import fleetlib
from fleetlib import alive


@pytest.fixture
def switch_bin(fleet):
    if not os.access(os.path.join(os.path.dirname(fleetlib.EMBER), "ember-switch"), os.X_OK):
        pytest.fail("no ember-switch next to ember: run make", pytrace=False)


def nic(switch, mac):
    return {"network-interfaces": [{"iface_id": "eth0", "switch": switch, "guest_mac": mac}]}


def test_switch_lifecycle(fleet, switch_bin):
    assert fleet.run("switch", "create", "lan").stdout == "lan\n"
    r = fleet.run("switch", "create", "lan", check=False)
    assert r.returncode == 1 and "already running" in r.stderr
    sw = json.loads(fleet.run("switch", "list", "--json").stdout)
    assert len(sw) == 1 and sw[0]["name"] == "lan" and sw[0]["state"] == "Running"
    assert alive(sw[0]["pid"])
    assert "lan" in fleet.run("switch", "list").stdout

    fleet.config("s1", extra=nic("lan", "06:00:00:00:00:01"))
    fleet.config("s2", extra=nic("lan", "06:00:00:00:00:02"))
    fleet.config("s3")
    for n in ("s1", "s2", "s3"):
        fleet.run("vm", "boot", n)
    vms = fleet.list()
    show = json.loads(fleet.run("switch", "show", "lan", "--json").stdout)
    ports = {p["vm"]: p for p in show["ports"]}
    assert sorted(ports) == ["s1", "s2"], show
    for n in ("s1", "s2"):
        assert ports[n]["pid"] == vms[n]["pid"]
        for key in ("rx_frames", "rx_bytes", "tx_frames", "tx_bytes", "tx_dropped",
                    "rx_garbage"):
            assert isinstance(ports[n][key], int), (key, ports[n])
    text = fleet.run("switch", "show", "lan").stdout
    assert "s1" in text and "s2" in text and "PORT" in text

    # A port of our own (not a VM's): a broadcast frame is learned and flooded to the VMs.
    peer = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    peer.connect(os.path.join(fleet.dir, "switches", "lan", "sock"))
    peer.send(b"\xff" * 6 + b"\x02\x00\x00\x00\x00\x07" + b"\x88\xb5" + b"fleet" * 10)
    deadline = time.monotonic() + 5
    while True:
        show = json.loads(fleet.run("switch", "show", "lan", "--json").stdout)
        ports = {p["vm"]: p for p in show["ports"]}
        if None in ports and ports[None]["rx_frames"] == 1 and \
                all(ports[n]["tx_frames"] + ports[n]["tx_dropped"] >= 1 for n in ("s1", "s2")):
            break
        assert time.monotonic() < deadline, show
        time.sleep(0.05)
    assert ports[None]["pid"] == os.getpid()
    assert ports[None]["macs"] == ["02:00:00:00:00:07"]
    peer.close()

    # Without its switch, a VM goes on; the switch cannot be shown, only made again.
    fleet.run("switch", "rm", "lan")
    assert not alive(sw[0]["pid"])
    assert not os.path.exists(os.path.join(fleet.dir, "switches", "lan"))
    r = fleet.run("switch", "show", "lan", check=False)
    assert r.returncode == 1 and "no switch named lan" in r.stderr
    assert fleet.list()["s1"]["state"] == "Running"
    for n in ("s1", "s2", "s3"):
        fleet.run("vm", "stop", n)
    assert json.loads(fleet.run("switch", "list", "--json").stdout) == []
    # A stopped switch's VM does not boot.
    r = fleet.run("vm", "boot", "s1", check=False)
    assert r.returncode == 1 and "switch lan is not running" in r.stderr
    assert not fleet.processes()


def test_switch_that_dies_is_stopped(fleet, switch_bin):
    fleet.run("switch", "create", "tmp")
    pid = json.loads(fleet.run("switch", "list", "--json").stdout)[0]["pid"]
    os.kill(pid, 9)
    sw = json.loads(fleet.run("switch", "list", "--json").stdout)
    assert sw[0]["state"] == "Stopped" and sw[0]["pid"] is None
    r = fleet.run("switch", "show", "tmp", check=False)
    assert r.returncode == 1 and "is not running" in r.stderr
    # Made again in the same folder; then removed.
    fleet.run("switch", "create", "tmp")
    fleet.run("switch", "rm", "tmp")


def test_traffic_counted_by_vm(fleet, switch_bin):
    """Two net_switch.elf guests exchange frames through a switch, paced on their consoles
    through emberctl; switch show counts each VM's frames on its port."""
    from test_console import read_until

    elf = os.path.join(fleetlib.GUEST_DIR, "net_switch.elf")
    macs = {"n1": "06:00:00:00:01:01", "n2": "06:00:00:00:01:02"}
    peers = {"n1": macs["n2"], "n2": macs["n1"]}
    fleet.run("switch", "create", "lan")
    for n in ("n1", "n2"):
        fleet.config(n, mem=64, extra=dict(
            nic("lan", macs[n]),
            **{"boot-source": {"kernel_image_path": elf,
                               "boot_args": "console=ttyS0 sw.peer=%s sw.n=20 sw.b=2" % peers[n]}}))
        fleet.run("vm", "boot", n)
    viewers = {n: subprocess.Popen(fleet.cmd("vm", "console", n), stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE)
               for n in ("n1", "n2")}
    out = {}
    try:
        for n, v in viewers.items():
            read_until(v.stdout.fileno(), b"SWITCH-READY")
        for v in viewers.values():
            v.stdin.write(b"g")
            v.stdin.flush()
        for n, v in viewers.items():
            out[n] = read_until(v.stdout.fileno(), b"RX-COMPLETE", timeout=30)
        show = json.loads(fleet.run("switch", "show", "lan", "--json").stdout)
        ports = {p["vm"]: p for p in show["ports"]}
        for n in ("n1", "n2"):
            sent = int(out[n].split(b"TX-FRAMES=")[1].split()[0])
            assert sent == 22, out[n]
            assert ports[n]["rx_frames"] == sent, ports
            assert ports[n]["tx_frames"] >= 22 and ports[n]["rx_garbage"] == 0, ports
            assert ports[n]["macs"] == [macs[n]], ports
        # What each guest received is what the switch sent to its VM's port.
        for v in viewers.values():
            v.stdin.write(b"r")
            v.stdin.flush()
        for n, v in viewers.items():
            line = read_until(v.stdout.fileno(), b"RX-BYTES=")
            while b"\n" not in line.split(b"RX-BYTES=")[1]:
                line += read_until(v.stdout.fileno(), b"\n")
            got = int(line.split(b"RX-FRAMES=")[1].split()[0])
            assert got == ports[n]["tx_frames"], (line, ports)
            v.stdin.write(b"q")
            v.stdin.flush()
            read_until(v.stdout.fileno(), b"SUCCESS")
    finally:
        for v in viewers.values():
            v.kill()
            v.wait()
            for f in (v.stdin, v.stdout, v.stderr):
                f.close()
    for n in ("n1", "n2"):
        assert fleet.wait_state(n, ("Stopped",))["exit_status"] == "exit 0"
    fleet.run("switch", "rm", "lan")
