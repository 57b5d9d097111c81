from __future__ import annotations

import pytest

from hybridgate.router.features import FEATURE_NAMES, hand_features
from hybridgate.router.text import dedup_key, request_text
from hybridgate.router.wordpiece import WordPiece, basic_words


def test_wordpiece_greedy_longest_match() -> None:
    wp = WordPiece(["[UNK]", "un", "##aff", "##able", "the", ","])
    assert wp.ids("The unaffable, zzz") == [4, 1, 2, 3, 5, 0]


def test_basic_words_lowercases_strips_accents_and_splits_punctuation() -> None:
    assert basic_words("Héllo, WORLD! 中文") == ["hello", ",", "world", "!", "中", "文"]


@pytest.mark.parametrize(
    ("raw", "key"),
    [("  What IS\n2+2?\nAnswer:", "what is 2+2?"), ("Same", "same"), ("a answer: b", "a answer: b")],
)
def test_dedup_key(raw: str, key: str) -> None:
    assert dedup_key(raw) == key


def test_request_text_separates_system_last_user_and_tools() -> None:
    msgs = [
        {"role": "system", "content": "Be terse."},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok", "tool_calls": [{"function": {"arguments": '{"a": 1}'}}]},
        {"role": "user", "content": "second"},
    ]
    t = request_text(msgs)
    assert (t.system, t.last_user, t.n_messages, t.tools) == ("Be terse.", "second", 4, True)


def _features(text: str, **kw: bool) -> dict[str, float]:
    return dict(zip(FEATURE_NAMES, hand_features(request_text([{"role": "user", "content": text}], **kw)), strict=True))


def test_hand_features_see_code_math_and_question_form() -> None:
    code = _features("```python\ndef f(x):\n    return x\n```")
    assert code["log_code"] > 0
    math = _features("Solve 3x + 4 = 10 for x. What is x^2?")
    assert math["log_math_ops"] > 0 and math["log_math_words"] > 0 and math["wh_start"] == 0
    mcq = _features("Which of the following is NOT a prime?\nA. 2\nB. 3\nC. 4\nD. 5")
    assert mcq["which_following"] == 1 and mcq["log_choices"] > 1 and mcq["log_negation"] > 0
    assert _features("hello", tools=True)["tools"] == 1
    assert _features("日本語のテキスト")["cjk"] > 0.5
