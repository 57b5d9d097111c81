"""The configured endpoints and tiers as plain, immutable lookup tables."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from hybridgate.labels import Trust
from hybridgate.routing.config import Strategy
from hybridgate.settings import Settings


@dataclass(frozen=True, slots=True)
class EndpointInfo:
    name: str
    trust: Trust
    models: tuple[str, ...]
    weight: float = 1.0
    kind: str = "openai"


@dataclass(frozen=True, slots=True)
class TierInfo:
    name: str
    endpoints: tuple[str, ...]
    model: str | None
    fallback: tuple[str, ...] = ()
    strategy: Strategy = "p2c_ewma"
    prefix_affinity: bool = False
    overflow: bool = True


@dataclass(frozen=True, slots=True)
class Topology:
    endpoints: dict[str, EndpointInfo]
    tiers: dict[str, TierInfo]
    # tier -> that tier and its fallbacks, breadth-first, each once (filled on first use; see `chain`)
    _chains: dict[str, tuple[str, ...]] = field(default_factory=dict, compare=False, repr=False)
    # tier -> (tier, its endpoints) along `chain(tier)` (filled on first use; see `groups`)
    _groups: dict[str, tuple[tuple[str | None, tuple[str, ...]], ...]] = field(
        default_factory=dict, compare=False, repr=False
    )
    # (tier, endpoint) -> its first-choice routing.select.Attempt, built once (see `select`)
    _attempts: dict[tuple[str, str], Any] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_settings(cls, s: Settings) -> Topology:
        eps = {e.name: EndpointInfo(e.name, e.trust, tuple(e.models), e.weight, e.kind) for e in s.endpoints}
        tiers = {
            n: TierInfo(n, tuple(t.endpoints), t.model, tuple(t.fallback), t.strategy, t.prefix_affinity, t.overflow)
            for n, t in s.tiers.items()
        }
        return cls(eps, tiers)

    def chain(self, tier: str) -> tuple[str, ...]:
        """`tier`, then its fallback tiers breadth-first over their own fallbacks, each tier once."""
        found = self._chains.get(tier)
        if found is None:
            order = [tier]
            for t in order:
                order.extend(f for f in self.tiers[t].fallback if f not in order)
            found = self._chains[tier] = tuple(order)
        return found

    def groups(self, tier: str) -> tuple[tuple[str | None, tuple[str, ...]], ...]:
        """(tier, endpoints) for `tier` and each of its fallbacks, in `chain` order."""
        found = self._groups.get(tier)
        if found is None:
            found = self._groups[tier] = tuple((t, self.tiers[t].endpoints) for t in self.chain(tier))
        return found

    def serving(self, model: str) -> tuple[str, ...]:
        """Endpoints that serve `model`, in configuration order."""
        return tuple(n for n, e in self.endpoints.items() if model in e.models)

    def models(self) -> list[str]:
        seen: dict[str, None] = {}
        for e in self.endpoints.values():
            for m in e.models:
                seen.setdefault(m, None)
        return list(seen)

    def tier_model(self, tier: str, endpoint: str) -> str:
        """The upstream model name for `endpoint` when serving `tier`."""
        t = self.tiers[tier]
        models = self.endpoints[endpoint].models
        return t.model if t.model is not None and t.model in models else models[0]

    def trusts(self, names: tuple[str, ...]) -> frozenset[Trust]:
        return frozenset(self.endpoints[n].trust for n in names)
