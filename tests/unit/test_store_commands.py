"""`hybridgate keys|teams|usage` and the batch commands' error path, against a store in a temp data dir."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridgate.cli import app


@pytest.fixture(autouse=True)
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("HYBRIDGATE_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("HYBRIDGATE_CONFIG", raising=False)
    return tmp_path


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_team_and_key_take_limits_and_budget_from_the_same_options() -> None:
    assert run("teams", "set", "hr", "--members", "a, b", "--rpm", "10", "--daily-usd", "5")[0] == 0
    code, out, _ = run("teams", "list", "--format", "json")
    [team] = json.loads(out)
    assert code == 0 and team["members"] == ["a", "b"]
    assert team["limits"] == {"rpm": 10} and team["budget"] == {"daily_usd": 5.0}

    code, out, err = run("keys", "create", "--team", "hr", "--tpm", "100", "--monthly-usd", "3", "--scopes", "models=x")
    assert code == 0 and "shown only once" in err
    secret = out.strip()
    code, out, _ = run("keys", "list", "--format", "json")
    [key] = json.loads(out)
    assert code == 0 and key["team"] == "hr" and key["scopes"]["models"] == ["x"]
    assert key["limits"] == {"tpm": 100} and key["budget"] == {"monthly_usd": 3.0}
    assert secret not in out and secret.startswith(key["hint"].removesuffix("..."))  # a hint, never the secret


def test_usage_json_and_bad_grouping() -> None:
    assert run("usage", "--format", "json")[:2] == (0, "[]\n")
    code, _, err = run("usage", "--by", "colour")
    assert code == 2 and "--by must be one of" in err


def test_unknown_key_is_an_error_not_a_traceback() -> None:
    code, _, err = run("keys", "revoke", "key_nope")
    assert code == 1 and "no key with id 'key_nope'" in err


def test_batch_command_reports_an_unreachable_gateway_in_one_line() -> None:
    code, out, err = run("batch", "status", "batch_1", "--url", "http://127.0.0.1:9", "--json")
    assert code == 1 and out == "" and err.startswith("error:")
