"""UsageRecords as JSON lines: the offline feed of `hybridgate report --records FILE.jsonl`."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from hybridgate.economics.errors import EconomicsError
from hybridgate.store.records import AttemptRecord, UsageRecord

_FIELDS = {f.name for f in dataclasses.fields(UsageRecord)}


def record_from_dict(d: dict[str, Any]) -> UsageRecord:
    unknown = set(d) - _FIELDS
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)}")
    data = dict(d)
    data["attempts"] = tuple(AttemptRecord(**a) for a in data.get("attempts", ()))
    return UsageRecord(**data)


def record_to_dict(r: UsageRecord) -> dict[str, Any]:
    return dataclasses.asdict(r)


def read_jsonl(path: Path) -> Iterator[UsageRecord]:
    try:
        with path.open(encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    yield _parse(line, path, n)
    except OSError as e:
        raise EconomicsError(f"cannot read {path}: {e.strerror}", param="records") from e


def _parse(line: str, path: Path, n: int) -> UsageRecord:
    try:
        return record_from_dict(json.loads(line))
    except (ValueError, TypeError) as e:  # JSONDecodeError is a ValueError
        raise EconomicsError(f"{path}:{n}: not a UsageRecord: {e}", param="records") from e


def write_jsonl(records: Iterable[UsageRecord], path: Path) -> None:
    with path.open("w", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps(record_to_dict(r)) + "\n")
