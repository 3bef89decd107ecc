"""A hand-written HTTP/1.1 backend (stdlib only) that misbehaves on purpose.

Usage: raw_http_backend.py PORT MODE RECORD_FILE
Every byte received is appended to RECORD_FILE, so a test can prove what
reached the backend (and what never did). Requests are parsed by their
Content-Length or chunked framing; for each one it prints
"request PEERPORT METHOD TARGET BODYLENGTH", and "accepted PEERPORT" for each
connection. Modes:
  ok                   answers every request with a small valid 200 keep-alive
                       response whose body is "ok N PEERPORT\\n" (N counts the
                       requests of this connection)
  two-content-length   answers every request with a 200 carrying two differing
                       Content-Length values, then waits for more requests on
                       that connection (so a reuse of it would show)
  bad-chunk            a 200 chunked head, one good chunk, then an invalid chunk
                       size; then holds the connection open
  close-after-request  reads one whole request, then closes without answering
  truncate             a 200 with Content-Length: 1000 and only 100 bytes of
                       body, then closes
  no-length            a 200 with neither Content-Length nor Transfer-Encoding,
                       whose body ("close-delimited\\n" * 100) ends at the close
Prints "ready" once listening on 127.0.0.1.
"""
import socket
import sys
import threading
import time

MODES = ("ok", "two-content-length", "bad-chunk", "close-after-request", "truncate",
         "no-length")


class BadRequest(Exception):
    pass


class Reader:
    """Reads one connection, recording every byte it receives."""

    def __init__(self, conn, log):
        self.conn = conn
        self.log = log
        self.buf = b""

    def fill(self):
        chunk = self.conn.recv(65536)
        if not chunk:
            raise EOFError
        self.log(chunk)
        self.buf += chunk

    def line(self):
        while b"\r\n" not in self.buf:
            if len(self.buf) > 1 << 20:
                raise BadRequest("line too long")
            self.fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def exact(self, n):
        while len(self.buf) < n:
            self.fill()
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def request(self):
        """(method, target, headers, body length) of the next request."""
        start = self.line()
        while start == b"":  # RFC 9112 §2.2: empty lines before a request are ignored
            start = self.line()
        parts = start.split(b" ")
        if len(parts) != 3:
            raise BadRequest(f"request line {start!r}")
        headers = []
        while True:
            line = self.line()
            if not line:
                break
            if b":" not in line:
                raise BadRequest(f"field {line!r}")
            k, v = line.split(b":", 1)
            headers.append((k.strip().lower().decode("latin-1"), v.strip().decode("latin-1")))
        te = [v.lower() for k, v in headers if k == "transfer-encoding"]
        cl = [v for k, v in headers if k == "content-length"]
        if te:
            if te != ["chunked"]:
                raise BadRequest(f"transfer-encoding {te}")
            length = self.chunked()
        elif cl:
            if len(set(cl)) != 1 or not cl[0].isdigit():
                raise BadRequest(f"content-length {cl}")
            length = len(self.exact(int(cl[0])))
        else:
            length = 0
        return parts[0].decode("latin-1"), parts[1].decode("latin-1"), headers, length

    def chunked(self):
        total = 0
        while True:
            size_line = self.line().split(b";", 1)[0].rstrip(b" \t")
            if not size_line or any(c not in b"0123456789abcdefABCDEF" for c in size_line):
                raise BadRequest(f"chunk size {size_line[:40]!r}")
            size = int(size_line, 16)
            if size == 0:
                while self.line():  # trailers, up to the empty line
                    pass
                return total
            self.exact(size)
            if self.exact(2) != b"\r\n":
                raise BadRequest("no CRLF after chunk data")
            total += size


def main():
    port, mode, record = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    if mode not in MODES:
        sys.exit(f"unknown mode {mode!r}; one of {', '.join(MODES)}")
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", port))
    srv.listen(256)
    lock = threading.Lock()

    def log(data):
        with lock, open(record, "ab") as f:
            f.write(data)

    def say(text):
        with lock:
            print(text, flush=True)

    def hold(reader):
        """Keeps reading (and recording) until the peer closes."""
        try:
            while True:
                reader.fill()
        except (EOFError, OSError):
            pass

    def handle(conn, peer):
        reader = Reader(conn, log)
        say(f"accepted {peer}")
        count = 0
        try:
            while True:
                try:
                    method, target, headers, length = reader.request()
                except EOFError:
                    return
                except BadRequest as e:
                    say(f"bad request {peer}: {e}")
                    hold(reader)
                    return
                count += 1
                say(f"request {peer} {method} {target} {length}")
                close = any(k == "connection" and "close" in v.lower() for k, v in headers)
                if mode == "ok":
                    body = f"ok {count} {peer}\n".encode()
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                                 b"Content-Length: %d\r\n%s\r\n%s" %
                                 (len(body), b"Connection: close\r\n" if close else b"", body))
                    if close:
                        return
                elif mode == "two-content-length":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n"
                                 b"hello!")
                elif mode == "bad-chunk":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                                 b"5\r\nhello\r\n")
                    time.sleep(0.2)  # the good chunk travels on its own first
                    conn.sendall(b"zz\r\nsmuggled-response-bytes\r\n0\r\n\r\n")
                    hold(reader)
                    return
                elif mode == "close-after-request":
                    return
                elif mode == "truncate":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + b"t" * 100)
                    time.sleep(0.2)
                    return
                elif mode == "no-length":
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n" +
                                 b"close-delimited\n" * 100)
                    return
        except OSError:
            pass
        finally:
            conn.close()

    print("ready", flush=True)
    while True:
        conn, addr = srv.accept()
        threading.Thread(target=handle, args=(conn, addr[1]), daemon=True).start()


if __name__ == "__main__":
    main()
