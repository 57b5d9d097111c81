"""POST /v1/feedback and GET /v1/router/stats on a running gateway; retraining from the feedback store."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from hybridgate.app import Overrides
from hybridgate.commands.router import router_app
from hybridgate.commands.router_store import EXIT_NOT_REGISTERED
from hybridgate.detect.complexity import LearnedScorer, feature_space
from hybridgate.detect.complexity_base import FixedScorer
from hybridgate.router import artifact, registry
from hybridgate.router.feedback import FeedbackRow
from hybridgate.router.feedback_store import open_store
from tests.conftest import Gateway, GatewayFactory
from tests.integration.access_helpers import access_config, bearer, create_key
from tests.unit.router.conftest import make_artifact
from tests.unit.router.synthetic_feedback import make_rows

CHAT = {"model": "auto", "messages": [{"role": "user", "content": "an easy question, please"}], "max_tokens": 5}


def chat(gw: Gateway, headers: dict[str, str] | None = None) -> str:
    r = httpx.post(gw.url + "/v1/chat/completions", json=CHAT, headers=headers or {}, timeout=10)
    assert r.status_code == 200, r.text
    return r.headers["x-hybridgate-request-id"]


def feedback(gw: Gateway, body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
    kw: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    return httpx.post(gw.url + "/v1/feedback", headers=headers or {}, timeout=10, **kw)


def stored() -> list[FeedbackRow]:
    async def rows() -> list[FeedbackRow]:
        store = open_store()
        try:
            return await store.rows()
        finally:
            await store.aclose()

    return asyncio.run(rows())


def error(r: httpx.Response, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    err: dict[str, Any] = r.json()["error"]
    assert set(err) == {"message", "type", "param", "code"} and r.headers["x-hybridgate-request-id"]
    return err


@pytest.fixture
def learned(make_gateway: GatewayFactory) -> Gateway:
    return make_gateway(overrides=Overrides(scorer=LearnedScorer(make_artifact())))


def test_feedback_is_stored_with_the_request_features(learned: Gateway) -> None:
    rid = chat(learned)
    r = feedback(learned, {"request_id": rid, "score": 0.2, "comment": "it said: an easy question, please"})
    assert r.status_code == 200, r.text
    assert r.json() == {
        "object": "feedback",
        "request_id": rid,
        "stored": True,
        "served_tier": "self_hosted",
        "trainable": True,
    }
    (row,) = stored()
    assert (row.request_id, row.tier, row.model, row.score, row.auto) == (rid, "self_hosted", "llama-3-8b", 0.2, True)
    assert row.features is not None and row.features.shape == (30,)  # 28 form features + 2-d embedding
    assert row.feature_space == feature_space(make_artifact())
    path = open_store().path
    files = [f for f in path.parent.iterdir() if f.name.startswith(path.name)]  # the db and its WAL
    assert files and rid.encode() in b"".join(f.read_bytes() for f in files)  # the check below can fail
    for f in files:
        assert b"easy question" not in f.read_bytes() and b"it said" not in f.read_bytes()


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"request_id": "hg-000000000000000000000000", "score": 0.5}, 404, "unknown_request_id"),
        ({"request_id": "{rid}", "score": 1.5}, 400, "score_out_of_range"),
        ({"request_id": "{rid}", "score": -1}, 400, "score_out_of_range"),
        ({"request_id": "{rid}", "preferred_tier": "mars"}, 400, "unknown_tier"),
        ({"request_id": "{rid}"}, 400, "missing_feedback"),
        (b"{not json", 400, "invalid_json"),
        (b"[1]", 400, "invalid_type"),
        (b'{"request_id": "x", "comment": "' + b"a" * 70_000 + b'"}', 413, "request_too_large"),
    ],
)
def test_bad_feedback_is_4xx_and_stores_nothing(learned: Gateway, body: Any, status: int, code: str) -> None:
    rid = chat(learned)
    if isinstance(body, dict):
        body = {k: (rid if v == "{rid}" else v) for k, v in body.items()}
    assert error(feedback(learned, body), status)["code"] == code
    assert stored() == []


def test_only_the_key_that_made_a_request_may_rate_it(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(access_config, Overrides(scorer=LearnedScorer(make_artifact())))
    alice, _ = create_key(gw.url)
    mallory, _ = create_key(gw.url)
    rid = chat(gw, bearer(alice))
    assert error(feedback(gw, {"request_id": rid, "score": 0.1}), 401)["type"] == "authentication_error"
    assert error(feedback(gw, {"request_id": rid, "score": 0.1}, bearer(mallory)), 404)["code"] == "unknown_request_id"
    assert feedback(gw, {"request_id": rid, "preferred_tier": "frontier"}, bearer(alice)).status_code == 200
    (row,) = stored()
    assert row.key_id is not None and row.preferred_tier == "frontier"


def test_router_stats_show_the_realised_frontier_share(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(overrides=Overrides(scorer=FixedScorer(0.99)))  # above the default 0.7 threshold
    chat(gw)
    chat(gw)
    r = httpx.get(gw.url + "/v1/router/stats", timeout=10)
    assert r.status_code == 200, r.text
    s = r.json()
    assert (s["scorer"], s["frontier_tier"], s["auto_requests"], s["frontier_requests"]) == ("fixed", "frontier", 2, 2)
    assert s["realised_share"] == 1.0 and s["eligible_share"] == 1.0
    assert s["target_share"] is None  # a raw threshold, not a calibrated share
    assert s["feedback"]["tracked_requests"] == 2
    metrics = httpx.get(gw.url + "/metrics", timeout=10).text
    assert 'hybridgate_router_auto_requests_total{tier="frontier"}' in metrics


def test_feedback_counter_is_exported(learned: Gateway) -> None:
    rid = chat(learned)
    assert feedback(learned, {"request_id": rid, "preferred_tier": "frontier"}).status_code == 200
    metrics = httpx.get(learned.url + "/metrics", timeout=10).text
    assert 'hybridgate_router_feedback_total{label="weak_failed"}' in metrics


# -- retraining from the store ---------------------------------------------------------------------
runner = CliRunner()


def fill_store(rows: list[FeedbackRow]) -> None:
    async def put() -> None:
        store = open_store()
        try:
            for row in rows:
                await store.put(row)
        finally:
            await store.aclose()

    asyncio.run(put())


def train(*args: str) -> Any:
    return runner.invoke(router_app, ["train", "--from-store", *args])


def test_retrain_from_store_registers_only_when_not_worse(tmp_path: Any) -> None:
    packaged = artifact.load_default()
    space, dim = feature_space(packaged), len(packaged.mean)
    fill_store(make_rows(400, dim, space, feature=0))
    out = tmp_path / "candidate.hgr"
    result = train("--out", str(out))
    assert result.exit_code == 0, result.output
    first = registry.read_pointer()
    assert first is not None and first.previous == "packaged"
    meta = artifact.load(out).metadata
    assert meta["source"] == "feedback" and meta["version"] == first.version
    assert meta["training_files"] == [{"file": "feedback store", "licence": "the organisation's own data"}]

    # New feedback that contradicts itself: the candidate learns the training rows' rule backwards.
    fill_store(make_rows(400, dim, space, feature=0, seed=1, flip_train=True))
    result = train()
    assert result.exit_code == EXIT_NOT_REGISTERED, result.output
    assert "not registered" in result.output
    assert registry.read_pointer() == first

    result = train("--force")
    assert result.exit_code == 0, result.output
    forced = registry.read_pointer()
    assert forced is not None and forced.version != first.version and forced.previous == first.version
    assert "(forced)" in result.output


def test_retrain_with_too_little_feedback_fails_clearly() -> None:
    fill_store(make_rows(5, 92, "other", feature=0))
    result = train()
    assert result.exit_code == 2
    assert "usable feedback rows" in result.output
    assert registry.read_pointer() is None


def test_retrain_reads_the_frontier_tier_from_config(tmp_path: Any) -> None:
    cfg = tmp_path / "gw.yaml"
    cfg.write_text(
        json.dumps(
            {
                "endpoints": [
                    {"name": "a", "kind": "mock", "trust": "self_hosted", "models": ["m"]},
                    {"name": "b", "kind": "mock", "trust": "external", "models": ["n"]},
                ],
                "tiers": {"local": {"endpoints": ["a"], "model": "m"}, "big": {"endpoints": ["b"], "model": "n"}},
                "policy": {"default_tier": "local", "frontier_tier": "big"},
            }
        )
    )
    packaged = artifact.load_default()
    rows = make_rows(300, len(packaged.mean), feature_space(packaged), feature=0)
    # Preferences only: they are labels only when "big" is known to be the frontier tier; read as
    # "frontier" (the default) every row would be 0, nothing could be ranked and nothing registered.
    prefs = [replace(r, score=None, preferred_tier="big" if r.score == 0.1 else "local") for r in rows]
    fill_store(prefs)
    assert train().exit_code == EXIT_NOT_REGISTERED
    result = train("--config", str(cfg))
    assert result.exit_code == 0, result.output


def test_train_needs_data_or_the_store() -> None:
    result = runner.invoke(router_app, ["train"])
    assert result.exit_code == 2 and "--from-store" in result.output
