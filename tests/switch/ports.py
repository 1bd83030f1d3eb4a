#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Python ports on an ember-switch, for tests/switch/run.sh:
  ports.py limits SOCK CTL   (a switch with --ports 2 named D) the port limit, learning,
                             a closed port's addresses forgotten, its slot reused
  ports.py slow SOCK CTL     a port that stops reading loses frames, counted, while a
                             port that reads gets every one and the sender never waits
Exits 0 after printing OK, or with an AssertionError saying what was wrong."""
import json
import socket
import sys
import time

mode, sock_path, ctl_path = sys.argv[1:4]


def port():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    s.connect(sock_path)
    s.settimeout(2)
    return s


def status():
    s = socket.socket(socket.AF_UNIX)
    s.connect(ctl_path)
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            return json.loads(data)
        data += d


def frame(dst, src):
    return dst + src + b"\x88\xb6" + bytes(46)


BCAST = b"\xff" * 6
MA, MB = bytes.fromhex("020000000011"), bytes.fromhex("020000000012")


def limits():
    a, b = port(), port()
    c = port()  # --ports 2: accepted, then closed at once
    assert c.recv(100) == b"", "a third port was kept"
    a.send(frame(BCAST, MA))
    assert b.recv(9999)[6:12] == MA
    b.send(frame(MA, MB))
    assert a.recv(9999)[:6] == MA
    st = status()
    assert st["name"] == "D" and len(st["ports"]) == 2 and st["macs"] == 2, st
    # A port that closes takes its addresses with it.
    a.close()
    time.sleep(0.2)
    st = status()
    assert len(st["ports"]) == 1 and st["macs"] == 1, st
    assert st["ports"][0]["macs"] == ["02:00:00:00:00:12"], st
    # Its slot is free again.
    d = port()
    time.sleep(0.2)
    assert len(status()["ports"]) == 2
    d.close()


def slow():
    total = 3000  # far more than a port's socket buffer and queue hold
    sender, reader, sleeper = port(), port(), port()
    for i in range(total):
        sender.send(frame(BCAST, MA))
        # The reader takes each at once (so none is dropped for it); the sleeper never
        # reads, and its frames must not hold up the reader's.
        assert reader.recv(9999)[6:12] == MA, "the reader's frame %d did not come" % i
    by_port = {p["port"]: p for p in status()["ports"]}
    r, s = by_port[2], by_port[3]
    assert (r["tx_frames"], r["tx_dropped"]) == (total, 0), r
    assert s["tx_dropped"] > 0, s
    queued = total - s["tx_frames"] - s["tx_dropped"]
    assert 0 <= queued <= 16, s
    # Once the sleeper reads, it gets what its socket held and then its queue: exactly
    # what the switch counts as sent to it.
    got = 0
    sleeper.settimeout(0.5)
    while True:
        try:
            sleeper.recv(9999)
            got += 1
        except socket.timeout:
            break
    s = {p["port"]: p for p in status()["ports"]}[3]
    assert got == s["tx_frames"] and got + s["tx_dropped"] == total, (got, s)


{"limits": limits, "slow": slow}[mode]()
print("OK")
