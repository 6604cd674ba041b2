"""Fake Telegram Bot API server for end-to-end tests (see ``server`` for details)."""

from .server import ChatView, FakeBotAPI, FakeUser, Query, Request, inline_buttons, reply_buttons

__all__ = [
    "ChatView", "FakeBotAPI", "FakeUser", "Query", "Request", "inline_buttons", "reply_buttons",
]
