"""The two orderings the egress boundary is built on: data classes and endpoint trust labels."""

from __future__ import annotations

from enum import Enum


class DataClass(str, Enum):
    """How sensitive a request is. Ordered: a request can only be raised, never lowered."""

    PUBLIC = "public"
    INTERNAL = "internal"
    CONFIDENTIAL = "confidential"
    RESTRICTED = "restricted"

    @property
    def rank(self) -> int:
        return _CLASS_RANK[self]

    def at_least(self, other: DataClass) -> DataClass:
        return self if self.rank >= other.rank else other


_CLASS_RANK = {c: i for i, c in enumerate(DataClass)}


def highest(*classes: DataClass) -> DataClass:
    out = DataClass.PUBLIC
    for c in classes:
        out = out.at_least(c)
    return out


class Trust(str, Enum):
    """Where an endpoint runs, as far as the data it receives is concerned."""

    SELF_HOSTED = "self_hosted"  # our own hardware or VPC: no third-party processor
    DEDICATED = "dedicated"  # managed endpoint under a data-isolation agreement
    EXTERNAL = "external"  # a third-party API


ALL_TRUST: frozenset[Trust] = frozenset(Trust)

# The boundary used when configuration does not say otherwise.
DEFAULT_TRUST_BY_CLASS: dict[DataClass, frozenset[Trust]] = {
    DataClass.PUBLIC: ALL_TRUST,
    DataClass.INTERNAL: ALL_TRUST,
    DataClass.CONFIDENTIAL: frozenset({Trust.SELF_HOSTED}),
    DataClass.RESTRICTED: frozenset({Trust.SELF_HOSTED}),
}
