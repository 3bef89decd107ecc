"""Push through the real binary. Push-only routes: wsedge answers the
upgrade itself, subscribes the client to the channels its path and query
name, and delivers what is published (POST /publish/CHANNEL on the admin
listener, or PUBLISH to Redis) to every subscriber on every worker, once,
in order, as text or binary: on the in-process bus, and with Redis as the
bus between workers and instances. And channels a backend grants its
session (push: { from_backend }), interleaved with the backend's own
messages. Every test with Redis runs a redis-server of its own."""
import asyncio
import json
import os
import subprocess
import signal
import struct
import time

import websockets
from prometheus_client.parser import text_string_to_metric_families

from harness import SLOW, ProxyTestCase, RawClient, RedisServer, frame, free_port, parse_frame, wait_port
from test_operations import total, value

PREFIX = "wsedge:"  # push channel C is Redis channel PREFIX + C

# Proxied routes to peers/grant_backend.py (pool app): /app takes the
# backend's grants, /ctl its control messages too.
GRANT_ROUTES = ("      - match: { path_prefix: /app }\n        pool: app\n"
                "        push: { from_backend: true }\n"
                "      - match: { path_prefix: /ctl }\n        pool: app\n"
                "        push: { from_backend: control }\n"
                "      - match: { path_prefix: /key }\n        pool: app\n"
                "        push: { from_backend: control, control_key: s3cret }\n")


def push_config(port, admin, queue="1MiB", push="{ channels: path, max_channels: 4 }", workers=2,
                limits="", redis=None, routes="", pools=""):
    bus = f", redis: {{ address: 127.0.0.1:{redis}, prefix: '{PREFIX}' }}" if redis else ""
    return (f"workers: {workers}\n" + (f"limits: {limits}\n" if limits else "") +
            f"admin: {{ address: 127.0.0.1:{admin} }}\n"
            f"pubsub: {{ queue: {queue}{bus} }}\n"
            "listeners:\n"
            f"  - address: 127.0.0.1:{port}\n"
            "    routes:\n"
            "      - match: { path_prefix: /live }\n"
            f"        push: {push}\n" + routes + pools)


async def recv(ws):
    return await asyncio.wait_for(ws.recv(), 10 * SLOW)


async def say_then_echo(ws, text, then):
    """Has peers/grant_backend.py send text, then echo then: what the client gets next."""
    await ws.send("say:" + text)
    await ws.send(then)
    return await recv(ws)


def redis_cli_quoted(payload):
    """payload as one double-quoted redis-cli argument, byte for byte."""
    safe = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 :-_."
    return '"' + "".join(chr(b) if b in safe else f"\\x{b:02x}" for b in payload) + '"'


class PushReader:
    """A push subscriber on bare asyncio streams, light enough to run a
    thousand of: the handshake, then whole frames parsed from what arrives."""

    def __init__(self, reader, writer):
        self.reader, self.writer, self.buf = reader, writer, b""

    @classmethod
    async def connect(cls, port, path):
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(RawClient.upgrade_request(None, path))
        head = await reader.readuntil(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 101"):
            raise AssertionError(f"expected 101, got {head!r}")
        return cls(reader, writer)

    async def messages(self, n):
        """The next n messages: str for text, bytes for binary, and
        (opcode, fin, payload) for any other frame."""
        out, buf, pos = [], self.buf, 0
        while len(out) < n:
            parsed = parse_frame(buf, pos)
            if parsed is None:
                chunk = await self.reader.read(1 << 16)
                if not chunk:
                    raise EOFError(f"closed after {len(out)} messages")
                buf, pos = buf[pos:] + chunk, 0
                continue
            pos, fin, opcode, payload = parsed
            if fin and opcode == 1:
                out.append(payload.decode())
            elif fin and opcode == 2:
                out.append(payload)
            else:
                out.append((opcode, fin, payload))
        self.buf = buf[pos:]
        return out

    def close(self):
        self.writer.close()


class PushTestCase(ProxyTestCase):
    """wsedge with a push-only route at /live and an admin listener."""

    def start(self, **kw):
        port, admin = free_port(), free_port()
        proxy = self.start_proxy_yaml(push_config(port, admin, **kw), port)
        wait_port(admin)
        proxy.admin = admin
        self.proxy, self.admin = proxy, admin
        return proxy

    def admin_request(self, method, path, body=b"", fields="", admin=None):
        """One request to the admin listener: (status, body)."""
        c = RawClient(admin or self.admin, timeout=10)
        try:
            c.send(f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: {len(body)}\r\n"
                   f"Connection: close\r\n{fields}\r\n".encode() + body)
            status, _, answer = c.read_response()
            return status, answer
        finally:
            c.close()

    def post(self, channel, data, binary=False, admin=None):
        """POST /publish/CHANNEL: (status, the JSON answer)."""
        fields = "Content-Type: application/octet-stream\r\n" if binary else ""
        status, answer = self.admin_request("POST", f"/publish/{channel}", data, fields, admin)
        return status, json.loads(answer)

    def publish(self, channel, data, binary=False, admin=None):
        status, answer = self.post(channel, data, binary, admin)
        self.assertEqual(status, 200, answer)
        return answer

    def publish_status(self, channel, data):
        return self.post(channel, data)[0]

    def metrics(self, admin=None):
        """{(name, frozenset of labels): value}, for test_operations' value() and total()."""
        status, body = self.admin_request("GET", "/metrics", admin=admin)
        self.assertEqual(status, 200, body)
        return {(s.name, frozenset(s.labels.items())): s.value
                for f in text_string_to_metric_families(body.decode()) for s in f.samples}

    def wait_metric(self, name, want, admin=None, timeout=15.0, **labels):
        deadline = time.monotonic() + timeout * SLOW
        while (got := value(self.metrics(admin), name, **labels)) != want:
            if time.monotonic() > deadline:
                self.fail(f"{name}{labels} is {got}, expected {want}")
            time.sleep(0.05)


class PushInProcess(PushTestCase):
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

    def test_a_message_larger_than_the_queue_is_refused_with_413(self):
        self.start(queue="2KiB")
        self.assertEqual(self.publish_status("feed", b"x" * 2048), 200)
        status = self.publish_status("feed", b"x" * 2049)
        self.assertEqual(status, 413)
        _, answer = self.post("feed", b"x" * 2049)
        self.assertIn("larger than pubsub.queue", answer["error"])

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


# --- Redis as the bus ------------------------------------------------------------

class RedisPushTestCase(PushTestCase):
    """The same, with a redis-server of the test's own as the bus."""

    def setUp(self):
        super().setUp()
        self.redis = RedisServer().start()
        self.addCleanup(self.redis.stop)

    def start(self, **kw):
        return super().start(redis=self.redis.port, **kw)

    def redis_publish(self, channel, payloads):
        """PUBLISH each payload (bytes, as they are) to the push channel, with
        one redis-cli reading the commands: what Redis answered to each."""
        commands = "".join(f"PUBLISH {PREFIX}{channel} {redis_cli_quoted(p)}\n" for p in payloads)
        return [int(n) for n in self.redis.cli(input=commands, timeout=60).split("\n")]

    def wait_subscribed(self, channel, connections):
        """Until this many Redis connections (workers) subscribe to the push channel."""
        self.redis.wait_numsub(PREFIX + channel, connections)


class PushRedis(RedisPushTestCase):
    def test_a_thousand_subscribers_get_a_thousand_messages_from_redis_cli_and_the_admin(self):
        self.start(push="{ channels: path, max_channels: 16 }")
        subscribers, block = 1000, 125

        # Eight blocks of 125, by turns through redis-cli (one process a block)
        # and POST /publish. Both reach the workers over Redis, in the order
        # Redis took them: a block is all in before the next goes.
        def message(i):
            """(through redis-cli, the bytes to PUBLISH; through the admin, the
            body and whether it is binary), and what a subscriber gets."""
            if (i // block) % 2 == 0:
                k = i % 4
                if k == 0:
                    return ("cli", f"cli {i}".encode()), f"cli {i}"
                if k == 1:
                    return ("cli", f"cli {i} ünï ✓".encode()), f"cli {i} ünï ✓"
                if k == 2:  # the mark of binary: stripped
                    payload = bytes([i % 256, 0, 0xFF, 10]) + b"cli"
                    return ("cli", b"\xff" + payload), payload
                payload = b"\x80cli " + str(i).encode()  # not UTF-8: binary as it is
                return ("cli", payload), payload
            if i % 3 == 0:
                return ("admin", f"admin {i} ✓".encode(), False), f"admin {i} ✓"
            # Binary stays binary, when it looks like text or starts with the mark.
            body = f"admin {i}".encode() if i % 3 == 1 else b"\xff\xfe admin " + str(i).encode()
            return ("admin", body, True), body

        plan = [message(i) for i in range(8 * block)] + [(("admin", b"end", False), "end")]
        expected = [got for _, got in plan]

        def publish_all():
            for b in range(0, len(plan), block):
                how = [p for p, _ in plan[b:b + block]]
                if how[0][0] == "cli":
                    self.assertEqual(self.redis_publish("news", [p for _, p in how]), [2] * len(how))
                    continue
                for _, body, binary in how:
                    self.assertEqual(self.publish("news", body, binary),
                                     {"channel": "news", "bytes": len(body), "binary": binary,
                                      "via": "redis", "receivers": 2})

        async def run():
            subs = []
            for _ in range(0, subscribers, 100):
                subs += await asyncio.gather(*(PushReader.connect(self.proxy.port, "/live/news")
                                               for _ in range(100)))
            # Both workers hold some of them (SO_REUSEPORT spreads a thousand).
            await asyncio.to_thread(self.wait_subscribed, "news", 2)
            m = await asyncio.to_thread(self.metrics)
            self.assertEqual(total(m, "wsedge_push_subscribers"), subscribers)
            readers = asyncio.gather(*(s.messages(len(expected)) for s in subs))
            await asyncio.to_thread(publish_all)
            got = await asyncio.wait_for(readers, 120 * SLOW)
            for g in got:
                self.assertEqual(g, expected)
            for s in subs:
                s.close()

        asyncio.run(run())
        m = self.metrics()
        self.assertEqual(value(m, "wsedge_push_published_total", result="ok"), 4 * block + 1)
        self.assertEqual(value(m, "wsedge_push_published_total", result="unavailable"), 0)
        # Each worker took each message from Redis once, and from nowhere else.
        self.assertEqual(value(m, "wsedge_push_received_total", source="redis"), 2 * len(expected))
        self.assertEqual(value(m, "wsedge_push_received_total", source="bus"), 0)
        self.assertEqual(value(m, "wsedge_push_deliveries_total"), subscribers * len(expected))
        self.assertEqual(value(m, "wsedge_redis_connected"), 2)
        self.assertEqual(value(m, "wsedge_redis_workers"), 2)

    def test_two_instances_on_one_redis_a_message_published_once_reaches_all_subscribers(self):
        a = self.start()
        b = self.start()
        expected = ["once, through redis-cli", "once, to a's admin", b"\x00once, to b's admin\xff", "end"]

        async def run():
            subs = [await websockets.connect(f"{p.url}/live/all") for p in (a, b) for _ in range(40)]
            # Two workers each, each holding some of its 40.
            await asyncio.to_thread(self.wait_subscribed, "all", 4)
            self.assertEqual(await asyncio.to_thread(self.redis_publish, "all", [expected[0].encode()]),
                             [4])
            for body, binary, admin in ((expected[1].encode(), False, a.admin),
                                        (expected[2], True, b.admin), (b"end", False, a.admin)):
                answer = await asyncio.to_thread(self.publish, "all", body, binary, admin)
                self.assertEqual(answer["receivers"], 4, answer)
            for s in subs:
                self.assertEqual([await recv(s) for _ in expected], expected)
            for s in subs:
                await s.close()

        asyncio.run(run())
        for proxy, posted in ((a, 2), (b, 1)):
            m = self.metrics(proxy.admin)
            self.assertEqual(value(m, "wsedge_push_published_total", result="ok"), posted)
            self.assertEqual(value(m, "wsedge_push_received_total", source="redis"), 2 * len(expected))
            self.assertEqual(value(m, "wsedge_push_deliveries_total"), 40 * len(expected))

    def test_bad_channel_requests_get_400_and_subscribe_nothing(self):
        self.start(push="{ channels: path, max_channels: 16 }")
        long_name = "L" * 256
        sixteen = [f"bad{i}" for i in range(16)]
        cases = [("/live/?channel=", b"may not be empty"),
                 ("/live?channel=bad0&channel=", b"may not be empty"),
                 ("/live/bad-path?" + "&".join(f"channel={c}" for c in sixteen), b"max_channels (16)"),
                 ("/live/" + "x" * 257, b"256 bytes"),
                 ("/live/bad%01path", b"control characters"),
                 ("/live?channel=bad%7F", b"control characters"),
                 ("/live?channel=bad%0A", b"control characters")]
        for path, why in cases:
            c = RawClient(self.proxy.port)
            c.send(c.upgrade_request(path))
            status, _, body = c.read_response()
            self.assertEqual(status, 400, path)
            self.assertIn(why, body, path)
            c.close()
        # Sixteen, one of them 256 bytes, and one named twice, which counts once.
        good = ["c0"] + [f"c{i}" for i in range(1, 15)] + [long_name]
        ok = RawClient(self.proxy.port, timeout=10)
        ok.handshake("/live/c0?" + "&".join(f"channel={c}" for c in ["c0"] + good[1:]))
        for c in good:
            self.wait_subscribed(c, 1)
        # What was refused subscribed nothing; what was taken, all of it.
        self.assertEqual(sorted(self.redis.cli("pubsub", "channels", PREFIX + "*").split("\n")),
                         sorted(PREFIX + c for c in good))
        self.assertEqual(self.redis_publish(long_name, [b"to the long one"]), [1])
        self.assertEqual(self.publish("c14", b"to c14")["receivers"], 1)
        self.assertEqual([ok.read_frame(), ok.read_frame()],
                         [(True, 1, b"to the long one"), (True, 1, b"to c14")])
        ok.close()

    def test_a_subscriber_that_never_reads_is_closed_with_1013_and_the_others_lose_nothing(self):
        # Time enough to read its close after the others are done.
        self.start(queue="64KiB", workers=1, limits="{ close_timeout: 60s }")
        slow = RawClient(self.proxy.port, timeout=30, rcvbuf=4096)
        slow.handshake("/live/feed")
        expected = [f"{i:05d} " + "x" * 4090 for i in range(3000)]  # 12 MB in all

        def publish(batch):
            for m in batch:
                self.assertEqual(self.publish("feed", m.encode())["receivers"], 1)

        async def run():
            fast = [await PushReader.connect(self.proxy.port, "/live/feed") for _ in range(3)]
            await asyncio.to_thread(self.wait_subscribed, "feed", 1)
            # In steps of 8 messages, each read by the others before the next:
            # a burst larger than the queue (and the socket) would close any
            # reader, however quick.
            got = [[] for _ in fast]
            for b in range(0, len(expected), 8):
                await asyncio.to_thread(publish, expected[b:b + 8])
                for f, g in zip(fast, got):
                    g.extend(await asyncio.wait_for(f.messages(len(expected[b:b + 8])), 10 * SLOW))
            self.assertEqual(got, [expected] * len(fast))
            m = await asyncio.to_thread(self.metrics)
            self.assertEqual(value(m, "wsedge_push_overflow_closes_total"), 1)
            self.assertEqual(total(m, "wsedge_push_subscribers"), 3)
            for f in fast:
                f.close()

        asyncio.run(run())
        # What fitted, in order, from the first; then 1013, and nothing after it.
        got = []
        while (f := slow.read_frame())[1] != 8:
            self.assertEqual(f[:2], (True, 1))
            got.append(f[2].decode())
        self.assertEqual(got, expected[:len(got)])
        self.assertLess(len(got), len(expected) // 2)
        self.assertEqual(struct.unpack("!H", f[2][:2])[0], 1013, f)
        slow.close()


class PushRedisRestart(RedisPushTestCase):
    def test_subscribers_stay_through_a_redis_restart_and_get_what_is_published_after_it(self):
        self.start()

        async def run():
            subs = [await websockets.connect(f"{self.proxy.url}/live/news") for _ in range(30)]
            await asyncio.to_thread(self.wait_subscribed, "news", 2)
            self.assertEqual((await asyncio.to_thread(self.publish, "news", b"before"))["receivers"], 2)
            for s in subs:
                self.assertEqual(await recv(s), "before")

            await asyncio.to_thread(self.redis.stop)
            await asyncio.to_thread(self.wait_metric, "wsedge_redis_connected", 0)
            for body, binary in ((b"during", False), (b"\x01during", True)):
                status, answer = await asyncio.to_thread(self.post, "news", body, binary)
                self.assertEqual(status, 503, answer)
                self.assertIn("redis unavailable", answer["error"])
            m = await asyncio.to_thread(self.metrics)
            self.assertEqual(value(m, "wsedge_push_published_total", result="unavailable"), 2)
            self.assertEqual(value(m, "wsedge_push_published_total", result="ok"), 1)
            # Still subscribed; and one more arrives, on a channel no one had.
            self.assertEqual(total(m, "wsedge_push_subscribers"), 30)
            late = await websockets.connect(f"{self.proxy.url}/live/late")
            await asyncio.sleep(1.0 * SLOW)  # a second of outage: the workers back off

            await asyncio.to_thread(self.redis.start)
            await asyncio.to_thread(self.wait_subscribed, "news", 2)
            await asyncio.to_thread(self.wait_subscribed, "late", 1)
            await asyncio.to_thread(self.wait_metric, "wsedge_redis_connected", 2)
            self.assertEqual((await asyncio.to_thread(self.publish, "news", b"after"))["receivers"], 2)
            self.assertEqual(await asyncio.to_thread(self.redis_publish, "news", [b"after, redis-cli"]),
                             [2])
            self.assertEqual((await asyncio.to_thread(self.publish, "late", b"late"))["receivers"], 1)
            for s in subs:
                self.assertEqual([await recv(s), await recv(s)], ["after", "after, redis-cli"])
                self.assertIsNone(s.close_code)
            self.assertEqual(await recv(late), "late")
            for s in subs + [late]:
                await s.close()

        asyncio.run(run())
        m = self.metrics()
        self.assertGreaterEqual(value(m, "wsedge_redis_failures_total"), 2)
        self.assertGreaterEqual(value(m, "wsedge_redis_connects_total"), 4)
        self.assertEqual(value(m, "wsedge_push_published_total", result="ok"), 3)


# --- channels granted by a backend ------------------------------------------------

class BackendPushTestCase(RedisPushTestCase):
    """/app and /ctl proxied to peers/grant_backend.py, with Redis."""

    def setUp(self):
        super().setUp()
        self.backend = self.start_python_peer("grant_backend.py")
        self.start(routes=GRANT_ROUTES,
                   pools=f"pools:\n  app:\n    backends: [ 127.0.0.1:{self.backend.port} ]\n")

    def connect(self, path, **kw):
        return websockets.connect(f"{self.proxy.url}{path}", max_size=None, **kw)


class BackendGranted(BackendPushTestCase):
    def test_each_client_gets_its_own_channels_interleaved_with_the_backends_messages(self):
        n = 40
        # One is granted user:1 and room:7 (binary pushes), two user:2; all
        # the while both talk to the backend.
        plan = {"one": ("/app?grant=user:1&grant=room:7",
                        [m for i in range(n) for m in (f"u1 {i}", bytes([7, i, 0xFF]))] + ["u1 end"]),
                "two": ("/app?grant=user:2", [f"u2 {i}" for i in range(n)] + ["u2 end"])}

        def publish_all():
            for i in range(n):
                for channel, body, binary in (("user:1", f"u1 {i}".encode(), False),
                                              ("user:2", f"u2 {i}".encode(), False),
                                              ("room:7", bytes([7, i, 0xFF]), True)):
                    self.assertEqual(self.publish(channel, body, binary)["receivers"], 1)
            self.publish("user:1", b"u1 end")
            self.publish("user:2", b"u2 end")

        async def client(who, started):
            path, pushes = plan[who]
            echoes = [f"{who} echo {i}" for i in range(n)]
            async with self.connect(path) as ws:
                self.assertNotIn("Wsedge-Subscribe", ws.response_headers)
                await started

                async def talk():
                    for e in echoes:
                        await ws.send(e)
                        await asyncio.sleep(0.005)

                async def listen():
                    return [await recv(ws) for _ in range(len(echoes) + len(pushes))]

                _, got = await asyncio.gather(talk(), listen())
            self.assertEqual([m for m in got if m in echoes], echoes)
            self.assertEqual([m for m in got if m not in echoes], pushes)

        async def run():
            started = asyncio.get_running_loop().create_future()
            clients = asyncio.gather(client("one", started), client("two", started))
            for channel in ("user:1", "room:7", "user:2"):
                await asyncio.to_thread(self.wait_subscribed, channel, 1)
            started.set_result(None)
            await asyncio.gather(asyncio.to_thread(publish_all), asyncio.wait_for(clients, 60 * SLOW))

        asyncio.run(run())

    def test_a_push_during_a_fragmented_message_waits_for_its_end(self):
        c = RawClient(self.proxy.port, timeout=10)
        headers = c.handshake("/app?grant=user:3")
        self.assertNotIn("wsedge-subscribe", headers)
        self.wait_subscribed("user:3", 1)
        pause = int(500 * SLOW)
        c.send(frame(1, f"fragments:F1:{pause}:part one, |part two, |part three".encode()))
        self.backend.wait_for_output("F1: first fragment sent")
        # Now, half a second before the next fragment, the push reaches the edge.
        self.assertEqual(self.publish("user:3", b"pushed mid-message")["receivers"], 1)
        frames = [c.read_frame()]
        while not frames[-1][0]:
            frames.append(c.read_frame())
        self.assertEqual(frames[0][:2], (False, 1), "the backend's fragments pass as they come")
        self.assertEqual([f[1] for f in frames[1:]], [0] * (len(frames) - 1),
                         "nothing but continuations inside the message")
        self.assertEqual(b"".join(f[2] for f in frames), b"part one, part two, part three")
        self.assertEqual(c.read_frame(), (True, 1, b"pushed mid-message"))
        c.close()

    def test_with_from_backend_true_a_control_message_passes_through(self):
        control = '{"wsedge":{"subscribe":["room:9"]}}'

        async def run():
            async with self.connect("/app?grant=user:6") as ws:
                await asyncio.to_thread(self.wait_subscribed, "user:6", 1)
                await ws.send("say:" + control)
                self.assertEqual(await recv(ws), control)
                answer = await asyncio.to_thread(self.publish, "room:9", b"nine")
                self.assertEqual(answer["receivers"], 0)
                answer = await asyncio.to_thread(self.publish, "user:6", b"six")
                self.assertEqual(answer["receivers"], 1)
                self.assertEqual(await recv(ws), "six")

        asyncio.run(run())
        m = self.metrics()
        self.assertEqual(value(m, "wsedge_push_control_messages_total", result="applied"), 0)


class BackendControl(BackendPushTestCase):
    def test_control_messages_change_the_channels_and_never_reach_the_client(self):
        async def run():
            # Uncompressed: the test below has it compressed.
            async with self.connect("/ctl?grant=user:5", compression=None) as ws:
                await asyncio.to_thread(self.wait_subscribed, "user:5", 1)

                def backend_says(text, then):
                    return say_then_echo(ws, text, then)

                self.assertEqual(await backend_says('{"wsedge":{"subscribe":["room:9"]}}', "echo 1"),
                                 "echo 1")
                await asyncio.to_thread(self.wait_subscribed, "room:9", 1)
                answer = await asyncio.to_thread(self.publish, "room:9", b"nine 1")
                self.assertEqual(answer["receivers"], 1)
                self.assertEqual(await recv(ws), "nine 1")

                self.assertEqual(await backend_says(' { "wsedge" : { "unsubscribe" : [ "room:9" ] } } ',
                                                    "echo 2"), "echo 2")
                await asyncio.to_thread(self.publish, "room:9", b"nine 2")
                await asyncio.to_thread(self.publish, "user:5", b"five 1")
                self.assertEqual(await recv(ws), "five 1")

                # Not for the edge: a second key. Malformed: dropped, and counted.
                self.assertEqual(await backend_says('{"wsedge":{"subscribe":"room:9"}}', "echo 3"),
                                 "echo 3")
                two_keys = '{"wsedge":{"subscribe":["room:9"]},"also":1}'
                self.assertEqual(await backend_says(two_keys, "echo 4"), two_keys)
                self.assertEqual(await recv(ws), "echo 4")
                await asyncio.to_thread(self.publish, "room:9", b"nine 3")
                await asyncio.to_thread(self.publish, "user:5", b"five 2")
                self.assertEqual(await recv(ws), "five 2")

        asyncio.run(run())
        m = self.metrics()
        self.assertEqual(value(m, "wsedge_push_control_messages_total", result="applied"), 2)
        self.assertEqual(value(m, "wsedge_push_control_messages_total", result="invalid"), 1)

    def test_a_compressed_control_message_is_the_edges_too(self):
        # The client offers permessage-deflate, as browsers do, and so the
        # backend may compress what it sends: a control message among it.
        async def run():
            async with self.connect("/ctl?grant=user:5") as ws:
                await asyncio.to_thread(self.wait_subscribed, "user:5", 1)
                self.assertEqual(await say_then_echo(ws, '{"wsedge":{"subscribe":["room:9"]}}',
                                                     "echo 1"), "echo 1")
                await asyncio.to_thread(self.wait_subscribed, "room:9", 1)
                answer = await asyncio.to_thread(self.publish, "room:9", b"nine")
                self.assertEqual(answer["receivers"], 1)
                self.assertEqual(await recv(ws), "nine")

        asyncio.run(run())

    def test_with_a_control_key_only_a_message_bearing_it_is_the_edges(self):
        # A backend that echoes its users' text: a user cannot pass for it.
        forged = '{"wsedge":{"subscribe":["room:11"]}}'
        wrong = '{"wsedge":{"key":"guess","subscribe":["room:11"]}}'

        async def run():
            async with self.connect("/key?grant=user:11") as ws:
                await asyncio.to_thread(self.wait_subscribed, "user:11", 1)
                self.assertEqual(await say_then_echo(ws, forged, "e1"), forged)
                self.assertEqual(await recv(ws), "e1")
                self.assertEqual(await say_then_echo(ws, wrong, "e2"), wrong)
                self.assertEqual(await recv(ws), "e2")
                self.assertEqual(self.redis.numsub(PREFIX + "room:11"), 0)
                self.assertEqual(
                    await say_then_echo(ws, '{"wsedge":{"key":"s3cret","subscribe":["room:11"]}}', "e3"),
                    "e3")
                await asyncio.to_thread(self.wait_subscribed, "room:11", 1)
                self.assertEqual((await asyncio.to_thread(self.publish, "room:11", b"eleven"))["receivers"], 1)
                self.assertEqual(await recv(ws), "eleven")

        asyncio.run(run())

    def test_a_client_cannot_subscribe_itself_with_a_control_message(self):
        control = '{"wsedge":{"subscribe":["room:10"]}}'

        async def run():
            async with self.connect("/ctl?grant=user:8") as ws:
                await ws.send(control)
                await ws.send("received?")
                # It reached the backend as it was, and subscribed no one.
                self.assertEqual(json.loads(await recv(ws)), [control, "received?"])
                answer = await asyncio.to_thread(self.publish, "room:10", b"ten")
                self.assertEqual(answer["receivers"], 0)

        asyncio.run(run())


BENCH = os.environ.get("WSEDGE_BENCH_BIN",
                       os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../build/bench/wsedge-bench"))


class BenchPush(RedisPushTestCase):
    """wsedge-bench push against wsedge: it counts what arrives, and says when it does not."""

    def bench(self, publish, *args):
        out = subprocess.run([BENCH, "push", "--url", f"{self.proxy.url}/live/{{channel}}", "--publish", publish,
                              "--subscribers", "60", "--channels", "6", "--rate", "300", "--size", "100",
                              "--duration", "1s", "--warmup", "200ms", "--settle", "500ms", "--drain", "2s",
                              "--json", *args], capture_output=True, text=True, timeout=60 * SLOW)
        return out.returncode, json.loads(out.stdout.strip().splitlines()[-1]), out.stderr

    def test_every_message_through_redis_and_through_the_admin_is_counted_once(self):
        self.start(push="{ channels: path }")
        for publish in (f"redis://127.0.0.1:{self.redis.port}/{PREFIX}",
                        f"http://127.0.0.1:{self.admin}/publish"):
            code, r, err = self.bench(publish)
            self.assertEqual(code, 0, err)
            self.assertGreater(r["published"], 250)
            # Each of a channel's 10 subscribers got each of its messages.
            self.assertEqual(r["deliveries"], r["published"] * 10, r)
            self.assertEqual(r["expected_deliveries"], r["deliveries"])
            self.assertEqual((r["lost"], r["duplicates"], r["reordered"], r["publish_errors"]), (0, 0, 0, 0), r)
            self.assertGreater(r["p99_ms"], 0)

    def test_messages_that_never_arrive_are_lost_and_fail_the_run(self):
        self.start(push="{ channels: path }")
        # Published where wsedge does not listen: every one is lost.
        code, r, _ = self.bench(f"redis://127.0.0.1:{self.redis.port}/elsewhere:")
        self.assertEqual(code, 1)
        self.assertEqual(r["deliveries"], 0)
        self.assertEqual(r["lost"], r["published"] * 10)
        code, _, _ = self.bench(f"redis://127.0.0.1:{self.redis.port}/elsewhere:", "--allow-loss")
        self.assertEqual(code, 0, "--allow-loss")
