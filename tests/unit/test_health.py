"""Health tracker, retry budget, back-off, load prediction and active-check thresholds, with an injected clock."""

from __future__ import annotations

import random

import pytest

from hybridgate.routing.config import HealthCheckConfig, OutlierConfig, RetryConfig
from hybridgate.routing.health import HealthTracker
from hybridgate.routing.load import LoadSample, parse_prometheus, predict, sample_from
from hybridgate.routing.monitor import Thresholds, probe_request, server_root
from hybridgate.routing.retry import RetryBudget, backoff_s
from hybridgate.routing.select import EndpointState
from hybridgate.settings import EndpointConfig


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def tracker(clock: Clock) -> HealthTracker:
    cfg = OutlierConfig(consecutive_failures=3, base_ejection_s=10, max_ejection_s=40)
    return HealthTracker(["a"], outlier={"a": cfg}, clock=clock)


def fail(h: HealthTracker, n: int = 1) -> None:
    for _ in range(n):
        h.start("a")
        h.finish("a", ok=False)


def test_ejection_backoff_half_open_and_readmission() -> None:
    clock = Clock()
    h = tracker(clock)
    changes: list[str] = []
    h.listeners.append(lambda name, state: changes.append(state))
    fail(h, 2)
    assert h.state("a").breaker == "closed"
    fail(h)
    assert h.state("a").breaker == "open" and h.snapshot().state("a").breaker == "open"
    clock.t += 9.9
    assert h.state("a").breaker == "open"
    clock.t += 0.2
    assert h.state("a").breaker == "half_open"
    fail(h)  # the trial fails: ejected again, for twice as long
    assert h.state("a").breaker == "open"
    clock.t += 19.9
    assert h.state("a").breaker == "open"
    clock.t += 0.2
    h.start("a")
    h.finish("a", ok=True, latency_ms=50)
    assert h.state("a").breaker == "closed"
    fail(h, 3)
    clock.t += 10.1  # back-off restarted from the base after full readmission
    assert h.state("a").breaker == "half_open"
    assert changes == ["open", "open", "closed", "open"]


def test_snapshot_reads_each_endpoint_at_its_own_instant_as_state_does() -> None:
    clock = Clock()
    h = HealthTracker(["a", "b", "c"], max_in_flight={"b": 2}, clock=clock)
    for _ in range(5):
        h.start("a")
        h.finish("a", ok=False)  # ejected for the default base time
    h.start("b")
    h.pause("c", 5.0)
    h.set_load("b", True, "queue deep")
    snap = h.snapshot()
    assert dict(snap.states) == {n: h.state(n) for n in ("a", "b", "c")}
    assert [n for n in snap.states] == ["a", "b", "c"] and len(snap.states) == 3
    assert snap.state("unknown") == EndpointState()
    later = h.snapshot()
    clock.t += 3600  # ejection and pause are over for reads now, not for the snapshots taken before
    assert later.state("a").breaker == "open" and not later.state("c").healthy
    assert h.snapshot().state("a").breaker == "half_open" and h.snapshot().state("c").healthy


def test_backoff_is_capped() -> None:
    clock = Clock()
    h = tracker(clock)
    for _ in range(6):
        fail(h, 3)
        clock.t += 1000
        fail(h)  # half-open trial fails
    clock.t += 40.1
    assert h.state("a").breaker == "half_open"


def test_pause_for_retry_after_and_active_checks() -> None:
    clock = Clock()
    h = tracker(clock)
    h.pause("a", 5)
    assert not h.state("a").healthy and h.state("a").breaker == "closed"
    clock.t += 5.1
    assert h.state("a").healthy
    h.set_active("a", False)
    assert not h.state("a").healthy
    h.set_load("a", True, "9 waiting")
    assert h.state("a").overloaded and h.state("a").load_note == "9 waiting"


def test_peak_ewma_jumps_up_and_decays() -> None:
    clock = Clock()
    h = tracker(clock)
    for ms in (100, 100):
        h.start("a")
        h.finish("a", ok=True, latency_ms=ms)
    h.start("a")
    h.finish("a", ok=True, latency_ms=900)
    assert h.state("a").ewma_ms == 900
    clock.t += 30
    h.start("a")
    h.finish("a", ok=True, latency_ms=100)
    assert 100 < h.state("a").ewma_ms < 200


def test_retry_budget_limits_retries_to_a_share_of_requests() -> None:
    b = RetryBudget(ratio=0.2, initial=2)
    granted = 0
    for _ in range(100):
        b.on_request()
        if b.try_spend():
            granted += 1
        b.try_spend()  # a second retry for the same request
    assert granted <= 2 + 20  # the initial allowance plus 20% of 100 requests
    assert b.denied > 0


@pytest.mark.parametrize(
    ("retry_no", "retry_after", "lo", "hi"),
    [(1, None, 0.025, 0.05), (3, None, 0.1, 0.2), (10, None, 0.5, 1.0), (1, 1.5, 1.5, 1.5), (1, 5.0, None, None)],
)
def test_backoff_with_jitter_and_retry_after(
    retry_no: int, retry_after: float | None, lo: float | None, hi: float | None
) -> None:
    cfg = RetryConfig(backoff_base_s=0.05, backoff_max_s=1.0, max_retry_after_s=2.0)
    for seed in range(20):
        got = backoff_s(cfg, retry_no, retry_after, random.Random(seed))
        if lo is None:
            assert got is None
        else:
            assert got is not None and lo <= got <= hi  # type: ignore[operator]


VLLM = """# HELP vllm:num_requests_waiting Number of requests waiting.
# TYPE vllm:num_requests_waiting gauge
vllm:num_requests_waiting{model_name="llama"} 40.0
vllm:num_requests_running{model_name="llama"} 8.0
vllm:gpu_cache_usage_perc{model_name="llama"} 0.61
garbage line
"""


def test_parse_and_predict() -> None:
    sample = sample_from("vllm", parse_prometheus(VLLM))
    assert sample == LoadSample(40.0, 8.0, 0.61)
    over, note = predict(sample, idle_ttft_ms=300, request_ms=2000, slo_ttft_ms=1500)
    assert over and "predicted TTFT 10300 ms" in note  # 40 waiting / 8 running = 5 rounds of 2 s ahead
    assert predict(LoadSample(2, 8, 0.5), 300, 2000, 1500)[0] is False
    assert predict(LoadSample(1, 8, 0.99), 300, 2000, None)[0] is True
    assert predict(LoadSample(100, 1, None), 300, 2000, None)[0] is False  # no SLO, no KV pressure: no prediction
    tgi = sample_from("tgi", parse_prometheus("tgi_queue_size 7\ntgi_batch_current_size 3\n"))
    assert (tgi.waiting, tgi.running, tgi.kv_usage) == (7, 3, None)


def test_active_check_thresholds_and_requests() -> None:
    t = Thresholds(HealthCheckConfig(healthy_threshold=2, unhealthy_threshold=3))
    assert [t.observe(ok) for ok in (False, False, False, True, True)] == [True, True, False, False, True]
    ep = EndpointConfig(name="v", base_url="http://h:8000/v1", trust="self_hosted", models=["m"])  # type: ignore[arg-type]
    assert server_root("http://h:8000/v1/") == "http://h:8000"
    assert probe_request(ep, HealthCheckConfig(check="health"))[1] == "http://h:8000/health"
    assert probe_request(ep, HealthCheckConfig(check="models"))[1] == "http://h:8000/v1/models"
    method, url, body = probe_request(ep, HealthCheckConfig(check="completion"))
    assert method == "POST" and url.endswith("/chat/completions") and body and b'"max_tokens":1' in body


def test_inprocess_backend_load_feeds_the_tracker() -> None:
    from hybridgate.routing.monitor import Monitor
    from hybridgate.settings import parse_settings

    class Busy:
        queue_depth = 6
        busy = True

    s = parse_settings(
        {
            "endpoints": [
                {
                    "name": "local",
                    "kind": "mock",
                    "trust": "self_hosted",
                    "models": ["m"],
                    "load": {"ttft_ms": 100, "request_ms": 1000},
                }
            ],
            "tiers": {"self_hosted": {"endpoints": ["local"], "slo": {"ttft_p95_ms": 1500}}},
            "policy": {"default_tier": "self_hosted"},
        }
    )
    h = HealthTracker(["local"])
    mon = Monitor(s, h, {"local": Busy()})  # type: ignore[dict-item]
    mon.read_inprocess(s.endpoints[0])
    assert h.state("local").overloaded and "6 waiting" in h.state("local").load_note
    Busy.queue_depth = 0
    mon.read_inprocess(s.endpoints[0])
    assert not h.state("local").overloaded
