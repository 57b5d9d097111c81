"""Turn one run's results into markdown tables, ratios, a goals check and a PNG chart."""

from __future__ import annotations

from pathlib import Path
from typing import Any

C = ("1", "16", "64", "256")


def _f(x: float | None, nd: int = 0) -> str:
    return "-" if x is None or x != x else f"{x:,.{nd}f}"


def _table(head: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    return "\n".join(lines + ["| " + " | ".join(r) + " |" for r in rows])


def throughput(res: dict[str, Any]) -> str:
    rows = []
    for n, per in res["closed"].items():
        rows.append(
            [n]
            + [_f(per[c]["rps"]) for c in C]
            + [_f(res["slow60"][n]["rps"]), _f(res["stream"][n]["rps"])]
            + [str(sum(per[c]["errors"] for c in C) + res["slow60"][n]["errors"] + res["stream"][n]["errors"])]
        )
    head = ["target", "c=1", "c=16", "c=64", "c=256", "60 ms upstream c=256", "50-chunk streams/s c=16", "errors"]
    return _table(head, rows)


def latency(res: dict[str, Any]) -> str:
    d1 = res["closed"].get("direct", {}).get("1")
    rows = []
    for n, per in res["closed"].items():
        r1, r64 = per["1"], per["64"]
        add50 = r1["p50_ms"] - d1["p50_ms"] if d1 else None
        add99 = r1["p99_ms"] - d1["p99_ms"] if d1 else None
        rows.append(
            [
                n,
                _f(r1["p50_ms"], 3),
                _f(r1["p90_ms"], 3),
                _f(r1["p99_ms"], 3),
                _f(add50, 3),
                _f(add99, 3),
                _f(r64["p50_ms"], 2),
                _f(r64["p90_ms"], 2),
                _f(r64["p99_ms"], 2),
            ]
        )
    head = ["target", "c=1 p50", "c=1 p90", "c=1 p99", "added p50", "added p99", "c=64 p50", "c=64 p90", "c=64 p99"]
    return _table(head, rows)


def worker_rss(res: dict[str, Any], n: str) -> list[float]:
    """RSS of the serving processes only (runs before roles were recorded: every process)."""
    roles = res.get("rss_roles", {}).get(n)
    if roles is None:
        return list(res["rss_mb"].get(n, []))
    return [mb for role, mb in roles if role == "worker"]


def _others(res: dict[str, Any], n: str) -> str:
    roles = res.get("rss_roles", {}).get(n) or []
    return ", ".join(f"{role} {mb:.1f}" for role, mb in roles if role != "worker") or "-"


def resources(res: dict[str, Any]) -> str:
    rows = []
    for n, per in res["closed"].items():
        rss = res["rss_mb"].get(n, [])
        rows.append(
            [
                n,
                _f(per["1"]["cpu_s_per_1k"], 3),
                _f(per["64"]["cpu_s_per_1k"], 3),
                _f(max(worker_rss(res, n), default=None), 1),
                _others(res, n),
                _f(sum(rss), 1),
            ]
        )
    head = [
        "target",
        "CPU s / 1k req (c=1)",
        "CPU s / 1k req (c=64)",
        "RSS MB per worker",
        "other processes, RSS MB",
        "RSS MB total",
    ]
    return _table(head, rows)


def streams(res: dict[str, Any]) -> str:
    d = res["ttft"].get("direct")
    rows = []
    for n, s in res["ttft"].items():
        over = s["ttft_p50_ms"] - d["ttft_p50_ms"] if d else None
        gap = s["gap_p50_ms"] - d["gap_p50_ms"] if d else None
        rows.append(
            [
                n,
                _f(s["ttft_p50_ms"], 3),
                _f(s["ttft_p99_ms"], 3),
                _f(over, 3),
                _f(s["gap_p50_ms"], 3),
                _f(s["gap_p99_ms"], 3),
                _f(gap, 3),
                _f(s["reads_per_stream"], 1),
                str(s["errors"]),
            ]
        )
    head = ["target", "TTFT p50", "TTFT p99", "TTFT overhead p50", "gap p50", "gap p99", "gap overhead p50"]
    return _table([*head, "HTTP chunks / stream", "errors"], rows)


def open_loop(res: dict[str, Any]) -> str:
    rows = [
        [n, _f(o["rate"]), _f(o["rps"]), _f(o["p50_ms"], 2), _f(o["p90_ms"], 2), _f(o["p99_ms"], 2), str(o["errors"])]
        for n, o in res["open"].items()
    ]
    return _table(["target", "offered req/s (80% of max)", "served req/s", "p50", "p90", "p99", "errors"], rows)


def best(res: dict[str, Any], n: str) -> float:
    return float(max(r["rps"] for r in res["closed"][n].values()))


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}x" if b else "-"


def ratios(res: dict[str, Any]) -> str:
    have = res["closed"]
    rows = []
    hg = ("hg-full", "hg-full-noner", "hg-min")
    for num, den in [(h, "litellm") for h in hg] + [(h, "bare") for h in hg]:
        if num in have and den in have:
            per = [_ratio(have[num][c]["rps"], have[den][c]["rps"]) for c in C]
            rows.append([f"{num} / {den}", *per, _ratio(best(res, num), best(res, den))])
    return _table(["ratio (req/s)", "c=1", "c=16", "c=64", "c=256", "best / best"], rows)


def goals(res: dict[str, Any], who: str = "hg-full") -> str:
    h, rows = res["closed"], []
    if not {who, "direct"} <= set(h):
        return ""
    f1, d1 = h[who]["1"], h["direct"]["1"]
    checks: list[tuple[str, float | None, str]] = [
        ("added latency c=1 p50 <= 1 ms", f1["p50_ms"] - d1["p50_ms"], "ms"),
        ("added latency c=1 p99 <= 5 ms", f1["p99_ms"] - d1["p99_ms"], "ms"),
    ]
    limits = [1.0, 5.0]
    if "litellm" in h:
        checks.append(("throughput >= 20x LiteLLM (best/best)", best(res, who) / max(1e-9, best(res, "litellm")), "x"))
        limits.append(-20.0)
    if "bare" in h:
        checks.append(("throughput >= 50% of bare proxy (best/best)", best(res, who) / best(res, "bare"), "x"))
        limits.append(-0.5)
    if who in res["ttft"] and "direct" in res["ttft"]:
        checks.append(
            ("TTFT overhead p50 <= 1 ms", res["ttft"][who]["ttft_p50_ms"] - res["ttft"]["direct"]["ttft_p50_ms"], "ms")
        )
        limits.append(1.0)
    if worker_rss(res, who):
        checks.append(("RSS per worker <= 150 MB", max(worker_rss(res, who)), "MB"))
        limits.append(150.0)
    for (label, v, unit), lim in zip(checks, limits, strict=True):
        ok = v is not None and (v >= -lim if lim < 0 else v <= lim)
        rows.append([label, f"{v:.3f} {unit}" if v is not None else "-", "met" if ok else "NOT met"])
    return f"{who}:\n\n" + _table(["goal", "measured", "verdict"], rows)


def soak(res: dict[str, Any]) -> str:
    s = res.get("soak")
    if not s:
        return ""
    start, end = s["rss"][0][1], s["rss"][-1][1]
    out = (
        f"Soak: {s['target']} at {s['rate']:.0f} req/s open loop for {s['rss'][-1][0]:.0f} s, "
        f"{s['requests']} requests, {s['errors']} errors; RSS {start:.1f} MB -> {end:.1f} MB "
        f"({(end - start) / start * 100:+.1f}%)."
    )
    roles = s.get("rss_roles")
    if roles:
        first, last = roles[0][1], roles[-1][1]
        for i, ((role, a), (_, b)) in enumerate(zip(first, last, strict=False)):
            out += f" {role} #{i}: {a:.1f} -> {b:.1f} MB ({(b - a) / a * 100:+.1f}%)."
    return out


def markdown(res: dict[str, Any]) -> str:
    m = res["meta"]
    parts = [
        f"Run {m['stamp']}: {m['seconds']:g} s per point, load average at start {m['load'][0]:.2f}.",
        "### Closed loop (wrk), requests/s\n\n" + throughput(res),
        "### Latency, ms (closed loop); added = minus `direct` at c=1, same run\n\n" + latency(res),
        "### Streaming: c=1, 50 chunks 1 ms apart, times in ms\n\n" + streams(res),
        "### Open loop at 80% of each target's best closed-loop rate\n\n" + open_loop(res),
        "### CPU and memory\n\n" + resources(res),
        "### Ratios, same run\n\n" + ratios(res),
        "### Goals\n\n" + goals(res, "hg-full") + "\n\n" + goals(res, "hg-full-noner"),
        soak(res),
    ]
    for n, comps in m.get("components", {}).items():
        parts.append(f"{n} components: " + ", ".join(f"{k}={v}" for k, v in comps.items()))
    return "\n\n".join(p for p in parts if p) + "\n"


def chart(res: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(12, 4.5))
    names = list(res["closed"])
    width = 0.8 / max(1, len(names))
    for i, n in enumerate(names):
        xs = [j + i * width for j in range(len(C))]
        ax1.bar(xs, [res["closed"][n][c]["rps"] for c in C], width, label=n)
        ax2.bar(i, res["closed"][n]["1"]["p50_ms"], 0.6, label=n)
    ax1.set_xticks([j + width * (len(names) - 1) / 2 for j in range(len(C))], [f"c={c}" for c in C])
    ax1.set_yscale("log")
    ax1.set_ylabel("requests/s (log)")
    ax1.set_title("closed-loop throughput, one worker")
    ax1.legend(fontsize=8)
    ax2.set_xticks(range(len(names)), names)
    ax2.set_yscale("log")
    ax2.set_ylabel("ms (log)")
    ax2.set_title("latency p50 at c=1")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
