"""`assess` reproduces every row of the scenario table, and the starter config passes the settings schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from hybridgate.economics.assess import Answers, Facts, assess_all, scenario_row
from hybridgate.economics.catalogue import load_catalogue
from hybridgate.economics.starter import starter_config, to_yaml
from hybridgate.economics.throughput import load_throughputs
from hybridgate.policy.model import Policy
from hybridgate.settings import load_settings, parse_settings

HIGH, LOW = 5_000_000, 100_000  # default economics (gpt-4o vs llama-3.1-8b on one H100) break even at ~1.75M


def answers(workload: dict[str, Any], mlops: float = 3, air_gapped: bool = False) -> Answers:
    w = {"name": "w1", "requests_per_month": LOW, **workload}
    return Answers.model_validate(
        {"organisation": {"mlops_engineers": mlops, "air_gapped": air_gapped}, "workloads": [w]}
    )


ROWS = [
    ("A", "air_gapped", answers({"data_classes": ["public"]}, air_gapped=True)),
    ("A", "air_gapped", answers({"data_classes": ["restricted"], "regulations": ["fedramp"], "air_gapped": True})),
    ("B", "hybrid", answers({"data_classes": ["public", "confidential"], "regulations": ["gdpr"]})),
    ("B", "hybrid", answers({"data_classes": ["internal"], "needs_frontier": True, "requests_per_month": HIGH})),
    ("C", "self_hosted", answers({"data_classes": ["restricted"], "regulations": ["hipaa"]})),
    ("D", "managed", answers({"data_classes": ["confidential"], "regulations": ["dora"]}, mlops=1)),
    ("D", "managed", answers({"data_classes": ["internal"], "regulations": ["hipaa"]}, mlops=0)),
    ("E", "self_hosted", answers({"data_classes": ["internal"], "requests_per_month": HIGH})),
    ("F", "managed", answers({"data_classes": ["internal"], "requests_per_month": HIGH}, mlops=1)),
    ("G", "closed_api", answers({"data_classes": ["public"]})),
    ("G", "closed_api", answers({"data_classes": ["internal"], "needs_frontier": True})),
]


@pytest.mark.parametrize(("row", "tier", "ans"), ROWS)
def test_each_scenario_row_is_reproduced(row: str, tier: str, ans: Answers, tmp_path: Path) -> None:
    cat = load_catalogue()
    [a] = assess_all(ans, cat, load_throughputs())
    assert (a.row, a.tier) == (row, tier)
    assert a.reasons and "break-even" in " ".join(a.reasons)
    config = starter_config(ans, [a], cat)
    settings = parse_settings(config)
    Policy.from_settings(settings)  # the policy layer accepts it too
    path = tmp_path / "hybridgate.yaml"
    path.write_text(to_yaml(config, [a]))
    assert load_settings(path) == settings  # the commented YAML round-trips


def test_air_gapped_config_has_no_endpoint_outside() -> None:
    ans = Answers.model_validate(
        {
            "organisation": {"mlops_engineers": 4, "air_gapped": True},
            "workloads": [
                {"name": "chat", "data_classes": ["public"], "requests_per_month": LOW, "needs_frontier": True},
                {"name": "records", "data_classes": ["restricted"], "requests_per_month": HIGH},
            ],
        }
    )
    cat = load_catalogue()
    results = assess_all(ans, cat, load_throughputs())
    settings = parse_settings(starter_config(ans, results, cat))
    assert {e.trust.value for e in settings.endpoints} == {"self_hosted"}
    assert all(v == ["self_hosted"] for v in (settings.policy.trust_by_class or {}).values())


def test_hybrid_workload_gets_a_frontier_rule_before_the_bulk_rule() -> None:
    ans = answers({"data_classes": ["public", "confidential"], "name": "support"})
    cat = load_catalogue()
    config = starter_config(ans, assess_all(ans, cat, load_throughputs()), cat)
    rules = {r["id"]: r for r in config["policy"]["rules"]}
    ids = list(rules)
    assert ids[0] == "sensitive-stays-inside"
    assert ids.index("wl-support-complex") < ids.index("wl-support")
    assert rules["wl-support-complex"]["tier"] == "frontier" and rules["wl-support"]["tier"] == "self_hosted"


def test_managed_sensitive_tier_widens_the_boundary_to_dedicated_only() -> None:
    ans = answers({"data_classes": ["confidential"]}, mlops=1)
    cat = load_catalogue()
    settings = parse_settings(starter_config(ans, assess_all(ans, cat, load_throughputs()), cat))
    assert settings.policy.sensitive_tier == "managed"
    assert {t.value for t in (settings.policy.trust_by_class or {})["confidential"]} == {"self_hosted", "dedicated"}


@pytest.mark.parametrize(
    ("facts", "row"),
    [
        (Facts(True, True, True, True, True, True, True), "A"),
        (Facts(False, True, True, False, False, False, False), "B"),
        (Facts(False, False, False, True, True, True, False), "B"),
        (Facts(False, True, False, True, True, True, False), "C"),
        (Facts(False, True, False, False, False, False, False), "D"),
        (Facts(False, False, False, False, True, True, False), "E"),
        (Facts(False, False, False, False, True, False, False), "F"),
        (Facts(False, False, False, True, False, True, False), "G"),
        (Facts(False, False, False, False, False, True, True), "G"),
    ],
)
def test_scenario_table_is_a_pure_function(facts: Facts, row: str) -> None:
    assert scenario_row(facts)[0] == row


def test_answers_reject_unknown_keys() -> None:
    with pytest.raises(ValueError, match="extra"):
        Answers.model_validate(
            yaml.safe_load(
                "organisation: {mlops_engineers: 1, budget: 3}\nworkloads: [{name: a, data_classes: [public], "
                "requests_per_month: 1}]"
            )
        )
