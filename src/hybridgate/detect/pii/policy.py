"""The names policy: when is a person's name personal data?

- `off`: never on its own (names are not reported at all);
- `all`: always - every name found is reported;
- `with_context`: a name is reported when the text ties it to a person's data - a contact detail,
  an identifier, an account, a secret, a health fact - or labels it as a person's ("Patient:", "my name is"),
  or gives a full given+family name. "Natalia sold clips to 48 friends" is about no one; "Natalia Lopez,
  natalia@x.org" is personal data. A title with a name ("Mrs. Schwarz") points at a specific person too,
  except in a quantitative exercise ("Mr. Bert gives six tests..."), whose people are characters.
- `likely_person` (default): every name that is plausibly a person's is reported, except where the text is a
  quantitative exercise, where `with_context` decides. A lone name in a message about someone ("Diana is from
  Cloudmade") counts; a place does not: a name-shaped word that is a known country, state, region or major
  city, or a given name after a locative word ("in Marion") or before ", <known place>" ("Tyler, Texas"):
  "Weather in Paris?" and "the capital of France" stay public. Neither does an ordinary word that is also a
  census given name ("Moon", "Grant"), nor a tagger's span that cannot be a name (an enumerated option
  "A. Wrong", a line break, digits, markup). Famous and historic people ("Thomas Hobbes", "Lenin") still
  count: telling them from private people needs a knowledge base, and a miss costs more than a false alarm.
- `except_exercises`: every name is reported, except where the text is a quantitative exercise (numbers and a
  question about quantities: "Natalia sold clips to 48 friends... how many clips?"), where `with_context`
  decides. A given name that is also a place ("Weather in Paris?", "the capital of France") counts too.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from hybridgate.detect.pii.literals import Scan, literal_set
from hybridgate.detect.pii.names import plausible_name
from hybridgate.detect.pii.recognizer import Candidate

NamesPolicy = Literal["off", "with_context", "likely_person", "except_exercises", "all"]

NAME_TYPES = frozenset({"PERSON"})
# Reported for context, never a reason to keep a name (and never gating on their own).
CONTEXT_ONLY_TYPES = frozenset({"DATE_TIME", "LOCATION", "ORGANIZATION", "TITLE", "AGE", "HEALTH_CONDITION"})

_HEALTH = re.compile(
    r"(?i)(?<![a-z])(?:diagnos|patient|prescri|medication|symptom|disease|disorder|syndrome|cancer|tumou?r"
    r"|diabet|hiv|aids|hepatitis|pregnan|depress|anxiety|psychiatr|therap|treatment|surgery|allerg|hospital"
    r"|clinic|admitted|discharged|blood pressure|dosage|insulin|chemo|rehab|overdose|std|mental health)"
)
_STRONG_SOURCES = frozenset({"label", "masked"})
# A quantitative exercise: a question about amounts, rates or totals, asked over numbers in the text.
_EXERCISE = re.compile(
    r"(?i)(?<![a-z])(?:how (?:many|much|long|far|old|fast|often|tall|big|heavy)|what (?:is|was|will be|are)"
    r" (?:the|their|his|her) (?:total|average|sum|difference|cost|price|number|percentage|ratio|combined|area)"
    r"|what percent(?:age)?|in total|altogether|calculate|on average|per (?:hour|day|week|month|year|minute))"
)
_DIGIT = re.compile(r"\d")


def _name_tokens(text: str, c: Candidate) -> int:
    return sum(1 for w in text[c.start : c.end].split() if w[:1].isupper() or w[:1] == "*")


# Every `_HEALTH` match starts with one of these (lower-case, at a word start: the pattern opens with
# `(?<![a-z])`): with the text's literal scan, the regex is tried only there, not at every position.
_HEALTH_STARTS = (
    "diagnos", "patient", "prescri", "medication", "symptom", "disease", "disorder", "syndrome", "cancer", "tumo",
    "diabet", "hiv", "aids", "hepatitis", "pregnan", "depress", "anxiety", "psychiatr", "therap", "treatment",
    "surgery", "allerg", "hospital", "clinic", "admitted", "discharged", "blood pressure", "dosage", "insulin",
    "chemo", "rehab", "overdose", "std", "mental health",
)  # fmt: skip
_HEALTH_SET = literal_set(_HEALTH_STARTS, word_start=True)


def has_personal_context(text: str, candidates: Sequence[Candidate], scan: Scan | None = None) -> bool:
    """Does the text carry data that makes any name in it personal data? `scan`: the text's literal scan, when
    the caller has it (it only makes the health-word search cheaper)."""
    if any(c.type not in NAME_TYPES and c.type not in CONTEXT_ONLY_TYPES for c in candidates):
        return True
    starts = None if scan is None else scan.positions(_HEALTH_SET)
    if starts is not None:
        return any(_HEALTH.match(text, p) is not None for p in starts)
    return _HEALTH.search(text) is not None


def keep_name(text: str, c: Candidate, personal_context: bool, scan: Scan | None = None) -> bool:
    if personal_context or c.source in _STRONG_SOURCES or _name_tokens(text, c) >= 2:
        return True
    return c.source == "honorific" and not is_exercise(text, scan)


# Every `_EXERCISE` alternative contains one of these (lower-case): a cheap test before the regex.
_EXERCISE_LITERALS = ("how ", "what ", "in total", "altogether", "calculat", "on average", "per ")
# ... and every `_EXERCISE` match starts with one: with the text's literal scan, the regex is tried only there.
_EXERCISE_SET = literal_set(_EXERCISE_LITERALS)


def is_exercise(text: str, scan: Scan | None = None) -> bool:
    """Does the text pose a quantitative exercise, whose people are characters rather than data subjects?
    `scan`: the text's literal scan, when the caller has it."""
    if _DIGIT.search(text) is None:
        return False
    starts = None if scan is None else scan.positions(_EXERCISE_SET)
    if starts is not None:
        return any(_EXERCISE.match(text, p) is not None for p in starts)
    low = text.lower()
    return any(lit in low for lit in _EXERCISE_LITERALS) and _EXERCISE.search(text) is not None


def apply_names_policy(
    text: str, candidates: list[Candidate], policy: NamesPolicy, scan: Scan | None = None
) -> list[Candidate]:
    """`scan`: the text's literal scan, when the caller has it (it only makes the exercise test cheaper)."""
    if policy == "all" or not any(c.type in NAME_TYPES for c in candidates):
        return candidates
    if policy == "off":
        return [c for c in candidates if c.type not in NAME_TYPES]
    if policy == "except_exercises" and not is_exercise(text, scan):
        return candidates
    ctx = has_personal_context(text, candidates, scan)
    if policy == "likely_person":
        exercise = is_exercise(text, scan)
        return [c for c in candidates if c.type not in NAME_TYPES or _likely_person(text, c, ctx, exercise, scan)]
    return [c for c in candidates if c.type not in NAME_TYPES or keep_name(text, c, ctx, scan)]


def _likely_person(text: str, c: Candidate, personal_context: bool, exercise: bool, scan: Scan | None) -> bool:
    # A label, a mask or a title says "person" outright; the shape tests are for bare capitalised words.
    if c.source in _STRONG_SOURCES or c.source == "honorific":
        return keep_name(text, c, personal_context, scan)
    if not plausible_name(text, c.start, c.end):
        return False
    return not exercise or keep_name(text, c, personal_context, scan)
