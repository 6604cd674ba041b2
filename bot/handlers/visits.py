"""Field visits: «📍 I'm at the client» (share the location → a «Visit» record), a location
sent with no form open ("which client?", the nearest first), «🧭 Nearby», and a person's
day's route for their head."""

from __future__ import annotations

import html
from datetime import date

from aiogram import Bot, F, Router
from aiogram.filters import Command, StateFilter
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import CallbackQuery, Message
from aiogram.utils.i18n import gettext as _

from bot import forms
from bot.filters import FormText
from bot.handlers.log import PlanForm, ask_next_step
from bot.keyboards.client import ClientAction, ClientCD
from bot.keyboards.menu import BTN_NEARBY, main_menu
from bot.keyboards.people import UserAction, UserCD
from bot.keyboards.visits import (
    BTN_CANCEL_LOCATION,
    NearbyCD,
    PlaceAction,
    PlaceCD,
    RouteCD,
    VisitCancelCD,
    VisitPickCD,
    location_kb,
    nearby_kb,
    place_kb,
    route_kb,
    which_client_kb,
)
from bot.visit_views import check_in_text, nearby_text, route_text
from crm.dto import Actor
from crm.errors import InvalidInput
from crm.geo import Point, point
from crm.service import CRM
from crm.visits import CheckIn

# Where «Nearby»'s location waits for its next pages (callback data holds 64 bytes).
NEARBY_KEY = "nearby"
# "Which client?" offers this many of the nearest.
NEAREST = 6


class VisitForm(StatesGroup):
    location = State()  # «📍 I'm at the client»: waiting for the location
    client = State()  # a location came first: which client is it?
    place = State()  # the client has no place yet: save this one?


class NearbyForm(StatesGroup):
    location = State()


forms.register(VisitForm, lambda: _("check-in"), buttons_only=(VisitForm.place,))
forms.register(NearbyForm, lambda: _("clients nearby"))


def _where(message: Message) -> Point:
    assert message.location is not None  # guaranteed by the F.location filter
    return point(message.location.latitude, message.location.longitude)


async def _ask_location(target: Message | CallbackQuery, bot: Bot, text: str) -> None:
    """A reply keyboard cannot be edited into a message: the request is always sent anew."""
    if isinstance(target, CallbackQuery):
        await target.answer()
    await bot.send_message(target.from_user.id if target.from_user else 0, text,
                           reply_markup=location_kb())


# --- check-in -------------------------------------------------------------------------------


async def cb_visit_start(query: CallbackQuery, callback_data: ClientCD, actor: Actor, crm: CRM,
                         state: FSMContext, bot: Bot) -> None:
    card = await crm.clients.card(actor, callback_data.id)
    await forms.start(state, VisitForm.location, client=card.id)
    await _ask_location(query, bot, _(
        "📍 «{name}»: share your location with the button below — it goes into the history "
        "as a visit.").format(name=html.escape(card.name)))


async def msg_visit_location(message: Message, actor: Actor, crm: CRM,
                             state: FSMContext) -> None:
    draft = await forms.values(state)
    where = _where(message)
    done = await crm.visits.check_in(actor, int(draft["client"]), where)
    await message.answer(check_in_text(done, crm.clock.now(), actor.tz),
                         reply_markup=main_menu(actor.role))
    await _follow(message, state, crm, done, where, "")


async def _follow(target: Message | CallbackQuery, state: FSMContext, crm: CRM, done: CheckIn,
                  where: Point, head: str) -> None:
    """After a check-in: save the place if the client has none (asked once), then the
    usual next step."""
    lead = head + "\n\n" if head else ""
    if done.may_set_place:
        await forms.start(state, VisitForm.place)
        await forms.prompt(
            target, state, VisitForm.place,
            lead + _("«{name}» has no place on the map yet. Save where you are now as the "
                     "client's place?").format(name=html.escape(done.client_name)),
            place_kb, client=done.client_id, deal=done.deal_id, lat=where.lat, lon=where.lon,
        )
        return
    await ask_next_step(target, state, done.client_id, done.deal_id,
                        lead + _("What is the next step?"), crm.clock.now().timestamp())


async def cb_place_save(query: CallbackQuery, callback_data: PlaceCD, actor: Actor, crm: CRM,
                        state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, VisitForm.place)
    if draft is None:
        return
    name = await crm.visits.set_place(actor, int(draft["client"]),
                                      point(float(draft["lat"]), float(draft["lon"])))
    await ask_next_step(query, state, int(draft["client"]), draft.get("deal"),
                        _("📍 Saved as the place of «{name}». What is the next step?").format(
                            name=html.escape(name)), crm.clock.now().timestamp())


async def cb_place_skip(query: CallbackQuery, callback_data: PlaceCD, crm: CRM,
                        state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, VisitForm.place)
    if draft is None:
        return
    await ask_next_step(query, state, int(draft["client"]), draft.get("deal"),
                        _("What is the next step?"), crm.clock.now().timestamp())


async def msg_location_free(message: Message, actor: Actor, crm: CRM,
                            state: FSMContext) -> None:
    """A location with no form open: a check-in, at which client? The nearest first."""
    where = _where(message)
    near = await crm.visits.nearby(actor, where, 0, size=NEAREST)
    await forms.start(state, VisitForm.client, lat=where.lat, lon=where.lon)
    text = _("📍 Which client are you at?") + "\n" + (
        _("The nearest of your clients first; or type a name to find another one.")
        if near.items else _("Type the client's name, phone or e-mail to find them."))
    await forms.prompt(message, state, VisitForm.client, text,
                       lambda step: which_client_kb(near.items, [], step))


async def msg_visit_client_text(message: Message, actor: Actor, crm: CRM,
                                state: FSMContext) -> None:
    found = await crm.clients.search(actor, (message.text or "").strip()[:200])
    if not found.items:
        await message.answer(_("Nothing found. Try another name, a phone or an e-mail."))
        return
    await forms.prompt(message, state, VisitForm.client, _("📍 Which client are you at?"),
                       lambda step: which_client_kb([], found.items, step))


async def cb_visit_pick(query: CallbackQuery, callback_data: VisitPickCD, actor: Actor,
                        crm: CRM, state: FSMContext) -> None:
    draft = await forms.take(query, state, callback_data.step, VisitForm.client)
    if draft is None:
        return
    where = point(float(draft["lat"]), float(draft["lon"]))
    done = await crm.visits.check_in(actor, callback_data.client_id, where)
    await _follow(query, state, crm, done, where,
                  check_in_text(done, crm.clock.now(), actor.tz))


async def cb_visit_cancel(query: CallbackQuery, callback_data: VisitCancelCD,
                          state: FSMContext) -> None:
    if await forms.claim(state, callback_data.step) is None:
        await query.answer()
        return
    await forms.finish(state)
    await forms.screen(query, _("Cancelled."))


async def msg_cancel_location(message: Message, actor: Actor, state: FSMContext) -> None:
    """«✖️ Cancel» of the location keyboard: back to the main menu."""
    await forms.finish(state)
    await message.answer(_("Cancelled."), reply_markup=main_menu(actor.role))


async def msg_location_hint(message: Message) -> None:
    await message.answer(_("Tap «📍 Send my location» below, or «✖️ Cancel»."))


# --- nearby ---------------------------------------------------------------------------------


async def cmd_nearby(message: Message, state: FSMContext, bot: Bot) -> None:
    await forms.start(state, NearbyForm.location)
    await _ask_location(message, bot, _(
        "🧭 Share your location with the button below, and I will list your clients by "
        "distance."))


async def msg_nearby_location(message: Message, actor: Actor, crm: CRM,
                              state: FSMContext) -> None:
    where = _where(message)
    await forms.finish(state)
    await state.update_data({NEARBY_KEY: [where.lat, where.lon]})
    page = await crm.visits.nearby(actor, where)
    await message.answer(_("🧭 Got your location."), reply_markup=main_menu(actor.role))
    await message.answer(nearby_text(page, actor.tz, crm.clock.now()),
                         reply_markup=nearby_kb(page))


async def cb_nearby_page(query: CallbackQuery, callback_data: NearbyCD, actor: Actor, crm: CRM,
                         state: FSMContext) -> None:
    stored = (await state.get_data()).get(NEARBY_KEY)
    if not (isinstance(stored, list) and len(stored) == 2):
        await query.answer(_("This list is out of date: send /nearby again."), show_alert=True)
        return
    page = await crm.visits.nearby(actor, point(float(stored[0]), float(stored[1])),
                                   callback_data.page)
    await forms.screen(query, nearby_text(page, actor.tz, crm.clock.now()), nearby_kb(page))


# --- a day's route --------------------------------------------------------------------------


async def _show_route(query: CallbackQuery, actor: Actor, crm: CRM, user_id: int,
                      day: date | None) -> None:
    route = await crm.visits.route(actor, user_id, day)
    today = crm.clock.now().astimezone(route.tz).date()
    await forms.screen(query, route_text(route), route_kb(route.user_id, route.day, today))


async def cb_person_route(query: CallbackQuery, callback_data: UserCD, actor: Actor,
                          crm: CRM) -> None:
    await _show_route(query, actor, crm, callback_data.user_id, None)


async def cb_route_day(query: CallbackQuery, callback_data: RouteCD, actor: Actor,
                       crm: CRM) -> None:
    value = callback_data.day
    try:
        day = date(value // 10000, value // 100 % 100, value % 100)
    except ValueError:
        raise InvalidInput("when") from None
    await _show_route(query, actor, crm, callback_data.user_id, day)


def create_router() -> Router:
    router = Router(name=__name__)
    router.callback_query.register(cb_visit_start,
                                   ClientCD.filter(F.action == ClientAction.VISIT))
    router.message.register(msg_visit_location, VisitForm.location, F.location)
    router.message.register(msg_nearby_location, NearbyForm.location, F.location)
    router.message.register(msg_cancel_location, F.text == BTN_CANCEL_LOCATION)
    router.message.register(msg_location_hint,
                            StateFilter(VisitForm.location, NearbyForm.location), FormText())
    router.message.register(msg_visit_client_text, VisitForm.client, FormText())
    router.callback_query.register(cb_visit_pick, VisitPickCD.filter())
    router.callback_query.register(cb_visit_cancel, VisitCancelCD.filter())
    router.callback_query.register(cb_place_save, PlaceCD.filter(F.action == PlaceAction.SAVE))
    router.callback_query.register(cb_place_skip, PlaceCD.filter(F.action == PlaceAction.SKIP))
    router.message.register(cmd_nearby, Command("nearby"))
    router.message.register(cmd_nearby, F.text == BTN_NEARBY)
    router.callback_query.register(cb_nearby_page, NearbyCD.filter())
    router.callback_query.register(cb_person_route, UserCD.filter(F.action == UserAction.ROUTE))
    router.callback_query.register(cb_route_day, RouteCD.filter())
    return router


def create_location_router() -> Router:
    """A location outside a form (or at the soft next-step prompt): a check-in; included
    after the forms, like files."""
    router = Router(name=__name__ + ".location")
    router.message.register(msg_location_free, StateFilter(None, PlanForm.next_step),
                            F.location)
    return router
