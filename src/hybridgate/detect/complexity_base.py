"""The complexity interface: a request in, P(weak model fails) out."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from hybridgate.detect.extract import message_fields


class ComplexityScorer(Protocol):
    name: str

    def score(self, messages: Sequence[Mapping[str, Any]], *, tools: bool = False) -> float: ...


class LengthScorer:
    """Prompt length on a log scale: a weak but honest baseline (MMLU APGR ~0.59 on our data)."""

    name = "length"

    def __init__(self, midpoint_chars: int = 1200) -> None:
        self.midpoint = midpoint_chars

    def score(self, messages: Sequence[Mapping[str, Any]], *, tools: bool = False) -> float:
        n = sum(len(f.text) for f in message_fields(messages))
        x = math.log1p(n) - math.log1p(self.midpoint)
        return 1.0 / (1.0 + math.exp(-1.5 * x))


class FixedScorer:
    """For tests: always the same score."""

    name = "fixed"

    def __init__(self, value: float) -> None:
        self.value = value

    def score(self, messages: Sequence[Mapping[str, Any]], *, tools: bool = False) -> float:
        return self.value
