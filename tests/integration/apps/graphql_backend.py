"""A GraphQL endpoint without a GraphQL library (aiohttp), for the integration tests.

Usage: graphql_backend.py --port PORT [--name NAME]; prints "ready" once listening.

One path, /graphql, two ways in, as Apollo, Hasura and the like serve it:
  POST /graphql, a JSON {query, variables?, operationName?}: answered with
    JSON. The "schema" is hand-rolled: Query.hello(name: String = "world")
    -> "Hello, NAME!" and Query.server -> NAME; an unknown field gives
    {"errors": [...]} (status 200, as GraphQL over HTTP does); a body that is
    not such JSON gives 400.
  GET /graphql upgraded to WebSocket with the subprotocol
    graphql-transport-ws (https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md):
    connection_init -> connection_ack; ping -> pong; subscribe {id, payload:
    {query: "subscription { count(to: N) }", variables?}} -> N "next"
    messages {data: {count: 1..N}}, then "complete"; a client "complete"
    stops a subscription. The protocol's closes: 4406 without the
    subprotocol, 4401 a subscribe before the ack, 4429 a second
    connection_init, 4409 an id in use, 4400 a message that is not one,
    4408 no connection_init within 3 s.
"""
import argparse
import asyncio
import json
import re

from aiohttp import WSMsgType, web

from aio_serve import serve

PROTOCOL = "graphql-transport-ws"


def argument(query, variables, field, arg, default):
    """The value of field(arg: ...) in query: a literal, or a $variable."""
    m = re.search(rf"\b{field}\s*\(\s*{arg}\s*:\s*(\$\w+|\"[^\"]*\"|-?\d+)\s*\)", query)
    if not m:
        return default
    v = m.group(1)
    if v.startswith("$"):
        return variables.get(v[1:], default)
    return json.loads(v)


def resolve_query(query, variables, name):
    """A flat selection set of hello and server fields."""
    body = re.search(r"\{(.*)\}", query, re.S)
    if not body:
        return {"errors": [{"message": "Syntax Error: expected a selection set"}]}
    data, errors = {}, []
    for field in re.findall(r"\w+", re.sub(r"\([^)]*\)", " ", body.group(1))):
        if field == "hello":
            data["hello"] = f"Hello, {argument(query, variables, 'hello', 'name', 'world')}!"
        elif field == "server":
            data["server"] = name
        else:
            errors.append({"message": f"Cannot query field \"{field}\" on type \"Query\"."})
    return {"errors": errors} if errors else {"data": data}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--name", default="graphql")
    args = ap.parse_args()

    async def http_query(request):
        try:
            body = await request.json()
        except (ValueError, UnicodeDecodeError):
            return web.json_response({"errors": [{"message": "the body must be JSON"}]}, status=400)
        if not isinstance(body, dict) or not isinstance(body.get("query"), str):
            return web.json_response({"errors": [{"message": "a query is needed"}]}, status=400)
        query = body["query"]
        if re.match(r"\s*subscription\b", query):
            return web.json_response({"errors": [{"message": "subscriptions are over WebSocket"}]},
                                     status=400)
        return web.json_response(resolve_query(query, body.get("variables") or {}, args.name))

    async def subscription(ws, sid, payload):
        query = payload.get("query", "")
        if not re.match(r"\s*subscription\b", query) or "count" not in query:
            await ws.send_json({"id": sid, "type": "error",
                                "payload": [{"message": "only subscription { count(to: N) }"}]})
            return
        to = int(argument(query, payload.get("variables") or {}, "count", "to", 3))
        for n in range(1, to + 1):
            await ws.send_json({"id": sid, "type": "next", "payload": {"data": {"count": n}}})
            await asyncio.sleep(0.01)
        await ws.send_json({"id": sid, "type": "complete"})

    async def websocket(request):
        ws = web.WebSocketResponse(protocols=(PROTOCOL,))
        if not ws.can_prepare(request).ok:
            return web.Response(status=400, text="POST a query, or upgrade to WebSocket\n")
        await ws.prepare(request)
        if ws.ws_protocol != PROTOCOL:
            await ws.close(code=4406, message=b"Subprotocol not acceptable")
            return ws
        acked = False
        running = {}

        async def init_deadline():
            await asyncio.sleep(3)
            if not acked:
                await ws.close(code=4408, message=b"Connection initialisation timeout")

        deadline = asyncio.ensure_future(init_deadline())
        try:
            async for msg in ws:
                if msg.type != WSMsgType.TEXT:
                    await ws.close(code=4400, message=b"Invalid message")
                    break
                try:
                    m = json.loads(msg.data)
                    kind = m["type"]
                except (ValueError, KeyError, TypeError):
                    await ws.close(code=4400, message=b"Invalid message")
                    break
                if kind == "connection_init":
                    if acked:
                        await ws.close(code=4429, message=b"Too many initialisation requests")
                        break
                    acked = True
                    await ws.send_json({"type": "connection_ack"})
                elif kind == "ping":
                    await ws.send_json({"type": "pong"})
                elif kind == "pong":
                    pass
                elif kind == "subscribe":
                    if not acked:
                        await ws.close(code=4401, message=b"Unauthorized")
                        break
                    sid = m.get("id")
                    if sid in running and not running[sid].done():
                        await ws.close(code=4409, message=f"Subscriber for {sid} already exists".encode())
                        break
                    running[sid] = asyncio.ensure_future(subscription(ws, sid, m.get("payload") or {}))
                elif kind == "complete":
                    task = running.pop(m.get("id"), None)
                    if task:
                        task.cancel()
                else:
                    await ws.close(code=4400, message=b"Invalid message")
                    break
        finally:
            deadline.cancel()
            for task in running.values():
                task.cancel()
        return ws

    app = web.Application()
    app.router.add_post("/graphql", http_query)
    app.router.add_get("/graphql", websocket)
    serve(app, args.port)


if __name__ == "__main__":
    main()
