"""The usage report as Markdown or self-contained HTML (charts embedded as base64 PNG)."""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from dataclasses import dataclass

from hybridgate.economics.charts import workload_costs_png
from hybridgate.economics.report import WorkloadReport

COLUMNS = (
    "workload",
    "requests/mo",
    "tokens in/out per req",
    "p95 ms / SLA",
    "actual $/mo",
    "all-API $/mo",
    "all-self-hosted $/mo",
    "break-even req/mo",
    "crossed",
    "recommendation",
)


@dataclass(frozen=True, slots=True)
class ReportMeta:
    since: str
    group_by: str
    api_model: str
    fleet: str  # one line: model, GPU, pricing, throughput and its basis
    generated: str


def _money(x: float) -> str:
    return f"{x:,.2f}"


def _sla(r: WorkloadReport) -> str:
    p95 = r.stats.p95_ms
    got = "-" if p95 is None else f"{p95:,.0f}"
    if r.sla_ms is None:
        return got
    mark = "ok" if p95 is not None and p95 <= r.sla_ms else "MISSED"
    return f"{got} / {r.sla_ms:,.0f} {mark}"


def row(r: WorkloadReport) -> list[str]:
    st = r.stats
    n = max(st.requests, 1)
    be = r.break_even.first
    return [
        st.name,
        f"{r.monthly_requests:,.0f}",
        f"{st.prompt_tokens / n:,.0f} / {st.completion_tokens / n:,.0f}",
        _sla(r),
        _money(r.actual_monthly),
        _money(r.api_monthly),
        f"{_money(r.self_hosted_monthly)} ({r.replicas} repl.)",
        "never" if be is None else f"{be:,.0f}",
        "yes" if r.crossed else "no",
        r.recommendation.action.replace("_", " "),
    ]


def chart(reports: Sequence[WorkloadReport]) -> bytes:
    return workload_costs_png(
        [r.stats.name for r in reports],
        [r.actual_monthly for r in reports],
        [r.api_monthly for r in reports],
        [r.self_hosted_monthly for r in reports],
    )


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def to_markdown(reports: Sequence[WorkloadReport], meta: ReportMeta, chart_path: str | None = None) -> str:
    lines = [
        "# hybridgate usage economics",
        "",
        f"Window: last {meta.since}, projected to a month; grouped by {meta.group_by}; generated {meta.generated}.",
        f"Counterfactual API: each request on its own API model, self-hosted ones on {meta.api_model}.",
        f"Counterfactual self-hosted: a dedicated fleet per workload, {meta.fleet}.",
        "",
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
    ]
    lines += ["| " + " | ".join(_md_cell(c) for c in row(r)) + " |" for r in reports]
    if chart_path:
        lines += ["", f"![cost per workload]({chart_path})"]
    lines += ["", "## Recommendations", ""]
    for r in reports:
        lines.append(
            f"- **{_md_cell(r.stats.name)}**: {r.recommendation.action.replace('_', ' ')}. "
            + "; ".join(r.recommendation.reasons)
        )
    if not reports:
        lines.append("No usage records in the window.")
    return "\n".join(lines) + "\n"


def to_html(reports: Sequence[WorkloadReport], meta: ReportMeta) -> str:
    e = html.escape
    head = "".join(f"<th>{e(c)}</th>" for c in COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in row(r)) + "</tr>" for r in reports)
    img = ""
    if reports:
        img = f'<img alt="cost per workload" src="data:image/png;base64,{base64.b64encode(chart(reports)).decode()}">'
    recs = (
        "".join(
            f"<li><b>{e(r.stats.name)}</b>: {e(r.recommendation.action.replace('_', ' '))}. "
            f"{e('; '.join(r.recommendation.reasons))}</li>"
            for r in reports
        )
        or "<li>No usage records in the window.</li>"
    )
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>hybridgate usage economics</title>"
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child{text-align:left}</style>"
        "</head><body><h1>hybridgate usage economics</h1>"
        f"<p>Window: last {e(meta.since)}, projected to a month; grouped by {e(meta.group_by)}; "
        f"generated {e(meta.generated)}.<br>Counterfactual API: each request on its own API model, self-hosted "
        f"ones on {e(meta.api_model)}.<br>Counterfactual self-hosted: a dedicated fleet per workload, "
        f"{e(meta.fleet)}.</p>"
        f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{img}"
        f"<h2>Recommendations</h2><ul>{recs}</ul></body></html>\n"
    )
