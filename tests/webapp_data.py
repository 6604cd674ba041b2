"""Telegram Mini App initData signed as Telegram does it (core.telegram.org/bots/webapps:
HMAC-SHA256 of the sorted key=value lines, key HMAC-SHA256("WebAppData", bot token)), for the
dashboard's API and browser tests."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import datetime
from urllib.parse import urlencode

TOKEN = "42:TEST"


def sign(tg_id: int, when: datetime, *, token: str = TOKEN, first_name: str = "Helen",
         language_code: str = "en") -> str:
    fields = {
        "auth_date": str(int(when.timestamp())),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps({"id": tg_id, "first_name": first_name,
                            "language_code": language_code}, separators=(",", ":")),
    }
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)
