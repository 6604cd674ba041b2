"""The aiohttp server: Telegram's webhook, /healthz and /metrics (a sibling of bot/)."""
