"""Feedback on a served request: the payload rules, the stored row, and the training label.

    POST /v1/feedback  {"request_id": "hg-…", "score": 0.2}
                       {"request_id": "hg-…", "preferred_tier": "frontier", "comment": "…"}

A `comment` is validated and then dropped: the gateway has no prompt capture, so it stores no
free text a user typed (a comment often quotes the prompt).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from hybridgate.errors import BadRequest

MAX_ID = 128
MAX_COMMENT = 4000
LABEL_RULE = (
    "1 (the weak model failed) when preferred_tier is the frontier tier, or a score < 0.5 on a request "
    "another tier served; 0 for any other preferred tier, or a score >= 0.5 on a non-frontier tier; "
    "a score on a frontier-served request says nothing about the weak model and is not used"
)


@dataclass(frozen=True, slots=True)
class FeedbackInput:
    request_id: str
    score: float | None
    preferred_tier: str | None


@dataclass(frozen=True, slots=True)
class FeedbackRow:
    request_id: str
    received_at: float
    request_ts: float
    key_id: str | None
    tier: str | None  # the tier that served the request
    model: str | None
    auto: bool
    score: float | None
    preferred_tier: str | None
    feature_space: str | None
    features: npt.NDArray[np.float32] | None


def _bad(message: str, param: str | None = None, code: str = "invalid_feedback") -> BadRequest:
    return BadRequest(message, param=param, code=code)


def _score(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _bad(f"'score' must be a number between 0 and 1, got {type(value).__name__}", "score")
    if not 0.0 <= value <= 1.0:
        raise _bad(f"'score' must be between 0 and 1, got {value}", "score", "score_out_of_range")
    return float(value)


def _tier(value: Any, tiers: Collection[str]) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or value not in tiers:
        known = ", ".join(sorted(tiers))
        raise _bad(f"'preferred_tier' must be one of the configured tiers ({known})", "preferred_tier", "unknown_tier")
    return value


def parse_feedback(body: Mapping[str, Any], tiers: Collection[str]) -> FeedbackInput:
    """Raises BadRequest (400) for anything the endpoint cannot store."""
    rid = body.get("request_id")
    if not isinstance(rid, str) or not 0 < len(rid) <= MAX_ID:
        raise _bad(
            "'request_id' must be the x-hybridgate-request-id of a request (a string)", "request_id", "invalid_type"
        )
    comment = body.get("comment")
    if comment is not None and (not isinstance(comment, str) or len(comment) > MAX_COMMENT):
        raise _bad(f"'comment' must be a string of at most {MAX_COMMENT} characters", "comment")
    score, tier = _score(body.get("score")), _tier(body.get("preferred_tier"), tiers)
    if score is None and tier is None:
        raise _bad("feedback needs a 'score' (0..1) or a 'preferred_tier'", None, "missing_feedback")
    return FeedbackInput(rid, score, tier)


def label(row: FeedbackRow, frontier_tier: str) -> float | None:
    """The training target, P(weak model fails) in {0, 1}; None when the row says nothing about it."""
    if row.preferred_tier is not None:
        return 1.0 if row.preferred_tier == frontier_tier else 0.0
    if row.score is None or row.tier is None or row.tier == frontier_tier:
        return None
    return 1.0 if row.score < 0.5 else 0.0
