"""The optimised scorer gives the features and scores of the plain definition (reference_scorer) on varied
requests: prose, chat turns, code, maths, keyword cues in every case, non-ASCII, control characters."""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import pytest

from hybridgate.detect.complexity import LearnedScorer
from hybridgate.router import features
from hybridgate.router.artifact import RouterArtifact, load_default
from hybridgate.router.text import request_text
from hybridgate.router.wordpiece import WordPiece
from tests.unit.router import reference_scorer as reference
from tests.unit.router.conftest import make_artifact

BENCH_PROMPT = (
    "Summarise the following design note in three bullet points and suggest one follow-up question. "
    "The service accepts requests over HTTP, validates them, decides where they may be processed, "
    "selects a healthy backend by load, forwards the request, streams the answer back, and records "
    "usage for cost reporting. Operators configure tiers of backends with trust labels, and rules "
    "that map request signals to tiers. Keep the answer short and practical, please. "
)
TEXTS = [
    "",
    " ",
    "hi",
    BENCH_PROMPT,
    "Prove that the square root of 2 is irrational. Explain why, step by step by step.",
    "How many apples? HOW MUCH is it? how  many (two spaces) howmany; if and only if; If And Only If.",
    "It MUST BE TRUE that x CANNOT BE 3; cannot bear; reasoning, reasons, Reason: assume/suppose/derive!",
    "sum_total sum-total sum. summary; SUM Sum; x_sum; function_name, a function.",
    "Which of the following is true?\n(A) 1 + 2 = 3\n(B) 2*3=5\nC) 10/2 = 4\nd. none; WHICH OF THE FOLLOWINGS",
    "Statement 1 | Every group is abelian. Statement 2 | I. II. III. I and II only. NOT EXCEPT LEAST never",
    "```python\ndef f(x):\n    return x;\n```\nclass A: pass\nimport os\nSELECT * FROM t; console.log(1) => {}",
    "$x^2 + y^2 = z^2$ and \\frac{1}{2}, \\sqrt{3}, \\( a \\) \\[ b \\]; 3^2 = 9; 1,234.56 + 7 = 1,241.56",
    "Solve ∫ x² dx from 0 to 1; √2 ≠ π ≤ 4 ≥ 1 ∑ 5×6 ÷ 2",
    "ÀÉÎ naïve café résumé — Ｆｕｌｌｗｉｄｔｈ ０１２ ½ ² ٣ \u017fum \u0130f \u212aelvin",
    "数学の問題を解いてください。x^2 = 4 のとき x は？한국어 질문입니다 ?",
    "a\x01b ctrl\x7fdel \x1cfs tab\there\x0bvt\x0cff  many   spaces\r\nemoji 😀🚀",
    "  translate this to French: hello. Write a poem. what is 2+2? Why?",
    "supercalifragilisticexpialidocious antidisestablishmentarianism pneumonoultramicroscopic " * 3,
    "x" * 300 + " " + "y" * 5000,
    BENCH_PROMPT * 30,
]
# Each cue alone in plain prose: a substring pre-check that missed one would show on its text.
CUES = [
    "```", "def f(x)", "class Foo", "return", "import os", "#include <x>", "function", "=>", "SELECT", "a {", "b }",
    "c;", "print(x)", "console.log", "public static", "a = b", "a ^ b", "\\le", "√", "∑", "∫", "π", "≤", "≥", "≠",
    "$x$", "\\(x", "\\[x", "NOT", "EXCEPT", "LEAST", "never", "false", "incorrect", "Statement 1", "II. x",
    "I and II", "how much", "explain why", "must be true", "cannot be", "which of the following",
]  # fmt: skip
TEXTS += [f"Here is some plain prose; then {cue} and more words after it" for cue in CUES]
TEXTS += [f"Plain prose with {cue}" for cue in CUES]
TEXTS += [f"“Curly” prose — then {cue.upper()} … and Ünïcödé words" for cue in CUES]  # the non-ASCII paths
TEXTS += [
    "Café: SOLVE the équation; How Many “quotes”? Step By Step… sumé ésum SUM. Which Of The Following?",
    # One case trap each (see features._lowered), next to the words it would break.
    "ſum and ſolve, ſtep by ſtep — “x”",
    "İf and only İf, justİfy — “x”",
    "ıf and only ıf, justıfy — “x”",
    "\u212aelvin kelvin, how many — “x”",
    "ΑΣ.Β ας ΟΔΟΣ. Σ sum ΣUM — “x”",
    "Über PROVE ‘if and only if’ — NOT false, EXCEPT ½ ² ٣ ０ 12 = 3 ≤ 4; “cannot be” ",
]
WORDS = [
    "the", "The", "SUM", "sum", "Solve", "how", "many", "much", "HOW", "MANY", "step", "by", "if", "and", "only",
    "must", "be", "true", "cannot", "which", "of", "following", "Which", "OF", "reason", "Reason", "NOT", "never",
    "x_y", "total,", "ratio.", "prove?", "3.14", "12", "=", "+", "-", "(", ")", ";", "{", "}", "def", "return",
    "\n", "\n(A)", "I.", "II", "Statement", "$a$", "\\frac", "café", "数", "\u212a", "\u0130", "print(x)",
]  # fmt: skip


def _random_text(rng: random.Random) -> str:
    seps = [" ", " ", " ", "  ", "\n", ", ", ". "]
    return "".join(rng.choice(WORDS) + rng.choice(seps) for _ in range(rng.randint(1, 60)))


def _requests() -> list[tuple[list[Any], bool]]:
    rng = random.Random(20261129)
    texts = TEXTS + [_random_text(rng) for _ in range(150)]
    out: list[tuple[list[Any], bool]] = [([{"role": "user", "content": t}], False) for t in texts]
    for i in range(30):
        chat = [
            {"role": "system", "content": rng.choice(texts)},
            {"role": "user", "content": rng.choice(texts)},
            {"role": "assistant", "content": rng.choice(texts)},
            {"role": "user", "content": rng.choice(texts) + rng.choice(texts)},
        ]
        out.append((chat, i % 3 == 0))
    out.append(
        (
            [{"role": "user", "content": [{"type": "text", "text": "hard"}, {"type": "text", "text": "Prove it."}]}],
            False,
        )
    )
    out.append(([{"role": "user", "content": "q"}, {"role": "tool", "content": "result 42"}], False))
    out.append(([{"role": "developer", "content": "Be terse."}, {"role": "assistant", "content": "ok"}], False))
    return out


REQUESTS = _requests()


@pytest.fixture(scope="module")
def packaged() -> RouterArtifact:
    return load_default()


@pytest.mark.parametrize("which", ["packaged", "tiny"])
def test_scores_and_vectors_match_the_plain_definition(which: str, packaged: RouterArtifact) -> None:
    a = packaged if which == "packaged" else make_artifact()
    scorer = LearnedScorer(a)
    for messages, tools in REQUESTS:
        got = scorer.score(messages, tools=tools)
        v = scorer.last_vector
        assert v is not None and v.dtype == np.float32
        want = reference.vector(a, messages, tools=tools)
        np.testing.assert_allclose(v, want, rtol=1e-6, atol=1e-6, err_msg=repr(messages)[:200])
        assert got == pytest.approx(reference.score(a, want), abs=1e-6), repr(messages)[:200]


def test_the_requests_exercise_every_hand_feature(packaged: RouterArtifact) -> None:
    rows = np.array([reference.hand_features(request_text(m, tools=t)) for m, t in REQUESTS])
    unused = [name for name, col in zip(features.FEATURE_NAMES, rows.T, strict=True) if np.ptp(col) == 0]
    assert not unused  # each feature takes more than one value, so a change in any of them would show


def test_multi_word_terms_share_no_word_with_one_word_terms() -> None:
    # What lets the ASCII path count one-word terms per word and multi-word terms apart.
    phrase_words = {w for p in features._MATH_PHRASES + features._REASONING_PHRASES for w in p.split()}
    assert phrase_words and not phrase_words & features._ONE_WORD
    assert not features._MATH_ONE_WORD & features._REASONING_ONE_WORD


def test_the_word_cache_stays_bounded_and_gives_the_same_ids() -> None:
    a = make_artifact()
    small, large = WordPiece(a.vocab, cached_words=3), WordPiece(a.vocab)
    text = "hard proofs the unaffable easy hard proofs zzz the " * 3
    assert small.ids(text) == large.ids(text) == large.ids(text)
    assert len(small._word_ids) <= 3 < len(large._word_ids)
