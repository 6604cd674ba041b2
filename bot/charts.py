"""The digest's chart: the week's contacts by day and the open pipeline by stage (PNG).

matplotlib's object API with the Agg canvas: no display, no pyplot global state, so it is
safe to run in a worker thread.
"""

from __future__ import annotations

from io import BytesIO

from crm.digest import Digest


def digest_chart(d: Digest, locale: str, titles: tuple[str, str]) -> bytes:
    from babel.dates import format_date
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 3.6), dpi=110)
    FigureCanvasAgg(fig)
    left, right = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.1, 1]})
    days = [format_date(day, "EEE d", locale=locale) for day, _ in d.daily]
    counts = [n for _, n in d.daily]
    left.bar(days, counts, color="#4C78A8")
    left.set_title(titles[0], fontsize=10)
    left.tick_params(axis="x", labelsize=7, rotation=45)
    left.tick_params(axis="y", labelsize=8)
    left.yaxis.get_major_locator().set_params(integer=True)
    names = [line.stage.text(locale)[:18] for line in d.pipeline]
    amounts = [float(line.amount) for line in d.pipeline]
    if names:
        right.barh(names[::-1], amounts[::-1], color="#F58518")
        for i, line in enumerate(reversed(d.pipeline)):
            right.text(0, i, f" {line.count}", va="center", fontsize=7, color="white")
    else:
        right.text(0.5, 0.5, "—", ha="center", va="center")
    right.set_title(titles[1], fontsize=10)
    right.tick_params(axis="both", labelsize=7)
    right.ticklabel_format(axis="x", style="plain")
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
