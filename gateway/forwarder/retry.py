"""When to try an upstream request again, and how long to wait first."""

from __future__ import annotations

import random
from dataclasses import dataclass

IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})
RETRYABLE_STATUSES = frozenset({502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """`retries` more attempts after the first, exponential backoff with equal jitter."""

    retries: int = 2
    backoff: float = 0.05
    backoff_max: float = 2.0

    def delay(self, attempt: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry number `attempt` (1-based): half fixed, half random (the `random`
        module's own generator unless `rng` is given: it is reseeded in each forked worker)."""
        ceiling = min(self.backoff_max, self.backoff * (2 ** (attempt - 1)))
        return ceiling / 2 + (rng or random).uniform(0, ceiling / 2)


def may_retry(method: str, marked_idempotent: bool) -> bool:
    """Only requests that are safe to send twice: idempotent methods, or operations marked so."""
    return method.upper() in IDEMPOTENT_METHODS or marked_idempotent
