"""Operations through the real binary: the drain on SIGTERM, draining one
backend through the admin API, /metrics as Prometheus reads it, the JSON
access log, and the admin API's own answers."""
import asyncio
import collections
import datetime
import json
import os
import signal
import socket
import ssl
import subprocess
import time
import unittest

import websockets
from prometheus_client.parser import text_string_to_metric_families

from harness import SLOW, WSEDGE, ProxyTestCase, RawClient, close_frame, frame, free_port, wait_port

DRAIN_LOG = "SIGTERM: no more connections; closing the open ones over"


# --- configuration --------------------------------------------------------------

def ops_yaml(port, admin_port, pools, routes=None, workers=1, limits=None, token=None,
             access_log=None, access_log_buffer=None, listener_extra=()):
    """pools: {name: [ports]}; routes: [(name or None, path_prefix or None, pool, extra)]."""
    lines = [f"workers: {workers}"]
    admin = f"address: 127.0.0.1:{admin_port}" + (f", token: {token}" if token else "")
    lines.append(f"admin: {{ {admin} }}")
    if access_log:
        buffer = f", buffer: {access_log_buffer}" if access_log_buffer else ""
        lines.append(f"access_log: {{ path: {access_log}{buffer} }}")
    if limits:
        lines.append("limits: { " + ", ".join(f"{k}: {v}" for k, v in limits.items()) + " }")
    lines += ["listeners:", f"  - address: 127.0.0.1:{port}"] + [f"    {x}" for x in listener_extra]
    lines.append("    routes:")
    for name, prefix, pool, extra in routes or [(None, None, next(iter(pools)), "")]:
        lines.append(f"      - pool: {pool}")
        if name:
            lines.append(f"        name: {name}")
        if prefix:
            lines.append(f"        match: {{ path_prefix: {prefix} }}")
        if extra:
            lines.append(f"        {extra}")
    lines.append("pools:")
    for name, ports in pools.items():
        lines.append(f"  {name}:")
        lines.append("    backends: [" + ", ".join(f"127.0.0.1:{p}" for p in ports) + "]")
    return "\n".join(lines) + "\n"


class OpsTestCase(ProxyTestCase):
    def start_ops_proxy(self, pools, **kw):
        port, admin_port = free_port(), free_port()
        proxy = self.start_proxy_yaml(ops_yaml(port, admin_port, pools, **kw), port)
        wait_port(admin_port)
        proxy.admin = admin_port
        return proxy


# --- HTTP to the admin API ------------------------------------------------------

Response = collections.namedtuple("Response", "status headers body")


def http(port, method="GET", path="/", token=None, headers=(), body=b"", raw=None, timeout=5.0):
    """One request on its own connection, read to the end (the API closes it)."""
    if raw is None:
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        if token is not None:
            lines.append(f"Authorization: Bearer {token}")
        lines += list(headers)
        if body or method == "POST":
            lines.append(f"Content-Length: {len(body)}")
        raw = ("\r\n".join(lines) + "\r\n\r\n").encode() + body
    with socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW) as s:
        s.sendall(raw)
        return read_response(s, head_only=raw.startswith(b"HEAD "))


def read_response(s, head_only=False):
    """One response, read by its Content-Length (the connection may stay open)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    fields = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        fields[k.strip().lower()] = v.strip()
    length = 0 if head_only else int(fields.get("content-length", "0"))
    while len(rest) < length:
        chunk = s.recv(65536)
        if not chunk:
            break
        rest += chunk
    return Response(status, fields, rest)


def http_json(port, method, path, token=None):
    r = http(port, method, path, token)
    return r.status, json.loads(r.body)


# --- /metrics -------------------------------------------------------------------

def scrape(port, token=None):
    r = http(port, "GET", "/metrics", token)
    assert r.status == 200, r
    samples = {}
    for family in text_string_to_metric_families(r.body.decode()):
        for s in family.samples:
            samples[(s.name, frozenset(s.labels.items()))] = s.value
    return samples


def value(samples, name, **labels):
    # A backend's state is also labelled with the address it resolved to;
    # these backends are written as addresses.
    if name.startswith("wsedge_backend_") and "backend" in labels and "address" not in labels and \
            (name, frozenset(labels.items())) not in samples:
        labels["address"] = labels["backend"]
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples, name, **labels):
    """The sum over every sample of name whose labels include these."""
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def delta(before, after):
    keys = set(before) | set(after)
    return {k: after.get(k, 0.0) - before.get(k, 0.0) for k in keys if after.get(k, 0.0) != before.get(k, 0.0)}


# --- the access log -------------------------------------------------------------

KEYS = ["time", "client", "sni", "method", "host", "path", "route", "pool", "backend", "subprotocol",
        "tls_version", "tls_cipher", "status", "handshake_ms", "duration_ms", "messages_from_client",
        "messages_from_backend", "bytes_from_client", "bytes_from_backend", "close_code_from_client",
        "close_reason_from_client", "close_code_from_backend", "close_reason_from_backend",
        "close_code_to_client", "close_code_to_backend", "closed_first"]


def read_lines(path):
    """The complete lines of the file, as bytes."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return []
    return data.split(b"\n")[:-1]


def wait_lines(path, n, timeout=5.0):
    deadline = time.monotonic() + timeout * SLOW
    while True:
        lines = read_lines(path)
        if len(lines) >= n or time.monotonic() > deadline:
            return lines
        time.sleep(0.02)


def parse_line(line):
    """One access log line: strict UTF-8, one JSON object with distinct keys."""
    def no_duplicates(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), f"duplicate keys in {line!r}"
        return dict(pairs)

    return json.loads(line.decode("utf-8"), object_pairs_hook=no_duplicates)


def echo_session(port, path, messages, close_code=1000, reason=b""):
    """A raw session: each message sent and its echo read, then a close; returns
    the client's own address and the close the proxy answered."""
    c = RawClient(port)
    try:
        c.handshake(path)
        for m in messages:
            c.send(frame(1 if isinstance(m, str) else 2, m.encode() if isinstance(m, str) else m))
            c.read_frame()
        client = "%s:%d" % c.sock.getsockname()
        c.send(close_frame(close_code, reason))
        return client, c.read_close()
    finally:
        c.close()


def who(port, path="/"):
    """(status, X-Backend) of one upgrade, closed straight after."""
    c = RawClient(port)
    try:
        c.send(c.upgrade_request(path))
        status, headers, _ = c.read_response()
        return status, headers.get("x-backend")
    finally:
        c.close()


async def until(check, timeout, what):
    deadline = time.monotonic() + timeout * SLOW
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


def connect(url):
    return websockets.connect(url, ping_interval=None, open_timeout=10 * SLOW, close_timeout=2 * SLOW)


async def watch_close(ws):
    """Waits for the proxy to close ws: (when, code, reason). Messages are left queued."""
    await ws.wait_closed()
    return time.monotonic(), ws.close_code, ws.close_reason


def refused_soon(port, timeout=1.0):
    """True once a connect to port is refused (the listener closed), within timeout."""
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except ConnectionRefusedError:
            return True
        time.sleep(0.01)
    return False


# --- SIGTERM --------------------------------------------------------------------

class Drain(OpsTestCase):
    WINDOW, CLOSE = 5.0, 5.0

    def open_clients(self, proxy, n):
        async def run():
            clients = await asyncio.gather(*[connect(proxy.url + "/") for _ in range(n)])
            for i, ws in enumerate(clients):
                await ws.send(f"hello {i}")
            for i, ws in enumerate(clients):
                self.assertEqual(await asyncio.wait_for(ws.recv(), 10 * SLOW), f"hello {i}")
            return clients
        return run()

    def test_sigterm_spreads_1001_over_the_window_refuses_new_clients_and_exits_0(self):
        n = 100
        backend = self.start_py_backend()
        proxy = self.start_ops_proxy({"p": [backend.port]}, workers=2,
                                     limits={"drain_window": "5s", "close_timeout": "5s"})

        async def run():
            loop = asyncio.get_running_loop()
            clients = await self.open_clients(proxy, n)
            health = await loop.run_in_executor(None, http, proxy.admin, "GET", "/healthz")
            self.assertEqual((health.status, health.body), (200, b"ok\n"))
            watchers = [asyncio.create_task(watch_close(ws)) for ws in clients]
            start = time.monotonic()
            proxy.proc.send_signal(signal.SIGTERM)
            await until(lambda: DRAIN_LOG in proxy.output(), 5, "the drain's log line")
            self.assertIn(f"{DRAIN_LOG} 5000 ms", proxy.output())
            refused = await loop.run_in_executor(None, refused_soon, proxy.port)
            health = await loop.run_in_executor(None, http, proxy.admin, "GET", "/healthz")
            metrics = await loop.run_in_executor(None, scrape, proxy.admin)
            closes = await asyncio.wait_for(asyncio.gather(*watchers), self.WINDOW + self.CLOSE + 2)
            rc = await loop.run_in_executor(None, proxy.proc.wait, (self.WINDOW + self.CLOSE + 2) * SLOW)
            return start, refused, health, metrics, closes, rc, time.monotonic()

        start, refused, health, metrics, closes, rc, exited = asyncio.run(run())
        self.assertTrue(refused, "the listener still accepts after SIGTERM")
        self.assertEqual((health.status, health.body), (503, b"draining\n"))
        self.assertEqual(value(metrics, "wsedge_draining"), 1)
        self.assertEqual(collections.Counter((code, reason) for _, code, reason in closes),
                         {(1001, "proxy shutting down"): n})
        buckets = collections.Counter(int((t - start) // 1.0) for t, _, _ in closes)
        self.assertLessEqual(max(buckets.values()), 0.35 * n, f"closes per second: {sorted(buckets.items())}")
        last = max(t for t, _, _ in closes) - start
        self.assertGreaterEqual(last, 0.7 * self.WINDOW, "the closes use the window")
        self.assertLessEqual(last, self.WINDOW + 1.0 * SLOW)
        self.assertEqual(rc, 0)
        self.assertLessEqual(exited - start, self.WINDOW + self.CLOSE + 1.0 * SLOW)
        self.assertLessEqual(exited - start, last + 1.5 * SLOW, "exits once every session is closed")
        deadline = time.monotonic() + 5 * SLOW
        while backend.output().count("closed 1001 proxy shutting down") < n and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(backend.output().count("closed 1001 proxy shutting down"), n)

    # BUG (reported): once a worker's loop has ended during the drain (it had
    # nothing left to close), AdminApi::metrics() no longer gets its copy, so
    # every counter it held vanishes from /metrics: counters go backwards.
    # Remove the decorator once fixed (an unexpected success fails the run).
    def test_counters_never_go_backwards_while_draining(self):
        backend = self.start_py_backend()
        proxy = self.start_ops_proxy({"p": [backend.port]}, workers=2, limits={"drain_window": "4s"})
        for _ in range(10):
            echo_session(proxy.port, "/", ["x"])

        async def run():
            # Sessions until worker 1 holds three and worker 0 one, which is then closed:
            # at SIGTERM worker 0 has nothing left to drain, and its loop ends at once.
            on, seen = {"0": [], "1": []}, {"0": 0, "1": 0}
            for _ in range(50):
                if len(on["0"]) >= 1 and len(on["1"]) >= 3:
                    break
                ws = await connect(proxy.url + "/")
                await ws.send("x")
                await ws.recv()
                m = scrape(proxy.admin)
                for w in on:
                    n = value(m, "wsedge_worker_sessions", worker=w)
                    if n > seen[w]:
                        on[w].append(ws)
                    seen[w] = n
            self.assertTrue(on["0"] and len(on["1"]) >= 3, on)
            for ws in on["0"]:
                await ws.close()
            await until(lambda: value(scrape(proxy.admin), "wsedge_worker_sessions", worker="0") == 0, 5,
                        "worker 0 to be idle")
            before = scrape(proxy.admin)
            proxy.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(1.0)  # worker 1 still drains (1 s of its 4)
            during = scrape(proxy.admin)
            for ws in on["1"]:
                await ws.wait_closed()
            return before, during

        before, during = asyncio.run(run())
        for name in ("wsedge_connections_accepted_total", "wsedge_messages_total", "wsedge_sessions_ended_total"):
            self.assertGreaterEqual(total(during, name), total(before, name), name)

    def test_a_second_sigterm_closes_the_rest_at_once_and_exits_0(self):
        n = 20
        backend = self.start_py_backend()
        proxy = self.start_ops_proxy({"p": [backend.port]}, limits={"drain_window": "10s"})

        async def run():
            clients = await self.open_clients(proxy, n)
            watchers = [asyncio.create_task(watch_close(ws)) for ws in clients]
            start = time.monotonic()
            proxy.proc.send_signal(signal.SIGTERM)
            await until(lambda: DRAIN_LOG in proxy.output(), 5, "the drain's log line")
            await asyncio.sleep(max(0.0, start + 1.2 - time.monotonic()))
            again = time.monotonic()
            proxy.proc.send_signal(signal.SIGTERM)
            closes = await asyncio.wait_for(asyncio.gather(*watchers), 5 * SLOW)
            rc = await asyncio.get_running_loop().run_in_executor(None, proxy.proc.wait, 5 * SLOW)
            return start, again, closes, rc, time.monotonic()

        start, again, closes, rc, exited = asyncio.run(run())
        early = [t for t, _, _ in closes if t < again]
        # 20 over 10 s: one every 0.5 s, the first at once.
        self.assertGreaterEqual(len(early), 1)
        self.assertLessEqual(len(early), 5, "the first SIGTERM closed too many at once")
        self.assertEqual({(code, reason) for _, code, reason in closes}, {(1001, "proxy shutting down")})
        self.assertLessEqual(max(t for t, _, _ in closes) - again, 1.0 * SLOW)
        self.assertEqual(rc, 0)
        self.assertLessEqual(exited - again, 1.5 * SLOW)
        self.assertIn("SIGTERM: closing every connection now", proxy.output())

    def test_sigint_closes_everything_at_once_and_exits_0(self):
        n = 10
        backend = self.start_py_backend()
        proxy = self.start_ops_proxy({"p": [backend.port]}, limits={"drain_window": "10s"})

        async def run():
            clients = await self.open_clients(proxy, n)
            watchers = [asyncio.create_task(watch_close(ws)) for ws in clients]
            start = time.monotonic()
            proxy.proc.send_signal(signal.SIGINT)
            closes = await asyncio.wait_for(asyncio.gather(*watchers), 5 * SLOW)
            rc = await asyncio.get_running_loop().run_in_executor(None, proxy.proc.wait, 5 * SLOW)
            return start, closes, rc, time.monotonic()

        start, closes, rc, exited = asyncio.run(run())
        self.assertEqual({(code, reason) for _, code, reason in closes}, {(1001, "proxy shutting down")})
        self.assertLessEqual(max(t for t, _, _ in closes) - start, 1.0 * SLOW)
        self.assertEqual(rc, 0)
        self.assertLessEqual(exited - start, 1.5 * SLOW)


# --- POST /drain and /undrain ---------------------------------------------------

class BackendDrain(OpsTestCase):
    def setUp(self):
        super().setUp()
        self.x = self.start_py_backend("--name", "X")
        self.y = self.start_py_backend("--name", "Y")
        self.addr_x = f"127.0.0.1:{self.x.port}"
        self.addr_y = f"127.0.0.1:{self.y.port}"

    def proxy(self, window):
        return self.start_ops_proxy({"p": [self.x.port, self.y.port]},
                                    limits={"drain_window": window, "close_timeout": "2s"})

    async def open_by_backend(self, proxy, n):
        """n sessions (round robin: half on each): {name: [ws]}."""
        by = collections.defaultdict(list)
        for _ in range(n):
            ws = await connect(proxy.url + "/")
            by[ws.response_headers["X-Backend"]].append(ws)
        return by

    def backends(self, proxy):
        status, body = http_json(proxy.admin, "GET", "/backends")
        self.assertEqual(status, 200)
        (pool,) = body["pools"]
        self.assertEqual((pool["name"], pool["balance"]), ("p", "round_robin"))
        return {b["address"]: b for b in pool["backends"]}

    def test_a_drained_backend_closes_its_clients_with_1012_over_the_window_and_comes_back(self):
        proxy = self.proxy("2s")

        async def run():
            loop = asyncio.get_running_loop()
            by = await self.open_by_backend(proxy, 8)
            self.assertEqual({k: len(v) for k, v in by.items()}, {"X": 4, "Y": 4})
            watchers = [asyncio.create_task(watch_close(ws)) for ws in by["X"]]
            start = time.monotonic()
            answer = await loop.run_in_executor(None, http_json, proxy.admin, "POST",
                                                f"/drain?backend={self.addr_x}")
            during = await loop.run_in_executor(None, self.backends, proxy)
            # Y's clients go on talking through the window.
            for round_ in range(5):
                for i, ws in enumerate(by["Y"]):
                    await ws.send(f"y{round_}-{i}")
                    self.assertEqual(await asyncio.wait_for(ws.recv(), 5 * SLOW), f"y{round_}-{i}")
                await asyncio.sleep(0.5)
            closes = await asyncio.wait_for(asyncio.gather(*watchers), 3 * SLOW)
            for ws in by["Y"]:
                await ws.close()
            return start, answer, during, closes

        start, answer, during, closes = asyncio.run(run())
        self.assertEqual(answer, (200, {"backend": self.addr_x, "draining": True, "backends": 1, "sessions": 4}))
        self.assertTrue(during[self.addr_x]["draining"])
        self.assertFalse(during[self.addr_y]["draining"])
        self.assertEqual(collections.Counter((c, r) for _, c, r in closes), {(1012, "backend draining"): 4})
        times = sorted(t - start for t, _, _ in closes)
        self.assertLessEqual(times[-1], 2.0 + 1.0 * SLOW, times)
        self.assertGreaterEqual(times[-1] - times[0], 1.0, f"spread over the window: {times}")
        self.x.wait_for_output("closed 1001 backend draining")

        after = self.backends(proxy)
        self.assertEqual((after[self.addr_x]["draining"], after[self.addr_x]["sessions"]), (True, 0))
        self.assertEqual(after[self.addr_y]["draining"], False)
        self.assertEqual(value(scrape(proxy.admin), "wsedge_backend_draining", pool="p", backend=self.addr_x), 1)
        self.assertEqual(collections.Counter(who(proxy.port) for _ in range(10)), {(101, "Y"): 10})

        status, body = http_json(proxy.admin, "POST", f"/undrain?backend={self.addr_x}")
        self.assertEqual((status, body), (200, {"backend": self.addr_x, "draining": False, "backends": 1}))
        self.assertFalse(self.backends(proxy)[self.addr_x]["draining"])
        self.assertEqual(value(scrape(proxy.admin), "wsedge_backend_draining", pool="p", backend=self.addr_x), 0)
        counts = collections.Counter(who(proxy.port) for _ in range(10))
        self.assertEqual(counts, {(101, "X"): 5, (101, "Y"): 5})

    def test_undrain_takes_back_the_closes_not_yet_made(self):
        proxy = self.proxy("4s")

        async def run():
            loop = asyncio.get_running_loop()
            by = await self.open_by_backend(proxy, 4)
            watchers = [asyncio.create_task(watch_close(ws)) for ws in by["X"]]
            start = time.monotonic()
            status, _ = await loop.run_in_executor(None, http_json, proxy.admin, "POST",
                                                   f"/drain?backend={self.addr_x}")
            self.assertEqual(status, 200)
            # Two sessions over 4 s: one at once, the other at 2 s.
            await asyncio.sleep(max(0.0, start + 0.8 - time.monotonic()))
            status, _ = await loop.run_in_executor(None, http_json, proxy.admin, "POST",
                                                   f"/undrain?backend={self.addr_x}")
            self.assertEqual(status, 200)
            await asyncio.sleep(max(0.0, start + 3.5 - time.monotonic()))
            closed = [w.result() for w in watchers if w.done()]
            alive = [ws for ws, w in zip(by["X"], watchers) if not w.done()]
            for ws in alive:
                await ws.send("still here")
                self.assertEqual(await asyncio.wait_for(ws.recv(), 5 * SLOW), "still here")
            for ws in alive + by["Y"]:
                await ws.close()
            return closed, len(alive)

        closed, alive = asyncio.run(run())
        self.assertEqual([(c, r) for _, c, r in closed], [(1012, "backend draining")])
        self.assertEqual(alive, 1)

    def test_the_address_is_matched_as_written_or_resolved_and_may_be_percent_encoded(self):
        port, admin = free_port(), free_port()
        yaml = ops_yaml(port, admin, {"p": [self.x.port]}, limits={"drain_window": "1s"})
        self.start_proxy_yaml(yaml.replace(f"127.0.0.1:{self.x.port}", f"localhost:{self.x.port}"), port)
        wait_port(admin)
        written = f"localhost:{self.x.port}"
        self.assertEqual(http_json(admin, "POST", f"/drain?backend={written}"),
                         (200, {"backend": written, "draining": True, "backends": 1, "sessions": 0}))
        # The only backend of its pool drained: nowhere to go.
        c = RawClient(port)
        c.send(c.upgrade_request("/"))
        self.assertEqual(c.read_response()[0::2], (503, b"no healthy backend for this route\n"))
        c.close()
        self.assertEqual(http_json(admin, "POST", f"/undrain?backend=127.0.0.1%3A{self.x.port}"),
                         (200, {"backend": self.addr_x, "draining": False, "backends": 1}))
        self.assertEqual(who(port), (101, "X"))

    def test_a_backend_in_two_pools_is_drained_in_both(self):
        port, admin = free_port(), free_port()
        proxy = self.start_proxy_yaml(ops_yaml(port, admin, {"a": [self.x.port, self.y.port], "b": [self.x.port]},
                                               routes=[(None, "/a", "a", ""), (None, "/b", "b", "")],
                                               limits={"drain_window": "1s"}), port)
        wait_port(admin)

        async def run():
            loop = asyncio.get_running_loop()
            on_a = [await connect(proxy.url + "/a") for _ in range(2)]  # one on X, one on Y
            on_b = await connect(proxy.url + "/b")
            names = sorted(ws.response_headers["X-Backend"] for ws in on_a)
            x_a = [ws for ws in on_a if ws.response_headers["X-Backend"] == "X"]
            watchers = [asyncio.create_task(watch_close(ws)) for ws in x_a + [on_b]]
            answer = await loop.run_in_executor(None, http_json, admin, "POST", f"/drain?backend={self.addr_x}")
            closes = await asyncio.wait_for(asyncio.gather(*watchers), 3 * SLOW)
            (y_a,) = [ws for ws in on_a if ws.response_headers["X-Backend"] == "Y"]
            await y_a.send("on Y")
            self.assertEqual(await y_a.recv(), "on Y")
            await y_a.close()
            return names, answer, closes

        names, answer, closes = asyncio.run(run())
        self.assertEqual(names, ["X", "Y"])
        self.assertEqual(answer, (200, {"backend": self.addr_x, "draining": True, "backends": 2, "sessions": 2}))
        self.assertEqual([(c, r) for _, c, r in closes], [(1012, "backend draining")] * 2)
        _, body = http_json(admin, "GET", "/backends")
        self.assertEqual({(p["name"], b["address"]): b["draining"] for p in body["pools"] for b in p["backends"]},
                         {("a", self.addr_x): True, ("a", self.addr_y): False, ("b", self.addr_x): True})

    def test_an_unknown_backend_is_404_and_a_missing_one_400(self):
        proxy = self.proxy("2s")
        for path in ("/drain", "/undrain"):
            self.assertEqual(http_json(proxy.admin, "POST", f"{path}?backend=127.0.0.1:1"),
                             (404, {"error": "no backend 127.0.0.1:1 in any pool"}))
            for bad in (path, f"{path}?backend=", f"{path}?other={self.addr_x}"):
                r = http(proxy.admin, "POST", bad)
                self.assertEqual(r.status, 400, bad)
                self.assertIn("error", json.loads(r.body))
        # Nothing was drained by any of these.
        self.assertEqual({a: b["draining"] for a, b in self.backends(proxy).items()},
                         {self.addr_x: False, self.addr_y: False})
        self.assertEqual(collections.Counter(who(proxy.port) for _ in range(4)), {(101, "X"): 2, (101, "Y"): 2})


# --- /metrics -------------------------------------------------------------------

class Metrics(OpsTestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_py_backend()
        self.dead = free_port()
        self.proxy = self.start_ops_proxy(
            {"p": [self.backend.port], "dead": [self.dead]}, workers=2,
            routes=[("chat", "/chat", "p", ""), (None, "/other", "p", ""), (None, "/dead", "dead", "")],
            limits={"drain_window": "1s"})
        self.listener = f"127.0.0.1:{self.proxy.port}"
        # The harness's probe of the port is a session too: let it end before counting.
        deadline = time.monotonic() + 5 * SLOW
        while True:
            m = scrape(self.proxy.admin)
            if total(m, "wsedge_sessions_ended_total") >= 1 and total(m, "wsedge_connections_active") == 0:
                break
            self.assertLess(time.monotonic(), deadline, "the probe's session never ended")
            time.sleep(0.02)

    def settled(self, before, name, want, timeout=5.0, **labels):
        """Scrapes until the counter moved by want since before (sessions are counted as they end)."""
        deadline = time.monotonic() + timeout * SLOW
        while True:
            now = scrape(self.proxy.admin)
            if total(now, name, **labels) - total(before, name, **labels) >= want or time.monotonic() > deadline:
                return now
            time.sleep(0.05)

    def test_the_answer_is_prometheus_text(self):
        r = http(self.proxy.admin, "GET", "/metrics")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.headers["content-type"], "text/plain; version=0.0.4; charset=utf-8")
        families = {f.name: f.type for f in text_string_to_metric_families(r.body.decode())}
        for name, kind in [("wsedge_connections_accepted", "counter"), ("wsedge_connections_active", "gauge"),
                           ("wsedge_connections_rejected", "counter"), ("wsedge_handshakes", "counter"),
                           ("wsedge_tls_handshake_seconds", "histogram"), ("wsedge_messages", "counter"),
                           ("wsedge_message_bytes", "counter"), ("wsedge_frames", "counter"),
                           ("wsedge_closes", "counter"), ("wsedge_protocol_errors", "counter"),
                           ("wsedge_sessions_ended", "counter"), ("wsedge_backend_connect_failures", "counter"),
                           ("wsedge_backend_bad_answers", "counter"), ("wsedge_backend_retries", "counter"),
                           ("wsedge_backend_healthy", "gauge"), ("wsedge_backend_ejected", "gauge"),
                           ("wsedge_backend_draining", "gauge"), ("wsedge_backend_sessions", "gauge"),
                           ("wsedge_backend_ejections", "counter"), ("wsedge_backend_ping_rtt_seconds", "histogram"),
                           ("wsedge_rate_limited", "counter"), ("wsedge_reloads", "counter"),
                           ("wsedge_config_generation", "gauge"), ("wsedge_access_log_dropped", "counter"),
                           ("wsedge_worker_loop_iterations", "counter"), ("wsedge_worker_submissions", "counter"),
                           ("wsedge_worker_enobufs", "counter")]:
            self.assertEqual(families.get(name), kind, name)
        m = scrape(self.proxy.admin)
        self.assertEqual(value(m, "wsedge_config_generation"), 1)
        self.assertEqual(value(m, "wsedge_backend_healthy", pool="p", backend=f"127.0.0.1:{self.backend.port}"), 1)
        for worker in ("0", "1"):
            self.assertGreater(value(m, "wsedge_worker_loop_iterations_total", worker=worker), 0)
            self.assertIn(("wsedge_worker_enobufs_total", frozenset({("worker", worker)})), m)

    def test_a_scripted_session_moves_each_counter_by_exactly_what_it_did(self):
        labels = {"listener": self.listener, "route": "chat", "pool": "p"}
        before = scrape(self.proxy.admin)
        texts = [b"hello", b"a" * 200, "h\u00e9llo w\u00f6rld".encode()]
        binary = bytes(range(256)) * 3
        fragments = [b"frag", b"ment"]
        c = RawClient(self.proxy.port)
        c.handshake("/chat/room?x=1")
        during = scrape(self.proxy.admin)
        for t in texts:
            c.send(frame(1, t))
        c.send(frame(2, binary))
        c.send(frame(1, fragments[0], fin=False) + frame(0, fragments[1]))
        c.send(frame(9, b"p1"))
        got, pong = [], None
        while len(got) < 5 or pong is None:
            fin, op, payload = c.read_frame()
            if op == 10:
                pong = payload
            else:
                got.append((op, payload))
        self.assertEqual(pong, b"p1")
        self.assertEqual(got, [(1, t) for t in texts] + [(2, binary), (1, b"fragment")])
        c.send(close_frame(1000))
        self.assertEqual(c.read_close()[0], 1000)
        c.close()
        after = self.settled(before, "wsedge_sessions_ended_total", 1, cause="normal close")

        L, B = self.listener, f"127.0.0.1:{self.backend.port}"
        self.assertEqual(value(during, "wsedge_connections_active", listener=L), 1)
        self.assertEqual(value(during, "wsedge_backend_sessions", pool="p", backend=B), 1)
        self.assertEqual(value(after, "wsedge_connections_active", listener=L), 0)
        self.assertEqual(value(after, "wsedge_backend_sessions", pool="p", backend=B), 0)
        payload = sum(map(len, texts)) + len(binary) + sum(map(len, fragments))
        d = delta(before, after)

        def moved(name, **ls):
            return d.get((name, frozenset(ls.items())), 0.0)

        self.assertEqual(moved("wsedge_connections_accepted_total", listener=L), 1)
        self.assertEqual(moved("wsedge_handshakes_total", listener=L, result="ok", reason=""), 1)
        for direction in ("from_client", "from_backend"):
            self.assertEqual(moved("wsedge_messages_total", direction=direction, **labels), 5, direction)
            self.assertEqual(moved("wsedge_message_bytes_total", direction=direction, **labels), payload, direction)
        frames = {op: moved("wsedge_frames_total", direction="from_client", opcode=op, **labels)
                  for op in ("text", "binary", "continuation", "ping", "pong", "close")}
        self.assertEqual(frames, {"text": 4, "binary": 1, "continuation": 1, "ping": 1, "pong": 0, "close": 1})
        # The backend (Python websockets) echoes the fragmented message whole.
        frames = {op: moved("wsedge_frames_total", direction="from_backend", opcode=op, **labels)
                  for op in ("text", "binary", "continuation", "ping", "pong", "close")}
        self.assertEqual(frames, {"text": 4, "binary": 1, "continuation": 0, "ping": 0, "pong": 1, "close": 1})
        for side in ("client", "backend"):
            for direction in ("sent", "received"):
                self.assertEqual(moved("wsedge_closes_total", side=side, code="1000", direction=direction), 1,
                                 (side, direction))
        self.assertEqual(moved("wsedge_sessions_ended_total", cause="normal close"), 1)
        # Nothing else was counted, apart from the loops turning and the other route's zeros.
        unexpected = {k: v for k, v in d.items()
                      if not k[0].startswith("wsedge_worker_")
                      and k[0] not in ("wsedge_connections_accepted_total", "wsedge_handshakes_total",
                                       "wsedge_messages_total", "wsedge_message_bytes_total",
                                       "wsedge_frames_total", "wsedge_closes_total", "wsedge_sessions_ended_total")}
        self.assertEqual(unexpected, {})
        other = {k: v for k, v in d.items() if dict(k[1]).get("route") not in (None, "chat")}
        self.assertEqual(other, {}, "another route counted this session")

    def test_a_route_without_a_name_is_labelled_listener_hash_index(self):
        before = scrape(self.proxy.admin)
        echo_session(self.proxy.port, "/other", ["abc"])
        after = self.settled(before, "wsedge_sessions_ended_total", 1)
        labels = {"listener": self.listener, "route": f"{self.listener}#1", "pool": "p"}
        self.assertEqual(value(after, "wsedge_messages_total", direction="from_client", **labels)
                         - value(before, "wsedge_messages_total", direction="from_client", **labels), 1)
        self.assertEqual(value(after, "wsedge_message_bytes_total", direction="from_backend", **labels)
                         - value(before, "wsedge_message_bytes_total", direction="from_backend", **labels), 3)

    def test_refusals_protocol_errors_and_dead_backends_are_counted(self):
        L = self.listener
        before = scrape(self.proxy.admin)
        self.assertEqual(who(self.proxy.port, "/nowhere"), (404, None))
        self.assertEqual(who(self.proxy.port, "/dead"), (502, None))
        c = RawClient(self.proxy.port)
        c.handshake("/chat")
        c.send(frame(1, b"unmasked", mask=False))
        self.assertEqual(c.read_close()[0], 1002)
        c.close()
        after = self.settled(before, "wsedge_sessions_ended_total", 3)
        d = delta(before, after)

        def moved(name, **ls):
            return d.get((name, frozenset(ls.items())), 0.0)

        self.assertEqual(moved("wsedge_connections_accepted_total", listener=L), 3)
        self.assertEqual(moved("wsedge_connections_rejected_total", listener=L, status="404"), 1)
        self.assertEqual(moved("wsedge_connections_rejected_total", listener=L, status="502"), 1)
        self.assertEqual(total(after, "wsedge_handshakes_total", listener=L, result="failed")
                         - total(before, "wsedge_handshakes_total", listener=L, result="failed"), 2)
        self.assertEqual(moved("wsedge_handshakes_total", listener=L, result="ok", reason=""), 1)
        self.assertEqual(moved("wsedge_protocol_errors_total", side="client", code="1002"), 1)
        self.assertEqual(moved("wsedge_closes_total", side="client", code="1002", direction="sent"), 1)
        self.assertGreaterEqual(moved("wsedge_backend_connect_failures_total", pool="dead",
                                      backend=f"127.0.0.1:{self.dead}"), 1)
        self.assertEqual(moved("wsedge_sessions_ended_total", cause="protocol error"), 1)


# --- the access log -------------------------------------------------------------

class AccessLog(OpsTestCase):
    def setUp(self):
        super().setUp()
        self.log = self.tmp_path("access.log")
        self.backend = self.start_py_backend()
        self.closer = self.start_py_backend("--close-after", "1", "--close-code", "4000", "--close-reason", "done")
        self.proxy = self.start_ops_proxy(
            {"p": [self.backend.port], "closer": [self.closer.port]}, access_log=self.log,
            routes=[("echo", "/echo", "p", ""), ("closer", "/closer", "closer", "")],
            limits={"drain_window": "1s"})
        # The harness's probe of the port (a connection that sent nothing) has its line too.
        (probe,) = [parse_line(line) for line in wait_lines(self.log, 1)]
        self.assertEqual((probe["status"], probe["path"], probe["closed_first"]), (None, None, None))
        self.skip = 1

    def lines(self, n):
        lines = wait_lines(self.log, self.skip + n)[self.skip:]
        self.assertEqual(len(lines), n, lines)
        return [parse_line(line) for line in lines]

    def test_a_session_gets_one_line_with_every_key_in_order(self):
        started = datetime.datetime.now(datetime.timezone.utc)
        client, close = echo_session(self.proxy.port, "/echo/room?id=7&x=%22", ["abc", b"\x00\x01defgh"],
                                     reason=b"bye")
        self.assertEqual(close, (1000, "bye"))
        (line,) = self.lines(1)
        self.assertEqual(list(line), KEYS)
        self.assertRegex(line["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        when = datetime.datetime.strptime(line["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc)
        self.assertLess(abs((when - started).total_seconds()), 5)
        self.assertIsInstance(line["handshake_ms"], int)
        self.assertIsInstance(line["duration_ms"], int)
        self.assertLessEqual(line["handshake_ms"], line["duration_ms"] + 1)
        fixed = {k: line[k] for k in KEYS if k not in ("time", "handshake_ms", "duration_ms")}
        self.assertEqual(fixed, {
            "client": client, "sni": None, "method": "GET", "host": "127.0.0.1",
            "path": "/echo/room?id=7&x=%22",
            "route": "echo", "pool": "p", "backend": f"127.0.0.1:{self.backend.port}", "subprotocol": None,
            "tls_version": None, "tls_cipher": None, "status": 101,
            "messages_from_client": 2, "messages_from_backend": 2, "bytes_from_client": 10, "bytes_from_backend": 10,
            "close_code_from_client": 1000, "close_reason_from_client": "bye",
            "close_code_from_backend": 1000, "close_reason_from_backend": "bye",
            "close_code_to_client": 1000, "close_code_to_backend": 1000, "closed_first": "client"})

    def test_a_backend_that_closes_first_and_a_refused_request(self):
        c = RawClient(self.proxy.port)
        c.handshake("/closer")
        c.send(frame(1, b"one"))
        self.assertEqual(c.read_frame(), (True, 1, b"one"))
        self.assertEqual(c.read_close(), (4000, "done"))
        c.send(close_frame(4000, b"done"))
        c.close()
        (line,) = self.lines(1)
        self.assertEqual({k: line[k] for k in ("route", "pool", "status", "messages_from_client",
                                              "messages_from_backend", "close_code_from_backend",
                                              "close_reason_from_backend", "close_code_to_client", "closed_first")},
                         {"route": "closer", "pool": "closer", "status": 101, "messages_from_client": 1,
                          "messages_from_backend": 1, "close_code_from_backend": 4000,
                          "close_reason_from_backend": "done", "close_code_to_client": 4000, "closed_first": "backend"})

        self.assertEqual(who(self.proxy.port, "/nowhere?q=1"), (404, None))
        refused = self.lines(2)[1]
        self.assertEqual(list(refused), KEYS)
        self.assertEqual({k: refused[k] for k in ("status", "path", "route", "backend", "handshake_ms",
                                                 "messages_from_client", "close_code_to_client", "closed_first")},
                         {"status": 404, "path": "/nowhere?q=1", "route": None, "backend": None,
                          "handshake_ms": None, "messages_from_client": 0, "close_code_to_client": None,
                          "closed_first": None})
        # Not an upgrade at all: forwarded as plain HTTP (this backend
        # answers it with its own 426), and a line with what it asked for.
        r = http(self.proxy.port, "GET", "/echo?plain=1", headers=["Connection: close"])
        self.assertEqual(r.status, 426)
        line = self.lines(3)[2]
        self.assertEqual((line["method"], line["status"], line["path"], line["host"], line["backend"]),
                         ("GET", 426, "/echo?plain=1", "127.0.0.1", line["backend"]))
        self.assertIsNotNone(line["backend"], "a plain request reaches the backend")

    def test_bytes_that_need_escaping_still_make_one_valid_json_line(self):
        paths = ["/echo/%ff?q=%22\\\"x\"%00", "/echo/a?b='c'&d={}|^`<>"]
        for path in paths:
            self.assertEqual(echo_session(self.proxy.port, path, [])[1][0], 1000)
        # Valid UTF-8 with a quote, a backslash, control characters and non-ASCII.
        reason = 'q"b\\s\u00e9\u20ac\n\t\x01'.encode()
        self.assertEqual(echo_session(self.proxy.port, "/echo", [], reason=reason)[1], (1000, reason.decode()))
        # Invalid UTF-8 in a close reason: the proxy fails the session with 1007.
        c = RawClient(self.proxy.port)
        c.handshake("/echo/bad-reason")
        c.send(close_frame(1000, b'bad "\\ \xff\xfe\xc3('))
        self.assertEqual(c.read_close(), (1007, "invalid UTF-8 in close reason"))
        c.close()
        # A Host with a quote, a backslash or bytes that are not UTF-8 is refused, and logged.
        for host in (b'a"b\\c', b"ex\xffample\xc3("):
            c = RawClient(self.proxy.port)
            c.send(c.upgrade_request("/echo/host").replace(b"Host: 127.0.0.1", b"Host: " + host))
            self.assertEqual(c.read_response()[0], 400, host)
            c.close()

        lines = wait_lines(self.log, self.skip + 6)[self.skip:]
        self.assertEqual(len(lines), 6, lines)
        for line in lines:
            self.assertNotIn(b"\r", line)
        entries = [parse_line(line) for line in lines]  # one UTF-8 JSON object per line
        by_path = collections.defaultdict(list)
        for e in entries:
            self.assertEqual(list(e), KEYS)
            by_path[e["path"]].append(e)
        for path in paths:
            self.assertEqual([e["status"] for e in by_path[path]], [101], path)
        (valid,) = by_path["/echo"]
        self.assertEqual((valid["close_code_from_client"], valid["close_reason_from_client"]), (1000, reason.decode()))
        (bad,) = by_path["/echo/bad-reason"]
        self.assertEqual({k: bad[k] for k in ("status", "close_code_from_client", "close_reason_from_client",
                                             "close_code_to_client", "close_code_to_backend", "closed_first")},
                         {"status": 101, "close_code_from_client": None, "close_reason_from_client": None,
                          "close_code_to_client": 1007, "close_code_to_backend": 1001, "closed_first": "proxy"})
        refused = by_path["/echo/host"]
        self.assertEqual([e["status"] for e in refused], [400, 400], "the refused Hosts")
        self.assertEqual(sorted(e["host"] for e in refused)[0], 'a"b\\c')
        self.assertIn("\ufffd", sorted(e["host"] for e in refused)[1])

    def test_under_a_burst_every_session_is_a_line_or_counted_as_dropped(self):
        n = 300
        log = self.tmp_path("small.log")
        proxy = self.start_ops_proxy({"p": [self.backend.port]}, access_log=log, access_log_buffer="4KiB",
                                     routes=[(None, "/echo", "p", "")], limits={"drain_window": "1s"})

        async def one():
            reader, writer = await asyncio.open_connection("127.0.0.1", proxy.port)
            writer.write(b"GET /nowhere HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
                         b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                         b"Sec-WebSocket-Version: 13\r\n\r\n")
            status = (await asyncio.wait_for(reader.readline(), 10 * SLOW)).split()[1]
            await asyncio.wait_for(reader.read(), 10 * SLOW)
            writer.close()
            return status

        async def burst():
            return await asyncio.gather(*[one() for _ in range(n)])

        self.assertEqual(set(asyncio.run(burst())), {b"404"})
        deadline = time.monotonic() + 5 * SLOW
        while True:
            lines = read_lines(log)
            dropped = value(scrape(proxy.admin), "wsedge_access_log_dropped_total")
            if len(lines) + dropped >= n + 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(len(lines) + dropped, n + 1)  # and the probe's
        lines = [line for line in lines if parse_line(line)["status"] is not None]
        self.assertEqual({parse_line(line)["status"] for line in lines}, {404})

    def test_sigusr1_reopens_the_file_after_a_rename(self):
        echo_session(self.proxy.port, "/echo/one", ["1"])
        self.lines(1)
        os.rename(self.log, self.log + ".1")
        self.proxy.proc.send_signal(signal.SIGUSR1)
        self.proxy.wait_for_output("SIGUSR1: reopening the access log")
        echo_session(self.proxy.port, "/echo/two", ["2"])
        self.skip = 0
        (line,) = self.lines(1)
        self.assertEqual(line["path"], "/echo/two")
        self.assertEqual([parse_line(x)["path"] for x in read_lines(self.log + ".1")], [None, "/echo/one"])

    def test_sessions_closed_by_the_drain_are_logged_before_exit(self):
        async def run():
            ws = await connect(self.proxy.url + "/echo/drained")
            await ws.send("x")
            await ws.recv()
            watcher = asyncio.create_task(watch_close(ws))
            self.proxy.proc.send_signal(signal.SIGTERM)
            return await asyncio.wait_for(watcher, 5 * SLOW)

        _, code, _ = asyncio.run(run())
        self.assertEqual(code, 1001)
        self.assertEqual(self.proxy.proc.wait(5 * SLOW), 0)
        (line,) = [parse_line(x) for x in read_lines(self.log)[self.skip:]]
        self.assertEqual((line["path"], line["close_code_to_client"], line["close_code_to_backend"],
                          line["closed_first"]), ("/echo/drained", 1001, 1001, "proxy"))


# --- the admin API itself -------------------------------------------------------

class Admin(OpsTestCase):
    TOKEN = "s3cr3t-t0ken"

    def setUp(self):
        super().setUp()
        self.backend = self.start_py_backend()
        self.proxy = self.start_ops_proxy({"p": [self.backend.port]}, token=self.TOKEN,
                                          routes=[("main", None, "p", "")], limits={"drain_window": "1s"})
        self.port = self.proxy.admin

    def test_a_token_is_needed_and_checked(self):
        for path in ("/metrics", "/healthz", "/backends", "/config", "/nope"):
            for auth in (None, "wrong", self.TOKEN + "x", self.TOKEN[:-1]):
                r = http(self.port, "GET", path, auth)
                self.assertEqual(r.status, 401, (path, auth))
                self.assertEqual(r.headers.get("www-authenticate"), 'Bearer realm="wsedge"', (path, auth))
        r = http(self.port, "GET", "/healthz", headers=[f"Authorization: Basic {self.TOKEN}"])
        self.assertEqual(r.status, 401)
        r = http(self.port, "POST", f"/drain?backend=127.0.0.1:{self.backend.port}")
        self.assertEqual(r.status, 401, "an unauthorized drain")
        self.assertEqual(who(self.proxy.port), (101, None))
        r = http(self.port, "GET", "/healthz", self.TOKEN)
        self.assertEqual((r.status, r.body), (200, b"ok\n"))
        self.assertNotIn("connection", r.headers)  # HTTP/1.1: kept for the next request
        self.assertEqual(http(self.port, "GET", "/metrics", self.TOKEN).status, 200)

    def test_config_hides_the_token(self):
        r = http(self.port, "GET", "/config", self.TOKEN)
        self.assertEqual(r.status, 200)
        self.assertNotIn(self.TOKEN.encode(), r.body)
        config = json.loads(r.body)
        self.assertEqual(config["generation"], 1)
        self.assertEqual(config["admin"], {"address": f"127.0.0.1:{self.port}", "token": "(set)"})
        self.assertEqual(config["listeners"][0]["routes"][0]["name"], "main")
        self.assertEqual(config["pools"]["p"]["backends"], [{"address": f"127.0.0.1:{self.backend.port}", "weight": 1}])
        status, backends = http_json(self.port, "GET", "/backends", self.TOKEN)
        self.assertEqual(status, 200)
        self.assertEqual(backends["generation"], 1)
        self.assertEqual(backends["pools"], [{"name": "p", "balance": "round_robin", "backends": [{
            "address": f"127.0.0.1:{self.backend.port}", "resolved": f"127.0.0.1:{self.backend.port}",
            "weight": 1, "healthy": True, "ejected": False, "draining": False, "sessions": 0}]}])

    def test_wrong_methods_unknown_paths_and_garbage(self):
        for method, path, allow in [("POST", "/metrics", "GET"), ("PUT", "/healthz", "GET"),
                                    ("DELETE", "/backends", "GET"), ("GET", "/reload", "POST"),
                                    ("GET", "/drain?backend=127.0.0.1:1", "POST"), ("HEAD", "/undrain", "POST")]:
            r = http(self.port, method, path, self.TOKEN)
            self.assertEqual(r.status, 405, (method, path))
            self.assertEqual(r.headers.get("allow"), allow, (method, path))
        for path in ("/", "/nope", "/metrics/", "/METRICS", "/healthz/x"):
            self.assertEqual(http(self.port, "GET", path, self.TOKEN).status, 404, path)
        for raw in (b"garbage\r\n\r\n", b"GET /metrics HTTP/2.0\r\n\r\n", b"GET metrics HTTP/1.1\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nContent-Length: x\r\n\r\n",
                    b"GET /metrics HTTP/1.1\r\nno colon here\r\n\r\n", b"\x00\x01\x02\r\n\r\n"):
            self.assertEqual(http(self.port, raw=raw).status, 400, raw)
        # And it still answers, to HTTP/1.0 too (HAProxy's httpchk sends it).
        self.assertEqual(http(self.port, "GET", "/healthz", self.TOKEN).status, 200)
        auth = f"Authorization: Bearer {self.TOKEN}\r\n".encode()
        self.assertEqual(http(self.port, raw=b"GET /healthz HTTP/1.0\r\n" + auth + b"\r\n").status, 200)

    def test_head_has_no_body_and_a_request_may_come_in_pieces(self):
        r = http(self.port, "HEAD", "/healthz", self.TOKEN)
        self.assertEqual((r.status, r.headers.get("content-length"), r.body), (200, "3", b""))
        with socket.create_connection(("127.0.0.1", self.port), timeout=5 * SLOW) as s:
            auth = f"Authorization: Bearer {self.TOKEN}\r\n".encode()
            for piece in (b"GET /hea", b"lthz HTTP/1.1\r\nHost: x\r\n", auth, b"\r\n"):
                s.sendall(piece)
                time.sleep(0.05)
            r = read_response(s)
            self.assertEqual((r.status, r.body), (200, b"ok\n"))
            self.assertNotIn("connection", r.headers)
            # HTTP/1.1 keeps the connection: the next request (two, pipelined) is
            # answered on it, and Connection: close ends it after its answer.
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + auth + b"\r\n" +
                      b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + auth + b"\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
        self.assertEqual(data.count(b"HTTP/1.1 200 "), 2, data)
        self.assertTrue(data.endswith(b"Connection: close\r\n\r\nok\n"), data)
        # A POST with a body is read to its end.
        r = http(self.port, "POST", f"/undrain?backend=127.0.0.1:{self.backend.port}", self.TOKEN, body=b"{}")
        self.assertEqual(r.status, 200)


class AccessLogToStdout(OpsTestCase):
    def test_lines_go_to_stdout(self):
        backend = self.start_py_backend()
        proxy = self.start_ops_proxy({"p": [backend.port]}, access_log="stdout", limits={"drain_window": "1s"})
        echo_session(proxy.port, "/to/stdout?x=1", ["hi"])
        proxy.wait_for_output('"path":"/to/stdout?x=1"')
        (line,) = [parse_line(x.encode()) for x in proxy.output().splitlines() if '"/to/stdout?x=1"' in x]
        self.assertEqual(list(line), KEYS)
        self.assertEqual((line["status"], line["messages_from_client"], line["closed_first"]), (101, 1, "client"))


def make_cert(directory):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-days", "2", "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
                    "-keyout", f"{directory}/key.pem", "-out", f"{directory}/cert.pem"],
                   check=True, capture_output=True)
    return f"{directory}/cert.pem", f"{directory}/key.pem"


class TlsTelemetry(OpsTestCase):
    def test_a_wss_session_is_timed_and_logged_with_its_tls(self):
        cert, key = make_cert(self._tmp.name)
        log = self.tmp_path("access.log")
        backend = self.start_py_backend()
        proxy = self.start_ops_proxy(
            {"p": [backend.port]}, access_log=log, limits={"drain_window": "1s"},
            listener_extra=["tls:", "  certificates:", f"    - {{ cert: {cert}, key: {key} }}"])
        wait_lines(log, 1)  # the harness's probe
        before = scrape(proxy.admin)
        ctx = ssl.create_default_context(cafile=cert)

        async def run():
            async with websockets.connect(f"wss://localhost:{proxy.port}/secure", ssl=ctx,
                                          ping_interval=None) as ws:
                await ws.send("over tls")
                return await ws.recv()

        self.assertEqual(asyncio.run(run()), "over tls")
        lines = wait_lines(log, 2)
        line = parse_line(lines[-1])
        self.assertEqual((line["path"], line["sni"], line["tls_version"], line["status"]),
                         ("/secure", "localhost", "TLSv1.3", 101))
        self.assertTrue(line["tls_cipher"])
        after = scrape(proxy.admin)
        L = {"listener": f"127.0.0.1:{proxy.port}"}
        count = (value(after, "wsedge_tls_handshake_seconds_count", **L)
                 - value(before, "wsedge_tls_handshake_seconds_count", **L))
        # The harness's probe never finished a TLS handshake.
        self.assertEqual(count, 1)
        self.assertGreater(value(after, "wsedge_tls_handshake_seconds_sum", **L), 0)
        self.assertEqual(value(after, "wsedge_tls_handshake_seconds_bucket", le="+Inf", **L),
                         value(after, "wsedge_tls_handshake_seconds_count", **L))
        buckets = sorted((float(dict(k[1])["le"]), v) for k, v in after.items()
                         if k[0] == "wsedge_tls_handshake_seconds_bucket")
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets), "cumulative buckets")
        # A handshake the client gives up (it does not trust the certificate)
        # is logged with the name it asked for, and no version.
        wrong = ssl.create_default_context()  # the system's CAs only
        with socket.create_connection(("127.0.0.1", proxy.port)) as raw:
            with self.assertRaises(ssl.SSLError):
                wrong.wrap_socket(raw, server_hostname="localhost")
        line = parse_line(wait_lines(log, 3)[-1])
        self.assertEqual((line["sni"], line["tls_version"], line["tls_cipher"]), ("localhost", None, None))


class Systemd(OpsTestCase):
    """Type=notify: what wsedge tells the socket systemd gives it (NOTIFY_SOCKET),
    read here from a datagram socket of the test's own."""

    def test_ready_reloading_and_stopping_are_said_in_order(self):
        sock_path = self.tmp_path("notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.addCleanup(sock.close)
        sock.bind(sock_path)
        sock.settimeout(10 * SLOW)
        backend = self.start_py_backend()
        port, admin_port = free_port(), free_port()
        path = self.tmp_path("notify.yaml")
        with open(path, "w") as f:
            f.write(ops_yaml(port, admin_port, {"p": [backend.port]}))
        proxy = self.spawn([WSEDGE, "-c", path], env={"NOTIFY_SOCKET": sock_path}, name="wsedge")

        def said():
            return sock.recv(4096).decode()

        self.assertEqual(said(), "READY=1")
        wait_port(port)
        proxy.proc.send_signal(signal.SIGHUP)
        reloading = said()
        self.assertRegex(reloading, r"^RELOADING=1\nMONOTONIC_USEC=\d+$")
        self.assertEqual(said(), "READY=1")
        proxy.wait_for_output("every worker switched")
        proxy.proc.send_signal(signal.SIGTERM)
        self.assertEqual(said(), "STOPPING=1")
        self.assertEqual(proxy.proc.wait(15 * SLOW), 0)
