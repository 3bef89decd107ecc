"""Reloading the configuration in process (POST /reload on the admin API, and
SIGHUP), through the real binary with real peers: live sessions keep their
backends while new ones follow the new routes, listeners come and go,
certificates are swapped, removed backends are drained with 1012, and the
admin API's /config and /metrics say what is running."""
import asyncio
import base64
import hashlib
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import tempfile
import threading
import time
import unittest

import websockets
from prometheus_client.parser import text_string_to_metric_families

from harness import (SLOW, ProxyTestCase, RawClient, apply_mask, close_frame, frame, free_port,
                     wait_port)


# --- configuration ------------------------------------------------------------

def config_yaml(listeners, pools, admin_port, limits=None, workers=2, token=None, extra=""):
    """listeners: [{"port": P, "routes": [(name, path_prefix or None, pool)], "tls": [(cert, key)]}];
    pools: {name: [backend ports]} or {name: {"backends": [ports], "balance": B}}."""
    lines = [f"workers: {workers}", "admin:", f"  address: 127.0.0.1:{admin_port}"]
    if token:
        lines.append(f"  token: {token}")
    lines.append("listeners:")
    for l in listeners:
        lines.append(f"  - address: 127.0.0.1:{l['port']}")
        if l.get("tls"):
            lines += ["    tls:", "      certificates:"]
            lines += [f"        - {{ cert: {c}, key: {k} }}" for c, k in l["tls"]]
        lines.append("    routes:")
        for name, prefix, pool in l.get("routes") or [("all", None, next(iter(pools)))]:
            lines.append(f"      - name: {name}")
            if prefix:
                lines.append(f"        match: {{ path_prefix: {prefix} }}")
            lines.append(f"        pool: {pool}")
    lines.append("pools:")
    for name, pool in pools.items():
        if not isinstance(pool, dict):
            pool = {"backends": pool}
        lines.append(f"  {name}:")
        if pool.get("balance"):
            lines.append(f"    balance: {pool['balance']}")
        lines.append("    backends: [" + ", ".join(f"127.0.0.1:{p}" for p in pool["backends"]) + "]")
    if limits:
        lines.append("limits:")
        lines += [f"  {k}: {v}" for k, v in limits.items()]
    return "\n".join(lines) + "\n" + extra


def line_of(text, needle):
    """The 1-based line of the first line holding needle."""
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    raise AssertionError(f"{needle!r} is not in the configuration")


# --- the admin API ------------------------------------------------------------

class Admin:
    def __init__(self, port, token=None):
        self.port = port
        self.token = token

    def request(self, method, path, token=None):
        """(status, headers with lower-case names, body)."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=15 * SLOW)
        try:
            headers = {}
            token = token or self.token
            if token:
                headers["Authorization"] = f"Bearer {token}"
            conn.request(method, path, body=b"" if method == "POST" else None, headers=headers)
            r = conn.getresponse()
            return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
        finally:
            conn.close()

    def json(self, method, path):
        status, headers, body = self.request(method, path)
        return status, json.loads(body)

    def reload(self):
        return self.json("POST", "/reload")

    def config(self):
        status, body = self.json("GET", "/config")
        assert status == 200, (status, body)
        return body

    def metrics(self):
        """{(sample name, ((label, value), ...)): value}."""
        status, headers, body = self.request("GET", "/metrics")
        assert status == 200, (status, body)
        out = {}
        for family in text_string_to_metric_families(body.decode()):
            for s in family.samples:
                out[(s.name, tuple(sorted(s.labels.items())))] = s.value
        return out

    def reloads(self):
        """(ok, failed, generation) as /metrics says."""
        m = self.metrics()
        return (m[("wsedge_reloads_total", (("result", "ok"),))],
                m[("wsedge_reloads_total", (("result", "failed"),))],
                m[("wsedge_config_generation", ())])


# --- clients ------------------------------------------------------------------

def probe(port, path="/"):
    """One session: upgrade, one message echoed, a clean close. Returns X-Backend."""
    c = RawClient(port)
    try:
        headers = c.handshake(path)
        payload = os.urandom(8).hex().encode()
        c.send(frame(1, payload))
        fin, op, got = c.read_frame()
        assert (op, got) == (1, payload), (op, got, payload)
        c.send(close_frame(1000))
        assert c.read_close()[0] == 1000
        return headers.get("x-backend")
    finally:
        c.close()


def raw_over(sock):
    """A RawClient over a socket made elsewhere (a TLS one, say)."""
    c = RawClient.__new__(RawClient)
    c.sock = sock
    c.buf = b""
    return c


def tls_handshake(c, path="/"):
    """The upgrade over TLS, for the name the client sent as SNI."""
    c.send(c.upgrade_request(path, host="localhost"))
    status, headers, _ = c.read_response()
    assert status == 101, f"expected 101, got {status}"
    return headers


def echo_once(c, payload):
    c.send(frame(1, payload))
    fin, op, got = c.read_frame()
    return op, got


def refused(port):
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2 * SLOW):
            return False
    except ConnectionRefusedError:
        return True


def connect(url, **kw):
    kw.setdefault("ping_interval", None)
    kw.setdefault("max_queue", None)
    kw.setdefault("open_timeout", 15 * SLOW)
    kw.setdefault("close_timeout", 5 * SLOW)
    return websockets.connect(url, **kw)


def count_in(proc, text):
    return proc.output().count(text)


def wait_count(proc, text, n, timeout=10.0):
    """Waits until text has been printed n times (the log is written behind)."""
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        if count_in(proc, text) >= n:
            return
        time.sleep(0.02)
    raise AssertionError(f"{proc.name} printed {text!r} {count_in(proc, text)} times, not {n}:\n"
                         f"{proc.output()[-4000:]}")


class ReloadCase(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self._sockets = []

    def tearDown(self):
        # Clients first, so that stopping the proxy waits for none of them.
        for s in reversed(self._sockets):
            s.close()
        super().tearDown()

    def own(self, thing):
        """Closed at the end of the test, before the proxy is stopped."""
        self._sockets.append(thing)
        return thing

    def start(self, yaml, port, admin_port, token=None):
        proxy = self.start_proxy_yaml(yaml, port)
        wait_port(admin_port)
        proxy.admin = Admin(admin_port, token)
        return proxy

    def rewrite(self, proxy, yaml):
        with open(proxy.config, "w") as f:
            f.write(yaml)

    def reload_ok(self, proxy, generation):
        status, body = proxy.admin.reload()
        self.assertEqual(status, 200, body)
        self.assertEqual(body["ok"], True, body)
        self.assertEqual(body["generation"], generation, body)
        self.assertIsInstance(body["switch_ms"], int)
        self.assertEqual(body["warnings"], [], body)
        return body

    def sighup_ok(self, proxy, generation):
        proxy.proc.send_signal(signal.SIGHUP)
        proxy.wait_for_output(f"reloaded {proxy.config}: generation {generation}, every worker switched in ")

    def reload_refused(self, proxy, generation):
        status, body = proxy.admin.reload()
        self.assertEqual(status, 400, body)
        self.assertEqual(body["ok"], False, body)
        self.assertEqual(body["generation"], generation, body)
        self.assertTrue(body["errors"], body)
        return body["errors"]


# --- 1. reload under load -----------------------------------------------------

SESSIONS = 200
RELOADS = 20


class Reload(ReloadCase):
    def test_200_sessions_echo_through_20_reloads_while_new_sessions_follow_the_moved_route(self):
        main = self.start_py_backend("--name", "main")
        left = self.start_py_backend("--name", "left")
        right = self.start_py_backend("--name", "right")
        port, admin_port = free_port(), free_port()
        pools = {"main": [main.port], "left": [left.port], "right": [right.port]}

        def yaml(moved_to):
            return config_yaml([{"port": port, "routes": [("moved", "/moved", moved_to),
                                                           ("rest", None, "main")]}], pools, admin_port)

        proxy = self.start(yaml("left"), port, admin_port)
        url = proxy.url
        invalid = yaml("nowhere").replace("pools:\n", "limits:\n  drain_window: soon\npools:\n", 1)
        bad_lines = sorted((line_of(invalid, "pool: nowhere"), line_of(invalid, "drain_window: soon")))

        async def run():
            stop = asyncio.Event()
            bad, closed, lost = [], [], []
            counts = [0] * SESSIONS
            churn = {"/": 0, "/moved": 0, "failed": []}

            async def echo(i, ws):
                rnd = random.Random(i)
                n = 0
                try:
                    while not stop.is_set():
                        size = rnd.choice((1, 30, 200, 2000, 20000))
                        if n % 3 == 2:
                            msg = f"{i}:{n}:".encode() + rnd.randbytes(size)
                        else:
                            msg = f"{i}:{n}:" + rnd.randbytes(size // 2 + 1).hex()
                        await ws.send(msg)
                        got = await asyncio.wait_for(ws.recv(), 30 * SLOW)
                        if got != msg:
                            bad.append((i, n, len(msg), len(got) if got else None))
                        n += 1
                        counts[i] = n
                except websockets.ConnectionClosed:
                    closed.append((i, ws.close_code, ws.close_reason))
                except asyncio.TimeoutError:
                    lost.append((i, n))

            async def churner():
                # New sessions all along, the reloads included: none may fail.
                k = 0
                while not stop.is_set():
                    path = "/moved" if k % 2 else "/"
                    try:
                        async with connect(url + path) as ws:
                            await ws.send(f"churn {k}")
                            got = await asyncio.wait_for(ws.recv(), 30 * SLOW)
                            if got != f"churn {k}":
                                churn["failed"].append((k, got))
                        churn[path] += 1
                    except Exception as e:  # noqa: BLE001 - every failure is a finding
                        churn["failed"].append((k, repr(e)))
                    k += 1
                    await asyncio.sleep(0.02)

            def churned():
                return churn["/"] + churn["/moved"]

            async def reloads():
                generation, pool = 1, "left"
                ok = failed = 0
                for k in range(1, RELOADS + 1):
                    await asyncio.sleep(0.25)
                    # At least one new session between two reloads (the client is busy: wait for it).
                    seen = churned()
                    deadline = time.monotonic() + 20 * SLOW
                    while churned() == seen and not churn["failed"] and time.monotonic() < deadline:
                        await asyncio.sleep(0.02)
                    pool = "right" if pool == "left" else "left"
                    self.rewrite(proxy, yaml(pool))
                    generation += 1
                    if k % 4 == 0:
                        await asyncio.to_thread(self.sighup_ok, proxy, generation)
                    else:
                        await asyncio.to_thread(self.reload_ok, proxy, generation)
                    ok += 1
                    self.assertEqual(await asyncio.to_thread(probe, port, "/moved"), pool,
                                     f"after reload {k} (generation {generation})")
                    self.assertEqual(await asyncio.to_thread(probe, port, "/"), "main")
                    if k == RELOADS // 2:
                        self.rewrite(proxy, invalid)
                        errors = await asyncio.to_thread(self.reload_refused, proxy, generation)
                        failed += 1
                        places = [re.match(rf"{re.escape(proxy.config)}:(\d+):\d+: ", e) for e in errors]
                        self.assertTrue(all(places), errors)
                        self.assertEqual(sorted(int(m.group(1)) for m in places), bad_lines, errors)
                        self.assertTrue(any("'nowhere'" in e for e in errors), errors)
                        self.assertTrue(any("drain_window" in e and "soon" in e for e in errors), errors)
                        await asyncio.to_thread(proxy.wait_for_output,
                                                f"reload refused: generation {generation} keeps running")
                        # The old configuration still routes, new sessions and old.
                        self.assertEqual(await asyncio.to_thread(probe, port, "/moved"), pool)
                        self.assertEqual((await asyncio.to_thread(proxy.admin.config))["generation"],
                                         generation)
                self.assertEqual(await asyncio.to_thread(proxy.admin.reloads), (ok, failed, generation))
                await asyncio.sleep(0.25)

            sessions = []
            try:
                for batch in range(0, SESSIONS, 25):
                    sessions += await asyncio.gather(*(connect(url + ("/moved" if i % 2 else "/"))
                                                       for i in range(batch, min(batch + 25, SESSIONS))))
                names = [ws.response_headers.get("X-Backend") for ws in sessions]
                self.assertEqual(names, ["main", "left"] * (SESSIONS // 2))
                tasks = [asyncio.create_task(echo(i, ws)) for i, ws in enumerate(sessions)]
                tasks.append(asyncio.create_task(churner()))
                try:
                    await reloads()
                finally:
                    stop.set()
                    await asyncio.gather(*tasks)
                ended_early = [i for i, ws in enumerate(sessions) if ws.close_code is not None]
            finally:
                await asyncio.gather(*(ws.close() for ws in sessions))
            return bad, closed, lost, counts, ended_early, churn, [ws.close_code for ws in sessions]

        bad, closed, lost, counts, ended_early, churn, codes = asyncio.run(run())
        print(f"\n  {sum(counts)} messages echoed over {SESSIONS} sessions (fewest {min(counts)}), "
              f"{churn['/'] + churn['/moved']} new sessions", flush=True)
        self.assertEqual(bad, [], "corrupted echoes")
        self.assertEqual(lost, [], "echoes that never came")
        self.assertEqual(closed, [], "sessions closed during the reloads")
        self.assertEqual(ended_early, [])
        self.assertEqual(codes, [1000] * SESSIONS)
        self.assertEqual(churn["failed"], [], "new sessions that failed during the reloads")
        self.assertGreater(min(counts), 5, "every session echoed all along")
        # The backend of the unmoved route saw every session end with the client's 1000, at the
        # end: its 100 long ones, the probes (one a reload) and the new sessions.
        expected = SESSIONS // 2 + RELOADS + churn["/"]
        wait_count(main, "closed ", expected)
        self.assertEqual((count_in(main, "closed "), count_in(main, "closed 1000")), (expected, expected))

    def test_the_access_log_names_the_route_and_pool_each_session_had_across_a_reload(self):
        left = self.start_py_backend("--name", "left")
        right = self.start_py_backend("--name", "right")
        port, admin_port = free_port(), free_port()
        log = self.tmp_path("access.log")

        def yaml(pool):
            return config_yaml([{"port": port, "routes": [("moved", "/moved", pool)]}],
                               {"left": [left.port], "right": [right.port]}, admin_port,
                               extra=f"access_log: {{ path: {log} }}\n")

        proxy = self.start(yaml("left"), port, admin_port)
        before = RawClient(port)
        self.assertEqual(before.handshake("/moved/a").get("x-backend"), "left")
        self.rewrite(proxy, yaml("right"))
        self.reload_ok(proxy, 2)
        self.assertEqual(probe(port, "/moved/b"), "right")
        self.assertEqual(echo_once(before, b"old route"), (1, b"old route"))
        before.send(close_frame(1000))
        self.assertEqual(before.read_close(), (1000, ""))
        before.close()

        def lines():
            with open(log) as f:  # (wait_port's connections sent no request)
                return [e for e in map(json.loads, filter(str.strip, f)) if e["path"]]

        deadline = time.monotonic() + 10 * SLOW
        while len(lines()) < 2 and time.monotonic() < deadline:  # written behind, every 100 ms
            time.sleep(0.05)
        got = {e["path"]: (e["route"], e["pool"], e["backend"], e["status"]) for e in lines()}
        self.assertEqual(got, {"/moved/a": ("moved", "left", f"127.0.0.1:{left.port}", 101),
                               "/moved/b": ("moved", "right", f"127.0.0.1:{right.port}", 101)})


# --- 2. listeners -------------------------------------------------------------

class ReloadListeners(ReloadCase):
    def test_an_added_listener_accepts_and_a_removed_one_refuses_while_its_session_lives_on(self):
        b = self.start_py_backend("--name", "b")
        p1, p2, admin_port = free_port(), free_port(), free_port()

        def yaml(*ports):
            return config_yaml([{"port": p} for p in ports], {"p": [b.port]}, admin_port)

        proxy = self.start(yaml(p1), p1, admin_port)
        self.assertTrue(refused(p2))
        before = RawClient(p1)
        self.assertEqual(before.handshake("/").get("x-backend"), "b")
        self.assertEqual(echo_once(before, b"before"), (1, b"before"))

        self.rewrite(proxy, yaml(p1, p2))
        self.reload_ok(proxy, 2)
        self.assertEqual(probe(p2), "b", "the added listener accepts")
        self.assertEqual(probe(p1), "b", "the kept listener still accepts")
        self.assertEqual(echo_once(before, b"after adding"), (1, b"after adding"))

        self.rewrite(proxy, yaml(p2))
        self.reload_ok(proxy, 3)
        self.assertTrue(refused(p1), "a new connection to the removed listener is refused")
        for _ in range(20):
            self.assertTrue(refused(p1))
        self.assertEqual(probe(p2), "b")
        for i in range(50):
            msg = f"after removing {i}".encode()
            self.assertEqual(echo_once(before, msg), (1, msg), "the session on the removed listener")
        self.assertEqual([l["address"] for l in proxy.admin.config()["listeners"]], [f"127.0.0.1:{p2}"])

        # And back again, on the address it had.
        self.rewrite(proxy, yaml(p2, p1))
        self.reload_ok(proxy, 4)
        self.assertEqual(probe(p1), "b")
        self.assertEqual(probe(p2), "b")
        self.assertEqual(echo_once(before, b"still"), (1, b"still"))
        before.send(close_frame(1000))
        self.assertEqual(before.read_close(), (1000, ""))
        before.close()

    def test_a_listener_address_someone_else_holds_refuses_the_reload_and_changes_nothing(self):
        b = self.start_py_backend("--name", "b")
        p1, admin_port = free_port(), free_port()
        proxy = self.start(config_yaml([{"port": p1}], {"p": [b.port]}, admin_port), p1, admin_port)
        taken = socket.socket()
        self.own(taken)
        taken.bind(("127.0.0.1", 0))
        taken.listen(8)
        p2 = taken.getsockname()[1]
        old = proxy.admin.config()
        self.rewrite(proxy, config_yaml([{"port": p1}, {"port": p2}], {"p": [b.port]}, admin_port))
        errors = self.reload_refused(proxy, 1)
        self.assertTrue(any(f"127.0.0.1:{p2}" in e and "in use" in e and re.match(r".+:\d+:\d+: ", e)
                            for e in errors), errors)
        proxy.wait_for_output("reload refused: generation 1 keeps running")
        self.assertEqual(proxy.admin.config(), old)
        self.assertEqual(probe(p1), "b")
        # The address is still only ours: a connection to it is ours to accept.
        with socket.create_connection(("127.0.0.1", p2), timeout=5):
            taken.settimeout(5)
            conn, _ = taken.accept()
            conn.close()
        self.assertEqual(proxy.admin.reloads(), (0, 1, 1))


# --- 3. certificates ----------------------------------------------------------

def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


class ReloadCertificates(ReloadCase):
    @classmethod
    def setUpClass(cls):
        d = cls.certs = tempfile.mkdtemp(prefix="wsedge-reload-tls-")
        openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
                "-subj", "/CN=wsedge reload CA", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem")
        for name in ("a", "b", "c"):
            openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                    "-subj", f"/CN={name}.test", "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr")
            with open(f"{d}/{name}.ext", "w") as f:
                f.write(f"subjectAltName=DNS:localhost,IP:127.0.0.1,DNS:{name}.test\n")
            openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
                    "-CAcreateserial", "-days", "2", "-extfile", f"{d}/{name}.ext", "-out", f"{d}/{name}.pem")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.certs, ignore_errors=True)

    def der(self, name):
        with open(f"{self.certs}/{name}.pem") as f:
            return ssl.PEM_cert_to_DER_cert(f.read())

    def tls_socket(self, port):
        ctx = ssl.create_default_context(cafile=f"{self.certs}/ca.pem")
        raw = socket.create_connection(("127.0.0.1", port), timeout=10 * SLOW)
        return ctx.wrap_socket(raw, server_hostname="localhost")

    def serving(self, port):
        """The certificate a new TLS handshake gets, as the name of its files."""
        s = self.tls_socket(port)
        try:
            got = s.getpeercert(binary_form=True)
            c = raw_over(s)
            tls_handshake(c)
            self.assertEqual(echo_once(c, b"over tls"), (1, b"over tls"))
        finally:
            s.close()
        names = [n for n in ("a", "b", "c") if self.der(n) == got]
        return names[0] if names else "something else"

    def test_a_reload_swaps_the_certificate_for_new_handshakes_and_live_sessions_keep_theirs(self):
        backend = self.start_py_backend("--name", "b")
        port, admin_port = free_port(), free_port()
        d = self.certs
        live_pem, live_key = self.tmp_path("live.pem"), self.tmp_path("live.key")

        def yaml(cert, key):
            return config_yaml([{"port": port, "tls": [(cert, key)]}], {"p": [backend.port]}, admin_port)

        proxy = self.start(yaml(f"{d}/a.pem", f"{d}/a.key"), port, admin_port)
        self.assertEqual(self.serving(port), "a")
        before = self.tls_socket(port)
        self.own(before)
        self.assertEqual(before.getpeercert(binary_form=True), self.der("a"))
        session = raw_over(before)
        tls_handshake(session)
        self.assertEqual(echo_once(session, b"with a"), (1, b"with a"))

        # Other files at the same address.
        shutil.copy(f"{d}/b.pem", live_pem)
        shutil.copy(f"{d}/b.key", live_key)
        self.rewrite(proxy, yaml(live_pem, live_key))
        self.reload_ok(proxy, 2)
        for _ in range(4):  # every worker
            self.assertEqual(self.serving(port), "b")
        self.assertEqual(echo_once(session, b"still a"), (1, b"still a"))

        # The same files, renewed in place: the configuration text is unchanged.
        shutil.copy(f"{d}/c.pem", live_pem)
        shutil.copy(f"{d}/c.key", live_key)
        self.reload_ok(proxy, 3)
        for _ in range(4):
            self.assertEqual(self.serving(port), "c")

        # A certificate and a key that do not match: refused, c serves on.
        shutil.copy(f"{d}/a.key", live_key)
        errors = self.reload_refused(proxy, 3)
        self.assertTrue(all(e.startswith(f"{proxy.config}:") for e in errors), errors)
        for _ in range(4):
            self.assertEqual(self.serving(port), "c")

        self.assertEqual(before.getpeercert(binary_form=True), self.der("a"))
        for i in range(20):
            msg = f"live {i}".encode()
            self.assertEqual(echo_once(session, msg), (1, msg))
        session.send(close_frame(1000))
        self.assertEqual(session.read_close(), (1000, ""))


# --- 4. backends removed ------------------------------------------------------

PER_BACKEND = 8
DRAIN_WINDOW = 2.0
MARGIN = 1.5


class ReloadBackends(ReloadCase):
    def test_sessions_of_a_removed_backend_get_1012_within_the_drain_window_and_the_others_live_on(self):
        x = self.start_py_backend("--name", "x")
        y = self.start_py_backend("--name", "y")
        port, admin_port = free_port(), free_port()

        def yaml(*backends):
            return config_yaml([{"port": port}], {"p": {"balance": "round_robin", "backends": backends}},
                               admin_port, limits={"drain_window": "2s"})

        proxy = self.start(yaml(x.port, y.port), port, admin_port)

        async def run():
            on = {"x": [], "y": []}
            extra = []
            for _ in range(10 * PER_BACKEND):
                if min(len(v) for v in on.values()) >= PER_BACKEND:
                    break
                ws = await connect(proxy.url + "/")
                name = ws.response_headers.get("X-Backend")
                (on[name] if len(on[name]) < PER_BACKEND else extra).append(ws)
            for ws in extra:
                await ws.close()
            self.assertEqual({k: len(v) for k, v in on.items()}, {"x": PER_BACKEND, "y": PER_BACKEND})
            for name, group in on.items():
                for i, ws in enumerate(group):
                    await ws.send(f"{name} {i}")
                    self.assertEqual(await ws.recv(), f"{name} {i}")

            stop = asyncio.Event()
            y_bad = []
            y_echoed = [0] * PER_BACKEND

            async def keep_echoing(i, ws):
                n = 0
                try:
                    while not stop.is_set():
                        await ws.send(f"y {i} {n}")
                        got = await asyncio.wait_for(ws.recv(), 20 * SLOW)
                        if got != f"y {i} {n}":
                            y_bad.append((i, n, got))
                        n += 1
                        y_echoed[i] = n
                        await asyncio.sleep(0.01)
                except Exception as e:  # noqa: BLE001
                    y_bad.append((i, n, repr(e)))

            async def until_closed(ws):
                n = 0
                try:
                    while True:  # echoes on until the proxy closes
                        await ws.send(f"x {n}")
                        await asyncio.wait_for(ws.recv(), 20 * SLOW)
                        n += 1
                        await asyncio.sleep(0.01)
                except websockets.ConnectionClosed:
                    return time.monotonic(), ws.close_code, ws.close_reason

            y_tasks = [asyncio.create_task(keep_echoing(i, ws)) for i, ws in enumerate(on["y"])]
            self.rewrite(proxy, yaml(y.port))
            started = time.monotonic()
            x_tasks = [asyncio.create_task(until_closed(ws)) for ws in on["x"]]
            status, body = await asyncio.to_thread(proxy.admin.reload)
            self.assertEqual((status, body["ok"], body["generation"]), (200, True, 2), body)
            x_ends = await asyncio.wait_for(asyncio.gather(*x_tasks), (DRAIN_WINDOW + 10) * SLOW)
            new = []
            for i in range(20):
                async with connect(proxy.url + "/") as ws:
                    new.append(ws.response_headers.get("X-Backend"))
                    await ws.send(f"new {i}")
                    self.assertEqual(await ws.recv(), f"new {i}")
            await asyncio.sleep(0.5)
            stop.set()
            await asyncio.gather(*y_tasks)
            y_open = [ws.close_code is None for ws in on["y"]]
            for ws in on["y"]:
                await ws.close()
            return started, x_ends, new, y_bad, y_echoed, y_open

        started, x_ends, new, y_bad, y_echoed, y_open = asyncio.run(run())
        self.assertEqual([(code, reason) for _, code, reason in x_ends],
                         [(1012, "backend draining")] * PER_BACKEND)
        after = sorted(t - started for t, _, _ in x_ends)
        print(f"\n  the {PER_BACKEND} sessions on x closed at {', '.join(f'{s:.2f}' for s in after)} s",
              flush=True)
        self.assertLessEqual(after[-1], (DRAIN_WINDOW + MARGIN) * SLOW, after)
        self.assertEqual(new, ["y"] * 20, "new sessions go to the backends left")
        self.assertEqual(y_bad, [])
        self.assertEqual(y_open, [True] * PER_BACKEND, "sessions on y are untouched")
        self.assertGreater(min(y_echoed), 10)
        wait_count(x, "closed 1001 backend draining", PER_BACKEND)
        self.assertEqual(count_in(x, "closed 1001 backend draining"), PER_BACKEND)
        # y saw only the clean closes of the end (and of the 20 new sessions, and the extras).
        self.assertNotIn("draining", y.output())
        self.assertEqual(proxy.admin.reloads(), (1, 0, 2))


# --- 5. /config and /metrics --------------------------------------------------

class ReloadAdmin(ReloadCase):
    def sha(self, path):
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()

    def test_config_says_the_generation_and_hash_of_the_file_and_metrics_count_every_reload(self):
        b = self.start_py_backend("--name", "b")
        c = self.start_py_backend("--name", "c")
        port, admin_port = free_port(), free_port()

        def yaml(pools, routes=None, comment=""):
            return comment + config_yaml([{"port": port, "routes": routes}], pools, admin_port)

        proxy = self.start(yaml({"p": [b.port]}), port, admin_port)
        admin = proxy.admin
        first = admin.config()
        self.assertEqual((first["generation"], first["sha256"], first["file"]),
                         (1, self.sha(proxy.config), proxy.config))
        self.assertEqual([l["address"] for l in first["listeners"]], [f"127.0.0.1:{port}"])
        self.assertEqual(list(first["pools"]), ["p"])
        self.assertEqual(admin.reloads(), (0, 0, 1))

        # Valid, by POST /reload.
        self.rewrite(proxy, yaml({"p": [b.port], "q": [c.port]}, [("to-q", "/q", "q"), ("rest", None, "p")]))
        self.reload_ok(proxy, 2)
        second = admin.config()
        self.assertEqual((second["generation"], second["sha256"]), (2, self.sha(proxy.config)))
        self.assertNotEqual(second["sha256"], first["sha256"])
        self.assertEqual(sorted(second["pools"]), ["p", "q"])
        self.assertEqual([r["name"] for r in second["listeners"][0]["routes"]], ["to-q", "rest"])
        self.assertEqual(probe(port, "/q"), "c")
        self.assertEqual(admin.reloads(), (1, 0, 2))

        # Invalid, by POST /reload: the running configuration's hash, not the file's.
        self.rewrite(proxy, yaml({"p": [b.port]}, [("to-q", "/q", "q")]))
        errors = self.reload_refused(proxy, 2)
        self.assertRegex(errors[0], rf"^{re.escape(proxy.config)}:\d+:\d+: .*'q'")
        self.assertEqual(admin.config(), second)
        self.assertEqual(admin.reloads(), (1, 1, 2))

        # Invalid, by SIGHUP.
        proxy.proc.send_signal(signal.SIGHUP)
        wait_count(proxy, "reload refused: generation 2 keeps running", 2)
        self.assertEqual(admin.reloads(), (1, 2, 2))
        self.assertEqual(admin.config()["sha256"], second["sha256"])

        # Valid, by SIGHUP; then the same file again, which is a generation too.
        self.rewrite(proxy, yaml({"p": [c.port]}, comment="# by SIGHUP\n"))
        self.sighup_ok(proxy, 3)
        third = admin.config()
        self.assertEqual((third["generation"], third["sha256"]), (3, self.sha(proxy.config)))
        self.assertEqual(probe(port, "/q"), "c")
        self.assertEqual(admin.reloads(), (2, 2, 3))
        self.reload_ok(proxy, 4)
        self.assertEqual((admin.config()["generation"], admin.config()["sha256"]), (4, third["sha256"]))
        self.assertEqual(admin.reloads(), (3, 2, 4))
        kinds = {f.name: f.type for f in text_string_to_metric_families(admin.request("GET", "/metrics")[2].decode())}
        self.assertEqual((kinds["wsedge_reloads"], kinds["wsedge_config_generation"]), ("counter", "gauge"))

    def test_with_a_token_nothing_is_answered_or_reloaded_without_it(self):
        b = self.start_py_backend("--name", "b")
        port, admin_port = free_port(), free_port()
        proxy = self.start(config_yaml([{"port": port}], {"p": [b.port]}, admin_port, token="s3cret"),
                           port, admin_port, token="s3cret")
        anonymous = Admin(admin_port)
        for method, path in (("POST", "/reload"), ("GET", "/config"), ("GET", "/metrics")):
            status, headers, _ = anonymous.request(method, path)
            self.assertEqual(status, 401, path)
            self.assertIn("Bearer", headers.get("www-authenticate", ""))
            status, _, _ = anonymous.request(method, path, token="wrong")
            self.assertEqual(status, 401, path)
        self.assertEqual(proxy.admin.reloads(), (0, 0, 1))
        self.assertEqual(proxy.admin.request("GET", "/reload")[0], 405)
        self.reload_ok(proxy, 2)
        self.assertEqual(proxy.admin.reloads(), (1, 0, 2))

    def test_a_change_that_needs_a_restart_is_reloaded_with_a_warning(self):
        b = self.start_py_backend("--name", "b")
        port, admin_port = free_port(), free_port()
        proxy = self.start(config_yaml([{"port": port}], {"p": [b.port]}, admin_port), port, admin_port)
        self.rewrite(proxy, config_yaml([{"port": port}], {"p": [b.port]}, admin_port, workers=1))
        status, body = proxy.admin.reload()
        self.assertEqual((status, body["ok"], body["generation"]), (200, True, 2), body)
        self.assertEqual(body["warnings"], ["workers and worker_connections change only on a restart"])
        proxy.wait_for_output("reload: workers and worker_connections change only on a restart")
        self.assertEqual(probe(port), "b")


# --- sessions caught by a reload before their tunnel ----------------------------

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


class HeldBackend:
    """A backend in this process that holds its answer to the upgrade until
    release() (a backend slow to answer), then echoes text frames."""

    def __init__(self):
        self.srv = socket.socket()
        self.srv.bind(("127.0.0.1", 0))
        self.srv.listen(8)
        self.srv.settimeout(30 * SLOW)
        self.port = self.srv.getsockname()[1]
        self.got_request = threading.Event()
        self.released = threading.Event()
        self.conns = []
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self):
        try:
            conn, _ = self.srv.accept()
        except OSError:
            return
        self.conns.append(conn)
        conn.settimeout(30 * SLOW)
        c = raw_over(conn)
        try:
            head = c.read_until(b"\r\n\r\n").decode("latin-1")
            key = re.search(r"(?im)^sec-websocket-key:\s*(\S+)", head).group(1)
            self.got_request.set()
            self.released.wait(30 * SLOW)
            accept = base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()
            conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                          f"Sec-WebSocket-Accept: {accept}\r\nX-Backend: held\r\n\r\n").encode())
            while True:
                b0, b1 = c.read_exact(2)
                n = b1 & 0x7F
                if n == 126:
                    n = struct.unpack("!H", c.read_exact(2))[0]
                key4 = c.read_exact(4)
                payload = apply_mask(c.read_exact(n), key4) if n else b""
                conn.sendall(frame(b0 & 0x0F, payload, mask=False))
                if b0 & 0x0F == 8:
                    return
        except (OSError, EOFError, AttributeError):
            return

    def close(self):
        self.released.set()
        # shutdown, not close alone, wakes the thread where it waits (accept or recv).
        for s in [self.srv, *self.conns]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        self.thread.join(10)


class ReloadRaces(ReloadCase):
    """Sessions caught by a reload between their TCP accept and their tunnel:
    a request routes with the configuration in force when it arrives, and a
    session whose backend was removed while its upgrade was in flight is
    drained too."""

    def two_pools(self, pool, port, admin_port, x, y):
        return config_yaml([{"port": port, "routes": [("all", None, pool)]}], {"px": [x], "py": [y]},
                           admin_port, workers=1, limits={"drain_window": "1s"})

    def test_an_upgrade_sent_after_a_reload_follows_the_new_routes(self):
        x = self.start_py_backend("--name", "x")
        y = self.start_py_backend("--name", "y")
        port, admin_port = free_port(), free_port()
        proxy = self.start(self.two_pools("px", port, admin_port, x.port, y.port), port, admin_port)
        early = RawClient(port)  # connected, its request not sent yet
        self.own(early)
        self.rewrite(proxy, self.two_pools("py", port, admin_port, x.port, y.port))
        self.reload_ok(proxy, 2)
        self.assertEqual(probe(port), "y")
        early.send(early.upgrade_request("/"))
        status, headers, _ = early.read_response()
        self.assertEqual((status, headers.get("x-backend")), (101, "y"), "the request came after the reload")

    def test_an_upgrade_sent_after_a_reload_that_replaced_every_backend_is_not_refused(self):
        x = self.start_py_backend("--name", "x")
        y = self.start_py_backend("--name", "y")
        port, admin_port = free_port(), free_port()

        def yaml(backend):
            return config_yaml([{"port": port}], {"p": [backend]}, admin_port, workers=1)

        proxy = self.start(yaml(x.port), port, admin_port)
        early = RawClient(port)
        self.own(early)
        self.rewrite(proxy, yaml(y.port))
        self.reload_ok(proxy, 2)
        self.assertEqual(probe(port), "y")
        early.send(early.upgrade_request("/"))
        status, headers, body = early.read_response()
        self.assertEqual((status, headers.get("x-backend"), body), (101, "y", b""))

    def test_a_session_whose_upgrade_was_in_flight_to_a_removed_backend_is_drained_too(self):
        held = HeldBackend()
        self.own(held)
        y = self.start_py_backend("--name", "y")
        port, admin_port = free_port(), free_port()

        def yaml(backend):
            return config_yaml([{"port": port}], {"p": [backend]}, admin_port, workers=1,
                               limits={"drain_window": "1s"})

        proxy = self.start(yaml(held.port), port, admin_port)
        c = RawClient(port)
        self.own(c)
        c.send(c.upgrade_request("/"))
        self.assertTrue(held.got_request.wait(10 * SLOW))
        self.rewrite(proxy, yaml(y.port))
        self.reload_ok(proxy, 2)
        held.released.set()
        status, headers, _ = c.read_response()
        self.assertEqual((status, headers.get("x-backend")), (101, "held"))
        # Its backend left the pool: the session is closed like the others on it.
        c.sock.settimeout(5 * SLOW)
        deadline = time.monotonic() + (1.0 + MARGIN) * SLOW
        closed, i = None, 0
        try:
            while closed is None and time.monotonic() < deadline:
                c.send(frame(1, f"m{i}".encode()))
                fin, op, payload = c.read_frame()
                if op == 8:
                    closed = struct.unpack("!H", payload[:2])[0], payload[2:].decode()
                i += 1
                time.sleep(0.05)
        except (EOFError, OSError) as e:
            closed = repr(e)
        self.assertEqual(closed, (1012, "backend draining"), f"after {i} echoes")
