"""classify(): type -> data class through configuration; scan_request(): every text of a request, located."""

from __future__ import annotations

from typing import Any

import pytest

from hybridgate.detect.classify import classify, scan_request
from hybridgate.detect.findings import FakeDetector, Finding
from hybridgate.detect.pii import PiiDetector
from hybridgate.labels import DataClass
from hybridgate.settings import DetectionConfig


def _f(typ: str) -> Finding:
    return Finding(typ, 0, 1)


@pytest.mark.parametrize(
    ("types", "classes", "default", "expected"),
    [
        ([], {}, DataClass.CONFIDENTIAL, DataClass.PUBLIC),
        (["EMAIL_ADDRESS"], {}, DataClass.CONFIDENTIAL, DataClass.CONFIDENTIAL),
        (["SECRET"], {}, DataClass.CONFIDENTIAL, DataClass.RESTRICTED),  # built-in floor for secrets
        (["SECRET"], {"SECRET": DataClass.INTERNAL}, DataClass.CONFIDENTIAL, DataClass.INTERNAL),  # config wins
        (["IP_ADDRESS"], {"IP_ADDRESS": DataClass.INTERNAL}, DataClass.CONFIDENTIAL, DataClass.INTERNAL),
        (["IP_ADDRESS", "MRN"], {"IP_ADDRESS": DataClass.INTERNAL}, DataClass.RESTRICTED, DataClass.RESTRICTED),
        (["PERSON"], {}, DataClass.INTERNAL, DataClass.INTERNAL),
    ],
)
def test_classify(types: list[str], classes: dict[str, DataClass], default: DataClass, expected: DataClass) -> None:
    cfg = DetectionConfig(classes=classes, default_class=default)
    assert classify([_f(t) for t in types], cfg) is expected


BODY: dict[str, Any] = {
    "system": "be brief",
    "messages": [
        {"role": "system", "content": "You are helpful."},
        {"role": "user", "content": "My SSN is 482-32-7682."},
        {"role": "assistant", "content": None, "tool_calls": [{"function": {"arguments": '{"to": "a@b.io"}'}}]},
        {"role": "tool", "content": [{"type": "text", "text": "ok"}, {"type": "text", "text": "ip 10.1.2.3"}]},
        {"role": "user", "content": "thanks"},
    ],
}


def test_scan_request_locates_every_finding() -> None:
    found = scan_request(BODY, PiiDetector())
    located = {(f.type, f.message, f.field) for f in found}
    assert located == {
        ("US_SSN", 1, "content"),
        ("EMAIL_ADDRESS", 2, "tool_calls[0].arguments"),
        ("IP_ADDRESS", 3, "content[1].text"),
    }


def test_scan_request_offsets_are_relative_to_the_field() -> None:
    (ssn,) = scan_request(BODY, FakeDetector({"482-32-7682": "US_SSN"}))
    assert BODY["messages"][1]["content"][ssn.start : ssn.end] == "482-32-7682"


def test_scan_request_propagates_detector_errors() -> None:
    # The caller turns this into "restricted" (fail closed); swallowing it here would fail open.
    with pytest.raises(RuntimeError):
        scan_request(BODY, FakeDetector(error=RuntimeError("boom")))


def test_prompt_and_input_bodies() -> None:
    found = scan_request({"prompt": "mail x@y.org", "input": ["ok", "ssn 482-32-7682"]}, PiiDetector())
    assert {(f.type, f.field) for f in found} == {("EMAIL_ADDRESS", "prompt"), ("US_SSN", "input[1]")}
