"""A fake OpenAI-compatible upstream fast enough not to be the bottleneck of a proxy benchmark.

Raw asyncio protocol on uvloop (no framework): HTTP/1.1 keep-alive, Content-Length bodies only.
Behaviour is chosen by the request body, so every proxy under test forwards it untouched:
  - `"stream": true`      -> SSE, `--chunks` chunks (chunked transfer encoding), then usage, then [DONE]
  - model name `slow-60`  -> the answer is sent after 60 ms (many requests in flight)
  - model name `paced`    -> streams with `--gap-ms` between chunks (TTFT / inter-chunk measurement)
Any other request gets an instant JSON completion. GET /v1/models and /health answer 200.

Run: python fake_upstream.py --port 9301 [--chunks 50] [--gap-ms 2]
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import time

import orjson

_OK = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: %d\r\n\r\n"
_SSE = b"HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n"
_USAGE = {"prompt_tokens": 250, "completion_tokens": 50, "total_tokens": 300}


def completion_body(model: str) -> bytes:
    return orjson.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1764400000,
            "model": model,
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "The quick brown fox jumps over the lazy dog. " * 4},
                    "finish_reason": "stop",
                }
            ],
            "usage": _USAGE,
        }
    )


def sse_events(model: str, n: int) -> list[bytes]:
    def chunk(delta: dict[str, str], choices: bool = True) -> bytes:
        obj: dict[str, object] = {
            "id": "chatcmpl-bench",
            "object": "chat.completion.chunk",
            "created": 1764400000,
            "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": None}] if choices else [],
        }
        if not choices:
            obj["usage"] = _USAGE
        return b"data: " + orjson.dumps(obj) + b"\n\n"

    out = [chunk({"role": "assistant", "content": ""})]
    out += [chunk({"content": f"tok{i} "}) for i in range(n)]
    out += [chunk({}, choices=False), b"data: [DONE]\n\n"]
    return out


def http_chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


class Fake(asyncio.Protocol):
    chunks = 50
    gap_s = 0.002

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t: asyncio.Transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buf[:end]
            length = _content_length(head)
            if len(self.buf) < end + 4 + length:
                return
            body = self.buf[end + 4 : end + 4 + length]
            self.buf = self.buf[end + 4 + length :]
            self.handle(head, body)

    def handle(self, head: bytes, body: bytes) -> None:
        if head.startswith(b"GET"):
            self.t.write(_OK % 2 + b"{}")
            return
        model = "slow-60" if b"slow-60" in body else ("paced" if b'"paced"' in body else "fake-model")
        stream = b'"stream":true' in body or b'"stream": true' in body
        if model == "paced" and stream:
            self.task = asyncio.ensure_future(self.paced(model))  # one paced stream per connection at a time
        elif model == "slow-60":
            asyncio.get_running_loop().call_later(0.06, self.answer, model, stream)
        else:
            self.answer(model, stream)

    def answer(self, model: str, stream: bool) -> None:
        if not self.t.is_closing():
            self.t.write(canned(model, stream, self.chunks))

    async def paced(self, model: str) -> None:
        self.t.write(_SSE)
        for ev in sse_events(model, self.chunks):
            if self.t.is_closing():
                return
            self.t.write(http_chunk(ev))
            await asyncio.sleep(self.gap_s)
        self.t.write(b"0\r\n\r\n")


@functools.cache
def canned(model: str, stream: bool, chunks: int) -> bytes:
    """The whole response, built once: the fake's per-request work is a parse and one write."""
    if stream:
        return _SSE + b"".join(http_chunk(e) for e in sse_events(model, chunks)) + b"0\r\n\r\n"
    body = completion_body(model)
    return _OK % len(body) + body


def _content_length(head: bytes) -> int:
    i = head.lower().find(b"content-length:")
    if i < 0:
        return 0
    j = head.find(b"\r\n", i)
    return int(head[i + 15 : j if j > 0 else None])


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Fake, "127.0.0.1", port, backlog=4096, reuse_address=True)
    print(f"fake upstream on 127.0.0.1:{port} pid-ready {time.time():.0f}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--chunks", type=int, default=50)
    p.add_argument("--gap-ms", type=float, default=2.0)
    a = p.parse_args()
    Fake.chunks, Fake.gap_s = a.chunks, a.gap_ms / 1000
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    asyncio.run(serve(a.port))


if __name__ == "__main__":
    main()
