"""The sweep tick and the dead-letter consumer: nothing is left pending, sending or retrying."""

from __future__ import annotations

import logging
from datetime import timedelta

from shared.logging_setup import log_labels
from shared.models import DeliveryJob, DeliveryStatus
from shared.pipeline.deps import PipelineDeps
from shared.pipeline.delivery import fall_back, load_attempt

logger = logging.getLogger(__name__)
# A retrying delivery whose job is this late has lost its job (publish failed, message dropped).
_LOST_JOB_GRACE_SECONDS = 30


def sweep(deps: PipelineDeps) -> dict[str, int]:
    """Idempotent; safe to run on overlapping ticks. Returns what it did, for the log."""
    now = deps.clock()
    counts = {"leases_expired": 0, "jobs_requeued": 0}
    for delivery in deps.store.stuck_deliveries(DeliveryStatus.SENDING, "leaseExpiresAt", now):
        if deps.store.release_expired_lease(delivery["tenantId"], delivery["alertId"], delivery["deliveryId"], delivery["attempts"]):
            deps.queue.publish_retry(_next_job(delivery, now, "lease_expired"))
            counts["leases_expired"] += 1
    lost_before = now - timedelta(seconds=deps.config.defaults.retry.inline_wait_max_seconds + _LOST_JOB_GRACE_SECONDS)
    for delivery in deps.store.stuck_deliveries(DeliveryStatus.RETRYING, "nextAttemptAt", lost_before):
        # A duplicate of a job still in flight is harmless: only one can claim the attempt.
        deps.queue.publish_retry(_next_job(delivery, now, "requeued"))
        counts["jobs_requeued"] += 1
    if any(counts.values()):
        logger.warning("sweep recovered deliveries", extra={"json_fields": counts})
    return counts


def _next_job(delivery: dict, now, reason: str) -> DeliveryJob:
    return DeliveryJob(
        tenantId=delivery["tenantId"],
        alertId=delivery["alertId"],
        deliveryId=delivery["deliveryId"],
        attempt=int(delivery["attempts"]) + 1,
        notBefore=now,
        reason=reason,
    )


def process_dead_letter(deps: PipelineDeps, job: DeliveryJob, reason: str) -> bool:
    """Ends the job's delivery as failed if it is still open; repeats of the same dead letter change nothing."""
    with log_labels(tenant=job.tenant_id, alert_id=job.alert_id):
        changed = deps.store.fail_if_open(job.tenant_id, job.alert_id, job.delivery_id, f"dead_letter:{reason}")
        if changed:
            logger.error("delivery dead-lettered: %s", reason, extra={"json_fields": {"deliveryId": job.delivery_id}})
            # The contact was not reached on this channel: the fallback is still owed. Nothing is
            # dead-lettered again from here, or a poisoned job would circle forever.
            delivery = deps.store.get_delivery(job.tenant_id, job.alert_id, job.delivery_id)
            attempt = load_attempt(deps, job.tenant_id, job.alert_id, delivery) if delivery else None
            if attempt is not None:
                fall_back(deps, attempt, f"dead_letter:{reason}", dead_letter_when_exhausted=False)
        deps.store.refresh_alert_status(job.tenant_id, job.alert_id)
        return changed
