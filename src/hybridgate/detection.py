"""The detection stage: runs the pure detectors over a request and fails closed.

Any exception from a detector, or a run over the time budget, makes the request restricted: a
detector that cannot say "clean" must never let a request leave.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from hybridgate.auth.principal import Principal
from hybridgate.detect.complexity_base import ComplexityScorer
from hybridgate.detect.extract import request_fields
from hybridgate.detect.findings import Detector, Finding
from hybridgate.detect.signals import Hints, Signals
from hybridgate.labels import DataClass, highest
from hybridgate.settings import DetectionConfig

SECRET_TYPES = frozenset({"SECRET", "API_KEY", "PASSWORD", "PRIVATE_KEY", "JWT", "CONNECTION_STRING"})


def scan(body: Mapping[str, Any], detector: Detector) -> list[Finding]:
    out: list[Finding] = []
    for tf in request_fields(body):
        if tf.text:
            out.extend(f.located(tf.message, tf.field) for f in detector.detect(tf.text))
    return out


def classify(findings: list[Finding] | tuple[Finding, ...], cfg: DetectionConfig) -> DataClass:
    cls = DataClass.PUBLIC
    for f in findings:
        mapped = cfg.classes.get(f.type)
        if mapped is None:
            mapped = DataClass.RESTRICTED if f.type in SECRET_TYPES else cfg.default_class
        cls = cls.at_least(mapped)
    return cls


def chat_view(body: Mapping[str, Any]) -> list[Mapping[str, Any]] | None:
    msgs = body.get("messages")
    if isinstance(msgs, list):
        system = body.get("system")  # Anthropic-shaped bodies keep the system prompt outside
        head: list[Mapping[str, Any]] = [{"role": "system", "content": system}] if system else []
        return head + msgs
    prompt = body.get("prompt")
    if prompt is not None:
        return [{"role": "user", "content": prompt if isinstance(prompt, str) else str(prompt)}]
    return None


@dataclass
class DetectionStage:
    cfg: DetectionConfig
    detector: Detector
    scorer: ComplexityScorer | None = None
    classify_fn: Callable[[list[Finding], DetectionConfig], DataClass] = classify
    clock: Callable[[], float] = time.perf_counter
    fail_closed_count: int = field(default=0)

    def run(self, body: Mapping[str, Any], hints: Hints, principal: Principal, model: str) -> Signals:
        started = self.clock()
        error: str | None = None
        findings: list[Finding] = []
        detected = DataClass.PUBLIC
        try:
            findings = scan(body, self.detector)
            detected = self.classify_fn(findings, self.cfg)
        except Exception as e:  # fail closed on anything: a crash must not mean "clean"
            error = f"detector error: {type(e).__name__}"
        if error is None and (self.clock() - started) * 1000 > self.cfg.time_budget_ms:
            error = f"detection exceeded its {self.cfg.time_budget_ms:g} ms budget"
        if error is not None:
            self.fail_closed_count += 1
            detected = DataClass.RESTRICTED
        complexity = self._complexity(body)
        declared = hints.data_class or DataClass.PUBLIC
        return Signals(
            data_class=highest(detected, declared, principal.class_floor),
            findings=tuple(findings),
            complexity=complexity,
            hints=hints,
            requested_model=model,
            detector_error=error,
            detected_class=detected,
        )

    def _complexity(self, body: Mapping[str, Any]) -> float | None:
        if self.scorer is None:
            return None
        view = chat_view(body)
        if view is None:
            return None
        try:
            return self.scorer.score(view, tools=bool(body.get("tools")))
        except Exception:  # complexity only steers cost; a failure falls back to the default tier
            return None
