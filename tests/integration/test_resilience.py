"""The fault matrix: scripted upstream faults, asserting what the client sees and what every fake received."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import Any

import httpx
import openai
import pytest

from hybridgate.app import build_app
from hybridgate.settings import parse_settings
from tests.fakes.servers import ServerThread
from tests.fakes.upstream import FakeUpstream

SSN = "my SSN is 536-22-8417"
FAST = {"connect": 0.5, "first_byte": 0.5, "total": 5, "between_chunks": 0.4}


class Rig:
    """Two self-hosted replicas (a, b), one external frontier (x); self falls back to frontier."""

    def __init__(self, servers: ServerThread, tweak: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.fakes = {n: FakeUpstream(n) for n in ("a", "b", "x")}
        for f in self.fakes.values():
            f.port = servers.start_app(f.app)
        eps = [
            {
                "name": n,
                "kind": "openai",
                "base_url": self.fakes[n].base_url,
                "trust": t,
                "models": [m],
                "timeouts": FAST,
                "outlier": {"consecutive_failures": 3, "base_ejection_s": 0.5},
            }
            for n, t, m in (("a", "self_hosted", "llama"), ("b", "self_hosted", "llama"), ("x", "external", "gpt-4o"))
        ]
        retry = {"max_attempts": 3, "backoff_base_s": 0.01, "max_retry_after_s": 0.2}
        self.config: dict[str, Any] = {
            "endpoints": eps,
            "tiers": {
                "self_hosted": {
                    "endpoints": ["a", "b"],
                    "model": "llama",
                    "fallback": ["frontier"],
                    "strategy": "least_outstanding",
                    "retry": retry,
                    "slo": {"ttft_p95_ms": 1500, "queue_timeout_s": 0.5},
                },
                "frontier": {"endpoints": ["x"], "model": "gpt-4o", "retry": retry},
            },
            "policy": {"default_tier": "self_hosted"},
            "detection": {"complexity": "off", "ner": False},
        }
        if tweak:
            tweak(self.config)
        settings = parse_settings(self.config)
        self.url = f"http://127.0.0.1:{servers.start_app(lambda: build_app(settings))}"
        self.client = openai.OpenAI(base_url=self.url + "/v1", api_key="k", max_retries=0)

    def ask(self, content: str = "hello", **kw: Any) -> Any:
        return self.client.chat.completions.with_raw_response.create(
            model="auto", messages=[{"role": "user", "content": content}], **kw
        )

    def got(self, name: str) -> int:
        return len(self.fakes[name].received)

    def readyz(self) -> dict[str, Any]:
        return httpx.get(self.url + "/readyz", timeout=5).json()  # type: ignore[no-any-return]


@pytest.fixture
def rig(servers: ServerThread) -> Rig:
    return Rig(servers)


def text(raw: Any) -> str:
    return raw.parse().choices[0].message.content  # type: ignore[no-any-return]


def test_5xx_storm_fails_over_and_ejects(rig: Rig) -> None:
    rig.fakes["a"].script.status = 503
    answers = [text(rig.ask()) for _ in range(6)]
    assert answers == ["hello from b"] * 6
    assert rig.got("x") == 0
    assert rig.readyz()["endpoints"]["a"]["breaker"] == "open"
    before = rig.got("a")
    rig.ask()
    assert rig.got("a") == before  # ejected: not tried at all


def test_connect_refused_goes_to_the_next_replica(servers: ServerThread) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]

    def tweak(c: dict[str, Any]) -> None:
        c["endpoints"][0]["base_url"] = f"http://127.0.0.1:{dead}/v1"

    rig = Rig(servers, tweak)
    assert {text(rig.ask()) for _ in range(4)} == {"hello from b"}


def test_timeout_before_first_byte_fails_over(rig: Rig) -> None:
    rig.fakes["a"].script.delay = 2.0
    assert {text(rig.ask()) for _ in range(3)} == {"hello from b"}


def test_stream_that_fails_over_carries_the_headers_of_the_endpoint_that_answered(rig: Rig) -> None:
    # The stream's response is built while each attempt's upstream works on the request; the one sent must
    # be the one built for the attempt that answered, not for the replica that refused.
    rig.fakes["a"].script.status = 503
    for _ in range(2):  # least_outstanding may try either replica first
        raw = rig.client.chat.completions.with_raw_response.create(
            model="auto", stream=True, messages=[{"role": "user", "content": "hi"}]
        )
        assert raw.headers["x-hybridgate-route"] == "b/llama"
        assert raw.headers["content-type"] == "text/event-stream"
        assert raw.headers["x-hybridgate-request-id"].startswith("hg-")
        text = "".join(c.choices[0].delta.content or "" for c in raw.parse() if c.choices)
        assert text == "hello from b"
    assert rig.got("x") == 0


def test_stall_mid_stream_ends_with_an_error_event_and_no_failover(rig: Rig) -> None:
    rig.fakes["b"].script.status = 503  # only a can serve
    rig.fakes["a"].script.stall_after = 2
    with pytest.raises(openai.APIError, match="stalled"):
        list(rig.client.chat.completions.create(model="auto", stream=True, messages=[{"role": "user", "content": "x"}]))
    assert rig.got("x") == 0


def test_cut_stream_is_an_error_not_a_clean_end(rig: Rig) -> None:
    rig.fakes["a"].script.cut_after = 1
    rig.fakes["b"].script.cut_after = 1
    with pytest.raises(openai.APIError):
        list(rig.client.chat.completions.create(model="auto", stream=True, messages=[{"role": "user", "content": "x"}]))


def test_slow_drip_within_the_stall_limit_completes(rig: Rig) -> None:
    rig.fakes["a"].script.drip = 0.05
    rig.fakes["b"].script.drip = 0.05
    chunks = rig.client.chat.completions.create(model="auto", stream=True, messages=[{"role": "user", "content": "x"}])
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices).startswith("hello from")


def test_429_with_retry_after_pauses_that_replica(rig: Rig) -> None:
    rig.fakes["a"].script.status = 429
    rig.fakes["a"].script.retry_after = "30"
    assert {text(rig.ask()) for _ in range(4)} == {"hello from b"}
    assert rig.got("a") == 1  # paused after its 429, not hammered
    ep = rig.readyz()["endpoints"]["a"]
    assert ep["healthy"] is False and ep["breaker"] == "closed"


def test_flapping_endpoint_is_ejected_then_readmitted(rig: Rig) -> None:
    rig.fakes["b"].script.status = 503
    rig.fakes["a"].script.status = 503
    for _ in range(3):
        with pytest.raises(openai.APIStatusError):
            rig.ask(SSN)  # sensitive: nowhere else to go
    assert rig.readyz()["endpoints"]["a"]["breaker"] == "open"
    rig.fakes["a"].script.status = 200
    deadline = time.monotonic() + 10
    while rig.readyz()["endpoints"]["a"]["breaker"] == "open" and time.monotonic() < deadline:
        time.sleep(0.1)
    assert rig.readyz()["endpoints"]["a"]["breaker"] == "half_open"
    assert text(rig.ask(SSN)) == "hello from a"
    assert rig.readyz()["endpoints"]["a"]["breaker"] == "closed"


def test_all_self_hosted_down_sensitive_gets_503_public_gets_fallback(rig: Rig) -> None:
    rig.fakes["a"].script.status = 503
    rig.fakes["b"].script.status = 503
    with pytest.raises(openai.APIStatusError) as exc:
        rig.ask(SSN)
    assert exc.value.status_code == 503 and exc.value.response.headers.get("retry-after")
    assert rig.got("x") == 0
    raw = rig.ask("what is the capital of France?")
    assert text(raw) == "hello from x"
    assert raw.headers["x-hybridgate-overflow"].startswith("frontier")
    assert all("536-22-8417" not in str(r["body"]) for r in rig.fakes["x"].received)


def test_content_policy_400_is_returned_not_rerouted(rig: Rig) -> None:
    for n in ("a", "b"):
        rig.fakes[n].script.status = 400
        rig.fakes[n].script.error_body = {"error": {"message": "flagged by content policy", "type": "invalid_request"}}
    with pytest.raises(openai.BadRequestError, match="content policy"):
        rig.ask()
    assert rig.got("a") + rig.got("b") == 1 and rig.got("x") == 0


def test_vllm_queue_overflows_public_but_never_sensitive(servers: ServerThread) -> None:
    def tweak(c: dict[str, Any]) -> None:
        for ep in c["endpoints"][:2]:
            ep["load"] = {"source": "vllm", "interval_s": 0.05, "ttft_ms": 300}

    rig = Rig(servers, tweak)
    long_queue = "vllm:num_requests_waiting 60\nvllm:num_requests_running 4\nvllm:gpu_cache_usage_perc 0.9\n"
    rig.fakes["a"].script.metrics = long_queue
    rig.fakes["b"].script.metrics = long_queue
    deadline = time.monotonic() + 10
    while not rig.readyz()["endpoints"]["a"]["overloaded"] and time.monotonic() < deadline:
        time.sleep(0.05)
    raw = rig.ask("summarise the plot of Hamlet")
    assert text(raw) == "hello from x"
    assert "predicted TTFT" in raw.headers["x-hybridgate-overflow"]
    explain = httpx.post(rig.url + "/v1/route/explain", json={"messages": [{"role": "user", "content": "hi"}]}).json()
    assert explain["candidates"][0]["overflow_reason"]
    with pytest.raises(openai.APIStatusError) as exc:
        rig.ask(SSN)  # waits for capacity (0.5 s), then 503: never overflows to the external tier
    assert exc.value.status_code == 503
    assert all("536-22-8417" not in str(r["body"]) for r in rig.fakes["x"].received)
    rig.fakes["a"].script.metrics = "vllm:num_requests_waiting 0\nvllm:num_requests_running 1\n"
    deadline = time.monotonic() + 10
    while rig.readyz()["endpoints"]["a"]["overloaded"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert text(rig.ask(SSN)) == "hello from a"


def test_active_health_check_marks_a_dead_replica(servers: ServerThread) -> None:
    def tweak(c: dict[str, Any]) -> None:
        c["endpoints"][0]["health"] = {
            "check": "health",
            "interval_s": 0.05,
            "unhealthy_threshold": 2,
            "healthy_threshold": 1,
        }

    rig = Rig(servers, tweak)
    rig.fakes["a"].script.status = 503  # its /health now answers 503 too
    deadline = time.monotonic() + 10
    while rig.readyz()["endpoints"]["a"]["healthy"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert rig.readyz()["endpoints"]["a"]["healthy"] is False
    n = rig.got("a")
    assert {text(rig.ask()) for _ in range(3)} == {"hello from b"}
    assert rig.got("a") == n
