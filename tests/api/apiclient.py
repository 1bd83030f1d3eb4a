# SPDX-License-Identifier: Apache-2.0
"""A small HTTP/1.1 client for ember's API socket that checks every answer.

Connection speaks raw HTTP over AF_UNIX (keep-alive, pipelining, raw bytes
kept).  Api wraps one Connection and checks each response against the
Firecracker API contract before handing it back: status 200/204/400 only,
`Server: Firecracker API`, `Content-Type: application/json` and a matching
`Content-Length` on bodies, no body on 204, and a body that validates
against the spec's schema for that path, method and status.
"""
import json
import os
import re
import socket

import jsonschema
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPEC_PATH = os.environ.get(
    "EMBER_API_SPEC",
    os.path.normpath(os.path.join(REPO, "..", "shared", "spec", "firecracker-api.yaml")))

PRE_BOOT_ONLY = "The requested operation is not supported after starting the microVM."
POST_BOOT_ONLY = "The requested operation is not supported before starting the microVM."


class HttpError(Exception):
    """The bytes on the wire are not an HTTP/1.1 response."""


class Response:
    def __init__(self, status, head, headers, body):
        self.status = status
        self.head = head  # raw bytes up to and including the blank line
        self.headers = headers  # [(name, value)] in wire order
        self.body = body  # raw bytes
        self._json = None

    def header(self, name):
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[0] if values else None

    def header_count(self, name):
        return sum(1 for k, _ in self.headers if k.lower() == name.lower())

    @property
    def json(self):
        if self._json is None and self.body:
            self._json = json.loads(self.body)
        return self._json

    @property
    def fault(self):
        return self.json["fault_message"]

    def __repr__(self):
        return "<%d %r>" % (self.status, self.body[:300])


def build_request(method, path, body=None, headers=None):
    """The bytes of one request; (body) may be str, bytes or a JSON-able object."""
    if body is not None and not isinstance(body, (bytes, str)):
        body = json.dumps(body)
    if isinstance(body, str):
        body = body.encode()
    lines = ["%s %s HTTP/1.1" % (method, path), "Host: localhost"]
    if body is not None:
        lines += ["Content-Type: application/json", "Content-Length: %d" % len(body)]
    for k, v in (headers or {}).items():
        lines.append("%s: %s" % (k, v))
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b"")


class Connection:
    """One keep-alive AF_UNIX connection to the API socket."""

    def __init__(self, sock_path, timeout=10.0):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.sock.connect(sock_path)
        self.buf = b""
        self.timeout = timeout

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise HttpError("connection closed by ember (had %r)" % self.buf[:200])
        self.buf += chunk

    def read_response(self):
        while b"\r\n\r\n" not in self.buf:
            self._fill()
        end = self.buf.index(b"\r\n\r\n") + 4
        head, self.buf = self.buf[:end], self.buf[end:]
        lines = head[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"HTTP/1\.1 (\d{3})( .*)?$", lines[0])
        if not m:
            raise HttpError("bad status line %r" % lines[0])
        status = int(m.group(1))
        headers = []
        for line in lines[1:]:
            if ":" not in line:
                raise HttpError("bad header line %r" % line)
            k, v = line.split(":", 1)
            headers.append((k.strip(), v.strip()))
        resp = Response(status, head, headers, b"")
        length = resp.header("Content-Length")
        if length is not None:
            if not re.fullmatch(r"\d+", length):
                raise HttpError("bad Content-Length %r" % length)
            n = int(length)
            while len(self.buf) < n:
                self._fill()
            resp.body, self.buf = self.buf[:n], self.buf[n:]
        return resp

    def request(self, method, path, body=None, headers=None):
        self.send(build_request(method, path, body, headers))
        return self.read_response()

    def leftover(self, wait=0.05):
        """Bytes that arrived after the last response (there should be none)."""
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
            self.buf += chunk
        except OSError:  # nothing waiting (timeout, EAGAIN) or the peer is gone
            pass
        finally:
            self.sock.settimeout(self.timeout)
        return self.buf


class Spec:
    """The Swagger 2.0 document: which schema a response body must match."""

    def __init__(self, path=SPEC_PATH):
        with open(path) as f:
            self.doc = yaml.safe_load(f)
        self.paths = self.doc["paths"]
        self._templates = []
        for p in self.paths:
            rx = "^" + re.sub(r"\\\{[^}]*\\\}", "[^/]+", re.escape(p)) + "$"
            self._templates.append((p, re.compile(rx)))

    def template(self, path):
        path = path.split("?", 1)[0]
        if path != "/":
            path = path.rstrip("/")
        for p, rx in self._templates:
            if rx.match(path):
                return p
        return None

    def schema(self, method, path, status):
        """(schema or None, documented?) for one response."""
        tpl = self.template(path)
        op = self.paths.get(tpl, {}).get(method.lower()) if tpl else None
        if status == 400 or op is None:
            return {"$ref": "#/definitions/Error"}, True
        responses = op["responses"]
        if status in responses:
            return responses[status].get("schema"), True
        return None, False

    def validate(self, schema, instance):
        full = dict(schema)
        full["definitions"] = self.doc["definitions"]
        jsonschema.Draft4Validator(full).validate(instance)


def strip_nulls(v):
    """Firecracker serialises an absent optional field as null; the spec does not
    list null as a type, so an optional null is treated as absent (a required
    field that is null still fails, as missing)."""
    if isinstance(v, dict):
        return {k: strip_nulls(x) for k, x in v.items() if x is not None}
    if isinstance(v, list):
        return [strip_nulls(x) for x in v]
    return v


_spec = None


def spec():
    global _spec
    if _spec is None:
        _spec = Spec()
    return _spec


def check_response(method, path, resp):
    """Assert that (resp) is a well-formed Firecracker API answer to (method path)."""
    what = "%s %s -> %d %r" % (method, path, resp.status, resp.body[:300])
    assert resp.status in (200, 204, 400), "status must be 200, 204 or 400: " + what
    assert resp.header("Server") == "Firecracker API", \
        "Server header %r: %s" % (resp.header("Server"), what)
    assert resp.header_count("Content-Length") <= 1, "two Content-Length headers: " + what
    if resp.status == 204:
        assert resp.body == b"", "204 with a body: " + what
        assert resp.header("Content-Length") in (None, "0"), \
            "204 with Content-Length %r: %s" % (resp.header("Content-Length"), what)
        schema, documented = spec().schema(method, path, 204)
        assert documented, "204 is not a documented answer: " + what
        return
    assert resp.header("Content-Length") is not None, "body without Content-Length: " + what
    assert resp.header("Content-Type") == "application/json", \
        "Content-Type %r: %s" % (resp.header("Content-Type"), what)
    try:
        body = json.loads(resp.body)
    except ValueError as e:
        raise AssertionError("body is not JSON (%s): %s" % (e, what))
    schema, documented = spec().schema(method, path, resp.status)
    assert documented, "%d is not a documented answer: %s" % (resp.status, what)
    if schema is not None:
        try:
            spec().validate(schema, strip_nulls(body))
        except jsonschema.ValidationError as e:
            raise AssertionError("body does not match the spec (%s): %s" % (e.message, what))
    if resp.status == 400:
        assert isinstance(body, dict) and isinstance(body.get("fault_message"), str) \
            and body["fault_message"].strip(), "400 without a fault_message: " + what


class Api:
    """A checking client on one keep-alive connection.  After a 400 ember may close the
    connection (HTTP-level errors do); the next request then goes on a new one.  A
    connection that closes after a success is an error."""

    def __init__(self, sock_path, timeout=10.0):
        self.sock_path = sock_path
        self.timeout = timeout
        self.conn = None
        self.last_status = None

    def close(self):
        if self.conn:
            self.conn.close()
            self.conn = None

    def _exchange(self, method, path, body, headers):
        if self.conn is None:
            self.conn = Connection(self.sock_path, self.timeout)
        try:
            return self.conn.request(method, path, body, headers)
        except BaseException:
            self.close()
            raise

    def request(self, method, path, body=None, headers=None):
        reused = self.conn is not None
        try:
            resp = self._exchange(method, path, body, headers)
        except (HttpError, ConnectionError):
            if not (reused and self.last_status == 400):
                raise
            # closed after the error before: not this request's fault, send it again
            resp = self._exchange(method, path, body, headers)
        self.last_status = resp.status
        check_response(method, path, resp)
        extra = self.conn.leftover(0)
        assert not extra, "bytes after the response to %s %s: %r" % (method, path, extra[:200])
        return resp

    def get(self, path):
        return self.request("GET", path)

    def put(self, path, body):
        return self.request("PUT", path, body)

    def patch(self, path, body):
        return self.request("PATCH", path, body)

    # Assertions that read well in tests.
    def ok(self, method, path, body=None):
        """The request must succeed (204, or 200 for a GET); returns the JSON body."""
        resp = self.request(method, path, body)
        want = 200 if method == "GET" else 204
        assert resp.status == want, "%s %s %s: want %d, got %d %r" % (
            method, path, body, want, resp.status, resp.body)
        return resp.json

    def fault(self, method, path, body=None):
        """The request must be refused with a 400; returns its fault_message."""
        resp = self.request(method, path, body)
        assert resp.status == 400, "%s %s %s: want 400, got %d %r" % (
            method, path, body, resp.status, resp.body)
        return resp.fault
