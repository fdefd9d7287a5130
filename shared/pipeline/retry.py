"""A job from the alert-retry topic: due? → claim attempt → reconcile → send → record → retry/fallback."""

from __future__ import annotations

import logging
from dataclasses import replace

from shared.errors import NotYetDue, ProviderError
from shared.links import ack_code
from shared.logging_setup import log_labels
from shared.models import Channel, DeliveryJob, DeliveryStatus
from shared.pipeline.deps import PipelineDeps
from shared.pipeline.delivery import Attempt, attempt_delivery, fall_back, handle_failure, load_attempt, record_failed, record_sent
from shared.providers.base import SendReceipt

logger = logging.getLogger(__name__)


def process_retry_job(deps: PipelineDeps, job: DeliveryJob) -> None:
    """Safe under redelivery: only the job whose attempt number is next can claim the delivery."""
    with log_labels(tenant=job.tenant_id, alert_id=job.alert_id):
        wait_until_due(deps, job)
        store = deps.store
        claimed = store.claim_attempt(job.tenant_id, job.alert_id, job.delivery_id, job.attempt, deps.config.defaults.sending_lease_seconds)
        if claimed is None:
            logger.info("retry job is stale or a redelivery; nothing to do", extra={"json_fields": {"deliveryId": job.delivery_id, "attempt": job.attempt}})
            return
        attempt = _rebuild_attempt(deps, job, claimed)
        if attempt is None:
            return
        unknown = bool(claimed.get("outcomeUnknown"))
        if _expired(deps, claimed):
            logger.warning("delivery older than the maximum event age; giving up", extra={"json_fields": {"deliveryId": job.delivery_id}})
            record_failed(deps, attempt, "expired")
        elif unknown and _reconciled(deps, attempt, claimed):
            pass
        elif unknown and attempt.number > deps.config.defaults.retry.max_attempts:
            # The last allowed send timed out or crashed and the provider has no trace of it: no more sends here.
            record_failed(deps, attempt, "exhausted")
            fall_back(deps, attempt, "exhausted")
        else:
            attempt_delivery(deps, attempt)
        store.refresh_alert_status(job.tenant_id, job.alert_id)


def wait_until_due(deps: PipelineDeps, job: DeliveryJob) -> None:
    wait = (job.not_before - deps.clock()).total_seconds()
    if wait <= 0:
        return
    if wait > deps.config.defaults.retry.inline_wait_max_seconds:
        raise NotYetDue(wait)
    deps.sleep(wait)


def _rebuild_attempt(deps: PipelineDeps, job: DeliveryJob, delivery: dict) -> Attempt | None:
    attempt = load_attempt(deps, job.tenant_id, job.alert_id, delivery)
    if attempt is None:
        # The configuration changed under the job (contact or tenant removed): nobody left to send to.
        deps.store.record_attempt(
            job.tenant_id, job.alert_id, job.delivery_id, job.attempt, {"status": DeliveryStatus.FAILED.value, "errorCode": "contact_removed"}
        )
        deps.store.refresh_alert_status(job.tenant_id, job.alert_id)
    return attempt


def _expired(deps: PipelineDeps, delivery: dict) -> bool:
    created = delivery.get("createdAt")
    return bool(created) and (deps.clock() - created).total_seconds() > deps.config.defaults.retry.max_event_age_seconds


def _reconciled(deps: PipelineDeps, attempt: Attempt, delivery: dict) -> bool:
    """An earlier try timed out or crashed after sending: find that message before sending another."""
    if attempt.channel is not Channel.SMS:
        # SendGrid offers no lookup of a single send; its event webhook settles most of these,
        # and what remains is resent once (marked `resent`).
        return False
    marker = ack_code(deps.link_key, attempt.alert.tenant_id, attempt.alert.alert_id, attempt.contact.id)
    try:
        found = deps.sms.find_sent(attempt.contact.phone, delivery["createdAt"], marker)
    except ProviderError as error:
        handle_failure(deps, attempt, error)  # the lookup itself failed: same retry rules as a send
        return True
    if not found:
        return False
    logger.info("earlier send found at the provider; not resending", extra={"json_fields": {"deliveryId": attempt.delivery_id}})
    record_sent(deps, replace(attempt, resend_of_unknown=False), SendReceipt(found))
    return True
