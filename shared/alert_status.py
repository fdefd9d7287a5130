"""An alert's status, derived from its delivery documents (CONTRACT §2)."""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable

from shared.models import AlertStatus, DeliveryStatus

_IN_FLIGHT = frozenset({DeliveryStatus.PENDING, DeliveryStatus.SENDING, DeliveryStatus.RETRYING})
# Set by people or validation; deliveries finishing later never overwrite them.
STICKY = frozenset({AlertStatus.ACKNOWLEDGED, AlertStatus.INVALID})


def derive(deliveries: Iterable[dict]) -> tuple[AlertStatus, str | None] | None:
    """(status, reason) for an alert with these deliveries; None when there are none yet."""
    by_contact: dict[str, list[dict]] = defaultdict(list)
    for delivery in deliveries:
        by_contact[delivery["contactId"]].append(delivery)
    if not by_contact:
        return None
    outcomes = [_contact_outcome(items) for items in by_contact.values()]
    if "in_flight" in outcomes:
        return AlertStatus.NOTIFYING, None
    if "failed" in outcomes:
        return AlertStatus.FAILED, "unreachable"
    if "reached" in outcomes:
        return AlertStatus.NOTIFIED, None
    reasons = Counter(d.get("errorCode") or "suppressed" for items in by_contact.values() for d in items)
    return AlertStatus.SUPPRESSED, reasons.most_common(1)[0][0]


def _contact_outcome(deliveries: list[dict]) -> str:
    statuses = {DeliveryStatus(d["status"]) for d in deliveries}
    if statuses & {DeliveryStatus.SENT, DeliveryStatus.DELIVERED}:
        return "reached"
    if statuses & _IN_FLIGHT:
        return "in_flight"
    if DeliveryStatus.FAILED in statuses:
        return "failed"
    return "suppressed"
