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
# A few dozen of each kind, made once: the flood is the switch's work, not Python's.
garbage = [rng.randbytes(rng.randrange(0, 14)) for _ in range(32)]  # some empty
garbage += [rng.randbytes(9217)] + [rng.randbytes(rng.randrange(9217, 30000)) for _ in range(31)]
rng.shuffle(garbage)
count = 0
while count < 100 or not os.path.exists(stop):
    s.send(garbage[count % len(garbage)])
    count += 1
    if count % 64 == 0:
        time.sleep(0.001)  # leave the guests some CPU on a small host
print("FLOOD-SENT=%d" % count, flush=True)
while True:
    time.sleep(60)
