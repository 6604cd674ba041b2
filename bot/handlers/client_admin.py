"""Heads and admins run the client base: move a client or all of a person's clients to
someone else, merge a duplicate into a card, archive and restore.

Thin: who may do what is decided (again, on every button) in crm.client_admin; each write
is the answer of a form prompt, taken once (forms.take), so a double tap does it once.
"""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, InlineKeyboardButton, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot import forms
from bot.filters import FormText
from bot.keyboards.client import ClientAction, ClientCD, back_to_card, card_back_kb, card_kb
from bot.keyboards.client_admin import (
    ArchiveDoCD,
    MergeDoCD,
    MergePickCD,
    ReassignDoCD,
    ReassignPickCD,
    ReassignRuleCD,
    archive_confirm_kb,
    back_to_person,
    confirm_move_kb,
    deactivate_kb,
    merge_confirm_kb,
    merge_pick_kb,
    targets_kb,
)
from bot.keyboards.leads import rule_name
from bot.keyboards.people import UserAction, UserCD
from bot.views import card_text
from crm.access import can_reassign
from crm.client_admin import MergePreview, Reassigned
from crm.dto import Actor
from crm.errors import Forbidden
from crm.leads import Rule, Spread
from crm.roles import can_manage_people
from crm.service import CRM


class ReassignForm(StatesGroup):
    pick = State()
    confirm = State()


class MergeForm(StatesGroup):
    query = State()
    pick = State()
    confirm = State()


class ArchiveForm(StatesGroup):
    confirm = State()


forms.register(ReassignForm, lambda: _("moving clients"),
               buttons_only=(ReassignForm.pick, ReassignForm.confirm))
forms.register(MergeForm, lambda: _("merging clients"),
               buttons_only=(MergeForm.pick, MergeForm.confirm))
forms.register(ArchiveForm, lambda: _("archiving a client"), buttons_only=(ArchiveForm.confirm,))


def _back(draft_client: int | None, person: int | None) -> InlineKeyboardButton:
    if draft_client is not None:
        return back_to_card(draft_client)
    assert person is not None
    return back_to_person(person)


# --- moving one client -----------------------------------------------------------------


async def cb_reassign(query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    if not card.can_manage or card.archived:
        raise Forbidden()
    targets = await crm.client_admin.targets(actor, exclude=card.owner_id)
    rule = _rule_label(await crm.leads.move_rule(actor, client_id=card.id))
    text = _("🔀 Hand «{name}» (manager: {owner}) over to:").format(
        name=html.escape(card.name), owner=html.escape(card.owner_name or "—"))
    if not targets:
        text = _("There is nobody to hand clients over to: no other active manager or head "
                 "in your scope.")
    await forms.start(state, ReassignForm.pick)
    await forms.prompt(query, state, ReassignForm.pick, text,
                       lambda step: targets_kb(step, targets, back_to_card(card.id), rule),
                       clients=[card.id], title=card.name, person=None, off=False,
                       owner=card.owner_id, rule_name=rule, n=1)


def _rule_label(rule: Rule) -> str | None:
    """The team's rule as the «By the rule» button names it; None when manual (the head
    picks a person)."""
    return None if rule is Rule.MANUAL else rule_name(rule)


# --- all of a person's clients (the people screens) ---------------------------------------


async def _start_move_all(query: CallbackQuery, actor: Actor, crm: CRM, state: FSMContext,
                          user_id: int, off: bool) -> None:
    person = await crm.people.person(actor, user_id)
    n = await crm.client_admin.clients_count(actor, person.id)
    if n == 0 and not off:
        await query.answer(_("«{name}» has no clients.").format(name=person.name),
                           show_alert=True)
        return
    targets = await crm.client_admin.targets(actor, exclude=person.id)
    rule = _rule_label(await crm.leads.move_rule(actor, from_user_id=person.id)) if n else None
    text = ngettext("🔀 Hand all {n} client of «{name}» over to:",
                    "🔀 Hand all {n} clients of «{name}» over to:", n).format(
        n=n, name=html.escape(person.name))
    if off:
        text += "\n" + _("Then «{name}» is deactivated.").format(name=html.escape(person.name))
    if not targets:
        text = _("There is nobody to hand clients over to: no other active manager or head "
                 "in your scope.")
    await forms.start(state, ReassignForm.pick)
    await forms.prompt(query, state, ReassignForm.pick, text,
                       lambda step: targets_kb(step, targets, back_to_person(person.id), rule),
                       clients=None, title=person.name, person=person.id, off=off, n=n,
                       rule_name=rule)


async def cb_move_clients(query: CallbackQuery, callback_data: UserCD, actor: Actor, crm: CRM,
                          state: FSMContext) -> None:
    await _start_move_all(query, actor, crm, state, callback_data.user_id, off=False)


async def cb_move_and_off(query: CallbackQuery, callback_data: UserCD, actor: Actor,
                          crm: CRM, state: FSMContext) -> None:
    if not can_manage_people(actor.role):
        raise Forbidden()
    await _start_move_all(query, actor, crm, state, callback_data.user_id, off=True)


async def cb_keep_and_off(query: CallbackQuery, callback_data: UserCD, actor: Actor,
                          crm: CRM) -> None:
    # Imported here: the people handlers import this module for the deactivate question.
    from bot.handlers.people import show_person

    person = await crm.people.set_active(actor, callback_data.user_id, False)
    await show_person(query, actor, person)


async def ask_before_deactivating(query: CallbackQuery, actor: Actor, crm: CRM,
                                  user_id: int) -> bool:
    """A person with clients is not deactivated at once: the admin says what becomes of
    their clients first. True when the question was asked."""
    n = await crm.client_admin.clients_count(actor, user_id)
    if n == 0:
        return False
    person = await crm.people.person(actor, user_id)
    text = ngettext(
        "«{name}» has {n} client. What to do with it before deactivating?",
        "«{name}» has {n} clients. What to do with them before deactivating?", n,
    ).format(name=html.escape(person.name), n=n)
    await forms.screen(query, text, deactivate_kb(person.id))
    return True


# --- the common steps: pick the person, confirm, move ---------------------------------------


async def cb_reassign_pick(query: CallbackQuery, callback_data: ReassignPickCD, actor: Actor,
                           crm: CRM, state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, ReassignForm.pick)
    if draft is None:
        return
    targets = {t.id: t for t in await crm.client_admin.targets(actor)}
    target = targets.get(callback_data.user_id)
    if target is None:
        await forms.finish(state)
        raise Forbidden("reassign_target")
    clients, person = draft["clients"], draft["person"]
    names = {"name": html.escape(str(draft["title"])), "to": html.escape(target.name)}
    if clients is not None:
        text = _("Hand «{name}» over to «{to}»?").format(**names)
    else:
        n = int(draft["n"])
        text = ngettext("Hand {n} client of «{name}» over to «{to}»?",
                        "Hand all {n} clients of «{name}» over to «{to}»?", n).format(
            n=n, **names)
        if draft["off"]:
            text += "\n" + _("Then «{name}» is deactivated.").format(name=names["name"])
    text += "\n\n" + _("Open deals, planned contacts and their reminders go along; both "
                       "managers are told, and the client's history records it.")
    back = _back(clients[0] if clients else None, person)
    await forms.prompt(query, state, ReassignForm.confirm, text,
                       lambda step: confirm_move_kb(step, back), to=target.id, rule=False)


async def cb_reassign_rule(query: CallbackQuery, callback_data: ReassignRuleCD, actor: Actor,
                           crm: CRM, state: FSMContext) -> None:
    """«By the team's rule»: the clients are spread as leads are (crm re-checks the rule)."""
    draft = await forms.take(query, state, callback_data.step, ReassignForm.pick)
    if draft is None:
        return
    if not draft.get("rule_name"):
        await forms.finish(state)
        raise Forbidden()
    clients, person = draft["clients"], draft["person"]
    n = int(draft.get("n") or 1)
    names = {"name": html.escape(str(draft["title"])), "rule": str(draft["rule_name"])}
    if clients is not None:
        text = _("Hand «{name}» over by the team's rule ({rule})?").format(**names)
    else:
        text = ngettext("Hand {n} client of «{name}» out by the team's rule ({rule})?",
                        "Hand all {n} clients of «{name}» out by the team's rule ({rule})?",
                        n).format(n=n, **names)
        if draft["off"]:
            text += "\n" + _("Then «{name}» is deactivated.").format(name=names["name"])
    text += "\n\n" + _("Managers on vacation or with too many clients in work get none; "
                        "whatever nobody can take stays where it is. Open deals, planned "
                        "contacts and their reminders go along; every manager gets one "
                        "message, and the history records it.")
    back = _back(clients[0] if clients else None, person)
    await forms.prompt(query, state, ReassignForm.confirm, text,
                       lambda step: confirm_move_kb(step, back), to=0, rule=True)


async def cb_reassign_do(query: CallbackQuery, callback_data: ReassignDoCD, actor: Actor,
                         crm: CRM, state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, ReassignForm.confirm)
    if draft is None:
        return
    await forms.finish(state)
    clients, person, to = draft["clients"], draft["person"], int(draft["to"])
    if draft.get("rule"):
        await _spread(query, actor, crm, draft)
        return
    done: Reassigned
    if clients is not None:
        done = await crm.client_admin.reassign_clients(actor, [int(c) for c in clients], to)
    else:
        done = await crm.client_admin.reassign_all(actor, int(person), to)
    text = moved_text(done)
    if clients is not None and len(clients) == 1:
        card = await crm.clients.card(actor, int(clients[0]))
        await forms.screen(query, text + "\n\n" + card_text(card, actor.tz), card_kb(card))
        return
    from bot.handlers.people import person_markup, person_text

    if draft["off"]:
        shown = await crm.people.set_active(actor, int(person), False)
    else:
        shown = await crm.people.person(actor, int(person))
    await forms.screen(query, text + "\n\n" + person_text(shown), person_markup(actor, shown))


async def _spread(query: CallbackQuery, actor: Actor, crm: CRM, draft: forms.Draft) -> None:
    clients, person = draft["clients"], draft["person"]
    if clients is not None:
        owner = draft.get("owner")
        done = await crm.leads.reassign_by_rule(
            actor, client_ids=[int(c) for c in clients],
            only_from=None if owner is None else int(owner))
    else:
        done = await crm.leads.reassign_by_rule(actor, from_user_id=int(person),
                                                only_from=int(person))
    text = spread_text(done)
    if clients is not None and len(clients) == 1:
        card = await crm.clients.card(actor, int(clients[0]))
        await forms.screen(query, text + "\n\n" + card_text(card, actor.tz), card_kb(card))
        return
    from bot.handlers.people import person_markup, person_text

    if draft["off"] and not done.left:
        shown = await crm.people.set_active(actor, int(person), False)
    else:
        shown = await crm.people.person(actor, int(person))
        if draft["off"]:
            text += "\n" + _("«{name}» is still active: hand the rest over to a person, "
                             "then deactivate.").format(name=html.escape(shown.name))
    await forms.screen(query, text + "\n\n" + person_text(shown), person_markup(actor, shown))


def spread_text(done: Spread) -> str:
    text = ngettext("✅ {n} client handed out by the rule ({rule}):",
                    "✅ {n} clients handed out by the rule ({rule}):", done.clients).format(
        n=done.clients, rule=rule_name(done.rule))
    lines = [text] + [f"• {html.escape(name)}: {n}" for name, n in done.to[:20]]
    if done.deals or done.planned:
        lines.append(_("Open deals moved: {deals}, planned contacts: {planned}.").format(
            deals=done.deals, planned=done.planned))
    if done.left:
        lines.append(ngettext(
            "⚠️ {n} client stayed where it was: every manager is on vacation or has too "
            "many clients in work.",
            "⚠️ {n} clients stayed where they were: every manager is on vacation or has too "
            "many clients in work.", done.left).format(n=done.left))
    return "\n".join(lines)


def moved_text(done: Reassigned) -> str:
    text = ngettext("✅ {n} client handed over to «{to}».",
                    "✅ {n} clients handed over to «{to}».", done.clients).format(
        n=done.clients, to=html.escape(done.to_name))
    if done.deals or done.planned:
        text += " " + _("Open deals moved: {deals}, planned contacts: {planned}.").format(
            deals=done.deals, planned=done.planned)
    return text


# --- merging ----------------------------------------------------------------------------


async def cb_merge(query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM,
                   state: FSMContext) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    if not card.can_manage or card.archived:
        raise Forbidden()
    await forms.start(state, MergeForm.query)
    await forms.prompt(
        query, state, MergeForm.query,
        _("🧬 Merge a duplicate into «{name}»: send its name, phone or e-mail. Its history, "
          "deals, contacts and planned contacts will move here.").format(
            name=html.escape(card.name)),
        lambda _step: card_back_kb(card.id), survivor=card.id, title=card.name,
    )


async def msg_merge_query(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    draft = await forms.values(state)
    survivor = int(draft["survivor"])
    found = await crm.clients.search(actor, (message.text or "").strip()[:200])
    refs = await crm.client_admin.merge_candidates(actor, survivor, found.items)
    if not refs:
        await message.answer(_("No client you may merge was found. Try another name, phone "
                               "or e-mail, or /cancel."))
        return
    await forms.prompt(message, state, MergeForm.pick,
                       _("Which one is the duplicate of «{name}»?").format(
                           name=html.escape(str(draft["title"]))),
                       lambda step: merge_pick_kb(step, refs, survivor))


async def cb_merge_pick(query: CallbackQuery, callback_data: MergePickCD, actor: Actor,
                        crm: CRM, state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, MergeForm.pick)
    if draft is None:
        return
    survivor = int(draft["survivor"])
    preview = await crm.client_admin.merge_preview(actor, survivor, callback_data.client_id)
    await forms.prompt(query, state, MergeForm.confirm, merge_preview_text(preview),
                       lambda step: merge_confirm_kb(step, survivor),
                       other=preview.other.id)


def merge_preview_text(p: MergePreview) -> str:
    m = p.moves
    names = {"other": html.escape(p.other.name), "survivor": html.escape(p.survivor.name)}
    lines = [
        _("🧬 Merge «{other}» into «{survivor}»?").format(**names),
        "",
        _("Moves to «{survivor}»:").format(**names),
        _("• history records: {n}").format(n=m.history),
        _("• deals: {n} (invoices: {invoices}, payments: {payments})").format(
            n=m.deals, invoices=m.invoices, payments=m.payments),
        _("• contact persons: {n}").format(n=m.contacts),
        _("• planned contacts: {n}").format(n=m.planned),
        *([_("• linked Telegram chats: {n}").format(n=m.channels)] if m.channels else []),
        "",
        _("Phones and e-mails are added, empty fields filled in. «{other}» is archived; its "
          "card says where it went.").format(**names),
    ]
    return "\n".join(lines)


async def cb_merge_do(query: CallbackQuery, callback_data: MergeDoCD, actor: Actor, crm: CRM,
                      state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, MergeForm.confirm)
    if draft is None:
        return
    await forms.finish(state)
    done = await crm.client_admin.merge(actor, int(draft["survivor"]), int(draft["other"]))
    card = await crm.clients.card(actor, done.survivor.id)
    text = _("✅ «{other}» merged into «{survivor}».").format(
        other=html.escape(done.other.name), survivor=html.escape(done.survivor.name))
    await forms.screen(query, text + "\n\n" + card_text(card, actor.tz), card_kb(card))


# --- archiving and restoring ----------------------------------------------------------------


async def cb_archive(query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM,
                     state: FSMContext) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    if not card.can_manage or card.archived:
        raise Forbidden()
    await forms.start(state, ArchiveForm.confirm)
    await forms.prompt(
        query, state, ArchiveForm.confirm,
        _("🗄 Archive «{name}»? It leaves searches, lists, reminders and reports; its history "
          "stays, and a head or an admin can restore it.").format(name=html.escape(card.name)),
        lambda step: archive_confirm_kb(step, card.id), client=card.id,
    )


async def cb_archive_do(query: CallbackQuery, callback_data: ArchiveDoCD, actor: Actor,
                        crm: CRM, state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, ArchiveForm.confirm)
    if draft is None:
        return
    await forms.finish(state)
    cid = int(draft["client"])
    await crm.client_admin.set_archived(actor, cid, True)
    card = await crm.clients.card(actor, cid, archived=True)
    await forms.screen(query, card_text(card, actor.tz), card_kb(card))


async def cb_restore(query: CallbackQuery, callback_data: ClientCD, actor: Actor,
                     crm: CRM) -> None:
    if not can_reassign(actor):
        raise Forbidden()
    await crm.client_admin.set_archived(actor, callback_data.id, False)
    card = await crm.clients.card(actor, callback_data.id)
    await forms.screen(query, _("♻️ Restored.") + "\n\n" + card_text(card, actor.tz),
                       card_kb(card))


def create_router() -> Router:
    router = Router(name=__name__)
    cd = ClientCD.filter
    router.callback_query.register(cb_reassign, cd(F.action == ClientAction.REASSIGN))
    router.callback_query.register(cb_merge, cd(F.action == ClientAction.MERGE))
    router.callback_query.register(cb_archive, cd(F.action == ClientAction.ARCHIVE))
    router.callback_query.register(cb_restore, cd(F.action == ClientAction.RESTORE))
    ud = UserCD.filter
    router.callback_query.register(cb_move_clients, ud(F.action == UserAction.MOVE_CLIENTS))
    router.callback_query.register(cb_move_and_off, ud(F.action == UserAction.MOVE_AND_OFF))
    router.callback_query.register(cb_keep_and_off, ud(F.action == UserAction.KEEP_AND_OFF))
    router.callback_query.register(cb_reassign_pick, ReassignPickCD.filter())
    router.callback_query.register(cb_reassign_rule, ReassignRuleCD.filter())
    router.callback_query.register(cb_reassign_do, ReassignDoCD.filter())
    router.callback_query.register(cb_merge_pick, MergePickCD.filter())
    router.callback_query.register(cb_merge_do, MergeDoCD.filter())
    router.callback_query.register(cb_archive_do, ArchiveDoCD.filter())
    router.message.register(msg_merge_query, MergeForm.query, FormText())
    return router
