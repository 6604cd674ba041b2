"""One way to write a multi-step form and a screen, for every feature of the bot.

A form is an aiogram ``StatesGroup``. Its answers so far (the *draft*) live under one key of
the FSM data, together with the form's name and the *step token* of the prompt on screen; the
rest of the FSM data (the last search, say) is left alone.

* ``prompt()`` asks a question: it moves the form to a state, draws a fresh random step token,
  builds the prompt's buttons with it (``kb(step)``) and shows the prompt. Buttons of a form
  carry the token in their callback data.
* ``claim()`` takes the answer a button gives, once: a second tap on the same prompt, or a tap
  on a prompt the form has moved past, finds the token gone and gets ``None``. This is atomic
  because a chat's updates are handled one at a time (event isolation in the dispatcher, in
  memory or in Redis), so nothing can interleave between the check and the write.
* A typed answer is taken by a handler filtered on the form's state with ``FormText``; the
  prompt's old keyboard is removed as soon as it is answered (``FormMiddleware``).
* ``finish()`` ends the form; ``leave()`` ends whatever form is open and says so, when a
  command or a menu button takes the user elsewhere ("draft discarded").
* ``screen()`` is the one edit-or-send: a button's screen replaces the message it was on, a
  typed command gets a new message.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from contextlib import suppress
from dataclasses import dataclass
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.exceptions import TelegramBadRequest
from aiogram.filters.callback_data import CallbackData
from aiogram.fsm.context import FSMContext
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
)
from aiogram.utils.i18n import gettext as _

from crm.errors import Conflict

FORM_KEY = "form"
LAST_KEY = "form_last"  # the step token claimed last: its button again is a double tap
KeyboardFactory = Callable[[int], InlineKeyboardMarkup | None]

# States whose question is answered with a button only; typed text there gets a hint.
_BUTTON_STEPS: set[str] = set()
# Human names of the forms, for "draft discarded".
_TITLES: dict[str, Callable[[], str]] = {}


def register(group: type[StatesGroup], title: Callable[[], str], *,
             buttons_only: tuple[State, ...] = ()) -> None:
    """Declare a form: its name for people, and the steps that take buttons only."""
    _TITLES[group.__full_group_name__] = title
    _BUTTON_STEPS.update(s.state or "" for s in buttons_only)


def new_step() -> int:
    # Random rather than counted: a restarted form never reissues an old prompt's token.
    return secrets.randbelow(2**31 - 2) + 1


@dataclass(frozen=True, slots=True)
class Draft:
    group: str
    step: int | None
    prompt_id: int | None
    values: dict[str, Any]

    def __getitem__(self, key: str) -> Any:
        if key not in self.values:
            # A restart lost it, or the button belongs to another form: start again.
            raise Conflict("form_expired")
        return self.values[key]

    def get(self, key: str, default: Any = None) -> Any:
        return self.values.get(key, default)


async def draft(state: FSMContext) -> Draft | None:
    raw = (await state.get_data()).get(FORM_KEY)
    if not isinstance(raw, dict):
        return None
    return Draft(
        group=str(raw.get("g", "")),
        step=raw.get("s"),
        prompt_id=raw.get("m"),
        values=dict(raw.get("v") or {}),
    )


async def values(state: FSMContext) -> Draft:
    """The open form's draft; none open means the form is over (restart, /cancel)."""
    found = await draft(state)
    if found is None:
        raise Conflict("form_expired")
    return found


async def _store(state: FSMContext, group: str, step: int | None, prompt_id: int | None,
                 vals: dict[str, Any]) -> None:
    await state.update_data({FORM_KEY: {"g": group, "s": step, "m": prompt_id, "v": vals}})


async def start(state: FSMContext, st: State, **vals: Any) -> None:
    """A new form at its first state, forgetting any other form's draft."""
    await state.set_state(st)
    await _store(state, st.group.__full_group_name__, None, None, vals)


async def update(state: FSMContext, **vals: Any) -> Draft:
    current = await values(state)
    merged = {**current.values, **vals}
    await _store(state, current.group, current.step, current.prompt_id, merged)
    return Draft(current.group, current.step, current.prompt_id, merged)


async def prompt(
    target: Message | CallbackQuery,
    state: FSMContext,
    st: State,
    text: str,
    kb: KeyboardFactory | None = None,
    **vals: Any,
) -> int:
    """Ask the next question: the form moves to `st`, remembers `vals`, shows `text` with the
    buttons `kb(step)` (edited into the pressed message, or sent anew) and returns the step."""
    current = await draft(state)
    group = st.group.__full_group_name__
    merged = {**(current.values if current and current.group == group else {}), **vals}
    step = new_step()
    markup = kb(step) if kb is not None else None
    await state.set_state(st)
    shown = await screen(target, text, markup)
    await _store(state, group, step, shown.message_id if shown and markup else None, merged)
    return step


async def claim(state: FSMContext, step: int) -> Draft | None:
    """The answer of the prompt with this token, taken once. None: a double tap, or a button
    of a prompt the form has moved past (or of a form that is over)."""
    current = await draft(state)
    if current is None or current.step is None or current.step != step:
        return None
    if await state.get_state() is None:
        return None
    await _store(state, current.group, None, None, current.values)
    await state.update_data({LAST_KEY: step})
    return current


async def take(query: CallbackQuery, state: FSMContext, step: int,
               at: State | None = None) -> Draft | None:
    """A form button's answer, claimed once (and only at the step `at`, when given: a
    button of one step with another step's token is forged); None after answering the tap
    as `refuse` does."""
    found = None
    if at is None or await state.get_state() == at.state:
        found = await claim(state, step)
    if found is None:
        await refuse(query, state, step)
    return found


async def refuse(query: CallbackQuery, state: FSMContext, step: int) -> None:
    """The answer for a form's button that could not be claimed. The button just taken,
    tapped again (a double tap), and an older prompt of the form still open are answered
    quietly; a button of a form that is over says so."""
    data = await state.get_data()
    if data.get(LAST_KEY) == step or (
        isinstance(data.get(FORM_KEY), dict) and await state.get_state() is not None
    ):
        with suppress(TelegramBadRequest):
            await query.answer()
        return
    await query.answer(_("This form is no longer active."), show_alert=True)


async def finish(state: FSMContext) -> None:
    await state.set_state(None)
    await state.update_data({FORM_KEY: None})


async def leave(state: FSMContext) -> str | None:
    """End the open form, if any; returns its human name (for "draft discarded")."""
    current = await draft(state)
    in_form = await state.get_state() is not None
    if current is None and not in_form:
        return None
    await finish(state)
    if current is None:
        return None
    title = _TITLES.get(current.group)
    return title() if title else _("form")


def discarded_text(title: str) -> str:
    return _("Draft discarded: {form}.").format(form=title)


async def screen(
    target: Message | CallbackQuery, text: str, markup: InlineKeyboardMarkup | None = None
) -> Message | None:
    """Replace the screen a button was pressed on, or send a new message for typed input.

    A redraw into the same screen is no error; a message too old to edit gets a new one.
    """
    if isinstance(target, Message):
        return await target.answer(text, reply_markup=markup)
    if isinstance(target.message, Message):
        try:
            edited = await target.message.edit_text(text, reply_markup=markup)
        except TelegramBadRequest as err:
            if "not modified" in str(err):
                with suppress(TelegramBadRequest):
                    await target.answer()
                return target.message
        else:
            with suppress(TelegramBadRequest):
                await target.answer()
            return edited if isinstance(edited, Message) else target.message
    with suppress(TelegramBadRequest):
        await target.answer()
    bot = target.bot
    assert bot is not None
    return await bot.send_message(target.from_user.id, text, reply_markup=markup)


def confirm_kb(yes: str, data: CallbackData, back: InlineKeyboardButton) -> InlineKeyboardMarkup:
    """A confirm step: the one button that does it (carrying the step), and the way back."""
    return InlineKeyboardMarkup(inline_keyboard=[
        [InlineKeyboardButton(text=yes, callback_data=data.pack())], [back],
    ])


async def drop_keyboard(bot: Bot, chat_id: int, message_id: int | None) -> None:
    if message_id is None:
        return
    with suppress(TelegramBadRequest):
        await bot.edit_message_reply_markup(chat_id=chat_id, message_id=message_id,
                                            reply_markup=None)


def is_button_step(raw_state: str | None) -> bool:
    return raw_state in _BUTTON_STEPS


class FormMiddleware(BaseMiddleware):
    """Typed messages that reached a handler while a form is open:

    * a command or a menu button leaves the form and says "draft discarded" first;
    * an answer that moves the form on (or ends it) removes the old prompt's buttons, which
      belong to a step now past. An answer refused as invalid leaves them in place.
    """

    def __init__(self, is_escape: Callable[[Message, dict[str, Any]], bool]) -> None:
        self.is_escape = is_escape

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        state: FSMContext | None = data.get("state")
        if not isinstance(event, Message) or state is None:
            return await handler(event, data)
        before = await draft(state)
        if before is None and data.get("raw_state") is None:
            return await handler(event, data)
        bot: Bot = data["bot"]
        if self.is_escape(event, data):
            title = await leave(state)
            data["raw_state"] = None
            if before is not None:
                await drop_keyboard(bot, event.chat.id, before.prompt_id)
            if title is not None and not _is_cancel(event):
                await event.answer(discarded_text(title))
            return await handler(event, data)
        result = await handler(event, data)
        if before is not None and before.prompt_id is not None:
            after = await draft(state)
            if after is None or after.step != before.step:
                await drop_keyboard(bot, event.chat.id, before.prompt_id)
        return result


def _is_cancel(message: Message) -> bool:
    # /cancel says it itself.
    return (message.text or "").split("@")[0].split(" ")[0] == "/cancel"
