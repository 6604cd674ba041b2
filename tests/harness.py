"""Handler-test harness: the production dispatcher fed updates, and a bot whose session
records every API call and answers it as Telegram would (aiogram's tests/mocked_bot.py
is the model)."""

from __future__ import annotations

import hashlib
import itertools
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramServerError
from aiogram.methods import (
    AnswerCallbackQuery,
    EditMessageReplyMarkup,
    EditMessageText,
    GetFile,
    GetMe,
    SendDocument,
    SendMessage,
    SendPhoto,
    TelegramMethod,
)
from aiogram.types import (
    CallbackQuery,
    Chat,
    Document,
    File,
    InlineKeyboardMarkup,
    Message,
    MessageEntity,
    ReplyKeyboardMarkup,
    Update,
    User,
)

BOT_ID = 42
BOT_USERNAME = "salesbot_test_bot"


class RecordingSession(BaseSession):
    def __init__(self) -> None:
        super().__init__()
        self.calls: list[TelegramMethod[Any]] = []
        self.failed: list[TelegramMethod[Any]] = []  # calls refused by fail_next
        self._ids = itertools.count(1000)
        self._faults: list[tuple[Callable[[TelegramMethod[Any]], Exception], list[int]]] = []
        # file_id → content, for the documents a test sends (GetFile and the download).
        self.files: dict[str, bytes] = {}

    def fail_next(self, times: int = 1, error: type[Exception] = TelegramServerError) -> None:
        """Refuse the next `times` calls (any method) with `error`, as Telegram would."""
        def make(method: TelegramMethod[Any]) -> Exception:
            if issubclass(error, TelegramAPIError):
                return error(method=method, message="Bad Gateway")
            return error()
        self._faults.append((make, [times]))

    async def close(self) -> None:
        pass

    async def make_request(
        self, bot: Bot, method: TelegramMethod[Any], timeout: int | None = None
    ) -> Any:
        for make, left in self._faults:
            if left[0] > 0:
                left[0] -= 1
                self.failed.append(method)
                raise make(method)
        self.calls.append(method)
        me = User(id=BOT_ID, is_bot=True, first_name="Salesbot", username=BOT_USERNAME)
        now = datetime.now(UTC)
        if isinstance(method, GetMe):
            return me
        if isinstance(method, GetFile):
            data = self.files[method.file_id]
            return File(file_id=method.file_id, file_unique_id=method.file_id,
                        file_size=len(data), file_path=f"documents/{method.file_id}")
        if isinstance(method, (SendMessage, SendPhoto, SendDocument)):
            chat = Chat(id=int(method.chat_id), type="private")
            text = getattr(method, "text", None)
            if text is not None and len(text) > 4096:
                raise AssertionError("the bot sent a message longer than 4096 characters")
            return Message(
                message_id=next(self._ids), date=now, chat=chat, from_user=me, text=text,
                reply_markup=method.reply_markup
                if isinstance(method.reply_markup, InlineKeyboardMarkup) else None,
            )
        if isinstance(method, (EditMessageText, EditMessageReplyMarkup)):
            chat = Chat(id=int(method.chat_id or 0), type="private")
            return Message(
                message_id=method.message_id or 0, date=now, chat=chat, from_user=me,
                text=getattr(method, "text", None), reply_markup=method.reply_markup,
            )
        return True

    async def stream_content(
        self, url: str, headers: dict[str, Any] | None = None, timeout: int = 30,
        chunk_size: int = 65536, raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        """A file a test sent (`Harness.send_document`), as Telegram's file server would."""
        data = self.files.get(url.rsplit("/", 1)[-1], b"")
        for i in range(0, len(data), chunk_size):
            yield data[i:i + chunk_size]


@dataclass
class TgUser:
    id: int
    first_name: str = "Ivan"
    last_name: str | None = "Petrov"
    username: str | None = None
    language_code: str | None = "ru"

    def as_user(self) -> User:
        return User(
            id=self.id, is_bot=False, first_name=self.first_name, last_name=self.last_name,
            username=self.username, language_code=self.language_code,
        )


@dataclass
class Harness:
    dp: Dispatcher
    bot: Bot
    session: RecordingSession
    _update_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _msg_ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def clear(self) -> None:
        self.session.calls.clear()

    async def send(self, user: TgUser, text: str, **extra: Any) -> list[TelegramMethod[Any]]:
        entities = None
        if text.startswith("/"):
            cmd_len = len(text.split()[0])
            entities = [MessageEntity(type="bot_command", offset=0, length=cmd_len)]
        message = Message(
            message_id=next(self._msg_ids), date=datetime.now(UTC),
            chat=Chat(id=user.id, type="private"), from_user=user.as_user(), text=text,
            entities=entities, **extra,
        )
        return await self._feed(Update(update_id=next(self._update_ids), message=message))

    async def send_document(self, user: TgUser, data: bytes, file_name: str,
                            file_id: str | None = None) -> list[TelegramMethod[Any]]:
        """The user sends a file; the bot can download it (GetFile, then the file server)."""
        # Telegram's file ids differ per file; the bot may cache what it read by them.
        file_id = file_id or "doc" + hashlib.sha1(data).hexdigest()[:20]
        self.session.files[file_id] = data
        message = Message(
            message_id=next(self._msg_ids), date=datetime.now(UTC),
            chat=Chat(id=user.id, type="private"), from_user=user.as_user(),
            document=Document(file_id=file_id, file_unique_id=file_id, file_name=file_name,
                              file_size=len(data)),
        )
        return await self._feed(Update(update_id=next(self._update_ids), message=message))

    async def send_message(self, message: Message) -> list[TelegramMethod[Any]]:
        return await self._feed(Update(update_id=next(self._update_ids), message=message))

    async def press(
        self, user: TgUser, data: str, message_id: int = 1, text: str = "…"
    ) -> list[TelegramMethod[Any]]:
        msg = Message(
            message_id=message_id, date=datetime.now(UTC),
            chat=Chat(id=user.id, type="private"),
            from_user=User(id=BOT_ID, is_bot=True, first_name="Salesbot"), text=text,
        )
        query = CallbackQuery(
            id=str(next(self._update_ids)), from_user=user.as_user(), chat_instance="ci",
            message=msg, data=data,
        )
        return await self._feed(Update(update_id=next(self._update_ids), callback_query=query))

    async def _feed(self, update: Update) -> list[TelegramMethod[Any]]:
        start = len(self.session.calls)
        await self.dp.feed_update(self.bot, update)
        return self.session.calls[start:]


def texts(calls: list[TelegramMethod[Any]]) -> list[str]:
    return [c.text or "" for c in calls if isinstance(c, (SendMessage, EditMessageText))]


def last_text(calls: list[TelegramMethod[Any]]) -> str:
    found = texts(calls)
    assert found, f"the bot said nothing; calls: {[type(c).__name__ for c in calls]}"
    return found[-1]


def buttons(calls: list[TelegramMethod[Any]]) -> list[tuple[str, str]]:
    """(text, callback_data) of the inline keyboard of the last message that had one."""
    for call in reversed(calls):
        markup = getattr(call, "reply_markup", None)
        if isinstance(markup, InlineKeyboardMarkup):
            return [(b.text, b.callback_data or "") for row in markup.inline_keyboard for b in row]
    return []


def button(calls: list[TelegramMethod[Any]], text_part: str) -> str:
    for text, data in buttons(calls):
        if text_part in text:
            return data
    raise AssertionError(f"no button with {text_part!r} in {buttons(calls)}")


def reply_keyboard(calls: list[TelegramMethod[Any]]) -> list[str]:
    for call in reversed(calls):
        markup = getattr(call, "reply_markup", None)
        if isinstance(markup, ReplyKeyboardMarkup):
            return [b.text for row in markup.keyboard for b in row]
    return []


def alerts(calls: list[TelegramMethod[Any]]) -> list[str]:
    return [c.text or "" for c in calls if isinstance(c, AnswerCallbackQuery) and c.text]


def make_bot() -> tuple[Bot, RecordingSession]:
    session = RecordingSession()
    bot = Bot(
        "42:TEST", session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML)
    )
    return bot, session
