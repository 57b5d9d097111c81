"""Property: whatever the config, request mix and upstream faults, a sensitive request only ever
reaches endpoints inside its boundary (here: self_hosted), on every attempt, streaming or not."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hybridgate.app import Overrides, build_pipeline
from hybridgate.auth.principal import ANONYMOUS, Principal
from hybridgate.backends.mock import MockBackend
from hybridgate.detect.findings import FakeDetector
from hybridgate.errors import GatewayError, UpstreamError, UpstreamStatusError, UpstreamTimeout
from hybridgate.labels import DataClass, Trust
from hybridgate.settings import parse_settings

SECRET = "536-22-8417"
TRUSTS = [t.value for t in Trust]
FAULTS = [None, "503", "429", "connect", "timeout", "400"]


def fault(kind: str | None) -> GatewayError | None:
    return {
        None: None,
        "503": UpstreamStatusError("down", upstream_status=503),
        "429": UpstreamStatusError("slow down", upstream_status=429, retry_after=1),
        "connect": UpstreamError("refused", code="connect_error"),
        "timeout": UpstreamTimeout("slow"),
        "400": UpstreamStatusError("bad", upstream_status=400),
    }[kind]


@st.composite
def configs(draw: st.DrawFn) -> dict[str, Any]:
    n = draw(st.integers(1, 5))
    endpoints = [
        {"name": f"e{i}", "kind": "mock", "trust": draw(st.sampled_from(TRUSTS)), "models": [f"m{i}", "shared"]}
        for i in range(n)
    ]
    names = [e["name"] for e in endpoints]
    tier_names = [f"t{i}" for i in range(draw(st.integers(1, 3)))]
    tiers = {
        t: {
            "endpoints": draw(st.lists(st.sampled_from(names), min_size=1, max_size=n, unique=True)),
            "fallback": draw(st.lists(st.sampled_from(tier_names), max_size=2, unique=True)),
            "strategy": draw(st.sampled_from(["p2c_ewma", "least_outstanding", "weighted_round_robin"])),
            # no real sleeping in a property test: back-off is exercised, its duration is not
            "retry": {"max_attempts": draw(st.integers(1, 4)), "backoff_base_s": 0, "max_retry_after_s": 0},
        }
        for t in tier_names
    }
    policy: dict[str, Any] = {"default_tier": draw(st.sampled_from(tier_names))}
    if draw(st.booleans()):
        policy["sensitive_tier"] = draw(st.sampled_from(tier_names))
    if draw(st.booleans()):
        policy["frontier_tier"] = draw(st.sampled_from(tier_names))
        policy["complexity_threshold"] = draw(st.floats(0, 1))
    return {"endpoints": endpoints, "tiers": tiers, "policy": policy, "detection": {"complexity": "length"}}


@dataclass
class Req:
    why_sensitive: str | None  # detector | header | floor | detector_error | None
    model: str
    stream: bool


requests = st.builds(
    Req,
    st.sampled_from([None, "detector", "header", "floor", "detector_error"]),
    st.sampled_from(["auto", "shared", "m0", "m1", "t0", "t1"]),
    st.booleans(),
)


class FloorAuth:
    def __init__(self, floor: DataClass) -> None:
        self.principal = Principal("k", "tester", class_floor=floor)

    async def authenticate(self, authorization: str | None) -> Principal:
        return self.principal


async def send(cfg: dict[str, Any], faults: list[str | None], req: Req) -> tuple[dict[str, MockBackend], int]:
    s = parse_settings(cfg)
    backends = {
        e.name: MockBackend(e.name, e.trust, error=fault(faults[i % len(faults)])) for i, e in enumerate(s.endpoints)
    }
    detector = FakeDetector(
        {SECRET: "US_SSN"}, error=RuntimeError("boom") if req.why_sensitive == "detector_error" else None
    )
    auth = FloorAuth(DataClass.CONFIDENTIAL) if req.why_sensitive == "floor" else None
    pipeline = build_pipeline(s, Overrides(backends=backends, detector=detector, authenticator=auth), [])
    text = f"my number is {SECRET}" if req.why_sensitive == "detector" else "hello there"
    headers = {"x-hybridgate-data-class": "restricted"} if req.why_sensitive == "header" else {}
    body = {"model": req.model, "stream": req.stream, "messages": [{"role": "user", "content": text}]}
    status = 200
    try:
        plan = await pipeline.plan("chat", body, headers, "rid")
        if req.stream:
            served = await pipeline.open_stream(plan)
            assert served.events is not None
            async for _ in served.events:
                pass
        else:
            await pipeline.call(plan)
    except GatewayError as e:
        status = e.status
    return backends, status


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    cfg=configs(),
    faults=st.lists(st.sampled_from(FAULTS), min_size=1, max_size=5),
    reqs=st.lists(requests, min_size=1, max_size=6),
)
def test_sensitive_requests_never_leave_the_boundary(
    cfg: dict[str, Any], faults: list[str | None], reqs: list[Req]
) -> None:
    for req in reqs:
        try:
            backends, status = asyncio.run(send(cfg, faults, req))
        except Exception as e:  # config draws can be invalid (e.g. model not served): that's a 404, not a leak
            raise AssertionError(f"crash: {e!r}") from e
        reached = [b for b in backends.values() if b.received]
        if req.why_sensitive is not None:
            assert all(b.trust == Trust.SELF_HOSTED for b in reached), (req, [b.name for b in reached])
            for b in reached:
                assert all(r.allowed_trust == {Trust.SELF_HOSTED} for r in b.received)
        if status == 200:
            assert reached, "a 200 must have been served by someone"
        assert status in (200, 400, 403, 404, 429, 502, 503, 504), status


def test_anonymous_default_is_unrestricted() -> None:
    assert ANONYMOUS.class_floor == DataClass.PUBLIC
