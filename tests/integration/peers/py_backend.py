"""A WebSocket backend on Python's websockets library (Debian python3-websockets).

Echoes every message by default. Prints "ready" once listening, and
"closed CODE REASON" whenever a connection ends.
"""
import argparse
import asyncio
import http
import json
import os
import resource
import sys

import websockets


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--subprotocol", action="append", default=[])
    ap.add_argument("--report-headers", action="store_true",
                    help="first send the request headers as a JSON text message")
    ap.add_argument("--close-after", type=int, default=0,
                    help="after echoing this many messages, close with --close-code")
    ap.add_argument("--close-code", type=int, default=1000)
    ap.add_argument("--close-reason", default="")
    ap.add_argument("--corrupt-message", type=int, default=0,
                    help="flip one byte in the middle of the Nth echo (1-based)")
    ap.add_argument("--sink-delay-ms", type=int, default=0,
                    help="do not echo: count bytes, sleeping this long per message")
    ap.add_argument("--name", default="",
                    help="say who this is: an X-Backend field in every 101")
    ap.add_argument("--health-file", default="",
                    help="answer GET /healthz with 503 while this file exists (200-style 101 otherwise)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    async def handler(ws, path=None):
        if args.report_headers:
            await ws.send(json.dumps({"path": ws.path, "headers": list(ws.request_headers.raw_items())}))
        count = 0
        received = 0
        try:
            async for message in ws:
                if args.sink_delay_ms:
                    received += len(message)
                    await asyncio.sleep(args.sink_delay_ms / 1000)
                    continue
                count += 1
                if count == args.corrupt_message:
                    raw = bytearray(message.encode() if isinstance(message, str) else message)
                    raw[len(raw) // 2] ^= 0x01
                    message = raw.decode(errors="replace") if isinstance(message, str) else bytes(raw)
                await ws.send(message)
                if args.close_after and count >= args.close_after:
                    await ws.close(args.close_code, args.close_reason)
                    break
        except websockets.ConnectionClosed:
            pass
        if args.sink_delay_ms:
            print(f"received {received}", flush=True)
        print(f"closed {ws.close_code} {ws.close_reason}", flush=True)

    async def process_request(path, headers):
        # A health check's request: refused while the health file exists.
        if args.health_file and path.split("?")[0] == "/healthz" and os.path.exists(args.health_file):
            return http.HTTPStatus.SERVICE_UNAVAILABLE, [], b"unhealthy\n"
        return None

    async def serve():
        async with websockets.serve(handler, "127.0.0.1", args.port, max_size=None,
                                    process_request=process_request,
                                    extra_headers={"X-Backend": args.name} if args.name else None,
                                    subprotocols=args.subprotocol or None,
                                    max_queue=1 if args.sink_delay_ms else 32,
                                    ping_interval=None):
            print("ready", flush=True)
            await asyncio.Future()

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
