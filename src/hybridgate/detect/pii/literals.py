"""Where the literal prefilters' literals occur in a text, found for all of them in one pass.

Several recognisers run their (slow, case-insensitive) regex only where one of a few dozen literals starts
(see `scopes.matches_at`), or at all only when one occurs. Looking for each literal with `str.find` costs
~35 us per KB and set; one Aho-Corasick automaton over every set's literals reads the text once (~5 us per KB)
and reports every occurrence of every literal, overlapping ones included, so each set gets exactly the
positions a `find` loop per literal would give.

    LABELS = literal_set(("mrn", "dob", ...))   # module level
    scan = Scan.of(text)                        # once per text, shared by the finders
    scan.positions(LABELS)                      # sorted starts (None: lower-case set, text has no ASCII fold)
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ahocorasick_rs import AhoCorasick, Implementation

from hybridgate.detect.pii.scopes import Scope, Window, ascii_fold, class_marks, count_digits
from hybridgate.frozen import quick_init


@dataclass(frozen=True, slots=True)
class LiteralSet:
    """Literals looked for in the lower-cased text (lower-case ASCII), or, `cased`, in the text as it is.
    `word_start` (lower-case sets): drop occurrences right after an ASCII letter, for a regex that opens with
    `(?<![a-z])` under `(?i)` - it cannot match there."""

    bit: int
    literals: tuple[str, ...]
    word_start: bool
    cased: bool


_SETS: list[LiteralSet] = []


def literal_set(literals: tuple[str, ...], *, word_start: bool = False, cased: bool = False) -> LiteralSet:
    """Register a set (module level). One registered after a scan (a module imported late) makes the next scan
    rebuild the automata."""
    global _automata
    _automata = None
    if word_start and cased:
        raise ValueError("word_start is for lower-case sets")
    s = LiteralSet(len(_SETS), literals, word_start, cased)
    _SETS.append(s)
    return s


def _shortest(literals: tuple[str, ...]) -> tuple[str, ...]:
    """The literals without those another one starts with ("call" finds every start of "called"): same starts,
    and no start reported twice for one set."""
    return tuple(dict.fromkeys(a for a in literals if not any(b != a and a.startswith(b) for b in literals)))


_SMALL_ASCII = frozenset("abcdefghijklmnopqrstuvwxyz")  # `"a" <= ch <= "z"`, by one set lookup


class _Automaton:
    """One automaton over the literals of the sets it serves, and for each literal those sets: (sets that take
    every occurrence, sets that take word starts only, (set, literal as written) of the cased sets).

    `fold_cased`: the cased sets' literals are looked for lower-cased too, in the lower-cased text, and an
    occurrence counts for a cased set where the text itself holds the literal as written. Every occurrence of
    a cased literal is then found (lower-casing the text keeps its offsets, see `ascii_fold`, and maps the
    literal's ASCII characters as it maps the literal's): one pass over the text serves every set, where a
    second automaton would read it again (~25 us per KB). The lower-cased forms add a few occurrences to test
    ("ask" for "SK"), far fewer than a text has characters."""

    def __init__(self, sets: list[LiteralSet], fold_cased: bool) -> None:
        bits: dict[str, tuple[list[int], list[int]]] = {}  # literal -> (every occurrence, word starts only)
        cased: dict[str, list[tuple[int, str]]] = {}  # lower-cased literal -> (set, literal as written)
        for s in sets:
            for lit in _shortest(s.literals):
                if s.cased and fold_cased:
                    bits.setdefault(lit.lower(), ([], []))
                    cased.setdefault(lit.lower(), []).append((s.bit, lit))
                else:
                    bits.setdefault(lit, ([], []))[s.word_start].append(s.bit)
        self.literals = list(bits)
        self.targets = [
            (tuple(anywhere), tuple(word), tuple(cased.get(lit, ()))) for lit, (anywhere, word) in bits.items()
        ]
        # DFA: the fastest scan (~3x the default NFA here); the automaton is small, built once per process.
        self.ac = AhoCorasick(self.literals, implementation=Implementation.DFA)

    def find(self, text: str, hits: list[list[int] | None], cased_text: str = "") -> None:
        """`cased_text`: the text as written, when `text` is its lower-cased form (`fold_cased`). `hits`: a set's
        starts at its bit, None until it has one (most sets of a text have none: no empty list made for them)."""
        targets = self.targets
        for index, start, _ in self.ac.find_matches_as_indexes(text, overlapping=True):
            anywhere, word, cased = targets[index]
            # Each loop behind a test: most literals serve one kind of set, and an empty loop costs more.
            if anywhere:
                for bit in anywhere:
                    if (h := hits[bit]) is None:
                        hits[bit] = [start]
                    else:
                        h.append(start)
            if word and (not start or text[start - 1] not in _SMALL_ASCII):
                for bit in word:
                    if (h := hits[bit]) is None:
                        hits[bit] = [start]
                    else:
                        h.append(start)
            if cased:
                for bit, lit in cased:
                    if cased_text.startswith(lit, start):
                        if (h := hits[bit]) is None:
                            hits[bit] = [start]
                        else:
                            h.append(start)


# (automaton of every set on the lower-cased text, automaton of the cased sets on the text as written, how many
# sets they serve): built on the first scan.
_automata: tuple[_Automaton, _Automaton, int] | None = None


@quick_init  # built for every text scanned
@dataclass(frozen=True, slots=True)
class Scan:
    """One text's literal occurrences, per registered set (`low`: `ascii_fold(text)`), how many digits it holds,
    and the scope windows computed for it so far: what the finders of one text share."""

    text: str
    low: str | None
    hits: list[list[int] | None]  # per registered set (at its bit), its sorted starts; None: none
    # How many characters `\d` matches in the text (`count_digits`): a pattern needing more digits cannot match,
    # and its finder is skipped (most prose holds few digits; many identifiers need 4-12).
    digits: int
    _windows: dict[int, list[Window]] = field(default_factory=dict)
    # Whitespace-free tokens of 12+ characters, when known (`Normalized.long_tokens`: the same whitespace).
    long_tokens: list[tuple[int, int]] | None = None
    # `class_marks(text)`: the text's character classes, for an ASCII text (None otherwise, or when not made).
    marks: bytes | None = None

    @classmethod
    def of(
        cls,
        text: str,
        long_tokens: list[tuple[int, int]] | None = None,
        digits: int | None = None,
        marks: bytes | None = None,
    ) -> Scan:
        """`digits`: `count_digits(text)`, and `marks`: `class_marks(text)`, when the caller has them."""
        global _automata
        automata = _automata
        if automata is None:
            cased_sets = [s for s in _SETS if s.cased]
            automata = _automata = (_Automaton(_SETS, True), _Automaton(cased_sets, False), len(_SETS))
        every, cased, sets = automata
        hits: list[list[int] | None] = [None] * sets  # a list only for a set with a hit (`_Automaton.find`)
        low = ascii_fold(text)
        if low is not None:
            every.find(low, hits, text)
        else:  # ("İ", "K" (Kelvin)) callers of lower-case sets run their full regex scan; cased sets' hits only
            cased.find(text, hits)
        for h in filter(None, hits):  # the few sets with hits (None: none), picked in C
            h.sort()  # overlapping matches come out by end position
        if marks is None:
            marks = class_marks(text)
        if digits is None:
            digits = count_digits(text) if marks is None else marks.count(b"0")
        return cls(text, low, hits, digits, long_tokens=long_tokens, marks=marks)

    def positions(self, s: LiteralSet) -> list[int] | None:
        """The set's sorted starts (a new empty list when it has none); None: a lower-case set, and the text has
        no ASCII fold."""
        if self.low is None and not s.cased:
            return None
        return self.hits[s.bit] or []

    def windows(self, scope: Scope) -> list[Window]:
        """`scope.windows(text)`, computed once for every finder that uses the scope (scopes are module-level)."""
        found = self._windows.get(id(scope))
        if found is None:
            gate = scope.gate
            if gate is not None and not gate.open(self.text, self.digits):
                found = self._windows[id(scope)] = []  # what `scope.windows` finds: its regex cannot match
            else:
                found = self._windows[id(scope)] = scope.windows(self.text)
        return found
