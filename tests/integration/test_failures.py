"""What a client sees when backends fail or misbehave, and when clients do."""
import asyncio
import os
import signal
import socket
import struct
import subprocess
import time

import websockets

from harness import (PYTHON, SLOW, WSEDGE, ProxyTestCase, RawClient, close_frame, frame,
                     free_port, rss_kb)


def connect(url, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    return websockets.connect(url, **kw)


class BackendFailures(ProxyTestCase):
    def test_every_backend_down_gives_502(self):
        proxy = self.start_proxy({"dead": [free_port(), free_port()]})
        c = RawClient(proxy.port)
        c.send(c.upgrade_request())
        status, headers, body = c.read_response()
        self.assertEqual(status, 502)
        self.assertEqual(headers["connection"], "close")
        self.assertEqual(body, b"no backend accepted the connection\n")
        self.assertTrue(c.is_closed())
        c.close()

    def test_second_backend_is_tried_when_the_first_refuses(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"mixed": [free_port(), backend.port]})

        async def run():
            for _ in range(4):  # round robin starts on either backend
                async with connect(proxy.url + "/") as ws:
                    await ws.send("still served")
                    self.assertEqual(await ws.recv(), "still served")

        asyncio.run(run())

    def test_no_route_gives_404(self):
        # 503 for a pool with no healthy backend: test_balancer.Health.
        backend = self.start_py_backend()
        proxy = self.start_proxy({"a": [backend.port]}, routes=[("/a", "a")])
        for path, status in [("/nowhere", 404), ("/a", 101), ("/ab", 404)]:
            c = RawClient(proxy.port)
            c.send(c.upgrade_request(path))
            self.assertEqual(c.read_response()[0], status, path)
            c.close()

    def test_refusal_is_relayed_and_later_client_bytes_never_reach_the_backend(self):
        for code in (403, 426):
            backend = self.start_raw_backend("status", str(code))
            proxy = self.start_proxy({"b": [backend.port]})
            c = RawClient(proxy.port)
            request = c.upgrade_request("/ws")
            smuggled = b"GET /admin HTTP/1.1\r\nHost: internal\r\n\r\n" + frame(1, b"sneaky")
            c.send(request + smuggled)
            status, headers, body = c.read_response()
            self.assertEqual(status, code)
            self.assertEqual(body, f"backend says {code}\n".encode())
            self.assertEqual(headers["connection"], "close")
            try:
                c.send(b"GET /more HTTP/1.1\r\nHost: x\r\n\r\n")  # after the answer, too
            except OSError:
                pass
            self.assertTrue(c.is_closed())
            c.close()
            time.sleep(0.2)
            with open(backend.record, "rb") as f:
                seen = f.read()
            self.assertTrue(seen.startswith(b"GET /ws HTTP/1.1\r\n"))
            self.assertTrue(seen.endswith(b"\r\n\r\n"), "only the upgrade request reached the backend")
            self.assertNotIn(b"/admin", seen)
            self.assertNotIn(b"/more", seen)

    def test_wrong_accept_gives_502(self):
        backend = self.start_raw_backend("bad-accept")
        proxy = self.start_proxy({"b": [backend.port]})
        c = RawClient(proxy.port)
        c.send(c.upgrade_request())
        status, _, body = c.read_response()
        self.assertEqual(status, 502)
        self.assertEqual(body, b"invalid WebSocket handshake from the backend\n")
        c.close()
        proxy.wait_for_output("101 with a wrong Sec-WebSocket-Accept")  # the log is written behind

    def test_silent_backend_gives_504(self):
        backend = self.start_raw_backend("silent")
        proxy = self.start_proxy({"b": [backend.port]}, limits={"backend_timeout": "500ms"})
        c = RawClient(proxy.port)
        start = time.monotonic()
        c.send(c.upgrade_request())
        self.assertEqual(c.read_response()[0], 504)
        self.assertLess(time.monotonic() - start, 5 * SLOW)
        c.close()

    def test_backend_killed_mid_message_gives_1014_promptly(self):
        backend = self.start_raw_backend("die-mid-message")
        proxy = self.start_proxy({"b": [backend.port]})

        async def run():
            async with connect(proxy.url + "/") as ws:
                await ws.send("trigger")
                backend.wait_for_output("half-sent")
                await asyncio.sleep(0.1)
                backend.kill()
                start = time.monotonic()
                with self.assertRaises(websockets.ConnectionClosed):
                    msg = await asyncio.wait_for(ws.recv(), 5 * SLOW)
                    self.fail(f"a partial message was delivered: {len(msg)} bytes")
                self.assertLess(time.monotonic() - start, 2 * SLOW)
            self.assertEqual(ws.close_code, 1014)

        asyncio.run(run())

    def test_backend_protocol_violation(self):
        backend = self.start_raw_backend("violate")
        proxy = self.start_proxy({"b": [backend.port]})
        c = RawClient(proxy.port)
        c.handshake()
        self.assertEqual(c.read_close()[0], 1014, "the client hears bad gateway")
        backend.wait_for_output("got close 1002")
        c.close()


class ClientAbuse(ProxyTestCase):
    def setUp(self):
        super().setUp()
        self.backend = self.start_py_backend()

    def proxy(self, **limits):
        return self.start_proxy({"echo": [self.backend.port]}, limits=limits or None)

    def test_unmasked_client_frame_gives_1002_and_backend_hears_1001(self):
        proxy = self.proxy()
        c = RawClient(proxy.port)
        c.handshake()
        c.send(frame(1, b"not masked", mask=False))
        self.assertEqual(c.read_close()[0], 1002)
        self.assertTrue(c.is_closed())
        c.close()
        self.backend.wait_for_output("closed 1001 client protocol error")

    def test_reserved_opcode_and_bad_close_code_give_1002(self):
        proxy = self.proxy()
        for bad in (frame(3, b"x"), close_frame(1005), frame(9, b"p", fin=False), frame(0, b"c")):
            c = RawClient(proxy.port)
            c.handshake()
            c.send(bad)
            self.assertEqual(c.read_close()[0], 1002, bad)
            c.close()

    def test_invalid_utf8_gives_1007(self):
        proxy = self.proxy()
        c = RawClient(proxy.port)
        c.handshake()
        c.send(frame(1, b"fine"))
        self.assertEqual(c.read_frame(), (True, 1, b"fine"))
        c.send(frame(1, b"caf\xc3\x28", fin=False))
        self.assertEqual(c.read_close()[0], 1007)
        c.close()

    def test_oversize_message_gives_1009(self):
        proxy = self.proxy(max_message_size="64KiB")

        async def run():
            async with connect(proxy.url + "/") as ws:
                await ws.send(b"a" * 65536)
                self.assertEqual(len(await ws.recv()), 65536)
                await ws.send([b"b" * 40000, b"c" * 40000])  # 80,000 bytes in two fragments
                with self.assertRaises(websockets.ConnectionClosed):
                    await ws.recv()
            self.assertEqual(ws.close_code, 1009)

        asyncio.run(run())

    def test_client_drop_gives_the_backend_1001(self):
        proxy = self.proxy()
        c = RawClient(proxy.port)
        c.handshake()
        c.send(frame(2, b"hello"))
        c.read_frame()
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()  # a reset, no close frame
        self.backend.wait_for_output("closed 1001 client went away")

    def test_bytes_after_a_close_do_not_delay_the_close_timeout(self):
        # The backend reads but never answers; the client sends its close,
        # then keeps dripping bytes. The close timeout still ends it.
        silent = self.start_raw_backend("slow-reader", "65536")
        proxy = self.start_proxy({"silent": [silent.port]}, limits={"close_timeout": "1s"})
        c = RawClient(proxy.port)
        c.handshake()
        c.send(close_frame(1000))
        start = time.monotonic()
        closed = False
        while time.monotonic() - start < 6 * SLOW:
            try:
                c.send(b"x")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            c.sock.settimeout(0.3)
            try:
                if not c.sock.recv(65536):
                    closed = True
                    break
            except socket.timeout:
                pass
            except ConnectionResetError:
                closed = True
                break
        self.assertTrue(closed, "the session outlived its close timeout")
        self.assertLess(time.monotonic() - start, 4 * SLOW)
        c.close()

    def test_request_rejections_over_the_wire(self):
        proxy = self.proxy()
        cases = [
            (b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 8\r\n\r\n", 426,
             {"sec-websocket-version": "13"}),
            (b"POST / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             405, {"allow": "GET"}),
            (b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: keep-alive\r\n"
             b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             426, {"upgrade": "websocket"}),
            (b"GET / HTTP/1.1\r\nHost: a\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
             b"Sec-WebSocket-Version: 13\r\n\r\n", 400, {}),
            (b"GET /" + b"a" * 9000 + b" HTTP/1.1\r\n", 400, {}),
            (b"GET / HTTP/1.1\r\nX-Big: " + b"b" * 20000 + b"\r\n\r\n", 431, {}),
        ]
        for request, status, fields in cases:
            c = RawClient(proxy.port)
            c.send(request)
            got, headers, body = c.read_response()
            self.assertEqual(got, status, request[:40])
            for k, v in fields.items():
                self.assertEqual(headers.get(k), v)
            self.assertTrue(body.endswith(b"\n") and len(body) > 5)
            self.assertTrue(c.is_closed())
            c.close()

    def test_silent_client_is_closed_at_the_handshake_timeout(self):
        proxy = self.proxy(handshake_timeout="500ms")
        c = RawClient(proxy.port)
        start = time.monotonic()
        c.send(b"GET / HTTP/1.1\r\n")
        self.assertEqual(c.read_response()[0], 408)
        self.assertTrue(c.is_closed())
        self.assertLess(time.monotonic() - start, 5 * SLOW)
        c.close()


class Backpressure(ProxyTestCase):
    def test_slow_backend_keeps_proxy_memory_bounded(self):
        fast = self.start_py_backend()
        slow = self.start_raw_backend("slow-reader", str(256 * 1024))
        proxy = self.start_proxy({"fast": [fast.port], "slow": [slow.port]},
                                 routes=[("/fast", "fast"), ("/slow", "slow")])
        chunk = os.urandom(1 << 20)

        async def warm_up():
            # Touch every receive buffer first, so the baseline includes them.
            async with connect(proxy.url + "/fast") as ws:
                for _ in range(24):
                    await ws.send(chunk)
                    await ws.recv()

        asyncio.run(warm_up())
        baseline = rss_kb(proxy.pid)
        peak = baseline

        async def flood():
            nonlocal peak
            async with connect(proxy.url + "/slow") as ws:
                for _ in range(50):
                    await ws.send(chunk)  # blocks while the proxy holds back
                    peak = max(peak, rss_kb(proxy.pid))

        async def sample():
            nonlocal peak
            while True:
                peak = max(peak, rss_kb(proxy.pid))
                await asyncio.sleep(0.05)

        async def run():
            sampler = asyncio.create_task(sample())
            await asyncio.wait_for(flood(), 120 * SLOW)
            sampler.cancel()

        asyncio.run(run())
        slow.wait_for_output("received", timeout=60)
        received = int(slow.output().split("received ")[1].split()[0])
        self.assertGreaterEqual(received, 50 << 20)
        growth_mb = (peak - baseline) / 1024
        print(f"[rss baseline {baseline/1024:.1f} MiB, peak {peak/1024:.1f} MiB, growth {growth_mb:.2f} MiB]")
        # Buffers are capped at 1 MiB per direction; allow for allocator slack.
        self.assertLess(growth_mb, 8, f"RSS grew {growth_mb:.1f} MiB while 50 MiB went to a slow backend")


class Lifecycle(ProxyTestCase):
    def test_sigterm_closes_sessions_with_1001_and_exits_cleanly(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})
        c = RawClient(proxy.port)
        c.handshake()
        c.send(frame(1, b"before"))
        c.read_frame()
        proxy.stop(signal.SIGTERM)
        self.assertEqual(c.read_close()[0], 1001)
        self.assertEqual(proxy.returncode, 0)
        c.close()
        backend.wait_for_output("closed 1001")

    def test_config_errors_are_one_line_and_exit_1(self):
        path = self.tmp_path("bad.yaml")
        with open(path, "w") as f:
            f.write("listeners:\n  - address: 127.0.0.1:1\n    routes: [ { pool: nope } ]\npools: {}\n")
        out = subprocess.run([WSEDGE, "-c", path], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 1)
        self.assertEqual(out.stderr, f"{path}:3:23: route refers to pool 'nope', which is not defined\n")
        out = subprocess.run([WSEDGE, "-c", path + ".missing"], capture_output=True, text=True, timeout=10)
        self.assertEqual((out.returncode, out.stderr), (1, f"{path}.missing: cannot read the file: No such file or directory\n"))

    def test_check_flag_validates_without_serving(self):
        out = subprocess.run([WSEDGE, "-c", os.path.join(os.path.dirname(__file__), "../../conf/examples/echo.yaml"),
                              "--check"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("configuration ok", out.stdout)

    def test_a_full_connection_table_gives_503_and_the_proxy_keeps_serving(self):
        backend = self.start_py_backend()
        # One worker, three connections: a session takes two.
        proxy = self.start_proxy({"echo": [backend.port]}, extra="worker_connections: 3\n")
        a = RawClient(proxy.port)
        a.handshake()
        # The third connection fits, but not its backend's.
        b = RawClient(proxy.port)
        b.send(b.upgrade_request())
        status, _, body = b.read_response()
        self.assertEqual(status, 503)
        self.assertEqual(body, b"the proxy has no room for another connection\n")
        self.assertTrue(b.is_closed())
        b.close()
        # With the table full, a new client is answered 503 at once.
        held = RawClient(proxy.port)
        time.sleep(0.2 * SLOW)  # accepted: it holds the last slot
        c = RawClient(proxy.port)
        status, _, body = c.read_response()
        self.assertEqual(status, 503)
        c.close()
        held.close()
        # The first session was never disturbed, and once it ends the proxy
        # serves again.
        a.send(frame(1, b"still here"))
        self.assertEqual(a.read_frame(), (True, 1, b"still here"))
        a.send(close_frame(1000))
        self.assertEqual(a.read_close()[0], 1000)
        a.close()
        deadline = time.monotonic() + 10 * SLOW
        while True:
            d = RawClient(proxy.port)
            d.send(d.upgrade_request())
            status, _, _ = d.read_response()
            if status == 101 or time.monotonic() > deadline:
                break
            d.close()
            time.sleep(0.1)
        self.assertEqual(status, 101)
        d.send(frame(1, b"served again"))
        self.assertEqual(d.read_frame(), (True, 1, b"served again"))
        d.close()
        proxy.wait_for_output("connection table full")

    def test_port_in_use_is_a_clear_start_up_error(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            s.listen()
            port = s.getsockname()[1]
            path = self.tmp_path("busy.yaml")
            with open(path, "w") as f:
                f.write(f"listeners:\n  - address: 127.0.0.1:{port}\n    routes: [ {{ pool: p }} ]\n"
                        "pools:\n  p:\n    backends: [ 127.0.0.1:9 ]\n")
            out = subprocess.run([WSEDGE, "-c", path], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 1)
        self.assertIn(f"cannot start: cannot listen on 127.0.0.1:{port}: Address already in use", out.stderr)


if __name__ == "__main__":
    import unittest
    unittest.main()
