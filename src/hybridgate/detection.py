"""The detection stage: runs the pure detectors over a request and fails closed.

Any exception from a detector, or a run over the time budget, makes the request restricted: a
detector that cannot say "clean" must never let a request leave.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from hybridgate.auth.principal import Principal
from hybridgate.detect.classify import classify, scan_request
from hybridgate.detect.complexity_base import ComplexityScorer
from hybridgate.detect.extract import request_fields
from hybridgate.detect.findings import Detector, Finding
from hybridgate.detect.redact import PLACEHOLDER
from hybridgate.detect.signals import Hints, Signals
from hybridgate.labels import DataClass, highest
from hybridgate.settings import DetectionConfig


def _size_kb(body: Mapping[str, Any]) -> float:
    return sum(len(tf.text) for tf in request_fields(body)) / 1024


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
    ner: Detector | None = None  # the expensive tier, run only when it can change the decision
    clock: Callable[[], float] = time.perf_counter
    fail_closed_count: int = field(default=0)

    def run(self, body: Mapping[str, Any], hints: Hints, principal: Principal, model: str) -> Signals:
        started = self.clock()
        error: str | None = None
        findings: list[Finding] = []
        detected = DataClass.PUBLIC
        try:
            findings = scan_request(body, self.detector)
            if findings:  # none: public, as classify says
                detected = classify(findings, self.cfg)
        except Exception as e:  # fail closed on anything: a crash must not mean "clean"
            error = f"detector error: {type(e).__name__}"
        elapsed_ms = (self.clock() - started) * 1000
        if error is None and elapsed_ms > self.cfg.time_budget_ms:  # the size walk only when it can matter
            budget = self.cfg.time_budget_ms + self.cfg.time_budget_ms_per_kb * _size_kb(body)
            if elapsed_ms > budget:
                error = f"detection exceeded its {budget:.0f} ms budget"
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

    def residue(self, redacted: Mapping[str, Any]) -> list[Finding] | None:
        """What the cheap tier still finds in a redacted body; None when it fails. Anything but [] means
        the redaction missed a value and the body must not leave on the strength of it. A finding that lies
        wholly inside one of our placeholders holds no original character (a label rule such as `pass:`
        matching "compass: [SECRET_1]" reads the placeholder as the value), so it does not count."""
        try:
            out: list[Finding] = []
            for tf in request_fields(redacted):
                if tf.text:
                    ours = [m.span() for m in PLACEHOLDER.finditer(tf.text)]
                    out.extend(
                        f.located(tf.message, tf.field)
                        for f in self.detector.detect(tf.text)
                        if not any(a <= f.start and f.end <= b for a, b in ours)
                    )
            return out
        except Exception:  # fail closed, like run()
            return None

    def warm_up(self) -> None:
        """Loads lazy models before the first request: a cold load inside the NER budget (seconds) made
        every first request after start-up fail closed."""
        warm = getattr(self.ner, "warm_up", None)
        if warm is not None:
            warm()

    async def deepen_async(self, body: Mapping[str, Any], signals: Signals, principal: Principal) -> Signals:
        """`deepen` for the event loop: a tier that waits on another process (the NER sidecar) waits in a
        thread, so the worker keeps serving other requests meanwhile. The budget covers the whole wait."""
        if getattr(self.ner, "waits_on_io", False):
            return await asyncio.to_thread(self.deepen, body, signals, principal)
        return self.deepen(body, signals, principal)

    def deepen(self, body: Mapping[str, Any], signals: Signals, principal: Principal) -> Signals:
        """Adds the NER tier's findings (names, addresses). Fails closed like the cheap tier."""
        if self.ner is None:
            return signals
        started = self.clock()
        try:
            extra = scan_request(body, self.ner)
            detected = classify([*signals.findings, *extra], self.cfg).at_least(signals.detected_class)
        except Exception as e:  # fail closed: an NER crash must not mean "no names here"
            self.fail_closed_count += 1
            return replace(
                signals,
                data_class=DataClass.RESTRICTED,
                detected_class=DataClass.RESTRICTED,
                detector_error=f"NER error: {type(e).__name__}",
            )
        if (self.clock() - started) * 1000 > self.cfg.ner_time_budget_ms:
            self.fail_closed_count += 1
            return replace(
                signals,
                data_class=DataClass.RESTRICTED,
                detected_class=DataClass.RESTRICTED,
                detector_error=f"NER exceeded its {self.cfg.ner_time_budget_ms:g} ms budget",
            )
        declared = signals.hints.data_class or DataClass.PUBLIC
        return replace(
            signals,
            findings=(*signals.findings, *extra),
            detected_class=detected,
            data_class=highest(detected, declared, principal.class_floor),
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
