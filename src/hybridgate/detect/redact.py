"""Reversible redaction: swap sensitive values for stable placeholders before a request leaves, and put the
originals back into the response - whole, or streamed in deltas that may cut a placeholder anywhere.

The placeholder map is the only copy of the originals: it stays in the gateway's memory for the duration of
the request and must never be logged, traced, cached or sent anywhere.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from hybridgate.detect.extract import request_fields
from hybridgate.detect.findings import Finding

# Keys whose strings carry text a model reads; anything else (role, ids, types) is left alone.
_TEXT_ROOTS = ("system", "messages", "prompt", "input", "suffix")
_SKIP_KEYS = frozenset({"role", "type", "id", "tool_call_id", "model", "cache_control", "media_type"})
_LABELS = {"EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE", "US_SSN": "SSN", "IBAN_CODE": "IBAN"}
PLACEHOLDER = re.compile(r"\[[A-Z][A-Z_]*_\d+\]")


@dataclass(frozen=True, slots=True)
class Redaction:
    body: dict[str, Any]
    mapping: dict[str, str]  # placeholder -> original value; never log it


def _label(finding_type: str) -> str:
    return _LABELS.get(finding_type, re.sub(r"[^A-Z_]", "_", finding_type.upper()) or "PII")


def _values(body: Mapping[str, Any], findings: Iterable[Finding]) -> list[tuple[str, str]]:
    """(type, original value) for every finding, in request order, read from the field it was found in."""
    texts: dict[tuple[int | None, str | None], str] = {(tf.message, tf.field): tf.text for tf in request_fields(body)}
    out: list[tuple[str, str]] = []
    for f in findings:
        text = texts.get((f.message, f.field))
        if text is not None and 0 <= f.start < f.end <= len(text):
            value = text[f.start : f.end]
            if value.strip():
                out.append((f.type, value))
    return out


def _assign(values: list[tuple[str, str]], taken: str) -> dict[str, str]:
    """value -> placeholder; the same value always gets the same placeholder, and none collides with the text."""
    by_value: dict[str, str] = {}
    counters: dict[str, int] = {}
    for typ, value in values:
        if value in by_value:
            continue
        label = _label(typ)
        n = counters.get(label, 0) + 1
        while f"[{label}_{n}]" in taken:
            n += 1
        counters[label] = n
        by_value[value] = f"[{label}_{n}]"
    return by_value


def _replace(obj: Any, pattern: re.Pattern[str], by_value: Mapping[str, str]) -> Any:
    if isinstance(obj, str):
        return pattern.sub(lambda m: by_value[m.group()], obj)
    if isinstance(obj, int | float) and not isinstance(obj, bool) and pattern.search(str(obj)):
        # A number in a structured tool input ({"card": 4111111111111111}) is found in its text form;
        # left as a number it would leave unredacted. It becomes the redacted string instead.
        return pattern.sub(lambda m: by_value[m.group()], str(obj))
    if isinstance(obj, list):
        return [_replace(x, pattern, by_value) for x in obj]
    if isinstance(obj, dict):
        return {k: v if k in _SKIP_KEYS else _replace(v, pattern, by_value) for k, v in obj.items()}
    return obj


def redact_request(body: Mapping[str, Any], findings: Iterable[Finding]) -> Redaction:
    """A copy of `body` with every occurrence of every found value replaced, in every text the model reads."""
    all_text = "\n".join(tf.text for tf in request_fields(body))
    by_value = _assign(_values(body, findings), all_text)
    out = copy.deepcopy(dict(body))
    if not by_value:
        return Redaction(out, {})
    # Longest first, so a value containing another is replaced whole.
    pattern = re.compile("|".join(re.escape(v) for v in sorted(by_value, key=len, reverse=True)))
    for key in _TEXT_ROOTS:
        if key in out:
            out[key] = _replace(out[key], pattern, by_value)
    return Redaction(out, {p: v for v, p in by_value.items()})


class Restorer:
    """Puts original values back. `feed()` is for streams: it holds back only a tail that could still grow
    into a placeholder ("[EMA"), and emits everything else at once."""

    def __init__(self, mapping: Mapping[str, str]) -> None:
        self._mapping = dict(mapping)
        self._prefixes = {p[:i] for p in self._mapping for i in range(1, len(p))}
        self._pattern = (
            re.compile("|".join(re.escape(p) for p in sorted(self._mapping, key=len, reverse=True)))
            if self._mapping
            else None
        )
        self._pending = ""

    def fork(self) -> Restorer:
        """A fresh restorer with the same mapping, for another independent stream of text."""
        return Restorer(self._mapping)

    def restore(self, text: str) -> str:
        if self._pattern is None:
            return text
        return self._pattern.sub(lambda m: self._mapping[m.group()], text)

    def restore_value(self, obj: Any) -> Any:
        """Every string in a decoded JSON value (tool-call arguments, content parts)."""
        if isinstance(obj, str):
            return self.restore(obj)
        if isinstance(obj, list):
            return [self.restore_value(x) for x in obj]
        if isinstance(obj, dict):
            return {k: self.restore_value(v) for k, v in obj.items()}
        return obj

    def feed(self, delta: str) -> str:
        text = self._pending + delta
        cut = text.rfind("[")
        if cut >= 0 and text[cut:] in self._prefixes:
            self._pending = text[cut:]
            return self.restore(text[:cut])
        self._pending = ""
        return self.restore(text)

    def flush(self) -> str:
        """End of stream: whatever was held back was not a placeholder after all."""
        rest, self._pending = self._pending, ""
        return rest
