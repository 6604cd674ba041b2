"""Charts of the reports (PNG), in the house style of bot/charts.py: matplotlib's object
API on the Agg canvas (safe in a worker thread), imported only when a chart is drawn, sized
and lettered to be read on a phone."""

from __future__ import annotations

from collections.abc import Callable
from io import BytesIO
from typing import Any

from aiogram.utils.i18n import gettext

from bot.charts import compact_money
from bot.render import current_locale
from bot.report_views import forecast_lines, period_label
from crm.reports.dynamics import DynamicsReport, Series
from crm.reports.forecast import ForecastReport
from crm.reports.losses import LossReport
from crm.reports.period import PeriodKind


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


# --- dynamics and forecast ------------------------------------------------------------------

_PALETTE = ("#4C78A8", "#F58518", "#54A24B", "#B279A2", "#E45756", "#72B7B2", "#BAB0AC")
STACKED = 6  # managers drawn one by one; the rest as "Others"


def _save(fig: Any) -> bytes:
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()


def _tidy(ax: Any, top: float, money: str | None = None) -> None:
    """No empty −0.04 axis: counts start at 0 with whole ticks, money in "1,5 млн ₽"."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.set_ylim(0, max(top, 1) * 1.12)
    if money is None:
        ax.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
    else:
        loc = current_locale()
        ax.yaxis.set_major_locator(MaxNLocator(nbins=4))
        ax.yaxis.set_major_formatter(FuncFormatter(
            lambda x, _pos: compact_money(x, money, loc) if x else "0"))
    ax.tick_params(axis="both", labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def dynamics_chart(r: DynamicsReport, title: str) -> bytes:
    """Three panels over the periods: contacts (stacked per manager), new deals against
    deals won, revenue (stacked per manager) with the payments received as a line."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    labels = [period_label(r.grain, a) for a, _end in r.periods]
    x = list(range(len(labels)))
    people = sorted(r.managers, key=lambda s: (-sum(p.revenue for p in s.points),
                                               -sum(p.contacts for p in s.points)))
    shown = [s for s in people[:STACKED] if not s.empty]
    rest = [s for s in r.managers if s not in shown]
    stacks: list[tuple[str, list[Series]]] = [(s.name[:20], [s]) for s in shown]
    if rest and any(not s.empty for s in rest):
        stacks.append((gettext("Others"), rest))

    fig = Figure(figsize=(6.4, 8), dpi=120)
    FigureCanvasAgg(fig)
    top, mid, low = fig.subplots(3, 1, sharex=True)
    fig.suptitle(title, fontsize=11)
    total = r.overall.points
    for ax, figure in ((top, "contacts"), (low, "revenue")):
        bottom = [0.0] * len(x)
        for i, (name, group) in enumerate(stacks):
            values = [float(sum(getattr(s.points[k], figure) for s in group)) for k in x]
            # One colour per manager, named once (in the top legend); one person's bars
            # are simply the figure.
            named = name if ax is top else gettext("Revenue") if len(stacks) == 1 else None
            ax.bar(x, values, bottom=bottom, color=_PALETTE[i % len(_PALETTE)], label=named)
            bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    top.set_title(gettext("Contacts"), fontsize=10)
    _tidy(top, max(p.contacts for p in total))
    if len(stacks) > 1:
        top.legend(fontsize=7, ncols=min(len(stacks), 3), loc="best", frameon=False)
    width = 0.4
    mid.bar([k - width / 2 for k in x], [p.new_deals for p in total], width,
            color="#4C78A8", label=gettext("New deals"))
    mid.bar([k + width / 2 for k in x], [p.won_count for p in total], width,
            color="#54A24B", label=gettext("Won"))
    mid.set_title(gettext("New deals and deals won"), fontsize=10)
    mid.legend(fontsize=7, loc="best", frameon=False)
    _tidy(mid, max(max(p.new_deals, p.won_count) for p in total))
    paid = [float(p.payments) for p in total]
    low.plot(x, paid, color="#222222", marker="o", markersize=3, linewidth=1.5,
             label=gettext("Payments received"))
    low.set_title(gettext("Revenue and payments received"), fontsize=10)
    low.legend(fontsize=7, loc="best", frameon=False)
    _tidy(low, float(max(max(p.revenue, p.payments) for p in total)), money=r.currency)
    low.set_xticks(x, labels, rotation=45 if len(x) > 6 else 0, ha="right" if len(x) > 6
                   else "center")
    return _save(fig)


def forecast_chart(r: ForecastReport, title: str) -> bytes:
    """Two panels: the weighted forecast by the month of the expected close (with overdue
    and undated deals as their own bars), and the invoices planned against the money
    received, month by month."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    lines = forecast_lines(r, r.total)
    cash = r.cash_total.months
    fig = Figure(figsize=(6.4, 6.4), dpi=120)
    FigureCanvasAgg(fig)
    top, low = fig.subplots(2, 1)
    fig.suptitle(title, fontsize=11)
    if lines:
        names = [_short_line(name) for name, _c in lines]
        values = [float(c.weighted) for _n, c in lines]
        colors = ["#E45756" if c is r.total.overdue else "#BAB0AC" if c is r.total.undated
                  else "#4C78A8" for _n, c in lines]
        top.bar(range(len(names)), values, color=colors)
        top.set_xticks(range(len(names)), names, rotation=45 if len(names) > 5 else 0,
                       ha="right" if len(names) > 5 else "center")
        _tidy(top, max(values), money=r.currency)
    else:
        top.text(0.5, 0.5, "—", ha="center", va="center")
        top.set_axis_off()
    top.set_title(gettext("Open deals × probability"), fontsize=10)
    x = list(range(len(cash)))
    width = 0.4
    low.bar([k - width / 2 for k in x], [float(m.planned) for m in cash], width,
            color="#F58518", label=gettext("Planned"))
    low.bar([k + width / 2 for k in x], [float(m.received) for m in cash], width,
            color="#54A24B", label=gettext("Received"))
    low.set_xticks(x, [period_label(PeriodKind.MONTH, m.month) for m in cash], rotation=45,
                   ha="right")
    low.set_title(gettext("Invoices: planned and received"), fontsize=10)
    low.legend(fontsize=7, loc="best", frameon=False)
    _tidy(low, float(max([max(m.planned, m.received) for m in cash], default=0)),
          money=r.currency)
    return _save(fig)


def _short_line(name: str) -> str:
    return name[:14]


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
