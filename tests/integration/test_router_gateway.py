"""The complexity router inside the gateway: which artifact it loads, and how it fails.

A missing or corrupt artifact must not stop the gateway: it serves with the prompt-length scorer and
says so in /readyz. A registered (retrained) artifact is preferred to the packaged one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from hybridgate.detect.complexity_base import LengthScorer
from hybridgate.router import artifact, registry
from tests.conftest import Gateway, GatewayFactory, minimal_config
from tests.unit.router.conftest import make_artifact

MESSAGES = [{"role": "user", "content": "Prove that there are infinitely many primes, step by step."}]


def learned_config(self_url: str, ext_url: str) -> dict[str, Any]:
    return {**minimal_config(self_url, ext_url), "detection": {"complexity": "learned"}}


def readyz_notes(gw: Gateway) -> list[str]:
    notes: list[str] = httpx.get(gw.url + "/readyz", timeout=10).json()["notes"]
    return notes


def explain_complexity(gw: Gateway) -> float:
    r = httpx.post(gw.url + "/v1/route/explain", json={"model": "auto", "messages": MESSAGES}, timeout=10)
    assert r.status_code == 200, r.text
    value: float = r.json()["signals"]["complexity"]
    return value


def scorer_name(gw: Gateway) -> str:
    name: str = httpx.get(gw.url + "/v1/router/stats", timeout=10).json()["scorer"]
    return name


def serves(gw: Gateway) -> None:
    body = {"model": "auto", "messages": MESSAGES, "max_tokens": 5}
    r = httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=10)
    assert r.status_code == 200, r.text


def corrupt_copy(tmp_path: Path) -> Path:
    blob = bytearray(artifact.default_path().read_bytes())
    blob[-100] ^= 0xFF  # one payload byte: the header's sha256 no longer matches
    bad = tmp_path / "corrupt.hgr"
    bad.write_bytes(bytes(blob))
    return bad


def test_packaged_artifact_is_used_by_default(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(learned_config)
    assert scorer_name(gw).startswith("learned:complexity-v2")
    assert not any("complexity" in n or "router artifact" in n for n in readyz_notes(gw))


def test_corrupt_artifact_falls_back_to_prompt_length(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    bad = corrupt_copy(tmp_path)
    with pytest.raises(artifact.ArtifactError, match="checksum mismatch"):
        artifact.load(bad)  # the clear error the gateway reports
    monkeypatch.setattr(artifact, "default_path", lambda: bad)
    gw = make_gateway(learned_config)
    serves(gw)
    assert scorer_name(gw) == "length"
    assert explain_complexity(gw) == pytest.approx(LengthScorer().score(MESSAGES))
    (note,) = [n for n in readyz_notes(gw) if "complexity artifact unavailable" in n]
    assert "checksum mismatch" in note and "using prompt length" in note


def test_missing_artifact_falls_back_to_prompt_length(
    make_gateway: GatewayFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(artifact, "default_path", lambda: tmp_path / "gone.hgr")
    gw = make_gateway(learned_config)
    serves(gw)
    assert scorer_name(gw) == "length"
    assert any("not found" in n and "using prompt length" in n for n in readyz_notes(gw))


def test_registered_artifact_is_preferred(make_gateway: GatewayFactory) -> None:
    registry.register(make_artifact())
    gw = make_gateway(learned_config)
    serves(gw)
    assert scorer_name(gw) == "learned:test-1"
    assert "router artifact test-1 (registered from feedback)" in readyz_notes(gw)


def test_broken_registered_artifact_falls_back_to_the_packaged_one(make_gateway: GatewayFactory) -> None:
    entry = registry.register(make_artifact())
    entry.path.write_bytes(b"HGROUTER\n garbage")
    gw = make_gateway(learned_config)
    serves(gw)
    assert scorer_name(gw).startswith("learned:complexity-v2")
    assert any("registered router artifact unusable" in n for n in readyz_notes(gw))


def test_feedback_on_the_packaged_scorer_carries_its_feature_vector(make_gateway: GatewayFactory) -> None:
    gw = make_gateway(learned_config)
    body = {"model": "auto", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 5}
    rid = httpx.post(gw.url + "/v1/chat/completions", json=body, timeout=10).headers["x-hybridgate-request-id"]
    r = httpx.post(gw.url + "/v1/feedback", json={"request_id": rid, "score": 0.9}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.json()["trainable"] is True and r.json()["served_tier"] == "self_hosted"
