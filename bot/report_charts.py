"""Charts of the reports (PNG), in the house style of bot/charts.py: matplotlib's object
API on the Agg canvas (safe in a worker thread), imported only when a chart is drawn, sized
and lettered to be read on a phone."""

from __future__ import annotations

from collections.abc import Callable
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


Bar = tuple[str, float, str]  # (name, value, its label)


def funnel_chart(reached: list[Bar], money: list[Bar], titles: tuple[str, str],
                 money_axis: Callable[[float], str]) -> bytes:
    """Above, the funnel: how many deals of the period got to each stage, as bars centred
    on one axis, narrowing down; below, the open deals' amount per stage, labelled like
    "1,5 млн ₽" (`money_axis` formats the axis). A panel without a value is left out."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    panels = [p for p in ((reached, titles[0]), (money, titles[1])) if any(v for _, v, _ in p[0])]
    rows = sum(len(bars) for bars, _ in panels)
    fig = Figure(figsize=(6, 1.2 + 0.42 * rows + 0.8 * len(panels)), dpi=120)
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(panels), 1, squeeze=False,
                        gridspec_kw={"height_ratios": [len(b) or 1 for b, _ in panels]})
    for ax, (bars, title) in zip(axes[:, 0], panels, strict=True):
        names = [n[:26] for n, _, _ in reversed(bars)]
        values = [v for _, v, _ in reversed(bars)]
        top = max(values)
        if bars is reached:
            lefts = [(top - v) / 2 for v in values]
            ax.barh(names, values, left=lefts, color="#4C78A8")
            for i, ((_, _, text), v) in enumerate(zip(reversed(bars), values, strict=True)):
                ax.text(top / 2, i, text, va="center", ha="center", fontsize=9,
                        color="white" if v > top * 0.35 else "black")
            ax.set_xlim(0, top)
            ax.xaxis.set_visible(False)
        else:
            ax.barh(names, values, color="#72B7B2")
            for i, (_, v, text) in enumerate(reversed(bars)):
                ax.text(v, i, f" {text}", va="center", fontsize=9)
            ax.set_xlim(0, top * 1.35)
            ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: money_axis(x)))
            ax.tick_params(axis="x", labelsize=8)
        ax.set_title(title, fontsize=11)
        ax.tick_params(axis="y", labelsize=9)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
