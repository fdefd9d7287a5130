"""Fixed-window send budgets: per contact, per tenant, global.

Pure arithmetic here. shared.store spends a budget with an atomic increment on the
window's counter document, after the delivery is claimed, so only a send that really
claimed its delivery spends anything.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime

from shared.config import RateLimits, Window


@dataclass(frozen=True)
class Budget:
    scope: str  # "contact", "tenant" or "global": reported as the reason when exhausted
    path: str  # prefix of the Firestore documents holding each window's counter
    limit: int
    window_seconds: int
    # A budget that is counted but not enforced: critical alerts page the on-call even in a storm.
    enforced: bool = True


def budgets_for(
    limits: RateLimits, tenant_id: str, contact_id: str, channel: str, delivery_key: str, *, critical: bool = False
) -> list[Budget]:
    """The budgets one send spends, each per channel (SMS and email are different providers and different
    annoyances). A critical alert is exempt from the contact and tenant limits (an alarm storm of minor
    alerts must not silence the one that matters) but not from the global one, which protects the
    provider account itself."""
    # One global counter document would take every send in the service; shards trade a little
    # precision (each allows limit/shards) for parallel writes.
    shards = max(limits.global_.shards, 1)
    shard = int(hashlib.sha256(delivery_key.encode()).hexdigest(), 16) % shards
    return [
        _budget("contact", f"tenants/{tenant_id}/rateLimits/contact-{contact_id}.{channel}", limits.per_contact, enforced=not critical),
        _budget("tenant", f"tenants/{tenant_id}/rateLimits/tenant.{channel}", limits.per_tenant, enforced=not critical),
        Budget("global", f"rateLimits/global.{channel}-{shard}", math.ceil(limits.global_.limit / shards), limits.global_.window_seconds),
    ]


def _budget(scope: str, path: str, window: Window, *, enforced: bool) -> Budget:
    return Budget(scope, path, window.limit, window.window_seconds, enforced)


def window_start(budget: Budget, now: datetime) -> int:
    epoch = int(now.timestamp())
    return epoch - epoch % budget.window_seconds
