#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""A hostile port for tests/switch/run.sh: connect to ember-switch's socket argv[1], wait
for the file argv[2] to exist, then send messages that are not Ethernet frames (empty,
shorter than a header, longer than 9216 bytes) until the file argv[3] exists, print
FLOOD-SENT=N, and stay connected without ever reading, until killed: every frame the
switch floods to it must be dropped there, not hold up the other ports."""
import os
import random
import socket
import sys
import time

path, go, stop = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
s.connect(path)
print("FLOOD-READY", flush=True)
while not os.path.exists(go):
    time.sleep(0.01)
rng = random.Random(20261203)
count = 0
while count < 100 or not os.path.exists(stop):
    kind = count % 4
    if kind == 0:
        n = rng.randrange(0, 14)  # no room for a header (0: an empty message)
    elif kind == 1:
        n = 9217  # one byte too long
    else:
        n = rng.randrange(9217, 30000)
    s.send(rng.randbytes(n))
    count += 1
print("FLOOD-SENT=%d" % count, flush=True)
while True:
    time.sleep(60)
