from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from hybridgate.commands.router import router_app
from hybridgate.router import artifact
from hybridgate.router.artifact import RouterArtifact

runner = CliRunner()


def _write_mmlu(path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["item_id", "domain", "prompt", "correct_weak", "correct_strong", "contaminated"])
        for i in range(60):
            hard = i % 3 == 0
            subject = f"subject{i % 6}"
            prompt = f"{'hard proofs ' * (1 + i % 4) if hard else 'the easy'} question {i}\nA. x\nB. y\nAnswer:"
            w.writerow([f"mmlu/{subject}/{i}", subject, prompt, not hard, True, i == 59])


def _write_gsm8k(path: Path) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(
            ["item_id", "prompt", "correct_weak", "correct_strong", "response_weak", "response_strong", "contaminated"]
        )
        for i in range(30):
            hard = i % 2 == 0
            w.writerow([f"gsm8k/test/{i}", f"{'hard' if hard else 'easy'} sum {i}", not hard, True, "", "", False])


@pytest.fixture
def tiny_setup(tmp_path: Path, tiny_artifact: RouterArtifact) -> tuple[Path, Path]:
    data = tmp_path / "data"
    data.mkdir()
    _write_mmlu(data / "routellm_mmlu_gpt4_vs_mixtral.csv")
    _write_gsm8k(data / "routellm_gsm8k_gpt4_vs_mixtral.csv")
    path = tmp_path / "tiny.hgr"
    artifact.save(tiny_artifact, path)
    return data, path


def test_score_reads_prompts_and_messages(tmp_path: Path, tiny_setup: tuple[Path, Path]) -> None:
    src, out = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    rows = [{"id": 1, "prompt": "hard proofs"}, {"id": "b", "messages": [{"role": "user", "content": "easy"}]}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n\n")
    result = runner.invoke(router_app, ["score", "--in", str(src), "--out", str(out), "--artifact", str(tiny_setup[1])])
    assert result.exit_code == 0, result.output
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["id"] for g in got] == [1, "b"]
    assert got[0]["score"] > 0.5 > got[1]["score"]


def test_score_rejects_a_line_without_text(tmp_path: Path, tiny_setup: tuple[Path, Path]) -> None:
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1}\n')
    result = runner.invoke(
        router_app, ["score", "--in", str(src), "--out", str(tmp_path / "o"), "--artifact", str(tiny_setup[1])]
    )
    assert result.exit_code == 2 and "in.jsonl:1" in result.output


def test_score_with_a_corrupt_artifact_fails_clearly(tmp_path: Path) -> None:
    bad = tmp_path / "bad.hgr"
    bad.write_bytes(b"garbage")
    src = tmp_path / "in.jsonl"
    src.write_text('{"id": 1, "prompt": "x"}\n')
    result = runner.invoke(
        router_app, ["score", "--in", str(src), "--out", str(tmp_path / "o"), "--artifact", str(bad)]
    )
    assert result.exit_code == 2 and "not a hybridgate router artifact" in result.output


def test_eval_prints_every_split_and_reference(tmp_path: Path, tiny_setup: tuple[Path, Path]) -> None:
    data, path = tiny_setup
    md = tmp_path / "eval.md"
    args = ["eval", "--data", str(data), "--artifact", str(path), "--n-boot", "20", "--markdown", str(md)]
    result = runner.invoke(router_app, args, terminal_width=200)
    assert result.exit_code == 0, result.output
    for name in ("CV mmlu", "CV gsm8k", "MMLU leave-subject-out", "cross mmlu -> gsm8k", "cross gsm8k -> mmlu"):
        assert name in result.output
    for ref in ("random", "length", "subject prior", "oracle", "router - length"):
        assert ref in result.output
    assert "n=59" in md.read_text()  # the contaminated row is gone


def test_train_writes_a_loadable_deterministic_artifact(tmp_path: Path, tiny_setup: tuple[Path, Path]) -> None:
    data, base = tiny_setup
    outs = [tmp_path / "a.hgr", tmp_path / "b.hgr"]
    for out in outs:
        result = runner.invoke(router_app, ["train", "--data", str(data), "--out", str(out), "--base", str(base)])
        assert result.exit_code == 0, result.output
    assert outs[0].read_bytes() == outs[1].read_bytes()
    meta = artifact.load(outs[0]).metadata
    assert meta["licence_clean"] is True and meta["n_train"] == 89


def test_train_on_missing_data_fails_clearly(tmp_path: Path) -> None:
    result = runner.invoke(router_app, ["train", "--data", str(tmp_path / "nope"), "--out", str(tmp_path / "a")])
    assert result.exit_code == 2 and "not found" in result.output
