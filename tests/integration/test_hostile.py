"""A storm of hostile clients and a hostile backend, seeded and bounded.

Clients send garbage instead of a request or a ClientHello, cut their
upgrade request short, or send frames with random opcodes, bits, lengths and
cuts, over ws and wss, then close or reset. A backend behind /bad answers the
upgrade and then sends garbage or broken frames. Afterwards wsedge must still
serve well-behaved clients on both listeners, have closed every connection the
storm opened (its descriptor count is back where it started), and exit
cleanly on SIGTERM without sanitizer reports (checked in tearDown).
"""
import contextlib
import os
import random
import socket
import ssl
import struct
import subprocess
import threading
import time
import unittest

from harness import SLOW, WSEDGE, frame, free_port, wait_port
from test_bench import BENCH
from test_tls import CERTS, TlsTestCase

ATTACKS = 300
CONCURRENT = 20
SEED = 6455


def open_fds(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def settled_fds(pid):
    """The descriptor count once it has stayed the same for half a second."""
    deadline = time.monotonic() + 10 * SLOW
    last = open_fds(pid)
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now = open_fds(pid)
        if now == last:
            return now
        last = now
    return last


class HostileStorm(TlsTestCase):
    def start_two_listener_proxy(self, echo_port, bad_port):
        ws_port, wss_port = free_port(), free_port()
        routes = "    routes: [ { match: { path_prefix: /bad }, pool: bad }, { pool: echo } ]"
        config = "\n".join([
            "workers: 2",
            "listeners:",
            f"  - address: 127.0.0.1:{ws_port}",
            routes,
            f"  - address: 127.0.0.1:{wss_port}",
            f"    tls: {{ certificates: [ {{ cert: {CERTS}/localhost.pem, key: {CERTS}/localhost.key }} ] }}",
            routes,
            "pools:",
            f"  echo: {{ backends: [ 127.0.0.1:{echo_port} ] }}",
            f"  bad: {{ backends: [ 127.0.0.1:{bad_port} ] }}",
            "limits: { handshake_timeout: 2s, backend_timeout: 2s, idle_timeout: 3s, close_timeout: 1s,",
            "          max_message_size: 1MiB, max_frame_size: 1MiB }",
        ]) + "\n"
        path = self.tmp_path("hostile.yaml")
        with open(path, "w") as f:
            f.write(config)
        proc = self.spawn([WSEDGE, "-c", path, "--log-level", "info"], name="wsedge")
        self._proxies.append(proc)
        wait_port(ws_port)
        wait_port(wss_port)
        return proc, ws_port, wss_port

    def test_storm_leaves_the_proxy_serving_and_every_connection_closed(self):
        echo_port = free_port()
        self.spawn([BENCH, "echo", "--listen", f"127.0.0.1:{echo_port}"], name="echo")
        wait_port(echo_port)
        bad = self.start_raw_backend("chaos", str(SEED))
        proxy, ws_port, wss_port = self.start_two_listener_proxy(echo_port, bad.port)
        baseline = settled_fds(proxy.pid)  # the probes of wait_port may still be closing

        tls_ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.pem")
        seeds = random.Random(SEED)

        def request(rng, path):
            key = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ") for _ in range(21)) + "A=="
            return (f"GET {path} HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                    f"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: {key}\r\n\r\n").encode()

        def random_frame(rng):
            # Any opcode, FIN/RSV combination and length; usually masked; sometimes cut short.
            n = rng.choice([0, 5, 125, 126, 1000, 65535, 65536, 100000])
            b0 = rng.choice([0x81, 0x82, 0x01, 0x00, 0x80, 0x89, 0x8A, 0x88, 0xA2, 0x8B, 0x09])
            body = rng.randbytes(n) if rng.random() < 0.5 else b"a" * n
            wire = frame(b0 & 0x0F, body, fin=bool(b0 & 0x80), rsv=b0 & 0x70, mask=rng.random() < 0.9,
                         mask_key=rng.randbytes(4))
            return wire[:len(wire) - rng.randint(0, n)] if rng.random() < 0.3 else wire

        def attack(rng):
            use_tls = rng.random() < 0.5
            try:
                s = socket.create_connection(("127.0.0.1", wss_port if use_tls else ws_port), timeout=3 * SLOW)
                if use_tls and rng.random() < 0.9:
                    s = tls_ctx.wrap_socket(s, server_hostname="localhost")
                kind = rng.random()
                if kind < 0.15:
                    s.sendall(rng.randbytes(rng.randint(1, 3000)))
                elif kind < 0.3:
                    r = request(rng, "/")
                    s.sendall(r[:rng.randint(0, len(r))] + rng.randbytes(rng.randint(0, 100)))
                else:
                    s.sendall(request(rng, "/bad" if rng.random() < 0.4 else "/"))
                    for _ in range(rng.randint(0, 30)):
                        s.sendall(random_frame(rng))
                if rng.random() < 0.5:
                    s.settimeout(0.3)
                    with contextlib.suppress(OSError):
                        while s.recv(65536):
                            pass
                if rng.random() < 0.3:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST
                s.close()
            except (OSError, ssl.SSLError):
                pass  # the proxy may close on us at any point: that is the point

        for start in range(0, ATTACKS, CONCURRENT):
            threads = [threading.Thread(target=attack, args=(random.Random(seeds.random()),))
                       for _ in range(min(CONCURRENT, ATTACKS - start))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(30 * SLOW)
                self.assertFalse(t.is_alive(), "an attacking client hung")

        # Well-behaved clients are still served, on both listeners, with every echo intact.
        for url in (f"ws://127.0.0.1:{ws_port}/", f"wss://localhost:{wss_port}/"):
            out = subprocess.run([BENCH, "run", "--url", url, "--ca", f"{CERTS}/ca.pem", "--conns", "10",
                                  "--duration", "1s", "--warmup", "0s", "--json"],
                                 capture_output=True, text=True, timeout=60 * SLOW)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)

        # Every connection the storm opened is closed within the timeouts: nothing hangs.
        deadline = time.monotonic() + 15 * SLOW
        while open_fds(proxy.pid) != baseline and time.monotonic() < deadline:
            time.sleep(0.2)
        self.assertEqual(open_fds(proxy.pid), baseline, "connections left open after the storm")
        # The storm did reach the relay, from both sides.
        log = proxy.output()
        self.assertIn("client broke the protocol", log)
        self.assertIn("backend of pool bad broke the protocol", log)


if __name__ == "__main__":
    unittest.main()
