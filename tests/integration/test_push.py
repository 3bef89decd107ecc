"""Push-only routes on the in-process bus (no Redis): wsedge answers the
upgrade itself, subscribes the client to the channels its path and query
name, and delivers what POST /publish/CHANNEL on the admin listener sends,
to every subscriber on every worker, once, in order, as text or binary."""
import asyncio
import socket
import json
import signal
import struct
import time
import urllib.error
import urllib.request

import websockets

from harness import SLOW, ProxyTestCase, RawClient, frame, free_port


def push_config(port, admin, queue="1MiB", push="{ channels: path, max_channels: 4 }", workers=2,
                limits=""):
    return (f"workers: {workers}\n" + (f"limits: {limits}\n" if limits else "") +
            f"admin: {{ address: 127.0.0.1:{admin} }}\n"
            f"pubsub: {{ queue: {queue} }}\n"
            "listeners:\n"
            f"  - address: 127.0.0.1:{port}\n"
            "    routes:\n"
            "      - match: { path_prefix: /live }\n"
            f"        push: {push}\n")


class PushInProcess(ProxyTestCase):
    def start(self, **kw):
        port, admin = free_port(), free_port()
        self.proxy = self.start_proxy_yaml(push_config(port, admin, **kw), port)
        self.admin = admin
        return self.proxy

    def publish(self, channel, data, binary=False):
        headers = {"Content-Type": "application/octet-stream"} if binary else {}
        req = urllib.request.Request(f"http://127.0.0.1:{self.admin}/publish/{channel}", data=data,
                                     method="POST", headers=headers)
        with urllib.request.urlopen(req, timeout=10 * SLOW) as r:
            return json.load(r)

    def publish_status(self, channel, data):
        try:
            return self.publish(channel, data) and 200
        except urllib.error.HTTPError as e:
            return e.code

    def test_every_subscriber_on_every_worker_gets_every_message_once_in_order(self):
        self.start()
        n, messages = 200, 100

        async def run():
            subs = [await websockets.connect(f"{self.proxy.url}/live/news") for _ in range(n)]
            await asyncio.sleep(0.3 * SLOW)
            sent = []
            for i in range(messages):
                binary = i % 3 == 0
                data = bytes([i % 256]) * (i + 1) if binary else f"news {i}".encode()
                sent.append(data if binary else data.decode())
                answer = await asyncio.to_thread(self.publish, "news", data, binary)
                self.assertEqual(answer["subscribers"], n, answer)
            for s in subs:
                got = [await asyncio.wait_for(s.recv(), 10 * SLOW) for _ in range(messages)]
                self.assertEqual(got, sent)
            for s in subs:
                await s.close()

        asyncio.run(run())

    def test_channels_from_the_path_and_the_query(self):
        self.start()

        async def run():
            a = await websockets.connect(f"{self.proxy.url}/live/a")
            ab = await websockets.connect(f"{self.proxy.url}/live?channel=a&channel=b")
            await asyncio.sleep(0.2 * SLOW)
            self.assertEqual((await asyncio.to_thread(self.publish, "b", b"to b"))["subscribers"], 1)
            self.assertEqual((await asyncio.to_thread(self.publish, "a", b"to a"))["subscribers"], 2)
            self.assertEqual(await a.recv(), "to a")
            self.assertEqual([await ab.recv(), await ab.recv()], ["to b", "to a"])
            await a.close()
            await ab.close()

        asyncio.run(run())

    def test_bad_channel_requests_are_refused_at_the_handshake(self):
        self.start()
        cases = [("/live", 400, b"no channel"),
                 ("/live?channel=a&channel=b&channel=c&channel=d&channel=e", 400, b"max_channels"),
                 ("/live?channel=" + "x" * 257, 400, b"256 bytes"),
                 ("/live?channel=a%01b", 400, b"control characters")]
        for path, status, why in cases:
            c = RawClient(self.proxy.port)
            c.send(c.upgrade_request(path))
            got, _, body = c.read_response()
            self.assertEqual(got, status, path)
            self.assertIn(why, body, path)
            c.close()
        # A push-only route takes WebSockets only.
        c = RawClient(self.proxy.port)
        c.send(b"GET /live/news HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        self.assertEqual(c.read_response()[0], 426)
        c.close()
        # And the admin refuses what no subscriber could be sent.
        self.assertEqual(self.publish_status("a%01b", b"x"), 400)
        self.assertEqual(self.publish_status("news", b"\xff\xfe"), 400)  # text must be UTF-8

    def test_a_subscriber_that_does_not_read_is_closed_with_1013_and_the_others_lose_nothing(self):
        # Time enough to read its close after the others are done.
        self.start(queue="1MiB", workers=1, limits="{ close_timeout: 60s }")
        slow = RawClient(self.proxy.port, timeout=20)
        slow.handshake("/live/feed")

        async def run():
            fast = await websockets.connect(f"{self.proxy.url}/live/feed", max_size=None)
            await asyncio.sleep(0.2 * SLOW)
            # Far more than the kernel's socket buffers and the queue hold.
            body = b"p" * 60000
            expected = [(body + str(i).encode()).decode() for i in range(400)]

            async def read_all():
                return [await asyncio.wait_for(fast.recv(), 10 * SLOW) for _ in expected]

            reader = asyncio.create_task(read_all())
            for i in range(400):
                await asyncio.to_thread(self.publish, "feed", expected[i].encode())
            self.assertEqual(await reader, expected)
            await fast.close()

        asyncio.run(run())
        # What fitted its queue, then the close: 1013, never a message after it.
        code, reason = slow.read_close()
        self.assertEqual(code, 1013, reason)
        slow.close()

    def test_pings_are_answered_client_messages_ignored_or_closed_1003(self):
        self.start()

        async def run():
            ws = await websockets.connect(f"{self.proxy.url}/live/chat")
            pong = await ws.ping(b"hello")
            await asyncio.wait_for(pong, 5 * SLOW)
            await ws.send("ignored")  # client_messages: ignore (the default)
            await asyncio.sleep(0.2 * SLOW)
            await asyncio.to_thread(self.publish, "chat", b"still here")
            self.assertEqual(await ws.recv(), "still here")
            await ws.close(4000, "bye")
            self.assertEqual(ws.close_code, 4000, "the client's close is answered with its code")

        asyncio.run(run())

    def test_client_messages_close_gives_1003(self):
        self.start(push="{ channels: path, client_messages: close }")
        c = RawClient(self.proxy.port)
        c.handshake("/live/x")
        c.send(frame(1, b"hi"))
        self.assertEqual(c.read_close()[0], 1003)
        c.send(frame(8, struct.pack("!H", 1003)))
        self.assertTrue(c.is_closed())

    def test_sigterm_closes_subscribers_with_1001(self):
        self.start()
        c = RawClient(self.proxy.port)
        c.handshake("/live/x")
        time.sleep(0.2 * SLOW)
        self.proxy.proc.send_signal(signal.SIGTERM)
        self.assertEqual(c.read_close()[0], 1001)
        c.close()
