"""The policy decision: which tier or model, and which trust labels the request may reach."""

from __future__ import annotations

from dataclasses import dataclass, replace

from hybridgate.auth.principal import Principal
from hybridgate.detect.signals import Signals
from hybridgate.errors import NotFound
from hybridgate.frozen import quick_init
from hybridgate.labels import DataClass, Trust, highest
from hybridgate.policy.model import Action, Policy, Rule
from hybridgate.routing.topology import Topology


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class Decision:
    action: Action
    rule_id: str
    reason: str
    data_class: DataClass
    allowed_trust: frozenset[Trust]  # the egress boundary for this request
    tier: str | None = None  # routing by tier (model "auto" or a tier alias)
    model: str | None = None  # routing by explicit model name

    def summary(self) -> str:
        return f"{self.rule_id}; {self.reason}"


def allowed_trust(signals: Signals, principal: Principal, policy: Policy) -> frozenset[Trust]:
    allowed = policy.trust_by_class[signals.data_class]
    if principal.allowed_trust is not None:
        allowed = allowed & principal.allowed_trust
    return allowed


def matches(rule: Rule, s: Signals, principal: Principal) -> bool:
    """Every condition the rule sets holds. Checked in order and stopped at the first that fails (they
    are pure, so the result is that of evaluating them all)."""
    w = rule.when
    if w.data_class_at_least is not None and s.data_class.rank < w.data_class_at_least.rank:
        return False
    if w.finding_types is not None and not any(f.type in w.finding_types for f in s.findings):
        return False
    if w.complexity_above is not None and (s.complexity is None or not s.complexity >= w.complexity_above):
        return False  # `not >=` rather than `<`: a NaN score matches neither bound
    if w.complexity_below is not None and (s.complexity is None or not s.complexity < w.complexity_below):
        return False
    if w.volume is not None and s.hints.volume != w.volume:
        return False
    if w.latency_budget is not None and s.hints.latency_budget != w.latency_budget:
        return False
    if w.purpose_matches is not None and (
        s.hints.purpose is None or rule.purpose_re is None or rule.purpose_re.search(s.hints.purpose) is None
    ):
        return False
    if w.model is not None and s.requested_model not in w.model:
        return False
    if w.team is not None and principal.team not in w.team:
        return False
    return w.detector_error is None or (s.detector_error is not None) == w.detector_error


def _why_sensitive(s: Signals) -> str:
    if s.detector_error:
        return "detection failed, treated as restricted"
    if s.findings:
        return "found " + ", ".join(sorted(s.finding_counts()))
    return "declared or floor"


def _labels(trusts: frozenset[Trust]) -> str:
    return ",".join(sorted(t.value for t in trusts)) or "nothing"


_ROUTED: dict[tuple[str, str, str, str, frozenset[Trust], str], Decision] = {}
_ROUTED_MAX = 4096


def _routed(
    action: Action, rule_id: str, reason: str, cls: DataClass, allowed: frozenset[Trust], tier: str
) -> Decision:
    """`Decision(action, rule_id, reason, cls, allowed, tier=tier)`, one (frozen) instance per distinct
    decision: rule ids, reasons and tiers come from configuration, so requests repeat a handful of them."""
    key = (action, rule_id, reason, cls._value_, allowed, tier)  # `_value_`: an enum hashes in Python
    d = _ROUTED.get(key)
    if d is None:
        if len(_ROUTED) >= _ROUTED_MAX:  # bounded all the same
            _ROUTED.clear()
        d = _ROUTED[key] = Decision(action, rule_id, reason, cls, allowed, tier=tier)
    return d


def decide(signals: Signals, principal: Principal, policy: Policy, topo: Topology) -> Decision:
    """First matching rule wins. Raises NotFound for a model nobody serves."""
    allowed = allowed_trust(signals, principal, policy)
    cls = signals.data_class

    def deny(rule_id: str, reason: str) -> Decision:
        return Decision("deny", rule_id, reason, cls, allowed)

    def to_tier(tier: str, rule_id: str, reason: str, action: Action = "route") -> Decision:
        if principal.allowed_tiers is not None and tier not in principal.allowed_tiers:
            return deny("key-tier-scope", f"this key may not use tier {tier}")
        if action == "redact":
            if signals.detector_error is not None:
                # A failed detector cannot vouch for a redaction: keep it whole, and self-hosted.
                if policy.sensitive_tier is None:
                    return deny("redact-unsafe", "detection failed: the request cannot be redacted safely")
                return Decision(
                    "route",
                    "redact-unsafe",
                    "detection failed: not redacted, kept self-hosted",
                    cls,
                    allowed,
                    tier=policy.sensitive_tier,
                )
            # After redaction only what the client declared (and the key's floor) still applies.
            residual = highest(signals.hints.data_class or DataClass.PUBLIC, principal.class_floor)
            widened = allowed_trust(replace(signals, data_class=residual), principal, policy)
            return Decision(action, rule_id, reason, cls, widened, tier=tier)
        return _routed(action, rule_id, reason, cls, allowed, tier)

    if principal.allowed_classes is not None and signals.data_class not in principal.allowed_classes:
        return deny("key-data-class", f"this key may not send {cls.value} data")
    requested = signals.requested_model
    if requested != "auto" and requested not in topo.tiers and not topo.serving(requested):
        raise NotFound(
            f"The model `{requested}` does not exist or is not served here",
            param="model",
            code="model_not_found",
        )
    if principal.allowed_models is not None and requested not in principal.allowed_models | {"auto"}:
        return deny("key-model-scope", f"this key may not use model {requested}")

    for rule in policy.rules:
        if not matches(rule, signals, principal):
            continue
        if rule.action == "deny":
            return deny(rule.id, rule.reason)
        if requested == "auto":
            return to_tier(rule.tier or policy.default_tier, rule.id, rule.reason, rule.action)
        break  # an explicit model: only deny rules apply, the boundary decides the rest
    if requested == "auto":
        return to_tier(policy.default_tier, "default", "no rule matched: default tier")
    if requested in topo.tiers:
        return to_tier(requested, "requested-tier", f"client asked for tier {requested}")
    return _explicit(requested, signals, topo, cls, allowed)


def _explicit(
    model: str, s: Signals, topo: Topology, data_class: DataClass, allowed_trust: frozenset[Trust]
) -> Decision:
    trusts = topo.trusts(topo.serving(model))
    if trusts & allowed_trust:
        return Decision("route", "explicit-model", f"client asked for {model}", data_class, allowed_trust, model=model)
    return Decision(
        "deny",
        "egress-boundary",
        f"model {model} is served only by {_labels(trusts)} endpoints; this request is "
        f"{data_class.value} ({_why_sensitive(s)}) and may only reach {_labels(allowed_trust)}",
        data_class,
        allowed_trust,
    )
