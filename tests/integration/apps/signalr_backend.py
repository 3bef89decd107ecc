"""A SignalR-style hub without the library (aiohttp), for the integration tests.

Usage: signalr_backend.py --port PORT [--name NAME]; prints "ready" once listening.

The flow, as ASP.NET Core SignalR clients do it:
  POST /chat/negotiate (a JSON body, `{}` will do; anything else is 400)
    -> 200 {connectionId, connectionToken, negotiateVersion: 1, url: "/chat?id=TOKEN",
            availableTransports: [WebSockets], server: NAME}
  GET /chat?id=TOKEN, upgraded to WebSocket: only with a token this process
    issued and nobody used yet; otherwise 404 "No Connection with that ID"
    (a token lives on the backend that issued it, which is why a hub behind
    several backends needs sticky sessions). A plain GET is 400.
  Then the JSON hub protocol, every message ending in the record separator
  0x1e: the client's handshake {"protocol":"json","version":1} is answered
  with {}; an invocation {"type":1,"target":"SendMessage","arguments":[user,text]}
  sends {"type":1,"target":"ReceiveMessage","arguments":[user,text,NAME]} to
  every connection, and a completion {"type":3,"invocationId":ID,"result":...}
  to the caller when it gave an invocationId; a ping (type 6) gets a ping;
  a close (type 7) ends the connection.
"""
import argparse
import json
import secrets

from aiohttp import WSMsgType, web

from aio_serve import serve

RS = "\x1e"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="hub")
    args = ap.parse_args()

    issued = {}  # connectionToken -> connectionId, until an upgrade uses it
    connections = set()

    async def negotiate(request):
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"error": "the body must be JSON"}, status=400)
        if not isinstance(body, dict):
            return web.json_response({"error": "the body must be a JSON object"}, status=400)
        connection_id, token = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
        issued[token] = connection_id
        return web.json_response({
            "negotiateVersion": 1,
            "connectionId": connection_id,
            "connectionToken": token,
            "url": f"/chat?id={token}",
            "availableTransports": [{"transport": "WebSockets", "transferFormats": ["Text", "Binary"]}],
            "server": args.name,
        })

    async def send(ws, message):
        await ws.send_str(json.dumps(message) + RS)

    async def hub(request):
        token = request.query.get("id", "")
        if token not in issued:
            return web.Response(status=404, text="No Connection with that ID\n")
        ws = web.WebSocketResponse()
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="Connection ID required for a WebSocket\n")
        del issued[token]
        await ws.prepare(request)
        handshaken = False
        connections.add(ws)
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    break
                for record in msg.data.split(RS)[:-1]:  # each ends with RS
                    m = json.loads(record)
                    if not handshaken:
                        if m.get("protocol") != "json":
                            await ws.send_str(json.dumps({"error": "only the json protocol"}) + RS)
                            return ws
                        handshaken = True
                        await ws.send_str("{}" + RS)
                    elif m.get("type") == 1 and m.get("target") == "SendMessage":
                        user, text = m["arguments"]
                        out = {"type": 1, "target": "ReceiveMessage", "arguments": [user, text, args.name]}
                        for other in list(connections):
                            await send(other, out)
                        if "invocationId" in m:
                            await send(ws, {"type": 3, "invocationId": m["invocationId"], "result": len(connections)})
                    elif m.get("type") == 1:
                        if "invocationId" in m:
                            await send(ws, {"type": 3, "invocationId": m["invocationId"],
                                            "error": f"Unknown hub method '{m.get('target')}'"})
                    elif m.get("type") == 6:
                        await send(ws, {"type": 6})
                    elif m.get("type") == 7:
                        return ws
        finally:
            connections.discard(ws)
            await ws.close()
        return ws

    app = web.Application()
    app.router.add_post("/chat/negotiate", negotiate)
    app.router.add_get("/chat", hub)
    serve(app, args.port)


if __name__ == "__main__":
    main()
