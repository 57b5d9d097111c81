"""The practical floor for a Python proxy: aiohttp server + aiohttp client, no parsing, no policy.

Run: python bare_proxy.py --port 9311 --upstream http://127.0.0.1:9301
"""

from __future__ import annotations

import argparse

import aiohttp
from aiohttp import web

HOP = {"host", "content-length", "transfer-encoding", "connection"}


def make_app(upstream: str) -> web.Application:
    app = web.Application()

    async def start(app: web.Application) -> None:
        app["client"] = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=1024))

    async def stop(app: web.Application) -> None:
        await app["client"].close()

    async def proxy(request: web.Request) -> web.StreamResponse:
        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP}
        async with request.app["client"].post(upstream + request.path, data=await request.read(), headers=headers) as r:
            resp = web.StreamResponse(status=r.status, headers={"content-type": r.headers["content-type"]})
            await resp.prepare(request)
            async for chunk in r.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
            return resp

    app.on_startup.append(start)
    app.on_cleanup.append(stop)
    app.router.add_post("/{tail:.*}", proxy)
    return app


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--upstream", required=True)
    a = p.parse_args()
    import uvloop

    uvloop.install()
    web.run_app(
        make_app(a.upstream), host="127.0.0.1", port=a.port, print=None, access_log=None, backlog=2048
    )  # as the gateway


if __name__ == "__main__":
    main()
