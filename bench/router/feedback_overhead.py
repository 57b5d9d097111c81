"""Hot-path cost of the feedback hook: capture after detection, observe after the request.

    .venv/bin/python bench/router/feedback_overhead.py

Measures, with the packaged artifact: the scorer alone, the recent-features capture (at capacity,
so every call also evicts), the observer update, and the memory a full map holds.
"""

from __future__ import annotations

import gc
import time
import tracemalloc

import numpy as np

from hybridgate.auth.principal import Principal
from hybridgate.detect.complexity import load_default_scorer
from hybridgate.detect.signals import Signals
from hybridgate.labels import DataClass
from hybridgate.router.recent import DEFAULT_CAPACITY, RecentRequests
from hybridgate.store.records import UsageRecord

N = 20_000


def per_call_us(fn: object, n: int) -> str:
    samples = np.empty(n)
    for i in range(n):
        t0 = time.perf_counter_ns()
        fn(i)  # type: ignore[operator]
        samples[i] = time.perf_counter_ns() - t0
    p50, p99 = np.percentile(samples, [50, 99]) / 1000
    return f"p50 {p50:.2f} us  p99 {p99:.2f} us"


def main() -> None:
    scorer = load_default_scorer()
    msgs = [{"role": "user", "content": "Explain step by step why the sum of two odd numbers is even."}]
    print("scorer.score            ", per_call_us(lambda i: scorer.score(msgs), 5000))
    recent = RecentRequests(scorer)
    principal = Principal(key_id="k1", name="k1")
    signals = Signals(DataClass.PUBLIC, complexity=0.4)
    scorer.score(msgs)
    gc.collect()
    tracemalloc.start()
    for i in range(DEFAULT_CAPACITY):  # fill to capacity with distinct vectors, as real traffic would
        scorer.last_vector = scorer.last_vector.copy() if scorer.last_vector is not None else None
        recent.capture(f"hg-{i:024x}", principal, signals)
    current, _ = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"map at capacity          {len(recent)} entries, {current / 2**20:.1f} MiB traced")
    print("capture (evicting)      ", per_call_us(lambda i: recent.capture(f"hg-x{i:023x}", principal, signals), N))
    recs = [
        UsageRecord(
            0.0, f"hg-x{i:023x}", None, None, None, "self_hosted", "local", "self_hosted", "m", "d", "public", 200
        )
        for i in range(N)
    ]
    print("observe                 ", per_call_us(lambda i: recent.observe(recs[i]), N))


if __name__ == "__main__":
    main()
