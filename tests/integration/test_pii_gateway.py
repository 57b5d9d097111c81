"""Sensitive data through the whole gateway: where it may go, redact-then-route, and failing closed.

Every "never reaches the external fake" assertion is paired with a positive control in the same
configuration that does reach it, so the test fails if the external route silently broke.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import openai
import pytest

from hybridgate.app import Overrides
from hybridgate.detect.findings import FakeDetector, Finding
from tests.conftest import Gateway, GatewayFactory, minimal_config

SSN = "536-22-8417"
EMAIL = "natalia.romanova@gmail.com"
CARD = "4111 1111 1111 1111"
AWS = "AKIAZ3MXQ7RTY2WK9PLD"
PHONE = "+44 20 7946 0958"
ORIGINALS = (SSN, EMAIL, CARD, AWS, PHONE)
BENIGN = "Natalia sold clips to 48 of her friends in April. How many in May, if half as many?"

REDACT_RULE = {
    "id": "redact-external",
    "when": {"data_class_at_least": "confidential"},
    "action": "redact",
    "tier": "frontier",
}


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="sk-anything", max_retries=0)


def chat(gw: Gateway, messages: list[dict[str, Any]], **kw: Any) -> Any:
    return client(gw).chat.completions.create(model="auto", messages=messages, **kw)  # type: ignore[call-overload]


def config(s: str, e: str, **policy: Any) -> dict[str, Any]:
    cfg = minimal_config(s, e, **policy)
    # A shared CI box can stall a thread for longer than the production budget; an overrun would fail
    # closed and turn a positive control into a false failure. Budget overruns have their own unit tests.
    cfg["detection"] = {**cfg["detection"], "time_budget_ms": 5000.0, "ner_time_budget_ms": 20000.0}
    return cfg


def external_by_default(s: str, e: str) -> dict[str, Any]:
    """Benign traffic goes to the external endpoint, so staying self-hosted is the detector's doing."""
    return config(s, e, default_tier="frontier")


def external_only(s: str, e: str) -> dict[str, Any]:
    cfg = config(s, e, default_tier="frontier")
    cfg["endpoints"] = [ep for ep in cfg["endpoints"] if ep["trust"] == "external"]
    cfg["tiers"] = {"frontier": cfg["tiers"]["frontier"]}
    return cfg


def with_redaction(s: str, e: str) -> dict[str, Any]:
    return config(s, e, rules=[REDACT_RULE])


def tool_call(args: dict[str, Any]) -> dict[str, Any]:
    fn = {"name": "lookup", "arguments": json.dumps(args)}
    return {"role": "assistant", "content": None, "tool_calls": [{"id": "c1", "type": "function", "function": fn}]}


def in_system(v: str) -> list[dict[str, Any]]:
    return [{"role": "system", "content": f"The customer's SSN is {v}."}, {"role": "user", "content": "Hi"}]


def in_developer(v: str) -> list[dict[str, Any]]:
    return [{"role": "developer", "content": f"Account holder email: {v}"}, {"role": "user", "content": "Hi"}]


def in_assistant(v: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "What did I tell you?"},
        {"role": "assistant", "content": f"You said your card is {v}."},
        {"role": "user", "content": "Thanks"},
    ]


def in_tool_result(v: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "look me up"},
        tool_call({"q": "me"}),
        {"role": "tool", "tool_call_id": "c1", "content": f"record: ssn={v}"},
        {"role": "user", "content": "summarise"},
    ]


def in_tool_arguments(v: str) -> list[dict[str, Any]]:
    return [
        {"role": "user", "content": "look me up"},
        tool_call({"email": v}),
        {"role": "tool", "tool_call_id": "c1", "content": "found"},
        {"role": "user", "content": "summarise"},
    ]


def in_content_part(v: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": [{"type": "text", "text": "Explain"}, {"type": "text", "text": f"ssn {v}"}]}]


def in_first_of_five_turns(v: str) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = [{"role": "user", "content": f"My AWS key is {v}"}]
    for i in range(4):
        turns += [{"role": "assistant", "content": f"ok {i}"}, {"role": "user", "content": f"and then {i}?"}]
    return turns


PLACES: dict[str, tuple[Callable[[str], list[dict[str, Any]]], str]] = {
    "system": (in_system, SSN),
    "developer": (in_developer, EMAIL),
    "assistant": (in_assistant, CARD),
    "tool_result": (in_tool_result, SSN),
    "tool_arguments": (in_tool_arguments, EMAIL),
    "content_part": (in_content_part, SSN),
    "turn_1_of_5": (in_first_of_five_turns, AWS),
}


@pytest.mark.parametrize("place", sorted(PLACES))
def test_sensitive_value_anywhere_stays_self_hosted(make_gateway: GatewayFactory, place: str) -> None:
    gw = make_gateway(external_by_default)
    build, value = PLACES[place]
    benign = chat(gw, build("nothing to see here"))
    assert benign.choices[0].message.content == "hello from external"  # positive control
    r = chat(gw, build(value))
    assert r.choices[0].message.content == "hello from self"
    assert value not in gw.ext_fake.texts()
    assert value in gw.self_fake.texts()


def test_completion_prompt_and_embedding_input_stay_self_hosted(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(external_by_default)
    c = client(gw)
    assert c.completions.create(model="auto", prompt="Say hi").choices[0].text == "hello from external"
    assert c.completions.create(model="auto", prompt=f"SSN {SSN}").choices[0].text == "hello from self"
    c.embeddings.create(model="auto", input=[f"mail me at {EMAIL}"])
    assert SSN not in gw.ext_fake.texts() and EMAIL not in gw.ext_fake.texts()
    assert EMAIL in gw.self_fake.texts()


# -- redact-then-route ----------------------------------------------------------------------------

SECRET_TEXT = f"Email {EMAIL} or call {PHONE}; SSN {SSN}, card {CARD}, key {AWS}. Repeat: {EMAIL}."


def test_redaction_sends_no_original_and_restores_the_reply(
    make_gateway: GatewayFactory, caplog: pytest.LogCaptureFixture
) -> None:
    gw = make_gateway(with_redaction)
    gw.ext_fake.script.echo = True
    caplog.set_level(logging.DEBUG)
    messages = [
        {"role": "system", "content": f"Customer SSN: {SSN}"},
        tool_call({"card": CARD}),
        {"role": "tool", "tool_call_id": "c1", "content": "ok"},
        {"role": "user", "content": SECRET_TEXT},
    ]
    raw = client(gw).chat.completions.with_raw_response.create(model="auto", messages=messages)  # type: ignore[arg-type]
    assert raw.parse().choices[0].message.content == SECRET_TEXT
    assert raw.headers["x-hybridgate-decision"].startswith("redact-external")
    sent = gw.ext_fake.texts()
    assert gw.self_fake.received == [] and len(gw.ext_fake.received) == 1
    for value in ORIGINALS:
        assert value not in sent
        assert value not in caplog.text  # the placeholder map is never logged
    user_sent = gw.ext_fake.received[0]["body"]["messages"][-1]["content"]
    assert user_sent.count("[EMAIL_1]") == 2  # one value, one stable placeholder
    assert "[SSN_1]" in gw.ext_fake.received[0]["body"]["messages"][0]["content"]


@pytest.mark.parametrize("chunk_chars", [1, 3, 7])
def test_redaction_streaming_restores_split_placeholders(make_gateway: GatewayFactory, chunk_chars: int) -> None:
    gw = make_gateway(with_redaction)
    gw.ext_fake.script.echo = True
    gw.ext_fake.script.chunk_chars = chunk_chars
    text = SECRET_TEXT + " ends with a bracket ["
    chunks = list(chat(gw, [{"role": "user", "content": text}], stream=True))
    deltas = [c.choices[0].delta.content or "" for c in chunks if c.choices]
    assert "".join(deltas) == text
    assert len(deltas) > 10  # it really was streamed in pieces
    sent = gw.ext_fake.texts()
    assert "[EMAIL_1]" in sent
    assert not any(v in sent for v in ORIGINALS)


async def test_redaction_async_client_streaming_and_not(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(with_redaction)
    gw.ext_fake.script.echo = True
    gw.ext_fake.script.chunk_chars = 2
    c = openai.AsyncOpenAI(base_url=gw.url + "/v1", api_key="k", max_retries=0)
    msgs: Any = [{"role": "user", "content": SECRET_TEXT}]
    r = await c.chat.completions.create(model="auto", messages=msgs)
    assert r.choices[0].message.content == SECRET_TEXT
    stream = await c.chat.completions.create(model="auto", messages=msgs, stream=True)
    assert "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices]) == SECRET_TEXT
    await c.close()
    assert not any(v in gw.ext_fake.texts() for v in ORIGINALS)


def test_redaction_covers_names_found_by_the_ner_tier(make_gateway: GatewayFactory) -> None:
    ov = Overrides(detector=FakeDetector({EMAIL: "EMAIL_ADDRESS"}), ner=FakeDetector({"Natalia Romanova": "PERSON"}))
    gw = make_gateway(with_redaction, ov)
    gw.ext_fake.script.echo = True
    text = f"Natalia Romanova wrote from {EMAIL}"
    assert chat(gw, [{"role": "user", "content": text}]).choices[0].message.content == text
    sent = gw.ext_fake.texts()
    assert "Natalia" not in sent and EMAIL not in sent and "[PERSON_1]" in sent


def test_redaction_never_widens_past_the_declared_class(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(with_redaction)
    with pytest.raises(openai.APIStatusError) as exc:
        chat(
            gw,
            [{"role": "user", "content": SECRET_TEXT}],
            extra_headers={"x-hybridgate-data-class": "confidential"},
        )
    assert exc.value.status_code == 503
    assert gw.ext_fake.received == []


def test_redaction_is_refused_when_detection_failed(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(with_redaction, Overrides(detector=FakeDetector(error=RuntimeError("boom"))))
    # A failed detector cannot vouch for a redaction: the request stays whole and self-hosted.
    raw = client(gw).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": BENIGN}]
    )
    assert raw.headers["x-hybridgate-decision"].startswith("redact-unsafe")
    assert raw.parse().choices[0].message.content == "hello from self"
    assert gw.ext_fake.received == []


# -- failing closed ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "overrides",
    [
        Overrides(detector=FakeDetector(error=RuntimeError("cheap tier down"))),
        Overrides(detector=FakeDetector(), ner=FakeDetector(error=MemoryError())),
        Overrides(detector=FakeDetector(), ner=FakeDetector({"Natalia": "PERSON"})),
    ],
    ids=["detector-error", "ner-error", "ner-finds-a-name"],
)
def test_detector_trouble_routes_self_hosted(make_gateway: GatewayFactory, overrides: Overrides) -> None:
    gw = make_gateway(external_by_default, overrides)
    raw = client(gw).chat.completions.with_raw_response.create(
        model="auto", messages=[{"role": "user", "content": BENIGN}]
    )
    assert raw.parse().choices[0].message.content == "hello from self"
    assert raw.headers["x-hybridgate-route"] == "local-vllm/llama-3-8b"
    assert gw.ext_fake.received == []


def test_healthy_fake_detectors_let_benign_traffic_out(make_gateway: GatewayFactory) -> None:
    """The control for the test above: the same request with detectors that work goes external."""
    gw = make_gateway(external_by_default, Overrides(detector=FakeDetector(), ner=FakeDetector()))
    assert chat(gw, [{"role": "user", "content": BENIGN}]).choices[0].message.content == "hello from external"


@pytest.mark.parametrize("stream", [False, True])
def test_detector_error_with_only_external_endpoints_is_503(make_gateway: GatewayFactory, stream: bool) -> None:
    gw = make_gateway(external_only, Overrides(detector=FakeDetector(error=ValueError("x"))))
    with pytest.raises(openai.APIStatusError) as exc:
        r = chat(gw, [{"role": "user", "content": BENIGN}], stream=stream)
        list(r) if stream else None
    assert exc.value.status_code == 503
    assert exc.value.response.headers.get("retry-after")
    assert gw.ext_fake.received == []


# -- the declared class only raises -----------------------------------------------------------------


@pytest.mark.parametrize("how", ["header", "metadata"])
def test_declared_public_does_not_lower_a_detected_class(make_gateway: GatewayFactory, how: str) -> None:
    gw = make_gateway(external_by_default)
    kw: dict[str, Any] = (
        {"extra_headers": {"x-hybridgate-data-class": "public"}}
        if how == "header"
        else {"metadata": {"data_class": "public"}, "store": False}
    )
    r = chat(gw, [{"role": "user", "content": f"My SSN is {SSN}"}], **kw)
    assert r.choices[0].message.content == "hello from self"
    assert gw.ext_fake.received == []


def test_declared_restricted_raises_a_benign_request(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(external_by_default)
    assert chat(gw, [{"role": "user", "content": "hi"}]).choices[0].message.content == "hello from external"
    r = chat(gw, [{"role": "user", "content": "hi"}], extra_headers={"x-hybridgate-data-class": "restricted"})
    assert r.choices[0].message.content == "hello from self"
    assert len(gw.ext_fake.received) == 1


class _FailsOnRescan(FakeDetector):
    """Finds its needles in the request as sent, and fails on any text that holds a placeholder."""

    def detect(self, text: str) -> list[Finding]:
        if "[SECRET_" in text:
            raise RuntimeError("rescan failed")
        return super().detect(text)


def test_value_surviving_redaction_keeps_the_request_inside(make_gateway: GatewayFactory) -> None:
    # The rescan of the redacted body fails: nothing proves the redaction clean, so the widened boundary is
    # withdrawn and the external-only tier cannot be used. (`test_detection` covers residue the rescan finds.)
    gw = make_gateway(with_redaction, Overrides(detector=_FailsOnRescan({"SECRET": "SECRET"})))
    with pytest.raises(openai.APIStatusError) as exc:
        chat(gw, [{"role": "user", "content": "my SECRET"}])
    assert exc.value.status_code == 503
    assert gw.ext_fake.received == []
