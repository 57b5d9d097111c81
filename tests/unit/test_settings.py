"""Config validation: the minimal file works, unknown keys and bad references are rejected with paths."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridgate.cli import app
from hybridgate.errors import ConfigError
from hybridgate.settings import interpolate, load_settings

MINIMAL = """
endpoints:
  - name: local-vllm
    kind: openai
    base_url: http://127.0.0.1:9101/v1
    trust: self_hosted
    models: [llama-3-8b]
  - name: openai
    kind: openai
    base_url: http://127.0.0.1:9102/v1
    api_key: ${OPENAI_API_KEY}
    trust: external
    models: [gpt-4o]
tiers:
  self_hosted: {endpoints: [local-vllm], model: llama-3-8b}
  frontier:    {endpoints: [openai], model: gpt-4o}
policy:
  default_tier: self_hosted
"""


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "hg.yaml"
    p.write_text(text)
    return p


def test_minimal_config_and_env_interpolation(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    s = load_settings(write(tmp_path, MINIMAL))
    assert s.endpoint("openai").api_key == "sk-secret"
    assert s.policy.default_tier == "self_hosted"


def test_interpolation_default() -> None:
    assert interpolate({"a": ["${HG_UNSET_VAR:-x}", "${HG_UNSET_VAR}"]}) == {"a": ["x", ""]}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: t + "bogus: 1\n", "bogus: unknown key"),
        (lambda t: t.replace("trust: external", "trust: everywhere"), "endpoints.1.trust"),
        (lambda t: t.replace("    models: [gpt-4o]\n", ""), "endpoints.1.models: required key is missing"),
        (lambda t: t.replace("default_tier: self_hosted", "default_tier: nowhere"), "unknown tier 'nowhere'"),
        (lambda t: t.replace("endpoints: [openai]", "endpoints: [ghost]"), "unknown endpoint 'ghost'"),
        (
            lambda t: t.replace("    kind: openai\n    base_url: http://127.0.0.1:9101/v1\n", "    kind: openai\n"),
            "needs base_url",
        ),
        (lambda t: t.replace("policy:\n", "policy:\n  rules: [{id: r1, action: route}]\n"), "needs a tier"),
        (lambda t: t.replace("policy:\n", "policy:\n  complexity_threshold: 3\n"), "policy.complexity_threshold"),
        (
            lambda t: t.replace(
                "policy:\n", "policy:\n  rules: [{id: r, tier: frontier, when: {purpose_matches: '('}}]\n"
            ),
            "not a regular expression",
        ),
    ],
)
def test_bad_configs_name_the_path(tmp_path: Path, mutate: object, expected: str) -> None:
    with pytest.raises(ConfigError) as exc:
        load_settings(write(tmp_path, mutate(MINIMAL)))  # type: ignore[operator]
    assert expected in exc.value.message


@pytest.mark.parametrize("text", ["endpoints: [", "- just a list", "42"])
def test_not_yaml_or_not_a_mapping(tmp_path: Path, text: str) -> None:
    with pytest.raises(ConfigError):
        load_settings(write(tmp_path, text))


def test_check_command_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["check", "--config", str(write(tmp_path, MINIMAL))])
    assert ok.exit_code == 0 and "OK" in ok.output
    bad = runner.invoke(app, ["check", "--config", str(write(tmp_path, MINIMAL + "extra: true\n"))])
    assert bad.exit_code == 2
    missing = runner.invoke(app, ["check", "--config", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2
