"""wsedge-bench against its own echo backend, against wsedge, and against
backends that misbehave: it must notice, say what went wrong, and exit non-zero."""
import json
import os
import subprocess

from harness import SLOW, free_port, wait_port
from test_tls import CERTS, TlsTestCase

BENCH = os.environ.get("WSEDGE_BENCH_BIN", os.path.join(os.path.dirname(__file__), "../../build/bench/wsedge-bench"))


class BenchTestCase(TlsTestCase):
    def start_echo(self, *args):
        port = free_port()
        p = self.spawn([BENCH, "echo", "--listen", f"127.0.0.1:{port}", *args], name="bench-echo")
        wait_port(port)
        p.port = port
        return p

    def run_bench(self, url, *args, timeout=60):
        out = subprocess.run([BENCH, "run", "--url", url, "--json", *args], capture_output=True, text=True,
                             timeout=timeout * SLOW)
        try:
            report = json.loads(out.stdout)
        except json.JSONDecodeError:
            self.fail(f"no JSON from wsedge-bench (exit {out.returncode}):\n{out.stdout}\n{out.stderr}")
        return out.returncode, report, out.stderr


class BenchWorks(BenchTestCase):
    def test_against_its_own_echo_backend(self):
        echo = self.start_echo()
        rc, r, err = self.run_bench(f"ws://127.0.0.1:{echo.port}/", "--conns", "8", "--size", "64:1024:16384",
                                    "--duration", "2s", "--warmup", "500ms")
        self.assertEqual(rc, 0, err)
        self.assertGreater(r["messages"], 1000)
        self.assertEqual(r["errors"], 0)
        for key in ("msgs_per_s", "mb_per_s", "p50_us", "p90_us", "p99_us", "p999_us", "max_us", "errors",
                    "mismatches", "handshake_failures", "close_codes", "cpu_s"):
            self.assertIn(key, r)
        self.assertLessEqual(r["p50_us"], r["p90_us"])
        self.assertLessEqual(r["p99_us"], r["max_us"])
        self.assertIn("msgs/s", err, "a progress line goes to stderr each second")

    def test_through_wsedge_text_and_watched_cpu(self):
        echo = self.start_echo()
        proxy = self.start_proxy({"echo": [echo.port]})
        rc, r, err = self.run_bench(proxy.url + "/", "--conns", "20", "--text", "--size", "256",
                                    "--duration", "2s", "--warmup", "500ms", "--watch-pid", str(proxy.pid))
        self.assertEqual(rc, 0, err)
        self.assertGreater(r["messages"], 1000)
        self.assertGreater(r["watched_cpu_s"], 0)
        self.assertGreater(r["watched_cpu_us_per_msg"], 0)

    def test_wss_through_wsedge_with_resumption(self):
        # Through wsedge terminating TLS, in front of the plain echo backend.
        plain = self.start_echo()
        proxy = self.start_tls_proxy(plain.port)
        rc, r, err = self.run_bench(proxy.url + "/", "--ca", f"{CERTS}/ca.pem", "--conns", "8", "--size", "16KiB",
                                    "--duration", "1s", "--warmup", "300ms")
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["tls_version"], "TLSv1.3")
        self.assertGreater(r["messages"], 100)
        rc, r, err = self.run_bench(proxy.url + "/", "--ca", f"{CERTS}/ca.pem", "--mode", "storm", "--tls-resume",
                                    "--conns", "2", "--duration", "1s", "--warmup", "300ms")
        self.assertEqual(rc, 0, err)
        self.assertGreater(r["tls_resumed"], 10, "tickets from one worker resume on the other")
        # Handshakes alone, TLS 1.2 and 1.3, resumed after the first.
        for version in ("1.2", "1.3"):
            rc, r, err = self.run_bench(proxy.url + "/", "--ca", f"{CERTS}/ca.pem", "--mode", "tls", "--tls-resume",
                                        "--tls-version", version, "--conns", "2", "--duration", "1s",
                                        "--warmup", "300ms")
            self.assertEqual(rc, 0, err)
            self.assertEqual(r["tls_version"], f"TLSv{version}")
            self.assertGreater(r["tls_resumed"], 10, version)
        # Straight to the echo backend serving wss itself, verified against the test CA.
        echo = self.start_echo("--tls", f"{CERTS}/localhost.pem,{CERTS}/localhost.key")
        rc, r, err = self.run_bench(f"wss://localhost:{echo.port}/", "--ca", f"{CERTS}/ca.pem", "--conns", "4",
                                    "--duration", "1s", "--warmup", "300ms")
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["tls_version"], "TLSv1.3")
        self.assertEqual(r["tls_cipher"], "TLS_AES_128_GCM_SHA256")
        self.assertGreater(r["tls_p50_us"], 0)
        # Storm with resumption: after the first, handshakes resume.
        rc, r, err = self.run_bench(f"wss://localhost:{echo.port}/", "--ca", f"{CERTS}/ca.pem", "--mode", "storm",
                                    "--tls-resume", "--conns", "2", "--duration", "1s", "--warmup", "300ms")
        self.assertEqual(rc, 0, err)
        self.assertGreater(r["tls_resumed"], 10)
        # A certificate the client does not trust is a handshake failure.
        rc, r, err = self.run_bench(f"wss://localhost:{echo.port}/", "--conns", "1", "--duration", "1s",
                                    "--warmup", "0s")
        self.assertNotEqual(rc, 0)
        self.assertIn("CERTIFICATE_VERIFY_FAILED", " ".join(r["error_samples"]))

    def test_storm_mode_counts_handshakes(self):
        echo = self.start_echo()
        proxy = self.start_proxy({"echo": [echo.port]})
        rc, r, err = self.run_bench(proxy.url + "/", "--mode", "storm", "--conns", "10", "--duration", "2s",
                                    "--warmup", "500ms")
        self.assertEqual(rc, 0, err)
        self.assertGreater(r["handshakes_per_s"], 50)

    def test_open_loop_rate_holds_within_5_percent(self):
        echo = self.start_echo()
        rc, r, err = self.run_bench(f"ws://127.0.0.1:{echo.port}/", "--conns", "10", "--rate", "2000",
                                    "--size", "128", "--duration", "5s", "--warmup", "1s")
        self.assertEqual(rc, 0, err)
        self.assertEqual(r["mode"], "open_loop")
        self.assertAlmostEqual(r["msgs_per_s"], 2000, delta=100, msg=json.dumps(r))

    def test_batched_sends_keep_the_rate_and_count_their_wait(self):
        # One message is due every 1 ms and --tick-us 4000 sends them in batches on a 4 ms grid, so a
        # quarter of them wait 3 ms. Latency counts from the scheduled time, so p90 must include that
        # wait: a lower bound that a slow machine cannot break, and that measuring from the actual
        # send would.
        echo = self.start_echo()
        rc, r, err = self.run_bench(f"ws://127.0.0.1:{echo.port}/", "--conns", "10", "--rate", "1000",
                                    "--tick-us", "4000", "--size", "128", "--duration", "3s", "--warmup", "500ms")
        self.assertEqual(rc, 0, err)
        self.assertAlmostEqual(r["msgs_per_s"], 1000, delta=50, msg=json.dumps(r))
        self.assertGreater(r["p90_us"], 2500, json.dumps(r))
        out = subprocess.run([BENCH, "run", "--url", "ws://127.0.0.1:1/", "--tick-us", "100"], capture_output=True,
                             text=True, timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--tick-us applies to the open loop", out.stderr)

    def test_bad_arguments_are_explained(self):
        out = subprocess.run([BENCH, "run", "--url", "http://x:1/"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 2)
        self.assertIn("--url must start with ws:// or wss://", out.stderr)
        out = subprocess.run([BENCH, "run", "--url", "ws://127.0.0.1:1/", "--size", "4"], capture_output=True,
                             text=True, timeout=10)
        self.assertIn("--size 4 is too small", out.stderr)


class BenchNotices(BenchTestCase):
    def test_a_corrupted_byte_is_a_mismatch(self):
        backend = self.start_py_backend("--corrupt-message", "50")
        rc, r, _ = self.run_bench(f"ws://127.0.0.1:{backend.port}/", "--conns", "1", "--size", "1000",
                                  "--duration", "1s", "--warmup", "0s")
        self.assertNotEqual(rc, 0)
        self.assertEqual(r["mismatches"], 1)
        self.assertIn("differs from what was sent", " ".join(r["error_samples"]))

    def test_a_close_with_1011_is_reported_with_its_code(self):
        backend = self.start_py_backend("--close-after", "100", "--close-code", "1011", "--close-reason", "oops")
        rc, r, _ = self.run_bench(f"ws://127.0.0.1:{backend.port}/", "--conns", "2", "--duration", "1s",
                                  "--warmup", "0s")
        self.assertNotEqual(rc, 0)
        self.assertEqual(r["close_codes"], {"1011": 2})
        self.assertEqual(r["unexpected_closes"], 2)
        self.assertIn("with 1011 oops", " ".join(r["error_samples"]))

    def test_a_wrong_accept_is_a_handshake_failure(self):
        backend = self.start_raw_backend("bad-accept")
        rc, r, _ = self.run_bench(f"ws://127.0.0.1:{backend.port}/", "--conns", "3", "--duration", "1s",
                                  "--warmup", "0s")
        self.assertNotEqual(rc, 0)
        self.assertEqual(r["handshake_failures"], 3)
        self.assertIn("wrong Sec-WebSocket-Accept", " ".join(r["error_samples"]))

    def test_nothing_listening_is_a_connect_failure(self):
        rc, r, _ = self.run_bench(f"ws://127.0.0.1:{free_port()}/", "--conns", "2", "--duration", "1s",
                                  "--warmup", "0s")
        self.assertNotEqual(rc, 0)
        self.assertEqual(r["connect_failures"], 2)


if __name__ == "__main__":
    import unittest
    unittest.main()
