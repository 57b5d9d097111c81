"""From findings to a data class, and from a request body to findings.

`classify` is the configurable mapping (finding type -> data class); `scan_request` runs a detector over
every text a request carries (all roles, tool-call arguments, content parts, system prompt) and tags each
finding with where it was found. Offsets stay relative to that field's text.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from hybridgate.detect.extract import request_fields
from hybridgate.detect.findings import Detector, Finding
from hybridgate.labels import DataClass, highest
from hybridgate.settings import DetectionConfig

# Used when the configuration does not list the type: credentials are never less than restricted.
BUILTIN_CLASSES: dict[str, DataClass] = {"SECRET": DataClass.RESTRICTED}


def class_of(finding_type: str, cfg: DetectionConfig) -> DataClass:
    if finding_type in cfg.classes:
        return cfg.classes[finding_type]
    return BUILTIN_CLASSES.get(finding_type, cfg.default_class)


def classify(findings: Iterable[Finding], cfg: DetectionConfig) -> DataClass:
    """The highest class any finding maps to; no findings -> public."""
    return highest(*(class_of(f.type, cfg) for f in findings))


def scan_request(body: Mapping[str, Any], detector: Detector) -> list[Finding]:
    """Every finding in every text of the request, located by message index and field."""
    out: list[Finding] = []
    for tf in request_fields(body):
        if tf.text:
            found = detector.detect(tf.text)
            if found:  # most texts have none: no generator to build for them
                out.extend(f.located(tf.message, tf.field) for f in found)
    return out
