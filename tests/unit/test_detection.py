"""The detection stage fails closed: detector errors and budget overruns, in either tier, mean restricted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hybridgate.auth.principal import ANONYMOUS, Principal
from hybridgate.detect.findings import FakeDetector, Finding
from hybridgate.detect.pii.detector import PiiDetector
from hybridgate.detect.signals import Hints
from hybridgate.detection import DetectionStage
from hybridgate.labels import DataClass
from hybridgate.settings import DetectionConfig

BODY: dict[str, Any] = {"messages": [{"role": "user", "content": "Alice says hi"}]}


def ticking(step_ms: float) -> Callable[[], float]:
    """A clock that advances `step_ms` every time it is read."""
    t = [0.0]

    def now() -> float:
        t[0] += step_ms / 1000
        return t[0]

    return now


def stage(detector: Any = None, ner: Any = None, step_ms: float = 0.0, **cfg: Any) -> DetectionStage:
    return DetectionStage(DetectionConfig(**cfg), detector or FakeDetector(), ner=ner, clock=ticking(step_ms))


def run(s: DetectionStage, hints: Hints | None = None, principal: Principal = ANONYMOUS) -> Any:
    return s.run(BODY, hints or Hints(), principal, "auto")


def test_clean_and_fast_is_public() -> None:
    sig = run(stage(step_ms=1))
    assert sig.data_class is DataClass.PUBLIC and sig.detector_error is None


def test_detector_error_is_restricted_and_counted() -> None:
    s = stage(FakeDetector(error=RuntimeError("boom")))
    sig = run(s)
    assert sig.data_class is DataClass.RESTRICTED and sig.detector_error == "detector error: RuntimeError"
    assert s.fail_closed_count == 1


def test_budget_overrun_is_restricted() -> None:
    sig = run(stage(step_ms=60, time_budget_ms=50))
    assert sig.data_class is DataClass.RESTRICTED and "budget" in (sig.detector_error or "")
    assert run(stage(step_ms=40, time_budget_ms=50)).data_class is DataClass.PUBLIC


def test_budget_grows_with_request_size() -> None:
    big = {"messages": [{"role": "user", "content": "x" * 10 * 1024}]}
    s = stage(step_ms=120, time_budget_ms=50, time_budget_ms_per_kb=10)  # 50 + 10 * 10 KB = 150 ms
    assert s.run(big, Hints(), ANONYMOUS, "auto").detector_error is None


def test_declared_class_and_floor_only_raise() -> None:
    s = stage(FakeDetector({"Alice": "PERSON"}))
    assert run(s, Hints(data_class=DataClass.PUBLIC)).data_class is DataClass.CONFIDENTIAL
    assert run(stage(), Hints(data_class=DataClass.RESTRICTED)).data_class is DataClass.RESTRICTED
    floor = Principal(key_id="k", name="k", class_floor=DataClass.INTERNAL)
    assert run(stage(), principal=floor).data_class is DataClass.INTERNAL


def test_ner_error_and_overrun_fail_closed() -> None:
    for s in (
        stage(ner=FakeDetector(error=MemoryError())),
        stage(ner=FakeDetector(), step_ms=3000, time_budget_ms=10_000, ner_time_budget_ms=2000),
    ):
        sig = s.deepen(BODY, run(s), ANONYMOUS)
        assert sig.data_class is DataClass.RESTRICTED and sig.detector_error and "NER" in sig.detector_error
        assert s.fail_closed_count == 1


def test_ner_findings_are_added() -> None:
    s = stage(ner=FakeDetector({"Alice": "PERSON"}))
    sig = s.deepen(BODY, run(s), ANONYMOUS)
    assert sig.data_class is DataClass.CONFIDENTIAL
    assert [(f.type, f.message, f.field) for f in sig.findings] == [("PERSON", 0, "content")]
    assert isinstance(sig.findings[0], Finding)


def test_warm_up_loads_the_ner_model_once() -> None:
    class Lazy(FakeDetector):
        warmed = 0

        def warm_up(self) -> None:
            self.warmed += 1

    ner = Lazy()
    stage(ner=ner).warm_up()
    stage().warm_up()  # no NER tier: nothing to do
    assert ner.warmed == 1


def test_residue_after_redaction_fails_closed() -> None:
    body = {"messages": [{"role": "user", "content": "left: Alice"}]}
    assert stage(FakeDetector({"Alice": "PERSON"})).residue(body)
    assert stage(FakeDetector(error=RuntimeError())).residue(body) is None  # a failed rescan is not "clean"
    assert stage(FakeDetector({"Bob": "PERSON"})).residue(body) == []


def test_residue_ignores_findings_inside_our_placeholders() -> None:
    # `pass:` at the end of "ladder-pass:" reads the placeholder after it as a password: no original character
    # is in it, so the redacted body is clean; a finding reaching past a placeholder still counts.
    detector = PiiDetector()
    text = "record parcel-ladder-pass: [SECRET_1] [EMAIL_1]"
    assert any(text[f.start : f.end] == "[SECRET_1" for f in detector.detect(text))  # the label rule fires
    body = {"messages": [{"role": "user", "content": text}]}
    assert stage(detector).residue(body) == []
    leaked = {"messages": [{"role": "user", "content": "[EMAIL_1] Alice"}]}
    assert stage(FakeDetector({"[EMAIL_1] Alice": "PERSON"})).residue(leaked)
    assert stage(FakeDetector({"Alice": "PERSON"})).residue(leaked)
