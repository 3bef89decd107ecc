"""Traffic through wsedge between clients and backends we did not write:
Python websockets and Node ws."""
import asyncio
import json
import os
import socket
import struct

import websockets

from harness import ProxyTestCase, RawClient, SLOW, close_frame, frame

SIZES = [0, 125, 126, 65535, 65536, 1 << 20]
BIG = 16 << 20


def connect(url, **kw):
    kw.setdefault("max_size", None)
    kw.setdefault("compression", None)
    kw.setdefault("ping_interval", None)
    kw.setdefault("open_timeout", 10 * SLOW)
    return websockets.connect(url, **kw)


class EchoThroughProxy(ProxyTestCase):
    def test_python_client_python_backend_all_sizes(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})

        async def run():
            async with connect(proxy.url + "/") as ws:
                for n in SIZES:
                    data = os.urandom(n)
                    await ws.send(data)
                    self.assertEqual(await ws.recv(), data, f"size {n}")
                # 16 MiB, sent as a fragmented message of 1 MiB fragments.
                data = os.urandom(BIG)
                await ws.send([data[i:i + (1 << 20)] for i in range(0, BIG, 1 << 20)])
                self.assertEqual(await ws.recv(), data)
                # Text goes through UTF-8 validation both ways.
                await ws.send("héllo wörld 😀 中文")
                self.assertEqual(await ws.recv(), "héllo wörld 😀 中文")
            self.assertEqual(ws.close_code, 1000)

        asyncio.run(run())
        backend.wait_for_output("closed 1000")

    def test_node_client_node_backend_all_sizes(self):
        backend = self.start_node_backend()
        proxy = self.start_proxy({"echo": [backend.port]})
        sizes = [str(n) for n in SIZES + [BIG]]
        out = self.run_node_client(proxy.url + "/", *sizes, "--fragment", str(1 << 20))
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        for n in sizes:
            self.assertIn(f"ok {n}\n", out.stdout)
        backend.wait_for_output("closed 1000 done")

    def test_python_client_node_backend_with_subprotocol(self):
        backend = self.start_node_backend("chat.v2")
        proxy = self.start_proxy({"echo": [backend.port]})

        async def run():
            async with connect(proxy.url + "/", subprotocols=["chat.v1", "chat.v2"]) as ws:
                self.assertEqual(ws.subprotocol, "chat.v2")
                await ws.send(b"x" * 1000)
                self.assertEqual(await ws.recv(), b"x" * 1000)

        asyncio.run(run())

    def test_node_client_python_backend_subprotocol(self):
        backend = self.start_py_backend("--subprotocol", "graphql-ws")
        proxy = self.start_proxy({"echo": [backend.port]})
        out = self.run_node_client(proxy.url + "/", "100", "--protocol", "graphql-ws")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("protocol graphql-ws\n", out.stdout)

    def test_permessage_deflate_passes_end_to_end(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})

        async def run():
            async with connect(proxy.url + "/", compression="deflate") as ws:
                self.assertIn("permessage-deflate", ws.response_headers.get("Sec-WebSocket-Extensions", ""))
                text = "compressible " * 100000
                await ws.send(text)
                self.assertEqual(await ws.recv(), text)

        asyncio.run(run())


class ControlFramesAndClose(ProxyTestCase):
    def test_ping_pong_relayed(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})

        async def run():
            async with connect(proxy.url + "/") as ws:
                # websockets answers the backend's pong only if the payload matches.
                waiter = await ws.ping(b"are you there")
                await asyncio.wait_for(waiter, 5 * SLOW)

        asyncio.run(run())

    def test_ping_payload_reaches_the_backend_byte_exact(self):
        # A raw client sees the backend's pong to its ping, payload intact.
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})
        c = RawClient(proxy.port)
        c.handshake()
        c.send(frame(9, b"\x00\x01ping-payload\xff"))
        fin, op, payload = c.read_frame()
        self.assertEqual((fin, op, payload), (True, 10, b"\x00\x01ping-payload\xff"))
        c.close()

    def test_client_close_code_reaches_the_backend(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})

        async def run():
            async with connect(proxy.url + "/") as ws:
                await ws.send("hi")
                await ws.recv()
                await ws.close(4001, "client says bye")
            self.assertEqual(ws.close_code, 4001)

        asyncio.run(run())
        backend.wait_for_output("closed 4001 client says bye")

    def test_backend_close_code_reaches_the_client(self):
        backend = self.start_py_backend("--close-after", "1", "--close-code", "4002",
                                        "--close-reason", "server done")
        proxy = self.start_proxy({"echo": [backend.port]})

        async def run():
            async with connect(proxy.url + "/") as ws:
                await ws.send("one")
                self.assertEqual(await ws.recv(), "one")
                with self.assertRaises(websockets.ConnectionClosed):
                    await ws.recv()
            self.assertEqual(ws.close_code, 4002)
            self.assertEqual(ws.close_reason, "server done")

        asyncio.run(run())

    def test_raw_close_handshake_completes_and_tcp_closes(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})
        c = RawClient(proxy.port)
        c.handshake()
        c.send(close_frame(1000, b"bye"))
        self.assertEqual(c.read_close(), (1000, "bye"))
        self.assertTrue(c.is_closed(), "the proxy closes the client's TCP after the close handshake")
        c.close()

    def test_client_that_stops_sending_after_its_close_still_gets_the_answer(self):
        # Close frame, then FIN: the client can still read, and the backend's
        # close answer must reach it before the proxy closes.
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})
        c = RawClient(proxy.port)
        c.handshake()
        c.send(close_frame(4003, b"done sending"))
        c.sock.shutdown(socket.SHUT_WR)
        self.assertEqual(c.read_close(), (4003, "done sending"))
        self.assertTrue(c.is_closed())
        c.close()
        backend.wait_for_output("closed 4003 done sending")


class HandshakeDetails(ProxyTestCase):
    def test_pipelined_frame_is_delivered_after_the_101(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})
        c = RawClient(proxy.port)
        c.send(c.upgrade_request() + frame(1, b"right behind the request"))
        status, _, _ = c.read_response()
        self.assertEqual(status, 101)
        self.assertEqual(c.read_frame(), (True, 1, b"right behind the request"))
        c.close()

    def test_handshake_one_byte_at_a_time(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]})
        c = RawClient(proxy.port)
        for b in c.upgrade_request("/slow"):
            c.send(bytes([b]))
        status, headers, _ = c.read_response()
        self.assertEqual(status, 101)
        self.assertEqual(headers["upgrade"].lower(), "websocket")
        for b in frame(2, b"byte by byte"):
            c.send(bytes([b]))
        self.assertEqual(c.read_frame(), (True, 2, b"byte by byte"))
        c.close()

    def test_forwarded_headers_and_end_to_end_fields(self):
        backend = self.start_py_backend("--report-headers")
        untrusted = self.start_proxy({"echo": [backend.port]})
        trusting = self.start_proxy({"echo": [backend.port]}, extra="trusted_proxies: [ 127.0.0.0/8 ]\n")

        async def run(proxy):
            spoofed = {"Cookie": "sid=1", "X-Forwarded-For": "203.0.113.7", "Keep-Alive": "timeout=5",
                       "Forwarded": "for=6.6.6.6", "X-Real-IP": "6.6.6.6", "X_Forwarded_For": "6.6.6.6"}
            async with connect(proxy.url + "/feed?x=1", origin="http://app.example",
                               extra_headers=spoofed) as ws:
                report = json.loads(await ws.recv())
            headers = {}
            for k, v in report["headers"]:
                headers.setdefault(k.lower(), []).append(v)
            return report, headers

        # A client's claims about where it comes from never reach the backend...
        report, headers = asyncio.run(run(untrusted))
        self.assertEqual(headers["x-forwarded-for"], ["127.0.0.1"])
        for spoof in ("forwarded", "x-real-ip", "x_forwarded_for"):
            self.assertNotIn(spoof, headers)
        # ...unless it is a proxy the configuration trusts.
        report, headers = asyncio.run(run(trusting))
        self.assertEqual(headers["x-forwarded-for"], ["203.0.113.7, 127.0.0.1"])
        self.assertNotIn("forwarded", headers)
        self.assertEqual(report["path"], "/feed?x=1")
        self.assertEqual(headers["x-forwarded-proto"], ["http"])
        self.assertEqual(headers["x-forwarded-host"], [f"127.0.0.1:{trusting.port}"])
        self.assertEqual(headers["origin"], ["http://app.example"])
        self.assertEqual(headers["cookie"], ["sid=1"])
        self.assertNotIn("keep-alive", headers)
        self.assertEqual(headers["connection"], ["Upgrade"])

    def test_routes_choose_pools_by_path_prefix(self):
        chat = self.start_py_backend("--report-headers")
        other = self.start_node_backend()
        proxy = self.start_proxy({"chat": [chat.port], "other": [other.port]},
                                 routes=[("/chat", "chat"), ("/", "other")])

        async def run():
            async with connect(proxy.url + "/chat/room1") as ws:
                self.assertEqual(json.loads(await ws.recv())["path"], "/chat/room1")
            async with connect(proxy.url + "/elsewhere") as ws:
                await ws.send("plain echo")
                self.assertEqual(await ws.recv(), "plain echo")

        asyncio.run(run())


class Concurrency(ProxyTestCase):
    def test_1000_concurrent_echo_connections(self):
        backend = self.start_py_backend()
        proxy = self.start_proxy({"echo": [backend.port]}, workers=2)

        async def one(i, ready, go):
            async with connect(proxy.url + f"/c{i}", open_timeout=60 * SLOW) as ws:
                ready.append(i)
                await go.wait()
                msg = f"message from {i}".encode() * 10
                await ws.send(msg)
                self.assertEqual(await ws.recv(), msg)

        async def run():
            ready, go = [], asyncio.Event()
            tasks = [asyncio.create_task(one(i, ready, go)) for i in range(1000)]
            while len(ready) < 1000:
                await asyncio.sleep(0.05)
                for t in tasks:
                    if t.done() and t.exception():
                        raise t.exception()
            go.set()  # all 1000 are open at once before any message
            await asyncio.wait_for(asyncio.gather(*tasks), 120 * SLOW)

        asyncio.run(run())


if __name__ == "__main__":
    import unittest
    unittest.main()
