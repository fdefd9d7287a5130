"""Firestore persistence: alert status, delivery claims, budgets, opt-outs.

Every state change that guards a send happens in a transaction, so concurrent or
repeated invocations agree on who sends. A delivery document's id is deterministic
(contact + channel), and its `attempts` counter names the only attempt allowed to
record an outcome; a stale job or a second trigger finds nothing to claim.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Callable

from google.cloud import firestore

from shared import alert_status
from shared.models import AlertStatus, Channel, DeliveryStatus
from shared.ratelimit import Budget, next_count, window_start

Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ClaimOutcome(str, Enum):
    CLAIMED = "claimed"
    EXISTS = "exists"  # another invocation got there first
    RATE_LIMITED = "rate_limited"
    OPTED_OUT = "opted_out"


@dataclass(frozen=True)
class Claim:
    outcome: ClaimOutcome
    delivery: dict[str, Any]
    reason: str | None = None

    @property
    def claimed(self) -> bool:
        return self.outcome is ClaimOutcome.CLAIMED


@dataclass(frozen=True)
class StatusChange:
    before: dict[str, Any]
    written: DeliveryStatus


# A status never moves to a lower rank: a late "sent" callback must not overwrite "delivered".
_RANK = {
    DeliveryStatus.PENDING: 0,
    DeliveryStatus.SENDING: 1,
    DeliveryStatus.RETRYING: 1,
    DeliveryStatus.SENT: 2,
    DeliveryStatus.DELIVERED: 3,
    DeliveryStatus.FAILED: 3,
    DeliveryStatus.SUPPRESSED: 3,
}


class AlertStore:
    def __init__(self, db: firestore.Client, clock: Clock = utcnow):
        self._db = db
        self._now = clock

    # -- references -------------------------------------------------------------------------

    def alert_ref(self, tenant_id: str, alert_id: str):
        return self._db.document("tenants", tenant_id, "alerts", alert_id)

    def delivery_ref(self, tenant_id: str, alert_id: str, delivery_id: str):
        return self.alert_ref(tenant_id, alert_id).collection("deliveries").document(delivery_id)

    def _opt_out_ref(self, tenant_id: str, contact_id: str, channel: Channel):
        return self._db.document("tenants", tenant_id, "optOuts", f"{contact_id}.{channel.value}")

    # -- alerts -----------------------------------------------------------------------------

    def get_alert(self, tenant_id: str, alert_id: str) -> dict[str, Any] | None:
        snapshot = self.alert_ref(tenant_id, alert_id).get()
        return snapshot.to_dict() if snapshot.exists else None

    def mark_alert(self, tenant_id: str, alert_id: str, status: AlertStatus, reason: str | None) -> bool:
        """Sets a terminal-by-decision status (invalid, suppressed) unless a sticky one is there."""
        ref = self.alert_ref(tenant_id, alert_id)

        @firestore.transactional
        def run(transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            current = (snapshot.to_dict() or {}).get("status") if snapshot.exists else None
            if current in {s.value for s in alert_status.STICKY}:
                return False
            update = {"status": status.value, "statusReason": reason, "updatedAt": firestore.SERVER_TIMESTAMP}
            if not (snapshot.to_dict() or {}).get("processedAt"):
                update["processedAt"] = firestore.SERVER_TIMESTAMP
            transaction.set(ref, update, merge=True)
            return True

        return run(self._db.transaction())

    def refresh_alert_status(self, tenant_id: str, alert_id: str) -> AlertStatus | None:
        """Re-derives the alert's status from its deliveries, inside one transaction."""
        ref = self.alert_ref(tenant_id, alert_id)

        @firestore.transactional
        def run(transaction) -> AlertStatus | None:
            snapshot = ref.get(transaction=transaction)
            current = (snapshot.to_dict() or {}) if snapshot.exists else {}
            deliveries = [d.to_dict() for d in ref.collection("deliveries").stream(transaction=transaction)]
            if current.get("status") in {s.value for s in alert_status.STICKY}:
                return AlertStatus(current["status"])
            derived = alert_status.derive(deliveries)
            if derived is None:
                return AlertStatus(current["status"]) if current.get("status") else None
            status, reason = derived
            if current.get("status") != status.value or current.get("statusReason") != reason:
                update = {"status": status.value, "statusReason": reason, "updatedAt": firestore.SERVER_TIMESTAMP}
                if not current.get("processedAt"):
                    update["processedAt"] = firestore.SERVER_TIMESTAMP
                transaction.set(ref, update, merge=True)
            return status

        return run(self._db.transaction())

    def note_transition(self, tenant_id: str, alert_id: str, fingerprint: str, event_type: str, occurred_at: datetime, window_seconds: int) -> bool:
        """True when the same condition was already reported within the dedup window (a flapping point)."""
        key = hashlib.sha256(fingerprint.encode()).hexdigest()[:40]
        ref = self._db.document("tenants", tenant_id, "fingerprints", key)

        @firestore.transactional
        def run(transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            last = snapshot.to_dict() if snapshot.exists else None
            if last and last.get("lastAlertId") == alert_id:
                return bool(last.get("lastWasDuplicate"))  # a redelivery: same answer as the first time
            duplicate = bool(
                last
                and window_seconds > 0
                and last.get("lastEventType") == event_type
                and abs((occurred_at - last["lastOccurredAt"]).total_seconds()) < window_seconds
            )
            transaction.set(
                ref,
                {
                    "lastAlertId": alert_id,
                    "lastEventType": event_type,
                    # A duplicate doesn't move the window: a point flapping forever still gets one alert a window.
                    "lastOccurredAt": last["lastOccurredAt"] if duplicate else occurred_at,
                    "lastWasDuplicate": duplicate,
                    "updatedAt": firestore.SERVER_TIMESTAMP,
                },
            )
            return duplicate

        return run(self._db.transaction())

    def acknowledge(self, tenant_id: str, alert_id: str, contact_id: str) -> bool:
        ref = self.alert_ref(tenant_id, alert_id)

        @firestore.transactional
        def run(transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            if not snapshot.exists or (snapshot.to_dict() or {}).get("status") == AlertStatus.ACKNOWLEDGED.value:
                return False
            transaction.update(
                ref,
                {
                    "status": AlertStatus.ACKNOWLEDGED.value,
                    "statusReason": "acknowledged",
                    "acknowledgedBy": contact_id,
                    "acknowledgedAt": self._now(),
                    "updatedAt": firestore.SERVER_TIMESTAMP,
                },
            )
            return True

        return run(self._db.transaction())

    # -- deliveries -------------------------------------------------------------------------

    def claim_new_delivery(
        self,
        tenant_id: str,
        alert_id: str,
        contact_id: str,
        channel: Channel,
        *,
        lease_seconds: int,
        budgets: list[Budget] = (),
        fallback_of: str | None = None,
        honour_opt_out: bool = True,
    ) -> Claim:
        """Creates the delivery document as `sending`, or says why not, in one transaction."""
        delivery_id = f"{contact_id}.{channel.value}"
        ref = self.delivery_ref(tenant_id, alert_id, delivery_id)
        opt_out_ref = self._opt_out_ref(tenant_id, contact_id, channel)
        budget_refs = [self._db.document(budget.path) for budget in budgets]

        @firestore.transactional
        def run(transaction) -> Claim:
            snapshots = {s.reference.path: s for s in self._db.get_all([ref, opt_out_ref, *budget_refs], transaction=transaction)}
            existing = snapshots[ref.path]
            if existing.exists:
                return Claim(ClaimOutcome.EXISTS, existing.to_dict())
            now = self._now()
            base = {
                "tenantId": tenant_id,
                "alertId": alert_id,
                "deliveryId": delivery_id,
                "contactId": contact_id,
                "channel": channel.value,
                "fallbackOf": fallback_of,
                "providerMessageId": None,
                "createdAt": now,
                "updatedAt": firestore.SERVER_TIMESTAMP,
            }
            if honour_opt_out and snapshots[opt_out_ref.path].exists:
                data = {**base, "status": DeliveryStatus.SUPPRESSED.value, "attempts": 0, "errorCode": "opted_out"}
                transaction.create(ref, data)
                return Claim(ClaimOutcome.OPTED_OUT, data, "opted_out")
            counts = []
            for budget, budget_ref in zip(budgets, budget_refs):
                stored = snapshots[budget_ref.path]
                count = next_count(budget, stored.to_dict() if stored.exists else None, now)
                if count is None:
                    data = {**base, "status": DeliveryStatus.SUPPRESSED.value, "attempts": 0, "errorCode": "rate_limited"}
                    transaction.create(ref, data)
                    return Claim(ClaimOutcome.RATE_LIMITED, data, f"rate_limited:{budget.scope}")
                counts.append((budget_ref, {"windowStart": window_start(budget, now), "count": count}))
            for budget_ref, value in counts:
                transaction.set(budget_ref, value)
            data = {
                **base,
                "status": DeliveryStatus.SENDING.value,
                "attempts": 1,
                "errorCode": None,
                "claimedAt": now,
                "leaseExpiresAt": now + timedelta(seconds=lease_seconds),
            }
            transaction.create(ref, data)
            return Claim(ClaimOutcome.CLAIMED, data)

        return run(self._db.transaction())

    def claim_attempt(self, tenant_id: str, alert_id: str, delivery_id: str, attempt: int, lease_seconds: int) -> dict[str, Any] | None:
        """Moves a `retrying` delivery to `sending` for exactly this attempt; None if the job is stale."""
        ref = self.delivery_ref(tenant_id, alert_id, delivery_id)

        @firestore.transactional
        def run(transaction) -> dict[str, Any] | None:
            snapshot = ref.get(transaction=transaction)
            data = snapshot.to_dict() if snapshot.exists else None
            if not data or data.get("status") != DeliveryStatus.RETRYING.value or data.get("attempts") != attempt - 1:
                return None
            now = self._now()
            update = {
                "status": DeliveryStatus.SENDING.value,
                "attempts": attempt,
                "claimedAt": now,
                "leaseExpiresAt": now + timedelta(seconds=lease_seconds),
                "updatedAt": firestore.SERVER_TIMESTAMP,
            }
            transaction.update(ref, update)
            return {**data, **update}

        return run(self._db.transaction())

    def record_attempt(self, tenant_id: str, alert_id: str, delivery_id: str, attempt: int, update: dict[str, Any]) -> bool:
        """Writes the outcome of `attempt` if that attempt still owns the delivery.

        A status callback may already have moved it further (sent → delivered): the rank
        check keeps the higher status while still recording the provider message id.
        """
        ref = self.delivery_ref(tenant_id, alert_id, delivery_id)

        @firestore.transactional
        def run(transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            data = snapshot.to_dict() if snapshot.exists else None
            if not data or data.get("attempts") != attempt:
                return False
            current = DeliveryStatus(data["status"])
            wanted = DeliveryStatus(update["status"])
            changes = {**update, "updatedAt": firestore.SERVER_TIMESTAMP}
            if current is not DeliveryStatus.SENDING and _RANK[current] > _RANK[wanted]:
                changes.pop("status")
            transaction.update(ref, changes)
            return True

        return run(self._db.transaction())

    def apply_provider_status(
        self,
        tenant_id: str,
        alert_id: str,
        delivery_id: str,
        status: DeliveryStatus,
        fields: dict[str, Any],
        *,
        retry_once_at: datetime | None = None,
    ) -> "StatusChange | None":
        """Applies a status a provider webhook reported; None when it would move nothing (late or repeated).

        A failure that merits one more try (retry_once_at) turns into `retrying` the first time only.
        A delivery whose last outcome was unknown (timeout, crash) accepts the report too: it settles it.
        """
        ref = self.delivery_ref(tenant_id, alert_id, delivery_id)

        @firestore.transactional
        def run(transaction) -> StatusChange | None:
            snapshot = ref.get(transaction=transaction)
            data = snapshot.to_dict() if snapshot.exists else None
            if not data:
                return None
            current = DeliveryStatus(data["status"])
            settles_unknown = current is DeliveryStatus.RETRYING and data.get("outcomeUnknown")
            if not (current in (DeliveryStatus.SENDING, DeliveryStatus.SENT) or settles_unknown):
                return None
            if not settles_unknown and _RANK[status] <= _RANK[current]:
                return None
            written = status
            update = {**fields, "updatedAt": firestore.SERVER_TIMESTAMP}
            if status is DeliveryStatus.FAILED and retry_once_at is not None and not data.get("callbackRetried"):
                written = DeliveryStatus.RETRYING
                update.update({"callbackRetried": True, "nextAttemptAt": retry_once_at, "outcomeUnknown": False})
            elif settles_unknown:
                update["outcomeUnknown"] = False
            update["status"] = written.value
            transaction.update(ref, update)
            return StatusChange(before=data, written=written)

        return run(self._db.transaction())

    def fail_if_open(self, tenant_id: str, alert_id: str, delivery_id: str, code: str) -> bool:
        """Ends a delivery that is still pending, sending or retrying; final ones are left alone."""
        ref = self.delivery_ref(tenant_id, alert_id, delivery_id)

        @firestore.transactional
        def run(transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            data = snapshot.to_dict() if snapshot.exists else None
            if not data or DeliveryStatus(data["status"]).is_final:
                return False
            transaction.update(ref, {"status": DeliveryStatus.FAILED.value, "errorCode": code, "updatedAt": firestore.SERVER_TIMESTAMP})
            return True

        return run(self._db.transaction())

    def release_expired_lease(self, tenant_id: str, alert_id: str, delivery_id: str, attempts: int) -> bool:
        """A `sending` delivery whose lease ran out (crash, kill): its outcome is unknown, so it becomes
        `retrying` with outcomeUnknown, and the next attempt looks for the message before resending."""
        ref = self.delivery_ref(tenant_id, alert_id, delivery_id)

        @firestore.transactional
        def run(transaction) -> bool:
            snapshot = ref.get(transaction=transaction)
            data = snapshot.to_dict() if snapshot.exists else None
            if (
                not data
                or data.get("status") != DeliveryStatus.SENDING.value
                or data.get("attempts") != attempts
                or data["leaseExpiresAt"] > self._now()
            ):
                return False
            transaction.update(
                ref,
                {
                    "status": DeliveryStatus.RETRYING.value,
                    "outcomeUnknown": True,
                    "errorCode": "lease_expired",
                    "nextAttemptAt": self._now(),
                    "updatedAt": firestore.SERVER_TIMESTAMP,
                },
            )
            return True

        return run(self._db.transaction())

    def deliveries(self, tenant_id: str, alert_id: str) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.alert_ref(tenant_id, alert_id).collection("deliveries").stream()]

    # -- contacts ---------------------------------------------------------------------------

    def set_opt_out(self, tenant_id: str, contact_id: str, channel: Channel, opted_out: bool) -> None:
        ref = self._opt_out_ref(tenant_id, contact_id, channel)
        if opted_out:
            ref.set({"contactId": contact_id, "channel": channel.value, "optedOutAt": firestore.SERVER_TIMESTAMP})
        else:
            ref.delete()

    def is_opted_out(self, tenant_id: str, contact_id: str, channel: Channel) -> bool:
        return self._opt_out_ref(tenant_id, contact_id, channel).get().exists

    def remember_ack_code(self, tenant_id: str, code: str, alert_id: str, contact_id: str) -> None:
        self._db.document("tenants", tenant_id, "ackCodes", code).set({"alertId": alert_id, "contactId": contact_id, "createdAt": self._now()})

    def find_ack_code(self, tenant_id: str, code: str) -> dict[str, Any] | None:
        snapshot = self._db.document("tenants", tenant_id, "ackCodes", code).get()
        return snapshot.to_dict() if snapshot.exists else None

    # -- sweeping ---------------------------------------------------------------------------

    def stuck_deliveries(self, status: DeliveryStatus, field: str, before: datetime, limit: int = 200) -> list[dict[str, Any]]:
        query = (
            self._db.collection_group("deliveries")
            .where(filter=firestore.FieldFilter("status", "==", status.value))
            .where(filter=firestore.FieldFilter(field, "<", before))
            .limit(limit)
        )
        return [d.to_dict() for d in query.stream()]
