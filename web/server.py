"""The web application: the webhook (aiogram's request handler, secret checked), `/healthz`
(database and Redis reachable), `/metrics` (Prometheus), the Mini App and the e-mail
unsubscribe link (web/unsubscribe.py)."""

from __future__ import annotations

import contextlib
import json
import os
from typing import Any

from aiogram import Bot, Dispatcher
from aiogram.webhook.aiohttp_server import SimpleRequestHandler, setup_application
from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text

from bot import metrics
from crm.service import CRM
from web.miniapp import MiniAppConfig, setup_miniapp
from web.unsubscribe import setup_unsubscribe

WORKER_HEADER = "X-Salesbot-Worker"  # which process answered: one port, several workers


class Health:
    def __init__(self, crm: CRM, redis_url: str | None) -> None:
        self.crm = crm
        self.redis_url = redis_url
        self._redis: Any = None

    async def check(self) -> dict[str, str]:
        status = {"database": "ok", "redis": "off"}
        try:
            async with self.crm.db.engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception:
            status["database"] = "error"
        if self.redis_url:
            try:
                if self._redis is None:
                    from redis.asyncio import Redis

                    self._redis = Redis.from_url(self.redis_url, socket_timeout=2,
                                                 socket_connect_timeout=2)
                await self._redis.ping()
                status["redis"] = "ok"
            except Exception:
                status["redis"] = "error"
        return status

    async def close(self) -> None:
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()


def create_web_app(
    crm: CRM, *, redis_url: str | None = None, dp: Dispatcher | None = None,
    bot: Bot | None = None, webhook_path: str | None = None, secret: str | None = None,
    miniapp: MiniAppConfig | None = None, mail_unsubscribe: bool = False,
) -> web.Application:
    """With `dp`, `bot`, `webhook_path` and `secret`: the webhook too; else only health and
    metrics (polling mode)."""
    app = web.Application()
    health = Health(crm, redis_url)

    async def healthz(request: web.Request) -> web.Response:
        status = await health.check()
        ok = "error" not in status.values()
        return web.json_response(status, status=200 if ok else 503,
                                 dumps=lambda v: json.dumps(v, sort_keys=True))

    async def metrics_view(request: web.Request) -> web.Response:
        # Read at scrape time: a gauge nobody updates between scrapes cannot go stale.
        depth = await crm.outbox.depth()
        metrics.OUTBOX_DEPTH.clear()
        for kind, n in depth.items():
            metrics.OUTBOX_DEPTH.labels(kind).set(n)
        body = generate_latest()
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def tag_worker(request: web.Request, response: web.StreamResponse) -> None:
        response.headers[WORKER_HEADER] = str(os.getpid())

    async def close_health(app: web.Application) -> None:
        await health.close()

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/metrics", metrics_view)
    app.on_response_prepare.append(tag_worker)
    app.on_cleanup.append(close_health)
    if miniapp is not None:
        from bot.i18n import create_i18n

        i18n = dp["i18n_core"] if dp is not None else create_i18n(miniapp.default_locale)
        setup_miniapp(app, crm, miniapp, i18n)
    if mail_unsubscribe:
        # The one-click unsubscribe link of e-mails (PUBLIC_URL set).
        setup_unsubscribe(app, crm)
    if dp is not None and bot is not None and webhook_path is not None:
        if not secret:
            raise ValueError("a webhook without a secret would take updates from anyone")
        # A wrong or missing X-Telegram-Bot-Api-Secret-Token is answered 401 by aiogram.
        SimpleRequestHandler(dp, bot, secret_token=secret).register(app, path=webhook_path)
        setup_application(app, dp, bot=bot)
    return app
