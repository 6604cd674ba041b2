"""Prometheus metrics of one process (served at /metrics by web/).

The bot's handlers and the scheduler's sender count here; the web server reads the outbox
depth at scrape time. Each worker process has its own counters: scrape every worker (or
sum them), as with any pre-fork server.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import BaseMiddleware, Dispatcher
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.types import TelegramObject
from prometheus_client import Counter, Gauge, Histogram

UPDATES = Counter("salesbot_updates_handled_total", "Updates handled, by handler and outcome",
                  ["handler", "outcome"])
LATENCY = Histogram("salesbot_update_handling_seconds", "Time a handler took, by handler",
                    ["handler"])
OUTBOX_DEPTH = Gauge("salesbot_outbox_depth", "Notifications waiting to go out, by kind",
                     ["kind"])
SENT = Counter("salesbot_messages_sent_total", "Messages the scheduler delivered")
RETRY_AFTER = Counter("salesbot_telegram_429_total", "429 answers to the scheduler's sends")
SEND_FAILURES = Counter("salesbot_send_failures_total",
                        "Scheduler sends that failed, by outcome (failed for good or retried)",
                        ["outcome"])


class HandlerMetrics(BaseMiddleware):
    """An inner middleware: it runs only once a handler has been chosen, so it knows it.

    A handler's label and its metric children are worked out once, at its first update."""

    def __init__(self) -> None:
        # id(callback) → (callback, label, latency, ok); the callback is kept to check the id.
        self._children: dict[int, tuple[Any, Any, Any, Any]] = {}

    def _metrics_of(self, chosen: Any) -> tuple[Any, Any, Any, Any]:
        callback = chosen.callback if chosen is not None else None
        hit = self._children.get(id(callback))
        if hit is not None and hit[0] is callback:
            return hit
        label = handler_label(chosen)
        hit = (callback, label, LATENCY.labels(label), UPDATES.labels(label, "ok"))
        self._children[id(callback)] = hit
        return hit

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        _callback, label, latency, ok = self._metrics_of(data.get("handler"))
        started = time.perf_counter()
        try:
            result = await handler(event, data)
        except BaseException:
            latency.observe(time.perf_counter() - started)
            UPDATES.labels(label, "error").inc()
            raise
        latency.observe(time.perf_counter() - started)
        ok.inc()
        return result


def handler_label(chosen: Any) -> str:
    """«module.function» of the chosen handler, e.g. «clients.cb_card»."""
    name = getattr(chosen.callback, "__qualname__", "?") \
        if isinstance(chosen, HandlerObject) else "?"
    module = getattr(chosen.callback, "__module__", "") if chosen is not None else ""
    return f"{module.rsplit('.', 1)[-1]}.{name}" if module else name


def setup_handler_metrics(dp: Dispatcher) -> None:
    middleware = HandlerMetrics()
    for name, observer in dp.observers.items():
        if name not in ("update", "error"):
            observer.middleware(middleware)
