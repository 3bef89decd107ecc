"""A backend for routes with push: { from_backend }, on Python's websockets:
it grants channels in its 101 and, on command, sends what the edge should
act on or pass through.

The 101 carries Wsedge-Subscribe with the request's ?grant= values,
comma-joined (no grant: no such field). Every message is echoed, except:
  say:TEXT                send TEXT as one text message
  fragments:ID:MS:A|B|C   send A, B, C as the fragments of one text message,
                          MS ms apart; print "ID: first fragment sent" after A
  received?               send the messages this connection received so far,
                          as a JSON list of strings
  {...}                   (JSON) kept, not echoed: received? shows it
Prints "ready" once listening.
"""
import argparse
import asyncio
import json
import sys
import urllib.parse

import websockets


def grants(path):
    return urllib.parse.parse_qs(urllib.parse.urlsplit(path).query).get("grant", [])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    args = ap.parse_args()

    async def fragments(spec):
        tag, ms, text = spec.split(":", 2)
        parts = text.split("|")
        for i, part in enumerate(parts):
            yield part
            if i == 0:
                print(f"{tag}: first fragment sent", flush=True)
            if i + 1 < len(parts):
                await asyncio.sleep(int(ms) / 1000)

    async def handler(ws, path=None):
        received = []
        try:
            async for message in ws:
                received.append(message if isinstance(message, str) else message.hex())
                if not isinstance(message, str):
                    await ws.send(message)
                elif message.startswith("say:"):
                    await ws.send(message[4:])
                elif message.startswith("fragments:"):
                    await ws.send(fragments(message[10:]))
                elif message == "received?":
                    await ws.send(json.dumps(received))
                elif not message.startswith("{"):
                    await ws.send(message)
        except websockets.ConnectionClosed:
            pass

    def extra_headers(path, request_headers):
        granted = grants(path)
        return {"Wsedge-Subscribe": ", ".join(granted)} if granted else {}

    async def serve():
        async with websockets.serve(handler, "127.0.0.1", args.port, max_size=None,
                                    extra_headers=extra_headers, ping_interval=None):
            print("ready", flush=True)
            await asyncio.Future()

    asyncio.run(serve())


if __name__ == "__main__":
    sys.exit(main())
