"""Accepting feedback: ownership, unknown ids, what gets stored (features, never the comment)."""

from __future__ import annotations

import numpy as np
import pytest

from hybridgate.auth.principal import ANONYMOUS, Principal
from hybridgate.detect.signals import Signals
from hybridgate.errors import AuthenticationError, NotFound
from hybridgate.labels import DataClass
from hybridgate.router.feedback_service import FeedbackService
from hybridgate.router.feedback_store import MemoryFeedbackStore
from hybridgate.router.recent import RecentRequests


class KeyAuth:
    """Bearer <key id> -> that principal; nothing -> 401."""

    async def authenticate(self, authorization: str | None) -> Principal:
        if not authorization:
            raise AuthenticationError("missing API key")
        key = authorization.removeprefix("Bearer ")
        return Principal(key_id=key, name=key)


class OneVector:
    name = "one"
    feature_space = "fs-1"
    last_vector = np.array([0.25, 0.5], dtype=np.float32)

    def score(self, messages: object, *, tools: bool = False) -> float:
        return 0.5


def _service() -> tuple[FeedbackService, MemoryFeedbackStore]:
    recent = RecentRequests(OneVector(), clock=lambda: 5.0)
    recent.capture("hg-mine", Principal(key_id="alice", name="alice"), Signals(DataClass.PUBLIC, complexity=0.5))
    recent.capture("hg-unscored", Principal(key_id="alice", name="alice"), Signals(DataClass.PUBLIC))
    store = MemoryFeedbackStore()
    return FeedbackService(recent, store, KeyAuth(), ("self_hosted", "frontier"), "frontier", clock=lambda: 9.0), store


async def test_owner_can_rate_and_the_row_carries_features_not_the_comment() -> None:
    svc, store = _service()
    body = {"request_id": "hg-mine", "preferred_tier": "frontier", "comment": "my prompt was: secret stuff"}
    out = await svc.submit(body, "Bearer alice")
    assert out == {
        "object": "feedback",
        "request_id": "hg-mine",
        "stored": True,
        "served_tier": None,
        "trainable": True,
    }
    (row,) = await store.rows()
    assert row.features is not None and row.features.tolist() == [0.25, 0.5]
    assert (row.key_id, row.request_ts, row.received_at, row.feature_space) == ("alice", 5.0, 9.0, "fs-1")
    assert "secret" not in repr(row)


async def test_someone_elses_request_looks_unknown() -> None:
    svc, store = _service()
    with pytest.raises(NotFound) as exc:
        await svc.submit({"request_id": "hg-mine", "score": 0.1}, "Bearer mallory")
    assert exc.value.code == "unknown_request_id"
    with pytest.raises(NotFound):
        await svc.submit({"request_id": "hg-never", "score": 0.1}, "Bearer alice")
    assert await store.rows() == []


async def test_anonymous_cannot_rate_a_keyed_request() -> None:
    svc, _ = _service()
    svc.auth = type("Open", (), {"authenticate": staticmethod(_anon)})()
    with pytest.raises(NotFound):
        await svc.submit({"request_id": "hg-mine", "score": 0.1}, None)


async def _anon(authorization: str | None) -> Principal:
    return ANONYMOUS


async def test_authentication_comes_first() -> None:
    svc, _ = _service()
    with pytest.raises(AuthenticationError):
        await svc.submit({"request_id": "hg-mine", "score": 7}, None)


async def test_unscored_request_is_stored_but_not_trainable() -> None:
    svc, store = _service()
    out = await svc.submit({"request_id": "hg-unscored", "score": 0.9}, "Bearer alice")
    assert out["trainable"] is False
    (row,) = await store.rows()
    assert row.features is None and row.feature_space is None
