"""The observer interface: one record per finished request, handed over without waiting."""

from __future__ import annotations

from typing import Protocol

from hybridgate.store.records import UsageRecord


class Observer(Protocol):
    def observe(self, record: UsageRecord) -> None:
        """Must not block or raise: enqueue and return."""
        ...


class ListObserver:
    """Keeps records in memory: the fake for tests."""

    def __init__(self) -> None:
        self.records: list[UsageRecord] = []

    def observe(self, record: UsageRecord) -> None:
        self.records.append(record)
