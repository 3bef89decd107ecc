"""wss:// through wsedge, with real clients: Python websockets over ssl, Node
ws, openssl s_client. Certificates are made here with the openssl CLI."""
import asyncio
import os
import socket
import ssl
import subprocess
import tempfile
import time

import websockets

from harness import (NODE, PEERS, PYTHON, SLOW, WSEDGE, ProxyTestCase, free_port, frame, wait_port)

CERTS = tempfile.mkdtemp(prefix="wsedge-tls-")


def openssl(*args):
    subprocess.run(["openssl", *args], check=True, capture_output=True)


def make_certs():
    d = CERTS
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "2",
            "-subj", "/CN=wsedge test CA", "-keyout", f"{d}/ca.key", "-out", f"{d}/ca.pem")

    def leaf(name, cn, san, days="2"):
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-subj", f"/CN={cn}",
                "-keyout", f"{d}/{name}.key", "-out", f"{d}/{name}.csr")
        with open(f"{d}/{name}.ext", "w") as f:
            f.write(f"subjectAltName={san}\n")
        openssl("x509", "-req", "-in", f"{d}/{name}.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
                "-CAcreateserial", "-days", days, "-extfile", f"{d}/{name}.ext", "-out", f"{d}/{name}.pem")

    leaf("localhost", "localhost", "DNS:localhost,IP:127.0.0.1")
    # An RSA certificate, so that static-RSA suites could be offered at all.
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", f"{d}/rsa.key",
            "-out", f"{d}/rsa.csr")
    with open(f"{d}/rsa.ext", "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", f"{d}/rsa.csr", "-CA", f"{d}/ca.pem", "-CAkey", f"{d}/ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", f"{d}/rsa.ext", "-out", f"{d}/rsa.pem")
    leaf("second", "second.test", "DNS:second.test")
    leaf("expired", "localhost", "DNS:localhost", days="-1")
    with open(f"{d}/notpem.pem", "w") as f:
        f.write("not a certificate\n")


make_certs()


def client_ssl(server_hostname_check=True):
    ctx = ssl.create_default_context(cafile=f"{CERTS}/ca.pem")
    ctx.check_hostname = server_hostname_check
    return ctx


class TlsTestCase(ProxyTestCase):
    def start_tls_proxy(self, backend_port, certs=("localhost",), min_version=None, limits=None):
        port = free_port()
        lines = ["workers: 2", "listeners:", f"  - address: 127.0.0.1:{port}", "    tls:", "      certificates:"]
        lines += [f"        - {{ cert: {CERTS}/{c}.pem, key: {CERTS}/{c}.key }}" for c in certs]
        if min_version:
            lines.append(f'      min_version: "{min_version}"')
        lines += ["    routes: [ { pool: echo } ]", "pools:", "  echo:", f"    backends: [ 127.0.0.1:{backend_port} ]"]
        if limits:
            lines.append("limits:")
            lines += [f"  {k}: {v}" for k, v in limits.items()]
        path = self.tmp_path(f"tls-{port}.yaml")
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
        proc = self.spawn([WSEDGE, "-c", path, "--log-level", "debug"], name="wsedge")
        self._proxies.append(proc)
        wait_port(port)
        proc.port = port
        proc.url = f"wss://localhost:{port}"
        return proc

    def connect(self, url, ctx=None, server_hostname=None, **kw):
        kw.setdefault("max_size", None)
        kw.setdefault("compression", None)
        kw.setdefault("ping_interval", None)
        kw.setdefault("open_timeout", 10 * SLOW)
        return websockets.connect(url, ssl=ctx or client_ssl(), server_hostname=server_hostname, **kw)


class WssEcho(TlsTestCase):
    def test_python_client_verifies_the_ca_and_gets_tls13(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port)

        async def run():
            async with self.connect(proxy.url + "/") as ws:
                tls = ws.transport.get_extra_info("ssl_object")
                self.assertEqual(tls.version(), "TLSv1.3")
                self.assertEqual(tls.selected_alpn_protocol(), None)  # Python offers none by default
                for n in (0, 16384, 100 * 1024, 16 << 20):
                    data = os.urandom(n)
                    await ws.send(data)
                    self.assertEqual(await ws.recv(), data, n)
            self.assertEqual(ws.close_code, 1000)

        asyncio.run(run())

    def test_sni_selects_the_second_certificate(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port, certs=("localhost", "second"))

        async def run():
            # second.test does not resolve: connect the socket ourselves.
            sock = socket.create_connection(("127.0.0.1", proxy.port))
            async with self.connect(f"wss://second.test:{proxy.port}/", sock=sock,
                                    server_hostname="second.test") as ws:
                cert = ws.transport.get_extra_info("peercert")
                self.assertIn(("DNS", "second.test"), cert["subjectAltName"])
                await ws.send("via second.test")
                self.assertEqual(await ws.recv(), "via second.test")

        asyncio.run(run())

    def test_node_client_with_ca(self):
        backend = self.start_node_backend()
        proxy = self.start_tls_proxy(backend.port)
        out = subprocess.run([NODE, os.path.join(PEERS, "node_client.js"), proxy.url + "/", "0", "16384", "102400",
                              str(16 << 20), "--fragment", str(1 << 20)],
                             env={**os.environ, "NODE_PATH": "/usr/share/nodejs",
                                  "NODE_EXTRA_CA_CERTS": f"{CERTS}/ca.pem"},
                             capture_output=True, text=True, timeout=60 * SLOW)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(f"ok {16 << 20}\n", out.stdout)

    def test_host_that_the_sni_certificate_does_not_serve_gets_421(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port, certs=("localhost", "second"))
        raw = socket.create_connection(("127.0.0.1", proxy.port))
        conn = client_ssl().wrap_socket(raw, server_hostname="second.test")
        conn.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        head = conn.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 421 Misdirected Request\r\n"), head)
        conn.close()

    def test_forwarded_proto_is_https(self):
        backend = self.start_py_backend("--report-headers")
        proxy = self.start_tls_proxy(backend.port)

        async def run():
            async with self.connect(proxy.url + "/") as ws:
                return await ws.recv()

        self.assertIn('["X-Forwarded-Proto", "https"]', asyncio.run(run()))


class OpensslClient(TlsTestCase):
    def s_client(self, port, *args, stdin=b"", timeout=10):
        return subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-servername", "localhost",
                               "-CAfile", f"{CERTS}/ca.pem", *args], input=stdin, capture_output=True,
                              timeout=timeout * SLOW)

    def test_version_and_alpn(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port)
        out = self.s_client(proxy.port, "-alpn", "http/1.1").stdout.decode()
        # BoringSSL follows the client's order of suites; OpenSSL's starts with AES-256.
        self.assertRegex(out, r"New, TLSv1\.3, Cipher is TLS_AES_(128_GCM_SHA256|256_GCM_SHA384)")
        self.assertIn("ALPN protocol: http/1.1", out)
        self.assertIn("Verify return code: 0 (ok)", out)

    def test_tls11_is_refused(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port)
        out = self.s_client(proxy.port, "-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0")
        text = (out.stdout + out.stderr).decode()
        self.assertNotEqual(out.returncode, 0)
        self.assertRegex(text, r"alert protocol version|unsupported protocol|wrong version number")

    def test_min_version_13_refuses_tls12(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port, min_version="1.3")
        out = self.s_client(proxy.port, "-tls1_2")
        self.assertNotEqual(out.returncode, 0)
        self.assertIn("alert protocol version", (out.stdout + out.stderr).decode())
        self.assertEqual(self.s_client(proxy.port, "-tls1_3").returncode, 0)

    def test_resumed_session_is_reused(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port)
        sess = self.tmp_path("session.pem")
        # Keep the connection open a moment: TLS 1.3 tickets follow the handshake.
        first = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{proxy.port}", "-servername",
                                  "localhost", "-CAfile", f"{CERTS}/ca.pem", "-sess_out", sess],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(0.5 * SLOW)
        first.communicate(b"", timeout=10 * SLOW)
        out = self.s_client(proxy.port, "-sess_in", sess).stdout.decode()
        self.assertIn("Reused, TLSv1.3", out)

    def test_every_tls13_suite_and_a_key_update_carry_websocket_frames(self):
        # After the handshake wsedge runs TLS 1.3 records itself: each suite,
        # and a KeyUpdate that asks for one back, against OpenSSL.
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port)
        upgrade = (b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n")
        for suite in ("TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"):
            client = subprocess.Popen(["openssl", "s_client", "-connect", f"127.0.0.1:{proxy.port}", "-servername",
                                       "localhost", "-CAfile", f"{CERTS}/ca.pem", "-tls1_3", "-ciphersuites", suite],
                                      stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            try:
                # s_client reads its commands ("K": KeyUpdate, update requested) a read at a time.
                for chunk in (upgrade, frame(1, b"before-the-key-update"), b"K\n",
                              frame(1, b"after-the-key-update")):
                    time.sleep(0.3 * SLOW)
                    client.stdin.write(chunk)
                    client.stdin.flush()
                time.sleep(0.5 * SLOW)
                out, _ = client.communicate(b"", timeout=10 * SLOW)
            finally:
                if client.poll() is None:
                    client.kill()
                    client.wait()
            text = out.decode(errors="replace")
            self.assertIn(f"Cipher is {suite}", text)
            self.assertIn("101 Switching Protocols", text, suite)
            self.assertIn("KEYUPDATE", text, suite)
            self.assertIn("before-the-key-update", text, suite)
            self.assertIn("after-the-key-update", text, f"{suite}: nothing came back after the KeyUpdate")
            self.assertNotIn("error", text.lower().replace("verify error:num=0", ""), suite)


class TlsHardening(OpensslClient):
    def test_tls12_offers_ecdhe_with_aead_only(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port, certs=("rsa",))
        for weak in ("AES128-SHA", "AES128-GCM-SHA256", "AES256-SHA256", "ECDHE-RSA-AES128-SHA",
                     "ECDHE-RSA-AES256-SHA384"):
            out = self.s_client(proxy.port, "-tls1_2", "-cipher", weak)
            self.assertNotEqual(out.returncode, 0, f"{weak} was negotiated")
        for strong in ("ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384",
                       "ECDHE-RSA-CHACHA20-POLY1305"):
            out = self.s_client(proxy.port, "-tls1_2", "-cipher", strong)
            self.assertEqual(out.returncode, 0, strong)
            self.assertIn(f"Cipher is {strong}", out.stdout.decode())

    def test_an_http_refusal_over_tls_ends_with_close_notify(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port)
        upgrade_v8 = (b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                      b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                      b"Sec-WebSocket-Version: 8\r\n\r\n")
        for request, status in ((upgrade_v8, b"426"), (b"GET / HTTP/1.1\r\n\r\n", b"400")):
            raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=5 * SLOW)
            # A TCP end without close_notify must raise, not pass for an end.
            ctx = client_ssl()
            ctx.options &= ~ssl.OP_IGNORE_UNEXPECTED_EOF
            s = ctx.wrap_socket(raw, server_hostname="localhost", suppress_ragged_eofs=False)
            s.sendall(request)
            data = b""
            while True:
                chunk = s.recv(65536)  # SSLEOFError here: no close_notify
                if not chunk:
                    break
                data += chunk
            self.assertIn(b"HTTP/1.1 " + status, data)
            s.close()


class TlsAbuse(TlsTestCase):
    def test_garbage_instead_of_client_hello_is_closed_and_others_are_served(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port)
        for junk in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(3000), b"\x16\x03\x01\xff\xff" + b"x" * 100):
            s = socket.create_connection(("127.0.0.1", proxy.port), timeout=5 * SLOW)
            s.sendall(junk)
            try:
                while s.recv(4096):
                    pass
            except (ConnectionResetError, socket.timeout):
                pass
            s.close()

        async def run():
            async with self.connect(proxy.url + "/") as ws:
                await ws.send("still here")
                self.assertEqual(await ws.recv(), "still here")

        asyncio.run(run())

    def test_bad_record_inside_the_tunnel_gives_the_backend_1001(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port)
        raw = socket.create_connection(("127.0.0.1", proxy.port), timeout=5 * SLOW)
        s = client_ssl().wrap_socket(raw, server_hostname="localhost")
        s.sendall(b"GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                  b"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n")
        head = b""
        while b"\r\n\r\n" not in head:
            head += s.recv(4096)
        self.assertTrue(head.startswith(b"HTTP/1.1 101"), head)
        # An application-data record that fails authentication, under the TLS layer.
        os.write(s.fileno(), b"\x17\x03\x03\x00\x20" + os.urandom(32))
        backend.wait_for_output("closed 1001 client went away")
        s.close()

    def test_stalled_handshake_is_closed_at_the_timeout(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port, limits={"handshake_timeout": "500ms"})
        s = socket.create_connection(("127.0.0.1", proxy.port), timeout=10 * SLOW)
        s.sendall(b"\x16\x03\x01\x00\xf0\x01\x00\x00")  # the start of a ClientHello, then nothing
        start = time.monotonic()
        try:
            data = s.recv(4096)
            while data:
                data = s.recv(4096)
        except ConnectionResetError:
            pass
        self.assertLess(time.monotonic() - start, 5 * SLOW)
        s.close()

    def test_200_concurrent_wss_clients(self):
        backend = self.start_py_backend()
        proxy = self.start_tls_proxy(backend.port)

        async def one(i):
            async with self.connect(proxy.url + f"/c{i}", open_timeout=60 * SLOW) as ws:
                msg = f"client {i}".encode() * 50
                await ws.send(msg)
                self.assertEqual(await ws.recv(), msg)

        async def run():
            await asyncio.wait_for(asyncio.gather(*(one(i) for i in range(200))), 120 * SLOW)

        asyncio.run(run())


class TlsConfigErrors(TlsTestCase):
    def check(self, cert, key, expected):
        path = self.tmp_path("bad-tls.yaml")
        with open(path, "w") as f:
            f.write(f"listeners:\n  - address: 127.0.0.1:{free_port()}\n    tls:\n      certificates:\n"
                    f"        - {{ cert: {cert}, key: {key} }}\n    routes: [ {{ pool: p }} ]\n"
                    "pools:\n  p:\n    backends: [ 127.0.0.1:9 ]\n")
        for args in ([WSEDGE, "-c", path, "--check"], [WSEDGE, "-c", path]):
            out = subprocess.run(args, capture_output=True, text=True, timeout=10 * SLOW)
            self.assertEqual(out.returncode, 1, out.stderr)
            self.assertEqual(out.stderr, f"{path}:5:11: {expected}\n")

    def test_missing_key(self):
        self.check(f"{CERTS}/localhost.pem", f"{CERTS}/nope.key",
                   f"cannot read key file '{CERTS}/nope.key': No such file or directory")

    def test_mismatched_key(self):
        self.check(f"{CERTS}/localhost.pem", f"{CERTS}/second.key",
                   f"the key in '{CERTS}/second.key' does not match the certificate in '{CERTS}/localhost.pem'")

    def test_not_pem(self):
        self.check(f"{CERTS}/notpem.pem", f"{CERTS}/localhost.key", f"'{CERTS}/notpem.pem' holds no PEM certificate")

    def test_expired_certificate_warns_and_serves(self):
        path = self.tmp_path("expired.yaml")
        with open(path, "w") as f:
            f.write(f"listeners:\n  - address: 127.0.0.1:{free_port()}\n    tls:\n      certificates:\n"
                    f"        - {{ cert: {CERTS}/expired.pem, key: {CERTS}/expired.key }}\n"
                    "    routes: [ { pool: p }]\npools:\n  p:\n    backends: [ 127.0.0.1:9 ]\n")
        out = subprocess.run([WSEDGE, "-c", path, "--check"], capture_output=True, text=True, timeout=10 * SLOW)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertRegex(out.stderr, rf"{path}:5:11: certificate '{CERTS}/expired.pem' expired on \d{{4}}-\d\d-\d\d; "
                                     r"clients will refuse it \(warning\)")


if __name__ == "__main__":
    import unittest
    unittest.main()
