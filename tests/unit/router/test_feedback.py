"""Feedback payload rules, the training label, the recent-features map and the share counter."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from hybridgate.auth.principal import ANONYMOUS, Principal
from hybridgate.detect.signals import Signals
from hybridgate.errors import BadRequest
from hybridgate.labels import DataClass
from hybridgate.router.feedback import FeedbackInput, FeedbackRow, label, parse_feedback
from hybridgate.router.recent import RecentRequests
from hybridgate.router.share import ShareCounter
from hybridgate.store.records import UsageRecord
from tests.fakes.usage import usage_record

TIERS = ("self_hosted", "frontier")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"request_id": "hg-1", "score": 0.2}, FeedbackInput("hg-1", 0.2, None)),
        ({"request_id": "hg-1", "score": 0}, FeedbackInput("hg-1", 0.0, None)),
        ({"request_id": "hg-1", "score": 1}, FeedbackInput("hg-1", 1.0, None)),
        ({"request_id": "hg-1", "preferred_tier": "frontier"}, FeedbackInput("hg-1", None, "frontier")),
        (
            {"request_id": "hg-1", "score": 0.9, "preferred_tier": "self_hosted", "comment": "fine", "x": 1},
            FeedbackInput("hg-1", 0.9, "self_hosted"),
        ),
    ],
)
def test_valid_feedback_parses(body: dict[str, Any], expected: FeedbackInput) -> None:
    assert parse_feedback(body, TIERS) == expected


@pytest.mark.parametrize(
    ("body", "code", "param"),
    [
        ({"score": 0.5}, "invalid_type", "request_id"),
        ({"request_id": "", "score": 0.5}, "invalid_type", "request_id"),
        ({"request_id": 7, "score": 0.5}, "invalid_type", "request_id"),
        ({"request_id": "x" * 129, "score": 0.5}, "invalid_type", "request_id"),
        ({"request_id": "hg-1"}, "missing_feedback", None),
        ({"request_id": "hg-1", "score": 1.5}, "score_out_of_range", "score"),
        ({"request_id": "hg-1", "score": -0.01}, "score_out_of_range", "score"),
        ({"request_id": "hg-1", "score": True}, "invalid_feedback", "score"),
        ({"request_id": "hg-1", "score": "0.5"}, "invalid_feedback", "score"),
        ({"request_id": "hg-1", "score": math.nan}, "invalid_feedback", "score"),
        ({"request_id": "hg-1", "preferred_tier": "gpt-5"}, "unknown_tier", "preferred_tier"),
        ({"request_id": "hg-1", "preferred_tier": 1}, "unknown_tier", "preferred_tier"),
        ({"request_id": "hg-1", "score": 0.5, "comment": 3}, "invalid_feedback", "comment"),
        ({"request_id": "hg-1", "score": 0.5, "comment": "x" * 4001}, "invalid_feedback", "comment"),
    ],
)
def test_invalid_feedback_is_a_400(body: dict[str, Any], code: str, param: str | None) -> None:
    with pytest.raises(BadRequest) as exc:
        parse_feedback(body, TIERS)
    assert exc.value.status == 400
    assert (exc.value.code, exc.value.param) == (code, param)


def _row(tier: str | None, score: float | None = None, preferred: str | None = None) -> FeedbackRow:
    return FeedbackRow("hg-1", 1.0, 0.5, None, tier, None, True, score, preferred, "fs", np.zeros(3, np.float32))


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (_row("self_hosted", preferred="frontier"), 1.0),
        (_row("frontier", preferred="frontier"), 1.0),
        (_row("frontier", preferred="self_hosted"), 0.0),
        (_row("self_hosted", score=0.2), 1.0),
        (_row("self_hosted", score=0.5), 0.0),
        (_row("self_hosted", score=0.9), 0.0),
        (_row("self_hosted", score=0.9, preferred="frontier"), 1.0),  # an explicit preference wins
        (_row("frontier", score=0.1), None),  # says nothing about the weak model
        (_row("frontier", score=0.9), None),
        (_row(None, score=0.1), None),  # the request failed: nothing was judged
    ],
)
def test_label(row: FeedbackRow, expected: float | None) -> None:
    assert label(row, "frontier") == expected


class VectorScorer:
    name = "vec"

    def __init__(self) -> None:
        self.last_vector: np.ndarray[Any, Any] | None = None
        self.feature_space = "space-1"

    def score(self, messages: Any, *, tools: bool = False) -> float:
        self.last_vector = np.array([len(messages)], dtype=np.float32)
        return 0.5


def _signals(complexity: float | None) -> Signals:
    return Signals(DataClass.PUBLIC, complexity=complexity)


def _rec(rid: str, **kw: Any) -> UsageRecord:
    base: dict[str, Any] = dict(
        request_id=rid,
        endpoint="local",
        auto_routed=True,
        allowed_trust=("external", "self_hosted"),
    )
    return usage_record(**{**base, **kw})


def test_recent_keeps_the_scored_vector_and_the_served_tier() -> None:
    scorer = VectorScorer()
    recent = RecentRequests(scorer, clock=lambda: 42.0)
    scorer.score([1, 2, 3])
    recent.capture("hg-a", Principal(key_id="k1", name="k1"), _signals(0.5))
    seen = recent.get("hg-a")
    assert seen is not None and seen.vector is not None
    assert (seen.key_id, seen.ts, seen.feature_space, float(seen.vector[0]), seen.tier) == (
        "k1",
        42.0,
        "space-1",
        3.0,
        None,
    )
    recent.observe(_rec("hg-a", tier="frontier", model="gpt"))
    seen = recent.get("hg-a")
    assert seen is not None and seen.vector is not None and float(seen.vector[0]) == 3.0
    assert (seen.tier, seen.model, seen.auto, seen.status) == ("frontier", "gpt", True, 200)


def test_recent_takes_no_vector_for_an_unscored_request() -> None:
    scorer = VectorScorer()
    recent = RecentRequests(scorer)
    scorer.score([1])  # an earlier request's vector must not be attached to this one
    recent.capture("hg-b", ANONYMOUS, _signals(None))
    seen = recent.get("hg-b")
    assert seen is not None and seen.vector is None


def test_recent_failed_request_has_no_served_tier() -> None:
    recent = RecentRequests(None)
    recent.capture("hg-c", ANONYMOUS, _signals(None))
    recent.observe(_rec("hg-c", endpoint=None, status=503))
    seen = recent.get("hg-c")
    assert seen is not None and (seen.tier, seen.status) == (None, 503)


def test_recent_is_a_bounded_lru() -> None:
    recent = RecentRequests(None, capacity=3)
    for i in range(5):
        recent.capture(f"hg-{i}", ANONYMOUS, _signals(None))
    assert len(recent) == 3
    assert recent.get("hg-0") is None and recent.get("hg-1") is None
    assert recent.get("hg-4") is not None
    recent.observe(_rec("hg-unknown"))  # unknown ids are ignored, not added
    assert len(recent) == 3
    for i in range(2, 5):  # the survivors keep their own slots' values after the ring wrapped
        recent.observe(_rec(f"hg-{i}", status=200 + i))
    assert [s.status for s in map(recent.get, ("hg-2", "hg-3", "hg-4")) if s] == [202, 203, 204]


def test_share_counter_counts_auto_traffic_by_tier() -> None:
    share = ShareCounter("frontier", 0.3, frozenset({"external"}), window=2)
    records = [
        _rec("1", tier="frontier"),
        _rec("2"),
        _rec("3", allowed_trust=("self_hosted",)),  # sensitive: frontier not allowed, not eligible
        _rec("4", auto_routed=False, tier="frontier"),  # explicit model: not counted
        _rec("5", endpoint=None, status=503),  # failed: not counted
        _rec("6", tier="frontier"),
    ]
    for r in records:
        share.observe(r)
    snap = share.snapshot()
    assert (snap["auto_requests"], snap["frontier_requests"]) == (4, 2)
    assert snap["realised_share"] == pytest.approx(0.5)
    assert (snap["eligible_requests"], snap["eligible_share"]) == (3, pytest.approx(2 / 3))
    assert (snap["recent_window"], snap["recent_share"]) == (2, pytest.approx(0.5))  # "2" and "6"
    assert snap["target_share"] == 0.3


def test_share_counter_empty_has_no_share() -> None:
    snap = ShareCounter(None, None).snapshot()
    assert snap["realised_share"] is None and snap["recent_share"] is None
