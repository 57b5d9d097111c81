"""Token estimates, stream tallies, cost (API prices and the GPU cost model) and the usage writer."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
import pytest

from hybridgate.access.config import EndpointCost
from hybridgate.access.cost import CostModel, gpu_per_token
from hybridgate.access.tokens import ResponseTally, StreamTally, max_output_tokens, prompt_tokens
from hybridgate.access.usage import UsageWriter
from hybridgate.backends.sse import DONE, frame
from hybridgate.economics.catalogue import load_catalogue
from hybridgate.economics.pricing import api_cost
from hybridgate.labels import Trust
from hybridgate.store.base import MemoryStore
from hybridgate.store.records import UsageRecord


@pytest.mark.parametrize(
    ("body", "tokens"),
    [
        ({"messages": [{"role": "user", "content": "abcdefgh"}]}, 2 + 4),
        ({"messages": [{"role": "user", "content": [{"type": "text", "text": "abcd"}]}]}, 1 + 4),
        ({"prompt": "abcde"}, 2),
        ({"input": ["abcd", "abcd"]}, 2),
        ({"system": "abcd", "messages": []}, 1),
        # the plain-string fast path and the generic walk agree on every message shape
        ({"messages": [{"role": "user", "content": "abcd", "text": "abcd"}]}, 2 + 4),
        ({"messages": [{"role": "user", "content": None}, "not a message", {"role": "user"}]}, 0 + 12),
        ({"messages": [{"role": "user", "content": "abcd"}, {"content": [{"text": "abcdefgh"}]}]}, 3 + 8),
        ({"messages": [{"role": "tool", "content": {"content": "abcdefgh"}}]}, 2 + 4),
    ],
)
def test_prompt_estimate(body: dict[str, object], tokens: int) -> None:
    assert prompt_tokens(body) == tokens


def test_output_estimate() -> None:
    assert max_output_tokens({"max_tokens": 5}, "chat") == 5
    assert max_output_tokens({"max_completion_tokens": 7, "max_tokens": 5}, "chat") == 7
    assert max_output_tokens({}, "embeddings") == 0
    assert max_output_tokens({"max_tokens": True}, "chat") == 1024


async def test_stream_tally_counts_content() -> None:
    events = [frame({"choices": [{"delta": {"content": "abcd" * 3}}]}), b"data: junk\n\n", DONE]

    async def gen() -> AsyncIterator[bytes]:
        for e in events[1:]:
            yield e

    tally = StreamTally()
    tally.feed(events[0])
    out = [e async for e in tally.wrap(gen())]
    assert out == events[1:]
    assert tally.usage({"messages": [{"content": "abcd"}]}) == {
        "prompt_tokens": 5,
        "completion_tokens": 3,
        "total_tokens": 8,
    }


@pytest.mark.parametrize(
    ("response", "completion"),
    [
        ({"choices": [{"message": {"role": "assistant", "content": "abcd" * 3}}]}, 3),
        ({"choices": [{"text": "abcdefgh"}, {"text": "a"}]}, 3),  # per choice: 2 + 1
        ({"choices": [{"message": {"tool_calls": [{"function": {"name": "abcd", "arguments": "{}"}}]}}]}, 2),
        ({"object": "list", "data": [{"embedding": [0.1]}]}, 0),
    ],
)
def test_response_tally_counts_what_a_stream_tally_would(response: dict[str, object], completion: int) -> None:
    body = {"messages": [{"content": "abcd"}]}
    got = ResponseTally(orjson.dumps(response)).usage(body)
    assert got == {"prompt_tokens": 5, "completion_tokens": completion, "total_tokens": 5 + completion}
    stream = StreamTally()  # the same answer streamed: one chunk per choice, message -> delta
    for c in response.get("choices", []):  # type: ignore[attr-defined]
        stream.feed(frame({"choices": [{"delta": c.get("message"), "text": c.get("text")}]}))
    assert stream.usage(body) == got


def test_response_tally_survives_a_body_that_is_not_json() -> None:
    assert ResponseTally(b"<html>").usage({"prompt": "abcd"})["completion_tokens"] == 0


def test_api_cost_uses_the_catalogue() -> None:
    cat = load_catalogue()
    m = CostModel({"openai": Trust.EXTERNAL}, {}, cat)
    usage = {"prompt_tokens": 1000, "completion_tokens": 500, "prompt_tokens_details": {"cached_tokens": 200}}
    assert m("openai", "gpt-4o", usage) == pytest.approx(api_cost("gpt-4o", 1000, 500, 200, catalogue=cat))
    assert m("openai", "no-such-model", usage) == 0.0


def test_self_hosted_is_never_free() -> None:
    cat = load_catalogue()
    m = CostModel(
        {"vllm": Trust.SELF_HOSTED}, {"tuned": EndpointCost(gpu_hourly_usd=3.6, throughput_tokens_per_s=1000)}, cat
    )
    usage = {"prompt_tokens": 600, "completion_tokens": 400}
    assert m("vllm", "llama-3-8b", usage) > 0
    assert m("vllm", "unknown-model", usage) > 0  # no reference throughput: the fallback, still not $0
    assert m("tuned", "x", usage) == pytest.approx(1000 * 3.6 / 3600 / 1000)  # $0.001 per 1000 tokens
    assert gpu_per_token(EndpointCost(gpus=2, gpu_hourly_usd=1.0, throughput_tokens_per_s=3600), "x", cat) == (
        pytest.approx(2 / 3600 / 3600)
    )


def _rec(i: int) -> UsageRecord:
    return UsageRecord(
        ts=float(i),
        request_id=str(i),
        key_id=None,
        team=None,
        route_tag=None,
        tier=None,
        endpoint=None,
        trust=None,
        model=None,
        rule_id="r",
        data_class="public",
        status=200,
    )


async def test_usage_writer_batches_and_bounds_the_queue() -> None:
    store = MemoryStore()
    w = UsageWriter(store, batch=3, flush_s=60, max_queue=5)
    for i in range(7):
        w.observe(_rec(i))
    assert w.dropped == 2 and len(store.records) == 0  # observe never writes
    w.start()
    await asyncio.sleep(0.05)  # the full batch woke the writer
    await w.aclose()
    assert [r.request_id for r in store.records] == ["2", "3", "4", "5", "6"]


async def test_usage_writer_keeps_records_while_the_database_is_down() -> None:
    class Down(MemoryStore):
        fail = True

        async def add_usage(self, records: object) -> None:
            if self.fail:
                raise ConnectionError("db away")
            await super().add_usage(records)  # type: ignore[arg-type]

    store = Down()
    w = UsageWriter(store, batch=10, flush_s=60)
    w.observe(_rec(1))
    await w.flush()
    assert len(w.queue) == 1
    store.fail = False
    await w.flush()
    assert [r.request_id for r in store.records] == ["1"] and orjson.dumps(w.written) == b"1"


def test_cost_of_a_usage_dict_is_token_cost_of_its_counts() -> None:
    # CostModel.__call__ inlines the self-hosted case: the same USD as token_cost over _tokens, every shape
    import random

    from hybridgate.access.cost import _tokens

    m = CostModel({"vllm": Trust.SELF_HOSTED, "openai": Trust.EXTERNAL}, {}, load_catalogue())
    rng = random.Random(11)
    for _ in range(300):
        usage: dict[str, object] = {}
        for k in ("prompt_tokens", "input_tokens", "completion_tokens", "output_tokens"):
            if rng.random() < 0.6:
                usage[k] = rng.choice([0, None, rng.randrange(5000)])
        if rng.random() < 0.3:
            usage["prompt_tokens_details"] = rng.choice([None, {}, {"cached_tokens": rng.randrange(100)}])
        for endpoint, model in (("vllm", "llama-3-8b"), ("openai", "gpt-4o"), ("openai", "no-such-model")):
            for _ in range(2):  # the first call works the rates out, the second reads them
                p, c, cached = _tokens(usage)
                assert m(endpoint, model, usage) == m.token_cost(endpoint, model, p, c, cached)
    with pytest.raises(ValueError):
        m("vllm", "llama-3-8b", {"prompt_tokens": 1, "prompt_tokens_details": {"cached_tokens": "x"}})
