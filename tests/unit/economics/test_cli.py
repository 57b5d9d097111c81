"""The tco / report / assess commands on a small Typer app, including bad input naming its flag."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from hybridgate.commands import economics
from hybridgate.economics.jsonl import write_jsonl
from hybridgate.settings import load_settings
from hybridgate.store.records import UsageRecord
from tests.fakes.usage import usage_record

TCO = ["tco", "--requests-per-month", "2000000", "--tokens-in", "800", "--tokens-out", "200"]


def make_app(records: list[UsageRecord] | None = None) -> typer.Typer:
    app = typer.Typer()
    app.command("tco")(economics.tco)
    source = None if records is None else (lambda since: [r for r in records if r.ts >= since])
    app.command("report")(economics.make_report(source))
    app.command("assess")(economics.assess)
    return app


def run(*args: str, app: typer.Typer | None = None, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(app or make_app(), list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_tco_prints_costs_break_even_and_tornado(tmp_path: Path) -> None:
    png = tmp_path / "tco.png"
    code, out, _ = run(
        *TCO, "--model", "gpt-4o", "--self-hosted-model", "llama-3-8b", "--gpu", "h100", "--png", str(png)
    )
    assert code == 0
    assert "API (gpt-4o): $8,000.00/month" in out
    assert "break-even: 1,745,675 requests/month" in out
    assert "Sensitivity" in out and "GPU price per hour" in out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_tco_json_and_pricing_modes() -> None:
    costs = {}
    for mode in ("on_demand", "reserved", "owned"):
        code, out, _ = run(*TCO, "--pricing", mode, "--json")
        assert code == 0
        data = json.loads(out)
        assert data["break_even"]["first"] > 0 and len(data["tornado"]) == 8
        costs[mode] = data["self_hosted_monthly"]["gpu"]
    assert costs["owned"] < costs["reserved"] < costs["on_demand"]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--requests-per-month", "-5"], "--requests-per-month"),
        (["--requests-per-month", "0"], "--requests-per-month"),
        (["--tokens-in", "-1"], "--tokens-in"),
        (["--gpu", "h999"], "--gpu"),
        (["--model", "gpt-99"], "--model"),
        (["--self-hosted-model", "mystery-7b"], "--self-hosted-model"),
        (["--pricing", "spot"], "--pricing"),
        (["--utilisation", "1.5"], "--utilisation"),
        (["--self-hosted-model", "llama-3.1-70b", "--gpu", "l4"], "--gpus-per-replica"),
        (["--prices", "/nonexistent/prices.yaml"], "--prices"),
    ],
)
def test_tco_bad_input_names_the_flag(args: list[str], flag: str) -> None:
    base = dict(zip(TCO[1::2], TCO[2::2], strict=True))
    base.update(dict(zip(args[::2], args[1::2], strict=True)))
    code, out, err = run("tco", *[x for kv in base.items() for x in kv])
    assert code == 2
    assert err.startswith(f"error: {flag}:"), err
    assert "break-even" not in out


def test_tco_missing_gpu_price_names_the_pricing_flag(tmp_path: Path) -> None:
    f = tmp_path / "p.yaml"
    f.write_text("gpus:\n  h100: {memory_gb: 80, on_demand: 2.0, as_of: 2026-11-01, source: quote}\n")
    code, _, err = run(*TCO, "--prices", str(f), "--pricing", "reserved")
    assert code == 2 and err.startswith("error: --pricing:")


def _records() -> list[UsageRecord]:
    now = time.time()
    return [
        usage_record(
            ts=now - 60 * i,
            request_id=str(i),
            key_id="k",
            team="t",
            route_tag="summarise",
            endpoint="vllm",
            model="llama-3.1-8b",
            rule_id="r",
            data_class="internal",
            prompt_tokens=2000,
            completion_tokens=200,
            latency_ms=100.0 + i,
            cost_usd=0.0002,
        )
        for i in range(30)
    ]


def test_report_from_jsonl_markdown_with_chart(tmp_path: Path) -> None:
    src = tmp_path / "usage.jsonl"
    write_jsonl(_records(), src)
    out = tmp_path / "report.md"
    code, _, _ = run("report", "--since", "1d", "--records", str(src), "--out", str(out), "--sla", "summarise=120")
    assert code == 0
    text = out.read_text()
    assert "| summarise | 913 |" in text  # 30 requests in a day -> 30 x 30.4375 per month
    assert "MISSED" in text and (tmp_path / "report.png").exists()


def test_report_from_the_store_hook_as_html() -> None:
    code, out, _ = run("report", "--since", "7d", "--format", "html", app=make_app(_records()))
    assert code == 0 and out.startswith("<!doctype html>") and "summarise" in out


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        (["--since", "soon"], "--since"),
        (["--format", "pdf"], "--format"),
        (["--by", "colour"], "--by"),
        (["--sla", "oops"], "--sla"),
        ([], "--records"),
        (["--api-model", "gpt-99"], "--api-model"),
    ],
)
def test_report_bad_input_names_the_flag(args: list[str], flag: str) -> None:
    code, _, err = run("report", *args)
    assert code == 2 and err.startswith(f"error: {flag}:"), err


ANSWERS = """
organisation: {name: acme, mlops_engineers: 3}
workloads:
  - {name: support, data_classes: [public, confidential], regulations: [gdpr], requests_per_month: 400000}
  - {name: claims, data_classes: [restricted], regulations: [hipaa], requests_per_month: 3000000, p99_ms: 800}
  - {name: marketing, data_classes: [public], requests_per_month: 20000, needs_frontier: true}
"""


def test_assess_from_answers_writes_a_valid_config(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text(ANSWERS)
    config = tmp_path / "hybridgate.yaml"
    code, out, _ = run("assess", "--answers", str(answers), "--out-config", str(config))
    assert code == 0
    assert "hybrid" in out and "self hosted" in out and "closed api" in out
    settings = load_settings(config)
    assert settings.policy.rules[0].id == "sensitive-stays-inside"


def test_assess_interactive(tmp_path: Path) -> None:
    config = tmp_path / "hybridgate.yaml"
    # org, mlops, air-gapped; workload name, classes, regs, volume, in, out, p95, p99, frontier; no more
    stdin = "acme\n1\nn\nbulk\ninternal\n\n5000000\n800\n200\n0\n0\nn\nn\n"
    code, out, _ = run("assess", "--out-config", str(config), stdin=stdin)
    assert code == 0, out
    assert "managed" in out  # volume past break-even, only one MLOps engineer: row F
    load_settings(config)


def test_assess_bad_answers_names_the_flag(tmp_path: Path) -> None:
    answers = tmp_path / "answers.yaml"
    answers.write_text("organisation: {mlops_engineers: 1}\nworkloads: []\n")
    code, _, err = run("assess", "--answers", str(answers))
    assert code == 2 and err.startswith("error: --answers:") and "workloads" in err
