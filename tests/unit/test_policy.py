"""Table tests for decide(): the seed's decision tree, rules, explicit models, key scopes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from hybridgate.auth.principal import ANONYMOUS, Principal
from hybridgate.detect.findings import Finding
from hybridgate.detect.signals import Hints, Signals
from hybridgate.errors import NotFound
from hybridgate.labels import DataClass, Trust
from hybridgate.policy.decide import decide
from hybridgate.policy.model import Policy
from hybridgate.routing.topology import Topology
from hybridgate.settings import parse_settings

C = DataClass


def settings(**policy: Any) -> Any:
    return parse_settings(
        {
            "endpoints": [
                {"name": "vllm", "kind": "mock", "trust": "self_hosted", "models": ["llama"]},
                {"name": "managed", "kind": "mock", "trust": "dedicated", "models": ["llama-70b"]},
                {"name": "oai", "kind": "mock", "trust": "external", "models": ["gpt-4o"]},
            ],
            "tiers": {
                "self_hosted": {"endpoints": ["vllm"], "model": "llama"},
                "frontier": {"endpoints": ["oai"], "model": "gpt-4o", "fallback": ["self_hosted"]},
                "managed": {"endpoints": ["managed"]},
            },
            "policy": {"default_tier": "frontier", **policy},
        }
    )


def run(sig: Signals, principal: Principal = ANONYMOUS, **policy: Any) -> Any:
    s = settings(**policy)
    return decide(sig, principal, Policy.from_settings(s), Topology.from_settings(s))


def sig(cls: DataClass = C.PUBLIC, complexity: float | None = 0.1, model: str = "auto", **hints: Any) -> Signals:
    findings = (Finding("US_SSN", 0, 11),) if cls.rank >= C.CONFIDENTIAL.rank else ()
    return Signals(cls, findings, complexity, Hints(**hints), model)


ALL = {Trust.SELF_HOSTED, Trust.DEDICATED, Trust.EXTERNAL}


@pytest.mark.parametrize(
    ("signals", "rule", "tier", "allowed"),
    [
        (sig(), "default", "frontier", ALL),
        (sig(C.INTERNAL), "default", "frontier", ALL),
        (sig(C.CONFIDENTIAL), "sensitive-self-hosted", "self_hosted", {Trust.SELF_HOSTED}),
        (sig(C.RESTRICTED, complexity=0.99), "sensitive-self-hosted", "self_hosted", {Trust.SELF_HOSTED}),
        (sig(complexity=0.9), "complex-frontier", "frontier", ALL),
        (sig(complexity=None), "default", "frontier", ALL),
        (sig(volume="high", latency_budget="relaxed"), "bulk-self-hosted", "self_hosted", ALL),
        (sig(volume="high", latency_budget="interactive"), "default", "frontier", ALL),
        (sig(complexity=0.95, volume="high", latency_budget="relaxed"), "complex-frontier", "frontier", ALL),
    ],
)
def test_decision_tree(signals: Signals, rule: str, tier: str, allowed: set[Trust]) -> None:
    d = run(signals)
    assert (d.rule_id, d.tier, set(d.allowed_trust), d.action) == (rule, tier, allowed, "route")


def test_explicit_model_allowed_and_denied_by_the_boundary() -> None:
    assert run(sig(model="gpt-4o")).model == "gpt-4o"
    d = run(sig(C.CONFIDENTIAL, model="gpt-4o"))
    assert d.action == "deny" and d.rule_id == "egress-boundary"
    assert "US_SSN" in d.reason and "self_hosted" in d.reason
    assert run(sig(C.CONFIDENTIAL, model="llama")).action == "route"


def test_unknown_model_is_not_found() -> None:
    with pytest.raises(NotFound):
        run(sig(model="no-such-model"))


def test_tier_alias_and_trust_by_class_override() -> None:
    assert run(sig(model="managed")).tier == "managed"
    d = run(sig(C.CONFIDENTIAL, model="llama-70b"), trust_by_class={"confidential": ["self_hosted", "dedicated"]})
    assert d.action == "route" and d.model == "llama-70b"
    # a higher class never reaches more than a lower one, whatever the config says
    d = run(sig(C.RESTRICTED, model="gpt-4o"), trust_by_class={"restricted": ["external", "self_hosted"]})
    assert d.action == "deny"


def test_user_rules_first_match_wins() -> None:
    rules = [
        {
            "id": "no-training-data",
            "when": {"purpose_matches": "^training"},
            "action": "deny",
            "reason": "training-data generation is not allowed",
        },
        {"id": "hr-managed", "when": {"team": ["hr"]}, "tier": "managed"},
    ]
    d = run(sig(purpose="training-data-generation"), rules=rules)
    assert (d.action, d.rule_id) == ("deny", "no-training-data")
    hr = replace(ANONYMOUS, team="hr")
    assert run(sig(), hr, rules=rules).tier == "managed"
    # deny rules apply to explicit models too
    assert run(sig(model="gpt-4o", purpose="training"), rules=rules).action == "deny"


def test_builtin_rules_can_be_switched_off() -> None:
    d = run(sig(C.CONFIDENTIAL), builtin_rules=False)
    assert d.rule_id == "default" and d.tier == "frontier" and d.allowed_trust == {Trust.SELF_HOSTED}


@pytest.mark.parametrize(
    ("principal", "signals", "rule"),
    [
        (Principal("k", "n", allowed_models=frozenset({"llama"})), sig(model="gpt-4o"), "key-model-scope"),
        (Principal("k", "n", allowed_tiers=frozenset({"self_hosted"})), sig(), "key-tier-scope"),
        (Principal("k", "n", allowed_classes=frozenset({C.PUBLIC})), sig(C.CONFIDENTIAL), "key-data-class"),
    ],
)
def test_key_scopes_deny(principal: Principal, signals: Signals, rule: str) -> None:
    d = run(signals, principal)
    assert (d.action, d.rule_id) == ("deny", rule)


def test_principal_trust_narrows_never_widens() -> None:
    p = Principal("k", "n", allowed_trust=frozenset({Trust.SELF_HOSTED}))
    assert run(sig(), p).allowed_trust == {Trust.SELF_HOSTED}
    p2 = Principal("k", "n", allowed_trust=frozenset(Trust))
    assert run(sig(C.CONFIDENTIAL), p2).allowed_trust == {Trust.SELF_HOSTED}
