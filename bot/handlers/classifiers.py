"""🗂 Classifiers (marketers and admins) and 🪜 Sales stages (admins): add a value, rename it
in Russian and English, move it up or down, hide it from the pickers or show it again.

Entries: the ⚙️ Settings screen, /classifiers and /stages. Who may do what is decided in
crm/ (crm.access) on every call; these handlers only show and ask. A name is asked in the
user's language first, then in the other one, where one tap takes the same name.
"""

from __future__ import annotations

import html
from typing import Any

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot import forms
from bot.filters import FormText
from bot.keyboards.classifiers import (
    PAGE_SIZE,
    PROBABILITIES,
    STALL_DAYS,
    ClsAction,
    ClsAddCD,
    ClsCD,
    ClsFormCD,
    ClsItemCD,
    ClsLinkCD,
    ClsListCD,
    ClsMoveCD,
    FormAction,
    ItemAction,
    Kind,
    StageAction,
    StgCD,
    StgMoveCD,
    StgTargetCD,
    StgValueCD,
    item_kb,
    kind_title,
    links_kb,
    list_kb,
    menu_kb,
    name_kb,
    stage_kb,
    stages_kb,
    targets_kb,
    values_kb,
)
from bot.render import current_locale
from crm.access import can_edit_classifiers, can_edit_stages, require
from crm.classifiers import (
    Label,
    StageRow,
    check_probability,
    check_stall_days,
    clean_name,
    parse_whole,
)
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.service import CRM


class ClassifierForm(StatesGroup):
    first = State()  # the name in the user's language
    second = State()  # … and in the other one
    probability = State()
    stall = State()
    target = State()  # where the open deals of a stage being hidden go


forms.register(ClassifierForm, lambda: _("classifiers"),
               buttons_only=(ClassifierForm.target,))


def e(text: str) -> str:
    return html.escape(text)


def other(lang: str) -> str:
    return "en" if lang == "ru" else "ru"


def in_language(lang: str) -> str:
    return _("in Russian") if lang == "ru" else _("in English")


# --- the classifiers menu and a classifier's values ----------------------------------------


async def show_menu(target: Message | CallbackQuery, actor: Actor, crm: CRM) -> None:
    counts = await crm.classifiers.counts(actor)
    text = "\n".join([
        _("<b>🗂 Classifiers</b>"),
        _("The values people pick on cards, deals and contacts. Which list to edit?"),
    ])
    await forms.screen(target, text, menu_kb(counts, can_edit_stages(actor)))


async def cmd_classifiers(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await show_menu(message, actor, crm)


async def cb_menu(query: CallbackQuery, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await show_menu(query, actor, crm)


def list_text(kind: Kind, items: list[Label]) -> str:
    hidden = sum(1 for i in items if not i.active)
    head = _("<b>{title}</b>: {n}").format(title=kind_title(kind), n=len(items) - hidden)
    if hidden:
        head += ", " + _("hidden: {n}").format(n=hidden)
    return "\n".join([
        head,
        _("Tap a value to rename it, move it or hide it. Hidden values (🙈) are not offered "
          "when people fill in a card, but cards and history that use them still show them."),
    ])


async def show_list(target: Message | CallbackQuery, actor: Actor, crm: CRM, kind: Kind,
                    page: int = 0, note: str | None = None) -> None:
    items = await crm.classifiers.all_items(actor, kind)
    page = min(page, max(0, (len(items) - 1) // PAGE_SIZE))
    text = list_text(kind, items)
    if note:
        text = note + "\n\n" + text
    await forms.screen(target, text, list_kb(kind, items, page))


async def cb_list(query: CallbackQuery, callback_data: ClsListCD, actor: Actor, crm: CRM,
                  state: FSMContext) -> None:
    await forms.finish(state)
    await show_list(query, actor, crm, callback_data.kind, callback_data.page)


async def show_item(target: Message | CallbackQuery, actor: Actor, crm: CRM, kind: Kind,
                    item_id: int, note: str | None = None) -> None:
    items = await crm.classifiers.all_items(actor, kind)
    position = next((i for i, it in enumerate(items) if it.id == item_id), None)
    if position is None:
        await show_list(target, actor, crm, kind)
        return
    item = items[position]
    loc = current_locale()
    lines = [
        f"<b>{e(kind_title(kind))}</b> · {e(item.text(loc))}",
        "",
        _("Russian: {name}").format(name=e(item.ru)),
        _("English: {name}").format(name=e(item.en)),
        _("Code: {code}").format(code=e(item.code)),
        _("Place in the list: {n} of {total}").format(n=position + 1, total=len(items)),
    ]
    if kind in (Kind.OUTCOME, Kind.ACTIVITY_TYPE):
        linked = [o for o, on in await crm.classifiers.link_view(actor, kind, item.id) if on]
        names = ", ".join(e(o.text(loc)) for o in linked)
        if kind is Kind.OUTCOME:
            lines.append(_("Offered after: {types}").format(types=names or "—"))
        else:
            lines.append(_("Outcomes offered: {outcomes}").format(
                outcomes=names or _("all of them")))
    lines.append("")
    if item.active:
        lines.append(_("👁 Offered in pickers."))
    else:
        lines.append(_("🙈 Hidden: not offered in pickers; cards and history that use it "
                       "still show it."))
    text = "\n".join(lines)
    if note:
        text = note + "\n\n" + text
    await forms.screen(target, text, item_kb(kind, item, position, len(items)))


async def cb_item_open(query: CallbackQuery, callback_data: ClsItemCD, actor: Actor, crm: CRM,
                       state: FSMContext) -> None:
    await forms.finish(state)
    await show_item(query, actor, crm, callback_data.kind, callback_data.id)


def links_text(kind: Kind, item: str) -> str:
    if kind is Kind.OUTCOME:
        return "\n".join([
            _("<b>{name}</b>: after which kinds of contact is it offered?").format(name=e(item)),
            _("Tap a kind to switch it: ✅ offered, ▫️ not."),
        ])
    return "\n".join([
        _("<b>{name}</b>: which outcomes are offered after it?").format(name=e(item)),
        _("Tap an outcome to switch it: ✅ offered, ▫️ not. At least one stays."),
    ])


async def show_links(target: CallbackQuery, actor: Actor, crm: CRM, kind: Kind,
                     item_id: int, note: str | None = None) -> None:
    rows = await crm.classifiers.link_view(actor, kind, item_id)
    item = await crm.classifiers.item(kind.value, item_id)
    text = links_text(kind, item.text(current_locale()) if item else "")
    if note:
        text = note + "\n\n" + text
    await forms.screen(target, text, links_kb(kind, item_id, rows))


async def cb_item_links(query: CallbackQuery, callback_data: ClsItemCD, actor: Actor,
                        crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await show_links(query, actor, crm, callback_data.kind, callback_data.id)


async def cb_link(query: CallbackQuery, callback_data: ClsLinkCD, actor: Actor,
                  crm: CRM) -> None:
    kind, item_id, other_id = callback_data.kind, callback_data.id, callback_data.other
    if kind is Kind.OUTCOME:
        type_id, outcome_id = other_id, item_id
    elif kind is Kind.ACTIVITY_TYPE:
        type_id, outcome_id = item_id, other_id
    else:
        raise InvalidInput("kind")
    await crm.classifiers.set_link(actor, type_id, outcome_id, callback_data.on)
    await show_links(query, actor, crm, kind, item_id)


async def cb_item_move(query: CallbackQuery, callback_data: ClsMoveCD, actor: Actor,
                       crm: CRM) -> None:
    kind = callback_data.kind
    await crm.classifiers.move(actor, kind, callback_data.id, callback_data.pos)
    await show_item(query, actor, crm, kind, callback_data.id)


async def cb_item_hide(query: CallbackQuery, callback_data: ClsItemCD, actor: Actor,
                       crm: CRM) -> None:
    kind = callback_data.kind
    await crm.classifiers.set_hidden(actor, kind, callback_data.id, True)
    await show_item(query, actor, crm, kind, callback_data.id)


async def cb_item_show(query: CallbackQuery, callback_data: ClsItemCD, actor: Actor,
                       crm: CRM) -> None:
    kind = callback_data.kind
    await crm.classifiers.set_hidden(actor, kind, callback_data.id, False)
    await show_item(query, actor, crm, kind, callback_data.id)


# --- names: asked in the user's language, then in the other -------------------------------


async def ask_first(target: Message | CallbackQuery, state: FSMContext, heading: str,
                    old: dict[str, str] | None, **vals: Any) -> None:
    lang = current_locale()
    keep = old[lang] if old else None
    text = heading + "\n" + _("Type the name {language}:").format(language=in_language(lang))
    await forms.start(state, ClassifierForm.first, **vals)
    await forms.prompt(target, state, ClassifierForm.first, text,
                       lambda step: name_kb(step, keep=keep),
                       lang=lang, old=old)


async def ask_second(target: Message | CallbackQuery, state: FSMContext, first: str) -> None:
    draft = await forms.values(state)
    lang = other(str(draft["lang"]))
    old = draft.get("old")
    keep = old[lang] if old else None
    text = _("«{name}» — and {language}? Type it, or tap the button if it is the "
             "same.").format(name=e(first), language=in_language(lang))
    same = first if first != keep else None
    await forms.prompt(target, state, ClassifierForm.second, text,
                       lambda step: name_kb(step, keep=keep, same=same), first=first)


async def on_first(message: Message, state: FSMContext) -> None:
    # A bad name raises InvalidInput: the error handler says why and the question stays.
    await ask_second(message, state, clean_name(message.text or ""))


async def on_second(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await names_given(message, actor, crm, state, clean_name(message.text or ""))


async def names_given(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                      state: FSMContext, second: str) -> None:
    draft = await forms.values(state)
    lang, first = str(draft["lang"]), str(draft["first"])
    names = {lang: first, other(lang): second}
    ru, en = names["ru"], names["en"]
    item_id = int(draft["id"])
    if draft["what"] == "item":
        kind = Kind(str(draft["kind"]))
        await forms.finish(state)
        if item_id:
            await crm.classifiers.rename(actor, kind, item_id, ru, en)
            await show_item(target, actor, crm, kind, item_id, _("✅ Renamed."))
        else:
            added = await crm.classifiers.add(actor, kind, ru, en)
            await show_item(target, actor, crm, kind, added.id,
                            _("✅ Added: «{name}».").format(name=e(added.text(current_locale()))))
        return
    if item_id:
        await forms.finish(state)
        await crm.classifiers.rename_stage(actor, item_id, ru, en)
        await show_stage(target, actor, crm, item_id, _("✅ Renamed."))
        return
    await ask_probability(target, state, ru=ru, en=en)


async def cb_form_same(query: CallbackQuery, callback_data: ClsFormCD, actor: Actor, crm: CRM,
                       state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, ClassifierForm.second)
    if draft is None:
        return
    await names_given(query, actor, crm, state, str(draft["first"]))


async def cb_form_keep(query: CallbackQuery, callback_data: ClsFormCD, actor: Actor, crm: CRM,
                       state: FSMContext) -> None:
    at = await state.get_state()
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    old = draft.get("old")
    if not old:
        await forms.refuse(query, state, callback_data.step)
        return
    lang = str(draft["lang"])
    if at == ClassifierForm.first.state:
        await ask_second(query, state, str(old[lang]))
    elif at == ClassifierForm.second.state:
        await names_given(query, actor, crm, state, str(old[other(lang)]))
    else:
        await forms.refuse(query, state, callback_data.step)


async def cb_form_cancel(query: CallbackQuery, callback_data: ClsFormCD, actor: Actor, crm: CRM,
                         state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step)
    if draft is None:
        return
    await forms.finish(state)
    item_id = int(draft.get("id") or 0)
    if draft.get("what") == "item":
        kind = Kind(str(draft["kind"]))
        if item_id:
            await show_item(query, actor, crm, kind, item_id)
        else:
            await show_list(query, actor, crm, kind)
    elif item_id:
        await show_stage(query, actor, crm, item_id)
    else:
        await show_stages(query, actor, crm)


async def cb_item_add(query: CallbackQuery, callback_data: ClsAddCD, actor: Actor,
                      state: FSMContext) -> None:
    require(can_edit_classifiers(actor))
    kind = callback_data.kind
    await ask_first(query, state,
                    _("New value in «{title}».").format(title=e(kind_title(kind))), None,
                    what="item", kind=kind.value, id=0)


async def cb_item_rename(query: CallbackQuery, callback_data: ClsItemCD, actor: Actor,
                         crm: CRM, state: FSMContext) -> None:
    kind = callback_data.kind
    items = await crm.classifiers.all_items(actor, kind)
    item = next((i for i in items if i.id == callback_data.id), None)
    if item is None:
        await show_list(query, actor, crm, kind)
        return
    await ask_first(query, state,
                    _("Renaming «{ru}» / «{en}».").format(ru=e(item.ru), en=e(item.en)),
                    {"ru": item.ru, "en": item.en}, what="item", kind=kind.value, id=item.id)


# --- stages --------------------------------------------------------------------------------


def days_text(n: int) -> str:
    return ngettext("{n} day", "{n} days", n).format(n=n)


def stages_text(rows: list[StageRow]) -> str:
    loc = current_locale()
    lines = [_("<b>🪜 Sales stages</b>"), ""]
    for row in rows:
        st = row.stage
        mark = "" if st.active else "🙈 "
        lines.append(_("{mark}{n}. {name} — {probability} %, stalls after {days}; open deals: "
                       "{deals}").format(
            mark=mark, n=row.position + 1, name=e(st.text(loc)), probability=st.probability,
            days=days_text(st.stall_days), deals=row.open_deals))
    lines.append("")
    lines.append(_("A new deal starts at the first shown stage. Hidden stages (🙈) are not "
                   "offered; deals that passed them keep them in their history."))
    return "\n".join(lines)


async def show_stages(target: Message | CallbackQuery, actor: Actor, crm: CRM) -> None:
    rows = await crm.classifiers.stage_rows(actor)
    await forms.screen(target, stages_text(rows), stages_kb(rows))


async def cmd_stages(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await show_stages(message, actor, crm)


async def cb_stages(query: CallbackQuery, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await forms.finish(state)
    await show_stages(query, actor, crm)


def stage_text(row: StageRow) -> str:
    st = row.stage
    lines = [
        _("🪜 Stage <b>{name}</b>").format(name=e(st.text(current_locale()))),
        "",
        _("Russian: {name}").format(name=e(st.ru)),
        _("English: {name}").format(name=e(st.en)),
        _("Code: {code}").format(code=e(st.code)),
        _("Default probability: {n} %").format(n=st.probability),
        _("A deal stalls here after: {days}").format(days=days_text(st.stall_days)),
        _("Open deals at this stage: {n}").format(n=row.open_deals),
        _("Place in the pipeline: {n} of {total}").format(n=row.position + 1, total=row.total),
        "",
    ]
    if st.active:
        lines.append(_("👁 Offered when deals move."))
    else:
        lines.append(_("🙈 Hidden: deals do not move to it any more."))
    return "\n".join(lines)


async def show_stage(target: Message | CallbackQuery, actor: Actor, crm: CRM, stage_id: int,
                     note: str | None = None) -> None:
    row = await crm.classifiers.stage_row(actor, stage_id)
    text = stage_text(row)
    if note:
        text = note + "\n\n" + text
    await forms.screen(target, text, stage_kb(row))


async def cb_stage_open(query: CallbackQuery, callback_data: StgCD, actor: Actor, crm: CRM,
                        state: FSMContext) -> None:
    await forms.finish(state)
    await show_stage(query, actor, crm, callback_data.id)


async def cb_stage_move(query: CallbackQuery, callback_data: StgMoveCD, actor: Actor,
                        crm: CRM) -> None:
    await crm.classifiers.move_stage(actor, callback_data.id, callback_data.pos)
    await show_stage(query, actor, crm, callback_data.id)


async def cb_stage_show(query: CallbackQuery, callback_data: StgCD, actor: Actor,
                        crm: CRM) -> None:
    await crm.classifiers.show_stage(actor, callback_data.id)
    await show_stage(query, actor, crm, callback_data.id)


async def cb_stage_add(query: CallbackQuery, actor: Actor, state: FSMContext) -> None:
    require(can_edit_stages(actor))
    await ask_first(query, state, _("New sales stage, added at the end of the pipeline."),
                    None, what="stage", id=0)


async def cb_stage_rename(query: CallbackQuery, callback_data: StgCD, actor: Actor, crm: CRM,
                          state: FSMContext) -> None:
    st = (await crm.classifiers.stage_row(actor, callback_data.id)).stage
    await ask_first(query, state,
                    _("Renaming the stage «{ru}» / «{en}».").format(ru=e(st.ru), en=e(st.en)),
                    {"ru": st.ru, "en": st.en}, what="stage", id=st.id)


async def ask_probability(target: Message | CallbackQuery, state: FSMContext,
                          now: str | None = None, **vals: Any) -> None:
    await forms.prompt(target, state, ClassifierForm.probability,
                       with_now(_("Default probability of a deal at this stage, in %: tap or "
                                  "type a number from 0 to 100."), now),
                       lambda step: values_kb(step, PROBABILITIES, " %"), **vals)


async def ask_stall(target: Message | CallbackQuery, state: FSMContext, now: str | None = None,
                    **vals: Any) -> None:
    await forms.prompt(target, state, ClassifierForm.stall,
                       with_now(_("After how many days without moving is a deal at this stage "
                                  "stalled? Tap or type a number from 1 to 365."), now),
                       lambda step: values_kb(step, STALL_DAYS, ""), **vals)


async def cb_stage_probability(query: CallbackQuery, callback_data: StgCD, actor: Actor,
                               crm: CRM, state: FSMContext) -> None:
    st = (await crm.classifiers.stage_row(actor, callback_data.id)).stage
    await forms.start(state, ClassifierForm.probability, what="stage", id=st.id)
    await ask_probability(query, state, now=f"{st.probability} %")


async def cb_stage_stall(query: CallbackQuery, callback_data: StgCD, actor: Actor, crm: CRM,
                         state: FSMContext) -> None:
    st = (await crm.classifiers.stage_row(actor, callback_data.id)).stage
    await forms.start(state, ClassifierForm.stall, what="stage", id=st.id)
    await ask_stall(query, state, now=days_text(st.stall_days))


def with_now(text: str, now: str | None) -> str:
    """A question about a value that is set: what it is now, first."""
    return _("Now: {value}").format(value=now) + "\n" + text if now else text


async def probability_given(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                            state: FSMContext, value: int) -> None:
    value = check_probability(value)
    draft = await forms.values(state)
    stage_id = int(draft["id"])
    if not stage_id:
        await ask_stall(target, state, probability=value)
        return
    await forms.finish(state)
    await crm.classifiers.set_stage_probability(actor, stage_id, value)
    await show_stage(target, actor, crm, stage_id, _("✅ Saved."))


async def stall_given(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                      state: FSMContext, value: int) -> None:
    value = check_stall_days(value)
    draft = await forms.values(state)
    stage_id = int(draft["id"])
    await forms.finish(state)
    if stage_id:
        await crm.classifiers.set_stage_stall_days(actor, stage_id, value)
        await show_stage(target, actor, crm, stage_id, _("✅ Saved."))
        return
    added = await crm.classifiers.add_stage(
        actor, str(draft["ru"]), str(draft["en"]), int(draft["probability"]), value)
    await show_stage(target, actor, crm, added.id, _("✅ Stage added: «{name}».").format(
        name=e(added.text(current_locale()))))


async def on_probability(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await probability_given(message, actor, crm, state,
                            parse_whole(message.text or "", "probability"))


async def on_stall(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    await stall_given(message, actor, crm, state, parse_whole(message.text or "", "stall_days"))


async def cb_value(query: CallbackQuery, callback_data: StgValueCD, actor: Actor, crm: CRM,
                   state: FSMContext) -> None:
    at = await state.get_state()
    if await forms.take(query, state, callback_data.step) is None:
        return
    if at == ClassifierForm.probability.state:
        await probability_given(query, actor, crm, state, callback_data.value)
    elif at == ClassifierForm.stall.state:
        await stall_given(query, actor, crm, state, callback_data.value)


async def cb_stage_hide(query: CallbackQuery, callback_data: StgCD, actor: Actor, crm: CRM,
                        state: FSMContext) -> None:
    await forms.finish(state)
    rows = await crm.classifiers.stage_rows(actor)
    row = next((r for r in rows if r.stage.id == callback_data.id), None)
    if row is None or not row.stage.active:
        await show_stage(query, actor, crm, callback_data.id)
        return
    if row.open_deals == 0:
        await crm.classifiers.hide_stage(actor, row.stage.id)
        await show_stage(query, actor, crm, row.stage.id)
        return
    loc = current_locale()
    targets = [r for r in rows if r.stage.active and r.stage.id != row.stage.id]
    text = "\n".join([
        ngettext("The stage «{name}» has {n} open deal. Where should it move?",
                 "The stage «{name}» has {n} open deals. Where should they move?",
                 row.open_deals).format(name=e(row.stage.text(loc)), n=row.open_deals),
        _("Each deal gets a stage change in its history; then the stage is hidden."),
    ])
    await forms.start(state, ClassifierForm.target, what="stage", id=row.stage.id)
    await forms.prompt(query, state, ClassifierForm.target, text,
                       lambda step: targets_kb(step, targets))


async def cb_stage_target(query: CallbackQuery, callback_data: StgTargetCD, actor: Actor,
                          crm: CRM, state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, ClassifierForm.target)
    if draft is None:
        return
    await forms.finish(state)
    done = await crm.classifiers.hide_stage(actor, int(draft["id"]), callback_data.id)
    loc = current_locale()
    note = _("🙈 The stage «{name}» is hidden.").format(name=e(done.stage.text(loc)))
    if done.target is not None:
        note = ngettext("➡️ {n} deal moved to «{target}».",
                        "➡️ {n} deals moved to «{target}».", done.moved).format(
            n=done.moved, target=e(done.target.text(loc))) + "\n" + note
    await show_stage(query, actor, crm, done.stage.id, note)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.register(cmd_classifiers, Command("classifiers"))
    router.message.register(cmd_stages, Command("stages"))
    router.callback_query.register(cb_menu, ClsCD.filter(F.action == ClsAction.MENU))
    router.callback_query.register(cb_stages, ClsCD.filter(F.action == ClsAction.STAGES))
    router.callback_query.register(cb_stage_add, ClsCD.filter(F.action == ClsAction.ADD_STAGE))
    router.callback_query.register(cb_list, ClsListCD.filter())
    router.callback_query.register(cb_item_add, ClsAddCD.filter())
    router.callback_query.register(cb_item_open, ClsItemCD.filter(F.action == ItemAction.OPEN))
    router.callback_query.register(cb_item_rename,
                                   ClsItemCD.filter(F.action == ItemAction.RENAME))
    router.callback_query.register(cb_item_hide, ClsItemCD.filter(F.action == ItemAction.HIDE))
    router.callback_query.register(cb_item_show, ClsItemCD.filter(F.action == ItemAction.SHOW))
    router.callback_query.register(cb_item_links,
                                   ClsItemCD.filter(F.action == ItemAction.LINKS))
    router.callback_query.register(cb_link, ClsLinkCD.filter())
    router.callback_query.register(cb_item_move, ClsMoveCD.filter())
    router.callback_query.register(cb_form_same, ClsFormCD.filter(F.action == FormAction.SAME))
    router.callback_query.register(cb_form_keep, ClsFormCD.filter(F.action == FormAction.KEEP))
    router.callback_query.register(cb_form_cancel,
                                   ClsFormCD.filter(F.action == FormAction.CANCEL))
    router.callback_query.register(cb_stage_open, StgCD.filter(F.action == StageAction.OPEN))
    router.callback_query.register(cb_stage_rename,
                                   StgCD.filter(F.action == StageAction.RENAME))
    router.callback_query.register(cb_stage_probability,
                                   StgCD.filter(F.action == StageAction.PROBABILITY))
    router.callback_query.register(cb_stage_stall, StgCD.filter(F.action == StageAction.STALL))
    router.callback_query.register(cb_stage_hide, StgCD.filter(F.action == StageAction.HIDE))
    router.callback_query.register(cb_stage_show, StgCD.filter(F.action == StageAction.SHOW))
    router.callback_query.register(cb_stage_move, StgMoveCD.filter())
    router.callback_query.register(cb_value, StgValueCD.filter())
    router.callback_query.register(cb_stage_target, StgTargetCD.filter())
    router.message.register(on_first, ClassifierForm.first, FormText())
    router.message.register(on_second, ClassifierForm.second, FormText())
    router.message.register(on_probability, ClassifierForm.probability, FormText())
    router.message.register(on_stall, ClassifierForm.stall, FormText())
    return router
