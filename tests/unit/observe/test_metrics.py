"""Metric updates per record, on a private registry, and bounded labels."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from hybridgate.observe.labels import OTHER, BoundedLabel, ClosedLabel, error_kind, status_class
from hybridgate.observe.metrics import Metrics
from hybridgate.observe.metrics_observer import MetricsObserver, overhead_s, tokens_per_second
from hybridgate.store.records import AttemptRecord, UsageRecord


def rec(**kw: Any) -> UsageRecord:
    base: dict[str, Any] = {
        "ts": 0.0,
        "request_id": "hg-1",
        "key_id": None,
        "team": None,
        "route_tag": None,
        "tier": "self_hosted",
        "endpoint": "local",
        "trust": "self_hosted",
        "model": "llama",
        "rule_id": "default",
        "data_class": "public",
        "status": 200,
        "prompt_tokens": 10,
        "completion_tokens": 20,
        "latency_ms": 120.0,
        "attempts": (AttemptRecord("local", "self_hosted", "ok", 100.0),),
    }
    return UsageRecord(**{**base, **kw})


@pytest.fixture
def setup() -> tuple[CollectorRegistry, MetricsObserver]:
    reg = CollectorRegistry()
    obs = MetricsObserver(
        Metrics(reg), endpoints=["local", "ext"], tiers=["self_hosted", "frontier"], models=["llama"], rules=["default"]
    )
    return reg, obs


def val(reg: CollectorRegistry, name: str, **labels: str) -> float:
    v = reg.get_sample_value(name, labels)
    return 0.0 if v is None else v


def test_request_counters_and_histograms_move(setup: tuple[CollectorRegistry, MetricsObserver]) -> None:
    reg, obs = setup
    obs.observe(rec())
    obs.observe(rec(status=503, endpoint=None, tier="self_hosted", attempts=()))
    lab = {"tier": "self_hosted", "endpoint": "local", "model": "llama", "rule": "default", "status": "200"}
    assert val(reg, "hybridgate_requests_total", **lab) == 1
    assert val(reg, "hybridgate_requests_total", **{**lab, "endpoint": "none", "status": "503"}) == 1
    assert val(reg, "hybridgate_request_duration_seconds_count", tier="self_hosted", stream="false") == 2
    assert val(reg, "hybridgate_gateway_overhead_seconds_sum", tier="self_hosted") == pytest.approx(0.02 + 0.12)
    assert val(reg, "hybridgate_upstream_duration_seconds_count", endpoint="local", outcome="ok") == 1
    tok = {"tier": "self_hosted", "endpoint": "local", "model": "llama"}
    assert val(reg, "hybridgate_tokens_total", **tok, kind="completion") == 20
    assert val(reg, "hybridgate_tokens_per_second_count", tier="self_hosted", endpoint="local") == 1


def test_errors_findings_fail_closed_overflow_and_frontier(setup: tuple[CollectorRegistry, MetricsObserver]) -> None:
    reg, obs = setup
    attempts = (AttemptRecord("local", "self_hosted", "status_503", 5.0), AttemptRecord("ext", "external", "ok", 9.0))
    obs.observe(
        rec(
            attempts=attempts,
            tier="frontier",
            endpoint="ext",
            decision_tier="self_hosted",
            overflow="queue 9 > 8",
            finding_counts={"US_SSN": 2},
            fail_closed=True,
            auto_routed=True,
            cost_usd=0.5,
            team="red",
        )
    )
    assert val(reg, "hybridgate_upstream_errors_total", endpoint="local", kind="status_5xx") == 1
    assert val(reg, "hybridgate_upstream_duration_seconds_count", endpoint="local", outcome="error") == 1
    assert val(reg, "hybridgate_upstream_duration_seconds_sum", endpoint="ext", outcome="ok") == 0.009
    assert val(reg, "hybridgate_pii_findings_total", type="US_SSN") == 2
    assert val(reg, "hybridgate_detector_fail_closed_total") == 1
    assert val(reg, "hybridgate_overflow_total", tier_from="self_hosted", tier_to="frontier", reason="load") == 1
    assert val(reg, "hybridgate_router_auto_requests_total", tier="frontier") == 1
    assert val(reg, "hybridgate_cost_usd_total", tier="frontier", endpoint="ext", team="red") == 0.5


def test_client_chosen_names_do_not_become_labels(setup: tuple[CollectorRegistry, MetricsObserver]) -> None:
    reg, obs = setup
    obs.observe(rec(model="my-secret-model-name", endpoint="nope", tier=None))
    lab = {"tier": "none", "endpoint": OTHER, "model": OTHER, "rule": "default", "status": "200"}
    assert val(reg, "hybridgate_requests_total", **lab) == 1


@pytest.mark.parametrize(("status", "label"), [(200, "200"), (201, "2xx"), (429, "429"), (418, "4xx"), (503, "503")])
def test_status_class(status: int, label: str) -> None:
    assert status_class(status) == label


@pytest.mark.parametrize(
    ("outcome", "kind"),
    [("status_503", "status_5xx"), ("status_429", "status_429"), ("per_try_timeout", "per_try_timeout")],
)
def test_error_kind(outcome: str, kind: str) -> None:
    assert error_kind(outcome) == kind


def test_bounded_label_caps_distinct_values() -> None:
    b = BoundedLabel(["a"], cap=2)
    assert [b("a"), b("x"), b("y"), b("z"), b("x"), b("bad value!"), b(None)] == [
        "a",
        "x",
        "y",
        OTHER,
        "x",
        OTHER,
        "none",
    ]
    assert ClosedLabel(["m"])("m") == "m" and ClosedLabel(["m"])("n") == OTHER


def test_tokens_per_second_and_overhead() -> None:
    assert tokens_per_second(rec(completion_tokens=50, latency_ms=600.0, ttft_ms=100.0)) == pytest.approx(100.0)
    assert tokens_per_second(rec(completion_tokens=20)) == pytest.approx(200.0)  # over the 100 ms attempt
    assert tokens_per_second(rec(completion_tokens=0)) is None
    assert overhead_s(rec(latency_ms=50.0, attempts=(AttemptRecord("a", "t", "ok", 80.0),))) == 0.0


def test_batched_histogram_equals_observing_one_by_one() -> None:
    from prometheus_client import Histogram

    from hybridgate.observe.metrics import LATENCY_BUCKETS
    from hybridgate.observe.metrics_observer import Count, Hist

    rnd = random.Random(7)
    values = [*LATENCY_BUCKETS, 0.0, -1.0, 1e9] + [rnd.expovariate(2.0) for _ in range(500)]
    reg = CollectorRegistry()
    one = Histogram("one", "x", ("k",), buckets=LATENCY_BUCKETS, registry=reg)
    batched = Histogram("batched", "x", ("k",), buckets=LATENCY_BUCKETS, registry=reg)
    acc = Hist(batched, ("a",))
    dirty: list[Count | Hist] = []
    for i, v in enumerate(values):
        one.labels("a").observe(v)
        acc.observe(v, dirty)
        if i % 97 == 0:  # several flushes, each adding to what is there
            acc.flush()
    acc.flush()

    def samples(name: str) -> list[tuple[str, dict[str, str], float]]:
        (fam,) = [f for f in reg.collect() if f.name == name]
        return [(s.name.removeprefix(name), s.labels, s.value) for s in fam.samples if not s.name.endswith("_created")]

    got, want = samples("batched"), samples("one")
    assert [(n, lab) for n, lab, _ in got] == [(n, lab) for n, lab, _ in want]
    assert [v for *_, v in got] == pytest.approx([v for *_, v in want])  # the sum adds in another order


async def test_updates_of_one_loop_iteration_are_written_together(
    setup: tuple[CollectorRegistry, MetricsObserver],
) -> None:
    reg, obs = setup
    lab = {"tier": "self_hosted", "endpoint": "local", "model": "llama", "rule": "default", "status": "200"}
    for _ in range(3):
        obs.observe(rec())
    assert val(reg, "hybridgate_requests_total", **lab) == 0  # counted, not yet written
    await asyncio.sleep(0)
    assert val(reg, "hybridgate_requests_total", **lab) == 3
    assert val(reg, "hybridgate_request_duration_seconds_count", tier="self_hosted", stream="false") == 3
    assert val(reg, "hybridgate_ttft_seconds_count", tier="self_hosted", endpoint="local") == 0
    assert "hybridgate_ttft_seconds" not in {m.name for m in reg.collect() if m.samples}  # no empty series


def test_many_distinct_raw_values_keep_counting(setup: tuple[CollectorRegistry, MetricsObserver]) -> None:
    reg, obs = setup
    for i in range(5000):  # more kinds than the cache holds: it starts over and keeps counting
        obs.observe(rec(model=f"client-model-{i}"))
    lab = {"tier": "self_hosted", "endpoint": "local", "model": OTHER, "rule": "default", "status": "200"}
    assert val(reg, "hybridgate_requests_total", **lab) == 5000


async def test_one_process_writes_at_the_scrape() -> None:
    from aiohttp.test_utils import make_mocked_request

    from hybridgate.observe.metrics import metrics_handler

    reg = CollectorRegistry()
    obs = MetricsObserver(
        Metrics(reg),
        endpoints=["local"],
        tiers=["self_hosted"],
        models=["llama"],
        rules=[],
        flush_every_iteration=False,
    )
    obs.observe(rec())
    await asyncio.sleep(0)
    assert val(reg, "hybridgate_data_class_total", data_class="public") == 0  # no write per request or iteration
    resp = await metrics_handler(obs.flush)(make_mocked_request("GET", "/metrics"))
    assert resp.status == 200
    assert val(reg, "hybridgate_data_class_total", data_class="public") == 1  # the scrape wrote it first
