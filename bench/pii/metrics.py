"""Span and request metrics (PII_EVAL.md): any-overlap and type-aware recall, precision, leak and false-route."""

from __future__ import annotations

from collections.abc import Sequence

Span = tuple[int, int, str | None]


def overlaps(a: tuple[int, int], b: tuple[int, int]) -> bool:
    return a[0] < b[1] and b[0] < a[1]


def acted(dets: Sequence[Span], classes: tuple[str, ...]) -> list[Span]:
    return [d for d in dets if d[2] in classes]


def covered(gold: Span, dets: Sequence[Span], typed: bool) -> bool:
    return any(overlaps(gold[:2], d[:2]) and (not typed or d[2] == gold[2]) for d in dets)


def ratio(num: int, den: int) -> float | None:
    return num / den if den else None


def fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.2f}"
