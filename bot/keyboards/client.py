"""Callback data of the client card and what hangs off it.

Every id in here is re-checked in `crm/` when pressed: these bytes come from the phone.
"""

from __future__ import annotations

import calendar
from datetime import date
from enum import StrEnum
from typing import Annotated
from zoneinfo import ZoneInfo

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder
from pydantic import Field

from bot.keyboards.types import CD, INT32_MAX, DbId, Page, Step, button, markup, page_nav
from crm.classifiers import Label
from crm.clients import ClientCard, ClientRef, SearchPage
from crm.history import AgendaItem, AgendaPage, HistoryPage, TodayView


class ClientAction(StrEnum):
    OPEN = "open"
    LOG = "log"
    PLAN = "plan"
    DEALS = "deals"
    INVOICES = "inv"
    EDIT = "edit"
    CONTACTS = "contacts"
    ADD_CONTACT = "addcontact"
    NEW_DEAL = "newdeal"
    NO_NEXT = "nonext"
    VISIT = "visit"
    # Heads and admins (bot/handlers/client_admin.py).
    REASSIGN = "move"
    MERGE = "merge"
    ARCHIVE = "archive"
    RESTORE = "restore"
    LINK = "link"
    SEND_DOC = "doc"


class ClientCD(CD, prefix="c"):
    """A client-card action."""

    id: DbId
    action: ClientAction


class HistCD(CD, prefix="h"):
    client_id: DbId
    page: Page
    type_id: DbId | None = None  # None: every type


class EntryAction(StrEnum):
    OPEN = "open"
    COMMENT = "comment"
    OUTCOME = "outcome"
    DELETE = "delete"


class EntryCD(CD, prefix="he"):
    """A contact record of the history: open it for correction, or start a correction."""

    activity_id: DbId
    action: EntryAction


class EntryOutcomeCD(CD, prefix="heo"):
    """The corrected outcome of a contact record (None: no outcome)."""

    activity_id: DbId
    outcome_id: DbId | None = None


class EntryDeleteCD(CD, prefix="hed"):
    """«Yes, delete» of a contact record: the confirm prompt's step."""

    activity_id: DbId
    step: Step


class PersonAction(StrEnum):
    OPEN = "open"
    REMOVE = "remove"


class PersonCD(CD, prefix="cp"):
    """A contact person of a client: open their screen, or ask to remove them."""

    person_id: DbId
    action: PersonAction


class PersonField(StrEnum):
    NAME = "name"
    POSITION = "position"
    PHONE = "phone"
    EMAIL = "email"


class PersonEditCD(CD, prefix="cpe"):
    """Edit one field of a contact person (the new value is typed)."""

    person_id: DbId
    field: PersonField


class PersonRemoveCD(CD, prefix="cpr"):
    """«Yes, remove» of a contact person: the confirm prompt's step."""

    person_id: DbId
    step: Step


class SearchCD(CD, prefix="s"):
    """A page of search results; the query itself waits in the FSM data (64-byte limit)."""

    page: Page


class AgendaPart(StrEnum):
    """A part of Today one can page through (crm.history.AGENDA_PARTS)."""

    LATE = "late"
    DUE = "due"
    TEAM = "team"


class AgendaCD(CD, prefix="ag"):
    """A page of one part of Today."""

    part: AgendaPart
    page: Page


class TodayCD(CD, prefix="td"):
    """Today's screen again, in place."""


class PlanWhen(StrEnum):
    """Quick answers to "when is the next contact?" (their meaning lives in crm)."""

    IN_2H = "2h"
    TOMORROW = "tom10"
    IN_3D = "3d"
    NEXT_WEEK = "nextw"
    CALENDAR = "cal"
    TYPE = "text"


class PlanCD(CD, prefix="p"):
    """Plan the next contact."""

    client_id: DbId
    when: PlanWhen
    deal_id: DbId | None = None


class SubjectCD(CD, prefix="psu"):
    """Give a planned contact its subject."""

    planned_id: DbId


class CalAction(StrEnum):
    MONTH = "month"
    DAY = "day"
    HOUR = "hour"


class CalCD(CD, prefix="cal"):
    """The calendar picker: a month page, a picked day, or a picked hour."""

    client_id: DbId
    action: CalAction
    value: Annotated[int, Field(ge=0, le=9_999_123_123)]  # yyyymm, yyyymmdd, or yyyymmddhh
    deal_id: DbId | None = None


class LogTypeCD(CD, prefix="lt"):
    """Log a contact of this type (step 2: the outcome). Reminders jump straight here."""

    client_id: DbId
    type_id: DbId
    planned_id: DbId | None = None  # the reminder it came from, if any


class LogOutcomeCD(CD, prefix="lo"):
    """Step 3: the outcome is picked; the bot asks for a comment (text or voice)."""

    client_id: DbId
    type_id: DbId
    outcome_id: DbId | None = None  # None: no outcome
    planned_id: DbId | None = None


class LogSkipCD(CD, prefix="lsk"):
    """Save the contact without a comment (the comment prompt's step)."""

    client_id: DbId
    step: Step


class PlayCD(CD, prefix="pl"):
    """Play the voice note of a history record."""

    activity_id: DbId


class EditField(StrEnum):
    NAME = "name"
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"
    TAX_NUMBER = "tax_number"
    TRIGGER = "trigger_event"
    PROBABILITY = "probability"
    REGION = "region"
    INDUSTRY = "industry"
    SEGMENT = "segment"
    SOURCE = "source"
    CAMPAIGN = "campaign"


class EditCD(CD, prefix="ce"):
    """Edit one field of the card: a text field asks for a value, a classifier shows values."""

    client_id: DbId
    field: EditField


class EditPickCD(CD, prefix="cep"):
    """A picked classifier value of a card field (None clears it)."""

    client_id: DbId
    field: EditField
    item_id: DbId | None = None


class FwdCD(CD, prefix="fw"):
    """Log a forwarded message or a file into this client's history."""

    client_id: DbId
    step: Step


class FwdCancelCD(CD, prefix="fwx"):
    step: Step


def open_card_data(client_id: int) -> str:
    """`ClientCD(id=client_id, action=OPEN).pack()` without building the model: Today and the
    search results carry a button of it per line."""
    if type(client_id) is int and 1 <= client_id <= INT32_MAX:
        return f"{ClientCD.__prefix__}:{client_id}:{ClientAction.OPEN.value}"
    return ClientCD(id=client_id, action=ClientAction.OPEN).pack()  # it says what is wrong


def _short(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _button(text: str, data: CallbackData) -> InlineKeyboardButton:
    return button(text, data.pack())


def grid(
    buttons: list[InlineKeyboardButton], width: int
) -> list[list[InlineKeyboardButton]]:
    """Rows of `width` buttons. The hottest screens build their markup with this instead of
    InlineKeyboardBuilder, which deep-copies the whole keyboard on every button."""
    return [buttons[i : i + width] for i in range(0, len(buttons), width)]


def card_kb(card: ClientCard) -> InlineKeyboardMarkup:
    cid = card.id
    if card.archived:
        return archived_card_kb(card)
    buttons = [
        _button(_("📝 Log contact"), ClientCD(id=cid, action=ClientAction.LOG)),
        _button(_("📍 I'm at the client"), ClientCD(id=cid, action=ClientAction.VISIT)),
        _button(_("📜 History"), HistCD(client_id=cid, page=0)),
        _button(_("⏭ Plan next"), ClientCD(id=cid, action=ClientAction.PLAN)),
        _button(_("💼 Deals"), ClientCD(id=cid, action=ClientAction.DEALS)),
        _button(_("🧾 Invoices"), ClientCD(id=cid, action=ClientAction.INVOICES)),
    ]
    if card.can_change:
        buttons.append(_button(_("✏️ Edit"), ClientCD(id=cid, action=ClientAction.EDIT)))
    buttons.append(_button(_("👤 Contacts"), ClientCD(id=cid, action=ClientAction.CONTACTS)))
    if card.can_manage:
        buttons += [
            _button(_("🔀 Reassign"), ClientCD(id=cid, action=ClientAction.REASSIGN)),
            _button(_("🧬 Merge with…"), ClientCD(id=cid, action=ClientAction.MERGE)),
            _button(_("🗄 Archive"), ClientCD(id=cid, action=ClientAction.ARCHIVE)),
        ]
    if card.can_change:
        buttons.append(_button(_("🔗 Link for the client"),
                               ClientCD(id=cid, action=ClientAction.LINK)))
        buttons.append(_button(_("📎 Send a document"),
                               ClientCD(id=cid, action=ClientAction.SEND_DOC)))
    return markup(grid(buttons, 2))


def archived_card_kb(card: ClientCard) -> InlineKeyboardMarkup:
    """An archived client: its history, and restore (or, merged, the client it went to)."""
    buttons = [_button(_("📜 History"), HistCD(client_id=card.id, page=0))]
    if card.merged_into is not None:
        buttons.append(_button(_("Open «{name}»").format(name=_short(card.merged_into.name, 30)),
                               ClientCD(id=card.merged_into.id, action=ClientAction.OPEN)))
    elif card.can_manage:
        buttons.append(_button(_("♻️ Restore"), ClientCD(id=card.id, action=ClientAction.RESTORE)))
    return markup(grid(buttons, 1))


def back_to_card(client_id: int) -> InlineKeyboardButton:
    return button(_("« Card"), open_card_data(client_id))


def hist_data(client_id: int, page: int, type_id: int | None = None) -> str:
    """HistCD(...).pack() without building the model: a history page carries a dozen."""
    return f"h:{client_id}:{page}:{'' if type_id is None else type_id}"


def history_kb(
    page: HistoryPage, types: list[Label], locale: str, tz: ZoneInfo
) -> InlineKeyboardMarkup:
    rows: list[list[InlineKeyboardButton]] = []
    nav: list[InlineKeyboardButton] = []
    cid, tid = page.client_id, page.type_id or None
    if page.page > 0:
        nav.append(button(_("‹ Newer"), hist_data(cid, page.page - 1, tid)))
    if page.page + 1 < page.pages:
        nav.append(button(_("Older ›"), hist_data(cid, page.page + 1, tid)))
    if nav:
        rows.append(nav)
    labels: dict[str, str] | None = None
    for item in page.items:
        if item.attachment_kind in ("voice", "photo", "document"):
            if labels is None:
                labels = {"voice": _("▶️ Play voice note of {when}"),
                          "photo": _("🖼 Photo of {when}"),
                          "document": _("📎 Document of {when}")}
            rows.append([button(
                labels[item.attachment_kind].format(
                    when=item.occurred_at.astimezone(tz).strftime("%d.%m")
                ),
                PlayCD(activity_id=item.id).pack(),
            )])
    fixes = [
        button(
            "✏️ " + item.occurred_at.astimezone(tz).strftime("%d.%m")
            + (" " + _short(item.type.text(locale), 12) if item.type else ""),
            EntryCD(activity_id=item.id, action=EntryAction.OPEN).pack(),
        )
        for item in page.items if item.can_correct
    ]
    rows += grid(fixes, 3)
    filters = [button(("• " if tid is None else "") + _("All"), hist_data(cid, 0))]
    for t in types:
        filters.append(button(("• " if tid == t.id else "") + _short(t.text(locale), 14),
                              hist_data(cid, 0, t.id)))
    rows += grid(filters, 4)
    rows.append([back_to_card(cid)])
    return markup(rows)


def search_kb(result: SearchPage) -> InlineKeyboardMarkup:
    rows = [[client_button(ref)] for ref in result.items]
    nav = page_nav(result.page, result.pages, lambda k: SearchCD(page=k).pack())
    if nav:
        rows.append(nav)
    return markup(rows)


def _agenda_button(item: AgendaItem, tz: ZoneInfo, late: bool) -> InlineKeyboardButton:
    at = item.due_at.astimezone(tz)
    owner = f" · {item.owner_name[:20]}" if item.owner_name else ""
    when = f"⚠️ {at:%d.%m %H:%M}" if late else f"{at:%H:%M}"
    return button(f"{when} {item.client_name[:30]}{owner}", open_card_data(item.client_id))


def today_kb(view: TodayView, tz: ZoneInfo) -> InlineKeyboardMarkup:
    """A button per contact Today lists (the overdue, today's, the team's), and for a part
    with more than that, one to page through all of it."""
    rows = [[_agenda_button(item, tz, late)] for part, late in (
        (view.overdue, True), (view.today, False), (view.team_overdue, True)) for item in part]
    more = [button(text.format(n=total), AgendaCD(part=part, page=0).pack())
            for text, part, shown, total in (
                (_("⚠️ All overdue: {n}"), AgendaPart.LATE, view.overdue, view.overdue_total),
                (_("📞 All for today: {n}"), AgendaPart.DUE, view.today, view.today_total),
                (_("👥 Team overdue: {n}"), AgendaPart.TEAM, view.team_overdue,
                 view.team_overdue_total))
            if total > len(shown)]
    rows += [[b] for b in more]
    return markup(rows)


def agenda_kb(page: AgendaPage, tz: ZoneInfo) -> InlineKeyboardMarkup:
    part = AgendaPart(page.part)
    rows = [[_agenda_button(item, tz, part is not AgendaPart.DUE)] for item in page.items]
    nav = page_nav(page.page, page.pages, lambda k: AgendaCD(part=part, page=k).pack())
    if nav:
        rows.append(nav)
    rows.append([button(_("« Today"), TodayCD().pack())])
    return markup(rows)


def client_button(ref: ClientRef, prefix: str = "") -> InlineKeyboardButton:
    text = prefix + _short(ref.name, 40) + (f" · {ref.hint}" if ref.hint else "")
    return button(text, open_card_data(ref.id))


def types_kb(client_id: int, types: list[Label], locale: str) -> InlineKeyboardMarkup:
    buttons = [_button(t.text(locale), LogTypeCD(client_id=client_id, type_id=t.id))
               for t in types]
    return markup([*grid(buttons, 3), [back_to_card(client_id)]])


def outcomes_kb(
    client_id: int, type_id: int, outcomes: list[Label], locale: str,
    planned_id: int | None = None,
) -> InlineKeyboardMarkup:
    buttons = [
        _button(o.text(locale), LogOutcomeCD(
            client_id=client_id, type_id=type_id, outcome_id=o.id, planned_id=planned_id
        ))
        for o in outcomes
    ]
    buttons.append(_button(_("— no outcome"), LogOutcomeCD(
        client_id=client_id, type_id=type_id, planned_id=planned_id
    )))
    return markup([*grid(buttons, 2), [back_to_card(client_id)]])


def skip_comment_kb(client_id: int, step: int) -> InlineKeyboardMarkup:
    return markup([
        [_button(_("Save without a comment"), LogSkipCD(client_id=client_id, step=step))],
        [back_to_card(client_id)],  # leaves the form without saving
    ])


def next_step_kb(
    client_id: int, deal_id: int | None, with_close: bool = True
) -> InlineKeyboardMarkup:
    # Imported here: the deals keyboards import this module's ClientCD.
    from bot.keyboards.deals import DealCD

    did = deal_id or None
    quick = [
        _button(text, PlanCD(client_id=client_id, when=when, deal_id=did))
        for when, text in (
        (PlanWhen.IN_2H, _("in 2 h")),
        (PlanWhen.TOMORROW, _("tomorrow 10:00")),
        (PlanWhen.IN_3D, _("in 3 days")),
        (PlanWhen.NEXT_WEEK, _("next week")),
        (PlanWhen.CALENDAR, _("📅 Pick a date")),
        (PlanWhen.TYPE, _("⌨️ Type it")),
        )
    ]
    rows = grid(quick, 2)
    if with_close and deal_id:
        rows.append([
            button(_("✅ Deal won"), DealCD(id=deal_id, action="won").pack()),
            button(_("❌ Deal lost"), DealCD(id=deal_id, action="lost").pack()),
        ])
    rows.append([_button(_("🚫 No next step"),
                         ClientCD(id=client_id, action=ClientAction.NO_NEXT))])
    rows.append([back_to_card(client_id)])
    return markup(rows)


def calendar_kb(client_id: int, deal_id: int | None, year: int, month: int,
                today: date) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    prev_y, prev_m = (year - 1, 12) if month == 1 else (year, month - 1)
    next_y, next_m = (year + 1, 1) if month == 12 else (year, month + 1)
    nav = []
    if (year, month) > (today.year, today.month):
        nav.append(button("‹", CalCD(
            client_id=client_id, action=CalAction.MONTH, value=prev_y * 100 + prev_m,
            deal_id=deal_id,
        ).pack()))
    nav.append(button(f"{month:02d}.{year}", CalCD(
        client_id=client_id, action=CalAction.MONTH, value=year * 100 + month, deal_id=deal_id
    ).pack()))
    nav.append(button("›", CalCD(
        client_id=client_id, action=CalAction.MONTH, value=next_y * 100 + next_m, deal_id=deal_id
    ).pack()))
    kb.row(*nav)
    for week in calendar.Calendar(firstweekday=0).monthdatescalendar(year, month):
        row = []
        for day in week:
            if day.month != month or day < today:
                row.append(button(" ", CalCD(
                    client_id=client_id, action=CalAction.MONTH, value=year * 100 + month,
                    deal_id=deal_id).pack()))
            else:
                row.append(button(str(day.day), CalCD(
                    client_id=client_id, action=CalAction.DAY,
                    value=day.year * 10000 + day.month * 100 + day.day, deal_id=deal_id,
                ).pack()))
        kb.row(*row)
    kb.row(back_to_card(client_id))
    return kb.as_markup()


def hours_kb(client_id: int, deal_id: int | None, day: date) -> InlineKeyboardMarkup:
    kb = InlineKeyboardBuilder()
    base = (day.year * 10000 + day.month * 100 + day.day) * 100
    for hour in range(8, 20):
        kb.button(text=f"{hour:02d}:00", callback_data=CalCD(
            client_id=client_id, action=CalAction.HOUR, value=base + hour, deal_id=deal_id))
    kb.adjust(4)
    kb.row(back_to_card(client_id))
    return kb.as_markup()


def planned_kb(planned_id: int, client_id: int) -> InlineKeyboardMarkup:
    return markup([
        [button(_("📝 Add a subject"), SubjectCD(planned_id=planned_id).pack())],
        [back_to_card(client_id)],
    ])


def card_back_kb(client_id: int) -> InlineKeyboardMarkup:
    return markup([[back_to_card(client_id)]])
