"""Latency and memory of the learned complexity scorer (a benchmark, not a test).

    .venv/bin/python bench/router/latency.py [--data /work/shared/data/routing] [--n 3000]

Prompts: a deterministic sample of the routing data (MMLU, GSM8K, RouterDC pool questions) plus
chat-shaped requests (system prompt, several turns, code, a long document). Each prompt is scored
once cold (empty word cache) and once warm; the table reports both.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
from pathlib import Path

from hybridgate.router import data


def _rss_mib() -> float:
    with open("/proc/self/statm") as fh:
        pages = int(fh.read().split()[1])
    return pages * 4096 / 2**20


def _chats(rng: random.Random, prompts: list[str]) -> list[list[dict[str, str]]]:
    code = (
        "def merge(a, b):\n    out = []\n    while a and b:\n"
        "        out.append(a.pop(0) if a[0] < b[0] else b.pop(0))\n"
    )
    chats = []
    for i in range(300):
        p = rng.choice(prompts)
        chats.append(
            [
                {"role": "system", "content": "You are a careful assistant. Answer concisely and cite sources."},
                {"role": "user", "content": rng.choice(prompts)},
                {"role": "assistant", "content": rng.choice(prompts)},
                {"role": "user", "content": p + ("\n```python\n" + code * (1 + i % 3) + "```" if i % 4 == 0 else "")},
            ]
        )
    long_doc = " ".join(prompts[:60])  # ~20-30 KB: a summarisation-style request
    chats.extend([[{"role": "user", "content": "Summarise:\n" + long_doc}]] * 20)
    return chats


def _time(scorer, requests) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for msgs in requests:
        t = time.perf_counter()
        scorer.score(msgs)
        out.append((time.perf_counter() - t) * 1000)
    return out


def _pct(xs: list[float], q: float) -> float:
    return sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/shared/data/routing"))
    ap.add_argument("--n", type=int, default=3000)
    args = ap.parse_args()
    files = [args.data / f for f in ("routellm_mmlu_gpt4_vs_mixtral.csv", "routellm_gsm8k_gpt4_vs_mixtral.csv")]
    pool = args.data / "routerdc_7b_pool_scores.csv"
    prompts = [it.prompt for it in data.load(files).items]
    if pool.exists():
        prompts += [it.prompt for it in data.load([pool], "Meta-Llama-3-8B", "Mistral-7B-v0.1").items]
    rng = random.Random(0)
    rng.shuffle(prompts)
    requests = [[{"role": "user", "content": p}] for p in prompts[: args.n]] + _chats(rng, prompts)

    gc.collect()
    rss0 = _rss_mib()
    t = time.perf_counter()
    from hybridgate.detect.complexity import load_default_scorer

    scorer = load_default_scorer()
    load_ms = (time.perf_counter() - t) * 1000
    rss_loaded = _rss_mib()
    cold = _time(scorer, requests)
    warm = _time(scorer, requests)
    rss_after = _rss_mib()

    chars = statistics.median(sum(len(m["content"]) for m in r) for r in requests)
    print(f"scorer {scorer.name}; {len(requests)} requests, median {chars:.0f} chars")
    print(f"{'pass':<6}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'max ms':>9}")
    for name, xs in (("cold", cold), ("warm", warm)):
        print(f"{name:<6}{_pct(xs, 0.5):9.3f}{_pct(xs, 0.9):9.3f}{_pct(xs, 0.99):9.3f}{max(xs):9.3f}")
    print(
        f"load {load_ms:.0f} ms; RSS +{rss_loaded - rss0:.1f} MiB after load, +{rss_after - rss0:.1f} MiB after scoring"
    )


if __name__ == "__main__":
    main()
