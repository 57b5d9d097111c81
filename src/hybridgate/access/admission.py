"""Rate limits and budgets around one request: `admit` reserves before dispatch, `settle` reconciles after.

The pipeline calls `admit_now(plan)` once per request, after planning and before the first attempt (and
`await admit(plan)` only when that returns None: a Redis round trip, or a refusal to describe), and
`settle(plan, ticket, record)` from `record()` with the real usage and cost. Settling never blocks the
response: it is queued on the counters (applied at once in-process, batched to Redis). If the counters
are unreachable the request is refused (503): a budget that silently stops counting is worse than a
short outage.

The request path binds a principal's checks to the counters once per grant and hour (`Rules.bound`):
per request only the amounts are filled in, and settling needs no per-check objects. With Redis, a request
is first offered to the replica's leases (`RedisCounters.take_local`: capacity reserved in Redis ahead, far
from the limits), which admit it without a round trip; otherwise it goes to Redis. Any other
`Counters` implementation gets the generic `acquire` / `settle_soon`, which decides the same.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

from hybridgate.access.config import AccessConfig
from hybridgate.access.counters import NANO, Bound, Check, Counters, Hit, LocalCounters
from hybridgate.access.limits import (
    DURATIONS,
    MILLIS,
    Estimate,
    Grant,
    HeaderSlot,
    Rules,
    default_grant,
    duration,
    rate_headers,
    retry_after,
    rules_for,
    settles_for,
)
from hybridgate.access.tokens import CHARS_PER_TOKEN, DEFAULT_OUTPUT_TOKENS, PER_MESSAGE_TOKENS, prompt_tokens
from hybridgate.auth.principal import Principal
from hybridgate.errors import BudgetExceeded, GatewayError, RateLimited
from hybridgate.pipeline import Plan, Ticket
from hybridgate.store.records import UsageRecord

log = logging.getLogger("hybridgate.access")
MAX_RULES = 10_000  # compiled rules kept (one per live grant); past that the cache starts over
CostFn = Callable[[str, str, Mapping[str, Any]], float]
TokenCostFn = Callable[[str, str, int, int], float]  # (endpoint, model, prompt, completion) -> USD


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


class AccessTicket:
    """What admission reserved for one request: its checks (to settle) and the x-ratelimit-* headers.

    Taken through bound checks (in-process or Redis counters), `bound` says how to settle instead of
    `checks`, and in-process `entries` are what `LocalCounters.take` added."""

    __slots__ = ("bound", "checks", "entries", "headers", "member")

    def __init__(
        self,
        member: str,
        checks: list[Check],
        headers: dict[str, str] | None = None,
        entries: Any = None,  # list[sums.Entry] (in-process) or redis_counters.LeaseUse
        bound: Any = None,  # counters.Bound or redis_counters.RedisBound
    ) -> None:
        self.member = member
        self.checks = checks
        self.headers = headers if headers is not None else {}
        self.entries = entries
        self.bound = bound


_UNLIMITED = AccessTicket("", [])  # no limit or budget applies: nothing to settle, no headers (never mutated)
_NOTHING = (1, 0, 0)  # the amounts of a request that no token limit or budget needs estimated
_NO_CHECKS: list[Check] = []  # tickets taken through bound checks settle through `bound` (never mutated)


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
        # In-process counters (exactly that class: a subclass may override `acquire`) take the bound path.
        self._local = counters if type(counters) is LocalCounters else None
        # Likewise Redis: counters whose own class defines `take` (not a subclass overriding `acquire`).
        self._remote: Any = counters if self._local is None and "take" in type(counters).__dict__ else None
        self._token_cost: TokenCostFn | None = getattr(cost, "token_cost", None)
        # CostModel's per-(endpoint, model) rates, read directly: a self-hosted estimate is one multiplication
        self._known_rates: dict[tuple[str, str], Any] | None = getattr(cost, "known_rates", None)

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
        return Estimate(*self._estimate(plan, rules))

    def _estimate(self, plan: Plan, rules: Rules | None) -> tuple[int, int]:
        _, tokens, cost_nano = self._amounts(plan, rules)
        return tokens, cost_nano

    def _amounts(self, plan: Plan, rules: Rules | None) -> tuple[int, int, int]:
        """What a request adds to its checks: (1, estimated tokens, estimated cost in nano-dollars)."""
        tokens = rules is None or rules.tokens
        money = self.cost is not None and (rules is None or rules.money)
        if not tokens and not money:
            return _NOTHING
        body = plan.body
        # tokens.prompt_tokens, inlined for the usual chat body: messages with plain string content only
        msgs = body.get("messages")
        p = -1
        if type(msgs) is list and "prompt" not in body and "input" not in body and "system" not in body:
            chars = 0
            for m in msgs:
                if type(m) is not dict or "text" in m:
                    break
                content = m.get("content")
                if type(content) is not str:
                    break
                chars += len(content)
            else:
                p = -(-chars // CHARS_PER_TOKEN) + PER_MESSAGE_TOKENS * len(msgs)
        if p < 0:
            p = prompt_tokens(body)
        # tokens.max_output_tokens, inlined (this runs for every limited request); a JSON body's integers are
        # exactly int (`type(v) is int` also leaves out bool, as max_output_tokens does)
        if plan.op == "embeddings":
            o = 0
        else:
            v = body.get("max_completion_tokens")
            if type(v) is not int or v < 0:
                v = body.get("max_tokens")
                if type(v) is not int or v < 0:
                    v = DEFAULT_OUTPUT_TOKENS
            o = v
        usd = 0.0
        if money:
            token_cost, attempts = self._token_cost, plan.attempts
            if token_cost is not None and len(attempts) == 1:  # the usual plan: no fallback
                a = attempts[0]
                known = self._known_rates.get((a.endpoint, a.model)) if self._known_rates is not None else None
                if known is not None and known[0] is not None:  # self-hosted: CostModel.token_cost's arithmetic
                    usd = (p + o) * known[0]
                else:
                    usd = token_cost(a.endpoint, a.model, p, o)
            elif token_cost is not None:  # the cost model's prices without a usage dict per attempt
                usd = max((token_cost(a.endpoint, a.model, p, o) for a in attempts), default=0.0)
            elif self.cost is not None:
                usage = {"prompt_tokens": p, "completion_tokens": o}
                usd = max((self.cost(a.endpoint, a.model, usage) for a in plan.attempts), default=0.0)
        return 1, p + o, math.ceil(usd * NANO)

    def admit_now(self, plan: Plan) -> AccessTicket | None:
        """`admit` where nothing needs awaiting (no limit applies, in-process counters with room, or a Redis
        lease with room): the ticket, without a coroutine per request. None: `await admit(plan)` decides
        (a Redis round trip, or a refusal to describe)."""
        now = self.clock()
        grant = self.grants.grant(plan.principal)
        rules = self._rules.get(grant)
        if rules is None or rules.hour != now // 3600:  # `rules`, inlined for the usual hit
            rules = self.rules(grant, now)
        if not rules.templates:  # the token and cost estimate would go unused
            return _UNLIMITED
        local = self._local
        if local is not None:
            bound: Bound | None = rules.bound
            if bound is None or bound.generation != local.generation:
                bound = rules.bound = local.bind(rules.specs)
            entries = local.take(bound, self._amounts(plan, rules), plan.request_id, now)
            if entries is None:
                return None
            return AccessTicket(plan.request_id, _NO_CHECKS, _local_headers(rules, bound, now), entries, bound)
        remote = self._remote
        if remote is None:
            return None
        rb = rules.bound
        if rb is None:
            rb = rules.bound = remote.bind(rules.specs)
        leased = remote.take_local(rb, self._amounts(plan, rules), now)  # from this replica's leases: no round trip
        if leased is None:
            return None
        return AccessTicket(plan.request_id, _NO_CHECKS, _remote_headers(rules, leased[1]), leased[0], rb)

    async def admit(self, plan: Plan) -> AccessTicket:
        ticket = self.admit_now(plan)
        if ticket is not None:
            return ticket
        now = self.clock()
        rules = self.rules(self.grants.grant(plan.principal), now)
        tokens, cost_nano = self._estimate(plan, rules)
        member = plan.request_id
        local, remote = self._local, self._remote
        if local is not None:
            # no room (admit_now found none): the generic path below describes the refusal; it adds nothing
            # unless room appeared since, as nothing awaits in between
            pass
        elif remote is not None:
            rb = rules.bound
            if rb is None:
                rb = rules.bound = remote.bind(rules.specs)
            amounts = (1, tokens, cost_nano)
            leased = remote.take_local(rb, amounts, now)  # admit_now found no open lease with room: seldom
            if leased is not None:
                return AccessTicket(member, [], _remote_headers(rules, leased[1]), leased[0], rb)
            try:
                out = await remote.take(rb, amounts, member, now)
            except Exception as e:  # redis/network: refuse rather than stop counting
                raise _unavailable(e) from e
            if out[0]:
                return AccessTicket(member, [], _remote_headers(rules, out), None, rb)
            checks = rules.checks(Estimate(tokens, cost_nano))
            raise _first_refusal(checks, remote.hits(checks, out), now)
        checks = rules.checks(Estimate(tokens, cost_nano))
        try:
            hits = await self.counters.acquire(checks, member, now)
        except Exception as e:  # redis/network: refuse rather than stop counting
            raise _unavailable(e) from e
        if not all(hit.allowed for hit in hits):
            raise _first_refusal(checks, hits, now)
        return AccessTicket(member, checks, rate_headers(checks, hits))

    def settle(self, plan: Plan, ticket: Ticket, record: UsageRecord) -> None:
        if not isinstance(ticket, AccessTicket):
            return
        bound = ticket.bound
        if bound is not None:  # taken through bound checks: settled the same way
            ticket.bound = None  # settle once
            tokens = record.prompt_tokens + record.completion_tokens
            cost_nano = math.ceil(record.cost_usd * NANO)
            if self._local is not None and ticket.entries is not None:
                self._local.release(bound, ticket.entries, tokens, cost_nano, self.clock())
            elif self._remote is not None:
                self._remote.release(bound, tokens, cost_nano, ticket.member, self.clock(), ticket.entries)
            return
        if not ticket.checks:
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


def _unavailable(e: Exception) -> LimitsUnavailable:
    log.error("rate-limit counters unavailable: %s", e)
    return LimitsUnavailable("rate limits and budgets cannot be checked right now", retry_after=1)


def _first_refusal(checks: list[Check], hits: list[Hit], now: float) -> GatewayError:
    c, hit = next((c, hit) for c, hit in zip(checks, hits, strict=True) if not hit.allowed)
    return _refusal(c, hit, checks, hits, now)


def _local_headers(rules: Rules, b: Bound, now: float) -> dict[str, str]:
    """limits.rate_headers for bound checks just taken: the tightest scope of each kind (first on a tie)."""
    slots = b.slots
    both = rules.both_single
    if both is not None:  # one scope sets each limit, requests and tokens: one dict display, constant keys
        i, limit, text, j, limit2, text2 = both
        s = slots[i][0]
        q = s.entries  # Sum.reset_s, inlined: until the oldest live entry expires
        while q and q[0][2] is None:
            q.popleft()
            s.dead -= 1
        reset = q[0][0] - now if q else slots[i][2]
        left = limit - s.total
        s2 = slots[j][0]
        q = s2.entries
        while q and q[0][2] is None:
            q.popleft()
            s2.dead -= 1
        reset2 = q[0][0] - now if q else slots[j][2]
        left2 = limit2 - s2.total
        return _both_headers(text, left, reset, text2, left2, reset2)
    h: dict[str, str] = {}
    single = rules.single_headers
    if single is not None:  # the usual case: one scope sets each limit (the loop below, less its choices)
        for limit_name, left_name, reset_name, i, limit, text in single:
            s = slots[i][0]
            left = limit - s.total
            q = s.entries  # Sum.reset_s, inlined: until the oldest live entry expires
            while q and q[0][2] is None:
                q.popleft()
                s.dead -= 1
            reset = q[0][0] - now if q else slots[i][2]
            h[limit_name] = text
            h[left_name] = f"{left}" if left > 0 else "0"
            if reset >= 1:  # duration's cases, inlined: a window's reset is mostly one of a few whole seconds
                h[reset_name] = DURATIONS.get(math.ceil(reset)) or duration(reset)
            else:
                h[reset_name] = MILLIS[math.ceil(reset * 1000)] if reset > 0 else "0ms"
        return h
    for names, limits in rules.headers:
        if len(limits) == 1:  # one scope sets this limit
            i, limit, text = limits[0]
            s, _, ttl, _, _ = slots[i]
            left = limit - s.total
        else:
            i, left, text = _tightest(limits, [slots[i][0].total for i, _, _ in limits])
            s, _, ttl, _, _ = slots[i]
        q = s.entries  # Sum.reset_s, inlined: until the oldest live entry expires
        while q and q[0][2] is None:
            q.popleft()
            s.dead -= 1
        reset = q[0][0] - now if q else ttl
        h[names[0]] = text
        h[names[1]] = f"{left}" if left > 0 else "0"
        if reset >= 1:  # duration's cases, inlined: a window's reset is mostly one of a few whole seconds
            h[names[2]] = DURATIONS.get(math.ceil(reset)) or duration(reset)
        else:
            h[names[2]] = MILLIS[math.ceil(reset * 1000)] if reset > 0 else "0ms"
    return h


def _remote_headers(rules: Rules, out: list[Any]) -> dict[str, str]:
    """The same from the Redis script's answer (used and reset in ms after each check)."""
    both = rules.both_single
    if both is not None:  # one scope sets each limit, requests and tokens (see _local_headers)
        i, limit, text, j, limit2, text2 = both
        left = limit - int(out[1 + 2 * i])
        reset = float(out[2 + 2 * i]) / 1000
        left2 = limit2 - int(out[1 + 2 * j])
        reset2 = float(out[2 + 2 * j]) / 1000
        return _both_headers(text, left, reset, text2, left2, reset2)
    h: dict[str, str] = {}
    for names, limits in rules.headers:
        if len(limits) == 1:
            i, limit, text = limits[0]
            left = limit - int(out[1 + 2 * i])
        else:
            i, left, text = _tightest(limits, [int(out[1 + 2 * i]) for i, _, _ in limits])
        h[names[0]] = text
        h[names[1]] = f"{left}" if left > 0 else "0"
        reset = float(out[2 + 2 * i]) / 1000
        if reset >= 1:  # duration's cases, inlined (see _local_headers)
            h[names[2]] = DURATIONS.get(math.ceil(reset)) or duration(reset)
        else:
            h[names[2]] = MILLIS[math.ceil(reset * 1000)] if reset > 0 else "0ms"
    return h


def _both_headers(text: str, left: int, reset: float, text2: str, left2: int, reset2: float) -> dict[str, str]:
    """The six headers when one scope sets the requests limit and one the tokens limit (the usual case),
    with fixed names: the names of limits.REQUEST_HEADERS and TOKEN_HEADERS, in rate_headers' order."""
    return {
        "x-ratelimit-limit-requests": text,
        "x-ratelimit-remaining-requests": f"{left}" if left > 0 else "0",  # f"{n}": no type call (cheaper than str)
        # duration's cases, inlined: a window's reset is mostly one of a few whole seconds
        "x-ratelimit-reset-requests": (DURATIONS.get(math.ceil(reset)) or duration(reset)) if reset >= 1
        else MILLIS[math.ceil(reset * 1000)] if reset > 0 else "0ms",
        "x-ratelimit-limit-tokens": text2,
        "x-ratelimit-remaining-tokens": f"{left2}" if left2 > 0 else "0",
        "x-ratelimit-reset-tokens": (DURATIONS.get(math.ceil(reset2)) or duration(reset2)) if reset2 >= 1
        else MILLIS[math.ceil(reset2 * 1000)] if reset2 > 0 else "0ms",
    }  # fmt: skip


def _tightest(limits: tuple[HeaderSlot, ...], used: list[int]) -> tuple[int, int, str]:
    """(check index, remaining, limit text) of the least remaining; the first on a tie."""
    best = 0
    left = limits[0][1] - used[0]
    for j in range(1, len(limits)):
        other = limits[j][1] - used[j]
        if other < left:
            best, left = j, other
    return limits[best][0], left, limits[best][2]
