"""Readers for the routing data formats in shared/data/routing, down to one row type.

Formats: RouteLLM MMLU/GSM8K pairs (`routellm_*`), the RouterDC 7-model open pool
(`routerdc_*`) and the joined 9-model tables (`joined_*`). Each file's licence is recorded, because
only licence-clean rows may train a shipped artifact.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from hybridgate.errors import ConfigError
from hybridgate.router.text import dedup_key

STRONG = "gpt-4-1106-preview"
WEAK = "Mixtral-8x7B-Instruct-v0.1"
_CLEAN = "Apache-2.0 (lm-sys/RouteLLM); MMLU and GSM8K questions MIT"
_NONE = "none (RouterDC-derived; research and evaluation only)"
# Multiple-choice sets where the RouterDC score is P(gold) when right and 0 when wrong.
_MULTIPLE_CHOICE = ("mmlu", "arc")

csv.field_size_limit(2**31 - 1)


@dataclass(frozen=True, slots=True)
class Item:
    item_id: str
    benchmark: str
    domain: str
    prompt: str
    q_strong: float
    q_weak: float

    @property
    def weak_fails(self) -> float:
        """The training label: 1 - the weak model's (expected) correctness."""
        return 1.0 - self.q_weak


@dataclass(frozen=True, slots=True)
class Dataset:
    items: tuple[Item, ...]
    files: tuple[tuple[str, str], ...]  # (file name, licence)
    strong: str
    weak: str

    @property
    def licence_clean(self) -> bool:
        return all(lic == _CLEAN for _, lic in self.files)


def licence_of(path: Path) -> str:
    if path.name.startswith("routellm_"):
        return _CLEAN
    if path.name.startswith(("routerdc_", "joined_")):
        return _NONE
    return "unknown"


def _bool(v: str) -> float:
    return 1.0 if v.strip().lower() in ("true", "1", "1.0") else 0.0


def _rows(path: Path) -> Iterator[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def _column(header: Sequence[str], model: str) -> str:
    """The one column naming `model`, by exact name or '/'/'_'-suffix, case-insensitive."""
    want = model.lower()
    hits = [c for c in header if c.lower() == want or c.lower().endswith(("/" + want, "_" + want))]
    if len(hits) != 1:
        raise ConfigError(f"model {model!r} matches columns {hits or 'none'} in this file")
    return hits[0]


def _routellm(path: Path, strong: str, weak: str) -> Iterator[Item]:
    if (strong, weak) != (STRONG, WEAK):
        raise ConfigError(f"{path.name} only has the pair {STRONG} / {WEAK}")
    bench = "gsm8k" if "gsm8k" in path.name else "mmlu"
    for r in _rows(path):
        if _bool(r["contaminated"]):
            continue
        domain = r.get("domain") or bench
        yield Item(r["item_id"], bench, domain, r["prompt"], _bool(r["correct_strong"]), _bool(r["correct_weak"]))


def _quality(raw: str, dataset: str, is_bool: bool) -> float:
    if raw.strip() == "":
        return math.nan
    if is_bool:
        return _bool(raw)
    value = float(raw)
    return float(value > 0) if dataset.startswith(_MULTIPLE_CHOICE) else value


def _table(path: Path, strong: str, weak: str) -> Iterator[Item]:
    with path.open(newline="", encoding="utf-8") as fh:
        header = next(csv.reader(fh))
    cols = [_column(header, m) for m in (strong, weak)]
    joined = path.name.startswith("joined_")
    for r in _rows(path):
        if _bool(r.get("contaminated", "")) or r.get("labels_consistent", "True") == "False":
            continue
        dataset = r.get("dataset") or ("gsm8k" if "gsm8k" in path.name else "mmlu")
        q = [_quality(r[c], dataset, c.startswith("correct_")) for c in cols]
        if any(math.isnan(x) for x in q):
            continue
        prompt = r.get("prompt") or r["question"]
        domain = r.get("domain") or dataset
        yield Item(r["item_id"], dataset.split("_")[0] if joined else dataset, domain, prompt, q[0], q[1])


def read_file(path: Path, strong: str = STRONG, weak: str = WEAK) -> list[Item]:
    if path.suffix == ".jsonl":
        return []  # contamination lists: the CSVs already flag those rows
    if path.name.startswith("routellm_"):
        return list(_routellm(path, strong, weak))
    return list(_table(path, strong, weak))


def dedupe(items: Iterable[Item]) -> list[Item]:
    """One row per (benchmark, normalised prompt); keys whose duplicates disagree are dropped."""
    first: dict[tuple[str, str], Item] = {}
    bad: set[tuple[str, str]] = set()
    for it in items:
        key = (it.benchmark, dedup_key(it.prompt))
        seen = first.get(key)
        if seen is None:
            first[key] = it
        elif (seen.q_strong, seen.q_weak) != (it.q_strong, it.q_weak):
            bad.add(key)
    return [it for key, it in first.items() if key not in bad]


def expand(paths: Sequence[Path]) -> list[Path]:
    out: list[Path] = []
    for p in paths:
        if p.is_dir():
            out.extend(sorted(q for q in p.iterdir() if q.suffix in (".csv", ".jsonl")))
        elif p.exists():
            out.append(p)
        else:
            raise ConfigError(f"routing data not found: {p}")
    return out


def load(paths: Sequence[Path], strong: str = STRONG, weak: str = WEAK) -> Dataset:
    files = expand(paths)
    items: list[Item] = []
    for f in files:
        items.extend(read_file(f, strong, weak))
    return Dataset(tuple(dedupe(items)), tuple((f.name, licence_of(f)) for f in files), strong, weak)
