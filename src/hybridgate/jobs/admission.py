"""Ties the pure scheduler to the live gateway: the decision a job would get, and the tier's load.

The decision is computed the way Pipeline.plan computes it (auth, hints, detection, policy) but
without selecting or waiting, so a busy tier defers a job instead of parking it in the interactive
waiting room. The job itself is then run through Pipeline.plan -> call, which re-decides and checks
the egress boundary on every attempt: this module can only hold work back, never widen where it goes.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable

from hybridgate.auth.authenticator import presented
from hybridgate.detect.hints import merge_defaults, parse_hints
from hybridgate.jobs.config import JobsConfig
from hybridgate.jobs.model import Job
from hybridgate.jobs.schedule import Admission, JobTiming, admit, spare_slots
from hybridgate.pipeline import Pipeline
from hybridgate.policy.decide import Decision, decide
from hybridgate.routing.select import candidate_groups


class Hold:
    """A reserved slot on the primary tier, released (once) when the job's call starts or ends."""

    def __init__(self, reserved: Counter[str], names: tuple[str, ...]) -> None:
        self._reserved, self._names = reserved, names
        reserved.update(names)

    def release(self) -> None:
        self._reserved.subtract(self._names)
        self._names = ()


class Admitter:
    def __init__(self, pipeline: Pipeline, cfg: JobsConfig, clock: Callable[[], float] = time.time) -> None:
        self.pipeline = pipeline
        self.cfg = cfg
        self.clock = clock
        self.reserved: Counter[str] = Counter()  # admitted, not yet started: counted against spare slots

    async def decision(self, job: Job) -> Decision:
        p = self.pipeline
        principal = await p.auth.authenticate(presented(job.headers))
        hints = merge_defaults(parse_hints(job.headers, job.body), principal.default_hints)
        signals = p.detection.run(job.body, hints, principal, job.body.get("model", "auto"))
        return decide(signals, principal, p.policy, p.topo)

    def groups(self, d: Decision) -> tuple[tuple[str, ...], bool]:
        """(primary endpoints inside the boundary, whether any other allowed tier could take it)."""
        topo = self.pipeline.topo
        if d.action == "deny":
            return (), False
        groups = [tuple(n for n in names if topo.endpoints[n].trust in d.allowed_trust)
                  for _, names in candidate_groups(d, topo)]  # fmt: skip
        if not groups:
            return (), False
        overflow_ok = d.tier is not None and topo.tiers[d.tier].overflow
        others = {n for g in groups[1:] for n in g} - set(groups[0])
        return groups[0], overflow_ok and bool(others)

    async def admit(self, job: Job) -> tuple[Admission, Hold]:
        d = await self.decision(job)
        if d.action == "deny":  # let the pipeline produce the 403 for the job's result
            return Admission("run", "primary", "denied by policy"), Hold(self.reserved, ())
        primary, can_overflow = self.groups(d)
        snap = self.pipeline.health.snapshot()
        spare = spare_slots(primary, snap, self.cfg.reserve_ratio) - sum(self.reserved[n] for n in primary)
        timing = JobTiming(self.clock(), job.deadline, self.cfg.overflow_margin_s, self._wait_s())
        verdict = admit(
            timing, primary_spare=spare, can_overflow=can_overflow, overflow_on_deadline=self.cfg.overflow_on_deadline
        )
        if verdict.action == "run" and verdict.group == "primary":
            return verdict, Hold(self.reserved, primary[:1])  # one slot, charged to the tier's first endpoint
        return verdict, Hold(self.reserved, ())

    def _wait_s(self) -> float:
        return max(self.cfg.poll_interval_s, 0.5)
