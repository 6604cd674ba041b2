"""Outer middlewares: who is acting (loaded fresh for every update) and the services."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware
from aiogram.types import TelegramObject, User

from crm.classifiers import seen
from crm.service import CRM


class ActorMiddleware(BaseMiddleware):
    """Puts `actor` (an Actor, or None for a stranger) into the handler data.

    It is re-read from the database on every update, so a deactivation or a role change
    takes effect at the next tap, whatever buttons the user still has on screen.
    """

    def __init__(self, crm: CRM) -> None:
        self.crm = crm

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        tg_user: User | None = data.get("event_from_user")
        data["crm"] = self.crm
        actor, version = await self.crm.people.identify_seen(tg_user.id) if tg_user \
            else (None, None)
        data["actor"] = actor
        # Not a user: maybe a client who linked their Telegram (crm/channel.py).
        data["linked_client"] = (
            await self.crm.channel.identify(tg_user.id) if tg_user and actor is None else None
        )
        # Classifiers are answered from the worker's copy while their version is this one.
        with seen(version):
            return await handler(event, data)
