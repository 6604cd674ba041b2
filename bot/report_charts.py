"""Charts of the reports (PNG), in the house style of bot/charts.py: matplotlib's object
API on the Agg canvas (safe in a worker thread), imported only when a chart is drawn, sized
and lettered to be read on a phone."""

from __future__ import annotations

from io import BytesIO

from crm.reports.losses import LossReport


def has_loss_chart(r: LossReport) -> bool:
    return r.count > 0


def loss_chart(bars: list[tuple[str, float, str]], title: str) -> bytes:
    """The share of each reason, largest on top: (reason, percent, its label such as
    "40 % (12)"), rendered by the caller in the user's language."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    shown = [(name[:28], value, text) for name, value, text in bars]
    fig = Figure(figsize=(6, 1.4 + 0.45 * len(shown)), dpi=120)
    FigureCanvasAgg(fig)
    ax = fig.subplots()
    labels = [n for n, _, _ in reversed(shown)]
    shares = [v for _, v, _ in reversed(shown)]
    ax.barh(labels, shares, color="#E45756")
    for i, (_, value, text) in enumerate(reversed(shown)):
        ax.text(value, i, f" {text}", va="center", fontsize=9)
    # Room for the label right of the longest bar, and no empty stretch beyond it.
    ax.set_xlim(0, min(115.0, max(shares, default=0) * 1.25 + 12))
    ax.xaxis.set_major_formatter(PercentFormatter(decimals=0))
    ax.set_title(title, fontsize=11)
    ax.tick_params(axis="y", labelsize=9)
    ax.tick_params(axis="x", labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
