# SPDX-License-Identifier: Apache-2.0
"""A hostile or careless client cannot stop the API or the guest: malformed
requests, many clients at once, a client that trickles bytes, huge bodies."""
import random
import selectors
import socket
import threading
import time

import pytest

import embervm
from apiclient import Api, Connection, HttpError, build_request, check_response


@pytest.fixture(scope="module")
def target(module_spawn):
    e = module_spawn()
    embervm.configure_ticker(e.api)
    e.data_img = embervm.make_file(module_spawn.sockdir(), "data.img")
    e.api.ok("PUT", "/drives/data", embervm.drive("data", e.data_img))
    embervm.start(e)
    return e


def assert_healthy(e):
    assert e.alive(), "ember died:\n" + e.describe()
    api = e.new_api(timeout=5)
    assert api.ok("GET", "/")["state"] == "Running"
    api.close()
    e.wait_ticks(2, timeout=5)


def junk_requests(rng, n):
    """(n) byte strings that are not valid HTTP/1.1 requests."""
    fixed = [
        b"GET\r\n\r\n",
        b"GET /\r\n\r\n",
        b"GET / HTTP/1.1 extra\r\n\r\n",
        b"GET / HTTP/9.9\r\n\r\n",
        b"GET / FTP/1.1\r\n\r\n",
        b" / HTTP/1.1\r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n",
        b"G\xffT / HTTP/1.1\r\n\r\n",
        b"GET /\x00/ HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
        b"PUT /mmds HTTP/1.1\r\nContent-Length: abc\r\n\r\n{}",
        b"PUT /mmds HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n{}",
        b"PUT /mmds HTTP/1.1\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\n{}",
        b"GET / HTTP/1.1\r\nNoColonHere\r\n\r\n",
        b"GET / HTTP/1.1\r\n: empty-name\r\n\r\n",
        b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n",
        b"GET / HTTP/1.1\r\nX: a\x00b\r\n\r\n",
        b"\r\n\r\n\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\n",
        b"GET / HTTP/1.1\n\rHost: x\n\r\n\r",
        b"GET " + b"/a" * 40000 + b" HTTP/1.1\r\n\r\n",
        b"GET / HTTP/1.1\r\nX-Big: " + b"v" * 200000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + b"X-H: v\r\n" * 20000 + b"\r\n",
        b"PUT /mmds HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    ]
    out = []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            out.append(fixed[(i // 3) % len(fixed)])
        elif kind == 1:
            out.append(bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000))))
        else:
            # a plausible request line followed by random bytes
            out.append(rng.choice([b"GET / HTTP/1.1\r\n", b"PUT /mmds HTTP/1.1\r\n",
                                   b"PATCH /vm HTTP/1.1\r\n"]) +
                       bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 500))))
    return out


def bad_json_bodies(rng, n):
    """(n) bodies that are not JSON at all."""
    out = []
    while len(out) < n:
        pick = rng.randint(0, 3)
        if pick == 0:
            body = b'{"' + bytes(rng.choice(b"abc:,{[1\"") for _ in range(rng.randint(1, 60)))
        elif pick == 1:
            body = bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 200)))
        elif pick == 2:
            body = b'{"state": "Paused"' + b"}" * rng.randint(2, 5)
        else:
            body = b"{" * rng.randint(1, 5000)
        try:
            __import__("json").loads(body)
        except ValueError:
            out.append(body)
    return out


def blast(sock_path, payloads, batch=50, wait=1.0):
    """Send each payload on its own connection, half-close, and collect what comes back."""
    answers = []
    for start in range(0, len(payloads), batch):
        sel = selectors.DefaultSelector()
        conns = []
        for p in payloads[start:start + batch]:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(sock_path)
            try:
                s.sendall(p)
                s.shutdown(socket.SHUT_WR)
            except OSError:
                pass  # ember may refuse and close before reading it all
            s.setblocking(False)
            conns.append([s, b""])
            sel.register(s, selectors.EVENT_READ, conns[-1])
        deadline = time.monotonic() + wait
        open_count = len(conns)
        while open_count and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.05):
                entry = key.data
                try:
                    chunk = entry[0].recv(65536)
                except (BlockingIOError, InterruptedError):
                    continue
                except OSError:
                    chunk = b""
                if chunk:
                    entry[1] += chunk
                else:
                    sel.unregister(entry[0])
                    open_count -= 1
        for s, data in conns:
            answers.append(data)
            s.close()
        sel.close()
    return answers


def test_malformed_requests(target):
    rng = random.Random(1234)
    junk = junk_requests(rng, 600)
    answers = blast(target.sock, junk)
    assert len(answers) == 600
    for payload, data in zip(junk, answers):
        if data:
            assert data.startswith(b"HTTP/1.1 "), (payload[:80], data[:200])
            status = data[9:12]
            assert status in (b"200", b"204", b"400"), (payload[:80], data[:200])
    assert_healthy(target)

    # well-formed HTTP, bad JSON: 400 with a fault_message every time, on keep-alive
    bodies = bad_json_bodies(rng, 400)
    paths = [("PATCH", "/vm"), ("PUT", "/actions"),
             ("PATCH", "/drives/data"), ("PATCH", "/balloon"), ("PUT", "/machine-config")]
    for c in range(20):
        api = target.new_api(timeout=5)
        for i in range(20):
            method, path = paths[(c + i) % len(paths)]
            api.fault(method, path, bodies[c * 20 + i])
        api.close()
    assert_healthy(target)
    # nothing took effect
    api = target.new_api()
    assert api.ok("GET", "/vm/config")["drives"][0]["path_on_host"] == target.data_img
    api.close()


def test_concurrent_clients(target):
    n = 100
    results = [None] * n
    barrier = threading.Barrier(n)

    def client(i):
        try:
            c = Connection(target.sock, timeout=30)
            barrier.wait(10)
            r = c.request("GET", "/machine-config")
            check_response("GET", "/machine-config", r)
            results[i] = (r.status, r.json["vcpu_count"])
            c.close()
        except BaseException as e:  # noqa: B902 - reported below
            results[i] = repr(e)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    bad = [(i, r) for i, r in enumerate(results) if r != (200, 1)]
    assert not bad, "%d of %d clients failed: %s" % (len(bad), n, bad[:5])
    assert_healthy(target)


def test_slow_client_does_not_block_others(target):
    req = build_request("PATCH", "/vm", {"state": "Resumed"})
    slow = Connection(target.sock, timeout=30)
    errors = []

    def trickle():
        try:
            for i in range(5):  # five bytes, one a second
                slow.send(req[i:i + 1])
                time.sleep(1.0)
        except OSError as e:
            errors.append(e)

    t = threading.Thread(target=trickle)
    t.start()
    worst, n = 0.0, 0
    try:
        time.sleep(0.3)
        while t.is_alive():
            t0 = time.monotonic()
            api = Api(target.sock, timeout=5)
            assert api.ok("GET", "/")["state"] == "Running"
            api.ok("GET", "/machine-config")
            api.close()
            worst = max(worst, time.monotonic() - t0)
            n += 1
            time.sleep(0.3)
    finally:
        t.join()
    assert n >= 5
    assert worst < 1.0, "another client waited %.2f s behind the slow one" % worst
    assert not errors, errors
    # the slow request, completed, is answered
    slow.send(req[5:])
    r = slow.read_response()
    check_response("PATCH", "/vm", r)
    assert r.status == 204
    slow.close()


def read_until_closed(conn, timeout):
    deadline = time.monotonic() + timeout
    conn.sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = conn.sock.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return True
        if not chunk:
            return True
        conn.buf += chunk
    return False


@pytest.mark.parametrize("send_body", [True, False], ids=["body-sent", "headers-only"])
def test_oversized_body(target, send_body):
    size = 1 << 20
    head = (b"PUT /mmds HTTP/1.1\r\nContent-Type: application/json\r\n"
            b"Content-Length: %d\r\n\r\n" % size)
    body = b'{"k":"' + b"x" * (size - 8) + b'"}'
    c = Connection(target.sock, timeout=10)
    c.send(head)
    sender = None
    if send_body:
        def send():
            try:
                c.sock.sendall(body)
            except OSError:
                pass  # refused and closed early: fine
        sender = threading.Thread(target=send)
        sender.start()
    try:
        r = c.read_response()
    except HttpError as e:
        pytest.fail("no answer to a 1 MiB body: %s" % e)
    check_response("PUT", "/mmds", r)
    assert r.status == 400
    assert read_until_closed(c, 5), "the connection stayed open after the oversized body"
    if sender:
        sender.join(10)
    c.close()
    assert_healthy(target)


def test_many_idle_connections(target):
    """Connections that never send anything do not use up the server."""
    idle = []
    try:
        for _ in range(200):
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(target.sock)
            idle.append(s)
        t0 = time.monotonic()
        api = target.new_api(timeout=5)
        assert api.ok("GET", "/")["state"] == "Running"
        api.close()
        assert time.monotonic() - t0 < 1.0
    finally:
        for s in idle:
            s.close()
    assert_healthy(target)


def test_deeply_nested_json(target):
    """Nesting a recursive parser would choke on: refused or stored, never a crash."""
    for body in [b'{"a":' + b"[" * 20000 + b"]" * 20000 + b"}",
                 b'{"a":' + b'{"a":' * 8000 + b"1" + b"}" * 8000 + b"}",
                 b"[" * 50000]:
        api = target.new_api(timeout=10)
        r = api.request("PATCH", "/vm", body)
        assert r.status == 400
        r = api.request("PUT", "/machine-config", body)
        assert r.status == 400
        api.close()
    assert_healthy(target)
