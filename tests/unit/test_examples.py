"""Every config in deploy/examples/ validates (as `hybridgate check` does) and builds its backends offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridgate.backends.factory import build_backend
from hybridgate.cli import app
from hybridgate.settings import load_settings

EXAMPLES = Path(__file__).resolve().parents[2] / "deploy" / "examples"
FILES = sorted(EXAMPLES.glob("*.yaml"))
KEYS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GROQ_API_KEY", "AZURE_OPENAI_API_KEY")


@pytest.fixture(autouse=True)
def keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for k in KEYS:
        monkeypatch.setenv(k, "test-" + k.lower())


def test_every_provider_has_an_example() -> None:
    names = {f.stem for f in FILES}
    assert names >= {"vllm", "tgi", "ollama", "llamacpp-server", "openai", "anthropic", "gemini", "groq", "azure"}


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
async def test_example_loads_and_builds(path: Path) -> None:
    settings = load_settings(path)
    assert settings.policy.default_tier in settings.tiers
    for ep in settings.endpoints:
        backend = build_backend(ep)
        assert backend.name == ep.name and backend.trust == ep.trust
        await backend.aclose()


@pytest.mark.parametrize("path", FILES, ids=[f.stem for f in FILES])
def test_hybridgate_check_accepts_example(path: Path) -> None:
    result = CliRunner().invoke(app, ["check", "--config", str(path)])
    assert result.exit_code == 0, result.output
    assert "OK:" in result.output


def test_keys_come_from_the_environment() -> None:
    s = load_settings(EXAMPLES / "anthropic.yaml")
    assert s.endpoint("anthropic").api_key == "test-anthropic_api_key"
    azure = load_settings(EXAMPLES / "azure.yaml").endpoint("azure")
    assert azure.kind == "azure" and azure.api_version and azure.trust.value == "dedicated"
