"""The evaluation sets in ../shared/data/pii, as (text, gold spans in canonical classes)."""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass, field
from pathlib import Path

DATA = Path("/work/shared/data/pii")

# Canonical classes (PII_EVAL.md). None: context-only, never gating, not scored for recall.
ID_CLASSES = (
    "EMAIL",
    "PHONE",
    "NATIONAL_ID",
    "CREDIT_CARD",
    "BANK",
    "DOB",
    "MRN",
    "IP",
    "SECRET",
    "USERNAME",
    "OTHER_ID",
)
NAME_CLASSES = ("PERSON", "ADDRESS")

GOLD_MAP: dict[str, str | None] = {
    "PERSON": "PERSON", "PERSON_NAME": "PERSON", "STREET_ADDRESS": "ADDRESS",
    "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE",
    "US_SSN": "NATIONAL_ID", "SOCIAL_SECURITY_NUMBER": "NATIONAL_ID", "NATIONAL_ID_NUMBER": "NATIONAL_ID",
    "TAX_ID": "NATIONAL_ID",
    "CREDIT_CARD": "CREDIT_CARD", "CREDIT_CARD_NUMBER": "CREDIT_CARD",
    "IBAN_CODE": "BANK", "IBAN": "BANK", "BANK_ACCOUNT_NUMBER": "BANK", "BANK_ROUTING_NUMBER": "BANK",
    "SWIFT_BIC_CODE": "BANK",
    "DATE_OF_BIRTH": "DOB",
    "MEDICAL_RECORD_NUMBER": "MRN", "HEALTH_INSURANCE_ID": "MRN", "INSURANCE_POLICY_NUMBER": "MRN",
    "PRESCRIPTION_NUMBER": "MRN",
    "IP_ADDRESS": "IP",
    "API_KEY": "SECRET", "PASSWORD": "SECRET", "AUTHENTICATION_TOKEN": "SECRET",
    "USERNAME": "USERNAME", "SOCIAL_MEDIA_HANDLE": "USERNAME",
    "US_DRIVER_LICENSE": "OTHER_ID", "DRIVER_LICENSE_NUMBER": "OTHER_ID", "PASSPORT_NUMBER": "OTHER_ID",
    "NPI_NUMBER": "OTHER_ID", "DEA_NUMBER": "OTHER_ID", "EMPLOYEE_ID": "OTHER_ID", "VISA_NUMBER": "OTHER_ID",
    "MAC_ADDRESS": "OTHER_ID", "BIOMETRIC_ID": "OTHER_ID", "DEVICE_IDENTIFIER": "OTHER_ID",
    "VEHICLE_IDENTIFICATION_NUMBER": "OTHER_ID", "LICENSE_PLATE": "OTHER_ID", "CRYPTOCURRENCY_ADDRESS": "OTHER_ID",
}  # fmt: skip


@dataclass
class Sample:
    id: str
    dataset: str
    text: str
    spans: list[tuple[int, int, str | None]] = field(default_factory=list)  # class None: context-only
    techniques: tuple[str, ...] = ()

    def gold(self, classes: tuple[str, ...]) -> list[tuple[int, int, str]]:
        return [(s, e, c) for s, e, c in self.spans if c in classes]


def _presidio(limit: int | None) -> list[Sample]:
    rows = json.loads((DATA / "presidio_research/synth_dataset_v2.json").read_text())[:limit]
    return [
        Sample(f"presidio-{i}", "presidio", r["full_text"],
               [(s["start_position"], s["end_position"], GOLD_MAP.get(s["entity_type"])) for s in r["spans"]])
        for i, r in enumerate(rows)
    ]  # fmt: skip


def _pii_anon(split: str, limit: int | None) -> list[Sample]:
    out: list[Sample] = []
    with gzip.open(DATA / f"pii_anon_eval_data/test_{split}.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            if r.get("language") != "en":
                continue  # both detectors are English-only; the other languages are reported as skipped
            adv = r.get("adversarial") or {}
            spans = [(a["start"], a["end"], GOLD_MAP.get(a["entity_type"])) for a in r["annotations"]]
            out.append(Sample(r["record_id"], split, r["text"], spans, tuple(adv.get("techniques") or ())))
            if limit and len(out) >= limit:
                break
    return out


def _gsm8k(limit: int | None) -> list[Sample]:
    with (DATA / "negatives_gsm8k/test.jsonl").open() as f:
        rows = [json.loads(line)["question"] for line in f][:limit]
    return [Sample(f"gsm8k-{i}", "gsm8k", q) for i, q in enumerate(rows)]


def load_all(limit: int | None = None) -> dict[str, list[Sample]]:
    return {
        "presidio": _presidio(limit),
        "technology": _pii_anon("technology", limit),
        "clinical": _pii_anon("clinical", limit),
        "adversarial": _pii_anon("adversarial", limit),
        "gsm8k": _gsm8k(limit),
    }
