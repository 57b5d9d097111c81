"""The request path, top to bottom: auth -> detect -> decide -> select -> dispatch -> observe.

This is the one file to read to understand the gateway. Every attempt (first try, retry, fallback)
goes through `_guarded`, which checks the egress boundary before any byte leaves.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from hybridgate.auth.principal import Authenticator, Principal
from hybridgate.backends.base import Backend, Operation, UpstreamRequest, UpstreamResponse
from hybridgate.detect.hints import merge_defaults, parse_hints
from hybridgate.detect.signals import Signals
from hybridgate.detection import DetectionStage
from hybridgate.errors import (
    GatewayError,
    NoAllowedEndpoint,
    PolicyDenied,
    UpstreamStatusError,
)
from hybridgate.observe.base import Observer
from hybridgate.policy.boundary import check_egress
from hybridgate.policy.decide import Decision, decide
from hybridgate.policy.model import Policy
from hybridgate.routing.health import HealthTracker
from hybridgate.routing.select import Attempt, select
from hybridgate.routing.topology import Topology
from hybridgate.store.records import AttemptRecord, UsageRecord

CostFn = Callable[[str, str, Mapping[str, Any]], float]


@dataclass(slots=True)
class Plan:
    request_id: str
    op: Operation
    body: dict[str, Any]
    stream: bool
    principal: Principal
    signals: Signals
    decision: Decision
    attempts: list[Attempt]
    started: float
    tried: list[AttemptRecord] = field(default_factory=list)


@dataclass(slots=True)
class Served:
    attempt: Attempt
    response: UpstreamResponse | None = None  # None for streams
    events: AsyncIterator[bytes] | None = None  # the rest of a stream, after `first`
    first: bytes = b""
    upstream_started: float = 0.0


def retryable(err: GatewayError) -> bool:
    """Safe to try elsewhere: nothing reached the client and the upstream did not judge the request."""
    if isinstance(err, UpstreamStatusError):
        return err.upstream_status == 429 or err.upstream_status >= 500
    return err.status in (502, 503, 504)


def _outcome(err: GatewayError) -> str:
    if isinstance(err, UpstreamStatusError):
        return f"status_{err.upstream_status}"
    return err.code or type(err).__name__


class Pipeline:
    def __init__(
        self,
        topo: Topology,
        policy: Policy,
        detection: DetectionStage,
        backends: Mapping[str, Backend],
        health: HealthTracker,
        auth: Authenticator,
        observers: Sequence[Observer] = (),
        *,
        max_attempts: int = 3,
        cost: CostFn | None = None,
    ) -> None:
        self.topo = topo
        self.policy = policy
        self.detection = detection
        self.backends = backends
        self.health = health
        self.auth = auth
        self.observers = list(observers)
        self.max_attempts = max_attempts
        self.cost = cost

    # -- 1. plan: auth, detect, decide, select. No upstream is contacted. --------------------------
    async def plan(self, op: Operation, body: dict[str, Any], headers: Mapping[str, str], request_id: str) -> Plan:
        started = time.perf_counter()
        principal = await self.auth.authenticate(headers.get("authorization") or headers.get("x-api-key"))
        hints = merge_defaults(parse_hints(headers, body), principal.default_hints)
        signals = self.detection.run(body, hints, principal, body.get("model", "auto"))
        decision = decide(signals, principal, self.policy, self.topo)
        attempts = select(decision, self.topo, self.health.snapshot())
        attempts = [a for a in attempts if self._supports(a, op)]
        return Plan(
            request_id,
            op,
            body,
            bool(body.get("stream")),
            principal,
            signals,
            decision,
            attempts[: self.max_attempts],
            started,
        )

    def _supports(self, a: Attempt, op: Operation) -> bool:
        caps = self.backends[a.endpoint].capabilities
        return {"chat": caps.chat, "completions": caps.completions, "embeddings": caps.embeddings}[op]

    @staticmethod
    def admit(plan: Plan) -> None:
        """Turns a denial or an empty candidate list into the client's error."""
        d = plan.decision
        if d.action == "deny":
            raise PolicyDenied(f"{d.reason} (rule {d.rule_id})")
        if not plan.attempts:
            raise NoAllowedEndpoint(
                f"no endpoint allowed for this {d.data_class.value} request is available "
                f"(may reach: {', '.join(sorted(t.value for t in d.allowed_trust)) or 'nothing'}); "
                "the request was not sent anywhere",
                retry_after=5,
            )

    # -- 2. dispatch: every attempt is boundary-checked --------------------------------------------
    def _guarded(self, plan: Plan, a: Attempt) -> tuple[Backend, UpstreamRequest]:
        check_egress(a.endpoint, a.trust, plan.decision.allowed_trust)
        backend = self.backends[a.endpoint]
        check_egress(a.endpoint, backend.trust, plan.decision.allowed_trust)
        body = upstream_body(plan.body, a.model)
        if plan.stream and plan.op != "embeddings":
            body["stream_options"] = {**(plan.body.get("stream_options") or {}), "include_usage": True}
        req = UpstreamRequest(plan.op, body, plan.decision.allowed_trust, plan.stream, plan.request_id)
        return backend, req

    def _fail(self, plan: Plan, a: Attempt, err: GatewayError, t0: float) -> None:
        failure = retryable(err) and not (isinstance(err, UpstreamStatusError) and err.upstream_status == 429)
        self.health.finish(a.endpoint, ok=not failure)
        plan.tried.append(AttemptRecord(a.endpoint, a.trust.value, _outcome(err), _ms(t0)))

    async def call(self, plan: Plan) -> Served:
        self.admit(plan)
        last: GatewayError | None = None
        for a in plan.attempts:
            backend, req = self._guarded(plan, a)
            t0 = time.perf_counter()
            self.health.start(a.endpoint)
            try:
                resp = await backend.call(req)
            except GatewayError as err:
                self._fail(plan, a, err, t0)
                if not retryable(err):
                    raise
                last = err
                continue
            self.health.finish(a.endpoint, ok=True, latency_ms=_ms(t0))
            plan.tried.append(AttemptRecord(a.endpoint, a.trust.value, "ok", _ms(t0)))
            return Served(a, resp, upstream_started=t0)
        raise exhausted(plan, last)

    async def open_stream(self, plan: Plan) -> Served:
        """Fails over only until the first event arrives; after that the stream is committed."""
        self.admit(plan)
        last: GatewayError | None = None
        for a in plan.attempts:
            backend, req = self._guarded(plan, a)
            t0 = time.perf_counter()
            self.health.start(a.endpoint)
            it = backend.stream(req).__aiter__()
            try:
                first = await it.__anext__()
            except StopAsyncIteration:
                err: GatewayError = NoAllowedEndpoint(f"{a.endpoint}: empty stream", code="empty_stream")
                self._fail(plan, a, err, t0)
                last = err
                continue
            except GatewayError as err:
                self._fail(plan, a, err, t0)
                if not retryable(err):
                    raise
                last = err
                continue
            return Served(a, events=it, first=first, upstream_started=t0)
        raise exhausted(plan, last)

    def stream_done(self, plan: Plan, served: Served, *, ok: bool, outcome: str = "ok") -> None:
        a = served.attempt
        self.health.finish(a.endpoint, ok=ok, latency_ms=_ms(served.upstream_started) if ok else None)
        plan.tried.append(AttemptRecord(a.endpoint, a.trust.value, outcome, _ms(served.upstream_started)))

    # -- 3. observe ---------------------------------------------------------------------------------
    def record(
        self,
        plan: Plan,
        status: int,
        attempt: Attempt | None,
        usage: Mapping[str, Any] | None,
        *,
        ttft_ms: float | None = None,
        estimated: bool = False,
    ) -> UsageRecord:
        u = usage or {}
        details = u.get("prompt_tokens_details") or {}
        cost = 0.0
        if self.cost is not None and attempt is not None and usage:
            cost = self.cost(attempt.endpoint, attempt.model, usage)
        p = plan.principal
        rec = UsageRecord(
            ts=time.time() - (time.perf_counter() - plan.started),
            request_id=plan.request_id,
            key_id=p.key_id,
            team=p.team,
            route_tag=plan.signals.hints.purpose or plan.decision.rule_id,
            tier=attempt.tier if attempt else plan.decision.tier,
            endpoint=attempt.endpoint if attempt else None,
            trust=attempt.trust.value if attempt else None,
            model=attempt.model if attempt else plan.decision.model,
            rule_id=plan.decision.rule_id,
            data_class=plan.signals.data_class.value,
            status=status,
            prompt_tokens=int(u.get("prompt_tokens") or u.get("input_tokens") or 0),
            completion_tokens=int(u.get("completion_tokens") or u.get("output_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
            latency_ms=_ms(plan.started),
            ttft_ms=ttft_ms,
            cost_usd=cost,
            estimated=estimated,
            stream=plan.stream,
            attempts=tuple(plan.tried),
            finding_counts=plan.signals.finding_counts(),
        )
        for obs in self.observers:
            obs.observe(rec)
        return rec

    async def aclose(self) -> None:
        for b in self.backends.values():
            await b.aclose()


def exhausted(plan: Plan, last: GatewayError | None) -> GatewayError:
    """Every allowed endpoint failed. Never a reason to look outside the boundary: 503, try later."""
    if isinstance(last, UpstreamStatusError) and last.upstream_status == 429:
        return last
    tried = ", ".join(f"{t.endpoint}: {t.outcome}" for t in plan.tried)
    return NoAllowedEndpoint(
        f"all allowed endpoints failed ({tried}); the request was not sent outside its boundary",
        retry_after=(last.retry_after if last and last.retry_after else 5),
        code="upstreams_failed",
    )


def upstream_body(body: Mapping[str, Any], model: str) -> dict[str, Any]:
    """The client's body with the upstream's model name; the gateway's own hint keys stay here."""
    out = {**body, "model": model}
    meta = body.get("metadata")
    if isinstance(meta, dict):
        rest = {k: v for k, v in meta.items() if k not in _HINT_KEYS and not k.startswith("hybridgate_")}
        if rest:
            out["metadata"] = rest
        else:
            del out["metadata"]
    return out


_HINT_KEYS = frozenset({"data_class", "latency_budget", "volume", "purpose"})


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
