"""`matches` stops at the first failing condition; it must agree with evaluating every condition."""

from __future__ import annotations

import math
import re

from hypothesis import given, settings
from hypothesis import strategies as st

from hybridgate.auth.principal import Principal
from hybridgate.detect.findings import Finding
from hybridgate.detect.signals import Hints, Signals
from hybridgate.labels import DataClass
from hybridgate.policy.decide import matches
from hybridgate.policy.model import Rule
from hybridgate.settings import RuleWhen


def every_condition(rule: Rule, s: Signals, principal: Principal) -> bool:
    """The form `matches` had: all conditions evaluated, then all()."""
    w = rule.when
    checks = (
        w.data_class_at_least is None or s.data_class.rank >= w.data_class_at_least.rank,
        w.finding_types is None or any(f.type in w.finding_types for f in s.findings),
        w.complexity_above is None or (s.complexity is not None and s.complexity >= w.complexity_above),
        w.complexity_below is None or (s.complexity is not None and s.complexity < w.complexity_below),
        w.volume is None or s.hints.volume == w.volume,
        w.latency_budget is None or s.hints.latency_budget == w.latency_budget,
        w.purpose_matches is None
        or (
            s.hints.purpose is not None
            and rule.purpose_re is not None
            and rule.purpose_re.search(s.hints.purpose) is not None
        ),
        w.model is None or s.requested_model in w.model,
        w.team is None or principal.team in w.team,
        w.detector_error is None or (s.detector_error is not None) == w.detector_error,
    )
    return all(checks)


def maybe(values: st.SearchStrategy) -> st.SearchStrategy:  # type: ignore[type-arg]
    return st.one_of(st.none(), st.none(), values)  # mostly unset, so that whole rules match often


CLASSES = st.sampled_from(list(DataClass))
SCORES = st.sampled_from([0.0, 0.2, 0.5, 0.8, 1.0])
WHEN = st.builds(
    RuleWhen,
    data_class_at_least=maybe(CLASSES),
    finding_types=maybe(st.lists(st.sampled_from(["EMAIL_ADDRESS", "SECRET"]), max_size=2)),
    complexity_above=maybe(SCORES),
    complexity_below=maybe(SCORES),
    volume=maybe(st.sampled_from(["normal", "high"])),
    latency_budget=maybe(st.sampled_from(["interactive", "relaxed"])),
    purpose_matches=maybe(st.sampled_from(["^eval", "support"])),
    model=maybe(st.lists(st.sampled_from(["auto", "m1", "m2"]), max_size=2)),
    team=maybe(st.lists(st.sampled_from(["a", "b"]), max_size=2)),
    detector_error=maybe(st.booleans()),
)
SIGNALS = st.builds(
    Signals,
    data_class=CLASSES,
    findings=st.lists(st.sampled_from(["EMAIL_ADDRESS", "US_SSN"]).map(lambda t: Finding(t, 0, 1)), max_size=2).map(
        tuple
    ),
    complexity=maybe(st.one_of(SCORES, st.just(math.nan))),
    hints=st.builds(
        Hints,
        volume=maybe(st.sampled_from(["normal", "high"])),
        latency_budget=maybe(st.sampled_from(["interactive", "relaxed"])),
        purpose=maybe(st.sampled_from(["eval run", "customer support", "other"])),
    ),
    requested_model=st.sampled_from(["auto", "m1", "m3"]),
    detector_error=maybe(st.just("detector error: ValueError")),
)


@settings(max_examples=500, deadline=None)
@given(WHEN, SIGNALS, maybe(st.sampled_from(["a", "b", "c"])))
def test_matches_agrees_with_every_condition(when: RuleWhen, s: Signals, team: str | None) -> None:
    rule = Rule("r", when, "route", "t", "why", re.compile(when.purpose_matches) if when.purpose_matches else None)
    principal = Principal(key_id="k", name="k", team=team)
    assert matches(rule, s, principal) == every_condition(rule, s, principal)


def test_a_nan_score_matches_neither_bound() -> None:
    s = Signals(DataClass.PUBLIC, complexity=math.nan)
    for when in (RuleWhen(complexity_above=0.5), RuleWhen(complexity_below=0.5)):
        rule = Rule("r", when, "route", "t", "why")
        assert matches(rule, s, Principal(key_id=None, name="a")) is False
        assert every_condition(rule, s, Principal(key_id=None, name="a")) is False
