"""OpenAI-compatible backend (OpenAI, Azure OpenAI, vLLM, TGI, Ollama, llama.cpp server, Groq...).

Pooled keep-alive connections through one aiohttp session per endpoint; separate connect,
first-byte, total and between-chunk timeouts. Unknown request fields pass through untouched.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Mapping
from contextlib import aclosing

import aiohttp
import orjson
from aiohttp.hdrs import METH_POST
from aiohttp.payload import BytesPayload, Payload
from multidict import CIMultiDict
from yarl import URL

from hybridgate.backends.base import Capabilities, UpstreamRequest, UpstreamResponse
from hybridgate.backends.deadlines import Deadline, Deadlines
from hybridgate.backends.sse import DONE, feed, last_event
from hybridgate.backends.stall import StallWatch
from hybridgate.errors import GatewayError, UpstreamError, UpstreamStatusError, UpstreamTimeout
from hybridgate.policy.boundary import check_egress
from hybridgate.settings import EndpointConfig

_PATHS = {"chat": "/chat/completions", "completions": "/completions", "embeddings": "/embeddings"}
DRAIN_S = 1.0  # how long the end of a finished stream may take to arrive before its connection is dropped
DRAIN_BYTES = 64 * 1024


def _error_message(status: int, body: bytes) -> str:
    try:
        err = orjson.loads(body).get("error")
        msg = err.get("message") if isinstance(err, dict) else err
        if isinstance(msg, str) and msg:
            return f"upstream returned {status}: {msg[:300]}"
    except (orjson.JSONDecodeError, AttributeError):
        pass
    return f"upstream returned {status}"


class JsonBody(BytesPayload):
    """A JSON request body as aiohttp's bytes payload, ready-made: aiohttp takes a payload as it is
    instead of looking up a factory for `bytes` and building one (its headers, its content type) per
    request. Its content type is what the request's own header already says (the session's
    `content-type: application/json`), so aiohttp never copies it; shared, never changed."""

    _HEADERS: CIMultiDict[str] = CIMultiDict({"content-type": "application/json"})

    def __init__(self, value: bytes) -> None:  # no super().__init__: it only builds what is set here
        self._value = value
        self._size = len(value)
        self._headers = self._HEADERS
        self._encoding = None
        self._filename = None


class OpenAICompatBackend:
    capabilities = Capabilities()

    def __init__(self, cfg: EndpointConfig) -> None:
        self.cfg = cfg
        self.name = cfg.name
        self.trust = cfg.trust
        self.base_url = (cfg.base_url or "").rstrip("/")
        self._headers = {"content-type": "application/json", **cfg.headers}
        if cfg.api_key:
            if cfg.kind == "azure":
                self._headers["api-key"] = cfg.api_key
            else:
                self._headers["authorization"] = f"Bearer {cfg.api_key}"
        self._session: aiohttp.ClientSession | None = None
        self._drains: set[asyncio.Task[None]] = set()  # finished streams whose last bytes are being read
        # Parsed once, not per request: aiohttp reuses a URL object as it is.
        self._deadlines = Deadlines()  # the calls in flight share one loop timer
        self._urls: dict[str, URL] = {}

    def _url(self, req: UpstreamRequest) -> str | URL:
        path = _PATHS[req.op]
        if self.cfg.kind == "azure":
            deployment = req.body.get("model", "")
            version = self.cfg.api_version or "2024-10-21"
            return f"{self.base_url}/openai/deployments/{deployment}{path}?api-version={version}"
        url = self._urls.get(path)
        if url is None:
            url = self._urls[path] = URL(self.base_url + path)
        return url

    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            t = self.cfg.timeouts
            connector = aiohttp.TCPConnector(
                limit=self.cfg.max_in_flight, keepalive_timeout=30, enable_cleanup_closed=True
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                # the session's own headers: a request without headers of its own (the usual case) has
                # aiohttp copy them in C instead of merging a mapping in Python
                headers=self._headers,
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=t.connect),
                json_serialize=lambda o: orjson.dumps(o).decode(),
                auto_decompress=True,
                # one session serves every caller: a stored upstream cookie would carry one caller's state
                # into the next caller's request
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    def _prepare(self, req: UpstreamRequest) -> tuple[str | URL, bytes | Payload, Mapping[str, str] | None]:
        """URL, body and the headers on top of the session's own (`self._headers`, see `session`)."""
        check_egress(self.name, self.trust, req.allowed_trust)
        return self._url(req), JsonBody(orjson.dumps(req.body)), req.extra_headers or None

    async def _open(self, req: UpstreamRequest) -> aiohttp.ClientResponse:
        t = self.cfg.timeouts
        try:
            async with asyncio.timeout(t.first_byte):
                resp = await self._send(req)
        except TimeoutError as e:
            raise self._first_byte_timeout() from e
        if resp.status >= 400:
            await self._raise_status(resp)
        return resp

    async def _send(self, req: UpstreamRequest) -> aiohttp.ClientResponse:
        """The request, up to the response's status and headers; no deadline of its own."""
        url, data, headers = self._prepare(req)
        try:
            # `_request`, what `post` wraps in a context manager this call has no use for
            return await self.session()._request(METH_POST, url, data=data, headers=headers)
        except TimeoutError as e:  # aiohttp's own (the connect timeout), as if the first-byte one fired
            raise self._first_byte_timeout() from e
        except aiohttp.ClientError as e:
            raise UpstreamError(f"{self.name}: cannot reach upstream ({type(e).__name__})", code="connect_error") from e

    def _first_byte_timeout(self) -> UpstreamTimeout:
        return UpstreamTimeout(
            f"{self.name}: no response within {self.cfg.timeouts.first_byte:g}s", code="first_byte_timeout"
        )

    async def _raise_status(self, resp: aiohttp.ClientResponse) -> None:
        body = await self._read(resp, self.cfg.timeouts.first_byte)
        raise UpstreamStatusError(
            _error_message(resp.status, body),
            upstream_status=resp.status,
            body=body,
            retry_after=_retry_after(resp.headers.get("retry-after")),
            code=f"upstream_{resp.status}",
        )

    async def _read(self, resp: aiohttp.ClientResponse, limit: float | None) -> bytes:
        """`limit` None: the caller's own deadline already bounds the read (no timer of its own)."""
        content = resp.content
        try:
            if content.is_eof():  # the whole body is here (the usual case for JSON): taken without a wait
                return content.read_nowait()
            if limit is None:
                return await resp.read()
            async with asyncio.timeout(limit):
                return await resp.read()
        except TimeoutError as e:
            raise UpstreamTimeout(f"{self.name}: response body stalled", code="body_timeout") from e
        except aiohttp.ClientError as e:
            raise UpstreamError(f"{self.name}: connection lost ({type(e).__name__})", code="connection_lost") from e
        finally:
            resp.release()

    async def call(self, req: UpstreamRequest) -> UpstreamResponse:
        t = self.cfg.timeouts
        if type(self)._open is not OpenAICompatBackend._open:  # a subclass's own `_open` (error codes) runs
            try:
                async with asyncio.timeout(t.total):
                    resp = await self._open(req)
                    body = await self._read(resp, None)  # the total deadline above ends first anyway
            except TimeoutError as e:
                raise UpstreamTimeout(f"{self.name}: no complete answer within {t.total:g}s") from e
        else:
            resp, body = await self._exchange(req)
        try:
            parsed = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise UpstreamError(f"{self.name}: upstream sent invalid JSON", code="bad_upstream_body") from e
        usage = parsed.get("usage") if isinstance(parsed, dict) else None
        return UpstreamResponse(resp.status, body, usage if isinstance(usage, dict) else None)

    async def _exchange(self, req: UpstreamRequest) -> tuple[aiohttp.ClientResponse, bytes]:
        """`_open` and `_read` under the total deadline, as `call` had them, with one deadline for both
        instead of three: due at the first-byte deadline until the headers are in, then moved to the total
        one, unless the whole body is already here (the usual case for a JSON answer: then reading it
        cannot wait). The deadline is one of the backend's `Deadlines`, which share a loop timer, not a
        timer of its own per call. Same errors as the nested form."""
        t = self.cfg.timeouts
        start = asyncio.get_running_loop().time()
        first = t.first_byte < t.total  # the nested form's inner timer fired first only then
        try:
            with Deadline(self._deadlines, start + (t.first_byte if first else t.total)) as deadline:
                resp = await self._send(req)
                first = False
                if resp.status >= 400 or not resp.content.is_eof():
                    deadline.reschedule(start + t.total)
                if resp.status >= 400:
                    await self._raise_status(resp)
                body = await self._read(resp, None)
        except TimeoutError as e:
            if first:
                raise self._first_byte_timeout() from e
            raise UpstreamTimeout(f"{self.name}: no complete answer within {t.total:g}s") from e
        return resp, body

    async def stream(self, req: UpstreamRequest) -> AsyncIterator[bytes]:
        async with aclosing(self.stream_batches(req)) as batches:  # releases the connection on early close
            async for batch in batches:
                for ev in batch:
                    yield ev

    async def stream_batches(self, req: UpstreamRequest) -> AsyncGenerator[list[bytes], None]:
        """As `stream`, but the events of one upstream read together (see api/streaming.relay)."""
        watch = StallWatch(self.cfg.timeouts.between_chunks)
        try:
            if type(self)._open is OpenAICompatBackend._open:
                resp = await self._open_watched(req, watch)
            else:  # a subclass's own `_open` (error codes) runs
                resp = await self._open(req)
            finished = False  # [DONE] was handed out: what is left of the body is its end, not more answer
            try:
                # The reads and the split in this one generator (what `event_batches(self._chunks(...))`
                # does, without two generators more for each event to pass through).
                content = resp.content
                buf = b""
                while chunk := await self._next_chunk(content, watch):
                    batch, buf = feed(buf, chunk)
                    if batch:
                        finished = DONE in batch
                        yield batch
                if last := last_event(buf):
                    finished = DONE in last
                    yield last
                finished = True
            finally:
                self._settle(resp, finished)
        finally:
            watch.close()

    async def _open_watched(self, req: UpstreamRequest, watch: StallWatch) -> aiohttp.ClientResponse:
        """`_open`, its first-byte deadline kept by the stream's stall watch: one timer for both (moved
        only if the first read is due before it). Same errors as `_open`."""
        watch.waiting(self.cfg.timeouts.first_byte)
        try:
            resp = await self._send(req)
        except asyncio.CancelledError as e:
            if watch.expired():
                raise self._first_byte_timeout() from e
            raise
        finally:
            watch.done()
        if resp.status >= 400:
            await self._raise_status(resp)
        return resp

    def _settle(self, resp: aiohttp.ClientResponse, finished: bool) -> None:
        """Gives the connection back for the next request. Upstreams send the end of the chunked body just
        after [DONE], often in another packet; releasing before it arrived closed the connection, so every
        stream paid a new TCP (and TLS) handshake. A finished stream's end is read in the background, a
        little and briefly; a stream given up early (client gone) is closed, which stops the generation."""
        if not finished or resp.content.at_eof():
            resp.release()
            return
        task = asyncio.get_running_loop().create_task(self._drain(resp))
        self._drains.add(task)
        task.add_done_callback(self._drains.discard)

    async def _drain(self, resp: aiohttp.ClientResponse) -> None:
        left = DRAIN_BYTES
        try:
            async with asyncio.timeout(DRAIN_S):
                while left > 0 and (chunk := await resp.content.readany()):
                    left -= len(chunk)
        except (TimeoutError, aiohttp.ClientError):
            pass
        finally:
            resp.release()  # kept for reuse only when the body was read to its end

    async def _chunks(self, resp: aiohttp.ClientResponse, watch: StallWatch | None = None) -> AsyncIterator[bytes]:
        """The body as it arrives. What has already arrived is taken without a wait, so without the
        watch; `watch` None: one of its own, closed at the end."""
        own = watch is None
        if watch is None:
            watch = StallWatch(self.cfg.timeouts.between_chunks)
        content = resp.content
        try:
            while chunk := await self._next_chunk(content, watch):
                yield chunk
        finally:
            if own:
                watch.close()

    async def _next_chunk(self, content: aiohttp.StreamReader, watch: StallWatch) -> bytes:
        """The next piece of the body (b"" at its end): what has already arrived is taken without a wait,
        so without the watch."""
        try:
            chunk = content.read_nowait()
            if not chunk and not content.at_eof():
                watch.waiting()
                chunk = await content.readany()
            return chunk
        except asyncio.CancelledError as e:
            if watch.expired():
                raise self._stalled(self.cfg.timeouts.between_chunks) from e
            raise
        except TimeoutError as e:
            raise self._stalled(self.cfg.timeouts.between_chunks) from e
        except aiohttp.ClientError as e:
            raise UpstreamError(f"{self.name}: stream cut ({type(e).__name__})", code="stream_cut") from e
        finally:
            watch.done()

    def _stalled(self, stall: float) -> UpstreamTimeout:
        return UpstreamTimeout(f"{self.name}: stream stalled for {stall:g}s", code="stream_stall")

    async def probe(self) -> bool:
        """Cheap reachability check for /readyz: GET {base}/models."""
        try:
            async with asyncio.timeout(min(2.0, self.cfg.timeouts.connect)):
                resp = await self.session().get(self.base_url + "/models")  # the session's headers
                resp.release()
                return resp.status < 500
        except (TimeoutError, aiohttp.ClientError, GatewayError):
            return False

    async def aclose(self) -> None:
        for task in list(self._drains):
            task.cancel()
        if self._session is not None:
            await self._session.close()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
