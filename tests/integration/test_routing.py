"""Routing through the real binary: every matcher, first match wins, the
path normalised before anything matches on it, the backend request as the
route rewrites it, and Origin checks that refuse before any backend is
contacted. Every backend says who it is in its 101 (X-Backend)."""
import json
import os

from harness import ProxyTestCase, RawClient, frame, free_port

ROUTES = """\
      - match: { path: /exact }
        pool: exact
      - match: { path_prefix: /chat }
        pool: chat
      - match: { path_regex: '^/room/[0-9]+$' }
        pool: room
      - match: { host: '*.example.com', path_prefix: /h }
        pool: wild
      - match: { host: api.test, path_prefix: /h }
        pool: api
      - match: { path_prefix: /t, header: [ { name: X-Tenant, value: blue }, { name: X-Region, value: eu } ] }
        pool: blue
      - match: { path_prefix: /q, query: { name: v, value: "2" } }
        pool: v2
      - match: { path_prefix: /gql, subprotocol: graphql-ws }
        pool: gql
      - match: { path: /admin }
        pool: admin
      - match: { path_prefix: /api }
        pool: reporter
        rewrite_prefix: /v2
        request_headers: { add: { X-Edge: wsedge }, remove: [ Cookie ] }
"""


class Routing(ProxyTestCase):
    @classmethod
    def names(cls):
        return ["exact", "chat", "room", "wild", "api", "blue", "v2", "gql", "admin"]

    def setUp(self):
        super().setUp()
        pools = []
        for name in self.names():
            args = ["--name", name] + (["--subprotocol", "graphql-ws"] if name == "gql" else [])
            b = self.start_py_backend(*args)
            pools.append(f"  {name}:\n    backends: [ 127.0.0.1:{b.port} ]")
        reporter = self.start_py_backend("--name", "reporter", "--report-headers")
        pools.append(f"  reporter:\n    backends: [ 127.0.0.1:{reporter.port} ]")
        port = free_port()
        yaml = (f"workers: 1\nlisteners:\n  - address: 127.0.0.1:{port}\n    routes:\n{ROUTES}"
                "pools:\n" + "\n".join(pools) + "\n")
        self.proxy = self.start_proxy_yaml(yaml, port)

    def ask(self, path, extra="", host="127.0.0.1"):
        """(status, the backend that answered or None)."""
        c = RawClient(self.proxy.port)
        try:
            c.send(c.upgrade_request(path, extra, host=host))
            status, headers, _ = c.read_response()
            return status, headers.get("x-backend")
        finally:
            c.close()

    def assertRoutes(self, cases):
        for args, expected in cases:
            args = args if isinstance(args, tuple) else (args,)
            status, backend = self.ask(*args)
            want = (101, expected) if isinstance(expected, str) else (expected, None)
            self.assertEqual((status, backend), want, args)

    def test_exact_prefix_and_regex_paths(self):
        self.assertRoutes([
            ("/exact", "exact"), ("/exact/", 404), ("/exactly", 404),
            ("/chat", "chat"), ("/chat/", "chat"), ("/chat/lobby", "chat"), ("/chatty", 404),
            ("/room/42", "room"), ("/room/42/x", 404), ("/room/", 404), ("/room/4a", 404),
            ("/nowhere", 404), ("/", 404),
        ])

    def test_host_exact_and_wildcard_any_case_port_ignored(self):
        self.assertRoutes([
            (("/h", "", "a.example.com"), "wild"),
            (("/h", "", "Deep.A.EXAMPLE.com:8443"), "wild"),
            (("/h", "", "example.com"), 404),
            (("/h", "", "badexample.com"), 404),
            (("/h", "", "API.test:80"), "api"),
            (("/h", "", "api.test.evil"), 404),
        ])

    def test_headers_queries_and_subprotocols(self):
        self.assertRoutes([
            (("/t", "X-Tenant: blue\r\nX-Region: eu\r\n"), "blue"),
            (("/t", "X-Tenant: blue\r\n"), 404),
            (("/t", "X-Tenant: red\r\nX-Region: eu\r\n"), 404),
            ("/q?v=2", "v2"), ("/q?x=1&v=2", "v2"), ("/q?v=%32", "v2"), ("/q?v=3", 404), ("/q", 404),
            (("/gql", "Sec-WebSocket-Protocol: graphql-transport-ws, graphql-ws\r\n"), "gql"),
            (("/gql", "Sec-WebSocket-Protocol: graphql-transport-ws\r\n"), 404),
            ("/gql", 404),
        ])

    def test_the_path_is_normalised_before_matching(self):
        self.assertRoutes([
            ("/admin", "admin"), ("/a/../admin", "admin"), ("/%61dmin", "admin"), ("//admin", "admin"),
            ("/./admin", "admin"), ("/chat/../admin", "admin"), ("/%2e/admin", "admin"),
            ("/ADMIN", 404), ("/admin/", 404),
            ("/chat%2Fx", 400), ("/chat%2fx", 400), ("/chat%5Cx", 400), ("/chat%5cx", 400), ("/chat%00", 400),
            ("/chat\\x", 400), ("/../admin", 400), ("/chat/../../admin", 400), ("/%2e%2e/admin", 400),
        ])

    def test_the_backend_gets_the_normalised_rewritten_path_the_query_untouched_and_the_edits(self):
        c = RawClient(self.proxy.port)
        c.handshake("/api//x/../items?a=%2F&b=%61+c", "Cookie: session=secret\r\nX-Keep: 1\r\n")
        _, op, payload = c.read_frame()
        report = json.loads(payload)
        c.close()
        self.assertEqual(report["path"], "/v2/items?a=%2F&b=%61+c")
        headers = {k.lower(): v for k, v in report["headers"]}
        self.assertEqual(headers.get("x-edge"), "wsedge")
        self.assertNotIn("cookie", headers)
        self.assertEqual(headers.get("x-keep"), "1")
        for path, seen in [("/api", "/v2"), ("/api/", "/v2/"), ("/apiary", None)]:
            c = RawClient(self.proxy.port)
            c.send(c.upgrade_request(path))
            status, _, _ = c.read_response()
            if seen is None:
                self.assertEqual(status, 404, path)
            else:
                self.assertEqual(status, 101, path)
                self.assertEqual(json.loads(c.read_frame()[2])["path"], seen)
            c.close()


class Origins(ProxyTestCase):
    def test_an_unlisted_or_missing_origin_gets_403_and_no_backend_is_contacted(self):
        locked = self.start_raw_backend("status", "200")
        open_backend = self.start_py_backend("--name", "open")
        port = free_port()
        origins = 'allowed_origins: [ "https://app.example.com", "https://*.example.com:8443" ]'
        yaml = f"""\
workers: 1
listeners:
  - address: 127.0.0.1:{port}
    routes:
      - match: {{ path_prefix: /locked }}
        pool: locked
        {origins}
      - match: {{ path_prefix: /open }}
        pool: open
        {origins}
pools:
  locked:
    backends: [ 127.0.0.1:{locked.port} ]
  open:
    backends: [ 127.0.0.1:{open_backend.port} ]
"""
        proxy = self.start_proxy_yaml(yaml, port)
        refused = ["", "Origin: https://evil.example\r\n", "Origin: http://app.example.com\r\n",
                   "Origin: https://app.example.com:444\r\n", "Origin: https://example.com:8443\r\n",
                   "Origin: null\r\n", "Origin: https://app.example.com.evil\r\n"]
        for extra in refused:
            c = RawClient(proxy.port)
            c.send(c.upgrade_request("/locked", extra))
            status, headers, body = c.read_response()
            c.close()
            self.assertEqual(status, 403, extra)
            self.assertEqual(body, b"this origin may not open a WebSocket here\n", extra)
        self.assertFalse(os.path.exists(locked.record) and os.path.getsize(locked.record) > 0,
                         "the backend of a refused route saw a connection")
        for extra in ["Origin: https://app.example.com\r\n", "Origin: HTTPS://App.Example.COM\r\n",
                      "Origin: https://eu.example.com:8443\r\n"]:
            c = RawClient(proxy.port)
            c.send(c.upgrade_request("/open", extra))
            status, headers, _ = c.read_response()
            c.close()
            self.assertEqual((status, headers.get("x-backend")), (101, "open"), extra)
        c = RawClient(proxy.port)
        c.handshake("/open", "Origin: https://app.example.com\r\n")
        c.send(frame(1, b"through"))
        self.assertEqual(c.read_frame()[2], b"through")
        c.close()
