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

from hybridgate.detect.pii.scopes import Scope, Window, ascii_fold, count_digits


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


class _Automaton:
    """One automaton over the literals of the lower-case sets (or of the cased ones), and for each literal the
    sets it serves: (sets that take every occurrence, sets that take word starts only)."""

    def __init__(self, cased: bool) -> None:
        targets: dict[str, tuple[list[int], list[int]]] = {}
        for s in _SETS:
            if s.cased == cased:
                for lit in _shortest(s.literals):
                    targets.setdefault(lit, ([], []))[s.word_start].append(s.bit)
        self.literals = list(targets)
        self.targets = [(tuple(anywhere), tuple(word)) for anywhere, word in targets.values()]
        # DFA: the fastest scan (~3x the default NFA here); the automaton is small, built once per process.
        self.ac = AhoCorasick(self.literals, implementation=Implementation.DFA)

    def find(self, text: str, hits: tuple[list[int], ...]) -> None:
        targets = self.targets
        for index, start, _ in self.ac.find_matches_as_indexes(text, overlapping=True):
            anywhere, word = targets[index]
            for bit in anywhere:
                hits[bit].append(start)
            if word and not (start and "a" <= text[start - 1] <= "z"):
                for bit in word:
                    hits[bit].append(start)


# (lower-case automaton, cased automaton, how many sets they serve): built on the first scan.
_automata: tuple[_Automaton, _Automaton, int] | None = None


@dataclass(frozen=True, slots=True)
class Scan:
    """One text's literal occurrences, per registered set (`low`: `ascii_fold(text)`), how many digits it holds,
    and the scope windows computed for it so far: what the finders of one text share."""

    text: str
    low: str | None
    hits: tuple[list[int], ...]
    _windows: dict[int, list[Window]] = field(default_factory=dict)
    # Whitespace-free tokens of 12+ characters, when known (`Normalized.long_tokens`: the same whitespace).
    long_tokens: list[tuple[int, int]] | None = None
    # How many characters `\d` matches in the text: a pattern needing more digits cannot match, and its finder
    # is skipped (most prose holds few digits; many identifiers need 4-12). Counted when not given (-1).
    digits: int = -1

    def __post_init__(self) -> None:
        if self.digits < 0:
            object.__setattr__(self, "digits", count_digits(self.text))

    @classmethod
    def of(cls, text: str, long_tokens: list[tuple[int, int]] | None = None, digits: int | None = None) -> Scan:
        """`digits`: `count_digits(text)`, when the caller has it."""
        global _automata
        automata = _automata
        if automata is None:
            automata = _automata = (_Automaton(False), _Automaton(True), len(_SETS))
        lower, cased, sets = automata
        hits: tuple[list[int], ...] = tuple([[] for _ in range(sets)])
        low = ascii_fold(text)
        if low is not None:  # else ("İ", "K" (Kelvin)) callers of lower-case sets run their full regex scan
            lower.find(low, hits)
        cased.find(text, hits)
        for h in hits:
            if len(h) > 1:
                h.sort()  # overlapping matches come out by end position
        return cls(text, low, hits, long_tokens=long_tokens, digits=-1 if digits is None else digits)

    def positions(self, s: LiteralSet) -> list[int] | None:
        return None if self.low is None and not s.cased else self.hits[s.bit]

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
