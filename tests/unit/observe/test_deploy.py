"""The shipped dashboard and alert rules parse, and every metric they name exists."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from prometheus_client import CollectorRegistry

from hybridgate.observe.metrics import Metrics

ROOT = Path(__file__).resolve().parents[3]
NAME = re.compile(r"\bhybridgate_[a-z_]+")


def exported_names() -> set[str]:
    """Family names plus the sample names Prometheus derives from them (_total, _bucket, ...)."""
    reg = CollectorRegistry()
    Metrics(reg)
    out = set()
    for fam in reg.collect():
        out.add(fam.name)
        suffixes = {"counter": ("_total",), "histogram": ("_bucket", "_sum", "_count")}.get(fam.type, ())
        out.update(fam.name + s for s in suffixes)
    return out


def referenced(text: str) -> set[str]:
    return set(NAME.findall(text))


def test_dashboard_is_json_and_names_real_metrics() -> None:
    text = (ROOT / "deploy/grafana/hybridgate.json").read_text()
    dash = json.loads(text)
    exprs = " ".join(t["expr"] for p in dash["panels"] for t in p["targets"])
    names = referenced(exprs)
    assert len(names) >= 15
    known = exported_names()
    assert names <= known, names - known


def test_alerts_are_yaml_and_name_real_metrics() -> None:
    rules = yaml.safe_load((ROOT / "deploy/prometheus/alerts.yml").read_text())
    exprs = [r["expr"] for g in rules["groups"] for r in g["rules"]]
    names = referenced(" ".join(exprs))
    known = exported_names()
    assert names and all(n in known for n in names), names - known
    titles = {r["alert"] for g in rules["groups"] for r in g["rules"]}
    assert {"HybridgateBreakerOpen", "HybridgateDetectorFailClosedSpike", "HybridgateTeamBudgetNearLimit"} <= titles
