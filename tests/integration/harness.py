"""Integration-test harness: runs the real wsedge binary with a real config
against real peers, on 127.0.0.1 only, and stops every process it starts.

Environment:
  WSEDGE_BIN        path to the wsedge binary (set by ctest)
  WSEDGE_BENCH_BIN  path to wsedge-bench, for tests that use it
"""
import base64
import contextlib
import os
import random
import resource
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
PEERS = os.path.join(HERE, "peers")
PYTHON = "/usr/bin/python3"  # Debian's, where python3-websockets lives
NODE = "/usr/bin/node"
WSEDGE = os.environ.get("WSEDGE_BIN", os.path.join(HERE, "../../build/proxy/wsedge"))
SANITIZED = os.environ.get("WSEDGE_SANITIZED") == "1"
# Sanitized binaries are several times slower: stretch waits, never loop forever.
SLOW = 4.0 if SANITIZED else 1.0

SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                     "SUMMARY: UndefinedBehaviorSanitizer")


def raise_fd_limit():
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


_handed_out = set()


def free_port():
    """A port nothing listens on, and not one this process was given before:
    the kernel may offer a port it just freed again, and a test that asks
    twice needs two."""
    for _ in range(100):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port
    raise RuntimeError("no fresh port after 100 tries")


def wait_port(port, timeout=10.0):
    deadline = time.monotonic() + timeout * SLOW
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.02)
    raise TimeoutError(f"nothing listening on 127.0.0.1:{port}")


class Process:
    """A child process whose output goes to a temporary log; stop() ends it."""

    def __init__(self, args, env=None, name=None):
        self.name = name or os.path.basename(args[0])
        self.log = tempfile.NamedTemporaryFile(prefix=f"wsedge-it-{self.name}-", suffix=".log",
                                               delete=False)
        full_env = dict(os.environ)
        full_env.update(env or {})
        self.proc = subprocess.Popen(args, stdout=self.log, stderr=subprocess.STDOUT, env=full_env,
                                     preexec_fn=raise_fd_limit)
        self.returncode = None

    @property
    def pid(self):
        return self.proc.pid

    def output(self):
        with open(self.log.name, "r", errors="replace") as f:
            return f.read()

    def wait_for_output(self, text, timeout=10.0):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError(f"{self.name} did not print {text!r}; output:\n{self.output()}")

    def stop(self, sig=signal.SIGTERM, timeout=10.0):
        if self.returncode is None:
            if self.proc.poll() is None:
                self.proc.send_signal(sig)
                try:
                    self.proc.wait(timeout * SLOW)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
                    self.proc.wait()
            self.returncode = self.proc.returncode
        return self.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)

    def close(self):
        self.stop()
        self.log.close()
        os.unlink(self.log.name)


class RedisServer:
    """A real redis-server on a free 127.0.0.1 port, without persistence;
    start() returns once it answers PING. stop() and start() again keep the
    port: a restart."""

    def __init__(self):
        self.port = free_port()
        self.proc = None

    def start(self, timeout=10.0):
        self.proc = Process(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                             "--save", "", "--appendonly", "no"], name="redis")
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if self.proc.proc.poll() is not None:
                break
            with contextlib.suppress(subprocess.SubprocessError):
                if self.cli("ping", timeout=1.0) == "PONG":
                    return self
            time.sleep(0.05)
        raise AssertionError(f"redis-server on {self.port} did not answer PING:\n{self.proc.output()}")

    def stop(self):
        if self.proc:
            self.proc.close()
            self.proc = None

    def restart(self):
        self.stop()
        return self.start()

    def cli(self, *args, input=None, timeout=10.0):
        """What redis-cli -p PORT ARGS prints (with input: the commands it reads, a line each)."""
        out = subprocess.run(["redis-cli", "-p", str(self.port), *args], input=input,
                             capture_output=True, text=True, timeout=timeout * SLOW, check=True)
        return out.stdout.strip()

    def numsub(self, channel):
        """Subscriber connections on this Redis channel."""
        return int(self.cli("pubsub", "numsub", channel).split("\n")[-1])

    def wait_numsub(self, channel, n, timeout=15.0):
        deadline = time.monotonic() + timeout * SLOW
        got = None
        while time.monotonic() < deadline:
            got = self.numsub(channel)
            if got == n:
                return
            time.sleep(0.05)
        raise AssertionError(f"redis channel {channel}: {got} subscribers, expected {n}")


class ProxyTestCase(unittest.TestCase):
    """Starts processes through helpers and stops them all after each test;
    fails the test if wsedge printed a sanitizer report or exited badly."""

    def setUp(self):
        raise_fd_limit()
        self._procs = []
        self._proxies = []
        self._tmp = tempfile.TemporaryDirectory(prefix="wsedge-it-")

    def tearDown(self):
        problems = []
        for p in reversed(self._procs):
            rc = p.stop()
            out = p.output()
            if p in self._proxies:
                if any(m in out for m in SANITIZER_MARKERS):
                    problems.append(f"sanitizer report from wsedge:\n{out[-4000:]}")
                elif rc != 0:
                    problems.append(f"wsedge exited with {rc}:\n{out[-2000:]}")
            p.close()
        self._tmp.cleanup()
        if problems:
            self.fail("\n".join(problems))

    def spawn(self, args, env=None, name=None):
        p = Process(args, env, name)
        self._procs.append(p)
        return p

    def tmp_path(self, name):
        return os.path.join(self._tmp.name, name)

    # --- wsedge -------------------------------------------------------------

    def start_proxy(self, pools, routes=None, limits=None, workers=1, port=None, extra=""):
        """pools: {name: [ports]}; routes: [(prefix, pool)] (default: '/' to the first pool)."""
        port = port or free_port()
        routes = routes or [("/", next(iter(pools)))]
        lines = [f"workers: {workers}", "listeners:", f"  - address: 127.0.0.1:{port}", "    routes:"]
        for prefix, pool in routes:
            lines += [f"      - match: {{ path_prefix: {prefix} }}", f"        pool: {pool}"]
        lines.append("pools:")
        for name, ports in pools.items():
            lines.append(f"  {name}:")
            lines.append("    backends: [" + ", ".join(f"127.0.0.1:{p}" for p in ports) + "]")
        if limits:
            lines.append("limits:")
            lines += [f"  {k}: {v}" for k, v in limits.items()]
        path = self.tmp_path(f"wsedge-{port}.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n" + extra)
        proc = self.spawn([WSEDGE, "-c", path, "--log-level", "debug"], name="wsedge")
        self._proxies.append(proc)
        wait_port(port)
        proc.port = port
        proc.url = f"ws://127.0.0.1:{port}"
        return proc

    def start_proxy_yaml(self, yaml, port, log_level="debug"):
        """wsedge with this configuration text, listening on port."""
        path = self.tmp_path(f"wsedge-{port}.yaml")
        with open(path, "w") as f:
            f.write(yaml)
        proc = self.spawn([WSEDGE, "-c", path, "--log-level", log_level], name="wsedge")
        self._proxies.append(proc)
        wait_port(port)
        proc.port = port
        proc.url = f"ws://127.0.0.1:{port}"
        proc.config = path
        return proc

    # --- peers --------------------------------------------------------------

    def start_py_backend(self, *args, port=None):
        """peers/py_backend.py: a Python websockets server (see its --help)."""
        return self.start_python_peer("py_backend.py", *args, port=port)

    def start_python_peer(self, script, *args, port=None):
        """peers/SCRIPT --port PORT ARGS, once it says it is ready."""
        port = port or free_port()
        p = self.spawn([PYTHON, os.path.join(PEERS, script), "--port", str(port), *args],
                       name=script[:-3])
        p.wait_for_output("ready")
        p.port = port
        return p

    def start_node_backend(self, *args):
        port = free_port()
        p = self.spawn([NODE, os.path.join(PEERS, "node_backend.js"), str(port), *args],
                       env={"NODE_PATH": "/usr/share/nodejs"}, name="node_backend")
        p.wait_for_output("ready")
        p.port = port
        return p

    def start_raw_backend(self, mode, *args):
        """peers/raw_backend.py: hand-written misbehaving backends."""
        port = free_port()
        record = self.tmp_path(f"raw-{port}.bin")
        p = self.spawn([PYTHON, os.path.join(PEERS, "raw_backend.py"), str(port), mode, record, *args],
                       name="raw_backend")
        p.wait_for_output("ready")
        p.port = port
        p.record = record
        return p

    def run_node_client(self, url, *args, timeout=60):
        out = subprocess.run([NODE, os.path.join(PEERS, "node_client.js"), url, *args],
                             env={**os.environ, "NODE_PATH": "/usr/share/nodejs"},
                             capture_output=True, text=True, timeout=timeout * SLOW)
        return out


def rss_kb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


# --- a raw WebSocket client, for byte-exact tests -----------------------------

class RawClient:
    def __init__(self, port, timeout=5.0, rcvbuf=None):
        """rcvbuf: a receive buffer this small (set before connecting, so that
        the window stays small): a client that does not read fills up soon."""
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout * SLOW)
        self.sock.connect(("127.0.0.1", port))
        self.buf = b""

    def close(self):
        self.sock.close()

    def upgrade_request(self, path="/", extra="", key=None, host="127.0.0.1"):
        key = key or base64.b64encode(os.urandom(16)).decode()
        return (f"GET {path} HTTP/1.1\r\nHost: {host}\r\nUpgrade: websocket\r\n"
                f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
                f"Sec-WebSocket-Version: 13\r\n{extra}\r\n").encode()

    def send(self, data):
        self.sock.sendall(data)

    def recv_some(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("connection closed")
        self.buf += chunk

    def read_until(self, marker):
        while marker not in self.buf:
            self.recv_some()
        i = self.buf.index(marker) + len(marker)
        head, self.buf = self.buf[:i], self.buf[i:]
        return head

    def read_response(self):
        """Status, headers (lower-case names), and the body if Content-Length says."""
        head = self.read_until(b"\r\n\r\n").decode("latin-1")
        lines = head.split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        body = b""
        if "content-length" in headers:
            n = int(headers["content-length"])
            while len(self.buf) < n:
                self.recv_some()
            body, self.buf = self.buf[:n], self.buf[n:]
        return status, headers, body

    def handshake(self, path="/", extra=""):
        self.send(self.upgrade_request(path, extra))
        status, headers, _ = self.read_response()
        assert status == 101, f"expected 101, got {status}"
        return headers

    def read_exact(self, n):
        while len(self.buf) < n:
            self.recv_some()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_frame(self):
        """(fin, opcode, payload) of the next frame, which must be unmasked."""
        while (parsed := parse_frame(self.buf)) is None:
            self.recv_some()
        end, fin, opcode, payload = parsed
        self.buf = self.buf[end:]
        return fin, opcode, payload

    def read_close(self):
        """Reads frames until a close; returns (code, reason)."""
        while True:
            fin, op, payload = self.read_frame()
            if op == 8:
                if len(payload) < 2:
                    return 1005, ""
                return struct.unpack("!H", payload[:2])[0], payload[2:].decode()

    def is_closed(self, timeout=5.0):
        """True once the proxy has closed the TCP connection."""
        self.sock.settimeout(timeout * SLOW)
        try:
            while True:
                if not self.sock.recv(65536):
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


def parse_frame(buf, pos=0):
    """The server frame at buf[pos:], which must be unmasked, as (where it
    ends, fin, opcode, payload); None while it is not all there."""
    if len(buf) - pos < 2:
        return None
    b0, b1 = buf[pos], buf[pos + 1]
    if b1 & 0x80:
        raise AssertionError("server sent a masked frame")
    length, start = b1 & 0x7F, pos + 2
    if length >= 126:
        size = 2 if length == 126 else 8
        if len(buf) - start < size:
            return None
        length, start = int.from_bytes(buf[start:start + size], "big"), start + size
    if len(buf) - start < length:
        return None
    return start + length, bool(b0 & 0x80), b0 & 0x0F, bytes(buf[start:start + length])


def frame(opcode, payload, fin=True, mask=True, rsv=0, mask_key=None):
    header = bytearray([(0x80 if fin else 0) | rsv | opcode])
    n = len(payload)
    mbit = 0x80 if mask else 0
    if n < 126:
        header.append(mbit | n)
    elif n <= 0xFFFF:
        header += bytes([mbit | 126]) + struct.pack("!H", n)
    else:
        header += bytes([mbit | 127]) + struct.pack("!Q", n)
    if not mask:
        return bytes(header) + payload
    key = mask_key or os.urandom(4)
    return bytes(header) + key + apply_mask(payload, key)


def apply_mask(payload, key):
    # One big-integer XOR: fast enough for megabytes.
    n = len(payload)
    k = (key * (n // 4 + 1))[:n]
    return (int.from_bytes(payload, "little") ^ int.from_bytes(k, "little")).to_bytes(n, "little")


def close_frame(code, reason=b"", mask=True):
    return frame(8, struct.pack("!H", code) + reason, mask=mask)
