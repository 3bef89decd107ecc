"""The configuration language through the real binary: `--check`, every
class of error with its file:line:col, all of them at once, and the
examples, which must never rot."""
import glob
import os
import re
import subprocess

from harness import SLOW, WSEDGE, ProxyTestCase, free_port

EXAMPLES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../conf/examples")


class ConfigErrors(ProxyTestCase):
    def check(self, yaml, name="wsedge.yaml"):
        path = self.tmp_path(name)
        with open(path, "w") as f:
            f.write(yaml)
        out = subprocess.run([WSEDGE, "-c", path, "--check"], capture_output=True, text=True,
                             timeout=10 * SLOW)
        return path, out

    def errors(self, yaml):
        path, out = self.check(yaml)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertEqual(out.stdout, "")
        return [line.replace(path, "F") for line in out.stderr.splitlines()]

    def test_every_error_in_a_file_is_reported_in_order_with_its_place(self):
        yaml = """\
workers: 1
listeners:
  - address: 127.0.0.1:18080
    max_conections: 10
    routes:
      - match: { path_regex: '^/room/([0-9]+$' }
        pool: chat
      - match: { path_prefix: /x, path: /y }
        pool: nowhere
      - pool: chat
        allowed_origins: [ app.example.com ]
  - address: 127.0.0.1:18080
    routes: [ { pool: chat } ]
  - address: 127.0.0.1:18081
    tls:
      certificates:
        - { cert: /nonexistent/cert.pem, key: /nonexistent/key.pem }
    routes: [ { pool: chat } ]
pools:
  chat:
    balance: hash
    hash_key: cookie
    retries: many
    health_check: { interval: 0s, type: udp }
    backends:
      - { address: 127.0.0.1, weight: 0 }
  empty:
    backends: []
  chat:
    backends: [ 127.0.0.1:9 ]
limits:
  message_rate: { per_second: 10, over_rate: drop }
  ping_interval: soon
"""
        self.assertEqual(self.errors(yaml), [
            "F:4:5: unknown key 'max_conections' in listener (did you mean 'max_connections'?)",
            "F:6:30: path_regex does not compile: missing ): ^/room/([0-9]+$",
            "F:8:16: a match takes one of path, path_prefix and path_regex",
            "F:9:15: route refers to pool 'nowhere', which is not defined (pools: chat, empty)",
            "F:11:28: allowed_origins: 'app.example.com' is not an origin (such as "
            "https://app.example.com or https://*.example.com)",
            "F:12:14: listener address 127.0.0.1:18080 is used twice",
            "F:17:11: cannot read certificate file '/nonexistent/cert.pem': No such file or directory",
            "F:17:11: cannot read key file '/nonexistent/key.pem': No such file or directory",
            "F:22:15: hash_key must be source_ip, header:NAME, cookie:NAME or query:NAME, got 'cookie'",
            "F:23:14: retries must be a whole number from 0 to 100, got 'many'",
            "F:24:31: interval must be more than 0",
            "F:24:41: health_check type must be websocket or tcp, got 'udp'",
            "F:26:20: backend address must be HOST:PORT (or [IPv6]:PORT), got '127.0.0.1'",
            "F:26:39: weight must be a whole number from 1 to 1000, got '0'",
            "F:28:15: pool 'empty' has no backends",
            "F:29:3: pool 'chat' is defined twice (first at F:20:3)",
            "F:32:46: over_rate must be pause or close, got 'drop'",
            "F:33:18: ping_interval: 'soon' is not a duration (such as 10s, 500ms, 5m)",
        ])

    def test_typos_of_every_new_key_get_a_suggestion(self):
        yaml = """\
listeners:
  - address: 127.0.0.1:18080
    routes:
      - match: { path_prefx: /chat, hots: example.com, subprotocl: graphql-ws }
        pool: chat
        rewrite_prefx: /v2
        allowed_origin: [ "https://app.example.com" ]
        request_header: { add: { X-Edge: wsedge } }
pools:
  chat:
    balanse: least_conn
    health_chek: { interval: 1s }
    outlier: { consecutive_failure: 3 }
    backends:
      - { address: 127.0.0.1:9, wieght: 2 }
limits:
  ping_intervall: 30s
  message_rate: { per_secnd: 10 }
"""
        self.assertEqual(self.errors(yaml), [
            "F:4:18: unknown key 'path_prefx' in match (did you mean 'path_prefix'?)",
            "F:4:37: unknown key 'hots' in match (did you mean 'host'?)",
            "F:4:56: unknown key 'subprotocl' in match (did you mean 'subprotocol'?)",
            "F:6:9: unknown key 'rewrite_prefx' in route (did you mean 'rewrite_prefix'?)",
            "F:7:9: unknown key 'allowed_origin' in route (did you mean 'allowed_origins'?)",
            "F:8:9: unknown key 'request_header' in route (did you mean 'request_headers'?)",
            "F:11:5: unknown key 'balanse' in pool 'chat' (did you mean 'balance'?)",
            "F:12:5: unknown key 'health_chek' in pool 'chat' (did you mean 'health_check'?)",
            "F:13:16: unknown key 'consecutive_failure' in outlier (did you mean 'consecutive_failures'?)",
            "F:15:33: unknown key 'wieght' in backend (did you mean 'weight'?)",
            "F:17:3: unknown key 'ping_intervall' in limits (did you mean 'ping_interval'?)",
            "F:18:19: unknown key 'per_secnd' in message_rate (did you mean 'per_second'?)",
        ])

    def test_push_and_redis_errors_are_reported_with_their_place(self):
        yaml = """\
pubsub:
  redis: { adress: 127.0.0.1:6379, prefix: "wsedge:" }
listeners:
  - address: 127.0.0.1:18080
    routes:
      - match: { path_prefix: /app }
        push: { from_backend: true }
      - match: { path_prefix: /ctl }
        push: { from_backend: control }
      - match: { path_prefix: /live }
        push: { channels: path }
pools:
  app:
    backends: [ 127.0.0.1:9 ]
"""
        self.assertEqual(self.errors(yaml), [
            "F:2:12: unknown key 'adress' in redis (did you mean 'address'?)",
            "F:6:9: route needs a 'pool' (or push: { channels: path })",
            "F:8:9: route needs a 'pool' (or push: { channels: path })",
        ])
        # A backend's grants need a backend: no pools at all is said too.
        self.assertEqual(self.errors("listeners:\n  - address: 127.0.0.1:18080\n    routes:\n"
                                     "      - { match: { path_prefix: /app }, push: { from_backend: true } }\n"),
                         ["F:1:1: no 'pools' defined",
                          "F:4:9: route needs a 'pool' (or push: { channels: path })"])

    def test_a_bad_push_on_a_proxied_route_is_one_error_and_not_called_push_only(self):
        # Both routes have a pool and want a backend's grants: what is wrong
        # is said once, and neither is taken for a push-only route.
        yaml = """\
listeners:
  - address: 127.0.0.1:18080
    routes:
      - match: { path_prefix: /both }
        pool: app
        push: { channels: path, from_backend: true }
      - match: { path_prefix: /maybe }
        pool: app
        push: { from_backend: maybe }
pools:
  app:
    backends: [ 127.0.0.1:9 ]
"""
        self.assertEqual(self.errors(yaml), [
            "F:6:47: push takes 'channels: path' (a push-only route) or 'from_backend' (a proxied "
            "route), not both",
            "F:9:31: from_backend must be true or control, got 'maybe'",
        ])

    def test_a_name_that_does_not_resolve_is_an_error_at_load(self):
        yaml = ("listeners:\n  - address: 127.0.0.1:18080\n    routes: [ { pool: p } ]\n"
                "pools:\n  p:\n    backends: [ no-such-host.invalid:9000 ]\n")
        errors = self.errors(yaml)
        self.assertEqual(len(errors), 1, errors)
        self.assertRegex(errors[0], r"^F:6:17: .*no-such-host\.invalid")

    def test_check_says_ok_and_serves_nothing(self):
        port = free_port()
        path, out = self.check(f"listeners:\n  - address: 127.0.0.1:{port}\n    routes: [ {{ pool: p }} ]\n"
                               "pools:\n  p:\n    backends: [ 127.0.0.1:9 ]\n")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertTrue(out.stdout.startswith(f"configuration ok: {path} (1 listeners, 1 pools"), out.stdout)

    def test_help_and_version(self):
        out = subprocess.run([WSEDGE, "--help"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        for flag in ("--config", "--check", "--log-level", "--version"):
            self.assertIn(flag, out.stdout)
        out = subprocess.run([WSEDGE, "--version"], capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0)
        self.assertRegex(out.stdout, r"^wsedge \d+\.\d+\.\d+\n$")

    def test_every_example_passes_check(self):
        examples = sorted(glob.glob(os.path.join(EXAMPLES, "*.yaml")))
        self.assertGreaterEqual(len(examples), 5)
        for example in examples:
            # A copy, with the certificates it names (relative to it) made for it.
            copy = self.tmp_path(os.path.basename(example))
            with open(example) as f:
                text = f.read()
            with open(copy, "w") as f:
                f.write(text)
            for cert, key in re.findall(r"cert: ([^,\s]+), key: ([^\s}]+)", text):
                cert, key = (os.path.join(self._tmp.name, p) for p in (cert, key))
                os.makedirs(os.path.dirname(cert), exist_ok=True)
                subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                "-nodes", "-days", "2", "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
                               check=True, capture_output=True)
            out = subprocess.run([WSEDGE, "-c", copy, "--check"], capture_output=True, text=True,
                                 timeout=30 * SLOW)
            self.assertEqual(out.returncode, 0, f"{example}:\n{out.stderr}")
            self.assertNotIn("warning", out.stderr)
            self.assertIn("configuration ok", out.stdout)
