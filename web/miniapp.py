"""The heads' dashboard as a Telegram Mini App: static files at /app/ and a JSON API at
/app/api/… on the bot's own web server.

Every API call carries Telegram's signed initData (header X-Telegram-Init-Data): checked with
the bot token as Telegram documents it (aiogram's safe_parse_webapp_init_data) and for its age
(WEBAPP_AUTH_MAX_AGE); the Telegram user is then mapped to a CRM actor and the same role and
team rules as in the chat apply (crm.access). Each report is the SAME crm function and the same
spreadsheet as the chat's (bot.handlers.reports.report_of) — never a second query.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _
from aiogram.utils.web_app import safe_parse_webapp_init_data
from aiohttp import web

from bot.handlers.reports import opening_period, report_of
from bot.keyboards.reports import (
    PICKER,
    ReportKind,
    dimension_label,
    kinds_for,
    period_label,
    report_title,
)
from bot.report_views import bucket_names, period_text
from crm.access import can_see_reports
from crm.dto import Actor
from crm.errors import CRMError, Forbidden
from crm.reports.marketing import DIMENSIONS
from crm.reports.period import (
    FIRST_DAY,
    LAST_DAY,
    Period,
    PeriodError,
    PeriodKind,
    period_of,
    picked_period,
)
from crm.service import CRM

STATIC = Path(__file__).parent / "static"
INIT_HEADER = "X-Telegram-Init-Data"
# The reports the dashboard shows, by their name in the URL.
KINDS: dict[str, ReportKind] = {
    "results": ReportKind.RESULTS, "funnel": ReportKind.FUNNEL,
    "dynamics": ReportKind.DYNAMICS, "forecast": ReportKind.FORECAST,
    "losses": ReportKind.LOSSES, "receivables": ReportKind.RECEIVABLES,
    "marketing": ReportKind.MARKETING,
}


@dataclass(frozen=True, slots=True)
class MiniAppConfig:
    token: str
    bot_username: str
    max_age: int = 86400
    default_locale: str = "ru"


class AuthError(Exception):
    pass


def verify_init_data(init_data: str, token: str, now: datetime, max_age: int) -> int:
    """The Telegram user id of a valid, fresh initData; AuthError otherwise."""
    try:
        data = safe_parse_webapp_init_data(token, init_data)
    except (ValueError, TypeError) as err:
        raise AuthError("bad signature") from err
    if data.user is None:
        raise AuthError("no user")
    age = (now - data.auth_date).total_seconds()
    if age > max_age or age < -300:
        raise AuthError("expired")
    return data.user.id


def to_json(value: Any, locale: str) -> Any:
    """A report's dataclasses as JSON: Decimals as strings (exact), dates ISO, a label or a
    stage with its `text` in the user's language."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out = {f.name: to_json(getattr(value, f.name), locale)
               for f in dataclasses.fields(value)}
        if "ru" in out and "en" in out:
            out["text"] = out["ru"] if locale == "ru" else out["en"]
        return out
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return [to_json(v, locale) for v in value]
    if isinstance(value, dict):
        return {str(k): to_json(v, locale) for k, v in value.items()}
    return value


def _labels() -> dict[str, str]:
    """The page's texts, translated by the bot's own catalog (i18n in one place)."""
    return {
        "title": _("Dashboard"), "period": _("Period"), "manager": _("Manager"),
        "contacts": _("Contacts"), "clients_in_work": _("Clients in work"),
        "overdue_contacts": _("Overdue contacts"),
        "new_deals": _("New deals"), "won": _("Won"), "revenue": _("Revenue"),
        "lost": _("Lost"), "conversion": _("Conversion, %"), "avg_check": _("Average check"),
        "payments": _("Payments"), "total": _("Total"), "deals": _("Open deals"),
        "deal": _("Deal"), "client": _("Client"), "stage": _("Stage"), "amount": _("Amount"),
        "open_in_chat": _("Open in the chat"), "xlsx": _("XLSX"), "back": _("Back"),
        "no_deals": _("No open deals."), "no_data": _("No data for this period."),
        "unauthorized": _("The dashboard could not confirm who you are. Open it again from "
                          "the bot."),
        "forbidden": _("Your role has no reports."), "error": _("Something went wrong."),
        "reached": _("Reached"), "open_now": _("Open now"), "reason": _("Reason"),
        "count": _("Count"), "overdue": _("Overdue"), "bucket": _("Days overdue"),
        "month": _("Month"), "weighted": _("Weighted"), "source": _("Group"),
        "share": _("Share"), "all_teams": _("All teams"),
        "owed": _("Owed"), "new_clients": _("New clients"), "deals_opened": _("Deals opened"),
        "touches": _("Campaign touches"), "from": _("From"), "to": _("To"),
        "apply": _("Show"), "group_by": _("Group by"),
        "pick_dates": period_message("format"),
    }


def period_message(code: str) -> str:
    """Why picked dates were refused, in the user's language (crm PeriodError codes)."""
    texts = {
        "format": _("Pick both dates: from and to."),
        "date": _("There is no such date: pick one between 2000 and 2100."),
        "order": _("The period ends before it starts: pick the earlier date first."),
        "long": _("That period is too long: at most two years."),
        "period": _("There is no such period."),
    }
    return texts[code]


class BadRequest(Exception):
    """A parameter refused: 400 with a code (and for a period, why, translated)."""

    def __init__(self, code: str, reason: str | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.reason = reason


def _period(query: Any, today: date) -> Period:
    """The period asked for: one of the chat picker's, or picked dates (period=c&start=…&end=…,
    YYYY-MM-DD, validated by crm.reports.period.picked_period)."""
    kind = query.get("period") or PeriodKind.MONTH.value
    try:
        pk = PeriodKind(kind)
    except ValueError:
        raise BadRequest("period", "period") from None
    if pk is PeriodKind.CUSTOM:
        try:
            return picked_period(query.get("start", ""), query.get("end", ""))
        except PeriodError as err:
            raise BadRequest("period", err.code) from None
    if pk not in PICKER:
        raise BadRequest("period", "period")
    return period_of(pk, today)


def _id(raw: str, code: str) -> int:
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 10 or int(raw) > 2**31 - 1:
        raise BadRequest(code)
    return int(raw)


def _team(query: Any) -> int | None:
    raw = query.get("team")
    if not raw:
        return None
    return _id(raw, "team")


def _error(status: int, code: str, **extra: str) -> web.Response:
    return web.json_response({"error": code, **extra}, status=status,
                             dumps=lambda v: json.dumps(v, ensure_ascii=False))


def setup_miniapp(app: web.Application, crm: CRM, config: MiniAppConfig, i18n: I18n) -> None:
    Handler = Callable[[web.Request, Actor, str], Awaitable[web.StreamResponse]]

    def api(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def wrapped(request: web.Request) -> web.StreamResponse:
            try:
                tg_id = verify_init_data(request.headers.get(INIT_HEADER, ""), config.token,
                                         crm.clock.now(), config.max_age)
            except AuthError:
                return _error(401, "unauthorized")
            actor = await crm.people.identify(tg_id)
            if actor is None or not can_see_reports(actor) or not kinds_for(actor.role):
                return _error(403, "forbidden")
            locale = actor.locale or config.default_locale
            with i18n.context(), i18n.use_locale(locale):
                try:
                    return await handler(request, actor, locale)
                except BadRequest as err:
                    if err.reason is None:
                        return _error(400, err.code)
                    return _error(400, err.code, reason=err.reason,
                                  message=period_message(err.reason))
                except Forbidden:
                    return _error(403, "forbidden")
                except CRMError:
                    return _error(404, "not_available")
        return wrapped

    def allowed(actor: Actor, name: str) -> ReportKind:
        kind = KINDS.get(name)
        if kind is None or kind not in kinds_for(actor.role):
            raise Forbidden()
        return kind

    def today_of(actor: Actor) -> date:
        return crm.clock.now().astimezone(actor.tz).date()

    async def me(request: web.Request, actor: Actor, locale: str) -> web.StreamResponse:
        teams = await crm.people.teams(actor) if actor.role.value == "admin" else []
        return web.json_response({
            "name": actor.name, "role": actor.role.value, "locale": locale,
            "reports": [{"kind": k, "title": report_title(v)} for k, v in KINDS.items()
                        if v in kinds_for(actor.role)],
            "periods": [{"kind": p.value, "title": period_label(p)} for p in PICKER],
            # Picked dates: the chat's «Dates», today in the user's time zone, the bounds.
            "custom": {"kind": PeriodKind.CUSTOM.value, "title": period_label(PeriodKind.CUSTOM),
                       "today": today_of(actor).isoformat(), "min": FIRST_DAY.isoformat(),
                       "max": LAST_DAY.isoformat()},
            "teams": [{"id": t.id, "name": t.name} for t in teams],
            "labels": _labels(), "bot": config.bot_username,
            "buckets": list(bucket_names()),
            "dims": [{"key": d.value, "title": dimension_label(d)} for d in DIMENSIONS],
        })

    async def report(request: web.Request, actor: Actor, locale: str) -> web.StreamResponse:
        name = request.match_info["kind"]
        xlsx = name.endswith(".xlsx")
        kind = allowed(actor, name.removesuffix(".xlsx"))
        period = opening_period(kind, _period(request.query, today_of(actor)))
        team = _team(request.query)
        r = report_of(kind)
        figures = await r.load(crm, actor, period, team)
        if xlsx:
            data = await asyncio.to_thread(r.xlsx, figures)
            fname = f"{kind.value}_{period.start:%Y%m%d}-{period.end:%Y%m%d}.xlsx"
            return web.Response(body=data, headers={
                "Content-Type": "application/vnd.openxmlformats-officedocument."
                                "spreadsheetml.sheet",
                "Content-Disposition": f'attachment; filename="{fname}"'})
        return web.json_response({
            "kind": name, "title": report_title(kind), "period_text": period_text(period),
            "period": to_json(period, locale), "data": to_json(figures, locale),
        }, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def deals(request: web.Request, actor: Actor, locale: str) -> web.StreamResponse:
        allowed(actor, "results")
        user_id = _id(request.match_info["user_id"], "user")
        result = await crm.reports.manager_deals(actor, user_id, _team(request.query))
        out = to_json(result, locale)
        for deal in out["deals"]:
            deal["link"] = f"https://t.me/{config.bot_username}?start=deal_{deal['deal_id']}"
        return web.json_response(out, dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def page(request: web.Request) -> web.StreamResponse:
        return web.FileResponse(STATIC / "app.html")

    async def no_slash(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/app/")

    app.router.add_get("/app", no_slash)
    app.router.add_get("/app/", page)
    app.router.add_get("/app/api/me", api(me))
    app.router.add_get("/app/api/report/{kind}", api(report))
    app.router.add_get("/app/api/manager/{user_id}/deals", api(deals))
    app.router.add_static("/app/static/", STATIC)
