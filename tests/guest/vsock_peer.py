#!/usr/bin/env python3
"""The host end of the virtio_vsock tiny-guest test, for ember --vsock CID,UDS (argv[1]).

1. Listen on UDS_5000; the guest connects, sends "hello from guest" and gets
   "hello from host"; then it shuts down and we read EOF. It connects again and resets
   its device: we read EOF.
2. Connect to UDS with a malformed line: ember must close us without an OK.
3. Connect to UDS, send "CONNECT 1234\\n", expect "OK <port>\\n", send "ping", expect
   "pong"; send 64 KiB to the guest, then (after a pause that lets ember's buffers fill)
   read the guest's 384 KiB, and close.
Prints PEER-* lines; exits non-zero on the first problem."""
import os
import re
import socket
import sys
import time

uds = sys.argv[1]
timeout = float(sys.argv[2]) if len(sys.argv) > 2 else 30
# ember's log: the peer holds off reading until ember says the socket is full, so the
# buffering path runs however fast or slow the machine is (at most 15 s, then it reads).
ember_log = sys.argv[3] if len(sys.argv) > 3 else None


def say(line):
    print(line, flush=True)


def fail(why):
    say("PEER-FAIL: " + why)
    sys.exit(1)


BULK_IN = 64 * 1024
BULK_OUT = 384 * 1024
CHUNK = 4096  # the guest sends a le32 chunk number, then pattern bytes 4..4095


def pattern(n):
    """The bulk streams' bytes, as the guest makes them."""
    return bytes((i * 7 + (i >> 10)) & 0xFF for i in range(n))


def read_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            fail("EOF after %r, wanted %d bytes" % (data, n))
        data += chunk
    return data


def read_line(s):
    data = b""
    while not data.endswith(b"\n") and len(data) < 64:
        chunk = s.recv(1)
        if not chunk:
            break
        data += chunk
    return data


listen_path = uds + "_5000"
if os.path.exists(listen_path):
    os.unlink(listen_path)
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(listen_path)
srv.listen(1)
srv.settimeout(timeout)
say("PEER-READY")
try:
    conn, _ = srv.accept()
    conn.settimeout(timeout)
    got = read_exact(conn, 16)
    say("PEER-GOT=" + got.decode(errors="replace"))
    if got != b"hello from guest":
        fail("unexpected greeting")
    conn.sendall(b"hello from host")
    rest = conn.recv(64)
    if rest:
        fail("expected EOF after the guest's SHUTDOWN, got %r" % rest)
    say("PEER-GUEST-EOF")
    conn.close()
    # The guest connects again, then resets its device: ember must close our end.
    conn, _ = srv.accept()
    conn.settimeout(timeout)
    if conn.recv(64):
        fail("data on the connection the guest reset")
    say("PEER-RESET-EOF")
    conn.close()
    srv.close()
    os.unlink(listen_path)

    bad = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    bad.settimeout(timeout)
    bad.connect(uds)
    bad.sendall(b"CONNECT nope\n")
    try:
        answer = bad.recv(64)
    except ConnectionResetError:
        answer = b""  # closed with "ope\n" unread: a reset, as good as EOF
    if answer:
        fail("ember answered a malformed CONNECT line")
    bad.close()
    say("PEER-BAD-LINE-CLOSED")

    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(uds)
    s.sendall(b"CONNECT 1234\n")
    line = read_line(s)
    m = re.fullmatch(rb"OK (\d+)\n", line)
    if not m:
        fail("expected OK <port>, got %r" % line)
    say("PEER-OK=" + m.group(1).decode())
    s.sendall(b"ping")
    got = read_exact(s, 4)
    say("PEER-GOT=" + got.decode(errors="replace"))
    if got != b"pong":
        fail("expected pong")
    s.sendall(pattern(BULK_IN))
    say("PEER-BULK-SENT")
    for _ in range(150):
        time.sleep(0.1)
        if ember_log is None or b"host socket full, buffering" in open(ember_log, "rb").read():
            break
    block = pattern(CHUNK)[4:]
    want = b"".join(k.to_bytes(4, "little") + block for k in range(BULK_OUT // CHUNK))
    if read_exact(s, BULK_OUT) != want:
        fail("the guest's bulk stream arrived corrupted")
    say("PEER-BULK-RECEIVED")
    s.close()
    say("PEER-DONE")
except (OSError, socket.timeout) as e:
    fail(repr(e))
