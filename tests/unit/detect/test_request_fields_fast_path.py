"""The plain-chat shortcut of `request_fields` yields exactly the fields of the general walk, and `scan_request`
finds the same findings through it."""

from __future__ import annotations

import random
from collections import OrderedDict
from typing import Any

from hybridgate.detect.classify import scan_request
from hybridgate.detect.extract import _request_fields, request_fields
from hybridgate.detect.pii import PiiDetector

_CONTENTS: list[Any] = [
    "hello",
    "",
    "Patient: Dorothy Robinson, phone +1 (954) 487-7934",
    None,
    5,
    ["part"],
    [{"type": "text", "text": "card 4111 1111 1111 1111"}],
    {"text": "x"},
]
_EXTRA: list[dict[str, Any]] = [
    {},
    {},
    {},
    {"name": "Alice Smith"},
    {"name": 3},
    {"tool_calls": [{"function": {"arguments": '{"ssn": "123-45-6789"}'}}]},
    {"function_call": {"arguments": "x"}},
    {"other": 1},
]


def _message(rng: random.Random) -> Any:
    kind = rng.random()
    if kind < 0.05:
        return "not a message"
    msg: dict[str, Any] = {"role": rng.choice(["system", "user", "assistant", "tool"])}
    if rng.random() < 0.9:
        msg["content"] = rng.choice(_CONTENTS[:3]) if rng.random() < 0.7 else rng.choice(_CONTENTS)
    msg.update(rng.choice(_EXTRA))
    if rng.random() < 0.05:
        return OrderedDict(msg)  # a Mapping, not exactly a dict: the general walk
    return msg


def _body(rng: random.Random) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "auto"}
    if rng.random() < 0.9:
        messages = [_message(rng) for _ in range(rng.randint(0, 4))]
        body["messages"] = messages if rng.random() < 0.95 else tuple(messages)
    for key, value in (("system", "You are Bob Jones."), ("system", None), ("prompt", "p"), ("input", ["i"])):
        if rng.random() < 0.05:
            body[key] = value
    if rng.random() < 0.03:
        body["suffix"] = "s"
    return body


def test_plain_chat_fields_are_the_general_walk() -> None:
    rng = random.Random(11)
    plain = 0
    for _ in range(20000):
        body = _body(rng)
        got = list(request_fields(body))
        assert got == list(_request_fields(body)), body
        plain += all(type(f.message) is int and f.field == "content" for f in got)
    assert plain > 5000


def test_scan_request_through_the_shortcut_finds_what_the_detector_finds() -> None:
    det = PiiDetector("all", cached_texts=0)
    rng = random.Random(12)
    for _ in range(300):
        body = _body(rng)
        want = [f.located(tf.message, tf.field) for tf in _request_fields(body) if tf.text for f in det.detect(tf.text)]
        assert scan_request(body, det) == want, body
