"""The backend interface.

Every backend speaks OpenAI's wire format towards the gateway: `call` returns an OpenAI-shaped JSON
body and `stream` yields OpenAI-shaped SSE events (`data: {...}\\n\\n`, ending with `data: [DONE]`).
Translation to and from other providers happens inside the backend, at this edge only.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from hybridgate.labels import Trust

Operation = Literal["chat", "completions", "embeddings"]


@dataclass(frozen=True, slots=True)
class Capabilities:
    chat: bool = True
    completions: bool = True
    embeddings: bool = True
    tools: bool = True
    streaming: bool = True


@dataclass(slots=True)
class UpstreamRequest:
    op: Operation
    body: dict[str, Any]  # OpenAI-shaped; `model` already set to the upstream's model name
    allowed_trust: frozenset[Trust]  # the egress boundary; required so no call path can forget it
    stream: bool = False
    request_id: str = ""
    extra_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(slots=True)
class UpstreamResponse:
    status: int
    body: bytes  # OpenAI-shaped JSON, passed to the client as is
    usage: dict[str, Any] | None = None
    headers: Mapping[str, str] = field(default_factory=dict)


class Backend(Protocol):
    name: str
    trust: Trust
    capabilities: Capabilities

    async def call(self, req: UpstreamRequest) -> UpstreamResponse:
        """Non-streaming call. Raises a GatewayError subclass on failure (see errors.py)."""
        ...

    def stream(self, req: UpstreamRequest) -> AsyncIterator[bytes]:
        """Yields SSE events as bytes, each a complete `data: ...\\n\\n` frame, `data: [DONE]` last.

        Raises before the first yield for failures that allow failover; afterwards raises
        UpstreamError / UpstreamTimeout, which the gateway turns into an in-band error event.
        """
        ...

    async def aclose(self) -> None: ...
