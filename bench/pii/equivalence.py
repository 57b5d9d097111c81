"""Same findings, less CPU? Runs the cheap-tier PII detector of two source trees over every text of the PII
evaluation data (every record of every file, all languages) plus the overhead benchmark's chat prompt, compares
the findings exactly (type, span, score, detector) under every names policy, then times both trees, alternating.
Each policy is compared twice: on the first pass over the texts, and on a second pass (answered from the
detector's findings cache, where the tree has one). The timing runs without the cache.

    mkdir -p /tmp/old && git archive HEAD src | tar -x -C /tmp/old
    .venv/bin/python bench/pii/equivalence.py --baseline-src /tmp/old/src [--rounds 5]

Each tree runs in its own worker process (both are the package `hybridgate`); the parent hands them the same
batches in turn, and each reports the CPU time (`time.process_time`) its detector took. Exit status 1 when any
finding differs.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

DATA = Path("/work/shared/data/pii")
ROOT = Path(__file__).resolve().parents[2]
POLICIES = ("likely_person", "off", "with_context", "except_exercises", "all")

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "overhead"))
from prompt import SYSTEM as BENCH_SYSTEM  # noqa: E402  the overhead benchmark's request
from prompt import USER as BENCH_USER  # noqa: E402


def eval_texts() -> dict[str, list[str]]:
    """Every text of the evaluation files (not only the English ones `data.py` scores)."""
    out: dict[str, list[str]] = {}
    rows = json.loads((DATA / "presidio_research/synth_dataset_v2.json").read_text())
    out["presidio"] = [r["full_text"] for r in rows]
    for split in ("technology", "clinical", "adversarial"):
        with gzip.open(DATA / f"pii_anon_eval_data/test_{split}.jsonl.gz", "rt", encoding="utf-8") as f:
            out[split] = [json.loads(line)["text"] for line in f]
    with (DATA / "negatives_gsm8k/test.jsonl").open() as f:
        out["gsm8k"] = [json.loads(line)["question"] for line in f]
    return out


# -- worker: one source tree -------------------------------------------------------------------------------


def _worker() -> None:
    import inspect

    from hybridgate.detect.pii import PiiDetector

    sets = eval_texts()
    sets["bench_prompt"] = [BENCH_SYSTEM, BENCH_USER]
    detectors = {p: PiiDetector(p) for p in POLICIES}  # type: ignore[arg-type]
    # Timed without the findings cache (where the tree has one): the timing repeats texts.
    uncached = {"cached_texts": 0} if "cached_texts" in inspect.signature(PiiDetector).parameters else {}
    timed = PiiDetector("likely_person", **uncached)
    gc.collect()
    gc.freeze()  # the loaded texts: not the detector's garbage, kept out of its collections
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "findings":
            d = detectors[cmd["policy"]]
            texts = [t for name in sorted(sets) for t in sets[name]]
            if cmd.get("again"):  # the second pass: what the findings cache (if any) answers
                for t in texts:
                    d.detect(t)
            rows = [[[f.type, f.start, f.end, repr(f.score), f.detector] for f in d.detect(t)] for t in texts]
            Path(cmd["out"]).write_text(json.dumps(rows))
            reply: Any = len(rows)
        elif cmd["op"] == "time":
            d = timed
            texts = sets[cmd["set"]] * cmd.get("repeat", 1)
            t0 = time.process_time()
            for t in texts:
                d.detect(t)
            reply = time.process_time() - t0
        else:
            reply = {name: [len(ts), sum(map(len, ts))] for name, ts in sets.items()}
        print(json.dumps(reply), flush=True)


class Worker:
    def __init__(self, src: Path) -> None:
        env = {**os.environ, "PYTHONPATH": str(src)}
        self.proc = subprocess.Popen(
            [sys.executable, __file__, "--worker"], env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )

    def ask(self, **cmd: Any) -> Any:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(json.dumps(cmd) + "\n")
        self.proc.stdin.flush()
        return json.loads(self.proc.stdout.readline())

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        self.proc.wait()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--baseline-src", required=True, type=Path, help="the old tree's src folder")
    ap.add_argument("--src", type=Path, default=ROOT / "src", help="the new tree's src folder")
    ap.add_argument("--rounds", type=int, default=3, help="timed rounds per tree and set (alternating)")
    ap.add_argument("--tmp", type=Path, default=Path("/tmp"))
    ap.add_argument("--skip-compare", action="store_true", help="time only")
    ap.add_argument("--no-timing", action="store_true", help="compare only")
    if "--worker" in sys.argv[1:]:
        _worker()
        return 0
    a = ap.parse_args()
    old, new = Worker(a.baseline_src), Worker(a.src)
    sizes = new.ask(op="sizes")
    differ = 0
    if not a.skip_compare:
        for policy, again in [(p, False) for p in POLICIES] + [(p, True) for p in POLICIES]:
            paths = [a.tmp / f"pii-equiv-{tag}-{os.getpid()}.json" for tag in ("old", "new")]
            for w, p in zip((old, new), paths, strict=True):
                w.ask(op="findings", policy=policy, out=str(p), again=again)
            rows_old, rows_new = (json.loads(p.read_text()) for p in paths)
            for p in paths:
                p.unlink()
            bad = [i for i, (x, y) in enumerate(zip(rows_old, rows_new, strict=True)) if x != y]
            count = sum(map(len, rows_new))
            label = policy + (" (2nd pass)" if again else "")
            print(f"{label:28s} texts {len(rows_new):6d}  findings {count:6d}  texts differing {len(bad)}")
            for i in bad[:5]:
                print("   old", rows_old[i], "\n   new", rows_new[i])
            differ += len(bad)
    if a.no_timing:
        old.close()
        new.close()
        print(f"\ntexts differing in total: {differ}")
        return 1 if differ else 0
    print(f"\nCPU per text (process_time, {a.rounds} rounds alternating old/new, fastest round of each)")
    heads = ("texts", "avg chars", "old us", "new us", "old/KB", "new/KB", "saved")
    print(f"{'set':13s} " + " ".join(f"{h:>{w}s}" for h, w in zip(heads, (6, 9, 8, 8, 8, 8, 6), strict=True)))
    total: dict[str, float] = {"old": 0.0, "new": 0.0, "n": 0, "chars": 0}
    for name, (n, chars) in sizes.items():
        repeat = max(1, 2000 // n)
        times: dict[str, list[float]] = {"old": [], "new": []}
        for w in (old, new):
            w.ask(op="time", set=name, repeat=repeat)  # warm-up
        for r in range(a.rounds):
            order = ((old, "old"), (new, "new")) if r % 2 == 0 else ((new, "new"), (old, "old"))
            for w, tag in order:
                times[tag].append(w.ask(op="time", set=name, repeat=repeat))
        med = {k: min(v) / (n * repeat) * 1e6 for k, v in times.items()}
        if name != "bench_prompt":
            for k in ("old", "new"):
                total[k] += med[k] * n
            total["n"] += n
            total["chars"] += chars
        per_kb = {k: v / (chars / n) * 1000 for k, v in med.items()}
        saved = 1 - med["new"] / med["old"]
        print(
            f"{name:13s} {n:6d} {chars / n:9.0f} {med['old']:8.1f} {med['new']:8.1f} "
            f"{per_kb['old']:8.1f} {per_kb['new']:8.1f} {saved:6.0%}"
        )
    n, chars = total["n"], total["chars"]
    old_us, new_us = total["old"] / n, total["new"] / n
    print(
        f"{'eval (all)':13s} {n:6.0f} {chars / n:9.0f} {old_us:8.1f} {new_us:8.1f} "
        f"{old_us / (chars / n) * 1000:8.1f} {new_us / (chars / n) * 1000:8.1f} {1 - new_us / old_us:6.0%}"
    )
    old.close()
    new.close()
    print(f"\ntexts differing in total: {differ}")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
