"""Retries a Bot API call that Telegram refused for a moment (aiogram has no retry of its own).

A 429 is retried after the `retry_after` Telegram asks for, when that is short; a 5xx or a
network error after a short backoff. Three attempts in all, so a reply after a committed
write survives a hiccup, and a handler is never held for long. A 5xx or a timeout may hide a
request Telegram did carry out: the retry then repeats a message, which beats losing it.
The scheduler's sender has its own rules (a 429 pauses every sender) and a bot without this.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import (
    BaseRequestMiddleware,
    NextRequestMiddlewareType,
)
from aiogram.exceptions import (
    TelegramEntityTooLarge,
    TelegramNetworkError,
    TelegramRetryAfter,
    TelegramServerError,
)
from aiogram.methods import GetUpdates, TelegramMethod
from aiogram.methods.base import TelegramType

if TYPE_CHECKING:
    from aiogram import Bot
    from aiogram.methods import Response

log = logging.getLogger(__name__)


class RetryRequests(BaseRequestMiddleware):
    def __init__(
        self, attempts: int = 3, max_retry_after: float = 10.0, backoff: float = 0.5
    ) -> None:
        self.attempts = attempts
        self.max_retry_after = max_retry_after
        self.backoff = backoff

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        if isinstance(method, GetUpdates):  # polling has its own backoff
            return await make_request(bot, method)  # type: ignore[arg-type]
        attempt = 1
        while True:
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as err:
                if attempt >= self.attempts or err.retry_after > self.max_retry_after:
                    raise
                delay = float(err.retry_after)
            except TelegramEntityTooLarge:
                raise  # the same file will be just as large next time
            except (TelegramServerError, TelegramNetworkError) as err:
                if attempt >= self.attempts:
                    raise
                delay = self.backoff * 2 ** (attempt - 1)
                log.debug("%s failed (%s); retrying in %.1fs", method.__api_method__,
                         err.message, delay)
            await asyncio.sleep(delay)
            attempt += 1
