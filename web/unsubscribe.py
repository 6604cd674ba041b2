"""The e-mail unsubscribe link (RFC 8058 one-click) on the bot's web server, when PUBLIC_URL
is set: `POST /mail/unsubscribe/<token>` (a mail program's one-click, body
`List-Unsubscribe=One-Click`, or the confirm button of the page) unsubscribes the address;
`GET` shows a page with that button and unsubscribes nothing (link scanners open links).
An unknown token — forged, or of a deleted contact — is 404. The pages are in Russian and
English: nothing tells us the reader's language."""

from __future__ import annotations

import html

from aiohttp import web

from crm.service import CRM

PATH = "/mail/unsubscribe/{token}"

_PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{title}</title></head>
<body style="font-family:sans-serif;max-width:36em;margin:3em auto;padding:0 1em">
{body}
</body></html>"""


def _page(title: str, body: str, status: int = 200) -> web.Response:
    return web.Response(text=_PAGE.format(title=html.escape(title), body=body),
                        content_type="text/html", charset="utf-8", status=status,
                        headers={"Cache-Control": "no-store",
                                 "Referrer-Policy": "no-referrer"})


def _not_found() -> web.Response:
    return _page("Ссылка недействительна / Invalid link",
                 "<h1>Ссылка недействительна</h1><p>Invalid or outdated link.</p>", 404)


def setup_unsubscribe(app: web.Application, crm: CRM) -> None:
    async def page(request: web.Request) -> web.Response:
        found = await crm.mail.token_address(request.match_info["token"])
        if found is None:
            return _not_found()
        addr = html.escape(found)
        return _page("Отписаться / Unsubscribe", (
            f"<h1>Отписаться от рассылки</h1><p>Адрес: <b>{addr}</b></p>"
            "<p>Unsubscribe this address from our mailings?</p>"
            '<form method="post"><input type="hidden" name="List-Unsubscribe" '
            'value="One-Click"><button type="submit">Отписаться / Unsubscribe</button>'
            "</form>"))

    async def one_click(request: web.Request) -> web.Response:
        done = await crm.mail.email_unsubscribe(request.match_info["token"])
        if done is None:
            return _not_found()
        addr = html.escape(done.email)
        return _page("Вы отписались / Unsubscribed", (
            f"<h1>Вы отписались</h1><p>На адрес <b>{addr}</b> рассылки больше не придут.</p>"
            f"<p>{addr} will not receive our mailings any more.</p>"))

    app.router.add_get(PATH, page)
    app.router.add_post(PATH, one_click)
