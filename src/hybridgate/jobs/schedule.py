"""When may a queued job run, and where? Pure decisions over a health snapshot; the clock is passed in.

Batch work soaks up idle capacity: a job runs on its primary tier only while that tier has spare
slots beyond a reserve kept for interactive traffic, and only on endpoints that are healthy, closed
and not predicting an SLO miss. A job that would otherwise miss its deadline may overflow to another
tier, but only where the decision's boundary and the tier's overflow setting allow it; otherwise it
waits, and past its deadline it expires. It never leaves its boundary to meet a deadline.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from hybridgate.routing.select import Snapshot


@dataclass(frozen=True, slots=True)
class Admission:
    action: Literal["run", "wait", "expire"]
    group: Literal["primary", "overflow"] | None = None
    reason: str = ""
    delay_s: float = 0.0


def spare_slots(names: Iterable[str], snap: Snapshot, reserve_ratio: float) -> int:
    """Slots a batch job may take now: below each endpoint's limit minus the interactive reserve."""
    total = 0
    for n in names:
        st = snap.state(n)
        if not st.healthy or st.breaker == "open" or st.overloaded:
            continue
        # half-open admits one trial request at a time; a batch job is a fine, unhurried trial
        usable = 1 if st.breaker == "half_open" else math.floor(st.max_in_flight * (1.0 - reserve_ratio))
        total += max(0, usable - st.in_flight)
    return total


@dataclass(frozen=True, slots=True)
class JobTiming:
    now: float
    deadline: float
    overflow_margin_s: float
    wait_s: float  # how long to wait before asking again


def admit(timing: JobTiming, *, primary_spare: int, can_overflow: bool, overflow_on_deadline: bool) -> Admission:
    if primary_spare > 0:
        return Admission("run", "primary", "spare capacity on the primary tier")
    if timing.now >= timing.deadline:
        return Admission("expire", None, "deadline passed without capacity inside the request's boundary")
    at_risk = timing.now >= timing.deadline - timing.overflow_margin_s
    if at_risk and overflow_on_deadline and can_overflow:
        return Admission("run", "overflow", "deadline at risk; overflow allowed by policy and boundary")
    return Admission("wait", None, "primary tier busy", timing.wait_s)
