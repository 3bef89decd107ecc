"""The load balancer through the real binary, against backends that say who
they are (X-Backend in their 101): the four policies, active and passive
health, retries, and connection caps."""
import asyncio
import collections
import concurrent.futures
import os
import re
import socket
import ssl
import time
import urllib.request

import websockets

from harness import SLOW, ProxyTestCase, RawClient, frame, free_port
from test_tls import CERTS, make_certs


def pool_yaml(name, backends, extra=""):
    """backends: [(port, {key: value})]."""
    lines = [f"  {name}:"] + [f"    {line}" for line in extra.splitlines() if line] + ["    backends:"]
    for port, opts in backends:
        fields = "".join(f", {k}: {v}" for k, v in opts.items())
        lines.append(f"      - {{ address: 127.0.0.1:{port}{fields} }}")
    return "\n".join(lines)


def proxy_yaml(port, pools, routes=None, listener_extra=""):
    lines = ["workers: 1", "listeners:", f"  - address: 127.0.0.1:{port}"]
    if listener_extra:
        lines.append(f"    {listener_extra}")
    lines.append("    routes:")
    for prefix, pool in routes or [("/", "p")]:
        lines += [f"      - match: {{ path_prefix: {prefix} }}", f"        pool: {pool}"]
    return "\n".join(lines + ["pools:"] + pools) + "\n"


def who(port, path="/", extra="", timeout=5.0):
    """(status, X-Backend) of one upgrade; the connection is closed after."""
    c = RawClient(port, timeout)
    try:
        c.send(c.upgrade_request(path, extra))
        status, headers, _ = c.read_response()
        return status, headers.get("x-backend")
    finally:
        c.close()


def tally(port, n, **kw):
    counts = collections.Counter()
    for _ in range(n):
        counts[who(port, **kw)] += 1
    return counts


class Balancing(ProxyTestCase):
    def named(self, *names, extra=()):
        return [self.start_py_backend("--name", n, *extra) for n in names]

    def assertShares(self, counts, expected, tolerance=0.05):
        for name, want in expected.items():
            got = counts.get((101, name), 0)
            self.assertLessEqual(abs(got - want), tolerance * want, f"{name}: {got} of {want}; {counts}")
        self.assertEqual(sum(counts.values()), sum(expected.values()), counts)

    def test_round_robin_follows_the_weights(self):
        a, b, c = self.named("a", "b", "c")
        port = free_port()
        proxy = self.start_proxy_yaml(proxy_yaml(port, [pool_yaml("p", [
            (a.port, {"weight": 1}), (b.port, {"weight": 2}), (c.port, {"weight": 3})])]), port)
        self.assertShares(tally(proxy.port, 600), {"a": 100, "b": 200, "c": 300})

    def test_least_conn_follows_the_weights_with_sessions_held_open_and_one_after_another(self):
        a, b, c = self.named("a", "b", "c")
        port = free_port()
        proxy = self.start_proxy_yaml(proxy_yaml(port, [pool_yaml("p", [
            (a.port, {"weight": 1}), (b.port, {"weight": 2}), (c.port, {"weight": 3})],
            "balance: least_conn")]), port)
        self.assertShares(tally(proxy.port, 600), {"a": 100, "b": 200, "c": 300})
        held, counts = [], collections.Counter()
        try:
            for _ in range(300):
                client = RawClient(proxy.port)
                held.append(client)
                client.send(client.upgrade_request("/"))
                status, headers, _ = client.read_response()
                counts[(status, headers.get("x-backend"))] += 1
        finally:
            for client in held:
                client.close()
        self.assertShares(counts, {"a": 50, "b": 100, "c": 150})

    def test_random_two_spreads_sessions_and_never_picks_an_unhealthy_backend(self):
        flag = self.tmp_path("c-unhealthy")
        open(flag, "w").close()
        a, b = self.named("a", "b")
        (c,) = self.named("c", extra=("--health-file", flag))
        port = free_port()
        check = "health_check: { interval: 200ms, timeout: 500ms, unhealthy_threshold: 1, path: /healthz }"
        proxy = self.start_proxy_yaml(proxy_yaml(port, [pool_yaml("p", [
            (a.port, {}), (b.port, {}), (c.port, {})], "balance: random_two\n" + check)]), port)
        time.sleep(1.0 * SLOW)  # one failed check ejects c
        counts = tally(proxy.port, 300)
        self.assertEqual(counts[(101, "c")], 0, counts)
        self.assertEqual(counts[(101, "a")] + counts[(101, "b")], 300, counts)
        self.assertGreater(min(counts[(101, "a")], counts[(101, "b")]), 90, counts)


class Hashing(ProxyTestCase):
    KEYS = [f"user-{i}" for i in range(10_000)]

    def mapping(self, port, keys):
        def one(key):
            return key, who(port, extra=f"X-User: {key}\r\n", timeout=10.0)

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            return dict(pool.map(one, keys))

    def proxy(self, backends):
        port = free_port()
        yaml = proxy_yaml(port, [pool_yaml("p", [(b.port, {}) for b in backends],
                                           "balance: hash\nhash_key: header:X-User")])
        return self.start_proxy_yaml(yaml, port)

    def test_two_processes_agree_on_every_key_and_removing_a_backend_moves_only_its_keys(self):
        backends = [self.start_py_backend("--name", f"b{i}") for i in range(5)]
        first, second = self.proxy(backends), self.proxy(backends)
        one = self.mapping(first.port, self.KEYS)
        self.assertTrue(all(status == 101 for status, _ in one.values()))
        per_backend = collections.Counter(name for _, name in one.values())
        self.assertEqual(len(per_backend), 5, per_backend)
        self.assertGreater(min(per_backend.values()), 1500, per_backend)
        two = self.mapping(second.port, self.KEYS)
        self.assertEqual(sum(one[k] != two[k] for k in self.KEYS), 0, "two processes disagree")
        again = self.mapping(first.port, self.KEYS[:2000])
        self.assertEqual(sum(one[k] != again[k] for k in again), 0, "a key changed backend")

        fewer = self.proxy(backends[:4])  # b4 is gone
        moved = self.mapping(fewer.port, self.KEYS)
        stayed = [k for k in self.KEYS if one[k][1] != "b4"]
        moved_others = sum(one[k] != moved[k] for k in stayed)
        self.assertLessEqual(moved_others, 0.03 * len(stayed), f"{moved_others} of {len(stayed)} moved")
        self.assertTrue(all(moved[k][1] != "b4" for k in self.KEYS))

    def test_a_request_without_the_key_is_still_served_and_spread(self):
        backends = [self.start_py_backend("--name", f"b{i}") for i in range(3)]
        proxy = self.proxy(backends)
        counts = tally(proxy.port, 90)
        self.assertEqual(sum(n for (status, _), n in counts.items() if status == 101), 90, counts)
        self.assertGreaterEqual(len(counts), 2, counts)


CHECK = ("health_check: { interval: 500ms, timeout: 400ms, healthy_threshold: 2, "
         "unhealthy_threshold: 2, path: /healthz }")
# interval × unhealthy_threshold, plus a second (and the same to come back).
WITHIN = (0.5 * 2 + 1.0) * SLOW


class Health(ProxyTestCase):
    def pool_of(self, backends, extra=CHECK + "\nretries: 0"):
        port = free_port()
        return self.start_proxy_yaml(proxy_yaml(port, [pool_yaml("p", [(b.port, {}) for b in backends],
                                                                 extra)]), port)

    def test_an_unhealthy_backend_gets_no_new_sessions_keeps_its_live_ones_and_comes_back(self):
        flag = self.tmp_path("b-unhealthy")
        a = self.start_py_backend("--name", "a")
        b = self.start_py_backend("--name", "b", "--health-file", flag)
        proxy = self.pool_of([a, b])
        live = None
        for _ in range(4):  # round robin: one of the first two lands on b
            c = RawClient(proxy.port)
            if c.handshake("/").get("x-backend") == "b":
                live = c
                break
            c.close()
        self.assertIsNotNone(live)
        open(flag, "w").close()
        time.sleep(WITHIN)
        self.assertEqual(tally(proxy.port, 40), {(101, "a"): 40})
        live.send(frame(1, b"still here"))
        self.assertEqual(live.read_frame()[2], b"still here", "a live session is untouched")
        live.close()
        os.unlink(flag)
        time.sleep(WITHIN)
        self.assertEqual(tally(proxy.port, 40), {(101, "a"): 20, (101, "b"): 20})

    def test_a_killed_backend_is_ejected_in_time_and_readmitted_when_it_returns(self):
        a = self.start_py_backend("--name", "a")
        b = self.start_py_backend("--name", "b")
        proxy = self.pool_of([a, b])
        self.assertEqual(tally(proxy.port, 10), {(101, "a"): 5, (101, "b"): 5})
        port_b = b.port
        b.kill()
        time.sleep(WITHIN)
        # retries: 0, so a session sent to b would fail: none is.
        self.assertEqual(tally(proxy.port, 40), {(101, "a"): 40})
        self.start_py_backend("--name", "b", port=port_b)
        time.sleep(WITHIN)
        self.assertEqual(tally(proxy.port, 10), {(101, "a"): 5, (101, "b"): 5})

    def test_a_backend_that_answers_the_upgrade_with_500_is_ejected_by_the_websocket_check(self):
        a = self.start_py_backend("--name", "a")
        broken = self.start_raw_backend("status", "500")
        proxy = self.pool_of([a, broken])
        time.sleep(WITHIN)
        self.assertEqual(tally(proxy.port, 30), {(101, "a"): 30})

    def test_a_pool_with_no_healthy_backend_answers_503(self):
        flag = self.tmp_path("unhealthy")
        open(flag, "w").close()
        b = self.start_py_backend("--name", "b", "--health-file", flag)
        proxy = self.pool_of([b])
        time.sleep(WITHIN)
        c = RawClient(proxy.port)
        c.send(c.upgrade_request("/"))
        status, _, body = c.read_response()
        c.close()
        self.assertEqual((status, body), (503, b"no healthy backend for this route\n"))

    def test_consecutive_failures_eject_a_backend_for_the_ejection_time(self):
        a = self.start_py_backend("--name", "a")
        dead = free_port()
        port = free_port()
        proxy = self.start_proxy_yaml(proxy_yaml(port, [pool_yaml("p", [(dead, {}), (a.port, {})],
                                                                  "outlier: { consecutive_failures: 2, ejection: 2s }")]),
                                      port)

        def attempts():
            return [int(n) for n in re.findall(r"status 101, .*?attempts (\d)", proxy.output())]

        done = 0

        def sessions(n):
            nonlocal done
            self.assertEqual(tally(proxy.port, n), {(101, "a"): n})
            done += n
            deadline = time.monotonic() + 5 * SLOW
            while len(attempts()) < done and time.monotonic() < deadline:  # the log is written behind
                time.sleep(0.05)

        sessions(4)  # the dead one fails twice (each time retried): ejected
        sessions(10)
        self.assertEqual(attempts()[4:14], [1] * 10, "no session tries an ejected backend")
        time.sleep(2.2 * SLOW)
        sessions(4)
        self.assertIn(2, attempts()[14:18], "after the ejection it is tried again")


class Retries(ProxyTestCase):
    def test_a_5xx_answer_is_retried_on_another_backend(self):
        a = self.start_py_backend("--name", "a")
        broken = self.start_raw_backend("status", "500")
        port = free_port()
        proxy = self.start_proxy_yaml(proxy_yaml(port, [pool_yaml("p", [(broken.port, {}), (a.port, {})],
                                                                  "retries: 1")]), port)
        self.assertEqual(tally(proxy.port, 20), {(101, "a"): 20})

    def test_no_retry_with_retries_0_and_502_when_every_backend_tried_failed(self):
        a = self.start_py_backend("--name", "a")
        port = free_port()
        proxy = self.start_proxy_yaml(proxy_yaml(port, [
            pool_yaml("p", [(free_port(), {}), (a.port, {})], "retries: 0"),
            pool_yaml("dead", [(free_port(), {}), (free_port(), {})])],
            routes=[("/dead", "dead"), ("/", "p")]), port)
        self.assertEqual(tally(proxy.port, 10), {(101, "a"): 5, (502, None): 5})
        self.assertEqual(tally(proxy.port, 3, path="/dead"), {(502, None): 3})


class ConnectionCaps(ProxyTestCase):
    def test_a_listener_over_max_connections_answers_503_and_its_sessions_live_on(self):
        a = self.start_py_backend("--name", "a")
        port = free_port()
        proxy = self.start_proxy_yaml(proxy_yaml(port, [pool_yaml("p", [(a.port, {})])],
                                                 listener_extra="max_connections: 3"), port)

        async def run():
            sessions = [await websockets.connect(proxy.url + "/", ping_interval=None) for _ in range(3)]
            c = RawClient(proxy.port)
            c.send(c.upgrade_request("/"))
            status, _, body = c.read_response()
            c.close()
            self.assertEqual(status, 503)
            self.assertEqual(body, b"this listener is at its connection limit\n")
            for i, ws in enumerate(sessions):
                await ws.send(f"still {i}")
                self.assertEqual(await ws.recv(), f"still {i}")
            await sessions[0].close()
            deadline = time.monotonic() + 5 * SLOW
            while True:  # the slot comes back once the session has ended
                status, _ = who(proxy.port)
                if status == 101 or time.monotonic() > deadline:
                    break
                await asyncio.sleep(0.05)
            self.assertEqual(status, 101)
            for ws in sessions[1:]:
                await ws.close()

        asyncio.run(run())

    def test_a_backend_at_max_connections_gets_no_new_session(self):
        a = self.start_py_backend("--name", "a")
        b = self.start_py_backend("--name", "b")
        port = free_port()
        proxy = self.start_proxy_yaml(proxy_yaml(port, [pool_yaml("p", [
            (a.port, {"max_connections": 1}), (b.port, {})])]), port)
        held, counts = [], collections.Counter()
        try:
            for _ in range(6):
                c = RawClient(proxy.port)
                held.append(c)
                counts[c.handshake("/").get("x-backend")] += 1
        finally:
            for c in held:
                c.close()
        self.assertEqual(counts, {"a": 1, "b": 5})



def sticky_upgrade(port, cookie=None):
    """(status, X-Backend, Set-Cookie or None) of one upgrade carrying this cookie."""
    c = RawClient(port)
    try:
        c.send(c.upgrade_request("/", f"Cookie: theme=dark; wsedge_affinity={cookie}\r\n" if cookie else ""))
        status, headers, _ = c.read_response()
        return status, headers.get("x-backend"), headers.get("set-cookie")
    finally:
        c.close()


def cookie_value(set_cookie):
    return set_cookie.split(";")[0].split("=", 1)[1]


class Sticky(ProxyTestCase):
    """sticky: { cookie: wsedge_affinity }: the 101 sets a cookie naming the
    backend (opaquely), and a request bearing it goes back there while that
    backend may take sessions."""

    SET_COOKIE = r"wsedge_affinity=([0-9a-f]{16}); Path=/; HttpOnly; SameSite=Lax"

    def start_sticky(self, backends, listener_extra="", workers=1):
        port, admin = free_port(), free_port()
        pool = pool_yaml("p", [(b.port, {}) for b in backends], "sticky: { cookie: wsedge_affinity }")
        yaml = proxy_yaml(port, [pool], listener_extra=listener_extra).replace(
            "workers: 1", f"workers: {workers}\nadmin: {{ address: 127.0.0.1:{admin} }}")
        proxy = self.start_proxy_yaml(yaml, port)
        proxy.admin = admin
        return proxy

    def test_the_cookie_brings_a_client_back_to_its_backend_until_it_cannot_take_it(self):
        names = ["a", "b", "c"]
        backends = {n: self.start_py_backend("--name", n) for n in names}
        proxy = self.start_sticky(list(backends.values()), workers=2)
        status, first, set_cookie = sticky_upgrade(proxy.port)
        self.assertEqual(status, 101)
        m = re.fullmatch(self.SET_COOKIE, set_cookie or "")
        self.assertIsNotNone(m, set_cookie)
        value = m.group(1)
        for b in backends.values():
            self.assertNotIn(str(b.port), value, "the value names no address")
        # With the cookie: the same backend every time (round robin alone
        # would move it), and no new cookie.
        for _ in range(12):
            self.assertEqual(sticky_upgrade(proxy.port, value), (101, first, None))
        # A cookie that names nothing: balanced as usual, with a fresh cookie.
        status, _, fresh = sticky_upgrade(proxy.port, "0123456789abcdef")
        self.assertEqual(status, 101)
        self.assertRegex(fresh or "", self.SET_COOKIE)
        # Its backend drained: the client is sent elsewhere, with a cookie for there.
        req = urllib.request.Request(
            f"http://127.0.0.1:{proxy.admin}/drain?backend=127.0.0.1:{backends[first].port}", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            self.assertEqual(r.status, 200)
        status, other, moved = sticky_upgrade(proxy.port, value)
        self.assertEqual(status, 101)
        self.assertNotEqual(other, first)
        self.assertRegex(moved or "", self.SET_COOKIE)
        self.assertNotEqual(cookie_value(moved), value)
        self.assertEqual(sticky_upgrade(proxy.port, cookie_value(moved)), (101, other, None))

    def test_two_processes_agree_on_what_a_cookie_means(self):
        backends = [self.start_py_backend("--name", n) for n in ("x", "y", "z")]
        a = self.start_sticky(backends)
        b = self.start_sticky(backends)
        for _ in range(3):
            _, chosen, set_cookie = sticky_upgrade(a.port)
            for _ in range(4):
                self.assertEqual(sticky_upgrade(b.port, cookie_value(set_cookie)), (101, chosen, None))

    def test_over_tls_the_cookie_is_secure(self):
        make_certs()
        proxy = self.start_sticky(
            [self.start_py_backend("--name", "s")],
            listener_extra=f"tls: {{ certificates: [ {{ cert: {CERTS}/localhost.pem, key: {CERTS}/localhost.key }} ] }}")
        ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.pem")
        with socket.create_connection(("127.0.0.1", proxy.port), timeout=5 * SLOW) as raw:
            with ctx.wrap_socket(raw, server_hostname="localhost") as s:
                s.sendall(RawClient.upgrade_request(None, "/", host="localhost"))
                data = b""
                while b"\r\n\r\n" not in data:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    data += chunk
        lines = data.split(b"\r\n\r\n")[0].decode("latin-1").split("\r\n")
        self.assertIn(" 101 ", lines[0])
        (cookie,) = [x.split(":", 1)[1].strip() for x in lines if x.lower().startswith("set-cookie:")]
        self.assertRegex(cookie, self.SET_COOKIE + "; Secure$")
