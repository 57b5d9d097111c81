"""The policy as plain data: rules, thresholds and the class -> trust boundary."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from hybridgate.labels import DEFAULT_TRUST_BY_CLASS, DataClass, Trust
from hybridgate.settings import RuleConfig, RuleWhen, Settings

Action = Literal["route", "deny", "redact"]
DEFAULT_THRESHOLD = 0.7  # for scorers that cannot be calibrated to a frontier share
DEFAULT_FRONTIER_SHARE = 0.3


@dataclass(frozen=True, slots=True)
class Rule:
    id: str
    when: RuleWhen
    action: Action
    tier: str | None
    reason: str
    purpose_re: re.Pattern[str] | None = None

    @classmethod
    def from_config(cls, r: RuleConfig) -> Rule:
        pattern = re.compile(r.when.purpose_matches) if r.when.purpose_matches else None
        return cls(r.id, r.when, r.action, r.tier, r.reason or f"rule {r.id}", pattern)


@dataclass(frozen=True, slots=True)
class Policy:
    default_tier: str
    sensitive_tier: str | None
    frontier_tier: str | None
    complexity_threshold: float
    sensitive_class: DataClass
    rules: tuple[Rule, ...]
    trust_by_class: dict[DataClass, frozenset[Trust]] = field(default_factory=lambda: dict(DEFAULT_TRUST_BY_CLASS))

    @classmethod
    def from_settings(cls, s: Settings, threshold: float | None = None) -> Policy:
        """`threshold` is the calibrated complexity threshold when the config names a frontier share."""
        p = s.policy
        threshold = p.complexity_threshold if p.complexity_threshold is not None else threshold
        threshold = DEFAULT_THRESHOLD if threshold is None else threshold
        sensitive = p.sensitive_tier or ("self_hosted" if "self_hosted" in s.tiers else None)
        frontier = p.frontier_tier or ("frontier" if "frontier" in s.tiers else None)
        rules = [Rule.from_config(r) for r in p.rules]
        if p.builtin_rules:
            rules += builtin_rules(sensitive, frontier, threshold, p.sensitive_class)
        boundary = dict(DEFAULT_TRUST_BY_CLASS)
        if p.trust_by_class:
            boundary.update({k: frozenset(v) for k, v in p.trust_by_class.items()})
        # A higher class may never reach more than a lower one: intersect downwards.
        running: frozenset[Trust] = frozenset(Trust)
        for c in DataClass:
            running = running & boundary[c]
            boundary[c] = running
        return cls(
            p.default_tier,
            sensitive,
            frontier,
            threshold,
            p.sensitive_class,
            tuple(rules),
            boundary,
        )


def builtin_rules(
    sensitive: str | None, frontier: str | None, threshold: float, sensitive_class: DataClass
) -> list[Rule]:
    """The decision tree: sensitive -> self-hosted; hard -> frontier; bulk -> self-hosted."""
    out: list[Rule] = []
    if sensitive:
        out.append(
            Rule(
                "sensitive-self-hosted",
                RuleWhen(data_class_at_least=sensitive_class),
                "route",
                sensitive,
                "sensitive data stays on self-hosted models",
            )
        )
    if frontier:
        out.append(
            Rule(
                "complex-frontier",
                RuleWhen(complexity_above=threshold),
                "route",
                frontier,
                f"complexity above {threshold:g} needs a frontier model",
            )
        )
    if sensitive:
        out.append(
            Rule(
                "bulk-self-hosted",
                RuleWhen(volume="high", latency_budget="relaxed"),
                "route",
                sensitive,
                "high volume with a relaxed latency budget runs self-hosted",
            )
        )
    return out
