"""The opt-in text on a record: the redacted prompt (log line) and the sealed payload (audit row)."""

from __future__ import annotations

import os
from types import SimpleNamespace
from typing import Any

import orjson
import pytest

from hybridgate.access.tokens import StreamTally
from hybridgate.backends.sse import DONE, frame
from hybridgate.detect.findings import Finding
from hybridgate.errors import ConfigError
from hybridgate.observe.audit.capture import Sealer, sealer_from_env
from hybridgate.observe.payload import UNSCANNED, Tap, redacted_prompt, stream_text

CHAT = {
    "model": "auto",
    "messages": [
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "mail a@b.io or call 555-1234"},
        {"role": "user", "content": [{"type": "text", "text": "ssn 078-05-1120"}]},
    ],
}


@pytest.mark.parametrize(
    ("findings", "want"),
    [
        ([], "be brief\nmail a@b.io or call 555-1234\nssn 078-05-1120"),
        (
            [Finding("EMAIL", 5, 11, message=1, field="content"), Finding("PHONE", 20, 28, message=1, field="content")],
            "be brief\nmail [EMAIL] or call [PHONE]\nssn 078-05-1120",
        ),
        (  # a span is applied to the field it was found in, never to another message
            [Finding("SSN", 4, 15, message=2, field="content[0].text")],
            "be brief\nmail a@b.io or call 555-1234\nssn [SSN]",
        ),
    ],
)
def test_redacted_prompt(findings: list[Finding], want: str) -> None:
    assert redacted_prompt(CHAT, findings) == want


def test_redacted_prompt_of_a_completions_body() -> None:
    body = {"model": "m", "prompt": "id 078-05-1120 ok"}
    assert redacted_prompt(body, [Finding("SSN", 3, 14, message=None, field="prompt")]) == "id [SSN] ok"


def chunk(text: str) -> bytes:
    return frame({"choices": [{"index": 0, "delta": {"content": text}}]})


def test_stream_text_assembles_deltas_and_skips_the_rest() -> None:
    events = [chunk("Hel"), chunk("lo"), frame({"choices": [], "usage": {"prompt_tokens": 1}}), b"data: {bad\n\n", DONE]
    assert stream_text(events) == "Hello"


def plan(**kw: Any) -> Any:
    base: dict[str, Any] = {
        "request_id": "hg-1",
        "source": CHAT,
        "output": None,
        "tally": None,
        "restorer": None,
        "signals": SimpleNamespace(
            findings=(Finding("EMAIL", 5, 11, message=1, field="content"),), detector_error=None
        ),
    }
    return SimpleNamespace(**{**base, **kw})


def test_tap_logs_a_marker_when_detection_failed() -> None:
    p = plan(signals=SimpleNamespace(findings=(), detector_error="timeout"))
    assert Tap(prompts=True).extras(p) == (UNSCANNED, None)


def test_tap_without_a_source_adds_nothing() -> None:
    assert Tap(Sealer(os.urandom(32)), prompts=True).extras(plan(source=None)) == (None, None)


def test_tap_seals_request_and_answer_bound_to_the_request_id() -> None:
    sealer = Sealer(os.urandom(32))
    answer = {"choices": [{"message": {"content": "secret answer"}}]}
    prompt, sealed = Tap(sealer).extras(plan(output=orjson.dumps(answer)))
    assert prompt is None and sealed is not None
    assert b"secret" not in orjson.dumps(sealed) and b"a@b.io" not in orjson.dumps(sealed)
    assert sealer.open("hg-1", sealed) == {"request": CHAT, "response": answer}
    with pytest.raises(ConfigError, match="wrong key"):  # moved to another row: does not open
        sealer.open("hg-2", sealed)
    with pytest.raises(ConfigError, match="wrong key"):
        Sealer(os.urandom(32)).open("hg-1", sealed)


def test_tap_seals_the_streamed_text() -> None:
    sealer = Sealer(os.urandom(32))
    tally = StreamTally()
    for ev in (chunk("a "), chunk("b"), DONE):
        tally.feed(ev)
    _, sealed = Tap(sealer).extras(plan(tally=tally))
    assert sealed is not None and sealer.open("hg-1", sealed)["response"] == {"stream_text": "a b"}


@pytest.mark.parametrize(("value", "words"), [(None, "needs a key"), ("abcd", "32 bytes"), ("00" * 31, "32 bytes")])
def test_sealer_from_env_says_what_is_wrong(value: str | None, words: str, monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv("HG_TEST_KEY", raising=False)
    else:
        monkeypatch.setenv("HG_TEST_KEY", value)
    with pytest.raises(ConfigError, match=words):
        sealer_from_env("HG_TEST_KEY")


def test_a_redacted_stream_is_captured_as_the_client_got_it() -> None:
    from hybridgate.detect.redact import Restorer

    sealer = Sealer(os.urandom(32))
    tally = StreamTally()
    for ev in (chunk("write to [EMAIL_1]"), DONE):
        tally.feed(ev)
    _, sealed = Tap(sealer).extras(plan(tally=tally, restorer=Restorer({"[EMAIL_1]": "a@b.io"})))
    assert sealed is not None and sealer.open("hg-1", sealed)["response"] == {"stream_text": "write to a@b.io"}
