"""Everything from someone who is not (or no longer) a registered, active user."""

from __future__ import annotations

from typing import Any

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import CallbackQuery, InlineQuery, Message, TelegramObject

from bot.texts import stranger_text


class IsStranger(Filter):
    passes_without_actor_only = True  # bot/routing.py: not tried for a registered user

    async def __call__(self, event: TelegramObject, actor: Any = None) -> bool:
        return actor is None




async def msg_stranger(message: Message) -> None:
    await message.answer(stranger_text())


async def cb_stranger(query: CallbackQuery) -> None:
    await query.answer(stranger_text(), show_alert=True)


async def inline_stranger(query: InlineQuery) -> None:
    await query.answer([], cache_time=0, is_personal=True)


def create_router() -> Router:
    router = Router(name=__name__)
    router.message.filter(IsStranger())
    router.callback_query.filter(IsStranger())
    router.inline_query.filter(IsStranger())
    router.message.register(msg_stranger)
    router.callback_query.register(cb_stranger)
    router.inline_query.register(inline_stranger)
    return router
