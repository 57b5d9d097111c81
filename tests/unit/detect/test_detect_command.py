"""`hybridgate detect` through typer's CliRunner, on a small app built here (cli.py registers the real one)."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from hybridgate.commands.detect import detect_command

app = typer.Typer()
app.command("detect")(detect_command)
runner = CliRunner()

TEXT = "Mail jane.doe@example.com or call +1 (954) 487-7934."


def test_text_prints_a_table() -> None:
    result = runner.invoke(app, [TEXT, "--no-ner"])
    assert result.exit_code == 0, result.output
    assert "EMAIL_ADDRESS" in result.output and "PHONE_NUMBER" in result.output
    assert "confidential" in result.output


def test_jsonl_in_out(tmp_path: Path) -> None:
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    messages = [{"role": "system", "content": "be nice"}, {"role": "user", "content": "ssn 482-32-7682"}]
    src.write_text(
        "\n".join(
            json.dumps(r)
            for r in (
                {"id": "a", "text": TEXT},
                {"id": 2, "messages": messages},
                {"id": "c", "text": "Natalia sold clips to 48 friends. How many clips did she sell?"},
                {"id": "d", "text": "key AKIAIOSFODNN7EXAMPLE"},
            )
        )
        + "\n\n"
    )
    result = runner.invoke(app, ["--in", str(src), "--out", str(dst), "--no-ner"])
    assert result.exit_code == 0, result.output
    a, b, c, d = (json.loads(line) for line in dst.read_text().splitlines())
    assert a["id"] == "a" and a["data_class"] == "confidential"
    assert [TEXT[f["start"] : f["end"]] for f in a["findings"]] == ["jane.doe@example.com", "+1 (954) 487-7934"]
    assert set(a["findings"][0]) == {"type", "start", "end", "score"}
    (ssn,) = b["findings"]
    assert ssn["message"] == 1 and messages[1]["content"][ssn["start"] : ssn["end"]] == "482-32-7682"
    assert c == {"id": "c", "data_class": "public", "findings": []}
    assert d["data_class"] == "restricted"


def test_bad_input_is_a_usage_error(tmp_path: Path) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text("{not json\n")
    result = runner.invoke(app, ["--in", str(src), "--no-ner"])
    assert result.exit_code == 2 and "line 1" in result.output


def test_text_and_file_are_exclusive(tmp_path: Path) -> None:
    assert runner.invoke(app, ["x", "--in", str(tmp_path / "f"), "--no-ner"]).exit_code == 2
    assert runner.invoke(app, ["--no-ner"]).exit_code == 2


def test_names_override() -> None:
    result = runner.invoke(app, ["Natalia sold clips.", "--names", "all", "--no-ner"])
    assert result.exit_code == 0 and "PERSON" in result.output
    assert runner.invoke(app, ["x", "--names", "some", "--no-ner"]).exit_code == 2
