"""What `hybridgate queue stats` shows: the queue's own counters and the job store's view."""

from __future__ import annotations

from typing import Any

from hybridgate.jobs.config import JobsConfig
from hybridgate.jobs.db import Db
from hybridgate.jobs.runtime import db_path, open_queue
from hybridgate.jobs.store import JobStore


async def gather_stats(cfg: JobsConfig) -> dict[str, Any]:
    db = Db(db_path(cfg))
    try:
        queue = await open_queue(cfg, db)
        try:
            stats = (await queue.stats()).as_dict()
            dead = await queue.dead_letters(20)
        finally:
            await queue.aclose()
        JobStore(db)  # creates the table on a fresh data dir
        rows = await db.run(lambda c: c.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())
        return {"queue": stats, "jobs": {r[0]: int(r[1]) for r in rows}, "dead_letters": dead}
    finally:
        db.close()
