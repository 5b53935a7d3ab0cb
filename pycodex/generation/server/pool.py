"""Where the server backend's next request goes: the least busy endpoint that is up, or a down one
whose backoff is over (its single probe); an answer brings an endpoint back, a retryable error
drops it for a backoff. ServerBackend inherits these."""

from __future__ import annotations

import asyncio
import random
import time

from pycodex.generation.server.http import BACKOFF_CAP, Endpoint, _Retryable, log


class EndpointPool:
    endpoints: list[Endpoint]
    retries: int
    backoff_start: float
    _cond: asyncio.Condition | None

    async def _acquire(self) -> tuple[Endpoint, bool]:
        """An endpoint with a free slot (the least busy of those up), or a down one whose backoff is
        over, as its single probe. Returns (endpoint, is_probe)."""
        assert self._cond is not None
        async with self._cond:
            while True:
                now = time.monotonic()
                up = [e for e in self.endpoints if e.failures == 0 and e.busy < e.slots]
                if up:
                    chosen = min(up, key=lambda e: (e.busy / e.slots, e.busy))
                    chosen.busy += 1
                    return chosen, False
                for e in self.endpoints:
                    if e.failures and not e.probing and e.down_until <= now:
                        e.probing = True
                        e.busy += 1
                        return e, True
                waits = [e.down_until - now for e in self.endpoints if e.failures and not e.probing]
                try:
                    await asyncio.wait_for(self._cond.wait(), timeout=max(0.01, min(waits)) if waits else None)
                except asyncio.TimeoutError:
                    pass

    async def _release(self, e: Endpoint, probe: bool, error: _Retryable | None, answered: bool = True) -> None:
        """Free the slot; an answer brings a down endpoint back, a retryable error drops it."""
        assert self._cond is not None
        async with self._cond:
            e.busy -= 1
            if probe:
                e.probing = False
            if not answered:
                pass
            elif error is None:
                if e.failures:
                    log.warning(f"server {e.url} answers again: it rejoins")
                e.failures, e.last_error = 0, None
                e.completed += 1
            elif probe or e.failures == 0:  # the first failure of an outage, or a failed probe: back off further
                e.failures += 1
                e.last_error = str(error)
                wait = error.retry_after if error.retry_after is not None else min(BACKOFF_CAP, self.backoff_start * 2 ** (e.failures - 1))
                e.down_until = time.monotonic() + wait * random.uniform(0.9, 1.1)
                log.warning(f"server {e.url}: {error}; dropped for {wait:.1f}s")
            self._cond.notify_all()

    def _gave_up(self) -> str | None:
        if all(e.failures > self.retries for e in self.endpoints):
            parts = [f"{e.url}: {e.last_error} ({e.failures} failures in a row)" for e in self.endpoints]
            return ("the server failed: " if len(parts) == 1 else "every server failed: ") + "; ".join(parts)
        return None
