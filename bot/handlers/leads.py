"""The leads queue: heads (their team's) and admins (all) see the leads waiting, give one
to a manager in one tap or all of them by the team's rule, choose the rule and keep the
managers' territories.

Thin: every button is re-checked in crm.leads (the lead, the person, the team). Giving a
lead is a conditional write — only a lead still without an owner moves — so a double tap
or two heads at once give it once; the second learns it was taken.
"""

from __future__ import annotations

import html

from aiogram import F, Router
from aiogram.filters import Command
from aiogram.fsm.context import FSMContext
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot import forms
from bot.keyboards.leads import (
    LeadAction,
    LeadCD,
    LeadRuleCD,
    TerritoryCD,
    assign_kb,
    managers_kb,
    queue_kb,
    rule_name,
    rules_kb,
    teams_kb,
    territory_kb,
)
from bot.render import current_locale
from crm.access import CLIENT_OWNER_ROLES, can_see_leads
from crm.dto import Actor
from crm.errors import Forbidden
from crm.leads import PAGE
from crm.roles import Role
from crm.service import CRM


def _e(text: str) -> str:
    return html.escape(text)


async def _queue_screen(target: Message | CallbackQuery, actor: Actor, crm: CRM,
                        page: int = 0, note: str | None = None) -> None:
    q = await crm.leads.queue(actor, page)
    loc = current_locale()
    regions = {r.id: r.text(loc) for r in await crm.classifiers.items("region")}
    lines = []
    if note:
        lines += [note, ""]
    title = (_("📥 <b>Leads of «{team}»: {n}</b>").format(team=_e(q.team_name), n=q.total)
             if q.team_name else _("📥 <b>Leads: {n}</b>").format(n=q.total))
    lines.append(title)
    if q.team_id is not None:
        lines.append(_("Rule: {rule}").format(rule=rule_name(q.rule)))
    if not q.total:
        lines.append(_("Nobody is waiting."))
    for i, lead in enumerate(q.leads, start=page * PAGE + 1):
        region = regions.get(lead.region_id or 0)
        lines.append(f"{i}. {_e(lead.name)}" + (f" · {_e(region)}" if region else ""))
    if q.total:
        lines.append("")
        lines.append(_("Tap a lead to give it to a manager."))
    await forms.screen(target, "\n".join(lines), queue_kb(q, page, PAGE))


async def cmd_leads(message: Message, actor: Actor, crm: CRM, state: FSMContext) -> None:
    if not can_see_leads(actor):
        raise Forbidden()
    await state.set_state(None)
    await _queue_screen(message, actor, crm)


async def cb_queue(query: CallbackQuery, callback_data: LeadCD, actor: Actor, crm: CRM) -> None:
    await _queue_screen(query, actor, crm, callback_data.page)


async def cb_pick(query: CallbackQuery, callback_data: LeadCD, actor: Actor, crm: CRM) -> None:
    if callback_data.id is None:
        raise Forbidden()
    lead, managers = await crm.leads.assignees(actor, callback_data.id)
    cap = crm.leads.config.clients_in_work_max
    text = _("👤 Lead «{name}». Give it to:").format(name=_e(lead.name))
    me = actor.id if actor.role in CLIENT_OWNER_ROLES else None
    await forms.screen(query, text, assign_kb(lead, managers, cap, me))


async def cb_assign(query: CallbackQuery, callback_data: LeadCD, actor: Actor,
                    crm: CRM) -> None:
    if callback_data.id is None or callback_data.user_id is None:
        raise Forbidden()
    done = await crm.leads.assign(actor, callback_data.id, callback_data.user_id)
    if done is None:
        await query.answer(_("This lead has already been taken."), show_alert=True)
        await _queue_screen(query, actor, crm)
        return
    note = _("✅ The lead went to {name}.").format(name=_e(done.to_name))
    await _queue_screen(query, actor, crm, note=note)


async def cb_apply(query: CallbackQuery, actor: Actor, crm: CRM) -> None:
    given = await crm.leads.apply_rule(actor)
    n = len(given)
    note = (ngettext("🎯 {n} lead handed out by the rule.", "🎯 {n} leads handed out by the rule.",
                     n).format(n=n) if n else
            _("🎯 Nobody could take them: the rule is manual, or every manager is on vacation "
              "or has too many clients in work."))
    await _queue_screen(query, actor, crm, note=note)


async def _rules_screen(query: CallbackQuery, actor: Actor, crm: CRM, team_id: int) -> None:
    rule = await crm.leads.rule(actor, team_id)
    text = "\n".join([
        _("⚙️ <b>How new leads are handed out</b>"),
        _("Now: {rule}").format(rule=rule_name(rule)),
        "",
        _("Managers on vacation or with too many clients in work get none. «By "
          "region/industry» gives a lead to a manager whose territories hold both its region "
          "and its industry, else its region, else its industry, otherwise to the least busy "
          "of all."),
    ])
    team = actor.team_id if actor.team_id is not None and actor.role is Role.HEAD else team_id
    await forms.screen(query, text, rules_kb(team, rule))


async def cb_rules(query: CallbackQuery, callback_data: LeadCD, actor: Actor,
                   crm: CRM) -> None:
    if callback_data.team_id is None:
        raise Forbidden()
    await _rules_screen(query, actor, crm, callback_data.team_id)


async def cb_teams(query: CallbackQuery, actor: Actor, crm: CRM) -> None:
    if not can_see_leads(actor):
        raise Forbidden()
    if actor.team_id is not None and actor.role is Role.HEAD:
        await _rules_screen(query, actor, crm, actor.team_id)
        return
    teams = [(t.id, t.name) for t in await crm.people.teams(actor)]
    await forms.screen(query, _("⚙️ Whose rule?"), teams_kb(teams))


async def cb_set_rule(query: CallbackQuery, callback_data: LeadRuleCD, actor: Actor,
                      crm: CRM) -> None:
    await crm.leads.set_rule(actor, callback_data.team_id, callback_data.rule.value)
    await _rules_screen(query, actor, crm, callback_data.team_id)


async def cb_territories(query: CallbackQuery, actor: Actor, crm: CRM) -> None:
    managers = await crm.leads.managers(actor)
    text = _("🗺 <b>Territories</b>: the regions and industries whose leads a manager takes "
             "under the «by region/industry» rule. Tap a manager.")
    if not managers:
        text = _("No managers to give territories to.")
    await forms.screen(query, text, managers_kb(managers))


async def _person_screen(query: CallbackQuery, actor: Actor, crm: CRM, user_id: int,
                         chosen: set[int]) -> None:
    person = await crm.people.person(actor, user_id)
    regions = [r for r in await crm.classifiers.items("region") if r.active]
    industries = [r for r in await crm.classifiers.items("industry") if r.active]
    text = "\n".join([
        _("🗺 Territories of {name}: {n}").format(name=_e(person.name), n=len(chosen)),
        _("Regions first, then industries (🏭)."),
    ])
    await forms.screen(query, text, territory_kb(user_id, regions, industries, chosen,
                                                 current_locale()))


async def cb_person(query: CallbackQuery, callback_data: LeadCD, actor: Actor,
                    crm: CRM) -> None:
    if callback_data.user_id is None:
        raise Forbidden()
    chosen = await crm.leads.territories(actor, callback_data.user_id)
    await _person_screen(query, actor, crm, callback_data.user_id, chosen)


async def cb_territory(query: CallbackQuery, callback_data: TerritoryCD, actor: Actor,
                       crm: CRM) -> None:
    chosen = await crm.leads.set_territory(actor, callback_data.user_id,
                                           callback_data.item_id, callback_data.on)
    await _person_screen(query, actor, crm, callback_data.user_id, chosen)


def create_router() -> Router:
    router = Router(name="leads")
    router.message.register(cmd_leads, Command("leads"))
    cb = router.callback_query.register
    cb(cb_queue, LeadCD.filter(F.action == LeadAction.QUEUE))
    cb(cb_pick, LeadCD.filter(F.action == LeadAction.PICK))
    cb(cb_assign, LeadCD.filter(F.action == LeadAction.ASSIGN))
    cb(cb_apply, LeadCD.filter(F.action == LeadAction.APPLY))
    cb(cb_rules, LeadCD.filter(F.action == LeadAction.RULES))
    cb(cb_teams, LeadCD.filter(F.action == LeadAction.TEAMS))
    cb(cb_territories, LeadCD.filter(F.action == LeadAction.TERRITORIES))
    cb(cb_person, LeadCD.filter(F.action == LeadAction.PERSON))
    cb(cb_set_rule, LeadRuleCD.filter())
    cb(cb_territory, TerritoryCD.filter())
    return router
