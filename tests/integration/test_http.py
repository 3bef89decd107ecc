"""Plain HTTP/1.1 through the real binary: methods, bodies both ways
(Content-Length and chunked), keep-alive on both hops, limits, what a client
sees when a backend fails or misbehaves, and request smuggling, which must
never reach a backend.

The backends are peers/http_backend.py (aiohttp; /echo reports what it got
and from which TCP connection) and peers/raw_http_backend.py (hand-written,
misbehaving on purpose, recording every byte it receives)."""
import hashlib
import http.client
import json
import os
import select
import signal
import socket
import struct
import time
import urllib.request

from harness import (PEERS, PYTHON, SLOW, ProxyTestCase, RawClient, close_frame, frame, free_port,
                     rss_kb)

HOST = "backend.test"
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
PIECE = 64 * KiB


def pattern(size):
    """The bytes http_backend.py's /download sends: 0..255 repeated."""
    block = bytes(range(256)) * (PIECE // 256)
    full, rest = divmod(size, PIECE)
    return block * full + block[:rest]


def pattern_sha256(size):
    """SHA-256 of pattern(size), without holding it all."""
    block = pattern(PIECE)
    digest = hashlib.sha256()
    full, rest = divmod(size, PIECE)
    for _ in range(full):
        digest.update(block)
    digest.update(block[:rest])
    return digest.hexdigest()


def config(port, pools, routes=None, limits=None):
    """wsedge's YAML. pools: {name: [ports]} or {name: ([ports], {key: yaml})};
    routes: [(match as YAML flow text, or None for a catch-all, pool)], by
    default everything to the first pool; limits: {key: yaml}."""
    lines = ["workers: 1", "listeners:", f"  - address: 127.0.0.1:{port}", "    routes:"]
    for match, pool in routes or [(None, next(iter(pools)))]:
        if match:
            lines += [f"      - match: {match}", f"        pool: {pool}"]
        else:
            lines.append(f"      - pool: {pool}")
    lines.append("pools:")
    for name, spec in pools.items():
        ports, extra = spec if isinstance(spec, tuple) else (spec, {})
        lines.append(f"  {name}:")
        lines += [f"    {k}: {v}" for k, v in extra.items()]
        lines.append("    backends: [ " + ", ".join(f"127.0.0.1:{p}" for p in ports) + " ]")
    if limits:
        lines.append("limits:")
        lines += [f"  {k}: {v}" for k, v in limits.items()]
    return "\n".join(lines) + "\n"


def request_bytes(method, target, headers=(), body=b"", host=HOST):
    """A request with Host first; a body gets its Content-Length unless
    headers already frame it."""
    names = {k.lower() for k, _ in headers}
    fields = [("Host", host)] + list(headers)
    if body and "content-length" not in names and "transfer-encoding" not in names:
        fields.append(("Content-Length", str(len(body))))
    head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
    return head.encode("latin-1") + body


def chunked_body(pieces, trailers=b""):
    return b"".join(b"%x\r\n%s\r\n" % (len(p), p) for p in pieces) + b"0\r\n" + trailers + b"\r\n"


class Response:
    def __init__(self, status, reason, fields, body, trailers=()):
        self.status = status
        self.reason = reason
        self.fields = fields  # [(lower-case name, value)] in order
        self.body = body
        self.trailers = list(trailers)

    def get(self, name, default=None):
        values = self.all(name)
        return values[-1] if values else default

    def all(self, name):
        return [v for k, v in self.fields if k == name.lower()]

    def json(self):
        return json.loads(self.body)

    def closes(self):
        return any("close" in v.lower() for v in self.all("connection"))

    def __repr__(self):
        return f"<{self.status} {self.reason} {self.fields} {self.body[:200]!r}>"


class HttpConn(RawClient):
    """One client connection, for byte-exact HTTP: requests written as given,
    responses read strictly by their framing (RFC 9112 §6.3)."""

    def recv_some(self):
        try:
            chunk = self.sock.recv(65536)
        except ConnectionResetError:
            chunk = b""
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def request(self, method, target, headers=(), body=b"", host=HOST):
        self.send(request_bytes(method, target, headers, body, host))

    def read_http(self, method="GET"):
        """The next final response (interim 1xx skipped, 101 returned)."""
        while True:
            head = self.read_until(b"\r\n\r\n").decode("latin-1")
            lines = head[:-4].split("\r\n")
            version, status, reason = (lines[0].split(" ", 2) + [""])[:3]
            assert version in ("HTTP/1.1", "HTTP/1.0"), f"bad status line {lines[0]!r}"
            status = int(status)
            fields = []
            for line in lines[1:]:
                k, v = line.split(":", 1)
                assert k == k.strip(), f"bad field {line!r}"
                fields.append((k.lower(), v.strip()))
            if 100 <= status < 200 and status != 101:
                continue
            response = Response(status, reason, fields, b"")
            if method == "HEAD" or status in (101, 204, 304):
                return response
            te = ",".join(response.all("transfer-encoding")).lower()
            if te:
                assert te.split(",")[-1].strip() == "chunked", f"response coding {te!r}"
                response.body, response.trailers = self.read_chunked()
            elif response.all("content-length"):
                lengths = set(response.all("content-length"))
                assert len(lengths) == 1, f"Content-Length {lengths}"
                response.body = self.read_exact(int(lengths.pop()))
            else:
                response.body = self.read_to_close()
            return response

    def read_chunked(self):
        """(body, trailer lines) of a chunked body, strictly."""
        body = []
        while True:
            line = self.read_until(b"\r\n")[:-2]
            size_text = line.split(b";", 1)[0]
            assert size_text and all(c in b"0123456789abcdefABCDEF" for c in size_text), \
                f"bad chunk size line {line[:60]!r}"
            size = int(size_text, 16)
            if size == 0:
                break
            body.append(self.read_exact(size))
            assert self.read_exact(2) == b"\r\n", "no CRLF after chunk data"
        trailers = []
        while True:
            line = self.read_until(b"\r\n")[:-2]
            if not line:
                return b"".join(body), trailers
            trailers.append(line.decode("latin-1"))

    def read_to_close(self):
        try:
            while True:
                self.recv_some()
        except EOFError:
            pass
        out, self.buf = self.buf, b""
        return out

    def exchange(self, method, target, headers=(), body=b""):
        self.request(method, target, headers, body)
        return self.read_http(method)

    def rest_until_close(self, timeout=5.0):
        """(closed, bytes) once the peer closes, or (False, bytes) after timeout."""
        self.sock.settimeout(timeout * SLOW)
        try:
            return True, self.read_to_close()
        except socket.timeout:
            return False, self.buf
        finally:
            self.sock.settimeout(10.0 * SLOW)


class Received(HttpConn):
    """Bytes already received, read as HttpConn reads; then the end."""

    def __init__(self, data):
        self.buf = data
        self.sock = None

    def recv_some(self):
        raise EOFError("connection closed")


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class HttpCase(ProxyTestCase):
    """Starts HTTP peers and wsedge in front of them."""

    def start_http_backend(self, name="http"):
        port = free_port()
        p = self.spawn([PYTHON, os.path.join(PEERS, "http_backend.py"), "--port", str(port),
                        "--name", name], name=f"http_backend-{name}")
        p.wait_for_output("ready")
        p.port = port
        return p

    def start_raw_http_backend(self, mode):
        port = free_port()
        record = self.tmp_path(f"raw-http-{port}.bin")
        open(record, "wb").close()
        p = self.spawn([PYTHON, os.path.join(PEERS, "raw_http_backend.py"), str(port), mode, record],
                       name=f"raw_http_backend-{mode}")
        p.wait_for_output("ready")
        p.port = port
        p.record = record

        def recorded():
            with open(record, "rb") as f:
                return f.read()

        p.recorded = recorded
        p.requests = lambda: [line.split() for line in p.output().splitlines()
                              if line.startswith("request ")]
        return p

    def start_http_proxy(self, pools, routes=None, limits=None):
        port = free_port()
        return self.start_proxy_yaml(config(port, pools, routes, limits), port)

    def conn(self, proxy=None, timeout=10.0):
        return HttpConn((proxy or self.proxy).port, timeout)

    def assertFromWsedge(self, response, status):
        """An answer wsedge wrote itself: the status, no backend's name, and a
        one-line text body saying why."""
        self.assertEqual(response.status, status, response)
        self.assertIsNone(response.get("x-backend"), response)
        self.assertTrue(response.body.endswith(b"\n") and response.body.count(b"\n") == 1
                        and len(response.body) > 5, response.body)

    def assertAlive(self, proxy=None):
        proxy = proxy or self.proxy
        self.assertIsNone(proxy.proc.poll(), "wsedge exited")
        c = self.conn(proxy)
        r = c.exchange("GET", "/echo?alive=1")
        self.assertEqual(r.status, 200)
        c.close()


def report_headers(report):
    headers = {}
    for k, v in report["headers"]:
        headers.setdefault(k.lower(), []).append(v)
    return headers


class HttpForwarding(HttpCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_http_backend("http")
        self.ws_backend = self.start_http_backend("ws")
        self.proxy = self.start_http_proxy(
            {"http": [self.backend.port], "ws": [self.ws_backend.port]},
            routes=[("{ path: /ws, upgrade: true }", "ws"),
                    ("{ path_prefix: /, upgrade: false }", "http")])

    def test_methods_on_one_connection(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=10 * SLOW)
        sock = None
        for method, body in [("GET", None), ("POST", b"posted"), ("PUT", b"p" * 10000),
                             ("DELETE", None), ("OPTIONS", None), ("PATCH", b"{}"), ("GET", None)]:
            conn.request(method, f"/echo?m={method}", body=body)
            r = conn.getresponse()
            data = r.read()
            self.assertEqual(r.status, 200, method)
            self.assertEqual(r.getheader("X-Backend"), "http")
            report = json.loads(data)
            self.assertEqual(report["method"], method)
            self.assertEqual(report["target"], f"/echo?m={method}")
            self.assertEqual(report["body_length"], len(body or b""))
            self.assertEqual(report["body_sha256"], hashlib.sha256(body or b"").hexdigest())
            sock = sock or conn.sock
            self.assertIs(conn.sock, sock, f"the connection was not kept after {method}")
        conn.close()

    def test_head_gets_the_headers_but_no_body(self):
        c = self.conn()
        get = c.exchange("GET", "/echo")
        # HEAD and a GET behind it in one send: any body bytes after the HEAD's
        # head would be read as the GET's status line.
        c.send(request_bytes("HEAD", "/echo") + request_bytes("GET", "/echo?after=head"))
        head = c.read_http("HEAD")
        self.assertEqual(head.status, 200)
        self.assertEqual(head.body, b"")
        self.assertEqual(head.get("content-type"), get.get("content-type"))
        self.assertGreater(int(head.get("content-length")), 0)
        after = c.read_http()
        self.assertEqual(after.status, 200)
        self.assertEqual(after.json()["target"], "/echo?after=head")
        self.assertEqual(after.json()["method"], "GET")
        c.close()

    def test_204_and_304_have_no_body_and_the_connection_goes_on(self):
        c = self.conn()
        c.send(request_bytes("GET", "/status/204") + request_bytes("GET", "/status/304") +
               request_bytes("GET", "/echo?after=304"))
        for status in (204, 304):
            r = c.read_http()
            self.assertEqual(r.status, status)
            self.assertEqual(r.get("x-backend"), "http")
            self.assertNotIn("chunked", ",".join(r.all("transfer-encoding")))
        after = c.read_http()
        self.assertEqual(after.status, 200)
        self.assertEqual(after.json()["target"], "/echo?after=304")
        self.assertEqual(c.exchange("GET", "/status/404").body, b"status 404\n")
        c.close()

    def test_request_bodies_by_content_length_and_chunked(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=10 * SLOW)
        body = os.urandom(300000)
        conn.request("POST", "/echo", body=body)
        report = json.loads(conn.getresponse().read())
        self.assertEqual((report["body_length"], report["body_sha256"]),
                         (len(body), hashlib.sha256(body).hexdigest()))
        pieces = [os.urandom(n) for n in (1, 100, 65536, 7, 200000)]
        conn.request("PUT", "/echo", body=iter(pieces), encode_chunked=True)
        report = json.loads(conn.getresponse().read())
        whole = b"".join(pieces)
        self.assertEqual((report["method"], report["body_length"], report["body_sha256"]),
                         ("PUT", len(whole), hashlib.sha256(whole).hexdigest()))
        conn.close()
        # Raw: a chunk extension and a trailer, then a request behind it in
        # the same send, which must be read as a request of its own.
        c = self.conn()
        raw = chunked_body([b"hello", b" ", b"world"]).replace(b"5\r\n", b"5;ext=1\r\n", 1)
        raw = raw[:-2] + b"X-Checksum: 42\r\n\r\n"
        c.send(request_bytes("POST", "/echo?raw=1", [("Transfer-Encoding", "chunked")], raw) +
               request_bytes("POST", "/echo?raw=2", body=b"second"))
        first, second = c.read_http().json(), c.read_http().json()
        self.assertEqual((first["target"], first["body_length"], first["body_sha256"]),
                         ("/echo?raw=1", 11, hashlib.sha256(b"hello world").hexdigest()))
        self.assertEqual((second["target"], second["body_length"]), ("/echo?raw=2", 6))
        c.close()

    def test_chunked_responses(self):
        c = self.conn()
        for n, trailer in [(50, "1"), (1, "0"), (0, "1"), (3, "1")]:
            r = c.exchange("GET", f"/chunked?n={n}&trailer={trailer}")
            self.assertEqual(r.status, 200)
            self.assertEqual(r.body, b"".join(f"chunk {i}\n".encode() for i in range(n)))
            # Trailers may be dropped (RFC 9110 §6.5.1), never mangled.
            self.assertIn(r.trailers, ([], ["X-Trailer: done"]) if trailer == "1" else ([],))
        c.close()
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=10 * SLOW)
        conn.request("GET", "/chunked?n=10")
        self.assertEqual(conn.getresponse().read().count(b"chunk "), 10)
        conn.close()

    def test_forwarded_fields(self):
        c = self.conn()
        c.request("GET", "/echo", [("X-Forwarded-For", "203.0.113.9"), ("X-Forwarded-Proto", "https"),
                                   ("X-Forwarded-Host", "evil.example"), ("Cookie", "sid=1")],
                  host="app.example:8080")
        headers = report_headers(c.read_http().json())
        self.assertEqual(headers["x-forwarded-for"], ["127.0.0.1"])
        self.assertEqual(headers["x-forwarded-proto"], ["http"])
        self.assertEqual(headers["x-forwarded-host"], ["app.example:8080"])
        self.assertEqual(headers["host"], ["app.example:8080"])
        self.assertEqual(headers["cookie"], ["sid=1"])
        c.close()

    def test_forged_origin_fields_are_dropped(self):
        c = self.conn()
        c.request("GET", "/echo", [("Forwarded", "for=6.6.6.6"), ("X-Real-IP", "6.6.6.6"),
                                   ("X_Forwarded_For", "6.6.6.6")])
        headers = report_headers(c.read_http().json())
        for forged in ("forwarded", "x-real-ip", "x_forwarded_for"):
            self.assertNotIn(forged, headers)
        self.assertEqual(headers["x-forwarded-for"], ["127.0.0.1"])
        c.close()

    def test_hop_by_hop_fields_are_not_forwarded(self):
        c = self.conn()
        c.request("GET", "/echo", [("Connection", "keep-alive, X-Hop"), ("X-Hop", "secret"),
                                   ("Keep-Alive", "timeout=5"), ("TE", "trailers, deflate"),
                                   ("Proxy-Connection", "keep-alive"), ("X-End", "kept")])
        headers = report_headers(c.read_http().json())
        for hop in ("x-hop", "keep-alive", "proxy-connection"):
            self.assertNotIn(hop, headers)
        self.assertNotIn("deflate", ",".join(headers.get("te", [])), "the client's TE was forwarded")
        self.assertNotIn("x-hop", ",".join(headers.get("connection", [])).lower())
        self.assertEqual(headers["x-end"], ["kept"])
        # The backend's own hop-by-hop fields stop at wsedge too.
        r = c.exchange("GET", "/hop")
        self.assertEqual((r.status, r.body), (200, b"hop\n"))
        self.assertEqual(r.get("x-end-to-end"), "kept")
        self.assertIsNone(r.get("x-hop-back"))
        self.assertNotIn("timeout=99", r.all("keep-alive"))
        self.assertNotIn("x-hop-back", ",".join(r.all("connection")).lower())
        c.close()

    def test_path_is_normalised_and_query_kept(self):
        c = self.conn()
        report = c.exchange("GET", "/a/../%65cho?x=%2e%2E&y=/../").json()
        self.assertEqual(report["target"], "/echo?x=%2e%2E&y=/../")
        c.close()

    def test_upgrade_match_splits_one_path_between_two_pools(self):
        c = self.conn()
        plain = c.exchange("GET", "/ws")  # aiohttp refuses a plain GET on its WebSocket path
        self.assertEqual(plain.get("x-backend"), "http")
        c.close()
        c = self.conn()
        c.send(c.upgrade_request("/ws", host=HOST))
        upgraded = c.read_http()
        self.assertEqual((upgraded.status, upgraded.get("x-backend")), (101, "ws"))
        c.send(frame(1, b"split"))
        self.assertEqual(c.read_frame(), (True, 1, b"split"))
        c.close()
        # No route takes an upgrade anywhere else.
        c = self.conn()
        c.send(c.upgrade_request("/echo", host=HOST))
        self.assertFromWsedge(c.read_http(), 404)
        c.close()

    def test_a_request_no_route_takes_gets_404(self):
        proxy = self.start_http_proxy(
            {"http": [self.backend.port]},
            routes=[("{ path_prefix: /echo, upgrade: false }", "http"),
                    ("{ path: /ws, upgrade: true }", "http")])
        for target in ("/nowhere", "/ws", "/echoes"):
            c = self.conn(proxy)
            self.assertFromWsedge(c.exchange("GET", target), 404)
            c.close()
        c = self.conn(proxy)
        self.assertEqual(c.exchange("GET", "/echo/x").get("x-backend"), "http")
        c.close()
        c = self.conn(proxy)
        c.send(c.upgrade_request("/ws", host=HOST))
        self.assertEqual(c.read_http().status, 101)
        c.close()

    def test_response_delimited_by_close_reaches_the_client_whole(self):
        raw = self.start_raw_http_backend("no-length")
        proxy = self.start_http_proxy({"raw": [raw.port]})
        c = self.conn(proxy)
        r = c.exchange("GET", "/")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.body, b"close-delimited\n" * 100)
        # Re-framed as chunked, the connection may go on; otherwise it ends here.
        if not r.all("transfer-encoding"):
            self.assertTrue(c.rest_until_close()[0])
        c.close()


class OneBackendCase(HttpCase):
    """One aiohttp backend; each test starts wsedge with its own limits."""

    def setUp(self):
        super().setUp()
        self.backend = self.start_http_backend("http")

    def proxy_with(self, **limits):
        self.proxy = self.start_http_proxy({"http": [self.backend.port]}, limits=limits or None)
        return self.proxy


class HttpKeepAlive(OneBackendCase):
    def test_one_backend_connection_serves_a_client_connection(self):
        self.proxy_with()
        c = self.conn()
        ports = set()
        for i in range(20):
            r = c.exchange("POST" if i % 2 else "GET", f"/echo?i={i}", body=b"b" * i)
            self.assertEqual(r.status, 200)
            self.assertFalse(r.closes(), f"response {i} said close")
            ports.add(r.json()["peer_port"])
        self.assertEqual(len(ports), 1, f"20 requests came over {len(ports)} backend connections")
        c.close()

    def test_idle_backend_connections_are_reused_by_later_clients(self):
        self.proxy_with()
        ports = []
        for i in range(3):
            c = self.conn()
            ports.append(c.exchange("GET", f"/echo?client={i}").json()["peer_port"])
            c.close()
        self.assertEqual(len(set(ports)), 1, ports)

    def test_idle_backend_connections_are_closed_after_their_idle_timeout(self):
        self.proxy_with(upstream_keepalive="{ max_idle: 32, idle_timeout: 500ms }")
        c = self.conn()
        first = c.exchange("GET", "/echo").json()["peer_port"]
        self.assertEqual(c.exchange("GET", "/echo").json()["peer_port"], first)
        time.sleep(2 * SLOW)
        # The client's connection is still open (its keepalive_timeout is 60s),
        # but the backend connection behind it was let go.
        self.assertNotEqual(c.exchange("GET", "/echo").json()["peer_port"], first)
        c.close()

    def test_a_post_takes_only_a_backend_connection_idle_a_moment(self):
        # A POST is never replayed, so it never goes where the backend may
        # be closing the connection just now (Node closes idle ones at 5 s).
        self.proxy_with()
        c = self.conn()
        first = c.exchange("GET", "/echo?warm=1").json()["peer_port"]
        self.assertEqual(c.exchange("POST", "/echo?soon=1", body=b"x").json()["peer_port"], first,
                         "a POST right after a response reuses its connection")
        time.sleep(1.5)
        self.assertNotEqual(c.exchange("POST", "/echo?later=1", body=b"x").json()["peer_port"], first,
                            "a POST took a connection idle for over a second")
        # A GET may still take it: it can be sent again if the backend closes.
        self.assertEqual(c.exchange("GET", "/echo?get=1").json()["peer_port"], first)
        c.close()

    def test_pipelined_requests_are_answered_in_order(self):
        self.proxy_with()
        c = self.conn()
        c.send(request_bytes("GET", "/slow?ms=300") +
               request_bytes("POST", "/echo?i=1", body=b"x" * 5000) +
               request_bytes("HEAD", "/echo?i=2") +
               request_bytes("GET", "/chunked?n=3") +
               request_bytes("GET", "/status/204") +
               request_bytes("PUT", "/echo?i=5", [("Transfer-Encoding", "chunked")],
                             chunked_body([b"abc", b"def"])) +
               request_bytes("GET", "/echo?i=6"))
        self.assertEqual(c.read_http().body, b"slow\n")
        r = c.read_http().json()
        self.assertEqual((r["target"], r["body_length"]), ("/echo?i=1", 5000))
        self.assertEqual(c.read_http("HEAD").body, b"")
        self.assertEqual(c.read_http().body, b"chunk 0\nchunk 1\nchunk 2\n")
        self.assertEqual(c.read_http().status, 204)
        r = c.read_http().json()
        self.assertEqual((r["target"], r["body_length"]), ("/echo?i=5", 6))
        self.assertEqual(c.read_http().json()["target"], "/echo?i=6")
        c.close()

    def test_connection_close_from_the_client(self):
        self.proxy_with()
        c = self.conn()
        self.assertEqual(c.exchange("GET", "/echo").status, 200)
        c.send(request_bytes("GET", "/echo?last=1", [("Connection", "close")]) +
               request_bytes("GET", "/echo?never=1"))
        r = c.read_http()
        self.assertEqual(r.json()["target"], "/echo?last=1")
        closed, rest = c.rest_until_close()
        self.assertTrue(closed, "the connection outlived Connection: close")
        self.assertEqual(rest, b"", "a request after Connection: close was answered")
        c.close()

    def test_max_requests_per_connection(self):
        self.proxy_with(max_requests_per_connection=3)
        c = self.conn()
        for i in range(1, 3):
            r = c.exchange("GET", f"/echo?i={i}")
            self.assertEqual(r.status, 200)
            self.assertFalse(r.closes(), f"response {i} said close")
        r = c.exchange("GET", "/echo?i=3")
        self.assertEqual(r.status, 200)
        self.assertTrue(r.closes(), "the 3rd response did not say Connection: close")
        self.assertTrue(c.rest_until_close()[0], "the connection outlived its 3rd request")
        c.close()
        # Pipelined: four in one send get three answers, then the close.
        c = self.conn()
        c.send(b"".join(request_bytes("GET", f"/echo?p={i}") for i in range(4)))
        targets = [c.read_http().json()["target"] for _ in range(3)]
        self.assertEqual(targets, [f"/echo?p={i}" for i in range(3)])
        closed, rest = c.rest_until_close()
        self.assertTrue(closed)
        self.assertEqual(rest, b"")
        c.close()

    def test_keepalive_timeout_closes_an_idle_client_connection(self):
        self.proxy_with(keepalive_timeout="1s")
        c = self.conn()
        self.assertEqual(c.exchange("GET", "/echo").status, 200)
        closed, rest = c.rest_until_close(timeout=6)
        self.assertTrue(closed, "an idle connection outlived keepalive_timeout")
        self.assertEqual(rest, b"")
        c.close()
        # A busy connection is not idle: requests 0.5 s apart go on past 1 s.
        c = self.conn()
        for i in range(4):
            self.assertEqual(c.exchange("GET", f"/echo?busy={i}").status, 200)
            time.sleep(0.4)
        c.close()

    def test_http_request_then_websocket_upgrade_on_one_connection(self):
        self.proxy_with()
        c = self.conn()
        self.assertEqual(c.exchange("GET", "/echo").status, 200)
        self.assertEqual(c.exchange("POST", "/upload", body=b"u" * 1000).json()["body_length"], 1000)
        c.send(c.upgrade_request("/ws", host=HOST))
        r = c.read_http()
        self.assertEqual(r.status, 101)
        self.assertEqual(r.get("upgrade", "").lower(), "websocket")
        c.send(frame(1, b"after http"))
        self.assertEqual(c.read_frame(), (True, 1, b"after http"))
        payload = os.urandom(20000)
        c.send(frame(2, payload))
        self.assertEqual(c.read_frame(), (True, 2, payload))
        c.send(close_frame(1000))
        self.assertEqual(c.read_close()[0], 1000)
        c.close()


class HttpBodies(OneBackendCase):
    def test_1gib_download_streams_in_bounded_memory(self):
        self.proxy_with()
        size = GiB
        expected = pattern_sha256(size)
        c = self.conn(timeout=30)
        self.assertEqual(c.exchange("GET", "/download?size=1000").body, pattern(1000))
        base = rss_kb(self.proxy.pid)
        c.request("GET", f"/download?size={size}")
        head = c.read_until(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head)
        self.assertIn(f"content-length: {size}\r\n".encode(), head.lower())
        digest = hashlib.sha256(c.buf)
        got, c.buf = len(c.buf), b""
        buf = bytearray(MiB)
        view = memoryview(buf)
        peak = base
        next_sample = 0
        while got < size:
            n = c.sock.recv_into(buf, min(MiB, size - got))
            if n == 0:
                break
            digest.update(view[:n])
            got += n
            if got >= next_sample:
                peak = max(peak, rss_kb(self.proxy.pid))
                next_sample += 32 * MiB
        self.assertEqual(got, size)
        self.assertEqual(digest.hexdigest(), expected)
        self.assertLess(peak - base, 64 * 1024, f"RSS grew {peak - base} KiB over a 1 GiB download")
        # The connection goes on.
        self.assertEqual(c.exchange("GET", "/download?size=10").body, pattern(10))
        c.close()

    def test_chunked_download(self):
        self.proxy_with()
        size = 16 * MiB + 123
        c = self.conn(timeout=30)
        r = c.exchange("GET", f"/download?size={size}&chunked=1")
        self.assertEqual(r.status, 200)
        self.assertIn("chunked", r.get("transfer-encoding", ""))
        self.assertEqual(len(r.body), size)
        self.assertEqual(hashlib.sha256(r.body).hexdigest(), pattern_sha256(size))
        self.assertEqual(c.exchange("GET", "/echo").status, 200)
        c.close()

    def test_64mib_upload_streams_in_bounded_memory(self):
        self.proxy_with(max_request_body="128MiB")
        size = 64 * MiB
        piece = pattern(MiB)
        c = self.conn(timeout=30)
        self.assertEqual(c.exchange("POST", "/upload", body=b"warm").status, 200)
        base = peak = rss_kb(self.proxy.pid)
        c.send(request_bytes("POST", "/upload", [("Content-Length", str(size))]))
        for _ in range(size // MiB):
            c.send(piece)
            peak = max(peak, rss_kb(self.proxy.pid))
        r = c.read_http().json()
        self.assertEqual((r["body_length"], r["body_sha256"]), (size, pattern_sha256(size)))
        self.assertLess(peak - base, 32 * 1024, f"RSS grew {peak - base} KiB over a 64 MiB upload")
        # Chunked too, through http.client, under the default 16 MiB limit.
        conn = http.client.HTTPConnection("127.0.0.1", self.proxy.port, timeout=30 * SLOW)
        conn.request("POST", "/upload", body=(piece for _ in range(8)), encode_chunked=True)
        r = json.loads(conn.getresponse().read())
        self.assertEqual((r["body_length"], r["body_sha256"]), (8 * MiB, pattern_sha256(8 * MiB)))
        conn.close()
        c.close()

    def test_a_large_body_in_the_same_send_as_its_head(self):
        # The body is there with the head, before any backend connection is
        # open: all of it must still flow once one is.
        self.proxy_with()
        body = pattern(4 * MiB)
        for i in range(4):
            c = self.conn()
            r = c.exchange("POST", f"/upload?i={i}", body=body)
            self.assertEqual((r.status, r.json()["body_length"]), (200, len(body)))
            c.close()

    def test_max_request_body_by_content_length(self):
        self.proxy_with(max_request_body="1MiB")
        c = self.conn()
        r = c.exchange("POST", "/upload", body=b"a" * MiB)  # exactly the limit
        self.assertEqual(r.json()["body_length"], MiB)
        c.close()
        c = self.conn()
        c.send(request_bytes("POST", "/upload", [("Content-Length", str(MiB + 1))]))
        self.assertFromWsedge(c.read_http(), 413)
        c.close()
        self.assertAlive()

    def test_max_request_body_chunked_growing_past_it(self):
        self.proxy_with(max_request_body="1MiB")
        c = self.conn()
        c.send(request_bytes("POST", "/upload", [("Transfer-Encoding", "chunked")]))
        piece = b"%x\r\n%s\r\n" % (64 * KiB, b"c" * (64 * KiB))
        sent = 0
        # 4 MiB at most, stopping as soon as an answer shows.
        while sent < 4 * MiB and not select.select([c.sock], [], [], 0)[0]:
            try:
                c.sock.sendall(piece)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += 64 * KiB
        self.assertGreater(sent, MiB - 64 * KiB, "answered before the body reached the limit")
        self.assertFromWsedge(c.read_http(), 413)
        self.assertTrue(c.rest_until_close()[0])
        c.close()
        self.assertAlive()

    def test_client_vanishing_mid_upload(self):
        self.proxy_with()
        for reset in (False, True):
            c = self.conn()
            c.send(request_bytes("POST", "/upload", [("Content-Length", str(10 * MiB))]))
            c.send(b"u" * MiB)
            if reset:
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            self.assertAlive()

    def test_client_vanishing_mid_download(self):
        self.proxy_with()
        base = rss_kb(self.proxy.pid)
        for reset in (False, True):
            c = self.conn()
            c.request("GET", f"/download?size={GiB}")
            c.read_exact(4 * MiB)
            if reset:
                c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            c.close()
            self.assertAlive()
        # The abandoned downloads are not kept going in the proxy's memory.
        time.sleep(0.5)
        self.assertLess(rss_kb(self.proxy.pid) - base, 64 * 1024)


class HttpErrors(HttpCase):
    def test_backend_down_gives_502(self):
        proxy = self.start_http_proxy({"dead": [free_port()]})
        c = self.conn(proxy)
        self.assertFromWsedge(c.exchange("GET", "/echo"), 502)
        c.close()

    def test_response_timeout_gives_504(self):
        backend = self.start_http_backend()
        self.proxy = self.start_http_proxy({"http": [backend.port]}, limits={"response_timeout": "1s"})
        c = self.conn()
        self.assertFromWsedge(c.exchange("GET", "/slow?ms=3000"), 504)
        c.close()
        c = self.conn()
        self.assertEqual(c.exchange("GET", "/slow?ms=100").body, b"slow\n")
        c.close()

    def test_two_content_lengths_give_502_and_that_connection_is_dropped(self):
        raw = self.start_raw_http_backend("two-content-length")
        proxy = self.start_http_proxy({"raw": [raw.port]})
        for target in ("/first", "/second"):
            c = self.conn(proxy)
            self.assertFromWsedge(c.exchange("GET", target), 502)
            c.close()
        self.assertTrue(wait_until(lambda: len(raw.requests()) == 2), raw.output())
        ports = {fields[1] for fields in raw.requests()}
        self.assertEqual(len(ports), 2, f"the backend connection was reused:\n{raw.output()}")

    def assertCutShort(self, c, expect_body):
        """The client got a 200 head and at most part of the body, then the close."""
        closed, data = c.rest_until_close(timeout=10)
        self.assertTrue(closed, f"the client connection was left open: {data[:300]!r}")
        self.assertTrue(data.startswith(b"HTTP/1.1 200"), data[:300])
        head, body = data.split(b"\r\n\r\n", 1)
        self.assertIn(expect_body, body)
        return head.decode("latin-1").lower(), body

    def test_bad_chunk_from_the_backend_cuts_the_client_connection(self):
        raw = self.start_raw_http_backend("bad-chunk")
        proxy = self.start_http_proxy({"raw": [raw.port]})
        c = self.conn(proxy)
        c.request("GET", "/")
        head, body = self.assertCutShort(c, b"hello")
        self.assertIn("transfer-encoding: chunked", head)
        self.assertNotIn(b"smuggled-response-bytes", body)
        self.assertNotIn(b"zz", body)
        # Read as chunked, the body never ends.
        with self.assertRaises((EOFError, AssertionError)):
            Received(body).read_chunked()
        c.close()

    def test_truncated_backend_response_cuts_the_client_connection(self):
        raw = self.start_raw_http_backend("truncate")
        proxy = self.start_http_proxy({"raw": [raw.port]})
        c = self.conn(proxy)
        c.request("GET", "/")
        head, body = self.assertCutShort(c, b"t" * 100)
        if "content-length: 1000" not in head:  # re-framed as chunked: never ended
            self.assertNotIn(b"\r\n0\r\n\r\n", body)
        else:
            self.assertEqual(body, b"t" * 100)
        c.close()

    def test_get_is_retried_when_a_backend_refuses_the_connection(self):
        backend = self.start_http_backend()
        proxy = self.start_http_proxy({"p": ([free_port(), backend.port], {"retries": 1})})
        for i in range(4):  # round robin starts on either backend
            c = self.conn(proxy)
            r = c.exchange("GET", f"/echo?try={i}")
            self.assertEqual((r.status, r.get("x-backend")), (200, "http"))
            c.close()

    def test_post_with_a_body_is_never_replayed(self):
        # One backend reads the whole request, then closes without a word.
        closer = self.start_raw_http_backend("close-after-request")
        ok = self.start_raw_http_backend("ok")
        proxy = self.start_http_proxy({"p": ([closer.port, ok.port], {"retries": 1})})
        answers = []
        for i in range(6):  # round robin: some POSTs reach the closer first
            c = self.conn(proxy)
            r = c.exchange("POST", f"/order?n={i}", body=b"pay once " * 100)
            answers.append(r.status)
            if r.status == 502:
                self.assertFromWsedge(r, 502)
            c.close()
        self.assertEqual(set(answers) - {200, 502}, set(), answers)
        self.assertIn(502, answers, "no POST reached the closing backend first")
        wait_until(lambda: len(closer.requests()) + len(ok.requests()) >= 6)
        time.sleep(0.2)
        # Each POST reached one backend, once: the closer's were answered 502.
        seen = [r[3] for r in closer.requests() + ok.requests()]
        self.assertEqual(sorted(seen), sorted(f"/order?n={i}" for i in range(6)),
                         f"closer:\n{closer.output()}\nok:\n{ok.output()}")
        self.assertEqual(len(closer.requests()), answers.count(502))


SMUGGLED = f"GET /smuggled HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode()


def smuggling_cases():
    """(name, request, statuses allowed, what must never reach the backend:
    None when the head itself is refused, so nothing at all may; otherwise
    the bytes from the first wrong one on)."""
    def post(fields, body=b""):
        return (f"POST /echo HTTP/1.1\r\nHost: {HOST}\r\n" + "".join(f + "\r\n" for f in fields) +
                "\r\n").encode() + body

    # Framed by Content-Length it is one request; by chunked, two (and the
    # other way round for te_cl).
    cl_te = b"0\r\n\r\n" + SMUGGLED
    te_cl = b"%x\r\n%s\r\n0\r\n\r\n" % (len(SMUGGLED), SMUGGLED)
    cl = f"Content-Length: {len(cl_te)}"
    te = "Transfer-Encoding: chunked"
    coding = {400, 501}  # RFC 9112 §6.1 and §6.3 allow either for these
    return [
        ("CL.TE", post([cl, te], cl_te), {400}, None),
        ("TE.CL", post([te, "Content-Length: 4"], te_cl), {400}, None),
        ("TE with a trailing space beside CL", post([cl, te + " "], cl_te), {400}, None),
        ("TE: xchunked", post(["Transfer-Encoding: xchunked"], te_cl), coding, None),
        ("TE: xchunked beside CL", post([cl, "Transfer-Encoding: xchunked"], cl_te), coding, None),
        ("two TE lines", post([te, "Transfer-Encoding: identity"], te_cl), coding, None),
        ("TE chunked twice", post([te, te], te_cl), {400}, None),
        ("TE: chunked, identity", post(["Transfer-Encoding: chunked, identity"], te_cl), coding, None),
        ("space before the colon", post(["Transfer-Encoding : chunked", cl], cl_te), {400}, None),
        ("differing Content-Lengths",
         post(["Content-Length: 5", f"Content-Length: {5 + len(SMUGGLED)}"], b"hello" + SMUGGLED),
         {400}, None),
        ("Content-Length: 5, 6", post(["Content-Length: 5, 6"], b"hello!"), {400}, None),
        ("Content-Length: +5", post(["Content-Length: +5"], b"hello"), {400}, None),
        ("Content-Length: -1", post(["Content-Length: -1"]), {400}, None),
        ("obs-fold", post(["Content-Length: 5", "X-Folded: a", " b"], b"hello"), {400}, None),
        ("bare LF line endings", f"GET /echo HTTP/1.1\nHost: {HOST}\n\n".encode(), {400}, None),
        ("a bare LF among CRLFs", f"GET /echo HTTP/1.1\r\nHost: {HOST}\r\nX-A: 1\nX-B: 2\r\n\r\n"
         .encode(), {400}, None),
        ("two spaces in the request line", f"GET  /echo HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode(),
         {400}, None),
        ("chunk size 0x5", post([te], b"0x5\r\nhello\r\n0\r\n\r\n"), {400}, b"0x"),
        ("chunk size with a sign", post([te], b"+5\r\nhello\r\n0\r\n\r\n"), {400}, b"+5"),
        # Over max_request_body (16 MiB) long before it is over 16 digits.
        ("chunk size of 17 digits", post([te], b"10000000000000005\r\nhello\r\n0\r\n\r\n"),
         {400, 413}, b"10000000000000005"),
        # A 32-bit reader would wrap it to 0, the last chunk, and read what
        # follows as a request.
        ("chunk size of 2^32", post([te], b"100000000\r\n" + SMUGGLED), {413}, b"100000000"),
        ("Connection naming Content-Length",
         post(["Connection: Content-Length", f"Content-Length: {len(SMUGGLED)}"], SMUGGLED), {400},
         None),
        ("HTTP/1.0 with chunked", (f"POST /echo HTTP/1.0\r\nHost: {HOST}\r\n{te}\r\n\r\n").encode()
         + te_cl, {400}, None),
        ("chunk extension over 4 KiB", post([te], b"5;" + b"e" * 5000 + b"\r\nhello\r\n0\r\n\r\n"),
         {400}, b"e" * 4097),
        ("no CRLF after chunk data", post([te], b"5\r\nhelloXX0\r\n\r\n"), {400}, b"helloX"),
    ]


class Smuggling(HttpCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_raw_http_backend("ok")
        self.proxy = self.start_http_proxy({"raw": [self.backend.port]})

    def test_valid_requests_reach_the_backend(self):
        # What the other tests rely on: pipelined valid requests, bodies by
        # both framings, each reaches the backend and is answered in order.
        c = self.conn()
        c.send(request_bytes("POST", "/one", body=b"hello") +
               request_bytes("POST", "/two", [("Transfer-Encoding", "chunked")],
                             chunked_body([b"hel", b"lo"])) +
               request_bytes("GET", "/three"))
        bodies = [c.read_http().body for _ in range(3)]
        self.assertEqual([b.split()[:2] for b in bodies], [[b"ok", b"1"], [b"ok", b"2"], [b"ok", b"3"]])
        c.close()
        self.assertTrue(wait_until(lambda: len(self.backend.requests()) == 3))
        self.assertEqual([(r[2], r[3], r[4]) for r in self.backend.requests()],
                         [("POST", "/one", "5"), ("POST", "/two", "5"), ("GET", "/three", "0")])
        self.assertIn(b"GET /three HTTP/1.1\r\n", self.backend.recorded())

    def test_smuggling_shapes_are_refused_and_never_reach_the_backend(self):
        for name, raw, statuses, poison in smuggling_cases():
            with self.subTest(name):
                before = len(self.backend.recorded())
                c = self.conn()
                try:
                    c.send(raw + SMUGGLED)
                except (BrokenPipeError, ConnectionResetError):
                    pass
                r = c.read_http()
                self.assertIn(r.status, statuses, r)
                self.assertFromWsedge(r, r.status)
                closed, rest = c.rest_until_close()
                self.assertTrue(closed, "the connection stayed open after the refusal")
                self.assertEqual(rest, b"", "a second answer came after the refusal")
                c.close()
                time.sleep(0.1)
                seen = self.backend.recorded()
                self.assertNotIn(b"/smuggled", seen)
                if poison is None:
                    self.assertEqual(seen[before:], b"", "a refused request reached the backend")
                else:
                    self.assertNotIn(poison, seen[before:], "invalid body bytes reached the backend")
        self.assertEqual(self.backend.requests(), [], "a whole request reached the backend")
        self.assertAlive()


class HttpOperations(HttpCase):
    """What operators see of plain HTTP: a SIGTERM lets keep-alive clients
    go at once and the request in flight finish, and every request has its
    line in the access log and its count in /metrics."""

    def start_observed_proxy(self, backend):
        port, admin = free_port(), free_port()
        log = self.tmp_path(f"access-{port}.log")
        extra = (f"admin: {{ address: 127.0.0.1:{admin} }}\n"
                 f"access_log: {{ path: {log} }}\n")
        proxy = self.start_proxy_yaml(config(port, {"http": [backend.port]}) + extra, port)
        proxy.admin, proxy.access_log = admin, log
        return proxy

    def test_sigterm_closes_idle_keepalive_connections_and_finishes_the_request_in_flight(self):
        backend = self.start_http_backend("http")
        proxy = self.start_observed_proxy(backend)
        idle = self.conn(proxy)
        self.assertEqual(idle.exchange("GET", "/echo?first=1").status, 200)
        busy = self.conn(proxy)
        busy.request("GET", "/slow?ms=1500")
        time.sleep(0.3 * SLOW)
        proxy.proc.send_signal(signal.SIGTERM)
        # The idle one is let go at once: nothing of a request was under way.
        self.assertTrue(idle.is_closed(timeout=3 * SLOW), "an idle keep-alive client was kept")
        # The one in flight gets its whole answer, told it is the last.
        r = busy.read_http()
        self.assertEqual(r.status, 200)
        self.assertTrue(r.closes(), "the answer during a drain must say Connection: close")
        self.assertTrue(busy.is_closed(timeout=3 * SLOW))
        self.assertEqual(proxy.proc.wait(timeout=10 * SLOW), 0)

    def test_every_request_has_its_access_log_line_and_its_count(self):
        backend = self.start_http_backend("http")
        proxy = self.start_observed_proxy(backend)
        c = self.conn(proxy)
        for method, target in (("GET", "/echo?a=1"), ("POST", "/echo?b=2"), ("GET", "/status/404")):
            c.exchange(method, target, body=b"x" if method == "POST" else b"")
        c.close()
        refused = self.conn(proxy)
        refused.send(b"POST /echo HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 1\r\n"
                     b"Transfer-Encoding: chunked\r\n\r\n")
        self.assertEqual(refused.read_http("POST").status, 400)
        refused.close()

        def lines():
            with open(proxy.access_log) as f:
                return [json.loads(line) for line in f if line.strip()]

        wait_until(lambda: len(lines()) >= 5)
        time.sleep(0.3 * SLOW)  # and no line more for the keep-alive closes
        # The harness's port probe asked nothing: its line has no status.
        asked = [l for l in lines() if l["status"] is not None]
        self.assertEqual(len(lines()) - len(asked), 1, lines())
        got = [(l["method"], l["path"], l["status"]) for l in asked]
        self.assertEqual(got, [("GET", "/echo?a=1", 200), ("POST", "/echo?b=2", 200),
                               ("GET", "/status/404", 404), ("POST", "/echo", 400)])
        self.assertTrue(all(l["backend"] for l in asked[:3]), asked)
        with urllib.request.urlopen(f"http://127.0.0.1:{proxy.admin}/metrics", timeout=5) as m:
            text = m.read().decode()
        counts = {}
        for line in text.splitlines():
            if line.startswith("wsedge_http_responses_total{"):
                status = line.split('status="')[1].split('"')[0]
                counts[status] = float(line.rsplit(" ", 1)[1])
        self.assertEqual(counts, {"200": 2, "404": 1, "400": 1}, text)
        # A refused plain request is not a failed WebSocket handshake.
        self.assertNotIn('wsedge_handshakes_total{listener="127.0.0.1:%d",result="failed"' % proxy.port,
                         text)
