"""Texts of check-ins, «Nearby» and a day's route."""

from __future__ import annotations

from datetime import datetime, timedelta
from html import escape as e
from zoneinfo import ZoneInfo

from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.render import clip, fmt_day, fmt_distance, fmt_time, fmt_when
from crm.visits import NEARBY_PAGE, CheckIn, DayRoute, NearbyPage


def check_in_text(c: CheckIn, at: datetime, tz: ZoneInfo) -> str:
    text = _("📍 Visit to «{name}» recorded at {time}.").format(
        name=e(c.client_name), time=fmt_time(at, tz))
    if c.distance_km is None:
        return text
    if c.far:
        return text + "\n" + _("⚠️ That is {distance} from the client's place on the map.").format(
            distance=fmt_distance(c.distance_km))
    return text + "\n" + _("{distance} from the client's place on the map.").format(
        distance=fmt_distance(c.distance_km))


def visit_detail(details: dict[str, object] | None) -> str | None:
    """The line a visit adds to its history record: how far from the client's place."""
    dist = (details or {}).get("distance_km")
    if not isinstance(dist, (int, float)):
        return None
    if (details or {}).get("far"):
        return _("⚠️ Checked in {distance} from the client's place").format(
            distance=fmt_distance(dist))
    return _("📍 Checked in {distance} from the client's place").format(
        distance=fmt_distance(dist))


def nearby_text(page: NearbyPage, tz: ZoneInfo, now: datetime) -> str:
    if not page.items:
        if page.page:
            return _("No more clients farther away.")
        return _("None of your clients has a place on the map yet. Check in at a client "
                 "(«📍 I'm at the client» on the card) to save it.")
    lines = [_("🧭 <b>Clients near you</b>")]
    for i, c in enumerate(page.items, start=page.page * NEARBY_PAGE + 1):
        bits = [f"{i}. <b>{e(c.name)}</b> — {fmt_distance(c.distance_km)}"]
        if page.shows_owner and c.owner_name:
            bits.append(e(c.owner_name))
        bits.append(_("⏭ {when}").format(when=fmt_when(c.next_due, tz, now)) if c.next_due
                    else _("⏭ nothing planned"))
        if c.open_deals:
            bits.append(ngettext("💼 {n} open deal", "💼 {n} open deals",
                                 c.open_deals).format(n=c.open_deals))
        lines.append(" · ".join(bits))
    return clip("\n".join(lines))


def _gap(delta: timedelta) -> str:
    minutes = int(delta.total_seconds() // 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return _("{h} h {m} min").format(h=hours, m=minutes)
    return _("{m} min").format(m=minutes)


def route_text(route: DayRoute) -> str:
    title = _("🗺 <b>{name}</b>: route of {day}").format(name=e(route.name),
                                                        day=fmt_day(route.day))
    if not route.stops:
        return title + "\n\n" + _("No check-ins this day.")
    lines = [title, ""]
    for i, stop in enumerate(route.stops, start=1):
        line = f"{i}. {fmt_time(stop.at, route.tz)} — <b>{e(stop.client_name)}</b>"
        if stop.far and stop.distance_km is not None:
            line += " " + _("(⚠️ {distance} from its place)").format(
                distance=fmt_distance(stop.distance_km))
        lines.append(line)
        if stop.since_previous is not None:
            step = "   ↳ +" + _gap(stop.since_previous)
            if stop.km_from_previous is not None:
                step += ", " + fmt_distance(stop.km_from_previous)
            lines.append(step)
    lines.append("")
    lines.append(ngettext("{n} check-in, {distance} between them",
                          "{n} check-ins, {distance} between them", len(route.stops)).format(
        n=len(route.stops), distance=fmt_distance(route.total_km)))
    return clip("\n".join(lines))
