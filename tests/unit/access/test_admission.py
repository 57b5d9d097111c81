"""Admission over fake plans: refusals carry the right error and headers; settling reconciles."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest

from hybridgate.access.admission import AccessTicket, Admission, LimitsUnavailable, StaticGrants
from hybridgate.access.config import AccessConfig, Budget, Limits
from hybridgate.access.counters import LocalCounters
from hybridgate.access.limits import Grant
from hybridgate.auth.principal import Principal
from hybridgate.errors import BudgetExceeded, RateLimited
from hybridgate.store.records import UsageRecord

P = Principal(key_id="k", name="n", team="t")


def plan(rid: str, max_tokens: int = 10) -> Any:
    body = {"messages": [{"role": "user", "content": "x" * 40}], "max_tokens": max_tokens}
    attempt = SimpleNamespace(endpoint="e", model="m")
    return SimpleNamespace(request_id=rid, body=body, op="chat", principal=P, attempts=[attempt])


def record(rid: str, prompt: int, completion: int, cost: float) -> UsageRecord:
    return UsageRecord(ts=0, request_id=rid, key_id="k", team="t", route_tag=None, tier=None, endpoint="e",
                       trust="external", model="m", rule_id="x", data_class="public", status=200,
                       prompt_tokens=prompt, completion_tokens=completion, cost_usd=cost)  # fmt: skip


def admission(grant: Grant, cost_per_token: float = 0.0, **cfg: Any) -> Admission:
    def cost(_e: str, _m: str, usage: Any) -> float:
        return (usage["prompt_tokens"] + usage["completion_tokens"]) * cost_per_token

    return Admission(LocalCounters(), StaticGrants({"k": grant}), AccessConfig(**cfg), cost, clock=lambda: 1e9)


async def test_rpm_refusal_has_openai_headers() -> None:
    a = admission(Grant("k", "t", Limits(rpm=2)))
    t1 = await a.admit(plan("1"))
    assert t1.headers["x-ratelimit-remaining-requests"] == "1"
    await a.admit(plan("2"))
    with pytest.raises(RateLimited) as e:
        await a.admit(plan("3"))
    h = e.value.response_headers()
    assert e.value.status == 429 and h["x-ratelimit-remaining-requests"] == "0" and int(h["Retry-After"]) >= 1
    assert not isinstance(e.value, BudgetExceeded)


async def test_tpm_estimate_then_reconcile() -> None:
    a = admission(Grant("k", "t", team_limits=Limits(tpm=60)))
    p = plan("1", max_tokens=30)  # 40 chars/4 + 4 per message + 30 = 44 tokens reserved
    t = await a.admit(p)
    with pytest.raises(RateLimited):
        await a.admit(plan("2", max_tokens=30))  # 44 + 44 > 60
    a.settle(p, t, record("1", 5, 5, 0.0))
    await a.drain()
    t3 = await a.admit(plan("3", max_tokens=30))  # the call used 10: 10 + 44 <= 60
    assert t3.headers["x-ratelimit-remaining-tokens"] == "6"


async def test_budget_exceeded_is_clear() -> None:
    a = admission(Grant("k", "t", key_budget=Budget(daily_usd=0.001)), cost_per_token=0.00001)
    with pytest.raises(BudgetExceeded) as e:
        await a.admit(plan("1", max_tokens=200))
    assert e.value.code == "budget_exceeded" and "daily budget" in e.value.message


async def test_settle_is_idempotent() -> None:
    a = admission(Grant("k", "t", Limits(concurrent=1)))
    p = plan("1")
    t = await a.admit(p)
    assert isinstance(t, AccessTicket)
    a.settle(p, t, record("1", 1, 1, 0.0))
    a.settle(p, t, record("1", 1, 1, 0.0))
    await a.drain()
    await a.admit(plan("2"))
    with pytest.raises(RateLimited):
        await a.admit(plan("3"))


async def test_counters_down_refuses() -> None:
    class Broken(LocalCounters):
        async def acquire(self, *args: Any, **kw: Any) -> Any:
            raise ConnectionError("redis away")

    a = Admission(Broken(), StaticGrants({"k": Grant("k", "t", Limits(rpm=1))}), AccessConfig())
    with pytest.raises(LimitsUnavailable):
        await a.admit(plan("1"))


def test_estimate_matches_the_token_and_cost_functions() -> None:
    # admission inlines max_output_tokens and the self-hosted cost arithmetic: same numbers as the functions
    import math
    import random

    from hybridgate.access.cost import CostModel
    from hybridgate.access.counters import NANO
    from hybridgate.access.tokens import max_output_tokens, prompt_tokens
    from hybridgate.economics.catalogue import load_catalogue
    from hybridgate.labels import Trust

    cost = CostModel({"vllm": Trust.SELF_HOSTED, "oa": Trust.EXTERNAL}, {}, load_catalogue())
    a = Admission(LocalCounters(), StaticGrants({"k": Grant("k", "t", key_budget=Budget(daily_usd=5))}),
                  AccessConfig(), cost)  # fmt: skip
    rng = random.Random(3)
    outs: list[Any] = [None, -1, 0, 7, 4096, True, 2.5, "9"]
    for _ in range(400):
        body: dict[str, Any] = {"messages": [{"role": "user", "content": "x" * rng.randrange(200)}]}
        for k in ("max_tokens", "max_completion_tokens"):
            if rng.random() < 0.6:
                body[k] = rng.choice(outs)
        op = rng.choice(["chat", "embeddings", "completions"])
        pairs = rng.sample([("vllm", "llama-3-8b"), ("oa", "gpt-4o"), ("oa", "unknown-model")], rng.choice([1, 2]))
        attempts = [SimpleNamespace(endpoint=e, model=m) for e, m in pairs]
        p = SimpleNamespace(request_id="r", body=body, op=op, principal=P, attempts=attempts)
        tokens = prompt_tokens(body) + max_output_tokens(body, op)
        usd = max(cost.token_cost(x.endpoint, x.model, prompt_tokens(body), max_output_tokens(body, op))
                  for x in attempts)  # fmt: skip
        assert a._estimate(p, None) == (tokens, math.ceil(usd * NANO))


def test_estimate_counts_prompts_of_every_shape_as_prompt_tokens() -> None:
    # admission inlines prompt_tokens for plain string messages: every other shape must count the same too
    import random

    from hybridgate.access.tokens import max_output_tokens, prompt_tokens

    a = admission(Grant("k", "t", Limits(tpm=10**9)))
    rng = random.Random(5)

    def message() -> Any:
        content = rng.choice(["x" * rng.randrange(50), None, 7, [{"type": "text", "text": "y" * rng.randrange(30)}]])
        m: Any = {"role": rng.choice(["user", "system"]), "content": content}
        if rng.random() < 0.1:
            m["text"] = "z" * rng.randrange(20)
        if rng.random() < 0.05:
            m = rng.choice(["plain", 3, None])
        return m

    for _ in range(500):
        body: dict[str, Any] = {"messages": [message() for _ in range(rng.randrange(4))]}
        if rng.random() < 0.1:
            body["messages"] = rng.choice([None, "text", {"content": "x"}])
        for k in ("prompt", "input", "system"):
            if rng.random() < 0.08:
                body[k] = rng.choice(["p" * rng.randrange(40), ["a", "bb"], 5])
        p = SimpleNamespace(request_id="r", body=body, op="chat", principal=P, attempts=[])
        assert a._estimate(p, None)[0] == prompt_tokens(body) + max_output_tokens(body, "chat")
