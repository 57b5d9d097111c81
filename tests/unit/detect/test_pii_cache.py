"""The cheap tier's findings cache: repeated texts (system prompts, earlier turns) answer from it, with the
same findings as a fresh scan; it is bounded and holds no text."""

from __future__ import annotations

from hybridgate.detect.pii import PiiDetector

TEXTS = [
    "You are a careful assistant for an engineering team. Answer concisely and cite the section.",
    "Patient: Dorothy Robinson MRN: MRN-9205223 DOB: 1967-05-10 phone +1 (954) 487-7934",
    "password: hunter2! and card 4111 1111 1111 1111",
    "",
    "Weather in Paris?",
]


def test_repeated_texts_are_answered_from_the_cache_with_the_same_findings() -> None:
    det = PiiDetector("all")
    fresh = [det.scan(t) for t in TEXTS]
    assert [det.detect(t) for t in TEXTS] == fresh  # first pass: scanned, then kept
    calls: list[str] = []
    scan = det.scan
    det.scan = lambda text: calls.append(text) or scan(text)  # type: ignore[method-assign]
    again = [det.detect(t) for t in TEXTS]
    assert again == fresh
    assert calls == []  # every answer came from the cache
    again[1].clear()  # a caller may change the list it gets: the cache keeps its own
    assert det.detect(TEXTS[1]) == fresh[1]


def test_cache_is_bounded_and_keyed_by_digest() -> None:
    det = PiiDetector(cached_texts=3)
    for i in range(10):
        det.detect(f"text number {i} about nothing in particular")
        assert len(det._cache) <= 3
    assert all(isinstance(k, bytes) and len(k) == 16 for k in det._cache)  # digests, never the text


def test_no_cache_when_disabled() -> None:
    det = PiiDetector(cached_texts=0)
    assert det.detect(TEXTS[1]) == det.scan(TEXTS[1])
    assert det._cache == {}


def test_texts_with_many_findings_are_not_kept() -> None:
    det = PiiDetector()
    many = " ".join(f"user{i}@example.com" for i in range(40))
    assert len(det.detect(many)) == 40
    assert det._cache == {}
