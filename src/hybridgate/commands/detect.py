"""`hybridgate detect`: run the sensitive-data detector over one text or a JSONL file of requests.

    hybridgate detect "text"                                  -> a table on the terminal
    hybridgate detect --in requests.jsonl --out findings.jsonl [--config FILE]

Input lines are `{"id", "text"}` or `{"id", "messages": [...]}`; output lines are
`{"id", "data_class", "findings": [{"type", "start", "end", "score"[, "message", "field"]}]}` with offsets into
the original text (of that message's field, for `messages`).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, TextIO

import typer
from rich.console import Console
from rich.table import Table

from hybridgate.detect.classify import classify, scan_request
from hybridgate.detect.findings import Detector, Finding
from hybridgate.detect.pii import build_detector, build_ner_detector
from hybridgate.labels import DataClass
from hybridgate.settings import DetectionConfig, load_settings


class _Tiers:
    """Cheap tier always; NER only when the cheap tier left the request public - as the gateway does."""

    def __init__(self, cfg: DetectionConfig, use_ner: bool) -> None:
        self.cfg = cfg
        self.cheap = build_detector(cfg)
        self.ner: Detector | None = build_ner_detector(cfg) if use_ner else None

    def scan(self, body: Mapping[str, Any]) -> tuple[DataClass, list[Finding]]:
        findings = scan_request(body, self.cheap)
        if self.ner is not None and classify(findings, self.cfg) is DataClass.PUBLIC:
            findings += scan_request(body, self.ner)
        return classify(findings, self.cfg), findings


def _finding_json(f: Finding, with_location: bool) -> dict[str, Any]:
    out: dict[str, Any] = {"type": f.type, "start": f.start, "end": f.end, "score": f.score}
    if with_location:
        out["message"] = f.message
        out["field"] = f.field
    return out


def result_line(record: Mapping[str, Any], tiers: _Tiers) -> dict[str, Any]:
    """One output object for one input object."""
    messages = record.get("messages")
    if isinstance(messages, Sequence) and not isinstance(messages, str):
        data_class, findings = tiers.scan({"messages": messages})
        located = True
    else:
        data_class, findings = tiers.scan({"prompt": str(record.get("text", ""))})
        located = False
    return {
        "id": record.get("id"),
        "data_class": data_class.value,
        "findings": [_finding_json(f, located) for f in findings],
    }


def _records(src: TextIO) -> Iterator[tuple[int, dict[str, Any]]]:
    for lineno, line in enumerate(src, 1):
        if line.strip():
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                raise typer.BadParameter(f"line {lineno}: not JSON ({e.msg})", param_hint="--in") from None
            if not isinstance(obj, dict):
                raise typer.BadParameter(f"line {lineno}: expected an object", param_hint="--in")
            yield lineno, obj


def _detection_config(path: Path | None, names: str | None) -> DetectionConfig:
    cfg = load_settings(path).detection if path is not None else DetectionConfig()
    return cfg.model_copy(update={"names_policy": names}) if names else cfg


def _print_table(text: str, data_class: DataClass, findings: list[Finding], console: Console) -> None:
    table = Table(title=f"data class: {data_class.value}")
    for col in ("type", "start", "end", "score", "text", "detector"):
        table.add_column(col)
    for f in findings:
        table.add_row(f.type, str(f.start), str(f.end), f"{f.score:.2f}", text[f.start : f.end], f.detector)
    console.print(table)


def detect_command(
    text: Annotated[str | None, typer.Argument(help="A text to scan; prints a table.")] = None,
    in_path: Annotated[Path | None, typer.Option("--in", help="JSONL of {id, text} or {id, messages}.")] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Where to write findings JSONL (default stdout).")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", help="Gateway config file (its `detection` section).")
    ] = None,
    names: Annotated[
        str | None,
        typer.Option("--names", help="Override the names policy: off|with_context|likely_person|except_exercises|all."),
    ] = None,
    ner: Annotated[
        bool, typer.Option("--ner/--no-ner", help="Run the NER tier when the cheap tier finds nothing.")
    ] = True,
) -> None:
    """Find personal data, health data and secrets; report offsets, types and the resulting data class."""
    if names not in (None, "off", "with_context", "likely_person", "except_exercises", "all"):
        raise typer.BadParameter(
            "must be off, with_context, likely_person, except_exercises or all", param_hint="--names"
        )
    if (text is None) == (in_path is None):
        raise typer.BadParameter("give either a TEXT or --in FILE")
    tiers = _Tiers(_detection_config(config, names), ner)
    if text is not None:
        data_class, findings = tiers.scan({"prompt": text})
        _print_table(text, data_class, findings, Console())
        return
    assert in_path is not None
    with in_path.open(encoding="utf-8") as src:
        lines = [json.dumps(result_line(rec, tiers), ensure_ascii=False) for _, rec in _records(src)]
    if out_path is None:
        typer.echo("\n".join(lines))
    else:
        out_path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
