"""Cheap person-name heuristics (the NER tier catches what these miss; addresses live in `addresses`).

Names are found three ways: after an honorific ("Dr. Sarah Wright"), after a personal label ("Patient:",
"name=", "my name is"), and as "Given Family" where the given name is a common one. Partially masked names
("A***** L****") count too: the mask hides letters, not the fact that a person is named.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from importlib import resources

from hybridgate.detect.pii.literals import Scan, literal_set
from hybridgate.detect.pii.recognizer import Candidate
from hybridgate.detect.pii.scopes import matches_at


def _wordset(words: str) -> frozenset[str]:
    return frozenset(words.split())


# Common given names (US census / SSA top names): a heuristic, the NER tier covers the long tail.
_GIVEN = _wordset(
    """james john robert michael william david richard joseph thomas charles christopher daniel matthew anthony
    mark donald steven paul andrew joshua kenneth kevin brian george timothy ronald edward jason jeffrey ryan
    jacob gary nicholas eric jonathan stephen larry justin scott brandon benjamin samuel gregory alexander frank
    patrick raymond jack dennis jerry tyler aaron jose adam nathan henry douglas zachary peter kyle ethan walter
    noah jeremy christian keith roger terry gerald harold sean austin carl arthur lawrence dylan jesse jordan
    bryan billy joe bruce gabriel logan albert willie alan juan wayne elijah randy roy vincent ralph eugene
    russell bobby mason philip louis carlos luis miguel hector omar ahmed mohammed ali wei hiroshi raj
    mary patricia jennifer linda elizabeth barbara susan jessica sarah karen lisa nancy betty margaret sandra
    ashley kimberly emily donna michelle carol amanda dorothy melissa deborah stephanie rebecca sharon laura
    cynthia kathleen amy angela shirley anna brenda pamela emma nicole helen samantha katherine christine
    debra rachel carolyn janet catherine maria heather diane ruth julie olivia joyce virginia victoria kelly
    lauren christina joan evelyn judith megan andrea cheryl hannah jacqueline martha gloria teresa ann sara
    madison frances kathryn janice jean abigail alice judy sophia grace denise amber doris marilyn danielle
    beverly isabella theresa diana natalie brittany charlotte marie kayla alexis lori ava mia chloe ella
    natalia elena sofia lucia ana rosa carmen priya aisha fatima mei yuki"""
) | _wordset(resources.files("hybridgate.data").joinpath("pii/given_names.txt").read_text(encoding="utf-8"))
_GIVEN_CAPITALISED = frozenset(n.capitalize() for n in _GIVEN)  # `_GIVEN_ALONE` only matches "Xxxx"

# Latin letters with diacritics count as letters of a name ("Mercédesz Szôllôssy", "Pavlović"): the
# character classes are spelled out because `re` has no \p{Lu}.
_UP = "A-Z" + "".join(c for c in map(chr, range(0xC0, 0x250)) if c.isupper())
_LO = "a-z" + "".join(c for c in map(chr, range(0xC0, 0x250)) if c.islower())
_NAME_WORD = rf"[{_UP}][{_LO}]+(?:[-'][{_UP}]?[{_LO}]+)?"
_PARTICLE = r"(?:von|van|de|der|del|della|da|di|le|la|du|bin|al|ter)"
_FULL = rf"{_NAME_WORD}(?:[ \t]+(?:[{_UP}]\.?(?=[ \t])|{_PARTICLE}|{_NAME_WORD})){{0,3}}"

_HONORIFIC = re.compile(rf"(?<![\w.])(?:Mr|Mrs|Ms|Miss|Mx|Dr|Prof|Sir|Dame|Madam|Rev)\.?\s+(?P<name>{_FULL})")
# People close to the writer ("my daughter Alina"): the name is someone real the writer knows.
_RELATIONS = (
    "son", "daughter", "kid", "child", "baby", "wife", "husband", "partner", "spouse", "fiance", "fiancee",
    "boyfriend", "girlfriend", "mother", "father", "mom", "mum", "dad", "brother", "sister", "grandmother",
    "grandfather", "grandson", "granddaughter", "aunt", "uncle", "cousin", "nephew", "niece", "friend", "boss",
    "manager", "colleague", "coworker", "neighbor", "neighbour", "doctor", "landlord", "lawyer", "therapist",
)  # fmt: skip
_LABEL = re.compile(
    r"(?i:(?<![a-z])(?:my name is|i am|i'm|this is|(?:first|last|given|family|middle|maiden|full)[ _-]?name"
    r"|surname|name|patient(?:[ _]name)?|customer|client|employee|applicant|contact|member|attn|dear"
    r"|signed(?: by)?|cc|re|provider|physician|nurse|author|guardian|nok|next of kin|beneficiary|holder"
    r"|cardholder|insured|subscriber|tenant|user|call me|calls me|called me|known as|goes by"
    r"|my (?:" + "|".join(_RELATIONS) + r")(?:'s name is| is called| is named| named| called)?)"
    r"[\"']?[ \t]*(?:[:=?,]|is)?\s*[\"']?[ \t]*)"
    rf"(?P<name>{_FULL})"
)
_FAMILY_AFTER = re.compile(rf"[ \t]+(?:[{_UP}]\.[ \t]+)?(?P<family>{_NAME_WORD})(?![\w@])")
# `(?<![\w.])[A-Z][a-z]+`, with the lookbehind after the first letter so the engine can skip to capitals.
_GIVEN_ALONE = re.compile(rf"[{_UP}](?<![\w.][{_UP}])[{_LO}]+(?![\w@])")
# Where `_HONORIFIC` and `_LABEL` can start (lower-case literals for the case-insensitive `_LABEL`).
_HONORIFIC_STARTS = ("Mr", "Ms", "Miss", "Mx", "Dr", "Prof", "Sir", "Dame", "Madam", "Rev")
_HONORIFIC_SET = literal_set(_HONORIFIC_STARTS, cased=True)
_LABEL_STARTS = (
    "my name is", "i am", "i'm", "this is", "name", "full", "patient", "customer", "client", "employee",
    "applicant", "contact", "member", "attn", "dear", "signed", "cc", "re", "provider", "physician", "nurse",
    "author", "guardian", "nok", "next of kin", "beneficiary", "holder", "cardholder", "insured", "subscriber",
    "tenant", "user", "first", "last", "given", "family", "middle", "maiden", "surname", "call", "called",
    "known as", "goes by", "my ",
)  # fmt: skip
_LABEL_SET = literal_set(_LABEL_STARTS, word_start=True)  # `_LABEL` opens with `(?<![a-z])`
# Between a `_LABEL` match's start and its name there are only the label's characters (ASCII letters in either
# case, or what `(?i)` folds onto them; `'`, blanks, `_`, `-`) and the separator's (quotes, `:=?,`, "is",
# whitespace), and the name opens with a capital and a small letter. So a label start is followed by such a
# pair with none but those characters before it (`_label_starts`): prose starts ("requests", "reporting")
# seldom are, and the test costs a fraction of the 60-way case-insensitive regex tried there.
_NAME_OPENING = re.compile(f"[{_UP}][{_LO}]")
_NOT_BEFORE_NAME = re.compile("[^A-Za-z'_\\s\":=?,\u0130\u0131\u017f\u212a-]")

# On an ASCII text's class marks (`Scan.marks`: capitals "A", small letters "a", digits "0", "_", "." and "@"
# themselves, whitespace and `'":=?,-` a blank, the rest "!"), the two searches above and `_GIVEN_ALONE` are led
# by literals, which the regex engine skips to with a byte search, where the patterns on the text test a
# character class at every position (~5x the cost). No label or separator character is among "0.@!".
_NAME_OPENING_MARKS = b"Aa"
_NOT_BEFORE_NAME_MARKS = re.compile(rb"[0.@!]")
# `_GIVEN_ALONE` on the marks: `[\w.]` before it and `[\w@]` after it are the classes "Aa0_" and "." or "@".
_GIVEN_ALONE_MARKS = re.compile(rb"A(?<![Aa0_.]A)a+(?![Aa0_@])")
_MASKED = re.compile(r"(?<!\w)[A-Z]\*{2,}(?:\s+[A-Z]\*{2,})?(?!\w)")

# Words that follow a capitalised word without making it a surname ("Janet Sold", sentence-initial pairs).
_NOT_NAMES = _wordset(
    """the a an and or but if of in on at to for from with by is are was were be has have had this that these
    those it its he she they we you i my your his her our their patient customer client user name date
    street avenue road phone email account number record report please thank thanks hello hi dear
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december"""
)


_PERSON_SHAPE = re.compile(
    rf"{_NAME_WORD}(?:[ \t]+(?:[{_UP}]\.?|{_PARTICLE}))?[ \t]+{_NAME_WORD}(?:[ \t]+{_NAME_WORD})?"
)
_INITIAL = re.compile(rf"[ \t][{_UP}]\.?[ \t]")
# Words that make a capitalised pair an organisation or a place, not a person.
_ORG_WORDS = _wordset(
    """inc ltd llc corp co company bank university college school hospital group club association agency
    foundation institute society church city county state street road avenue park lake river mountain hotel
    restaurant cafe bakery store shop market airlines systems solutions services technologies labs hills heights
    valley beach springs falls island bay port village town center centre"""
)


def person_shaped(span: str) -> bool:
    """Is a span another tagger called an organisation or a place shaped like a person's name? "Given Family"
    with a known given name, or a name with a middle initial ("Faina D. Yefremova"), and no organisation word."""
    if _PERSON_SHAPE.fullmatch(span) is None:
        return False
    words = span.replace(".", " ").split()
    if any(w.lower() in _ORG_WORDS or w.lower() in _NOT_NAMES for w in words):
        return False
    return words[0].lower() in _GIVEN or _INITIAL.search(span) is not None


def _strip_trailing(text: str, start: int, end: int) -> tuple[int, int]:
    """Drop trailing words that cannot be part of a name ("John Smith Sold" -> "John Smith")."""
    parts = text[start:end].split()
    while len(parts) > 1 and parts[-1].lower() in _NOT_NAMES:
        parts.pop()
    last = text.rfind(parts[-1], start, end)
    return start, last + len(parts[-1])


def _label_matches(text: str, scan: Scan | None = None, marks: bytes | None = None) -> Iterator[re.Match[str]]:
    """`marks`: `class_marks(text)`, when the caller has them."""
    starts = (scan or Scan.of(text)).positions(_LABEL_SET)
    if starts is None:
        return _LABEL.finditer(text)
    return matches_at(_LABEL, text, _label_starts(text, starts, marks))


def _label_starts(text: str, starts: list[int], marks: bytes | None = None) -> list[int]:
    """The sorted `starts` where a `_LABEL` match can start: a name opening (`_NAME_OPENING`) at or after it,
    and no character `_NOT_BEFORE_NAME` finds before that. Both searches go on from where the last one ended
    (the next opening after one start is the next after a later start it lies beyond), so a text is read
    about once whatever the number of starts. With the text's class marks, searched there."""
    if not starts:
        return starts
    out: list[int] = []
    opening = stop = -1  # the next name opening and the next character no label or separator holds
    for p in starts:
        if opening < p:
            if marks is not None:
                opening = marks.find(_NAME_OPENING_MARKS, p)
            else:
                m = _NAME_OPENING.search(text, p)
                opening = -1 if m is None else m.start()
            if opening < 0:
                break  # no name after this start, nor after any later one
        if stop < p:
            if marks is not None:
                mark = _NOT_BEFORE_NAME_MARKS.search(marks, p)
                stop = len(text) if mark is None else mark.start()
            else:
                m = _NOT_BEFORE_NAME.search(text, p)
                stop = len(text) if m is None else m.start()
        if opening <= stop:
            out.append(p)
    return out


def honorific_matches(text: str, scan: Scan | None = None) -> Iterator[re.Match[str]]:
    starts = (scan or Scan.of(text)).positions(_HONORIFIC_SET)
    assert starts is not None  # a cased set always has its positions
    return matches_at(_HONORIFIC, text, starts)


def _given_alone_spans(text: str, marks: bytes | None = None) -> list[tuple[int, int]]:
    """The spans of `_GIVEN_ALONE`'s matches that are common given names. `marks`: `class_marks(text)`."""
    if marks is None:
        return [m.span() for m in _GIVEN_ALONE.finditer(text) if m.group() in _GIVEN_CAPITALISED]
    spans = map(re.Match.span, _GIVEN_ALONE_MARKS.finditer(marks))
    return [(start, end) for start, end in spans if text[start:end] in _GIVEN_CAPITALISED]


def names(text: str, scan: Scan | None = None) -> Iterator[Candidate]:
    scan = scan or Scan.of(text)
    marks = scan.marks
    for m in honorific_matches(text, scan):
        yield Candidate("PERSON", *_strip_trailing(text, *m.span("name")), 0.8, "honorific")
    for m in _label_matches(text, scan, marks):
        if m.group("name").lower() not in _NOT_NAMES:
            yield Candidate("PERSON", *_strip_trailing(text, *m.span("name")), 0.85, "label")
    # Most capitalised words are no given name: filtered in a comprehension, not a turn of this generator each.
    for start, end in _given_alone_spans(text, marks):
        family = _FAMILY_AFTER.match(text, end)
        if family and family.group("family").lower() not in _NOT_NAMES:
            yield Candidate("PERSON", start, family.end(), 0.75, "given_family")
        else:
            yield Candidate("PERSON", start, end, 0.5, "given")
    if "**" in text:
        for m in _MASKED.finditer(text):
            yield Candidate("PERSON", m.start(), m.end(), 0.6, "masked")


# Countries, US states, regions and major cities (data/pii/places.txt): a name-shaped word that is one of these
# is a place when nothing marks it as a person ("Weather in Paris?", "the capital of France").
_PLACES = frozenset(
    resources.files("hybridgate.data").joinpath("pii/places.txt").read_text(encoding="utf-8").splitlines()
) - {""}
# Census given names that are mostly ordinary words in running text ("Art", "Bill", "Grant", "Moon").
_WORD_NAMES = _wordset("art bill gene grant max miles min ray moon royal al sun star")
_ORDINARY = _NOT_NAMES | _WORD_NAMES
# Right before a word, these make it a place ("in Austin", "near Florence"). "to", "at" and "from" are left
# out: they are as common before a person ("shouted at Gary", "a letter from Tyler") as before a place.
_LOCATIVE = re.compile(r"(?i)(?<![a-z])(?:in|near|across|around|visit(?:ed|ing)?|capital of|city of)\s+$")
_STATE_AFTER = re.compile(rf",[ \t]*(?P<place>{_NAME_WORD}(?:[ \t]+{_NAME_WORD})?)")
# Enumerated options ("A. Wrong", "(c) Valid", "II. Bending") and list bullets: a tagger reads them as names.
_ENUMERATOR = re.compile(r"^(?:\(?[A-Za-z]\)|[A-Z]\.|[IVX]+\.|[-*•>~])\s*")
# Characters no name holds: a tagger's span with one is a link, a formula or a line of code.
_NOT_IN_NAME = re.compile(r"[\d\n:/@\"=<>(){}\[\]←→+*#|]")


def is_place(text: str, start: int, end: int) -> bool:
    """Is the name-shaped span text[start:end] a place here: a known place, a given name after a locative word
    ("in Marion"), or followed by ", <known place>" ("Tyler, Texas")?"""
    span = text[start:end]
    if span in _PLACES:
        return True
    first = span.split()[0]
    if (first in _GIVEN_CAPITALISED or first in _PLACES) and _LOCATIVE.search(text[max(0, start - 16) : start]):
        return True
    m = _STATE_AFTER.match(text, end)
    return m is not None and m.group("place") in _PLACES


def plausible_name(text: str, start: int, end: int) -> bool:
    """Could text[start:end] be a person's name? No enumerator, line break, digit or markup; at least one word
    shaped like a name (capitalised, unless the whole text is lower-case) that is not an ordinary word; not a
    place."""
    span = text[start:end].strip()
    if not span or _ENUMERATOR.match(span) or _NOT_IN_NAME.search(span):
        return False
    words = [w.removesuffix("'s").strip(".,;!?'") for w in span.split()]
    words = [w for w in words if len(w) > 1 and w.lower() not in _ORDINARY]
    # A lower-case name counts only in a text written all in lower case (checked last: it reads the whole text).
    if not any(w[0].isupper() for w in words) and (not words or text.lower() != text):
        return False
    start = text.find(span, start)
    return not is_place(text, start, start + len(span.removesuffix("'s")))
