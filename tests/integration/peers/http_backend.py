"""An HTTP/1.1 backend on aiohttp (Debian python3-aiohttp), for plain HTTP
through wsedge. Every response carries X-Backend: NAME.

Usage: http_backend.py --port N [--name NAME]
Prints "ready" once listening on 127.0.0.1. Endpoints:
  /echo              any method: JSON with method, target (path and query as
                     received), headers ([name, value] pairs in order), the
                     body's length and SHA-256, the backend's name, and the peer
                     port of the TCP connection (the same port for requests
                     served on one connection)
  /upload            reads the body as it streams in; JSON with its length and SHA-256
  /chunked?n=K       a chunked response of K chunks ("chunk I\\n" each), then a
                     trailer X-Trailer: done (&trailer=0: none)
  /download?size=N   N bytes of pattern() written in 64 KiB pieces, with
                     Content-Length (&chunked=1: chunked instead)
  /status/N          status N; no body for 1xx, 204 and 304, "status N\\n" otherwise
  /slow?ms=N         answers "slow\\n" after N ms
  /hop               answers with hop-by-hop fields of its own (Connection: X-Hop-Back,
                     X-Hop-Back, Keep-Alive) beside an end-to-end X-End-To-End
  /ws                a WebSocket that echoes every message
"""
import argparse
import asyncio
import hashlib
import resource
import sys

from aiohttp import WSMsgType, web

PIECE = 65536


def pattern(size):
    """The bytes /download sends: 0, 1, ... 255, repeated; the tests build
    the same bytes to check what arrived."""
    block = bytes(range(256)) * (PIECE // 256)
    full, rest = divmod(size, PIECE)
    return block * full + block[:rest]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="http")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    block = pattern(PIECE)

    def peer_port(request):
        peer = request.transport.get_extra_info("peername") if request.transport else None
        return peer[1] if peer else None

    async def read_body(request):
        digest = hashlib.sha256()
        length = 0
        async for chunk in request.content.iter_any():
            digest.update(chunk)
            length += len(chunk)
        return length, digest.hexdigest()

    async def echo(request):
        length, sha = await read_body(request)
        return web.json_response({
            "method": request.method,
            "target": request.raw_path,
            "headers": [[k.decode("latin-1"), v.decode("latin-1")] for k, v in request.raw_headers],
            "body_length": length,
            "body_sha256": sha,
            "chunked": "chunked" in request.headers.get("Transfer-Encoding", "").lower(),
            "name": args.name,
            "peer_port": peer_port(request),
        })

    async def upload(request):
        length, sha = await read_body(request)
        return web.json_response({"body_length": length, "body_sha256": sha, "name": args.name,
                                  "peer_port": peer_port(request)})

    async def chunked(request):
        n = int(request.query.get("n", "3"))
        trailer = request.query.get("trailer", "1") == "1"
        resp = web.StreamResponse(headers={"Content-Type": "text/plain"})
        # aiohttp writes no trailers: the chunk framing is written by hand
        # (with the length check off, aiohttp adds none of its own).
        resp._length_check = False
        resp.headers["Transfer-Encoding"] = "chunked"
        await resp.prepare(request)
        for i in range(n):
            data = f"chunk {i}\n".encode()
            await resp.write(b"%x\r\n%s\r\n" % (len(data), data))
        await resp.write(b"0\r\nX-Trailer: done\r\n\r\n" if trailer else b"0\r\n\r\n")
        await resp.write_eof()
        return resp

    async def download(request):
        size = int(request.query["size"])
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        if request.query.get("chunked") == "1":
            resp.enable_chunked_encoding()
        else:
            resp.content_length = size
        await resp.prepare(request)
        left = size
        while left > 0:
            n = min(left, PIECE)
            await resp.write(block if n == PIECE else block[:n])
            left -= n
        await resp.write_eof()
        return resp

    async def status(request):
        code = int(request.match_info["code"])
        if code < 200 or code in (204, 304):
            return web.Response(status=code)
        return web.Response(status=code, text=f"status {code}\n")

    async def slow(request):
        await asyncio.sleep(int(request.query.get("ms", "1000")) / 1000)
        return web.Response(text="slow\n")

    async def hop(request):
        return web.Response(text="hop\n", headers={
            "Connection": "X-Hop-Back", "X-Hop-Back": "secret", "Keep-Alive": "timeout=99",
            "X-End-To-End": "kept"})

    async def websocket(request):
        ws = web.WebSocketResponse(max_msg_size=0)
        await ws.prepare(request)
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                await ws.send_str(msg.data)
            elif msg.type == WSMsgType.BINARY:
                await ws.send_bytes(msg.data)
        return ws

    async def name_it(request, response):
        response.headers["X-Backend"] = args.name

    app = web.Application()
    app.on_response_prepare.append(name_it)
    app.add_routes([
        web.route("*", "/echo", echo),
        web.route("*", "/upload", upload),
        web.get("/chunked", chunked),
        web.get("/download", download),
        web.route("*", "/status/{code:[0-9]+}", status),
        web.get("/slow", slow),
        web.get("/hop", hop),
        web.get("/ws", websocket),
    ])

    async def serve():
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", args.port, backlog=256).start()
        print("ready", flush=True)
        await asyncio.Future()

    try:
        asyncio.run(serve())
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    sys.exit(main())
