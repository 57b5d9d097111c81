"""The scheduler's pure decisions, table-driven."""

from __future__ import annotations

import pytest

from hybridgate.jobs.schedule import JobTiming, admit, spare_slots
from hybridgate.routing.select import EndpointState, Snapshot

NOW = 1_000.0


def timing(deadline_in: float, margin: float = 60.0) -> JobTiming:
    return JobTiming(NOW, NOW + deadline_in, margin, 0.5)


@pytest.mark.parametrize(
    ("spare", "deadline_in", "can_overflow", "allowed", "want"),
    [
        (3, 3600, False, True, ("run", "primary")),  # idle capacity: run where the policy wants it
        (0, 3600, True, True, ("wait", None)),  # busy, deadline far: wait for an idle gap
        (0, 30, True, True, ("run", "overflow")),  # busy, deadline at risk, overflow allowed
        (0, 30, False, True, ("wait", None)),  # at risk but boundary/tier forbids overflow: wait
        (0, 30, True, False, ("wait", None)),  # at risk but overflow_on_deadline off: wait
        (0, -1, False, True, ("expire", None)),  # sensitive past its deadline: expire, never egress
        (0, -1, True, True, ("expire", None)),  # past deadline: expire (overflow was the last chance)
        (2, -1, False, True, ("run", "primary")),  # late but capacity is here: still worth running
    ],
)
def test_admit(spare: int, deadline_in: float, can_overflow: bool, allowed: bool, want: tuple[str, str | None]) -> None:
    got = admit(timing(deadline_in), primary_spare=spare, can_overflow=can_overflow, overflow_on_deadline=allowed)
    assert (got.action, got.group) == want


def snap(**states: EndpointState) -> Snapshot:
    return Snapshot(states)


@pytest.mark.parametrize(
    ("state", "reserve", "want"),
    [
        (EndpointState(in_flight=0, max_in_flight=8), 0.25, 6),
        (EndpointState(in_flight=5, max_in_flight=8), 0.25, 1),
        (EndpointState(in_flight=6, max_in_flight=8), 0.25, 0),  # only the interactive reserve is left
        (EndpointState(in_flight=8, max_in_flight=8), 0.0, 0),
        (EndpointState(in_flight=0, max_in_flight=8, overloaded=True), 0.25, 0),  # load predicts an SLO miss
        (EndpointState(in_flight=0, max_in_flight=8, healthy=False), 0.25, 0),
        (EndpointState(in_flight=0, max_in_flight=8, breaker="half_open"), 0.25, 1),  # the one trial
        (EndpointState(in_flight=1, max_in_flight=8, breaker="half_open"), 0.25, 0),
        (EndpointState(in_flight=0, max_in_flight=8, breaker="open"), 0.25, 0),
    ],
)
def test_spare_slots(state: EndpointState, reserve: float, want: int) -> None:
    assert spare_slots(["a"], snap(a=state), reserve) == want


def test_spare_slots_adds_endpoints_of_a_tier() -> None:
    s = snap(a=EndpointState(in_flight=1, max_in_flight=4), b=EndpointState(in_flight=0, max_in_flight=4))
    assert spare_slots(["a", "b"], s, 0.0) == 3 + 4
