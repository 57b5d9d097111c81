"""A starter hybridgate.yaml that implements an assessment. It must pass hybridgate.settings.parse_settings."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from typing import Any

import yaml

from hybridgate.economics.assess import Answers, Assessment, Tier
from hybridgate.economics.catalogue import Catalogue

SELF, MANAGED, FRONTIER = "self_hosted", "managed", "frontier"
_TIER_ORDER = (SELF, MANAGED, FRONTIER)
COMPLEXITY_THRESHOLD = 0.7

# provider -> (endpoint kind, base_url, env var holding the key)
_PROVIDERS: dict[str, tuple[str, str, str]] = {
    "openai": ("openai", "https://api.openai.com/v1", "OPENAI_API_KEY"),
    "anthropic": ("anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY"),
    "google": ("gemini", "https://generativelanguage.googleapis.com", "GEMINI_API_KEY"),
    "groq": ("openai", "https://api.groq.com/openai/v1", "GROQ_API_KEY"),
}


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", name)[:48]


def config_tiers(a: Assessment, mlops_capable: bool) -> list[str]:
    """The config tiers a workload's assessed tier uses, most specific rule first."""
    table: dict[Tier, list[str]] = {
        "air_gapped": [SELF],
        "self_hosted": [SELF],
        "managed": [MANAGED],
        "closed_api": [FRONTIER],
        "hybrid": [FRONTIER, SELF if mlops_capable else MANAGED],
    }
    return table[a.tier]


def _endpoints(used: set[str], answers: Answers, cat: Catalogue) -> list[dict[str, Any]]:
    eco = answers.economics
    out: list[dict[str, Any]] = []
    if SELF in used:
        out.append(
            {
                "name": "vllm",
                "kind": "openai",
                "base_url": "http://vllm.internal:8000/v1",
                "trust": "self_hosted",
                "models": [eco.self_hosted_model],
            }
        )
    if MANAGED in used:
        out.append(
            {
                "name": "managed-inference",
                "kind": "openai",
                "base_url": "https://managed-inference.example.com/v1",
                "api_key": "${MANAGED_INFERENCE_API_KEY}",
                "trust": "dedicated",
                "models": [eco.self_hosted_model],
            }
        )
    if FRONTIER in used:
        kind, url, env = _PROVIDERS.get(cat.model(eco.api_model).provider, _PROVIDERS["openai"])
        out.append(
            {
                "name": "frontier-api",
                "kind": kind,
                "base_url": url,
                "api_key": f"${{{env}}}",
                "trust": "external",
                "models": [eco.api_model],
            }
        )
    return out


def _rules(assessments: Sequence[Assessment], mlops: bool, used: set[str], sensitive: str | None) -> list[Any]:
    rules: list[dict[str, Any]] = []
    if sensitive:
        rules.append(
            {
                "id": "sensitive-stays-inside",
                "when": {"data_class_at_least": "confidential"},
                "tier": sensitive,
                "reason": "confidential or restricted data never leaves trusted tiers",
            }
        )
    for a in assessments:
        slug, purpose = _slug(a.workload), f"^{re.escape(a.workload)}$"
        tiers = [t for t in config_tiers(a, mlops) if t in used]
        if len(tiers) == 2:
            rules.append(
                {
                    "id": f"wl-{slug}-complex",
                    "tier": tiers[0],
                    "when": {"purpose_matches": purpose, "complexity_above": COMPLEXITY_THRESHOLD},
                    "reason": f"{a.workload}: hard requests go to the frontier (assess row {a.row})",
                }
            )
        rules.append(
            {
                "id": f"wl-{slug}",
                "when": {"purpose_matches": purpose},
                "tier": tiers[-1],
                "reason": f"{a.workload}: {a.tier} (assess row {a.row})",
            }
        )
    return rules


def starter_config(answers: Answers, assessments: Sequence[Assessment], cat: Catalogue) -> dict[str, Any]:
    org = answers.organisation
    mlops = org.mlops_engineers >= 2
    per_workload = [config_tiers(a, mlops) for a in assessments]
    used = {t for ts in per_workload for t in ts}
    if org.air_gapped:
        used = {SELF}  # not one byte may leave: no endpoint outside the enclave exists at all
    sensitive = SELF if SELF in used else (MANAGED if MANAGED in used else None)
    votes = Counter(ts[-1] for ts in per_workload if ts[-1] in used)
    default = max(_TIER_ORDER, key=lambda t: (votes[t], t in used, -_TIER_ORDER.index(t)))
    tiers: dict[str, Any] = {}
    for name in (t for t in _TIER_ORDER if t in used):
        ep = {SELF: "vllm", MANAGED: "managed-inference", FRONTIER: "frontier-api"}[name]
        nxt = [t for t in _TIER_ORDER[_TIER_ORDER.index(name) + 1 :] if t in used][:1]
        tiers[name] = {"endpoints": [ep], "fallback": nxt}
    policy: dict[str, Any] = {
        "default_tier": default,
        "sensitive_tier": sensitive,
        "frontier_tier": FRONTIER if FRONTIER in used else None,
        "complexity_threshold": COMPLEXITY_THRESHOLD,
        "rules": _rules(assessments, mlops, used, sensitive),
    }
    if org.air_gapped:
        policy["trust_by_class"] = {c: ["self_hosted"] for c in ("public", "internal", "confidential", "restricted")}
    elif sensitive == MANAGED:
        policy["trust_by_class"] = {c: ["self_hosted", "dedicated"] for c in ("confidential", "restricted")}
    policy = {k: v for k, v in policy.items() if v is not None}
    return {"endpoints": _endpoints(used, answers, cat), "tiers": tiers, "policy": policy}


def to_yaml(config: dict[str, Any], assessments: Sequence[Assessment]) -> str:
    header = ["# hybridgate.yaml generated by `hybridgate assess`. Review endpoints, URLs and keys before use.", "#"]
    for a in assessments:
        header.append(f"# {a.workload}: {a.tier} (row {a.row})")
        header += [f"#   - {r}" for r in a.reasons]
    header.append("# Clients tag a workload with the x-hybridgate-purpose header (the rules match it).")
    return "\n".join(header) + "\n" + yaml.safe_dump(config, sort_keys=False, width=110)
