"""A stream's response headers leave in the same write as its first event (one send, one client wake-up)."""

from __future__ import annotations

import asyncio
from unittest.mock import Mock

from aiohttp import web
from aiohttp.http_writer import StreamWriter
from aiohttp.test_utils import make_mocked_request

from hybridgate.api.streaming import EventStreamResponse

EVENT = b'data: {"choices":[{"delta":{"content":"hi"}}]}\n\n'


def _request() -> tuple[web.Request, list[bytes]]:
    sent: list[bytes] = []
    transport = Mock()
    transport.is_closing.return_value = False
    transport.write.side_effect = sent.append
    transport.writelines.side_effect = lambda chunks: sent.append(b"".join(chunks))
    protocol = Mock(transport=transport, _paused=False)
    writer = StreamWriter(protocol, asyncio.get_running_loop())
    req = make_mocked_request("POST", "/v1/chat/completions", protocol=protocol, transport=transport, writer=writer)
    return req, sent


async def test_headers_go_out_with_the_first_event() -> None:
    req, sent = _request()
    resp = EventStreamResponse(headers={"content-type": "text/event-stream"})
    await resp.prepare(req)
    assert sent == []  # nothing on the wire until there is an event to send with the headers
    await resp.write(EVENT)
    assert len(sent) == 1
    head, _, body = sent[0].partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200 OK") and b"text/event-stream" in head
    assert body == b"%x\r\n%s\r\n" % (len(EVENT), EVENT)  # chunked framing unchanged
    await resp.write(EVENT)
    assert sent[1] == b"%x\r\n%s\r\n" % (len(EVENT), EVENT)


async def test_headers_still_sent_when_nothing_is_written() -> None:
    req, sent = _request()
    resp = EventStreamResponse(headers={"content-type": "text/event-stream"})
    await resp.prepare(req)
    await resp.write_eof()
    assert sent[0].startswith(b"HTTP/1.1 200 OK") and sent[0].endswith(b"\r\n\r\n0\r\n\r\n")


async def test_a_plain_stream_response_sends_headers_on_prepare() -> None:
    """The contrast that makes the first test meaningful: aiohttp's default writes the headers alone."""
    req, sent = _request()
    await web.StreamResponse(headers={"content-type": "text/event-stream"}).prepare(req)
    assert len(sent) == 1 and sent[0].endswith(b"\r\n\r\n")
