"""The digest's chart: the week's contacts by day and the open pipeline by stage (PNG).

matplotlib's object API with the Agg canvas: no display, no pyplot global state, so it is
safe to run in a worker thread.
"""

from __future__ import annotations

import contextlib
from decimal import Decimal
from io import BytesIO

from babel import Locale
from babel.numbers import format_compact_decimal, get_currency_symbol

from crm.digest import Digest


def has_chart(d: Digest) -> bool:
    """Bars of zeros tell nothing: a week with no contacts and no open deal gets no chart."""
    return any(n for _, n in d.daily) or bool(d.pipeline)


def currency_symbol(currency: str, locale: str) -> str:
    """₽ rather than RUB even in English: a locale without a symbol of its own for the
    currency borrows the one of the currency's country (ISO 4217 starts with ISO 3166)."""
    symbol = get_currency_symbol(currency, locale=locale)
    if symbol == currency:
        with contextlib.suppress(Exception):  # no such country: keep the code
            symbol = get_currency_symbol(currency, locale=Locale.parse(f"und_{currency[:2]}"))
    return symbol


def compact_money(amount: float | Decimal, currency: str, locale: str) -> str:
    """An axis label: "1,5 млн ₽" / "1.5M ₽", never "1500000"."""
    number = format_compact_decimal(amount, locale=locale, fraction_digits=1)
    return f"{number}\u00a0{currency_symbol(currency, locale)}"


def digest_chart(d: Digest, locale: str, titles: tuple[str, str]) -> bytes:
    from babel.dates import format_date
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

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
    left.set_ylim(0, max([1, *counts]))  # a zero week is a flat line at 0, not ±0.04
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
    right.xaxis.set_major_formatter(
        FuncFormatter(lambda x, _pos: compact_money(x, d.currency, locale)))
    fig.tight_layout()
    buf = BytesIO()
    fig.savefig(buf, format="png")
    return buf.getvalue()
