"""Firestore persistence: alert status, delivery claims, budgets, opt-outs.

Concurrency without read-write transactions. Firestore (and, far more so, its
emulator) serializes read-then-write transactions on a hot document: measured on the
emulator, 8 concurrent transactions on one document gave 3 commits in 10 s and 5
failures. So every state change here is one of three lock-free primitives:

- `create()`: only one writer can create a document. This is how a delivery is claimed.
- compare-and-set: read, decide, then `update()` with a last-update-time precondition;
  a lost race re-reads and decides again (see `_compare_and_set`).
- `Increment` with the post-increment value returned by the commit: a fetch-and-add
  for send budgets, so exactly `limit` sends pass however many race for the last slot.

Delivery document ids are deterministic (contact + channel), and the `attempts` field
names the only attempt allowed to record an outcome: a stale job or a second trigger
finds nothing to claim.
"""

from __future__ import annotations

import hashlib
import random
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any, Callable, TypeVar

from google.api_core import exceptions as google_exceptions
from google.cloud import firestore

from shared import alert_status
from shared.models import AlertStatus, Channel, DeliveryStatus
from shared.models import delivery_id as make_delivery_id
from shared.ratelimit import Budget, window_start

Clock = Callable[[], datetime]
T = TypeVar("T")
_CAS_ATTEMPTS = 12
_LOST_RACE = (google_exceptions.FailedPrecondition, google_exceptions.AlreadyExists, google_exceptions.Aborted, google_exceptions.NotFound)
_STICKY = {s.value for s in alert_status.STICKY}


def _decided(alert: dict[str, Any]) -> bool:
    """A sticky status the service itself set. Producers never write statuses (CONTRACT §1); one they
    wrote anyway has no processedAt and is overwritten, not obeyed."""
    return bool(alert.get("processedAt")) and alert.get("status") in _STICKY


def _address_hash(address: str) -> str:
    return hashlib.sha256(address.encode()).hexdigest()[:24]


def _bad_address_code(snapshot, address: str) -> str | None:
    """The error code that condemned this exact address; a mark for an older address doesn't count."""
    data = snapshot.to_dict() if snapshot.exists else None
    return data["errorCode"] if data and data.get("addressHash") == _address_hash(address) else None


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class ContentionError(RuntimeError):
    """A document changed under us more times than is plausible; the caller's invocation is retried."""


class ClaimOutcome(str, Enum):
    CLAIMED = "claimed"
    EXISTS = "exists"  # another invocation got there first
    RATE_LIMITED = "rate_limited"
    OPTED_OUT = "opted_out"
    BAD_ADDRESS = "bad_address"  # the provider said this exact address can never work


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

# What a decide-function returns: (fields to write, or None to write nothing; result for the caller).
Decision = tuple[dict[str, Any] | None, T]


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

    # -- the one concurrency primitive ------------------------------------------------------

    def _compare_and_set(self, ref, decide: Callable[[dict[str, Any] | None], Decision[T]], *, may_create: bool = True) -> T:
        """Runs decide(current) and writes its answer only if the document did not change meanwhile.

        With may_create=False a missing document stays missing (decide sees None and its write is dropped):
        alert documents belong to the producer, and a status must not resurrect a deleted one.
        """
        for attempt in range(_CAS_ATTEMPTS):
            snapshot = ref.get()
            current = snapshot.to_dict() if snapshot.exists else None
            write, result = decide(current)
            if not snapshot.exists and not may_create:
                return result
            if write is None:
                return result
            write = {**write, "updatedAt": firestore.SERVER_TIMESTAMP}
            try:
                if snapshot.exists:
                    ref.update(write, option=self._db.write_option(last_update_time=snapshot.update_time))
                else:
                    ref.create(write)
                return result
            except _LOST_RACE:
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
        raise ContentionError(f"{ref.path}: still contended after {_CAS_ATTEMPTS} attempts")

    # -- alerts -----------------------------------------------------------------------------

    def get_alert(self, tenant_id: str, alert_id: str) -> dict[str, Any] | None:
        snapshot = self.alert_ref(tenant_id, alert_id).get()
        return snapshot.to_dict() if snapshot.exists else None

    def mark_alert(self, tenant_id: str, alert_id: str, status: AlertStatus, reason: str | None, *, only_if_unprocessed: bool = False) -> bool:
        """Sets a status decided without deliveries (invalid, suppressed) unless a sticky one is there.

        only_if_unprocessed: for decisions about an event rather than the alert (a stale redelivery),
        which must not overwrite what an earlier delivery of the same event already decided.
        """

        def decide(current):
            current = current or {}
            if only_if_unprocessed and current.get("processedAt"):
                return None, False
            unchanged = (current.get("status"), current.get("statusReason")) == (status.value, reason)
            if _decided(current) or (unchanged and current.get("processedAt")):
                return None, False
            update = {"status": status.value, "statusReason": reason}
            if not current.get("processedAt"):
                update["processedAt"] = firestore.SERVER_TIMESTAMP
            return update, True

        return self._compare_and_set(self.alert_ref(tenant_id, alert_id), decide, may_create=False)

    def refresh_alert_status(self, tenant_id: str, alert_id: str) -> AlertStatus | None:
        """Re-derives the alert's status from its deliveries.

        The deliveries are read inside decide, after the alert, and the alert is written only
        if it is unchanged since: a refresh working from an older set of deliveries than a
        concurrent one can then never overwrite the newer result.
        """

        def decide(current):
            if current is None:
                return None, None
            if _decided(current):
                return None, AlertStatus(current["status"])
            derived = alert_status.derive(self.deliveries(tenant_id, alert_id))
            if derived is None:
                return None, AlertStatus(current["status"]) if current.get("status") else None
            status, reason = derived
            if (current.get("status"), current.get("statusReason")) == (status.value, reason) and current.get("processedAt"):
                return None, status
            update = {"status": status.value, "statusReason": reason}
            if not current.get("processedAt"):
                update["processedAt"] = firestore.SERVER_TIMESTAMP
            return update, status

        return self._compare_and_set(self.alert_ref(tenant_id, alert_id), decide, may_create=False)

    def note_transition(
        self, tenant_id: str, alert_id: str, fingerprint: str, event_type: str, severity_rank: int, occurred_at: datetime, window_seconds: int
    ) -> bool:
        """True when the same transition of this point was already reported within the dedup window.

        Kept per event type, so a point flapping offnormal → normal → offnormal is caught on its second
        offnormal however many returns to normal come between. A transition more severe than the one last
        reported is never a duplicate (an escalation from major to critical must page whoever only gets
        critical alerts), and the alert that was reported keeps being "not a duplicate" when redelivered.
        """
        key = hashlib.sha256(fingerprint.encode()).hexdigest()[:40]

        def decide(current):
            by_event_type = dict((current or {}).get("byEventType") or {})
            last = by_event_type.get(event_type)
            if last and last["alertId"] == alert_id:
                return None, False  # a redelivery of the alert that was reported
            duplicate = bool(
                last
                and window_seconds > 0
                and severity_rank <= last["severityRank"]
                and abs((occurred_at - last["occurredAt"]).total_seconds()) < window_seconds
            )
            if duplicate:
                # Nothing moves: the window runs from the transition that was reported, so a point flapping
                # forever still gets one alert per window, and a redelivered duplicate is judged the same again.
                return None, True
            by_event_type[event_type] = {"alertId": alert_id, "occurredAt": occurred_at, "severityRank": severity_rank}
            return {"byEventType": by_event_type}, False

        return self._compare_and_set(self._db.document("tenants", tenant_id, "fingerprints", key), decide)

    def acknowledge(self, tenant_id: str, alert_id: str, contact_id: str) -> bool:
        def decide(current):
            if current is None or (current.get("processedAt") and current.get("status") == AlertStatus.ACKNOWLEDGED.value):
                return None, False
            return {
                "processedAt": current.get("processedAt") or firestore.SERVER_TIMESTAMP,
                "status": AlertStatus.ACKNOWLEDGED.value,
                "statusReason": "acknowledged",
                "acknowledgedBy": contact_id,
                "acknowledgedAt": self._now(),
            }, True

        return self._compare_and_set(self.alert_ref(tenant_id, alert_id), decide, may_create=False)

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
        address: str | None = None,
    ) -> Claim:
        """Creates the delivery document as `sending`, then spends the send budgets; says why not otherwise."""
        delivery_id = make_delivery_id(contact_id, channel)
        ref = self.delivery_ref(tenant_id, alert_id, delivery_id)
        opt_out_ref = self._opt_out_ref(tenant_id, contact_id, channel)
        bad_address_ref = self._bad_address_ref(tenant_id, contact_id, channel)
        # One round trip for everything the decision needs.
        snapshots = {s.reference.path: s for s in self._db.get_all([ref, opt_out_ref, bad_address_ref])}
        existing = snapshots[ref.path]
        if existing.exists:  # the common redelivery case
            return Claim(ClaimOutcome.EXISTS, existing.to_dict())
        now = self._now()
        opted_out = honour_opt_out and snapshots[opt_out_ref.path].exists
        bad_address = _bad_address_code(snapshots[bad_address_ref.path], address) if address else None
        data = {
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
        if opted_out:
            data.update({"status": DeliveryStatus.SUPPRESSED.value, "attempts": 0, "errorCode": "opted_out"})
        elif bad_address:
            data.update({"status": DeliveryStatus.SUPPRESSED.value, "attempts": 0, "errorCode": f"bad_address:{bad_address}"})
        else:
            data.update(
                {
                    "status": DeliveryStatus.SENDING.value,
                    "attempts": 1,
                    "errorCode": None,
                    "claimedAt": now,
                    "leaseExpiresAt": now + timedelta(seconds=lease_seconds),
                }
            )
        try:
            ref.create(data)
        except google_exceptions.AlreadyExists:
            return Claim(ClaimOutcome.EXISTS, ref.get().to_dict() or {})
        if opted_out:
            return Claim(ClaimOutcome.OPTED_OUT, data, "opted_out")
        if bad_address:
            return Claim(ClaimOutcome.BAD_ADDRESS, data, "bad_address")
        exhausted = self._spend(budgets, now)
        if exhausted:
            suppressed = {"status": DeliveryStatus.SUPPRESSED.value, "attempts": 0, "errorCode": "rate_limited"}
            ref.update({**suppressed, "updatedAt": firestore.SERVER_TIMESTAMP})
            return Claim(ClaimOutcome.RATE_LIMITED, {**data, **suppressed}, f"rate_limited:{exhausted.scope}")
        return Claim(ClaimOutcome.CLAIMED, data)

    def _spend(self, budgets: list[Budget], now: datetime) -> Budget | None:
        """Takes one send from every budget; on the first one exhausted, gives back what it took."""
        taken = []
        for budget in budgets:
            start = window_start(budget, now)
            ref = self._db.document(f"{budget.path}-{start}")
            result = ref.set(
                {
                    "count": firestore.Increment(1),
                    "windowStart": start,
                    # For a TTL policy in production: spent windows delete themselves.
                    "expiresAt": datetime.fromtimestamp(start + 2 * budget.window_seconds, timezone.utc),
                },
                merge=True,
            )
            taken.append(ref)
            if budget.enforced and result.transform_results[0].integer_value > budget.limit:
                for spent in taken:
                    spent.update({"count": firestore.Increment(-1)})
                return budget
        return None

    def claim_attempt(self, tenant_id: str, alert_id: str, delivery_id: str, attempt: int, lease_seconds: int) -> dict[str, Any] | None:
        """Moves a `retrying` delivery to `sending` for exactly this attempt; None if the job is stale."""

        def decide(data):
            if not data or data.get("status") != DeliveryStatus.RETRYING.value or data.get("attempts") != attempt - 1:
                return None, None
            now = self._now()
            update = {
                "status": DeliveryStatus.SENDING.value,
                "attempts": attempt,
                "claimedAt": now,
                "leaseExpiresAt": now + timedelta(seconds=lease_seconds),
            }
            if data.get("providerMessageId"):
                # Late reports about the earlier message must not settle this attempt.
                update["supersededMessageIds"] = [*data.get("supersededMessageIds", []), data["providerMessageId"]]
                update["providerMessageId"] = None
            return update, {**data, **update}

        return self._compare_and_set(self.delivery_ref(tenant_id, alert_id, delivery_id), decide)

    def record_attempt(self, tenant_id: str, alert_id: str, delivery_id: str, attempt: int, update: dict[str, Any]) -> bool:
        """Writes the outcome of `attempt` if that attempt still owns the delivery; True if its status was written.

        A provider webhook may have settled the delivery while the send call was returning
        (sent, delivered, failed, or `retrying` after an undelivered report): that status and
        its error code stand, and only a missing provider message id is filled in.
        """

        def decide(data):
            if not data or data.get("attempts") != attempt:
                return None, False
            if data["status"] == DeliveryStatus.SENDING.value:
                return dict(update), True
            filled = {key: update[key] for key in ("providerMessageId", "sentAt") if update.get(key) and not data.get(key)}
            return (filled or None), False

        return self._compare_and_set(self.delivery_ref(tenant_id, alert_id, delivery_id), decide)

    def apply_provider_status(
        self,
        tenant_id: str,
        alert_id: str,
        delivery_id: str,
        status: DeliveryStatus,
        fields: dict[str, Any],
        *,
        retry_once_at: datetime | None = None,
    ) -> StatusChange | None:
        """Applies a status a provider webhook reported; None when it would move nothing (late or repeated).

        A failure that merits one more try (retry_once_at) turns into `retrying` the first time only.
        A delivery whose last outcome was unknown (timeout, crash) accepts the report too: it settles it.
        """

        def decide(data):
            if not data:
                return None, None
            if fields.get("providerMessageId") in data.get("supersededMessageIds", []):
                return None, None  # about a message an earlier attempt sent
            current = DeliveryStatus(data["status"])
            settles_unknown = current in (DeliveryStatus.RETRYING, DeliveryStatus.FAILED) and data.get("outcomeUnknown")
            if not (current in (DeliveryStatus.SENDING, DeliveryStatus.SENT) or settles_unknown):
                return None, None
            if not settles_unknown and _RANK[status] <= _RANK[current]:
                return None, None
            written, update = status, dict(fields)
            if status is DeliveryStatus.FAILED and retry_once_at is not None and not data.get("callbackRetried"):
                written = DeliveryStatus.RETRYING
                update.update({"callbackRetried": True, "nextAttemptAt": retry_once_at, "outcomeUnknown": False})
            elif settles_unknown:
                update["outcomeUnknown"] = False
            if written.reached_contact:
                update.setdefault("errorCode", None)
            update["status"] = written.value
            return update, StatusChange(before=data, written=written)

        return self._compare_and_set(self.delivery_ref(tenant_id, alert_id, delivery_id), decide)

    def note_provider_event(self, tenant_id: str, alert_id: str, delivery_id: str, event: str) -> bool:
        """Records provider news that changes no status (e.g. an email deferred by the receiving server)."""

        def decide(data):
            if not data:
                return None, False
            return {"lastProviderEvent": event, "lastProviderEventAt": self._now()}, True

        return self._compare_and_set(self.delivery_ref(tenant_id, alert_id, delivery_id), decide, may_create=False)

    def fail_if_open(self, tenant_id: str, alert_id: str, delivery_id: str, code: str) -> bool:
        """Ends a delivery that is still pending, sending or retrying; final ones are left alone."""

        def decide(data):
            if not data or DeliveryStatus(data["status"]).is_final:
                return None, False
            return {"status": DeliveryStatus.FAILED.value, "errorCode": code}, True

        return self._compare_and_set(self.delivery_ref(tenant_id, alert_id, delivery_id), decide)

    def release_expired_lease(self, tenant_id: str, alert_id: str, delivery_id: str, attempts: int) -> bool:
        """A `sending` delivery whose lease ran out (crash, kill): its outcome is unknown, so it becomes
        `retrying` with outcomeUnknown, and the next attempt looks for the message before resending."""

        def decide(data):
            if not data or data.get("status") != DeliveryStatus.SENDING.value or data.get("attempts") != attempts:
                return None, False
            if data["leaseExpiresAt"] > self._now():
                return None, False
            return {
                "status": DeliveryStatus.RETRYING.value,
                "outcomeUnknown": True,
                "errorCode": "lease_expired",
                "nextAttemptAt": self._now(),
            }, True

        return self._compare_and_set(self.delivery_ref(tenant_id, alert_id, delivery_id), decide)

    def get_delivery(self, tenant_id: str, alert_id: str, delivery_id: str) -> dict[str, Any] | None:
        snapshot = self.delivery_ref(tenant_id, alert_id, delivery_id).get()
        return snapshot.to_dict() if snapshot.exists else None

    def deliveries(self, tenant_id: str, alert_id: str) -> list[dict[str, Any]]:
        return [d.to_dict() for d in self.alert_ref(tenant_id, alert_id).collection("deliveries").stream()]

    # -- contacts ---------------------------------------------------------------------------

    def set_opt_out(self, tenant_id: str, contact_id: str, channel: Channel, opted_out: bool) -> None:
        ref = self._opt_out_ref(tenant_id, contact_id, channel)
        if opted_out:
            ref.set({"contactId": contact_id, "channel": channel.value, "optedOutAt": firestore.SERVER_TIMESTAMP})
        else:
            ref.delete()

    def _bad_address_ref(self, tenant_id: str, contact_id: str, channel: Channel):
        return self._db.document("tenants", tenant_id, "badAddresses", f"{contact_id}.{channel.value}")

    def mark_bad_address(self, tenant_id: str, contact_id: str, channel: Channel, address: str, code: str) -> None:
        """Remembers that the provider rejected this address for good; keyed by the address's hash so that
        correcting the number in the configuration lifts the mark without anyone deleting it."""
        self._bad_address_ref(tenant_id, contact_id, channel).set(
            {"addressHash": _address_hash(address), "errorCode": code, "markedAt": firestore.SERVER_TIMESTAMP}
        )

    def remember_references(self, tenant_id: str, alert_id: str, contact_id: str, *, ack: str, link: str) -> None:
        """What a message's ACK code and link point at. Deterministic ids make a resend rewrite the same documents."""
        batch = self._db.batch()
        batch.set(self._db.document("tenants", tenant_id, "ackCodes", ack), {"alertId": alert_id, "contactId": contact_id, "createdAt": self._now()})
        batch.set(self._db.document("links", link), {"tenantId": tenant_id, "alertId": alert_id, "createdAt": self._now()})
        batch.commit()

    def find_ack_code(self, tenant_id: str, code: str) -> dict[str, Any] | None:
        snapshot = self._db.document("tenants", tenant_id, "ackCodes", code).get()
        return snapshot.to_dict() if snapshot.exists else None

    def stuck_deliveries(self, status: DeliveryStatus, field: str, before: datetime, limit: int = 200) -> list[dict[str, Any]]:
        query = (
            self._db.collection_group("deliveries")
            .where(filter=firestore.FieldFilter("status", "==", status.value))
            .where(filter=firestore.FieldFilter(field, "<", before))
            .limit(limit)
        )
        return [d.to_dict() for d in query.stream()]
