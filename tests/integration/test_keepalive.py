"""Per-hop keepalive and the per-connection message rate, through the real
binary with real peers (Python websockets answers pings by itself; the
silent peers are raw sockets that stop reading and writing)."""
import asyncio
import time

import websockets

from harness import SLOW, ProxyTestCase, RawClient, frame, free_port


def config(port, backend, limits):
    return (f"workers: 1\nlisteners:\n  - address: 127.0.0.1:{port}\n    routes: [ {{ pool: p }} ]\n"
            f"pools:\n  p:\n    backends: [ 127.0.0.1:{backend} ]\n"
            "limits:\n" + "".join(f"  {k}: {v}\n" for k, v in limits.items()))


def connect(url):
    return websockets.connect(url, ping_interval=None, max_queue=None, open_timeout=10 * SLOW)


PINGS = {"ping_interval": "1s", "ping_timeout": "1s"}
# ping_interval + ping_timeout, with a timer tick and scheduling to spare.
DETECTED = (1.0 + 1.0 + 0.6) * SLOW


class Keepalive(ProxyTestCase):
    def test_a_backend_that_goes_silent_is_detected_and_the_client_gets_1014(self):
        backend = self.start_raw_backend("mute")
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, backend.port, PINGS), port)

        async def run():
            async with connect(proxy.url + "/") as ws:
                await ws.send("last words")
                self.assertEqual(await ws.recv(), "last words")
                silent_since = time.monotonic()
                with self.assertRaises(websockets.ConnectionClosed):
                    await asyncio.wait_for(ws.recv(), 10 * SLOW)
                return time.monotonic() - silent_since, ws.close_code, ws.close_reason

        elapsed, code, reason = asyncio.run(run())
        self.assertEqual((code, reason), (1014, "backend not answering"))
        self.assertGreaterEqual(elapsed, 1.8, "not before interval + timeout")
        self.assertLessEqual(elapsed, DETECTED)

    def test_a_client_that_goes_silent_is_closed_and_the_backend_gets_1001(self):
        backend = self.start_py_backend()
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, backend.port, PINGS), port)
        c = RawClient(proxy.port)
        c.handshake("/")
        # From now on the client neither reads nor answers: a phone that left the network.
        start = time.monotonic()
        backend.wait_for_output("closed 1001 client not answering", timeout=10)
        elapsed = time.monotonic() - start
        c.close()
        self.assertGreaterEqual(elapsed, 1.8)
        self.assertLessEqual(elapsed, DETECTED)

    def test_pings_have_their_own_payload_and_their_pongs_stop_at_the_proxy(self):
        backend = self.start_raw_backend("hints")  # echoes every frame it gets, pongs included
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, backend.port, PINGS), port)
        c = RawClient(proxy.port)
        c.handshake("/")
        c.sock.settimeout(3 * SLOW)
        fin, op, payload = c.read_frame()
        self.assertEqual((fin, op, len(payload)), (True, 9, 8))
        c.send(frame(10, payload))  # the answer: swallowed, never echoed back
        c.send(frame(9, b"mine"))  # the client's own ping crosses, and its pong comes back
        seen = []
        deadline = time.monotonic() + 3 * SLOW
        while time.monotonic() < deadline and (10, b"mine") not in seen:
            _, op, data = c.read_frame()
            seen.append((op, data))
            if op == 9:
                c.send(frame(10, data))
        c.close()
        self.assertIn((10, b"mine"), seen)
        self.assertNotIn((10, payload), seen, "the backend echoed a pong it should never have had")

    def test_a_session_under_pings_loses_no_message(self):
        backend = self.start_py_backend()
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, backend.port, {"ping_interval": "200ms",
                                                                   "ping_timeout": "2s"}), port)

        async def run():
            async with connect(proxy.url + "/") as ws:
                got = []
                for burst in range(10):
                    for i in range(100):
                        await ws.send(f"{burst}-{i}")
                    for _ in range(100):
                        got.append(await asyncio.wait_for(ws.recv(), 10 * SLOW))
                    await asyncio.sleep(0.3)  # quiet: the proxy pings both hops
                return got

        got = asyncio.run(run())
        self.assertEqual(got, [f"{b}-{i}" for b in range(10) for i in range(100)])


class MessageRate(ProxyTestCase):
    def test_pause_holds_a_flooding_client_at_the_rate_without_closing_it(self):
        backend = self.start_py_backend()
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, backend.port, {
            "message_rate": "{ per_second: 200, burst: 10, over_rate: pause }"}), port)
        window = 5.0

        async def run():
            ws = await connect(proxy.url + "/")
            echoes = 0
            start = time.monotonic()

            async def flood():
                i = 0
                while True:
                    await ws.send(f"m{i}")
                    if i % 10 == 0:
                        pong = await ws.ping()  # pings do not count
                        pong.add_done_callback(lambda f: f.cancelled() or f.exception())
                        await asyncio.sleep(0)  # a socket with room never blocks: let the others run
                    i += 1

            async def count():
                nonlocal echoes
                while True:
                    await ws.recv()
                    echoes += 1

            tasks = [asyncio.create_task(flood()), asyncio.create_task(count())]
            await asyncio.sleep(window)
            counted = echoes
            open_still = ws.close_code is None
            for t in tasks:
                t.cancel()
            ws.transport.abort()
            return counted, time.monotonic() - start, open_still

        counted, elapsed, open_still = asyncio.run(run())
        self.assertTrue(open_still, "paused, never closed")
        expected = 10 + 200 * window
        self.assertGreaterEqual(counted, 0.9 * expected, counted)
        self.assertLessEqual(counted, 1.1 * expected, counted)

    def test_close_gives_the_client_1008_and_the_backend_1001(self):
        backend = self.start_py_backend()
        port = free_port()
        proxy = self.start_proxy_yaml(config(port, backend.port, {
            "message_rate": "{ per_second: 10, burst: 5, over_rate: close }"}), port)

        async def run():
            async with connect(proxy.url + "/") as ws:
                for i in range(20):
                    await ws.send(f"m{i}")
                echoes = 0
                try:
                    while True:
                        await asyncio.wait_for(ws.recv(), 5 * SLOW)
                        echoes += 1
                except websockets.ConnectionClosed:
                    pass
                return echoes, ws.close_code, ws.close_reason

        echoes, code, reason = asyncio.run(run())
        self.assertEqual((code, reason), (1008, "message rate exceeded"))
        self.assertLessEqual(echoes, 5)
        backend.wait_for_output("closed 1001 client over its rate")
