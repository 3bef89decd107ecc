"""Hand-written backends that misbehave on purpose.

Usage: raw_backend.py PORT MODE RECORD_FILE [ARG]
Every byte received from the proxy is appended to RECORD_FILE. Modes:
  status CODE       answer the upgrade with HTTP CODE and a short body
  bad-accept        answer 101 with a wrong Sec-WebSocket-Accept
  silent            never answer the upgrade
  die-mid-message   accept, then on the first frame send half of a large
                    frame, print "half-sent" and wait to be killed
  violate           accept, then send a masked frame (servers must not mask);
                    print "got close CODE" for the proxy's answer
  slow-reader       accept, then read ARG bytes per 10 ms; print "received N" at EOF
  chaos             accept, then (chosen per connection from seed ARG) send random
                    bytes, or frames with random opcodes, bits, lengths and cuts, or
                    echo only half of what arrives; then close or reset
  flood SIZE        accept, then send binary frames of SIZE bytes as fast as the proxy
                    takes them; print "got close CODE REASON" for the proxy's close
  hints             answer 103 Early Hints, then 101; echo every data frame
  mute              accept, echo the first data frame (answering pings until then), print
                    "muted", then neither read nor write again (a host that vanished)
Prints "ready" once listening.
"""
import base64
import hashlib
import os
import random
import socket
import struct
import sys
import threading
import time

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def accept_key(key):
    return base64.b64encode(hashlib.sha1((key + GUID).encode()).digest()).decode()


def main():
    port, mode, record = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    arg = sys.argv[4] if len(sys.argv) > 4 else ""
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(256)
    print("ready", flush=True)
    lock = threading.Lock()

    def log(data):
        with lock, open(record, "ab") as f:
            f.write(data)

    def read_head(conn):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return None, data
            log(chunk)
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        headers = {}
        for line in head.decode("latin-1").split("\r\n")[1:]:
            k, v = line.split(":", 1)
            headers[k.strip().lower()] = v.strip()
        return headers, rest

    def upgrade(conn, headers, accept=None):
        conn.sendall(("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                      f"Sec-WebSocket-Accept: {accept or accept_key(headers['sec-websocket-key'])}\r\n\r\n").encode())

    def drain(conn):
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                return
            log(chunk)

    seeds = random.Random(int(arg) if mode == "chaos" and arg else 0)

    def frames(conn, data=b""):
        """Yields (opcode, payload) of the masked frames a client sends."""
        while True:
            while len(data) < 2 or len(data) < header_len(data):
                chunk = conn.recv(65536)
                if not chunk:
                    return
                log(chunk)
                data += chunk
            n = data[1] & 0x7F
            pos = 2
            if n == 126:
                n, pos = struct.unpack("!H", data[2:4])[0], 4
            elif n == 127:
                n, pos = struct.unpack("!Q", data[2:10])[0], 10
            key, pos = data[pos:pos + 4], pos + 4
            while len(data) < pos + n:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                log(chunk)
                data += chunk
            payload = bytes(b ^ key[i % 4] for i, b in enumerate(data[pos:pos + n]))
            yield data[0] & 0x0F, payload
            data = data[pos + n:]

    def header_len(data):
        n = data[1] & 0x7F
        return 2 + (2 if n == 126 else 8 if n == 127 else 0) + 4

    def chaos(conn, rng):
        choice = rng.random()
        if choice < 0.3:
            conn.sendall(rng.randbytes(rng.randint(1, 5000)))
        elif choice < 0.7:
            for _ in range(rng.randint(1, 20)):
                n = rng.choice([0, 1, 125, 126, 200, 65536, 70000])
                head = bytes([rng.choice([0x81, 0x82, 0x01, 0x00, 0x80, 0x89, 0x8A, 0x88, 0xC2, 0x83])])
                if n < 126:
                    head += bytes([n])
                elif n < 65536:
                    head += bytes([126]) + struct.pack("!H", n)
                else:
                    head += bytes([127]) + struct.pack("!Q", n)
                conn.sendall(head + rng.randbytes(n)[:rng.randint(0, n)])
        else:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                conn.sendall(chunk[:len(chunk) // 2])
        time.sleep(rng.random() * 0.2)
        if rng.random() < 0.3:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # RST

    def handle(conn):
        with lock:
            rng = random.Random(seeds.random())
        try:
            headers, rest = read_head(conn)
            if headers is None:
                return
            if mode == "status":
                body = f"backend says {arg}\n".encode()
                conn.sendall(f"HTTP/1.1 {arg} Nope\r\nContent-Length: {len(body)}\r\n"
                             "Content-Type: text/plain\r\n\r\n".encode() + body)
                drain(conn)  # record anything that would be smuggled through
            elif mode == "bad-accept":
                upgrade(conn, headers, accept="AAAAAAAAAAAAAAAAAAAAAAAAAAA=")
                drain(conn)
            elif mode == "silent":
                drain(conn)
            elif mode == "die-mid-message":
                upgrade(conn, headers)
                data = rest
                while len(data) < 2:
                    data += conn.recv(65536)
                # A 100,000-byte binary frame, of which only half is sent.
                conn.sendall(bytes([0x82, 127]) + struct.pack("!Q", 100000) + b"x" * 50000)
                print("half-sent", flush=True)
                time.sleep(3600)
            elif mode == "violate":
                upgrade(conn, headers)
                conn.sendall(bytes([0x81, 0x82]) + b"\x01\x02\x03\x04" + bytes([ord("h") ^ 1, ord("i") ^ 2]))
                data = b""
                while True:
                    chunk = conn.recv(65536)
                    if not chunk:
                        break
                    data += chunk
                    if len(data) >= 2 and data[0] == 0x88:
                        key = data[2:6]
                        payload = bytes(b ^ key[i % 4] for i, b in enumerate(data[6:6 + (data[1] & 0x7F)]))
                        if len(payload) >= 2:
                            print(f"got close {struct.unpack('!H', payload[:2])[0]}", flush=True)
                            break
            elif mode == "chaos":
                upgrade(conn, headers)
                chaos(conn, rng)
            elif mode == "flood":
                upgrade(conn, headers)

                def watch():
                    for op, payload in frames(conn, rest):
                        if op == 8:
                            code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                            print(f"got close {code} {payload[2:].decode()}", flush=True)
                            return

                threading.Thread(target=watch, daemon=True).start()
                size = int(arg)
                head = bytes([0x82, 127]) + struct.pack("!Q", size) if size > 0xFFFF else \
                    bytes([0x82, 126]) + struct.pack("!H", size)
                chunk = head + b"f" * size
                while True:
                    conn.sendall(chunk)
            elif mode == "hints":
                conn.sendall(b"HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload\r\n\r\n")
                upgrade(conn, headers)
                for op, payload in frames(conn, rest):
                    if op == 8:
                        conn.sendall(bytes([0x88, len(payload)]) + payload)
                        break
                    conn.sendall(bytes([0x80 | op, len(payload)]) + payload)
            elif mode == "mute":
                upgrade(conn, headers)
                for op, payload in frames(conn, rest):
                    if op == 9:
                        conn.sendall(bytes([0x8A, len(payload)]) + payload)
                    elif op in (1, 2):
                        conn.sendall(bytes([0x80 | op, len(payload)]) + payload)
                        break
                print("muted", flush=True)
                time.sleep(3600)
            elif mode == "slow-reader":
                upgrade(conn, headers)
                total = len(rest)
                step = int(arg)
                while True:
                    chunk = conn.recv(step)
                    if not chunk:
                        break
                    total += len(chunk)
                    time.sleep(0.01)
                print(f"received {total}", flush=True)
        except OSError:
            pass
        finally:
            conn.close()

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
