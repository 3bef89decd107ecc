"""What probing wsedge as an attacker and as a careless operator found, each
checked end to end through the real binary."""
import asyncio
import os
import signal
import socket
import struct
import subprocess
import time

import websockets

from harness import (SANITIZED, SLOW, WSEDGE, ProxyTestCase, RawClient, close_frame, frame, free_port,
                     rss_kb, wait_port)


def connect(url, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 10 * SLOW)
    return websockets.connect(url, **kw)


def config(port, backends, limits=None, extra="", routes=None):
    """backends: [(port, weight)]; routes: [(prefix, pool)] over pool 'p' and others."""
    lines = ["workers: 1", "listeners:", f"  - address: 127.0.0.1:{port}", "    routes:"]
    for prefix, pool in routes or [("/", "p")]:
        lines += [f"      - match: {{ path_prefix: {prefix} }}", f"        pool: {pool}"]
    lines += ["pools:"]
    pools = backends if isinstance(backends, dict) else {"p": backends}
    for name, members in pools.items():
        lines += [f"  {name}:", "    backends:"]
        lines += [f"      - {{ address: 127.0.0.1:{p}, weight: {w} }}" for p, w in members]
    if limits:
        lines.append("limits:")
        lines += [f"  {k}: {v}" for k, v in limits.items()]
    return "\n".join(lines) + "\n" + extra


class Balancing(ProxyTestCase):
    def test_a_retry_never_goes_back_to_the_dead_backend(self):
        alive = self.start_py_backend()
        dead = free_port()
        port = free_port()
        # The dead backend is the heavy one: smooth round robin picks it
        # twice in a row, and a retry used to go straight back to it.
        proxy = self.start_proxy_yaml(config(port, [(dead, 5), (alive.port, 1)]), port)
        for i in range(60):
            c = RawClient(proxy.port)
            headers = c.handshake()
            self.assertEqual(headers["upgrade"], "websocket", f"client {i}")
            c.close()

    def test_two_hundred_concurrent_clients_all_get_through_a_half_dead_pool(self):
        alive = self.start_py_backend()
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, [(free_port(), 1), (alive.port, 1)]), port)

        async def one(i):
            async with connect(proxy.url + "/") as ws:
                await ws.send(f"hello {i}")
                return await ws.recv()

        async def run():
            return await asyncio.gather(*(one(i) for i in range(200)), return_exceptions=True)

        results = asyncio.run(run())
        failures = [r for r in results if isinstance(r, Exception)]
        self.assertEqual(failures, [])
        self.assertEqual(sorted(results), sorted(f"hello {i}" for i in range(200)))


class SlowReaders(ProxyTestCase):
    def silent_reader(self, proxy):
        """A client that never reads (a tiny receive buffer) but pings now and then."""
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", proxy.port))
        s.settimeout(5 * SLOW)
        c = RawClient.__new__(RawClient)
        c.sock, c.buf = s, b""
        c.send(c.upgrade_request())
        c.read_until(b"\r\n\r\n")
        return c

    def test_a_client_that_never_reads_is_closed_at_the_send_timeout_and_the_backend_hears_1008(self):
        flood = self.start_raw_backend("flood", "16384")
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, [(flood.port, 1)], limits={"send_timeout": "1s"}),
                                      port)
        c = self.silent_reader(proxy)
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 10 * SLOW:
            try:
                c.send(frame(9, b"still here"))  # keeps the idle timeout away
            except OSError:
                closed = True
                break
            if "got close" in flood.output():
                break
            time.sleep(0.2)
        flood.wait_for_output("got close 1008 client not reading")
        self.assertLess(time.monotonic() - start, 5 * SLOW)
        c.close()

    def test_memory_comes_back_after_a_burst_of_clients_that_never_read(self):
        if SANITIZED:
            self.skipTest("ASan's allocator keeps freed memory in quarantine: RSS cannot come back")
        flood = self.start_raw_backend("flood", "65536")
        fast = self.start_py_backend()
        port = free_port()
        proxy = self.start_proxy_yaml(
            config(port, {"p": [(flood.port, 1)], "fast": [(fast.port, 1)]},
                   limits={"send_timeout": "2s"}, routes=[("/fast", "fast"), ("/", "p")]), port)

        async def warm_up():
            async with connect(proxy.url + "/fast") as ws:
                for _ in range(8):
                    await ws.send(os.urandom(1 << 20))
                    await ws.recv()

        asyncio.run(warm_up())
        baseline = rss_kb(proxy.pid)
        clients = [self.silent_reader(proxy) for _ in range(40)]
        time.sleep(1.0 * SLOW)
        peak = rss_kb(proxy.pid)
        deadline = time.monotonic() + 20 * SLOW
        while time.monotonic() < deadline and flood.output().count("got close 1008") < 40:
            time.sleep(0.2)
        self.assertEqual(flood.output().count("got close 1008"), 40)
        for c in clients:
            c.close()
        time.sleep(3.0 * SLOW)  # the lingering closes end
        after = rss_kb(proxy.pid)
        growth, kept = (peak - baseline) / 1024, (after - baseline) / 1024
        print(f"[rss baseline {baseline/1024:.1f} MiB, with 40 stalled clients {peak/1024:.1f} MiB, "
              f"after {after/1024:.1f} MiB]")
        self.assertGreater(growth, 20, "the stalled clients did hold memory")
        self.assertLess(kept, growth * 0.25, "most of it came back")


class Deadlines(ProxyTestCase):
    def test_a_frame_dripped_byte_by_byte_does_not_keep_a_session_open(self):
        backend = self.start_py_backend()
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, [(backend.port, 1)], limits={"idle_timeout": "2s"}),
                                      port)
        c = RawClient(proxy.port)
        c.handshake()
        f = frame(2, b"d" * 100)
        start = time.monotonic()
        closed = False
        for i in range(len(f)):
            try:
                c.send(f[i:i + 1])
            except OSError:
                closed = True
                break
            c.sock.settimeout(0.4)
            try:
                _, op, payload = c.read_frame()
                self.assertEqual((op, struct.unpack("!H", payload[:2])[0]), (8, 1001))
                closed = True
                break
            except socket.timeout:
                pass
        self.assertTrue(closed, "the dripping peer kept the session")
        self.assertLess(time.monotonic() - start, 6 * SLOW)
        c.close()

    def test_zero_turns_the_idle_timeout_off(self):
        backend = self.start_py_backend()
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, [(backend.port, 1)], limits={"idle_timeout": "0s"}),
                                      port)
        c = RawClient(proxy.port)
        c.handshake()
        time.sleep(1.5)
        c.send(frame(1, b"still open"))
        self.assertEqual(c.read_frame(), (True, 1, b"still open"))
        c.close()

    def test_a_timeout_of_zero_where_it_makes_no_sense_is_refused_with_the_reason(self):
        path = self.tmp_path("zero.yaml")
        with open(path, "w") as f:
            f.write(config(free_port(), [(9, 1)], limits={"connect_timeout": "0s"}))
        out = subprocess.run([WSEDGE, "-c", path, "--check"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 1)
        self.assertIn("connect_timeout must be more than 0: a backend that never answers", out.stderr)


class Requests(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_py_backend()

    def test_http2_preface_gets_505(self):
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, [(self.backend.port, 1)]), port)
        c = RawClient(proxy.port)
        c.send(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
        self.assertEqual(c.read_response()[0], 505)
        c.close()

    def test_connection_naming_host_is_refused(self):
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, [(self.backend.port, 1)]), port)
        c = RawClient(proxy.port)
        c.send(c.upgrade_request(extra="").replace(b"Connection: Upgrade", b"Connection: Upgrade, Host"))
        status, _, body = c.read_response()
        self.assertEqual(status, 400)
        self.assertIn(b"Connection header", body)
        c.close()

    def test_routes_see_the_normalised_path(self):
        admin = self.start_py_backend("--report-headers")
        port = free_port()
        proxy = self.start_proxy_yaml(
            config(port, {"pub": [(self.backend.port, 1)], "adm": [(admin.port, 1)]},
                   routes=[("/public", "pub"), ("/admin", "adm")]), port)
        # /public/../admin is /admin: the admin route, with the path normalised.
        for path in ("/public/../admin", "/%61dmin", "//admin"):
            c = RawClient(proxy.port)
            c.handshake(path)
            c.send(frame(1, b"who"))
            _, _, report = c.read_frame()
            self.assertIn(b'"path": "/admin"', report, path)
            c.close()
        for path in ("/public/%2F..%2Fadmin", "/public/..%5cadmin", "/../admin"):
            c = RawClient(proxy.port)
            c.send(c.upgrade_request(path))
            self.assertEqual(c.read_response()[0], 400, path)
            c.close()

    def test_an_early_hints_answer_before_the_101_is_skipped(self):
        hints = self.start_raw_backend("hints")
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, [(hints.port, 1)]), port)
        c = RawClient(proxy.port)
        headers = c.handshake()
        self.assertNotIn("link", headers)
        c.send(frame(1, b"after hints"))
        self.assertEqual(c.read_frame(), (True, 1, b"after hints"))
        c.close()

    def test_a_message_of_too_many_fragments_gets_1009(self):
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, [(self.backend.port, 1)],
                                             limits={"max_fragments": 10}), port)
        c = RawClient(proxy.port)
        c.handshake()
        c.send(frame(1, b"a", fin=False) + b"".join(frame(0, b"b", fin=False) for _ in range(12)))
        self.assertEqual(c.read_close()[0], 1009)
        c.close()


class Operators(ProxyTestCase):
    def test_two_listeners_on_one_port_by_other_names_are_a_config_error(self):
        port = free_port()
        path = self.tmp_path("twice.yaml")
        with open(path, "w") as f:
            f.write(f"listeners:\n  - address: 127.0.0.1:{port}\n    routes: [ {{ pool: p }} ]\n"
                    f"  - address: localhost:{port}\n    routes: [ {{ pool: p }} ]\n"
                    "pools:\n  p:\n    backends: [ 127.0.0.1:9 ]\n")
        out = subprocess.run([WSEDGE, "-c", path, "--check"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 1)
        self.assertIn(f"{path}:4:14: listener localhost:{port} (127.0.0.1:{port}) takes the same port "
                      f"as listener 127.0.0.1:{port} at {path}:2:14", out.stderr)

    def test_a_port_another_process_listens_on_with_reuseport_refuses_to_start(self):
        with socket.socket() as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            path = self.tmp_path("taken.yaml")
            with open(path, "w") as f:
                f.write(config(port, [(9, 1)]))
            out = subprocess.run([WSEDGE, "-c", path], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 1)
        self.assertIn(f"cannot start: cannot listen on 127.0.0.1:{port}: Address already in use "
                      "(another process listens there)", out.stderr)

    def test_a_log_nobody_reads_never_stalls_the_proxy(self):
        backend = self.start_py_backend()
        port = free_port()
        path = self.tmp_path("log.yaml")
        with open(path, "w") as f:
            f.write(config(port, [(backend.port, 1)]))
        # stderr is a pipe that nobody reads: it fills after about 64 KiB.
        proc = subprocess.Popen([WSEDGE, "-c", path, "--log-level", "debug"], stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)
        try:
            wait_port(port)
            for _ in range(3000):
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"GET / HTTP/1.0\r\n\r\n")  # 400, and a log line or two
                    s.recv(4096)
            start = time.monotonic()
            c = RawClient(port)
            c.handshake()
            c.send(frame(1, b"not stuck"))
            self.assertEqual(c.read_frame(), (True, 1, b"not stuck"))
            self.assertLess(time.monotonic() - start, 1.0 * SLOW)
            c.close()
        finally:
            proc.kill()
            proc.wait()
            proc.stderr.close()


if __name__ == "__main__":
    import unittest
    unittest.main()
