#!/usr/bin/env python3
"""The host end of the virtio_net tiny-guest test: on TAP interface argv[1], wait for the
guest's "ember-ping" frame (ethertype 0x88b5) and answer "ember-pong" to its MAC."""
import socket
import sys

ETHERTYPE = 0x88b5
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETHERTYPE))
s.bind((sys.argv[1], 0))
s.settimeout(float(sys.argv[2]) if len(sys.argv) > 2 else 30)
print("PEER-READY", flush=True)
while True:
    try:
        frame = s.recv(4096)
    except socket.timeout:
        print("PEER-TIMEOUT", flush=True)
        sys.exit(1)
    if frame[14:24] != b"ember-ping":
        continue
    print("PEER-GOT-PING from " + frame[6:12].hex(":"), flush=True)
    reply = frame[6:12] + bytes.fromhex("0200000000fe") + ETHERTYPE.to_bytes(2, "big")
    s.send(reply + b"ember-pong\0" + bytes(64))
    print("PEER-SENT-PONG", flush=True)
    break
