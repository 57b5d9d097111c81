"""The usage report on synthetic records with known answers."""

from __future__ import annotations

import pytest

from hybridgate.economics.catalogue import load_catalogue
from hybridgate.economics.render import ReportMeta, to_html, to_markdown
from hybridgate.economics.report import (
    SECONDS_PER_REPORT_MONTH,
    BreakEven,
    build_report,
    percentile,
    recommend,
)
from hybridgate.economics.tco import Fleet
from hybridgate.store.records import UsageRecord
from tests.fakes.usage import usage_record

NOW = 2_000_000_000.0
WINDOW = SECONDS_PER_REPORT_MONTH / 1000  # the window is 1/1000 of a month: counts x 1000 per month
FLEET = Fleet(gpu_hourly_usd=0.001, gpus_per_replica=1, throughput_tps=1000, utilisation=1.0, ops_hours=0, ops_rate=0)


def rec(i: int, tag: str, **kw: object) -> UsageRecord:
    base: dict[str, object] = dict(
        ts=NOW - i,
        request_id=f"r{i}",
        key_id="k1",
        team="t1",
        route_tag=tag,
        endpoint="vllm",
        model="llama-3.1-8b",
        rule_id="r",
        data_class="internal",
        prompt_tokens=1000,
        completion_tokens=100,
        latency_ms=float(i + 1),
        cost_usd=0.0001,
    )
    return usage_record(**{**base, **kw})


def records() -> list[UsageRecord]:
    summarise = [rec(i, "summarise") for i in range(20)]  # latencies 1..20 ms
    chat = [
        rec(
            100 + i,
            "chat",
            trust="external",
            model="gpt-4o",
            prompt_tokens=100,
            completion_tokens=50,
            cost_usd=0.00075,
            team="t2",
        )
        for i in range(5)
    ]
    failed = [
        rec(
            200,
            "chat",
            status=502,
            prompt_tokens=0,
            completion_tokens=0,
            cost_usd=0.0,
            trust="external",
            model="gpt-4o",
            latency_ms=99_999.0,
            team="t2",
        )
    ]
    hr = [rec(300 + i, "hr", data_class="confidential") for i in range(3)]
    too_old = [rec(10_000, "summarise")]  # outside the window
    return summarise + chat + failed + hr + too_old


def build(**kw: object) -> dict[str, object]:
    reports = build_report(
        records(),
        by="route_tag",
        cat=load_catalogue(),
        api_model="gpt-4o-mini",
        fleet=FLEET,
        now=NOW,
        window_s=WINDOW,
        **kw,
    )  # type: ignore[arg-type]
    return {r.stats.name: r for r in reports}


def test_volume_tokens_cost_and_counterfactuals() -> None:
    out = build()
    s = out["summarise"]
    assert s.stats.requests == 20 and s.monthly_requests == pytest.approx(20_000)  # the old record is excluded
    assert (s.stats.prompt_tokens, s.stats.completion_tokens) == (20_000, 2_000)
    assert s.actual_monthly == pytest.approx(20 * 0.0001 * 1000)
    # self-hosted requests priced on gpt-4o-mini: 1000 x 0.15 + 100 x 0.60 per million each
    assert s.api_monthly == pytest.approx(20 * 0.00021 * 1000)
    # one replica: $0.001 x 730 h = $0.73/month, no ops
    assert (s.replicas, s.self_hosted_monthly) == (1, pytest.approx(0.73))
    # break-even: 0.73 / 0.00021 per request
    assert s.break_even.first == pytest.approx(0.73 / 0.00021) and s.crossed
    assert s.recommendation.action == "self_host"


def test_external_requests_keep_their_own_model_price() -> None:
    chat = build()["chat"]
    assert chat.stats.requests == 6 and chat.stats.errors == 1
    assert chat.api_monthly == pytest.approx(5 * (100 * 2.50 + 50 * 10.0) / 1e6 * 1000)
    assert chat.actual_monthly == pytest.approx(5 * 0.00075 * 1000)


def test_p95_ignores_failures_and_is_checked_against_the_sla() -> None:
    out = build(slas={"summarise": 10.0}, default_sla_ms=500.0)
    s = out["summarise"]
    assert s.stats.p95_ms == 19.0 and s.sla_ms == 10.0  # nearest rank: 19th of 20
    assert any("exceeds the 10 ms SLA" in r for r in s.recommendation.reasons)
    assert out["chat"].stats.p95_ms == 105.0 and out["chat"].sla_ms == 500.0


def test_sensitive_workload_stays_self_hosted() -> None:
    assert build()["hr"].recommendation.action == "keep_self_hosted"


def test_group_by_team() -> None:
    reports = build_report(
        records(), by="team", cat=load_catalogue(), api_model="gpt-4o-mini", fleet=FLEET, now=NOW, window_s=WINDOW
    )
    assert {r.stats.name: r.stats.requests for r in reports} == {"t1": 23, "t2": 6}


def test_render_markdown_and_html() -> None:
    reports = list(build().values())
    meta = ReportMeta("30d", "route_tag", "gpt-4o-mini", "test fleet", "now")
    md = to_markdown(reports, meta, "chart.png")
    assert "| summarise | 20,000 |" in md and "![cost per workload](chart.png)" in md
    html = to_html(reports, meta)
    assert "<td>summarise</td>" in html and "data:image/png;base64,iVBOR" in html


@pytest.mark.parametrize(
    ("monthly", "first", "sustained", "sensitive", "action"),
    [
        (100, 1000, 2000, 0.0, "api"),
        (1500, 1000, 2000, 0.0, "hybrid"),
        (2500, 1000, 2000, 0.0, "self_host"),
        (100, None, None, 0.0, "api"),
        (100, 1000, 2000, 0.5, "hybrid"),
        (100, None, None, 1.0, "keep_self_hosted"),
    ],
)
def test_recommendation_table(
    monthly: float, first: float | None, sustained: float | None, sensitive: float, action: str
) -> None:
    assert recommend(monthly, BreakEven(first, sustained, None), sensitive, None, None).action == action


def test_percentile_nearest_rank() -> None:
    assert percentile([], 0.95) is None
    assert percentile([5.0], 0.95) == 5.0
    assert percentile([float(i) for i in range(1, 101)], 0.95) == 95.0
