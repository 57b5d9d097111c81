"""Old vs new complexity scorer: identical scores and features, and CPU per score (a benchmark, not a test).

    git archive HEAD src | tar -x -C /tmp/cx-old        # the committed tree, as the baseline
    .venv/bin/python bench/router/score_equivalence.py --baseline-src /tmp/cx-old/src

Two worker processes, one importing `hybridgate` from --baseline-src and one from this checkout's src/,
score the same requests with the packaged artifact: every prompt and question of the routing data in
--data (each as a one-turn chat, plus chat-shaped requests built from them with the GSM8K model answers as
assistant turns), the requests of tests/unit/router/test_scorer_equivalence.py and the overhead benchmark's
~1 KB chat. It prints the largest score difference, how many feature vectors differ (bit for bit), and how
many routing decisions differ at the thresholds of frontier shares 0.05 ... 0.95. Then it times
`scorer.score` on the benchmark request in each worker, alternating, by thread CPU time.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
SHARES = tuple(round(0.05 * i, 2) for i in range(1, 20))
csv.field_size_limit(2**31 - 1)


def _data_prompts(data: Path) -> tuple[list[str], list[tuple[str, str]]]:
    prompts: list[str] = []
    answered: list[tuple[str, str]] = []  # (prompt, a model answer) for multi-turn requests
    for f in sorted(data.glob("*.csv")):
        with f.open(newline="", encoding="utf-8") as fh:
            for row in csv.DictReader(fh):
                p = row.get("prompt") or row.get("question") or ""
                prompts.append(p)
                for k in ("response_weak", "response_strong"):
                    if row.get(k):
                        answered.append((p, row[k]))
    for f in sorted(data.glob("*.jsonl")):
        for line in f.read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            prompts += [str(row[k]) for k in ("train_prompt", "eval_prompt") if row.get(k)]
    return prompts, answered


def requests(data: Path) -> list[tuple[list[dict[str, Any]], bool]]:
    prompts, answered = _data_prompts(data)
    out: list[tuple[list[dict[str, Any]], bool]] = [([{"role": "user", "content": p}], False) for p in prompts]
    rng = random.Random(0)
    for i, (p, a) in enumerate(answered):
        follow = rng.choice(prompts)
        chat = [
            {"role": "system", "content": "You are a careful assistant. Answer concisely."},
            {"role": "user", "content": p},
            {"role": "assistant", "content": a},
            {"role": "user", "content": follow if i % 2 else a + "\nIs that right? Check it step by step."},
        ]
        out.append((chat, i % 5 == 0))
    long_doc = " ".join(prompts[:400])  # well over 1,024 words: the word limit
    out.append(([{"role": "user", "content": "Summarise:\n" + long_doc}], False))
    sys.path.insert(0, str(ROOT))
    from tests.unit.router.test_scorer_equivalence import REQUESTS

    out += [(list(m), t) for m, t in REQUESTS]
    out.append((bench_body()["messages"], False))
    return out


def bench_body() -> dict[str, Any]:
    sys.path.insert(0, str(ROOT / "bench" / "overhead"))
    from run import bodies  # type: ignore[import-not-found]

    body: dict[str, Any] = json.loads(bodies(Path(tempfile.mkdtemp()))["json"].read_text())
    return body


def worker(reqs_path: Path, out_path: Path) -> None:
    """Score every request; then time the benchmark request on each line read from stdin."""
    from hybridgate.detect.complexity import load_default_scorer
    from hybridgate.detection import chat_view

    reqs = pickle.loads(reqs_path.read_bytes())
    scorer: Any = load_default_scorer()
    scores = np.empty(len(reqs))
    vectors = []
    for i, (msgs, tools) in enumerate(reqs):
        scores[i] = scorer.score(msgs, tools=tools)
        vectors.append(np.array(scorer.last_vector, dtype=np.float32))
    thresholds = np.array([scorer.threshold_for_share(s) for s in SHARES])
    np.savez(out_path, scores=scores, vectors=np.stack(vectors), thresholds=thresholds)
    view = chat_view(bench_body())
    for _ in range(300):
        scorer.score(view)
    print("ready", flush=True)
    for line in sys.stdin:
        n = int(line)
        t0 = time.thread_time()
        for _ in range(n):
            scorer.score(view)
        print(f"{(time.thread_time() - t0) / n * 1e6:.3f}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-src", type=Path, help="src/ of the old tree (required)")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="src/ of the new tree (default: this checkout's)")
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/routing"))
    ap.add_argument("--rounds", type=int, default=10, help="timing rounds per side, alternated")
    ap.add_argument("-n", type=int, default=2000, help="scores per timing round")
    ap.add_argument("--worker", nargs=2, type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.worker:
        worker(*a.worker)
        return
    if a.baseline_src is None:
        ap.error("--baseline-src is required")
    with tempfile.TemporaryDirectory(prefix="hg-score-eq-") as tmp:
        compare(a, Path(tmp))


def compare(a: argparse.Namespace, tmp: Path) -> None:
    reqs = requests(a.data)
    (tmp / "reqs.pkl").write_bytes(pickle.dumps(reqs))
    procs = {}
    for side, src in (("old", a.baseline_src.resolve()), ("new", a.src.resolve())):
        procs[side] = subprocess.Popen(
            [sys.executable, __file__, "--worker", str(tmp / "reqs.pkl"), str(tmp / f"{side}.npz")],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(src)},
        )
    for p in procs.values():
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
    old, new = (np.load(tmp / f"{s}.npz") for s in ("old", "new"))
    diff = np.abs(old["scores"] - new["scores"])
    vec_diff = int(np.sum(np.any(old["vectors"].view(np.uint32) != new["vectors"].view(np.uint32), axis=1)))
    decisions = sum(
        int(np.sum((old["scores"] >= to) != (new["scores"] >= tn)))
        for to, tn in zip(old["thresholds"], new["thresholds"], strict=True)
    )
    print(f"{len(reqs)} requests; max |score old - new| = {diff.max():.3g}; scores bit-identical: "
          f"{int(np.sum(old['scores'] == new['scores']))}/{len(reqs)}")  # fmt: skip
    print(f"feature vectors differing (any bit): {vec_diff}; thresholds identical: "
          f"{bool(np.array_equal(old['thresholds'], new['thresholds']))}")  # fmt: skip
    print(f"routing decisions differing over {len(SHARES)} frontier shares: {decisions}")
    times: dict[str, list[float]] = {"old": [], "new": []}
    for r in range(a.rounds):
        for side in ("old", "new") if r % 2 == 0 else ("new", "old"):
            p = procs[side]
            assert p.stdin is not None and p.stdout is not None
            p.stdin.write(f"{a.n}\n")
            p.stdin.flush()
            times[side].append(float(p.stdout.readline()))
    for p in procs.values():
        assert p.stdin is not None
        p.stdin.close()
        p.wait()
    for side, xs in times.items():
        print(f"{side}: us per score (thread CPU), median {np.median(xs):.1f}, min {min(xs):.1f} over {len(xs)} rounds")


if __name__ == "__main__":
    main()
