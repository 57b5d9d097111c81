"""The third-party `pii-leak-benchmark` harness (PyPI) against the running gateway, via its Python API.

The harness binds a capture server, sends a streamed prompt full of valid synthetic PII (email, SSN,
card, AWS/GitHub/Slack credentials) through the target, and inspects every byte that reaches the
capture. Here the capture is the gateway's external endpoint; the self-hosted endpoint is our fake.
All on 127.0.0.1.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import openai
import pytest
from pii_leak_benchmark import CaptureSession, OperatorSpecimens, capture_session, run_http_conformance
from pii_leak_benchmark.selfcheck import verdict_for

from tests.conftest import Gateway, GatewayFactory, minimal_config

BOUNDARY = "configured_upstream_boundary"
CONTROL = "Benign positive control: list three uses for a trowel."


@pytest.fixture
def capture() -> Iterator[CaptureSession]:
    with capture_session(capture_host="127.0.0.1", capture_port=0, timeout_seconds=10) as session:
        yield session


def gateway_for(make_gateway: GatewayFactory, session: CaptureSession, **policy: Any) -> Gateway:
    def config(self_url: str, _ext_url: str) -> dict[str, Any]:
        cfg = minimal_config(self_url, session.advertised_base_url, **policy)
        cfg["detection"] = {**cfg["detection"], "time_budget_ms": 5000.0, "ner_time_budget_ms": 20000.0}
        return cfg

    gw = make_gateway(config)
    gw.self_fake.script.echo = True  # a self-hosted answer echoes the prompt, so fidelity is measurable
    return gw


def measure(gw: Gateway, session: CaptureSession, specimens: OperatorSpecimens | None = None) -> dict[str, Any]:
    return run_http_conformance(
        gw.url + "/v1",
        session=session,
        model="auto",
        iterations=2,
        timeout_seconds=30,
        include_credentials=True,
        specimens=specimens,
        implementation_name="hybridgate",
    )


def test_redact_mode_is_clean(make_gateway: GatewayFactory, capture: CaptureSession) -> None:
    rule = {"id": "redact-external", "when": {"data_class_at_least": "confidential"}, "action": "redact"}
    gw = gateway_for(make_gateway, capture, rules=[{**rule, "tier": "frontier"}])
    report = measure(gw, capture)
    verdict, why = verdict_for(report)
    assert verdict == "CLEAN", why
    boundary = report["checks"][BOUNDARY]
    assert boundary["correlated_requests"] == 2 and boundary["leaked_entity_types"] == []
    assert report["checks"]["fragmentation_safety"]["passed"]  # restored across one-character SSE events
    assert gw.self_fake.received == []


def test_routing_mode_keeps_pii_off_the_capture_while_benign_traffic_reaches_it(
    make_gateway: GatewayFactory, capture: CaptureSession
) -> None:
    gw = gateway_for(make_gateway, capture, default_tier="frontier")  # benign traffic goes to the capture
    c = openai.OpenAI(base_url=gw.url + "/v1", api_key="k", max_retries=0)
    chunks = c.chat.completions.create(model="auto", stream=True, messages=[{"role": "user", "content": CONTROL}])
    benign = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert benign == CONTROL  # the capture echoes what it received
    specimens = OperatorSpecimens()
    report = measure(gw, capture, specimens)

    boundary = report["checks"][BOUNDARY]
    bodies = [r for r in capture.state.snapshot() if r["path"].startswith("/v1/chat/completions")]
    assert len(bodies) == 1 and CONTROL in bodies[0]["body_strings"]  # positive control reached the capture
    assert boundary["correlated_requests"] == 0  # no request of the PII run reached it
    assert boundary["leaked_entity_types"] == [] and boundary["uninspectable_requests"] == 0
    assert verdict_for(report)[0] == "NOT MEASURED"
    # ...because the gateway served it self-hosted, originals intact, both iterations.
    assert report["checks"]["response_fidelity"]["passed"]
    assert gw.self_fake.texts().count(specimens.fixture["SSN"]) == 2


def test_capture_sees_a_raw_pass_through(capture: CaptureSession) -> None:
    """The harness's own floor: with no gateway in the way it must report the leak."""
    report = run_http_conformance("capture://self", session=capture, iterations=1, include_credentials=True)
    assert verdict_for(report)[0] == "LEAK"
    assert {"EMAIL", "SSN", "CREDIT_CARD"} <= set(report["checks"][BOUNDARY]["leaked_entity_types"])
