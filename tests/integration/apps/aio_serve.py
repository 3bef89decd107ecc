"""Serves an aiohttp app on 127.0.0.1:PORT, says "ready" once it listens,
and runs until SIGTERM ends the process (the app backends' common end)."""
import asyncio

from aiohttp import web


def serve(app, port):
    async def run():
        runner = web.AppRunner(app)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        print("ready", flush=True)
        await asyncio.Event().wait()

    asyncio.run(run())
