"""Real apps that mix plain HTTP and WebSocket on one origin, with wsedge as
their only proxy: Socket.IO (long polling, then the upgrade) on two backends
kept together by the sticky cookie, over ws:// and wss://; a SignalR-style
negotiate (a JSON POST) and then the upgrade it names; a GraphQL query over
HTTP beside a graphql-transport-ws subscription on the same path.

The Socket.IO apps are the real socket.io and socket.io-client, pinned in
apps/package.json: `make deps` installs them (npm ci --prefix tests/integration/apps).
"""
import asyncio
import http.client
import json
import os
import re
import subprocess
import urllib.request

import websockets

from harness import HERE, NODE, PYTHON, SLOW, ProxyTestCase, free_port
from test_tls import CERTS, make_certs

APPS = os.path.join(HERE, "apps")
NODE_MODULES = os.path.join(APPS, "node_modules")
STICKY = "wsedge_affinity"
SET_COOKIE = rf"{STICKY}=([0-9a-f]+); Path=/; HttpOnly; SameSite=Lax"
RS = "\x1e"  # SignalR's record separator


def app_yaml(port, backends, sticky=False, tls=False, workers=2):
    """One listener, every path to one pool of these backend ports."""
    lines = [f"workers: {workers}", "listeners:", f"  - address: 127.0.0.1:{port}"]
    if tls:
        lines.append(f"    tls: {{ certificates: [ {{ cert: {CERTS}/localhost.pem, "
                     f"key: {CERTS}/localhost.key }} ] }}")
    lines += ["    routes: [ { pool: app } ]", "pools:", "  app:"]
    if sticky:
        lines.append(f"    sticky: {{ cookie: {STICKY} }}")
    lines.append("    backends: [ " + ", ".join(f"127.0.0.1:{p}" for p in backends) + " ]")
    return "\n".join(lines) + "\n"


def connect(url, **kw):
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 10 * SLOW)
    return websockets.connect(url, **kw)


def refused_status(exc):
    """The HTTP status of a refused upgrade, across websockets versions."""
    status = getattr(exc, "status_code", None)
    if status is None and getattr(exc, "response", None) is not None:
        status = exc.response.status_code
    return status


class AppTestCase(ProxyTestCase):
    def start_app_proxy(self, backends, sticky=False, tls=False, workers=2):
        port = free_port()
        return self.start_proxy_yaml(app_yaml(port, [b.port for b in backends], sticky, tls, workers), port)

    def start_app(self, script, *args, port=None, name=None):
        port = port or free_port()
        if script.endswith(".js"):
            cmd = [NODE, os.path.join(APPS, script), str(port), *args]
        else:
            cmd = [PYTHON, os.path.join(APPS, script), "--port", str(port), *args]
        p = self.spawn(cmd, name=name or os.path.splitext(script)[0])
        p.wait_for_output("ready")
        p.port = port
        return p


class SocketIo(AppTestCase):
    """socket.io 4.8 with its default options: every client starts on HTTP
    long polling (a handshake GET, then POSTs and held GETs, each its own
    TCP connection from Node's client) and upgrades to WebSocket. The session
    lives in one backend's memory, so every request of a client must reach
    that backend: the sticky cookie wsedge sets on the first response, which
    the client's cookie jar (withCredentials: true) sends back, does it."""

    CLIENTS = 20

    def setUp(self):
        for pkg in ("socket.io", "socket.io-client"):
            if not os.path.isfile(os.path.join(NODE_MODULES, pkg, "package.json")):
                self.fail(f"{pkg} is not installed in {NODE_MODULES}: run `make deps` "
                          f"(it runs npm ci --prefix tests/integration/apps)")
        super().setUp()

    def start_pair(self):
        """Two backends, a and b, each relaying room broadcasts to the other
        (as a Socket.IO adapter would), so a room spans both."""
        pa, pb = free_port(), free_port()
        a = self.start_app("socketio_server.js", "a", "--peer", str(pb), port=pa, name="socketio-a")
        b = self.start_app("socketio_server.js", "b", "--peer", str(pa), port=pb, name="socketio-b")
        return a, b

    def run_client(self, url, transports, clients=CLIENTS, ca=None):
        args = [NODE, os.path.join(APPS, "socketio_client.js"), url, "--transports", transports,
                "--clients", str(clients), "--timeout", str(int(30 * SLOW))]
        if ca:
            args += ["--ca", ca]
        out = subprocess.run(args, capture_output=True, text=True, timeout=60 * SLOW)
        lines = out.stdout.strip().splitlines()
        try:
            summary = json.loads(lines[-1])
        except (IndexError, ValueError):
            self.fail(f"socketio_client.js printed no summary (exit {out.returncode}):\n"
                      f"{out.stdout}\n{out.stderr}")
        return out.returncode, summary, out.stderr

    def stats(self, backend):
        with urllib.request.urlopen(f"http://127.0.0.1:{backend.port}/stats", timeout=10 * SLOW) as r:
            return json.load(r)

    def assertNoUnknownSessions(self, *backends):
        for b in backends:
            s = self.stats(b)
            self.assertEqual(s["connection_errors"], [], f"backend {s['server']} was sent sessions it never issued")
            self.assertNotIn("connection_error", b.output())

    def check(self, tls, transports):
        if tls:
            make_certs()
        a, b = self.start_pair()
        proxy = self.start_app_proxy([a, b], sticky=True, tls=tls)
        if tls:
            url, ca = f"https://localhost:{proxy.port}", f"{CERTS}/ca.pem"
        else:
            url, ca = f"http://127.0.0.1:{proxy.port}", None
        rc, summary, stderr = self.run_client(url, transports, ca=ca)
        n = self.CLIENTS
        self.assertEqual(summary["errors"], [], f"{summary}\n{stderr}")
        self.assertEqual(rc, 0, summary)
        for key in ("connected", "echoed", "echoed_after_upgrade", "joined", "received", "disconnected"):
            self.assertEqual(summary[key], n, f"{key}: {summary}")
        self.assertEqual(summary["broadcast_delivered"], n, summary)
        self.assertEqual(summary["final_transport"], {"websocket": n}, summary)
        if transports == "default":
            self.assertEqual(summary["upgraded"], n, summary)
            # Set by wsedge on the polling responses, kept by every client.
            self.assertEqual(summary["cookies"].get(STICKY), n, summary)
        # Both backends served, each client from one of them all along.
        self.assertEqual(set(summary["servers"]), {"a", "b"}, summary)
        self.assertNoUnknownSessions(a, b)
        connections = {s["server"]: s["connections"] for s in (self.stats(a), self.stats(b))}
        self.assertEqual(connections, summary["servers"], "one Socket.IO connection per client, none again")

    def test_polling_then_upgrade_over_ws_stays_on_one_backend(self):
        self.check(tls=False, transports="default")

    def test_polling_then_upgrade_over_wss_stays_on_one_backend(self):
        self.check(tls=True, transports="default")

    def test_websocket_only_over_ws(self):
        self.check(tls=False, transports="websocket")

    def test_websocket_only_over_wss(self):
        self.check(tls=True, transports="websocket")

    def test_without_the_sticky_cookie_polling_meets_a_backend_that_never_issued_the_session(self):
        # Why the pool needs sticky: one worker balancing every request in
        # turn sends a client's second request to the other backend.
        a, b = self.start_pair()
        proxy = self.start_app_proxy([a, b], sticky=False, workers=1)
        rc, summary, _ = self.run_client(f"http://127.0.0.1:{proxy.port}", "default", clients=1)
        self.assertNotEqual(rc, 0, summary)
        self.assertNotEqual(summary["errors"], [], summary)
        errors = self.stats(a)["connection_errors"] + self.stats(b)["connection_errors"]
        self.assertIn("Session ID unknown", [e["message"] for e in errors], summary)


class SignalrNegotiate(AppTestCase):
    """The SignalR flow, without the library: POST /chat/negotiate with a
    JSON body, then the WebSocket upgrade on the url it returned, whose token
    only the backend that issued it accepts, once."""

    def negotiate(self, port, body=b"{}", cookie=None):
        """(status, Set-Cookie or None, JSON or body) of one negotiate."""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
        headers = {"Content-Type": "application/json", "X-Requested-With": "XMLHttpRequest"}
        if cookie:
            headers["Cookie"] = cookie
        try:
            conn.request("POST", "/chat/negotiate?negotiateVersion=1", body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            set_cookie = r.getheader("Set-Cookie")
            if r.getheader("Content-Type", "").startswith("application/json"):
                data = json.loads(data)
            return r.status, set_cookie, data
        finally:
            conn.close()

    async def chat(self, url, user, text, cookie=None):
        """Handshake, one SendMessage; (ReceiveMessage's arguments, the completion)."""
        extra = {"Cookie": cookie} if cookie else None
        async with connect(url, extra_headers=extra) as ws:
            await ws.send(json.dumps({"protocol": "json", "version": 1}) + RS)
            self.assertEqual(await ws.recv(), "{}" + RS)
            await ws.send(json.dumps({"type": 1, "invocationId": "1", "target": "SendMessage",
                                      "arguments": [user, text]}) + RS)
            received, completion = None, None
            while received is None or completion is None:
                for record in (await ws.recv()).split(RS)[:-1]:
                    m = json.loads(record)
                    if m["type"] == 1 and m["target"] == "ReceiveMessage":
                        received = m["arguments"]
                    elif m["type"] == 3:
                        completion = m
            await ws.send(json.dumps({"type": 7}) + RS)
        return received, completion

    async def refused(self, url):
        try:
            async with connect(url):
                pass
        except websockets.exceptions.InvalidHandshake as e:
            return refused_status(e)
        return 101

    def test_negotiate_then_upgrade_with_the_issued_token(self):
        hub = self.start_app("signalr_backend.py", "--name", "hub")
        proxy = self.start_app_proxy([hub])
        status, _, body = self.negotiate(proxy.port)
        self.assertEqual(status, 200, body)
        token = body["connectionToken"]
        self.assertEqual(body["url"], f"/chat?id={token}")
        self.assertEqual(self.negotiate(proxy.port, body=b"not json")[0], 400)

        async def run():
            url = f"ws://127.0.0.1:{proxy.port}{body['url']}"
            received, completion = await self.chat(url, "ann", "hello over SignalR")
            self.assertEqual(received, ["ann", "hello over SignalR", "hub"])
            self.assertEqual(completion, {"type": 3, "invocationId": "1", "result": 1})
            # A token is good once, and only one the hub issued is good at all.
            self.assertEqual(await self.refused(url), 404)
            self.assertEqual(await self.refused(f"ws://127.0.0.1:{proxy.port}/chat?id=never-issued"), 404)

        asyncio.run(run())

    def test_the_sticky_cookie_brings_the_upgrade_to_the_backend_that_negotiated(self):
        hubs = [self.start_app("signalr_backend.py", "--name", n) for n in ("h1", "h2")]
        proxy = self.start_app_proxy(hubs, sticky=True)
        seen = set()

        async def run():
            for i in range(6):
                status, set_cookie, body = self.negotiate(proxy.port)
                self.assertEqual(status, 200, body)
                m = re.fullmatch(SET_COOKIE, set_cookie or "")
                self.assertIsNotNone(m, f"negotiate's Set-Cookie: {set_cookie!r}")
                cookie = f"{STICKY}={m.group(1)}"
                seen.add(body["server"])
                # With the cookie, a negotiate stays there too, and needs no new cookie.
                again_status, again_cookie, again = self.negotiate(proxy.port, cookie=cookie)
                self.assertEqual((again_status, again_cookie, again["server"]), (200, None, body["server"]))
                for negotiated in (body, again):
                    received, _ = await self.chat(f"ws://127.0.0.1:{proxy.port}{negotiated['url']}",
                                                  "bob", f"message {i}", cookie=cookie)
                    self.assertEqual(received, ["bob", f"message {i}", body["server"]])

        asyncio.run(run())
        self.assertEqual(seen, {"h1", "h2"}, "negotiations were spread over both hubs")


class GraphqlMixed(AppTestCase):
    """POST /graphql answers queries; the same path upgraded with the
    graphql-transport-ws subprotocol carries subscriptions."""

    def query(self, conn, query, variables=None):
        body = json.dumps({"query": query, "variables": variables or {}})
        conn.request("POST", "/graphql", body=body, headers={"Content-Type": "application/json",
                                                             "Accept": "application/json"})
        r = conn.getresponse()
        data = r.read()
        self.assertEqual(r.status, 200, data)
        self.assertTrue(r.getheader("Content-Type", "").startswith("application/json"), r.getheaders())
        return json.loads(data)

    def test_a_query_over_http_and_a_subscription_over_websocket(self):
        backend = self.start_app("graphql_backend.py", "--name", "gql")
        proxy = self.start_app_proxy([backend])
        conn = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10 * SLOW)
        try:
            self.assertEqual(self.query(conn, "query Hello($name: String) { hello(name: $name) server }",
                                        {"name": "wsedge"}),
                             {"data": {"hello": "Hello, wsedge!", "server": "gql"}})
            # The same client connection again (kept alive, or reopened if wsedge closed it).
            self.assertEqual(self.query(conn, "{ nope }"),
                             {"errors": [{"message": 'Cannot query field "nope" on type "Query".'}]})
        finally:
            conn.close()

        async def run():
            async with connect(f"ws://127.0.0.1:{proxy.port}/graphql",
                               subprotocols=["graphql-transport-ws"]) as ws:
                self.assertEqual(ws.subprotocol, "graphql-transport-ws")
                await ws.send(json.dumps({"type": "connection_init", "payload": {}}))
                self.assertEqual(json.loads(await ws.recv()), {"type": "connection_ack"})
                # A query over HTTP while the subscription's socket is open.
                other = http.client.HTTPConnection("127.0.0.1", proxy.port, timeout=10 * SLOW)
                try:
                    answer = await asyncio.to_thread(self.query, other, "{ hello }")
                finally:
                    other.close()
                self.assertEqual(answer, {"data": {"hello": "Hello, world!"}})
                await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                          "payload": {"query": "subscription Count($to: Int) { count(to: $to) }",
                                                      "variables": {"to": 3}}}))
                messages = [json.loads(await ws.recv()) for _ in range(4)]
                self.assertEqual(messages, [
                    {"id": "1", "type": "next", "payload": {"data": {"count": 1}}},
                    {"id": "1", "type": "next", "payload": {"data": {"count": 2}}},
                    {"id": "1", "type": "next", "payload": {"data": {"count": 3}}},
                    {"id": "1", "type": "complete"},
                ])
                await ws.send(json.dumps({"type": "ping"}))
                self.assertEqual(json.loads(await ws.recv()), {"type": "pong"})
            self.assertEqual(ws.close_code, 1000)

        asyncio.run(run())

    def test_without_the_subprotocol_the_app_closes_with_4406(self):
        backend = self.start_app("graphql_backend.py")
        proxy = self.start_app_proxy([backend])

        async def run():
            async with connect(f"ws://127.0.0.1:{proxy.port}/graphql") as ws:
                with self.assertRaises(websockets.exceptions.ConnectionClosed):
                    await ws.recv()
            self.assertEqual((ws.close_code, ws.close_reason), (4406, "Subprotocol not acceptable"))

        asyncio.run(run())
