"""The active-artifact registry and the scorer the gateway loads from it."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from hybridgate.detect.complexity import load_active_scorer
from hybridgate.router import artifact, registry
from hybridgate.router.artifact import ArtifactError, RouterArtifact
from hybridgate.store.paths import data_dir
from tests.unit.router.conftest import make_artifact


def test_nothing_registered_means_the_packaged_artifact() -> None:
    assert registry.read_pointer() is None
    notes: list[str] = []
    scorer = load_active_scorer(notes)
    assert scorer.name.startswith("learned:complexity-v2")
    assert notes == []


def test_registered_artifact_is_loaded_and_announced(tiny_artifact: RouterArtifact) -> None:
    entry = registry.register(tiny_artifact, clock=100.0)
    assert entry.path.parent == (data_dir() / "router").resolve()
    assert (entry.version, entry.previous, entry.registered_at) == ("test-1", "packaged", 100.0)
    notes: list[str] = []
    assert load_active_scorer(notes).name == "learned:test-1"
    assert notes == ["router artifact test-1 (registered from feedback)"]
    second = registry.register(_versioned("test-2"))
    assert second.previous == "test-1"
    _, where = registry.current()
    assert where == str(second.path)


def _versioned(version: str) -> RouterArtifact:
    a = make_artifact()
    return replace(a, metadata={**a.metadata, "version": version})


def test_replaced_file_is_refused_and_the_packaged_one_serves(tiny_artifact: RouterArtifact) -> None:
    entry = registry.register(tiny_artifact)
    artifact.save(make_artifact(hard_weight=-2.0), entry.path)  # a valid artifact, but not the registered one
    with pytest.raises(ArtifactError, match="differs from the artifact registered"):
        registry.load_active()
    notes: list[str] = []
    assert load_active_scorer(notes).name.startswith("learned:complexity-v2")
    assert "registered router artifact unusable" in notes[0]


def test_corrupt_registered_artifact_gives_a_checksum_error(tiny_artifact: RouterArtifact) -> None:
    entry = registry.register(tiny_artifact)
    blob = bytearray(entry.path.read_bytes())
    blob[-10] ^= 0xFF
    entry.path.write_bytes(bytes(blob))
    with pytest.raises(ArtifactError, match="checksum mismatch"):
        registry.load_active()


@pytest.mark.parametrize("content", ["not json", json.dumps({"path": "x"})])
def test_broken_pointer_is_an_artifact_error(content: str) -> None:
    (registry.registry_dir() / registry.POINTER).write_text(content)
    with pytest.raises(ArtifactError, match="pointer"):
        registry.load_active()


def test_missing_registered_file(tiny_artifact: RouterArtifact) -> None:
    entry = registry.register(tiny_artifact)
    entry.path.unlink()
    with pytest.raises(ArtifactError, match="not found"):
        registry.load_active()
