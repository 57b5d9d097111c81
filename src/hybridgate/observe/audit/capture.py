"""Optional encrypted payload capture (AES-256-GCM) for organisations that must keep outputs.

The key comes from the environment variable named in config (32 bytes, base64 or hex). The request id
is bound as associated data, so a ciphertext moved to another row does not decrypt.
"""

from __future__ import annotations

import base64
import binascii
import os
from typing import Any

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from hybridgate.errors import ConfigError


def parse_key(raw: str) -> bytes:
    raw = raw.strip()
    for decode in (bytes.fromhex, base64.b64decode, base64.urlsafe_b64decode):
        try:
            key = decode(raw)
        except (ValueError, binascii.Error):
            continue
        if len(key) == 32:
            return key
    raise ConfigError("audit capture key must be 32 bytes, hex or base64 encoded")


def key_from_env(name: str) -> bytes | None:
    raw = os.environ.get(name)
    return parse_key(raw) if raw else None


def sealer_from_env(name: str) -> Sealer:
    """For startup and `audit show --decrypt`: a missing or malformed key is a config error, said plainly."""
    raw = os.environ.get(name)
    if not raw:
        raise ConfigError(f"audit payload capture needs a key: set ${name} to 32 random bytes, hex or base64")
    try:
        return Sealer(parse_key(raw))
    except ConfigError:
        raise ConfigError(f"${name}: the audit capture key must be 32 bytes, hex or base64 encoded") from None


class Sealer:
    def __init__(self, key: bytes) -> None:
        self._aead = AESGCM(key)

    def seal(self, request_id: str, payload: Any) -> dict[str, str]:
        nonce = os.urandom(12)
        ct = self._aead.encrypt(nonce, orjson.dumps(payload), request_id.encode())
        return {"alg": "AES-256-GCM", "nonce": base64.b64encode(nonce).decode(), "ct": base64.b64encode(ct).decode()}

    def open(self, request_id: str, sealed: dict[str, str]) -> Any:
        nonce, ct = base64.b64decode(sealed["nonce"]), base64.b64decode(sealed["ct"])
        try:
            plain = self._aead.decrypt(nonce, ct, request_id.encode())
        except InvalidTag:
            raise ConfigError(
                f"cannot open the captured payload of {request_id}: wrong key, or the payload was altered"
            ) from None
        return orjson.loads(plain)
