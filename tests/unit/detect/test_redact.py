"""Reversible redaction: nothing original left in the body; originals back in whole and streamed responses."""

from __future__ import annotations

import json
from typing import Any

import pytest

from hybridgate.detect.classify import scan_request
from hybridgate.detect.pii import PiiDetector
from hybridgate.detect.redact import Restorer, redact_request

EMAIL, SSN, KEY = "jane.doe@example.com", "482-32-7682", "sk-proj-abcDEF123456ghiJKL789012"
BODY: dict[str, Any] = {
    "model": "gpt-4o",
    "messages": [
        {"role": "system", "content": "Reply to [EMAIL_1] style tokens verbatim."},
        {"role": "user", "content": f"My email is {EMAIL} and SSN {SSN}."},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "function": {"arguments": json.dumps({"key": KEY})}}],
        },
        {"role": "user", "content": [{"type": "text", "text": f"Again: {EMAIL}"}]},
    ],
}


def _redacted() -> tuple[dict[str, Any], dict[str, str]]:
    r = redact_request(BODY, scan_request(BODY, PiiDetector()))
    return r.body, r.mapping


def test_no_original_value_survives() -> None:
    body, mapping = _redacted()
    dumped = json.dumps(body)
    for value in (EMAIL, SSN, KEY):
        assert value not in dumped
    assert set(mapping.values()) == {EMAIL, SSN, KEY}


def test_placeholders_are_stable_and_avoid_collisions() -> None:
    body, mapping = _redacted()
    (email_ph,) = [p for p, v in mapping.items() if v == EMAIL]
    assert email_ph != "[EMAIL_1]"  # the system prompt already contains that literal
    assert body["messages"][1]["content"].count(email_ph) == 1
    assert body["messages"][3]["content"][0]["text"] == f"Again: {email_ph}"  # same value, same placeholder


def test_input_is_not_mutated_and_structure_kept() -> None:
    before = json.dumps(BODY)
    body, _ = _redacted()
    assert json.dumps(BODY) == before
    assert body["model"] == "gpt-4o" and body["messages"][2]["tool_calls"][0]["id"] == "c1"
    assert json.loads(body["messages"][2]["tool_calls"][0]["function"]["arguments"])["key"].startswith("[SECRET_")


def test_no_findings_is_a_copy() -> None:
    r = redact_request({"messages": [{"role": "user", "content": "hi"}]}, [])
    assert r.mapping == {} and r.body == {"messages": [{"role": "user", "content": "hi"}]}


def test_restore_whole_response() -> None:
    _, mapping = _redacted()
    inverse = {v: p for p, v in mapping.items()}
    reply = f"Sure, {inverse[EMAIL]} noted; SSN {inverse[SSN]}. [NOT_A_PLACEHOLDER_9]"
    assert Restorer(mapping).restore(reply) == f"Sure, {EMAIL} noted; SSN {SSN}. [NOT_A_PLACEHOLDER_9]"


def test_restore_value_walks_json() -> None:
    r = Restorer({"[SSN_1]": SSN})
    assert r.restore_value({"a": ["[SSN_1]", 3], "b": {"c": "x [SSN_1]"}}) == {"a": [SSN, 3], "b": {"c": f"x {SSN}"}}


MAPPING = {"[EMAIL_1]": EMAIL, "[SSN_12]": SSN}
REPLY = "Mail [EMAIL_1], ssn [SSN_12]. Array [1] and [EMAIL_ and [SSN_1] stay."
EXPECTED = f"Mail {EMAIL}, ssn {SSN}. Array [1] and [EMAIL_ and [SSN_1] stay."


def _chunks(text: str, sizes: list[int]) -> list[str]:
    out, i, k = [], 0, 0
    while i < len(text):
        n = sizes[k % len(sizes)]
        out.append(text[i : i + n])
        i, k = i + n, k + 1
    return out


@pytest.mark.parametrize("sizes", [[1], [2], [3, 5], [7], [4, 1, 9], [len(REPLY)]])
def test_stream_restores_placeholders_split_anywhere(sizes: list[int]) -> None:
    r = Restorer(MAPPING)
    out = "".join(r.feed(c) for c in _chunks(REPLY, sizes)) + r.flush()
    assert out == EXPECTED


def test_stream_holds_back_only_a_possible_placeholder_prefix() -> None:
    r = Restorer(MAPPING)
    assert r.feed("hello [") == "hello "
    assert r.feed("EMA") == ""
    assert r.feed("IL_1] and [x") == f"{EMAIL} and [x"  # "[x" cannot start a placeholder: emitted now
    assert r.feed("[SSN_1") == ""  # could still be [SSN_12]
    assert r.feed("") == ""
    assert r.flush() == "[SSN_1"  # stream ended: it was not one


def test_numbers_in_structured_tool_input_are_redacted() -> None:
    body = {"messages": [{"role": "assistant", "content": [{"type": "tool_use", "input": {"card": 4111111111111111}}]}]}
    r = redact_request(body, scan_request(body, PiiDetector()))
    assert "4111111111111111" not in json.dumps(r.body)
    assert r.body["messages"][0]["content"][0]["input"]["card"].startswith("[CREDIT_CARD_")
