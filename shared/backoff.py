"""When to try again: exponential backoff with jitter, stretched to honour a provider's Retry-After."""

from __future__ import annotations

import random

from shared.config import RetryPolicy


def retry_delay(policy: RetryPolicy, failed_attempt: int, retry_after: float | None = None, rand: random.Random | None = None) -> float:
    """Seconds to wait after `failed_attempt` (1-based) failed.

    Jitter subtracts up to `jitter` of the delay so that an alarm storm's retries spread
    out instead of hitting the provider again in lockstep.
    """
    rand = rand or random
    base = min(policy.max_backoff_seconds, policy.initial_backoff_seconds * policy.multiplier ** (failed_attempt - 1))
    delay = base * (1 - policy.jitter * rand.random())
    return max(delay, retry_after or 0.0)
