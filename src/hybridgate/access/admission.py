"""Rate limits and budgets around one request: `admit` reserves before dispatch, `settle` reconciles after.

The pipeline calls `admit(plan)` once per request, after planning and before the first attempt, and
`settle(plan, ticket, record)` from `record()` with the real usage and cost. Settling never blocks the
response: it is queued on the counters (applied at once in-process, batched to Redis). If the counters
are unreachable the request is refused (503): a budget that silently stops counting is worse than a
short outage.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hybridgate.access.config import AccessConfig
from hybridgate.access.counters import NANO, Check, Counters, Hit
from hybridgate.access.limits import (
    Estimate,
    Grant,
    Rules,
    default_grant,
    rate_headers,
    retry_after,
    rules_for,
    settles_for,
)
from hybridgate.access.tokens import max_output_tokens, prompt_tokens
from hybridgate.auth.principal import Principal
from hybridgate.errors import BudgetExceeded, GatewayError, RateLimited
from hybridgate.pipeline import Plan, Ticket
from hybridgate.store.records import UsageRecord

log = logging.getLogger("hybridgate.access")
MAX_RULES = 10_000  # compiled rules kept (one per live grant); past that the cache starts over
CostFn = Callable[[str, str, Mapping[str, Any]], float]


class LimitsUnavailable(GatewayError):
    status = 503
    type = "service_unavailable"
    code = "limits_unavailable"


class GrantSource(Protocol):
    def grant(self, principal: Principal) -> Grant:
        """The limits of an authenticated principal; must not do I/O (the authenticator's cache)."""
        ...


class StaticGrants:
    """No keys: every caller gets only the gateway-wide limits. Also the fake for tests."""

    def __init__(self, grants: Mapping[str | None, Grant] | None = None) -> None:
        self.grants = dict(grants or {})

    def grant(self, principal: Principal) -> Grant:
        return self.grants.get(principal.key_id) or default_grant(principal.key_id, principal.team)


@dataclass(slots=True)
class AccessTicket:
    member: str
    checks: list[Check]
    headers: dict[str, str] = field(default_factory=dict)


def _refusal(c: Check, hit: Hit, checks: list[Check], hits: list[Hit], now: float) -> GatewayError:
    scope, kind = c.name.split(".", 1)
    headers = rate_headers(checks, hits)
    wait = retry_after(c, hit, now)
    if kind in ("day", "month"):
        label = "daily" if kind == "day" else "monthly"
        return BudgetExceeded(
            f"{scope} {label} budget exceeded: ${c.limit / NANO:.4f} per {kind}, ${hit.used / NANO:.4f} "
            f"spent or reserved, this request needs up to ${c.amount / NANO:.6f}",
            retry_after=wait,
            headers=headers,
        )
    what = {"requests": "requests per window", "tokens": "tokens per window", "concurrent": "concurrent requests"}
    return RateLimited(
        f"{scope} rate limit reached: {c.limit} {what.get(kind, kind)} (in use: {hit.used})",
        retry_after=wait,
        headers=headers,
    )


class Admission:
    def __init__(
        self,
        counters: Counters,
        grants: GrantSource,
        cfg: AccessConfig,
        cost: CostFn | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.counters = counters
        self.grants = grants
        self.cfg = cfg
        self.cost = cost
        self.clock = clock
        self._rules: dict[Grant, Rules] = {}

    def rules(self, grant: Grant, now: float) -> Rules:
        """The grant's compiled checks for this hour (a grant is replaced when its key is looked up again)."""
        r = self._rules.get(grant)
        if r is None or r.hour != int(now // 3600):
            if len(self._rules) >= MAX_RULES:
                self._rules.clear()
            r = self._rules[grant] = rules_for(grant, self.cfg, now)
        return r

    def estimate(self, plan: Plan, rules: Rules | None = None) -> Estimate:
        """Tokens and the most expensive attempt's cost, each worked out only if a limit needs it."""
        tokens = rules is None or rules.tokens
        money = self.cost is not None and (rules is None or rules.money)
        if not tokens and not money:
            return Estimate(0, 0)
        p, o = prompt_tokens(plan.body), max_output_tokens(plan.body, plan.op)
        usd = 0.0
        if money and self.cost is not None:
            usage = {"prompt_tokens": p, "completion_tokens": o}
            usd = max((self.cost(a.endpoint, a.model, usage) for a in plan.attempts), default=0.0)
        return Estimate(p + o, math.ceil(usd * NANO))

    async def admit(self, plan: Plan) -> AccessTicket:
        now = self.clock()
        rules = self.rules(self.grants.grant(plan.principal), now)
        if not rules.templates:  # the token and cost estimate would go unused
            return AccessTicket(plan.request_id, [])
        checks = rules.checks(self.estimate(plan, rules))
        try:
            hits = await self.counters.acquire(checks, plan.request_id, now)
        except Exception as e:  # redis/network: refuse rather than stop counting
            log.error("rate-limit counters unavailable: %s", e)
            raise LimitsUnavailable("rate limits and budgets cannot be checked right now", retry_after=1) from e
        for c, hit in zip(checks, hits, strict=True):
            if not hit.allowed:
                raise _refusal(c, hit, checks, hits, now)
        return AccessTicket(plan.request_id, checks, rate_headers(checks, hits))

    def settle(self, plan: Plan, ticket: Ticket, record: UsageRecord) -> None:
        if not isinstance(ticket, AccessTicket) or not ticket.checks:
            return
        now = self.clock()
        tokens = record.prompt_tokens + record.completion_tokens
        settles = settles_for(ticket.checks, tokens, math.ceil(record.cost_usd * NANO), now)
        ticket.checks = []  # settle once
        if not settles:
            return
        self.counters.settle_soon(settles, ticket.member, now)

    async def drain(self) -> None:
        """Returns once every settle handed to the counters so far is applied."""
        await self.counters.flush()
