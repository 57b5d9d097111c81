"""Framing of the NER sidecar's Unix socket: a 4-byte big-endian length, then the payload.

Request payload: the UTF-8 text to scan. Reply payload: JSON, either
`{"findings": [[type, start, end, score], ...]}` or `{"error": "<exception class>"}`.
"""

from __future__ import annotations

import json
import socket
import struct
from typing import Any

from hybridgate.detect.findings import Finding

HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024  # larger than any body the server accepts; a bigger length is a broken peer


class WireError(Exception):
    """The peer closed the connection or sent a frame that cannot be ours."""


def send_frame(sock: socket.socket, payload: bytes) -> None:
    sock.sendall(HEADER.pack(len(payload)) + payload)


def _read_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise WireError("connection closed")
        buf += chunk
    return bytes(buf)


def recv_frame(sock: socket.socket) -> bytes:
    (n,) = HEADER.unpack(_read_exact(sock, HEADER.size))
    if n > MAX_FRAME:
        raise WireError(f"frame of {n} bytes")
    return _read_exact(sock, n)


def encode_findings(findings: list[Finding]) -> bytes:
    return json.dumps({"findings": [[f.type, f.start, f.end, f.score] for f in findings]}).encode()


def encode_error(err: BaseException) -> bytes:
    return json.dumps({"error": type(err).__name__}).encode()


def decode_reply(payload: bytes, detector: str) -> list[Finding]:
    """The findings of a reply; raises WireError for an error reply or anything malformed."""
    try:
        doc: Any = json.loads(payload)
        if "error" in doc:
            raise WireError(f"sidecar error: {doc['error']}")
        return [Finding(str(t), int(s), int(e), float(sc), detector=detector) for t, s, e, sc in doc["findings"]]
    except (ValueError, TypeError, KeyError) as e:
        raise WireError(f"malformed reply: {type(e).__name__}") from e
