"""Pure decisions: which counter checks a request needs, how to settle them, and the headers to send.

Three scopes (key, team, gateway) x three limits (requests and tokens per window, requests in flight),
plus daily and monthly budgets for key and team. Keys that set no limits use `access.key_defaults`.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from hybridgate.access.config import AccessConfig, Budget, Limits
from hybridgate.access.counters import ADJUST, NANO, REMOVE, SPEND, Check, Hit, Settle, Spec


@dataclass(frozen=True, slots=True, eq=False)
class Grant:
    """The limits and budgets that apply to one principal, as the authenticator resolved them.

    Compared and hashed by identity (eq=False): it is a cache key on the request path, and hashing its
    pydantic fields on every request cost more than the rest of the limit checks.
    """

    key_id: str | None
    team: str | None
    key_limits: Limits = field(default_factory=Limits)
    team_limits: Limits = field(default_factory=Limits)
    key_budget: Budget = field(default_factory=Budget)
    team_budget: Budget = field(default_factory=Budget)


@lru_cache(maxsize=4096)
def default_grant(key_id: str | None, team: str | None) -> Grant:
    """The grant of a principal with no limits of its own, one object per principal (identity-keyed caches)."""
    return Grant(key_id, team)


@dataclass(frozen=True, slots=True)
class Estimate:
    tokens: int
    cost_nano: int


def ident(text: str) -> str:
    """A name inside a counter key: ':' escaped so that no team name can alias another counter."""
    return text.replace("%", "%25").replace(":", "%3A")


@lru_cache(maxsize=64)
def _periods(hour: int) -> tuple[tuple[str, str, float], ...]:
    """(kind, label, end as unix time) of the UTC day and month containing `hour` (hours since the epoch);
    periods end on hour boundaries, so this is computed once an hour, not per request."""
    t = dt.datetime.fromtimestamp(hour * 3600, dt.UTC)
    day_end = dt.datetime(t.year, t.month, t.day, tzinfo=dt.UTC) + dt.timedelta(days=1)
    month_end = dt.datetime(t.year + t.month // 12, t.month % 12 + 1, 1, tzinfo=dt.UTC)
    return (("day", t.strftime("%Y-%m-%d"), day_end.timestamp()), ("month", t.strftime("%Y-%m"), month_end.timestamp()))


def period_starts(now: float) -> tuple[tuple[str, str, float, float], ...]:
    """(kind, label, start, end) of the UTC day and month containing `now`, as unix times."""
    out = []
    for kind, label, end in _periods(int(now // 3600)):
        t = dt.datetime.fromtimestamp(now, dt.UTC)
        start = dt.datetime(t.year, t.month, t.day if kind == "day" else 1, tzinfo=dt.UTC)
        out.append((kind, label, start.timestamp(), end))
    return tuple(out)


def spent_key(scope: str, who: str, kind: str, label: str) -> str:
    """The counter holding a period's settled spend of one key or team (the budget's `base`)."""
    return f"spent:{scope}:{ident(who)}:{kind}:{label}"


def spent_ttl(left_s: float) -> float:
    """Kept a day past the period's end, so a request admitted just before midnight still settles there."""
    return left_s + 86400.0


def _period_ends(now: float) -> tuple[tuple[str, str, float], ...]:
    """(kind, label, seconds until the period ends) for the UTC day and month."""
    return tuple((kind, label, end - now) for kind, label, end in _periods(int(now // 3600)))


def _no_limits(lim: Limits) -> bool:
    return lim.rpm is None and lim.tpm is None and lim.concurrent is None


@dataclass(frozen=True, slots=True)
class _Template:
    """A check without its amount: the same for every request of a principal within an hour."""

    key: str
    limit: int
    ttl_s: float
    base_key: str | None
    name: str
    kind: str  # requests | tokens | concurrent | day | month
    end: float = 0.0  # budgets: when the period ends (unix time)
    amount: int = field(init=False)  # what a request adds: 0 one (requests, concurrent), 1 tokens, 2 cost
    settle: int = field(init=False)  # what settling does: 0 nothing, or counters.ADJUST / REMOVE / SPEND

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", _AMOUNT[self.kind])
        object.__setattr__(self, "settle", _SETTLE[self.kind])


_AMOUNT = {"requests": 0, "concurrent": 0, "tokens": 1, "day": 2, "month": 2}
_WINDOWED_KINDS = ("requests", "tokens")
_SETTLE = {"requests": 0, "concurrent": REMOVE, "tokens": ADJUST, "day": SPEND, "month": SPEND}
_KINDS: dict[str, str] = {}  # check name -> its kind ("key.requests" -> "requests"): a handful of names


def kind_of(name: str) -> str:
    """The limit kind of a check's name, worked out once per name (the request path asks several times)."""
    kind = _KINDS.get(name)
    if kind is None:
        kind = _KINDS[name] = name[name.rfind(".") + 1 :]
    return kind


@lru_cache(maxsize=4096)
def _templates(g: Grant, gateway: Limits, key_defaults: Limits, window_s: float, lease_s: float, hour: int
               ) -> tuple[_Template, ...]:  # fmt: skip
    out: list[_Template] = []
    scopes: list[tuple[str, str, Limits]] = []
    if g.key_id is not None:
        scopes.append(("key", ident(g.key_id), key_defaults if _no_limits(g.key_limits) else g.key_limits))
    if g.team is not None:
        scopes.append(("team", ident(g.team), g.team_limits))
    scopes.append(("gateway", "all", gateway))
    for scope, name, lim in scopes:
        if lim.rpm is not None:
            out.append(_Template(f"rl:{scope}:{name}:req", lim.rpm, window_s, None, f"{scope}.requests", "requests"))
        if lim.tpm is not None:
            out.append(_Template(f"rl:{scope}:{name}:tok", lim.tpm, window_s, None, f"{scope}.tokens", "tokens"))
        if lim.concurrent is not None:
            out.append(_Template(f"cc:{scope}:{name}", lim.concurrent, lease_s, None, f"{scope}.concurrent",
                                 "concurrent"))  # fmt: skip
    for scope, who, budget in (("key", g.key_id, g.key_budget), ("team", g.team, g.team_budget)):
        if who is None:
            continue
        for kind, label, end in _periods(hour):
            usd = budget.daily_usd if kind == "day" else budget.monthly_usd
            if usd is not None:
                base = spent_key(scope, who, kind, label)
                key = f"bud:{scope}:{ident(who)}:{kind}"
                out.append(_Template(key, round(usd * NANO), lease_s, base, f"{scope}.{kind}", kind, end))
    return tuple(out)


REQUEST_HEADERS = ("x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests")
TOKEN_HEADERS = ("x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens")
HeaderSlot = tuple[int, int, str]  # (check index, limit, the limit as header text)


class Rules:
    """A principal's checks within one hour, worked out once: per request only the amounts are filled in.

    `bound` caches what the counters made of them (admission.py): the in-process sums found once, or the
    Redis script's arguments built once, rather than per request.
    """

    __slots__ = ("both_single", "bound", "headers", "hour", "money", "single_headers", "specs", "templates", "tokens")

    def __init__(self, hour: int, templates: tuple[_Template, ...]) -> None:
        self.hour = hour
        self.templates = templates
        kinds = {t.kind for t in templates}
        self.tokens = "tokens" in kinds  # a token limit applies: the request needs a token estimate
        self.money = bool(kinds & {"day", "month"})  # a budget applies: the request needs a cost estimate
        self.specs: tuple[Spec, ...] = tuple(
            (t.key, t.limit, t.ttl_s, t.amount, t.base_key, t.settle, t.end, t.kind in _WINDOWED_KINDS)
            for t in templates
        )
        # the x-ratelimit-* groups that apply, requests first (rate_headers' order), each with its checks
        groups = ((REQUEST_HEADERS, "requests"), (TOKEN_HEADERS, "tokens"))
        self.headers: tuple[tuple[tuple[str, str, str], tuple[HeaderSlot, ...]], ...] = tuple(
            (names, slots)
            for names, kind in groups
            if (slots := tuple((i, t.limit, str(t.limit)) for i, t in enumerate(templates) if t.kind == kind))
        )
        # the usual case, one scope per group: (limit, remaining, reset header names, check index, limit, its text)
        self.single_headers: tuple[tuple[str, str, str, int, int, str], ...] | None = None
        if all(len(slots) == 1 for _, slots in self.headers):
            self.single_headers = tuple((*names, *slots[0]) for names, slots in self.headers)
        # the most usual case of all, one scope sets each of both limits: (check index, limit, its text) of
        # the requests check, then of the tokens check
        self.both_single: tuple[int, int, str, int, int, str] | None = None
        if self.single_headers is not None and len(self.single_headers) == 2:
            self.both_single = (*self.single_headers[0][3:], *self.single_headers[1][3:])
        self.bound: Any = None  # counters.Bound, or redis_counters.RedisBound

    def checks(self, est: Estimate) -> list[Check]:
        amounts = (1, est.tokens, est.cost_nano)  # indexed by _Template.amount
        return [Check(t.key, amounts[t.amount], t.limit, t.ttl_s, t.base_key, t.name) for t in self.templates]


def rules_for(g: Grant, cfg: AccessConfig, now: float) -> Rules:
    hour = int(now // 3600)
    return Rules(hour, _templates(g, cfg.gateway, cfg.key_defaults, cfg.window_s, cfg.lease_ttl_s, hour))


def limited(g: Grant, cfg: AccessConfig, now: float) -> bool:
    """True when any limit or budget applies to `g`; otherwise a request needs no estimate and no counters."""
    return bool(rules_for(g, cfg, now).templates)


def checks_for(g: Grant, est: Estimate, cfg: AccessConfig, now: float) -> list[Check]:
    return rules_for(g, cfg, now).checks(est)


def settles_for(checks: Sequence[Check], tokens: int, cost_nano: int, now: float) -> list[Settle]:
    """Tokens reconcile to the real count; leases and reservations go; the real cost joins the spend."""
    ends: dict[str, float] | None = None
    out: list[Settle] = []
    for c in checks:
        kind = kind_of(c.name)
        if kind == "tokens":
            out.append(Settle(c.key, "adjust", tokens))
        elif kind == "concurrent":
            out.append(Settle(c.key, "remove"))
        elif c.base_key is not None:
            if ends is None:
                ends = {kind: left for kind, _, left in _period_ends(now)}
            ttl = spent_ttl(ends.get(kind, 86400.0))
            out.append(Settle(c.key, "remove", base_key=c.base_key, base_add=cost_nano, base_ttl_s=ttl))
    return out


def duration(seconds: float) -> str:
    """OpenAI's reset format: 250ms, 2s, 6m0s."""
    if seconds < 1:
        return MILLIS[math.ceil(seconds * 1000)] if seconds > 0 else "0ms"
    s = math.ceil(seconds)
    text = _DURATIONS.get(s)
    if text is None:  # a window's resets take few distinct values: each formatted once
        text = f"{s // 60}m{s % 60}s" if s >= 60 else f"{s}s"
        if len(_DURATIONS) < 100_000:
            _DURATIONS[s] = text
    return text


_DURATIONS: dict[int, str] = {}
DURATIONS = _DURATIONS  # whole seconds -> duration()'s text, for callers that inline its usual case
MILLIS = tuple(f"{ms}ms" for ms in range(1001))  # under a second: every value there is, formatted once


def rate_headers(checks: Sequence[Check], hits: Sequence[Hit]) -> dict[str, str]:
    """x-ratelimit-* for requests and tokens: the tightest scope of each (least remaining; the first on a tie)."""
    req: tuple[int, Check, Hit] | None = None
    tok: tuple[int, Check, Hit] | None = None
    for c, hit in zip(checks, hits, strict=True):
        kind = kind_of(c.name)
        if kind == "requests":
            left = c.limit - hit.used
            if req is None or left < req[0]:
                req = (left, c, hit)
        elif kind == "tokens":
            left = c.limit - hit.used
            if tok is None or left < tok[0]:
                tok = (left, c, hit)
    h: dict[str, str] = {}
    for names, best in ((REQUEST_HEADERS, req), (TOKEN_HEADERS, tok)):
        if best is not None:
            left, c, hit = best
            h[names[0]] = str(c.limit)
            h[names[1]] = str(left) if left > 0 else "0"
            h[names[2]] = duration(hit.reset_s)
    return h


def retry_after(c: Check, hit: Hit, now: float) -> float:
    """When to try again: when the window frees room; for a budget whose settled spend alone is over the
    limit, when the period ends; for in-flight limits and reservations, soon."""
    kind = c.name.rsplit(".", 1)[-1]
    if kind in ("requests", "tokens"):
        return max(1.0, hit.reset_s) if c.amount <= c.limit else c.ttl_s
    if kind in ("day", "month"):
        return max(1.0, dict((k, left) for k, _, left in _period_ends(now))[kind]) if hit.used >= c.limit else 1.0
    return 1.0
