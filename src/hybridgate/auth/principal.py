"""The caller as the policy sees it, and the authenticator interface."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from hybridgate.detect.signals import Hints
from hybridgate.labels import DataClass, Trust


@dataclass(frozen=True, slots=True)
class Principal:
    key_id: str | None
    name: str
    team: str | None = None
    allowed_models: frozenset[str] | None = None  # None: any
    allowed_tiers: frozenset[str] | None = None
    allowed_trust: frozenset[Trust] | None = None  # narrows the boundary further, never widens it
    allowed_classes: frozenset[DataClass] | None = None  # data classes this key may send at all
    class_floor: DataClass = DataClass.PUBLIC
    default_hints: Hints = field(default_factory=Hints)
    is_admin: bool = False


ANONYMOUS = Principal(key_id=None, name="anonymous")


class Authenticator(Protocol):
    async def authenticate(self, authorization: str | None) -> Principal:
        """Raises AuthenticationError for a missing/unknown/revoked/expired key when keys are required."""
        ...


class OpenAuthenticator:
    """No keys configured: everyone is anonymous (allowed only on loopback, see cli.serve)."""

    async def authenticate(self, authorization: str | None) -> Principal:
        return ANONYMOUS
