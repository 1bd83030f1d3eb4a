# SPDX-License-Identifier: Apache-2.0
"""HTTP itself: the bytes of a response, keep-alive, pipelining, the payload limit,
unknown paths and methods, and bodies that are missing or not JSON."""
import pytest

from apiclient import Connection, build_request, check_response


def invalid_path_texts(method, path):
    """Firecracker's 'Invalid request method and/or path' message for (method path).
    The contract names the whole path; Firecracker itself prints only the path's first
    segment without its slash.  Either is accepted."""
    first = path.strip("/").split("/")[0]
    fmt = "Invalid request method and/or path: %s %s."
    return {fmt % (method, path), fmt % (method, first)}


def test_response_head_bytes(vm):
    """200, 204 and 400 heads are byte for byte what Firecracker (micro_http) sends."""
    c = Connection(vm.sock)
    r = c.request("GET", "/machine-config")
    check_response("GET", "/machine-config", r)
    assert r.head == (b"HTTP/1.1 200 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                      % len(r.body)), r.head
    r = c.request("PATCH", "/machine-config", {"vcpu_count": 1})
    check_response("PATCH", "/machine-config", r)
    assert r.head == b"HTTP/1.1 204 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n\r\n", \
        r.head
    r = c.request("GET", "/nope")
    check_response("GET", "/nope", r)
    assert r.head == (b"HTTP/1.1 400 \r\nServer: Firecracker API\r\nConnection: keep-alive\r\n"
                      b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
                      % len(r.body)), r.head
    c.close()


def test_required_headers(api):
    for method, path, body in [("GET", "/", None), ("GET", "/version", None),
                               ("PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 128}),
                               ("PUT", "/nope", {})]:
        r = api.request(method, path, body)  # checks Server, Content-Type, Content-Length
        if r.status != 204:
            assert int(r.header("Content-Length")) == len(r.body) > 0


def test_keep_alive(vm):
    c = Connection(vm.sock)
    for i in range(20):
        path = ["/", "/machine-config", "/version", "/mmds"][i % 4]
        r = c.request("GET", path)
        check_response("GET", path, r)
        assert r.status == 200
        assert r.header("Connection") in (None, "keep-alive")
    r = c.request("PUT", "/mmds", {"n": 20})
    check_response("PUT", "/mmds", r)
    assert r.status == 204
    r = c.request("GET", "/mmds")
    assert r.status == 200 and r.json == {"n": 20}
    c.close()


def test_pipelined_requests_answered_in_order(vm):
    c = Connection(vm.sock)
    reqs = [("GET", "/", None),
            ("PUT", "/machine-config", {"vcpu_count": 2, "mem_size_mib": 96}),
            ("GET", "/machine-config", None),
            ("GET", "/nope", None),
            ("PATCH", "/machine-config", {"mem_size_mib": 80}),
            ("GET", "/machine-config", None),
            ("GET", "/version", None)]
    c.send(b"".join(build_request(m, p, b) for m, p, b in reqs))
    got = []
    for m, p, b in reqs:
        r = c.read_response()
        check_response(m, p, r)
        got.append(r)
    assert [r.status for r in got] == [200, 204, 200, 400, 204, 200, 200]
    assert got[0].json["state"] == "Not started"
    assert (got[2].json["vcpu_count"], got[2].json["mem_size_mib"]) == (2, 96)
    assert (got[5].json["vcpu_count"], got[5].json["mem_size_mib"]) == (2, 80)
    assert "firecracker_version" in got[6].json
    assert c.leftover(0.2) == b""
    c.close()


def test_pipelined_in_pieces(vm):
    """Requests split at odd places and run together are still parsed right."""
    data = b"".join([build_request("PUT", "/mmds", {"a": "b" * 50}),
                     build_request("GET", "/mmds"),
                     build_request("GET", "/machine-config")])
    c = Connection(vm.sock)
    for i in range(0, len(data), 7):
        c.send(data[i:i + 7])
    statuses = []
    for m, p in [("PUT", "/mmds"), ("GET", "/mmds"), ("GET", "/machine-config")]:
        r = c.read_response()
        check_response(m, p, r)
        statuses.append(r.status)
    assert statuses == [204, 200, 200]
    c.close()


def mmds_body(n):
    """A JSON object of exactly (n) bytes."""
    body = '{"k":"%s"}' % ("x" * (n - 8))
    assert len(body) == n
    return body


def test_max_payload_size_option(spawn):
    e = spawn(["--http-api-max-payload-size", "100"])
    api = e.new_api()
    api.ok("PUT", "/mmds", mmds_body(100))
    api.close()
    api = e.new_api()
    fault = api.fault("PUT", "/mmds", mmds_body(101))
    assert "100" in fault or "payload" in fault.lower(), fault
    api.close()
    # ember is fine and the 100-byte body is what it kept
    api = e.new_api()
    assert api.ok("GET", "/mmds") == {"k": "x" * 92}


def test_default_max_payload_is_51200(api, vm):
    api.ok("PUT", "/mmds", mmds_body(51200))
    api.close()
    api2 = vm.new_api()
    api2.fault("PUT", "/mmds", mmds_body(51201))
    api2.close()
    assert vm.new_api().ok("GET", "/") is not None


UNKNOWN = [
    ("GET", "/nope", None),
    ("GET", "/drives", None),
    ("GET", "/actions", None),
    ("GET", "/vm", None),
    ("PUT", "/nope", {}),
    ("PUT", "/version", {"a": 1}),
    ("PUT", "/vm", {"state": "Paused"}),
    ("PATCH", "/version", {"a": 1}),
    ("PATCH", "/boot-source", {"kernel_image_path": "/k"}),
    ("PATCH", "/actions", {"action_type": "InstanceStart"}),
    ("DELETE", "/machine-config", None),
    ("DELETE", "/mmds", None),
]


@pytest.mark.parametrize("method,path,body", UNKNOWN,
                         ids=["%s%s" % (m, p.replace("/", "-")) for m, p, _ in UNKNOWN])
def test_unknown_path_or_method(api, method, path, body):
    fault = api.fault(method, path, body)
    assert fault in invalid_path_texts(method, path), fault


@pytest.mark.parametrize("method", ["POST", "HEAD", "OPTIONS", "TRACE", "get"])
def test_other_methods_refused(api, method):
    api.fault(method, "/actions", {"action_type": "InstanceStart"})
    api.fault(method, "/")
    assert api.ok("GET", "/")["state"] == "Not started"


@pytest.mark.parametrize("method,path", [("PUT", "/machine-config"), ("PATCH", "/machine-config"),
                                         ("PUT", "/actions"), ("PUT", "/boot-source"),
                                         ("PUT", "/drives/rootfs"), ("PATCH", "/vm")],
                         ids=lambda v: v.replace("/", "-") if isinstance(v, str) else v)
def test_empty_body_refused(api, method, path):
    api.fault(method, path)  # no body at all
    api.fault(method, path, "")  # Content-Length: 0


def test_get_with_body_refused(api):
    fault = api.fault("GET", "/machine-config", {"vcpu_count": 1})
    assert "body" in fault.lower(), fault


@pytest.mark.parametrize("body", [b'{"vcpu_count": 1,', b"not json", b"{'vcpu_count': 1}",
                                  b"[]", b"null", b'"x"', b"\xff\xfe{}", b"{}}"],
                         ids=["truncated", "word", "single-quotes", "array", "null", "string",
                              "binary", "trailing"])
def test_bad_json_refused(api, body):
    api.fault("PUT", "/machine-config", body)
    got = api.ok("GET", "/machine-config")
    assert (got["vcpu_count"], got["mem_size_mib"]) == (1, 128)


def test_error_then_keep_going_on_same_connection(vm):
    """A 400 from the API (not from HTTP parsing) keeps the connection open."""
    c = Connection(vm.sock)
    for method, path, body in [("PUT", "/machine-config", b"{"), ("GET", "/nope", None),
                               ("PUT", "/machine-config", {"vcpu_count": 0,
                                                          "mem_size_mib": 128})]:
        r = c.request(method, path, body)
        check_response(method, path, r)
        assert r.status == 400
    r = c.request("GET", "/")
    check_response("GET", "/", r)
    assert r.json["state"] == "Not started"
    c.close()


def test_expect_100_continue(vm):
    """curl sends 'Expect: 100-continue' with bodies over 1 KiB; Firecracker (micro_http)
    answers with an interim 100 at once, then the final response after the body."""
    body = ('{"k":"%s"}' % ("x" * 2000)).encode()
    c = Connection(vm.sock, timeout=5)
    c.send(b"PUT /mmds HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n"
           b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % len(body))
    c.sock.settimeout(1.0)
    interim = c.read_response()
    assert interim.status == 100, interim.head
    assert interim.header("Server") == "Firecracker API"
    c.sock.settimeout(5)
    c.send(body)
    r = c.read_response()
    check_response("PUT", "/mmds", r)
    assert r.status == 204
    c.close()
    assert vm.new_api().ok("GET", "/mmds") == {"k": "x" * 2000}


def test_header_names_any_case(vm):
    for name in (b"content-length", b"CONTENT-LENGTH", b"Content-length"):
        body = b'{"vcpu_count": 2}'
        c = Connection(vm.sock)
        c.send(b"PATCH /machine-config HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
               b"%s: %d\r\n\r\n%s" % (name, len(body), body))
        r = c.read_response()
        check_response("PATCH", "/machine-config", r)
        assert r.status == 204, (name, r)
        c.close()


def test_utf8_bodies_counted_in_bytes(api):
    data = {"k": "\u00e9\u2713\U0001f600", "\u00fc": ["\u4e2d\u6587"]}
    api.ok("PUT", "/mmds", data)  # the client sends \u escapes
    raw = '{"raw":"\u00e9\u2713\U0001f600"}'.encode()  # and raw UTF-8
    api.ok("PATCH", "/mmds", raw)
    got = api.ok("GET", "/mmds")  # Content-Length must count bytes, not characters
    assert got == dict(data, raw="\u00e9\u2713\U0001f600")


def test_fault_messages_are_escaped_json(api, scratch):
    """Whatever ends up quoted in a fault_message, the body stays valid JSON."""
    path = scratch + '/no"such\\file\n\t\u00e9'
    fault = api.fault("PUT", "/drives/a", {"drive_id": "a", "path_on_host": path,
                                           "is_root_device": False})
    assert path in fault or "path_on_host" in fault, fault
    fault = api.fault("PUT", "/machine-config", b'{"vcpu_count": "\\"\\n\\u0001", "x": 1}')
    assert fault
    api.fault("GET", "/a%22b%5C%0A")
