"""Response helpers: JSON bodies, the gateway's headers, OpenAI/Anthropic error shapes."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from hybridgate.errors import GatewayError

JSON = "application/json"


def ascii_header(value: str, limit: int = 300) -> str:
    """Header values must be latin-1; keep them short and printable ASCII."""
    return value.encode("ascii", "replace").decode("ascii").replace("\r", " ").replace("\n", " ")[:limit]


def json_response(obj: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(obj), status=status, content_type=JSON, headers=headers)


def error_response(
    err: GatewayError, headers: dict[str, str] | None = None, *, anthropic: bool = False
) -> web.Response:
    h = {**(headers or {}), **err.response_headers()}
    body = err.anthropic_body() if anthropic else err.body()
    return web.Response(body=orjson.dumps(body), status=err.status, content_type=JSON, headers=h)
