"""The names policy: when is a person's name personal data?

- `off`: never on its own (names are not reported at all);
- `all`: always - every name found is reported;
- `with_context` (default): a name is reported when the text ties it to a person's data - a contact detail,
  an identifier, an account, a secret, a health fact - or labels it as a person's ("Patient:", "my name is"),
  or gives a full given+family name. "Natalia sold clips to 48 friends" is about no one; "Natalia Lopez,
  natalia@x.org" is personal data.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from hybridgate.detect.pii.recognizer import Candidate

NamesPolicy = Literal["off", "with_context", "all"]

NAME_TYPES = frozenset({"PERSON"})
# Reported for context, never a reason to keep a name (and never gating on their own).
CONTEXT_ONLY_TYPES = frozenset({"DATE_TIME", "LOCATION", "ORGANIZATION", "TITLE", "AGE", "HEALTH_CONDITION"})

_HEALTH = re.compile(
    r"(?i)(?<![a-z])(?:diagnos|patient|prescri|medication|symptom|disease|disorder|syndrome|cancer|tumou?r"
    r"|diabet|hiv|aids|hepatitis|pregnan|depress|anxiety|psychiatr|therap|treatment|surgery|allerg|hospital"
    r"|clinic|admitted|discharged|blood pressure|dosage|insulin|chemo|rehab|overdose|std|mental health)"
)
_STRONG_SOURCES = frozenset({"label", "masked"})


def _name_tokens(text: str, c: Candidate) -> int:
    return sum(1 for w in text[c.start : c.end].split() if w[:1].isupper() or w[:1] == "*")


def has_personal_context(text: str, candidates: Sequence[Candidate]) -> bool:
    """Does the text carry data that makes any name in it personal data?"""
    if any(c.type not in NAME_TYPES and c.type not in CONTEXT_ONLY_TYPES for c in candidates):
        return True
    return _HEALTH.search(text) is not None


def keep_name(text: str, c: Candidate, personal_context: bool) -> bool:
    return personal_context or c.source in _STRONG_SOURCES or _name_tokens(text, c) >= 2


def apply_names_policy(text: str, candidates: list[Candidate], policy: NamesPolicy) -> list[Candidate]:
    if policy == "all" or not any(c.type in NAME_TYPES for c in candidates):
        return candidates
    if policy == "off":
        return [c for c in candidates if c.type not in NAME_TYPES]
    ctx = has_personal_context(text, candidates)
    return [c for c in candidates if c.type not in NAME_TYPES or keep_name(text, c, ctx)]
