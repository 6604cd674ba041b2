"""One rate limiter shared by everything the scheduler sends.

Telegram allows about 30 messages a second per bot and one a second per chat; beyond that it
answers 429 with `retry_after`, and then every further message waits. So: a global pace
(a message every 1/rate s), a per-chat pace, and a global pause that a 429 sets for all
senders at once. Slots are reserved at the time of asking, so concurrent senders queue
fairly without a thundering herd. Time and sleep are injectable for tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable


class RateLimiter:
    def __init__(
        self,
        global_rate: float = 25.0,
        per_chat_rate: float = 1.0,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.global_interval = 1.0 / global_rate
        self.chat_interval = 1.0 / per_chat_rate
        self._clock = clock
        self._sleep = sleep
        self._next_global = 0.0
        self._next_chat: dict[int, float] = {}
        self._paused_until = 0.0
        self._grants: deque[float] = deque()
        self._per_window = max(1, int(global_rate))
        self.pauses = 0  # how many 429s paused everything (for logs and the benchmark)

    def pause(self, seconds: float) -> None:
        """Telegram said 429: nobody sends for `seconds`."""
        self.pauses += 1
        self._paused_until = max(self._paused_until, self._clock() + seconds)

    @property
    def paused_for(self) -> float:
        return max(0.0, self._paused_until - self._clock())

    async def acquire(self, chat_id: int) -> float:
        """Wait for this chat's turn within the global pace (and any pause); returns the
        moment it was granted (for `settle`)."""
        while True:
            now = self._clock()
            if self._paused_until > now:
                await self._sleep(self._paused_until - now)
                continue
            slot = max(now, self._next_global, self._next_chat.get(chat_id, 0.0))
            self._next_global = slot + self.global_interval
            self._next_chat[chat_id] = slot + self.chat_interval
            if slot > now:
                await self._sleep(slot - now)
                now = self._clock()
                if self._paused_until > now:
                    continue  # a 429 arrived while we waited: our slot is void
            # Senders that woke up late (a busy event loop) must not go out in a bunch:
            # at most `per_window` actual grants in any second. Waiting for the window keeps
            # this slot (taking a new one would waste the one reserved: a few % of the rate).
            while True:
                while self._grants and self._grants[0] <= now - 1.0:
                    self._grants.popleft()
                if len(self._grants) < self._per_window:
                    break
                await self._sleep(self._grants[0] + 1.0 - now)
                now = self._clock()
            if self._paused_until > now:
                continue  # a 429 arrived while we waited
            self._grants.append(now)
            # Per chat, the next message counts from when this one really goes.
            self._next_chat[chat_id] = max(self._next_chat[chat_id], now + self.chat_interval)
            if len(self._next_chat) > 10_000:
                self._forget(now)
            return now

    async def settle(self, granted: float) -> None:
        """A grant used late (the caller was held up between `acquire` and its request):
        counted again as of now, after waiting — only as long as needed — for room in the
        one-second window, so late requests do not go out in a bunch. No new slot is taken.
        """
        with contextlib.suppress(ValueError):
            self._grants.remove(granted)
        while True:
            now = self._clock()
            while self._grants and self._grants[0] <= now - 1.0:
                self._grants.popleft()
            if len(self._grants) < self._per_window and self._paused_until <= now:
                break
            wait = max(self._paused_until - now,
                       self._grants[0] + 1.0 - now if self._grants else 0.0)
            await self._sleep(max(wait, 0.001))
        self._grants.append(now)

    def _forget(self, now: float) -> None:
        self._next_chat = {c: t for c, t in self._next_chat.items() if t > now}
