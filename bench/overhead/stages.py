"""Per-stage CPU cost of the hot path, in-process, on the benchmark's ~1 KB request (no network).

    .venv/bin/python bench/overhead/stages.py [--config bench/overhead/configs/hg-full-noner.yaml]

Times each stage the full pipeline runs per request (PII scan, complexity score and its parts, the
observers, admission) in a tight loop and prints microseconds per call. The PII scan is timed three ways:
the same body every call (its texts then come from the detector's findings cache), every text scanned
afresh, and the realistic mix of a repeated system prompt with a new user message. Complements the py-spy profile
(profile.py): that one says where a loaded worker spends its time, this one what each stage costs alone.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import json
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from run import bodies


def per_call_us(fn: Callable[[], Any], n: int) -> float:
    fn()  # warm caches and lazy imports
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default=str(Path(__file__).parent / "configs" / "hg-full-noner.yaml"))
    ap.add_argument("-n", type=int, default=500, help="calls per stage")
    a = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="hg-stages-"))
    os.environ.setdefault("BENCH_UPSTREAM", "http://127.0.0.1:9")
    os.environ["HYBRIDGATE_DATA_DIR"] = str(tmp / "data")
    from hybridgate.app import Overrides, build_pipeline
    from hybridgate.detect.classify import scan_request
    from hybridgate.detect.extract import request_fields
    from hybridgate.detection import chat_view
    from hybridgate.observe import metrics as prom
    from hybridgate.observe.audit.entry import entry_of, to_body
    from hybridgate.observe.config import LogConfig
    from hybridgate.observe.logging import RequestLogger
    from hybridgate.observe.setup import metrics_observer
    from hybridgate.router.text import request_text
    from hybridgate.settings import load_settings

    settings = load_settings(Path(a.config))
    p = build_pipeline(settings, Overrides(), [])
    body: dict[str, Any] = json.loads(bodies(tmp)["json"].read_text())
    rows: list[tuple[str, float]] = []
    d = p.detection
    det = d.detector
    rows.append(("PII scan (cheap tier), same body each call", per_call_us(lambda: scan_request(body, det), a.n)))
    fresh = getattr(det, "scan", None)  # the detector without its findings cache, where it has one
    if fresh is not None:
        texts = [tf.text for tf in request_fields(body)]
        uncached = SimpleNamespace(name=det.name, detect=fresh)
        rows.append(("  every text new (no cache)", per_call_us(lambda: scan_request(body, uncached), a.n)))
        mix = lambda: [det.detect(texts[0])] + [fresh(t) for t in texts[1:]]  # noqa: E731
        rows.append(("  system prompt repeated, rest new", per_call_us(mix, a.n)))
    if d.scorer is not None:
        view = chat_view(body)
        assert view is not None
        rows.append(("complexity score", per_call_us(lambda: d.scorer.score(view), a.n)))  # type: ignore[union-attr]
        vec = getattr(d.scorer, "vectorizer", None)
        if vec is not None:
            from hybridgate.router.features import hand_features

            rt = request_text(view)
            rows.append(("  hand features", per_call_us(lambda: hand_features(rt), a.n)))
            rows.append(("  static embedding", per_call_us(lambda: vec.embedding.embed(rt.last_user), a.n)))

    async def planned() -> None:
        plan = await p.plan("chat", dict(body), {}, "hg-stage")
        t0 = time.perf_counter()
        for _ in range(a.n):
            await p.plan("chat", dict(body), {}, "hg-stage")
        rows.append(("Pipeline.plan (open auth, detect, decide, select)", (time.perf_counter() - t0) / a.n * 1e6))
        rec = p.record(plan, 200, plan.attempts[0] if plan.attempts else None, {"prompt_tokens": 250})
        log = RequestLogger(LogConfig(), sink=io.BytesIO())
        rows.append(("request log line", per_call_us(lambda: log.observe(rec), a.n * 4)))
        mo = metrics_observer(settings, p, prom.get())
        rows.append(("metrics observer", per_call_us(lambda: mo.observe(rec), a.n * 4)))
        rows.append(("audit entry (build + canonical JSON)", per_call_us(lambda: to_body(entry_of(rec)), a.n * 4)))

    asyncio.run(planned())
    width = max(len(name) for name, _ in rows)
    for name, us in rows:
        print(f"{name:<{width}}  {us:8.1f} us")


if __name__ == "__main__":
    main()
