"""In-process fake Telegram Bot API (aiohttp) that a real aiogram Bot reaches via a base URL.

State is plain Telegram-shaped JSON dicts; every HTTP call is recorded in ``api.requests``.
Waiters never poll: they re-check a predicate whenever a call is recorded or an update is
enqueued (``_notify`` swaps an asyncio.Event: a Condition.notify_all that sync code can call).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import html
import inspect
import json
import mimetypes
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Self, TypeVar

from aiogram import Bot
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiohttp import web

T = TypeVar("T")
Message = dict[str, Any]
Handler = Callable[["Request"], Any]

# Form fields that stay strings even when they look like JSON numbers.
_STRING_FIELDS = frozenset({
    "text", "caption", "parse_mode", "callback_query_id", "inline_query_id", "query", "url",
    "description", "short_description", "name", "title", "action", "emoji", "secret_token",
    "next_offset", "language_code", "phone_number", "first_name", "last_name", "address",
    "inline_message_id", "business_connection_id", "file_id", "message_effect_id",
    "photo", "document", "voice", "video", "audio", "animation", "sticker",
})
_SEND_METHODS = ("sendMessage", "sendPhoto", "sendDocument", "sendVoice")
_BLOCKABLE = ("send", "edit", "copy", "forward")
_HTML_TAG = re.compile(r"<(/?)([a-zA-Z][\w-]*)[^>]*>")
_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "tg-emoji", "code", "pre", "blockquote",
})
_COMMAND = re.compile(r"[a-z0-9_]{1,32}")
_BAD_FILE = "wrong file identifier/HTTP URL specified"
_DEFAULT_ERRORS = {
    400: "Bad Request", 403: "Forbidden: bot was blocked by the user", 409: "Conflict",
    500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable",
}


class ApiError(Exception):
    """An error answer in Telegram's shape; raised by method handlers."""

    def __init__(self, status: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.status, self.description, self.retry_after = status, description, retry_after

    def body(self) -> dict[str, Any]:
        body = {"ok": False, "error_code": self.status, "description": self.description}
        if self.retry_after is not None:
            body["parameters"] = {"retry_after": self.retry_after}
        return body


def _bad(description: str) -> ApiError:
    return ApiError(400, f"Bad Request: {description}")


@dataclass
class Upload:
    """A file part of a multipart request."""

    filename: str | None
    data: bytes
    content_type: str


@dataclass
class StoredFile:
    """A file known to the server (getFile + GET /file/bot<token>/<file_path>)."""

    file_id: str
    file_unique_id: str
    file_path: str
    data: bytes
    filename: str | None = None
    mime_type: str | None = None


@dataclass
class Request:
    """One recorded HTTP call, including rejected and fault-injected ones."""

    method: str
    params: dict[str, Any]
    files: dict[str, Upload] = field(default_factory=dict)
    status: int = 200
    result: Any = None
    error: str | None = None
    injected: bool = False

    @property
    def ok(self) -> bool:
        return self.status == 200


@dataclass
class Event:
    """Something the bot did in a chat, with a snapshot of the message after it."""

    kind: Literal["sent", "edited", "deleted"]
    message: Message
    method: str


@dataclass
class ChatView:
    """Per-chat state: bot messages as the user sees them now, plus the full history."""

    id: int
    history: list[Event] = field(default_factory=list)
    user_messages: list[Message] = field(default_factory=list)
    actions: list[str] = field(default_factory=list)
    blocked: bool = False
    current: dict[int, Message] = field(default_factory=dict, repr=False)
    last_message_id: int = 0

    @property
    def messages(self) -> list[Message]:
        """Bot messages currently in the chat (edits applied, deletions removed)."""
        return list(self.current.values())

    @property
    def last(self) -> Message | None:
        return next(reversed(self.current.values()), None)

    @property
    def texts(self) -> list[str]:
        return [m.get("text") or m.get("caption") or "" for m in self.current.values()]

    def next_message_id(self) -> int:
        self.last_message_id += 1
        return self.last_message_id


@dataclass
class Query:
    """A callback or inline query sent by a user; ``answer`` holds the bot's answer params."""

    api: FakeBotAPI = field(repr=False)
    id: str
    data: str
    message: Message | None = None

    @property
    def answer(self) -> dict[str, Any] | None:
        return self.api.answers.get(self.id)

    async def wait_answer(self, timeout: float = 5.0) -> dict[str, Any]:
        return await self.api.wait_for(lambda: self.answer, timeout, f"answer to {self.id}")


def inline_buttons(message: Mapping[str, Any] | None) -> list[tuple[str, str | None]]:
    """(text, callback_data) of every inline button of a message, row by row."""
    rows = ((message or {}).get("reply_markup") or {}).get("inline_keyboard") or []
    return [(b["text"], b.get("callback_data")) for row in rows for b in row]


def reply_buttons(message: Mapping[str, Any] | None) -> list[str]:
    """Texts of the reply-keyboard buttons sent with a message."""
    rows = ((message or {}).get("reply_markup") or {}).get("keyboard") or []
    return [b if isinstance(b, str) else b["text"] for row in rows for b in row]


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _decode(key: str, value: str) -> Any:
    if key not in _STRING_FIELDS:
        with contextlib.suppress(ValueError):
            return json.loads(value)
    return value


def _public(value: Any) -> Any:
    """What the real API returns: Message.reply_markup is only ever an inline keyboard."""
    if isinstance(value, list):
        return [_public(v) for v in value]
    if not isinstance(value, dict):
        return value
    return {
        k: _public(v) for k, v in value.items()
        if k != "reply_markup" or "inline_keyboard" in v
    }


def _visible_text(text: str, parse_mode: str | None, what: str = "message text") -> str:
    """Validate HTML like Telegram does (cheap subset); return the text the user sees."""
    if parse_mode and parse_mode.lower() not in ("html", "markdown", "markdownv2"):
        raise _bad(f"unsupported parse_mode {parse_mode!r}")
    if parse_mode and parse_mode.lower() == "html":
        stack: list[str] = []
        for m in _HTML_TAG.finditer(text):
            tag = m.group(2).lower()
            if tag not in _HTML_TAGS:
                raise _bad(f'can\'t parse entities: Unsupported start tag "{tag}"')
            if not m.group(1):
                stack.append(tag)
            elif not stack or stack.pop() != tag:
                raise _bad(f'can\'t parse entities: Unmatched end tag "{tag}"')
        if stack:
            raise _bad(f'can\'t parse entities: Can\'t find end tag for "{stack[-1]}"')
        text = _HTML_TAG.sub("", text)
        if "<" in text:
            raise _bad("can't parse entities: Unsupported start tag")
        text = html.unescape(text)
    if what == "message text" and not text.strip():
        raise _bad("message text is empty")
    if _utf16_len(text) > (4096 if what == "message text" else 1024):
        raise _bad("message is too long" if what == "message text" else f"{what} is too long")
    return text


def _check_markup(markup: Any) -> None:
    for row in (markup or {}).get("inline_keyboard") or []:
        for button in row:
            if len(str(button.get("callback_data", "")).encode()) > 64:
                raise _bad("BUTTON_DATA_INVALID")


class _LocalSession(AiohttpSession):
    """AiohttpSession minus the 250 ms grace sleep on close (meant for TLS; no TLS here)."""

    async def close(self) -> None:
        if self._session is not None and not self._session.closed:
            await self._session.close()


class FakeUser:
    """A Telegram user talking to the bot in a private chat (chat id == user id)."""

    def __init__(
        self, api: FakeBotAPI, user_id: int, first_name: str = "Ivan",
        username: str | None = None, language_code: str | None = "ru",
        last_name: str | None = None,
    ) -> None:
        self.api, self.id, self.first_name = api, user_id, first_name
        self.username, self.language_code, self.last_name = username, language_code, last_name
        self._cursor = 0  # index into chat.history; wait_reply returns events after it

    @property
    def json(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        for key in ("last_name", "username", "language_code"):
            if (value := getattr(self, key)) is not None:
                data[key] = value
        return data

    @property
    def chat(self) -> ChatView:
        return self.api.chat(self.id)

    def _message(self, **content: Any) -> Message:
        chat = self.chat
        msg: Message = {
            "message_id": chat.next_message_id(), "from": self.json,
            "chat": self.api.chat_json(self.id), "date": int(time.time()), **content,
        }
        chat.user_messages.append(msg)
        self._cursor = len(chat.history)
        self.api.feed_update({"message": msg})
        return msg

    def send_text(self, text: str) -> Message:
        if not text.startswith("/"):
            return self._message(text=text)
        length = _utf16_len(text.split(maxsplit=1)[0])
        return self._message(text=text, entities=[
            {"type": "bot_command", "offset": 0, "length": length}])

    def send_command(self, command: str, args: str | None = None) -> Message:
        return self.send_text(f"/{command.lstrip('/')}" + (f" {args}" if args else ""))

    def send_contact(
        self, phone_number: str, first_name: str | None = None,
        last_name: str | None = None, user_id: int | None = None,
    ) -> Message:
        contact = {"phone_number": phone_number, "first_name": first_name or self.first_name,
                   "last_name": last_name, "user_id": user_id}
        return self._message(contact={k: v for k, v in contact.items() if v is not None})

    def send_location(self, latitude: float, longitude: float) -> Message:
        return self._message(location={"latitude": latitude, "longitude": longitude})

    def send_voice(self, duration: int = 3, data: bytes = b"OggS\x00fake-voice") -> Message:
        f = self.api.register_file("voice", data, mime_type="audio/ogg")
        return self._message(voice={
            "file_id": f.file_id, "file_unique_id": f.file_unique_id, "duration": duration,
            "mime_type": "audio/ogg", "file_size": len(data),
        })

    def send_document(self, data: bytes, file_name: str,
                      mime_type: str | None = None) -> Message:
        """A file sent as a document; the bot can getFile and download it."""
        f = self.api.register_file("document", data, file_name, mime_type)
        doc: dict[str, Any] = {"file_id": f.file_id, "file_unique_id": f.file_unique_id,
                               "file_name": file_name, "file_size": len(data)}
        if f.mime_type:
            doc["mime_type"] = f.mime_type
        return self._message(document=doc)

    def forward_text(
        self, text: str, from_user_name: str, from_user_id: int | None = None
    ) -> Message:
        """Forwarded text: origin "user" when from_user_id is given, else "hidden_user"."""
        origin: dict[str, Any] = {"type": "hidden_user", "sender_user_name": from_user_name}
        if from_user_id is not None:
            origin = {"type": "user", "sender_user": {
                "id": from_user_id, "is_bot": False, "first_name": from_user_name}}
        origin["date"] = int(time.time()) - 60
        return self._message(text=text, forward_origin=origin)

    def press(
        self, message: Mapping[str, Any] | int, callback_data: str, check: bool = True
    ) -> Query:
        """Press the inline button with ``callback_data`` under a bot message (or its id)."""
        mid = message if isinstance(message, int) else message["message_id"]
        current = self.chat.current.get(mid)
        if current is None:
            raise LookupError(f"message {mid} is not in chat {self.id} (deleted?)")
        if check and callback_data not in [d for _, d in inline_buttons(current)]:
            raise LookupError(f"no button {callback_data!r}: {inline_buttons(current)}")
        query = self.api.new_query(callback_data, current)
        self._cursor = len(self.chat.history)
        self.api.feed_update({"callback_query": {
            "id": query.id, "from": self.json, "message": _public(current),
            "chat_instance": f"ci{self.id}", "data": callback_data,
        }})
        return query

    def press_button(self, text: str) -> Query:
        """Press the button labelled ``text`` in the latest bot message that has it."""
        for msg in reversed(self.chat.messages):
            for label, data in inline_buttons(msg):
                if label == text and data is not None:
                    return self.press(msg, data)
        seen = [label for m in self.chat.messages for label, _ in inline_buttons(m)]
        raise LookupError(f"no inline button {text!r} in chat {self.id}; buttons: {seen}")

    def inline_query(self, query: str, offset: str = "") -> Query:
        q = self.api.new_query(query)
        self.api.feed_update({"inline_query": {
            "id": q.id, "from": self.json, "query": query, "offset": offset,
            "chat_type": "sender",
        }})
        return q

    async def wait_reply(self, timeout: float = 5.0) -> Message:
        """Next message the bot sent or edited in this chat after the user's last action."""
        history = self.chat.history

        def pick() -> tuple[int, Message] | None:
            for i in range(self._cursor, len(history)):
                if history[i].kind != "deleted":
                    return i, history[i].message
            return None

        index, message = await self.api.wait_for(pick, timeout, f"a reply in chat {self.id}")
        self._cursor = index + 1
        return message


class FakeBotAPI:
    """Fake Telegram Bot API server, started in-process by tests."""

    buttons = staticmethod(inline_buttons)
    reply_buttons = staticmethod(reply_buttons)

    def __init__(
        self, token: str = "123:ABC", bot_username: str = "salesbot_test_bot",
        bot_first_name: str = "SalesBot",
    ) -> None:
        self.token, self.base_url = token, ""
        self.bot_user: dict[str, Any] = {"id": int(token.split(":", 1)[0]), "is_bot": True,
                                         "first_name": bot_first_name, "username": bot_username}
        self.requests: list[Request] = []
        self.updates: list[dict[str, Any]] = []  # not yet confirmed via getUpdates offset
        self.files: dict[str, StoredFile] = {}
        self.answers: dict[str, dict[str, Any]] = {}  # query id -> answer*Query params
        self.commands: dict[tuple[str, str], list[dict[str, Any]]] = {}  # (scope, lang)
        self.profile: dict[tuple[str, str], str] = {}  # (description field, lang) -> text
        self.menu_buttons: dict[int | None, dict[str, Any]] = {}
        self.webhook: dict[str, Any] = {"url": ""}
        self.webhook_secret: str | None = None
        # (update_id, HTTP status, the answering worker's pid header) per webhook delivery
        self.webhook_posts: list[tuple[int, int, str | None]] = []
        self._push_queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._pusher: asyncio.Task[None] | None = None
        self.polling = 0  # getUpdates requests currently long-polling (waiting for updates)
        self._chats: dict[int, ChatView] = {}
        self._users: dict[int, FakeUser] = {}
        self._open_queries: set[str] = set()
        self._faults: list[tuple[str, ApiError, list[int]]] = []
        self._delays: dict[str, float] = {}
        self._next_update_id, self._files_count, self._queries_count = 1, 0, 0
        self._poll_generation, self._closing = 0, False
        self._changed = asyncio.Event()
        self._runner: web.AppRunner | None = None
        handlers: dict[str, Handler] = {
            "getMe": lambda r: {**self.bot_user, "can_join_groups": True,
                                "can_read_all_group_messages": False,
                                "supports_inline_queries": True},
            "getUpdates": self._get_updates,
            "sendMessage": lambda r: self._deliver(r, {"text": _visible_text(
                str(r.params.get("text") or ""), r.params.get("parse_mode"))}),
            "sendPhoto": self._send_media,
            "sendDocument": self._send_media,
            "sendVoice": self._send_media,
            "editMessageText": lambda r: self._edit(r, "text", _visible_text(
                str(r.params.get("text") or ""), r.params.get("parse_mode"))),
            "editMessageReplyMarkup": lambda r: self._edit(r, None, None),
            "deleteMessage": self._delete_message,
            "answerCallbackQuery": lambda r: self._answer(r, "callback_query_id"),
            "answerInlineQuery": lambda r: self._answer(r, "inline_query_id"),
            "sendChatAction": self._send_chat_action,
            "setMyCommands": self._set_my_commands,
            "getMyCommands": lambda r: self.commands.get(self._commands_key(r.params), []),
            "deleteMyCommands": lambda r: self._set_my_commands(r, delete=True),
            "setWebhook": lambda r: self._set_webhook(r, str(r.params.get("url") or "")),
            "deleteWebhook": lambda r: self._set_webhook(r, ""),
            "getWebhookInfo": lambda r: {**self.webhook, "has_custom_certificate": False,
                                         "pending_update_count": len(self.updates)},
            "getFile": self._get_file,
            "setChatMenuButton": self._set_chat_menu_button,
            "setMyDescription": lambda r: self._set_profile(r, "description"),
            "setMyShortDescription": lambda r: self._set_profile(r, "short_description"),
            "getMyDescription": lambda r: {"description": self.profile.get(
                ("description", r.params.get("language_code") or ""), "")},
            "getMyShortDescription": lambda r: {"short_description": self.profile.get(
                ("short_description", r.params.get("language_code") or ""), "")},
            "close": lambda r: True,
            "logOut": lambda r: True,
        }
        self._methods = {name.lower(): (name, h) for name, h in handlers.items()}

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.+}", self._download)
        self._closing = False
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        await web.TCPSite(self._runner, "127.0.0.1", 0).start()
        self.base_url = f"http://127.0.0.1:{self._runner.addresses[0][1]}"

    async def stop(self) -> None:
        self._closing = True
        if self._pusher is not None:
            self._pusher.cancel()
        self._notify()  # release long-polling getUpdates
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def make_bot(self, **kwargs: Any) -> Bot:
        """A real aiogram Bot talking to this server (kwargs go to ``Bot``)."""
        server = TelegramAPIServer.from_base(self.base_url)
        return Bot(self.token, session=_LocalSession(api=server), **kwargs)

    def chat(self, chat_id: int) -> ChatView:
        return self._chats.setdefault(chat_id, ChatView(chat_id))

    def chat_json(self, chat_id: int) -> dict[str, Any]:
        if chat_id < 0:
            return {"id": chat_id, "type": "supergroup", "title": "Test group"}
        data: dict[str, Any] = {"id": chat_id, "type": "private", "first_name": "User"}
        if (user := self._users.get(chat_id)) is not None:
            keys = ("first_name", "last_name", "username")
            data.update({k: v for k, v in user.json.items() if k in keys})
        return data

    def user(
        self, user_id: int, first_name: str = "Ivan", username: str | None = None,
        language_code: str | None = "ru", last_name: str | None = None,
    ) -> FakeUser:
        """Get or create a simulated user (an existing one is returned unchanged)."""
        if user_id not in self._users:
            self._users[user_id] = FakeUser(
                self, user_id, first_name, username, language_code, last_name)
        return self._users[user_id]

    def calls(self, method: str) -> list[Request]:
        """Recorded calls of one method (case-insensitive), failed ones included."""
        return [r for r in self.requests if r.method.lower() == method.lower()]

    def sent_messages(self, chat_id: int | None = None) -> list[Message]:
        """Results of all successful send* calls in order (as they were when sent)."""
        return [
            r.result for r in self.requests
            if r.ok and r.method in _SEND_METHODS
            and chat_id in (None, r.result["chat"]["id"])
        ]

    def last_message(self, chat_id: int) -> Message | None:
        """Current state of the last bot message still in the chat."""
        return self.chat(chat_id).last

    def _notify(self) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    def feed_update(self, update: Mapping[str, Any]) -> dict[str, Any]:
        """Enqueue a raw update for getUpdates (update_id is assigned if missing)."""
        data = dict(update)
        data.setdefault("update_id", self._next_update_id)
        self._next_update_id = max(self._next_update_id, data["update_id"]) + 1
        if self.webhook["url"]:
            self._push_queue.put_nowait(data)  # Telegram posts it, in order
            if self._pusher is None or self._pusher.done():
                self._pusher = asyncio.create_task(self._push_updates())
        else:
            self.updates.append(data)
        self._notify()
        return data

    async def _push_updates(self) -> None:
        """POST each update to the webhook with the secret header, a new connection each
        time (so that workers sharing a port with SO_REUSEPORT all get some); retried while
        the server cannot be reached or answers 5xx, as Telegram does."""
        from aiohttp import ClientError, ClientSession, TCPConnector

        while not self._push_queue.empty():
            update = self._push_queue.get_nowait()
            headers = {"X-Telegram-Bot-Api-Secret-Token": self.webhook_secret or ""}
            for _ in range(50):
                try:
                    async with ClientSession(connector=TCPConnector(force_close=True)) as s, \
                            s.post(self.webhook["url"], json=update, headers=headers) as resp:
                        status, worker = resp.status, resp.headers.get("X-Salesbot-Worker")
                except ClientError:
                    await asyncio.sleep(0.1)
                    continue
                if status < 500:
                    break
                await asyncio.sleep(0.1)
            else:
                status, worker = 0, None
            self.webhook_posts.append((update["update_id"], status, worker))
            self._notify()

    def new_query(self, data: str, message: Message | None = None) -> Query:
        self._queries_count += 1
        query = Query(self, str(4_000_000_000_000_000 + self._queries_count), data, message)
        self._open_queries.add(query.id)
        return query

    def register_file(
        self, kind: str, data: bytes, filename: str | None = None, mime_type: str | None = None
    ) -> StoredFile:
        self._files_count = n = self._files_count + 1
        mime_type = mime_type or mimetypes.guess_type(filename or "")[0]
        ext = mimetypes.guess_extension(mime_type or "") or ".bin"
        folder = {"photo": "photos", "voice": "voice"}.get(kind, "documents")
        f = StoredFile(f"{kind}-{n:04d}-fakefileid", f"uniq{n:04d}",
                       f"{folder}/file_{n}{ext}", data, filename, mime_type)
        self.files[f.file_id] = f
        return f

    async def wait_for(
        self, predicate: Callable[[], T | None], timeout: float = 5.0, what: str = "condition"
    ) -> T:
        """Wait until predicate() is truthy (re-checked on every call/update); return it."""
        try:
            async with asyncio.timeout(timeout):
                while True:
                    changed = self._changed
                    if value := predicate():
                        return value
                    await changed.wait()
        except TimeoutError:
            raise TimeoutError(f"timed out after {timeout}s waiting for {what}") from None

    def fail_next(
        self, method: str, status: int = 429, retry_after: int = 1, times: int = 1,
        description: str | None = None,
    ) -> None:
        """Make the next ``times`` calls of ``method`` ("*" = any method) fail."""
        if description is None and status == 429:
            description = f"Too Many Requests: retry after {retry_after}"
        description = description or _DEFAULT_ERRORS.get(status, "Error")
        error = ApiError(status, description, retry_after if status == 429 else None)
        self._faults.append((method.lower(), error, [times]))

    def block_chat(self, chat_id: int) -> None:
        self.chat(chat_id).blocked = True

    def unblock_chat(self, chat_id: int) -> None:
        self.chat(chat_id).blocked = False

    def delay(self, method: str, seconds: float) -> None:
        """Answer ``method`` only after ``seconds`` (0 removes the delay)."""
        self._delays[method.lower()] = seconds

    async def _handle(self, request: web.Request) -> web.Response:
        name = request.match_info["method"]
        params, files = await self._read(request)
        canonical, handler = self._methods.get(name.lower(), (name, None))
        req = Request(canonical, params, files)
        try:
            if request.match_info["token"] != self.token:
                raise ApiError(401, "Unauthorized")
            if handler is None:
                raise ApiError(404, "Not Found: method not found")
            if delay := self._delays.get(name.lower()):
                await asyncio.sleep(delay)
            self._inject_faults(req)
            result = handler(req)
            if inspect.isawaitable(result):
                result = await result
            req.result = copy.deepcopy(result)
            body: dict[str, Any] = {"ok": True, "result": _public(result)}
        except ApiError as e:
            req.status, req.error, body = e.status, e.description, e.body()
        self.requests.append(req)
        self._notify()
        return web.json_response(body, status=req.status)

    @staticmethod
    async def _read(request: web.Request) -> tuple[dict[str, Any], dict[str, Upload]]:
        params: dict[str, Any] = {k: _decode(k, v) for k, v in request.query.items()}
        files: dict[str, Upload] = {}
        if request.content_type == "application/json":
            with contextlib.suppress(ValueError):
                params.update(await request.json())
        elif request.can_read_body:
            for key, value in (await request.post()).items():
                if isinstance(value, web.FileField):
                    files[key] = Upload(value.filename, value.file.read(), value.content_type)
                else:
                    params[key] = _decode(key, value if isinstance(value, str) else value.decode())
        return params, files

    def _inject_faults(self, req: Request) -> None:
        for method, error, left in self._faults:
            if left[0] > 0 and method in ("*", req.method.lower()):
                left[0] -= 1
                req.injected = True
                raise ApiError(error.status, error.description, error.retry_after)
        chat_id = req.params.get("chat_id")
        blocked = isinstance(chat_id, int) and self.chat(chat_id).blocked
        if blocked and req.method.startswith(_BLOCKABLE):
            req.injected = True
            raise ApiError(403, "Forbidden: bot was blocked by the user")

    async def _download(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.json_response(ApiError(401, "Unauthorized").body(), status=401)
        for f in self.files.values():
            if f.file_path == request.match_info["path"]:
                mime_type = f.mime_type or "application/octet-stream"
                return web.Response(body=f.data, content_type=mime_type)
        return web.json_response(ApiError(404, "Not Found").body(), status=404)

    @staticmethod
    def _chat_id(params: dict[str, Any]) -> int:
        chat_id = params.get("chat_id")
        if chat_id in (None, ""):
            raise _bad("chat_id is empty")
        if isinstance(chat_id, str) and not chat_id.lstrip("-").isdigit():
            raise _bad("chat not found")
        return int(chat_id)

    def _deliver(self, req: Request, content: dict[str, Any]) -> Message:
        params = req.params
        chat = self.chat(self._chat_id(params))
        if (markup := params.get("reply_markup")) is not None:
            _check_markup(markup)
            content["reply_markup"] = markup
        msg: Message = {"message_id": chat.next_message_id(), "from": self.bot_user,
                        "chat": self.chat_json(chat.id), "date": int(time.time()), **content}
        chat.current[msg["message_id"]] = msg
        chat.history.append(Event("sent", copy.deepcopy(msg), req.method))
        return msg

    def _edit(self, req: Request, key: str | None, value: str | None) -> Message | bool:
        params = req.params
        if params.get("inline_message_id"):
            return True
        chat = self.chat(self._chat_id(params))
        old = chat.current.get(int(params.get("message_id") or 0))
        if old is None:
            raise _bad("message to edit not found")
        if key is not None and key not in old:
            raise _bad(f"there is no {key} in the message to edit")
        new = {**copy.deepcopy(old), **({key: value} if key else {})}
        markup = params.get("reply_markup")
        _check_markup(markup)
        if markup and "inline_keyboard" in markup:
            new["reply_markup"] = markup
        else:
            new.pop("reply_markup", None)
        if new == old:
            raise _bad(
                "message is not modified: specified new message content and reply markup are "
                "exactly the same as a current content and reply markup of the message"
            )
        new["edit_date"] = int(time.time())
        chat.current[new["message_id"]] = new
        chat.history.append(Event("edited", copy.deepcopy(new), req.method))
        return new

    def _send_media(self, req: Request) -> Message:
        self._chat_id(req.params)
        kind = req.method.removeprefix("send").lower()
        caption = req.params.get("caption")
        if caption is not None:
            caption = _visible_text(str(caption), req.params.get("parse_mode"), "message caption")
        f = self._input_file(req, kind)
        ids = {"file_id": f.file_id, "file_unique_id": f.file_unique_id, "file_size": len(f.data)}
        obj: Any
        if kind == "photo":
            obj = [{**ids, "width": 1280, "height": 720}]
        elif kind == "voice":
            duration = int(req.params.get("duration") or 1)
            obj = {**ids, "duration": duration, "mime_type": f.mime_type or "audio/ogg"}
        else:
            obj = {**ids, "file_name": f.filename or "file"}
            if f.mime_type:
                obj["mime_type"] = f.mime_type
        return self._deliver(req, {kind: obj, **({"caption": caption} if caption else {})})

    def _input_file(self, req: Request, kind: str) -> StoredFile:
        value = req.params.get(kind)
        upload = req.files.get(kind)
        if isinstance(value, str) and value.startswith("attach://"):
            upload = req.files.get(value.removeprefix("attach://"))
            if upload is None:
                raise _bad(_BAD_FILE)
        if upload is not None:
            return self.register_file(kind, upload.data, upload.filename)
        if not value:
            raise _bad(f"there is no {kind} in the request")
        if str(value).startswith(("http://", "https://")):
            return self.register_file(kind, b"", str(value).rsplit("/", 1)[-1])
        if str(value) not in self.files:
            raise _bad(_BAD_FILE)
        return self.files[str(value)]

    async def _get_updates(self, req: Request) -> list[dict[str, Any]]:
        if self.webhook["url"]:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; "
                                "use deleteWebhook to delete the webhook first")
        params = req.params
        offset, limit = int(params.get("offset", 0)), int(params.get("limit", 100))
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]
        self._poll_generation = generation = self._poll_generation + 1
        if (timeout := float(params.get("timeout", 0))) > 0 and not self.updates:
            self.polling += 1
            self._notify()
            try:
                with contextlib.suppress(TimeoutError):
                    await self.wait_for(
                        lambda: bool(self.updates) or self._closing
                        or generation != self._poll_generation, timeout)
            finally:
                self.polling -= 1
        if generation != self._poll_generation:
            raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure "
                                "that only one bot instance is running")
        return copy.deepcopy(self.updates[: max(1, min(limit, 100))])

    def _delete_message(self, req: Request) -> bool:
        chat = self.chat(self._chat_id(req.params))
        message_id = int(req.params.get("message_id") or 0)
        if message_id in chat.current:
            msg = chat.current.pop(message_id)
            chat.history.append(Event("deleted", copy.deepcopy(msg), req.method))
            return True
        raise _bad("message to delete not found")

    def _answer(self, req: Request, key: str) -> bool:
        query_id = str(req.params.get(key) or "")
        if query_id not in self._open_queries:
            raise _bad("query is too old and response timeout expired or query ID is invalid")
        self._open_queries.discard(query_id)
        self.answers[query_id] = req.params
        return True

    def _send_chat_action(self, req: Request) -> bool:
        chat = self.chat(self._chat_id(req.params))
        if not req.params.get("action"):
            raise _bad("action is empty")
        chat.actions.append(str(req.params["action"]))
        return True

    @staticmethod
    def _commands_key(params: dict[str, Any]) -> tuple[str, str]:
        scope = params.get("scope") or {"type": "default"}
        return json.dumps(scope, sort_keys=True), str(params.get("language_code") or "")

    def _set_profile(self, req: Request, field: str) -> bool:
        value = str(req.params.get(field) or "")
        if len(value) > (512 if field == "description" else 120):
            raise _bad(f"{field} is too long")
        self.profile[(field, str(req.params.get("language_code") or ""))] = value
        return True

    def _set_my_commands(self, req: Request, delete: bool = False) -> bool:
        if delete:
            self.commands.pop(self._commands_key(req.params), None)
            return True
        commands = req.params.get("commands") or []
        for cmd in commands:
            if not _COMMAND.fullmatch(str(cmd.get("command", ""))):
                raise _bad("BOT_COMMAND_INVALID")
            if not 1 <= len(str(cmd.get("description", ""))) <= 256:
                raise _bad("BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[self._commands_key(req.params)] = commands
        return True

    def _set_webhook(self, req: Request, url: str) -> bool:
        if req.params.get("drop_pending_updates"):
            self.updates.clear()
        self.webhook = {"url": url}
        if url and req.params.get("allowed_updates") is not None:
            self.webhook["allowed_updates"] = req.params["allowed_updates"]
        secret = req.params.get("secret_token")
        self.webhook_secret = str(secret) if secret else None
        return True

    def _get_file(self, req: Request) -> dict[str, Any]:
        f = self.files.get(str(req.params.get("file_id") or ""))
        if f is None:
            raise _bad("invalid file_id")
        return {"file_id": f.file_id, "file_unique_id": f.file_unique_id,
                "file_size": len(f.data), "file_path": f.file_path}

    def _set_chat_menu_button(self, req: Request) -> bool:
        chat_id = req.params.get("chat_id")
        button = req.params.get("menu_button") or {"type": "default"}
        self.menu_buttons[None if chat_id is None else int(chat_id)] = button
        return True
