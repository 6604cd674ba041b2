"""Texts of the client lists: the filter as lines, the builder, a result page."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _

from bot.keyboards.lists import criterion_name, lists_title
from bot.render import current_locale, fmt_date
from bot.views import e
from crm.classifiers import Label
from crm.lists import ClientFilter, Criterion, ListPage, SavedInfo


def value_text(flt: ClientFilter, c: Criterion, labels: dict[Criterion, Label]) -> str:
    """The criterion's value in words (the filter has it set)."""
    if c in labels:
        return e(labels[c].text(current_locale()))
    if c is Criterion.PROBABILITY:
        return _("{low}–{high} %").format(low=flt.prob_min or 0, high=flt.prob_max
                                          if flt.prob_max is not None else 100)
    if c is Criterion.SILENT:
        return _("{n} days or more").format(n=flt.silent_days)
    if c is Criterion.CONTACTED:
        return _("within {n} days").format(n=flt.contacted_days)
    if c is Criterion.CREATED and flt.created_from and flt.created_to:
        return f"{fmt_date(flt.created_from)} – {fmt_date(flt.created_to)}"
    if c in (Criterion.OPEN_DEAL, Criterion.NO_NEXT, Criterion.OVERDUE):
        return _("yes")
    return _("(no longer available)")


def filter_lines(flt: ClientFilter, labels: dict[Criterion, Label]) -> list[str]:
    lines = [f"• {criterion_name(c)}: {value_text(flt, c, labels)}"
             for c in Criterion if flt.value_of(c) not in (None, False)]
    return lines or [_("• no criteria: every client you can see")]


def builder_text(flt: ClientFilter, labels: dict[Criterion, Label]) -> str:
    return "\n".join([
        _("{title} · <b>filter</b>").format(title=lists_title()),
        *filter_lines(flt, labels),
        "",
        _("Tap a criterion to set or change it, then «Show»."),
    ])


def _count_lines(result: ListPage) -> list[str]:
    if not result.total:
        return [_("No clients match.")]
    lines = [_("Found: {n}").format(n=result.total)]
    if result.pages > 1:
        lines.append(_("Page {page} of {pages}").format(page=result.page + 1,
                                                        pages=result.pages))
    return lines


def draft_text(flt: ClientFilter, labels: dict[Criterion, Label], result: ListPage) -> str:
    return "\n".join([
        _("{title} · <b>result</b>").format(title=lists_title()),
        *filter_lines(flt, labels),
        "",
        *_count_lines(result),
    ])


def saved_text(info: SavedInfo, flt: ClientFilter, labels: dict[Criterion, Label],
               result: ListPage) -> str:
    who = _("👥 shared") if info.shared else _("🔒 private")
    if not info.mine:
        who += " · " + _("by {name}").format(name=e(info.owner_name))
    return "\n".join([
        f"🗂 <b>{e(info.name)}</b> · {who}",
        *filter_lines(flt, labels),
        "",
        *_count_lines(result),
    ])


def menu_text(saved: list[SavedInfo]) -> str:
    lines = [f"<b>{lists_title()}</b>"]
    if saved:
        lines.append(_("Your lists and those shared with you (🔒 private, 👥 shared). Each "
                       "opens with fresh results."))
    else:
        lines.append(_("No saved lists yet. Build a filter and save it to reopen it any "
                       "time with fresh results."))
    return "\n".join(lines)
