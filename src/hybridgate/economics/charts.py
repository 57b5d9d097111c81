"""PNG charts. Uses matplotlib's object API with the Agg canvas: no pyplot, no global backend state."""

from __future__ import annotations

import io
from collections.abc import Sequence
from typing import TYPE_CHECKING

from hybridgate.economics.tco import Scenario, TcoResult, api_monthly, hybrid_monthly, self_hosted_monthly

if TYPE_CHECKING:
    from matplotlib.figure import Figure

_POINTS = 400


def _figure(width: float, height: float) -> Figure:
    # Imported here: matplotlib costs ~0.5 s to import, and only chart-drawing commands need it.
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height))


def _png(fig: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return buf.getvalue()


def volume_axis(result: TcoResult) -> list[float]:
    """0 .. a little past the larger of the current volume and the break-even points."""
    be = result.break_even
    marks = [result.scenario.workload.requests_per_month, be.first or 0.0, be.sustained or 0.0]
    top = max(marks) * 1.6
    return [top * i / _POINTS for i in range(1, _POINTS + 1)]


def cost_vs_volume_png(result: TcoResult, title: str = "") -> bytes:
    """Monthly cost of API, self-hosted and hybrid against monthly volume, break-even marked."""
    s: Scenario = result.scenario
    xs = volume_axis(result)
    scenarios = [s.at_volume(x) for x in xs]
    fig = _figure(8, 4.5)
    ax = fig.add_subplot()
    ax.plot(xs, [api_monthly(v) for v in scenarios], label="API")
    ax.step(xs, [self_hosted_monthly(v).total for v in scenarios], where="post", label="self-hosted")
    ax.plot(xs, [hybrid_monthly(v).total for v in scenarios], linestyle="--", label="hybrid")
    be = result.break_even.first
    if be is not None:
        ax.axvline(be, color="grey", linestyle=":")
        ax.annotate(
            f"break-even\n{be:,.0f} req/mo",
            (be, api_monthly(s.at_volume(be))),
            textcoords="offset points",
            xytext=(8, -30),
            fontsize=8,
        )
    now = s.workload.requests_per_month
    ax.plot([now], [api_monthly(s)], marker="o", color="black", label="current volume")
    ax.set_xlabel("requests per month")
    ax.set_ylabel("USD per month")
    ax.set_title(title or "Monthly cost vs volume")
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    return _png(fig)


def workload_costs_png(
    names: Sequence[str], actual: Sequence[float], api: Sequence[float], self_hosted: Sequence[float]
) -> bytes:
    """Grouped bars per workload: actual vs all-API vs all-self-hosted monthly cost."""
    fig = _figure(max(6.0, 1.2 * len(names) + 3), 4.5)
    ax = fig.add_subplot()
    width = 0.27
    xs = list(range(len(names)))
    for i, (label, values) in enumerate((("actual", actual), ("all API", api), ("all self-hosted", self_hosted))):
        ax.bar([x + (i - 1) * width for x in xs], values, width, label=label)
    positive = [v for v in (*actual, *api, *self_hosted) if v > 0]
    if positive and max(positive) / min(positive) > 100:
        ax.set_yscale("log")  # cents next to thousands: a linear axis hides the small bars
    ax.set_xticks(xs, list(names), rotation=20, ha="right")
    ax.set_ylabel("USD per month (projected)")
    ax.set_title("Cost per workload")
    ax.legend()
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)
