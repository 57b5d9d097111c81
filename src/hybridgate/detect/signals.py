"""Everything the policy engine may look at, as plain data."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from hybridgate.detect.findings import Finding
from hybridgate.frozen import quick_init
from hybridgate.labels import DataClass


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class Hints:
    """What the client declared. A client may raise the data class, never lower it."""

    data_class: DataClass | None = None
    latency_budget: str | None = None  # interactive | relaxed
    volume: str | None = None  # normal | high
    purpose: str | None = None


@quick_init  # built on every request
@dataclass(frozen=True, slots=True)
class Signals:
    data_class: DataClass
    findings: tuple[Finding, ...] = ()
    complexity: float | None = None  # P(weak model fails); None when no scorer is available
    hints: Hints = field(default_factory=Hints)
    requested_model: str = "auto"
    detector_error: str | None = None  # set when detection failed: the request is then restricted
    detected_class: DataClass = DataClass.PUBLIC  # what the detector alone found

    def finding_counts(self) -> dict[str, int]:
        if not self.findings:  # most requests: no Counter to build
            return {}
        return dict(Counter(f.type for f in self.findings))
