"""The sensitive-data detector: a cheap tier (structured ids with validators, secrets, name/address
heuristics) that always runs, and an optional NER tier run only when it can change the decision.

    build_detector(cfg)      -> Detector       cheap tier, pure, no spaCy import
    build_ner_detector(cfg)  -> Detector|None  spaCy tier, lazily loaded; None when spaCy is not installed
"""

from __future__ import annotations

from hybridgate.detect.findings import Detector
from hybridgate.detect.pii.detector import PiiDetector
from hybridgate.detect.pii.ner import NerDetector, ner_available
from hybridgate.settings import DetectionConfig

__all__ = ["NerDetector", "PiiDetector", "build_detector", "build_ner_detector"]


def build_detector(cfg: DetectionConfig) -> Detector:
    return PiiDetector(cfg.names_policy)


def build_ner_detector(cfg: DetectionConfig) -> Detector | None:
    """The NER tier, or None when names are off or the model package is not installed."""
    if cfg.names_policy == "off" or not ner_available():
        return None
    return NerDetector(cfg.names_policy)
