"""Requests wait their turn: one generation at a time (the engine holds one llama.cpp model, and
two generations would only take it from each other), with a bounded queue per served model so a
flood of requests for one model is answered 429 instead of piling up."""

from __future__ import annotations

import asyncio
import math
import time
from collections import deque


class QueueFull(Exception):
    """The model's queue has no room; ``retry_after`` is a fair guess in seconds."""

    def __init__(self, model: str, retry_after: int):
        super().__init__(f"Too many requests are waiting for {model!r}. Try again later.")
        self.retry_after = retry_after


class Ticket:
    """A request's turn; :meth:`Queues.leave` gives it back once its work has ended."""

    def __init__(self, key: str):
        self.key = key
        self.started = time.monotonic()


class Queues:
    """At most ``size`` requests per model wait while another generates; each then runs alone.
    Used from the server's event loop only."""

    def __init__(self, size: int):
        self.size = size
        self.waiting: dict[str, int] = {}
        self._turn: asyncio.Lock | None = None
        self._durations: deque[float] = deque(maxlen=20)

    @property
    def turn(self) -> asyncio.Lock:
        if self._turn is None:  # made on the loop that uses it
            self._turn = asyncio.Lock()
        return self._turn

    async def enter(self, key: str) -> Ticket:
        """Wait for this request's turn; :class:`QueueFull` when ``size`` already wait."""
        if self.turn.locked() and self.waiting.get(key, 0) >= self.size:
            raise QueueFull(key, self.retry_after(key))
        self.waiting[key] = self.waiting.get(key, 0) + 1
        try:
            await self.turn.acquire()
        finally:
            self.waiting[key] -= 1
        return Ticket(key)

    def leave(self, ticket: Ticket) -> None:
        self._durations.append(time.monotonic() - ticket.started)
        self.turn.release()

    def retry_after(self, key: str) -> int:
        """Seconds until a place is likely free: the recent mean duration per request waiting."""
        mean = sum(self._durations) / len(self._durations) if self._durations else 2.0
        return max(1, math.ceil(mean * (self.waiting.get(key, 0) + 1)))
