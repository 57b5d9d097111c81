"""The request path, top to bottom: auth -> detect -> decide -> select -> dispatch -> observe.

This is the one file to read to understand the gateway. Every attempt (first try, retry, fallback)
goes through `_guarded`, which checks the egress boundary before any byte leaves.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from hybridgate.access.tokens import ResponseTally, StreamTally, Tally
from hybridgate.auth.authenticator import presented
from hybridgate.auth.principal import Authenticator, Principal
from hybridgate.backends.base import Backend, Operation, UpstreamRequest, UpstreamResponse
from hybridgate.backends.event_stream import open_events
from hybridgate.detect.findings import Finding
from hybridgate.detect.hints import merge_defaults, parse_hints
from hybridgate.detect.redact import Restorer, redact_request
from hybridgate.detect.restore_stream import StreamRestorer, restore_body, restore_events
from hybridgate.detect.signals import Signals
from hybridgate.detection import DetectionStage
from hybridgate.errors import (
    GatewayError,
    NoAllowedEndpoint,
    PolicyDenied,
    UpstreamStatusError,
    UpstreamTimeout,
)
from hybridgate.frozen import maker
from hybridgate.labels import Trust
from hybridgate.observe import tracing
from hybridgate.observe.base import Observer
from hybridgate.outbound import system_prompt_key, upstream_body
from hybridgate.policy.boundary import check_egress
from hybridgate.policy.decide import Decision, allowed_trust, decide
from hybridgate.policy.model import Policy
from hybridgate.routing.capacity import CapacityGate
from hybridgate.routing.config import RetryConfig, SloConfig
from hybridgate.routing.health import HealthTracker
from hybridgate.routing.retry import RetryBudget, backoff_s
from hybridgate.routing.select import Attempt, select, waitable
from hybridgate.routing.topology import Topology
from hybridgate.store.records import AttemptRecord, UsageRecord

if TYPE_CHECKING:
    from hybridgate.observe.payload import Tap

CostFn = Callable[[str, str, Mapping[str, Any]], float]
T = TypeVar("T")


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
    last_retry_after: float | None = None
    restorer: Restorer | None = None  # set for redact-then-route; holds the only copy of the originals
    deep_scanned: bool = False  # the NER tier has run (or there is none)
    ticket: Ticket | None = None  # rate limits / budget reserved by `admission`, settled in record()
    tally: Tally | None = None  # counts the answer's tokens in case the upstream reports no usage
    # kept only while a payload tap is installed (logged prompt, captured payload; observe/payload.py)
    source: dict[str, Any] | None = None  # the request as the client sent it, before any redaction
    output: bytes | None = None  # the answer body as the client got it (not for streams)


class Ticket(Protocol):
    @property
    def headers(self) -> Mapping[str, str]: ...


class Admission(Protocol):
    """Rate limits and budgets (access/admission.py): reserve before dispatch, settle after."""

    async def admit(self, plan: Plan) -> Ticket: ...
    def admit_now(self, plan: Plan) -> Ticket | None:
        """`admit` when it needs no await (the usual case), else None: then `await admit(plan)`."""
        ...

    def settle(self, plan: Plan, ticket: Ticket, record: UsageRecord) -> None: ...


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
        retry: Mapping[str, RetryConfig] | None = None,
        cost: CostFn | None = None,
        queue: Mapping[str, SloConfig] | None = None,
        admission: Admission | None = None,
    ) -> None:
        self.topo = topo
        self.policy = policy
        self.detection = detection
        self.backends = backends
        self.health = health
        self.auth = auth
        self.observers = list(observers)
        self.retry = dict(retry or {})
        self.default_retry = RetryConfig()
        self.budget = RetryBudget(max((c.budget_ratio for c in self.retry.values()), default=0.2))
        self.rng = random.Random()
        self.cost = cost
        self.queue = dict(queue or {})
        self.capacity = CapacityGate()
        self.admission = admission
        # Called right after detection, before any await: router/recent.py keeps the scorer's features.
        self.on_detect: list[Callable[[str, Principal, Signals], None]] = []
        self.tap: Tap | None = None  # set by observe/setup.py when prompts are logged or payloads captured
        health.listeners.append(lambda *_: self.capacity.notify())

    # -- 1. plan: auth, detect, decide, select. No upstream is contacted. --------------------------
    async def plan(self, op: Operation, body: dict[str, Any], headers: Mapping[str, str], request_id: str) -> Plan:
        started = time.perf_counter()
        source = body
        with tracing.stage("auth"):
            principal = await self.auth.authenticate(presented(headers))
        hints = merge_defaults(parse_hints(headers, body), principal.default_hints)
        with tracing.stage("detect"):
            signals = self.detection.run(body, hints, principal, body.get("model", "auto"))
        for hook in self.on_detect:
            hook(request_id, principal, signals)
        with tracing.stage("decide"):
            decision = decide(signals, principal, self.policy, self.topo)
        deep = False
        if decision.action == "redact" and self.detection.ner is not None:  # redact everything before it leaves
            signals, deep = await self.detection.deepen_async(body, signals, principal), True
            decision = decide(signals, principal, self.policy, self.topo)
        restorer = None
        if decision.action == "redact" and signals.findings:
            body, restorer, clean = self._redact(body, signals.findings)
            if not clean:  # something survived redaction: keep the unredacted boundary
                decision = replace(decision, allowed_trust=allowed_trust(signals, principal, self.policy))
        affinity = system_prompt_key(body)
        with tracing.stage("select"):
            attempts = await self._select_waiting(decision, op, affinity)
        plan = Plan(request_id, op, body, bool(body.get("stream")), principal, signals, decision, attempts, started)
        plan.restorer = restorer
        plan.deep_scanned = deep or self.detection.ner is None
        if self.tap is not None:
            plan.source = source
        return plan

    async def _select_waiting(self, decision: Decision, op: Operation, affinity: str | None) -> list[Attempt]:
        """Select; when every allowed endpoint is up but busy, wait (bounded, with a deadline) for capacity
        instead of piling onto the inference servers or leaving the boundary."""
        slo: SloConfig | None = None
        deadline = 0.0
        while True:
            snap = self.health.snapshot()
            attempts = [a for a in select(decision, self.topo, snap, affinity_key=affinity) if self._supports(a, op)]
            if attempts or not waitable(decision, self.topo, snap):
                return attempts
            if slo is None:  # the first wait starts the clock
                slo = self.queue.get(decision.tier or "", _NO_SLO)
                deadline = time.monotonic() + slo.queue_timeout_s
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not await self.capacity.wait(remaining, slo.max_queue):
                raise NoAllowedEndpoint(
                    "every endpoint allowed for this request is at capacity or overloaded; retry later",
                    retry_after=max(1.0, slo.queue_timeout_s),
                    code="capacity_exhausted",
                )

    def _redact(self, body: dict[str, Any], findings: Sequence[Finding]) -> tuple[dict[str, Any], Restorer, bool]:
        """Redacts, then scans the result again and redacts what the new text exposes (a value the first
        pass only partly covered), up to three rounds. `clean` is False unless the last scan found nothing."""
        mapping: dict[str, str] = {}
        for _ in range(3):
            redaction = redact_request(body, findings)
            earlier = Restorer(mapping)
            # A later round's original may contain an earlier placeholder: store it fully restored.
            mapping.update({p: earlier.restore(v) for p, v in redaction.mapping.items()})
            body = redaction.body
            residue = self.detection.residue(body)
            if residue is None:
                return body, Restorer(mapping), False
            if not residue:
                return body, Restorer(mapping), True
            findings = residue
        return body, Restorer(mapping), False

    def _leaves(self, a: Attempt) -> bool:
        """True for an endpoint a sensitive request could not reach: only before such an attempt can the
        NER tier change where the request goes, so only then is it worth its cost."""
        return a.trust not in self.policy.trust_by_class[self.policy.sensitive_class]

    async def _deepen(self, plan: Plan) -> bool:
        """Runs the NER tier once. True when the decision changed."""
        plan.deep_scanned = True
        signals = await self.detection.deepen_async(plan.body, plan.signals, plan.principal)
        if signals.data_class == plan.signals.data_class and signals.detector_error == plan.signals.detector_error:
            plan.signals = signals
            return False
        plan.signals = signals
        plan.decision = decide(signals, plan.principal, self.policy, self.topo)
        return True

    async def deepen(self, plan: Plan) -> None:
        """Full detection now (for /v1/route/explain): what dispatch would do before leaving."""
        if not plan.deep_scanned and any(self._leaves(a) for a in plan.attempts) and await self._deepen(plan):
            plan.attempts = await self._reselect(plan)

    async def _reselect(self, plan: Plan) -> list[Attempt]:
        if plan.decision.action == "deny":
            raise PolicyDenied(f"{plan.decision.reason} (rule {plan.decision.rule_id})")
        return await self._select_waiting(plan.decision, plan.op, system_prompt_key(plan.body))

    def _supports(self, a: Attempt, op: Operation) -> bool:
        ok: bool = getattr(self.backends[a.endpoint].capabilities, op)  # the flags are named after the ops
        return ok

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

    async def _reserve(self, plan: Plan) -> None:
        """Rate limits and budget, once per request, after the policy said yes (429 otherwise)."""
        if self.admission is not None and plan.ticket is None:
            ticket = self.admission.admit_now(plan)  # no coroutine per request where nothing awaits
            plan.ticket = ticket if ticket is not None else await self.admission.admit(plan)

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
        if isinstance(err, UpstreamStatusError) and err.upstream_status == 429:
            self.health.finish(a.endpoint, ok=True)  # alive, just busy: pause it, don't eject it
            self.health.pause(a.endpoint, err.retry_after or 1.0)
        else:
            self.health.finish(a.endpoint, ok=not self._retryable(plan, err))
        plan.tried.append(AttemptRecord(a.endpoint, a.trust.value, _outcome(err), _ms(t0)))

    def _retry_cfg(self, plan: Plan) -> RetryConfig:
        return self.retry.get(plan.decision.tier or "", self.default_retry)

    def _retryable(self, plan: Plan, err: GatewayError) -> bool:
        if retryable(err):
            return True
        return (
            self._retry_cfg(plan).reroute_content_policy
            and isinstance(err, UpstreamStatusError)
            and 400 <= err.upstream_status < 500
        )

    def _sequence(self, plan: Plan) -> _Sequence:
        """Attempts in order (`await self._next_attempt(seq)`; None when done), retrying an already-tried endpoint only
        after jittered back-off, within the retry budget, and never one that is now ejected or paused. Just
        before the first attempt that would leave the sensitive boundary, the NER tier runs; if it raises the
        class, what is left of the plan is selected again under the narrower boundary.

        Not an async generator: a caller that returns mid-iteration left one suspended, and its finalizer
        scheduled an `aclose()` task through a thread-safe wake-up of the loop on every request."""
        self.budget.on_request()
        return _Sequence(plan, self._retry_cfg(plan))

    async def _next_attempt(self, seq: _Sequence) -> Attempt | None:
        plan, cfg = seq.plan, seq.cfg
        if seq.n > 0:
            seq.last_retry_after = plan.last_retry_after  # what the attempt just handed out reported
        while seq.n < cfg.max_attempts and plan.attempts:
            a = plan.attempts[seq.i % len(plan.attempts)]
            if not plan.deep_scanned and self._leaves(a) and await self._deepen(plan):
                plan.attempts = [x for x in await self._reselect(plan) if x.endpoint not in seq.tried]
                seq.i = 0
                continue
            seq.i += 1
            if seq.n > 0:
                if not self.budget.try_spend():
                    seq.n = cfg.max_attempts  # done, as the generator's `return` was
                    return None
                if a.endpoint in seq.tried:
                    wait = backoff_s(cfg, seq.n, seq.last_retry_after, self.rng)
                    st = self.health.state(a.endpoint)
                    if wait is None or not st.healthy or st.breaker == "open":
                        seq.n += 1
                        continue
                    await asyncio.sleep(wait)
            seq.n += 1
            seq.tried.add(a.endpoint)
            return a
        return None

    async def _attempt(
        self, plan: Plan, a: Attempt, opener: Callable[[Backend, UpstreamRequest], Awaitable[T]]
    ) -> tuple[T | None, GatewayError | None, float]:
        backend, req = self._guarded(plan, a)
        cfg = self._retry_cfg(plan)
        t0 = time.perf_counter()
        self.health.start(a.endpoint)
        try:
            with tracing.attempt(plan.op, a.endpoint, a.model, a.trust._value_):  # `.value`: a slow property
                if cfg.per_try_timeout_s is None:
                    return await opener(backend, req), None, t0
                async with asyncio.timeout(cfg.per_try_timeout_s):
                    return await opener(backend, req), None, t0
        except TimeoutError:
            err: GatewayError = UpstreamTimeout(
                f"{a.endpoint}: no answer within the per-try timeout", code="per_try_timeout"
            )
        except GatewayError as e:
            err = e
        self._fail(plan, a, err, t0)
        plan.last_retry_after = err.retry_after
        return None, err, t0

    async def call(self, plan: Plan) -> Served:
        self.admit(plan)
        await self._reserve(plan)
        last: GatewayError | None = None
        seq = self._sequence(plan)
        while (a := await self._next_attempt(seq)) is not None:
            resp, err, t0 = await self._attempt(plan, a, _call)
            if err is not None:
                if not self._retryable(plan, err):
                    raise err
                last = err
                continue
            assert resp is not None
            ms = _ms(t0)
            self.health.finish(a.endpoint, ok=True, latency_ms=ms)
            self.capacity.notify()
            plan.tried.append(_new_attempt_record(a.endpoint, a.trust._value_, "ok", ms))  # `.value`: a slow property
            if resp.usage is None:  # counted like a stream without a usage chunk, and marked estimated
                plan.tally = ResponseTally(resp.body)
            if plan.restorer is not None:
                resp = replace(resp, body=restore_body(resp.body, plan.restorer))
            if self.tap is not None:
                plan.output = resp.body
            return Served(a, resp, upstream_started=t0)
        raise exhausted(plan, last)

    async def open_stream(self, plan: Plan, while_waiting: Callable[[Attempt], object] | None = None) -> Served:
        """Fails over only until the first event arrives; after that the stream is committed.

        `while_waiting(attempt)`, if given, runs while that attempt's upstream works on the request: what
        the caller needs for its first write (the client response's headers) is then ready when the first
        event arrives instead of built after it. The HTTP client writes the request from a task of its own
        that it schedules while this task goes on to await the answer; a callback scheduled from a callback
        runs in the loop turn after that one, so after the write (on a new connection: while it opens).
        It must send nothing (it runs before the answer is known); the caller checks that it ran for the
        attempt served (failover calls it again; an upstream may in principle answer before it ran)."""
        self.admit(plan)
        await self._reserve(plan)
        last: GatewayError | None = None
        seq = self._sequence(plan)
        while (a := await self._next_attempt(seq)) is not None:
            if while_waiting is not None:
                loop = asyncio.get_running_loop()
                loop.call_soon(loop.call_soon, while_waiting, a)
            got, err, t0 = await self._attempt(plan, a, open_events)
            if err is not None:
                if not self._retryable(plan, err):
                    raise err
                last = err
                continue
            assert got is not None
            first, stream = got
            plan.tally = StreamTally()
            plan.tally.feed(first)
            stream.on_event = plan.tally.feed
            events: AsyncIterator[bytes] = stream
            if plan.restorer is not None:
                sr = StreamRestorer(plan.restorer)
                first, events = sr.event(first), restore_events(events, sr)
            return Served(a, events=events, first=first, upstream_started=t0)
        raise exhausted(plan, last)

    def stream_done(self, plan: Plan, served: Served, *, ok: bool, outcome: str = "ok") -> None:
        a = served.attempt
        # A client that hangs up mid-stream says nothing about the upstream: counting it as a failure
        # ejected healthy endpoints (and 503'd everyone) whenever a few clients went away at once.
        upstream_ok = ok or outcome == "client_disconnected"
        self.health.finish(a.endpoint, ok=upstream_ok, latency_ms=_ms(served.upstream_started) if ok else None)
        self.capacity.notify()
        plan.tried.append(AttemptRecord(a.endpoint, a.trust.value, outcome, _ms(served.upstream_started)))

    # -- 3. observe ---------------------------------------------------------------------------------
    def record_rejected(self, request_id: str, status: int, started: float) -> UsageRecord:
        """A request refused before it had a plan (no or bad key, malformed body): no principal, no
        decision, nothing billed, but counted in metrics and written to the audit trail."""
        rec = UsageRecord(
            ts=time.time() - (time.perf_counter() - started),
            request_id=request_id,
            key_id=None,
            team=None,
            route_tag=None,
            tier=None,
            endpoint=None,
            trust=None,
            model=None,
            rule_id="rejected",
            data_class="unknown",
            status=status,
            latency_ms=_ms(started),
        )
        for obs in self.observers:
            obs.observe(rec)
        return rec

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
        if usage is None and plan.tally is not None and status in (200, 499, 502):
            usage, estimated = plan.tally.usage(plan.body), True  # the upstream reported no usage
        u = usage or {}
        details = u.get("prompt_tokens_details") or {}
        cost = 0.0
        if self.cost is not None and attempt is not None and usage:
            cost = self.cost(attempt.endpoint, attempt.model, usage)
        p = plan.principal
        prompt, payload = self.tap.extras(plan) if self.tap is not None else (None, None)
        elapsed = time.perf_counter() - plan.started
        rec = _new_usage_record(  # `UsageRecord(...)`
            ts=time.time() - elapsed,
            request_id=plan.request_id,
            key_id=p.key_id,
            team=p.team,
            route_tag=plan.signals.hints.purpose or plan.decision.rule_id,
            tier=attempt.tier if attempt else plan.decision.tier,
            endpoint=attempt.endpoint if attempt else None,
            trust=attempt.trust._value_ if attempt else None,  # `_value_`: `.value` is a Python property
            model=attempt.model if attempt else plan.decision.model,
            rule_id=plan.decision.rule_id,
            data_class=plan.signals.data_class._value_,
            status=status,
            prompt_tokens=int(u.get("prompt_tokens") or u.get("input_tokens") or 0),
            completion_tokens=int(u.get("completion_tokens") or u.get("output_tokens") or 0),
            cached_tokens=int(details.get("cached_tokens") or 0) if isinstance(details, dict) else 0,
            latency_ms=elapsed * 1000.0,
            ttft_ms=ttft_ms,
            cost_usd=cost,
            estimated=estimated,
            stream=plan.stream,
            attempts=tuple(plan.tried),
            finding_counts=plan.signals.finding_counts(),
            overflow=(attempt.overflow_reason or "fallback") if attempt is not None and attempt.overflow else None,
            reason=plan.decision.reason,
            allowed_trust=trust_names(plan.decision.allowed_trust),
            decision_tier=plan.decision.tier,
            auto_routed=plan.signals.requested_model == "auto",
            fail_closed=plan.signals.detector_error is not None,
            prompt=prompt,
            payload=payload,
        )
        if self.admission is not None and plan.ticket is not None:
            self.admission.settle(plan, plan.ticket, rec)  # idempotent: the ticket keeps its headers
        for obs in self.observers:
            obs.observe(rec)
        return rec

    async def durable(self) -> None:
        """Returns once observers that persist (the audit trail) hold every record handed over so far."""
        for obs in self.observers:
            wait = getattr(obs, "durable", None)
            if wait is not None:
                await wait()

    async def aclose(self) -> None:
        for b in self.backends.values():
            await b.aclose()


@dataclass(slots=True)
class _Sequence:
    """Where one request's attempt sequence stands (see `Pipeline._sequence`)."""

    plan: Plan
    cfg: RetryConfig
    tried: set[str] = field(default_factory=set)
    last_retry_after: float | None = None
    i: int = 0
    n: int = 0


def _call(backend: Backend, req: UpstreamRequest) -> Awaitable[UpstreamResponse]:
    return backend.call(req)


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


_TRUST_NAMES: dict[frozenset[Trust], tuple[str, ...]] = {}  # one entry per boundary the policy can draw


def trust_names(allowed: frozenset[Trust]) -> tuple[str, ...]:
    """The boundary's labels, sorted; computed once per distinct boundary."""
    names = _TRUST_NAMES.get(allowed)
    if names is None:
        names = _TRUST_NAMES[allowed] = tuple(sorted(t.value for t in allowed))
    return names


# Records built on every request, by frozen.maker: `_new_usage_record(...)` is `UsageRecord(...)`, cheaper.
_new_usage_record = maker(UsageRecord)
_new_attempt_record = maker(AttemptRecord)
_NO_SLO = SloConfig()  # frozen; built once rather than per request


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0
