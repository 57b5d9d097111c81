from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from hybridgate.errors import ConfigError, GatewayError
from hybridgate.router import artifact
from hybridgate.router.artifact import ArtifactError, RouterArtifact
from hybridgate.router.features import FEATURE_NAMES
from hybridgate.router.model import TopicPrior


def test_round_trip(tmp_path: Path, tiny_artifact: RouterArtifact) -> None:
    path = tmp_path / "a.hgr"
    artifact.save(tiny_artifact, path)
    back = artifact.load(path)
    assert back.vocab == tiny_artifact.vocab
    assert np.array_equal(back.table, tiny_artifact.table)
    assert np.array_equal(back.weights, tiny_artifact.weights)
    assert back.bias == tiny_artifact.bias
    assert back.metadata == tiny_artifact.metadata


def test_same_artifact_same_bytes(tiny_artifact: RouterArtifact) -> None:
    blob = artifact.dumps(tiny_artifact)
    # A reloaded artifact serialises to the same bytes: nothing is lost or reordered in the round trip.
    assert artifact.dumps(artifact.loads(blob)) == blob


def test_checksum_mismatch_is_a_clear_config_error(tmp_path: Path, tiny_artifact: RouterArtifact) -> None:
    blob = bytearray(artifact.dumps(tiny_artifact))
    blob[-10] ^= 0xFF
    path = tmp_path / "bad.hgr"
    path.write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="checksum mismatch") as info:
        artifact.load(path)
    assert isinstance(info.value, ConfigError) and isinstance(info.value, GatewayError)


def test_missing_artifact_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="not found"):
        artifact.load(tmp_path / "nope.hgr")


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"not an artifact at all", "not a hybridgate router artifact"),
        (artifact.MAGIC + (10**6).to_bytes(8, "big") + b"{}", "truncated header"),
        (artifact.MAGIC + (2).to_bytes(8, "big") + b"{}", "artifact format None"),
        (artifact.MAGIC + (3).to_bytes(8, "big") + b"{x}", "unreadable header"),
    ],
)
def test_malformed_files(blob: bytes, message: str) -> None:
    with pytest.raises(ArtifactError, match=message):
        artifact.loads(blob)


def test_feature_set_drift_is_refused(tiny_artifact: RouterArtifact) -> None:
    blob = artifact.dumps(tiny_artifact).replace(b'"log_chars"', b'"log_charz"')
    with pytest.raises(ArtifactError, match="retrain"):
        artifact.loads(blob)


def test_shipped_artifact_is_small_verified_and_licence_clean() -> None:
    path = artifact.default_path()
    assert path.stat().st_size < 5 * 2**20
    meta = artifact.load(path).metadata
    assert meta["licence_clean"] is True
    assert all(f["file"].startswith("routellm_") for f in meta["training_files"])


def _with_prior(a: RouterArtifact, start: int | None = None) -> RouterArtifact:
    prior = TopicPrior(
        centroids=np.array([[1.0, 0.0], [0.0, 1.0], [-1.0, 0.0]]),
        gains=np.array([0.1, -0.05, 0.0]),
        tau=0.1,
        weight=1.0,
        start=len(FEATURE_NAMES) if start is None else start,
    )
    return dataclasses.replace(a, prior=prior)


def test_round_trip_keeps_the_topic_prior(tiny_artifact: RouterArtifact) -> None:
    a = _with_prior(tiny_artifact)
    back = artifact.loads(artifact.dumps(a))
    assert back.prior is not None and a.prior is not None
    np.testing.assert_array_equal(back.prior.centroids, a.prior.centroids)
    np.testing.assert_array_equal(back.prior.gains, a.prior.gains)
    assert (back.prior.tau, back.prior.weight, back.prior.start) == (0.1, 1.0, len(FEATURE_NAMES))
    assert artifact.loads(artifact.dumps(tiny_artifact)).prior is None


def test_format_1_artifacts_still_load(tiny_artifact: RouterArtifact, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(artifact, "FORMAT", 1)
    blob = artifact.dumps(tiny_artifact)
    assert b'"format": 1' in blob
    monkeypatch.undo()
    assert artifact.loads(blob).prior is None


def test_a_prior_that_does_not_fit_the_feature_layout_is_refused(tiny_artifact: RouterArtifact) -> None:
    with pytest.raises(ArtifactError, match="topic prior"):
        artifact.loads(artifact.dumps(_with_prior(tiny_artifact, start=3)))
