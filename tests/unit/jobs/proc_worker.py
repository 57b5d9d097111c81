"""A `hybridgate worker` process for the crash tests: the real worker runtime, plus a usage ledger
(one fsynced JSON line per usage record) so the test can count what was billed across processes.

    python -m tests.unit.jobs.proc_worker CONFIG.yaml LEDGER.jsonl CONCURRENCY
"""

from __future__ import annotations

import asyncio
import os
import sys

import orjson

from hybridgate.app import Overrides, build_pipeline
from hybridgate.jobs.standalone import run_worker
from hybridgate.settings import load_settings
from hybridgate.store.records import UsageRecord


class LedgerObserver:
    def __init__(self, path: str) -> None:
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def observe(self, record: UsageRecord) -> None:
        line = orjson.dumps({"request_id": record.request_id, "status": record.status, "pid": os.getpid()})
        os.write(self.fd, line + b"\n")
        os.fsync(self.fd)


def main() -> None:
    config, ledger, concurrency = sys.argv[1], sys.argv[2], int(sys.argv[3])
    settings = load_settings(config)
    ov = Overrides(observers=[LedgerObserver(ledger)])
    asyncio.run(run_worker(settings, lambda: build_pipeline(settings, ov, []), concurrency=concurrency))


if __name__ == "__main__":
    main()
