"""Delivery reports from provider webhooks: record → (retry once | fall back) → alert status."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from shared.backoff import retry_delay
from shared.errors import Failure
from shared.logging_setup import log_labels
from shared.models import DeliveryStatus
from shared.pipeline.deps import PipelineDeps
from shared.pipeline.delivery import fall_back, load_attempt
from shared.providers.error_table import TWILIO_CALLBACK_RETRY_ONCE, twilio_failure

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryReport:
    tenant_id: str
    alert_id: str
    delivery_id: str
    status: DeliveryStatus | None  # SENT, DELIVERED or FAILED; None for news that moves nothing (SendGrid "deferred")
    provider: str
    provider_message_id: str | None = None
    error_code: str | None = None
    provider_event: str | None = None


def process_delivery_report(deps: PipelineDeps, report: DeliveryReport) -> bool:
    """True when the report changed the delivery. Late, repeated or downgrading reports change nothing."""
    with log_labels(tenant=report.tenant_id, alert_id=report.alert_id):
        if report.status is None:
            # The provider is still trying (a receiving server deferred it): worth showing, not a state change.
            noted = deps.store.note_provider_event(report.tenant_id, report.alert_id, report.delivery_id, report.provider_event or "")
            logger.info("delivery report: %s", report.provider_event, extra={"json_fields": {"deliveryId": report.delivery_id}})
            return noted
        failure = _failure(report)
        retry_once_at = None
        if failure is Failure.TRANSIENT:
            retry_once_at = deps.clock() + timedelta(seconds=retry_delay(deps.config.defaults.retry, 1))
        fields = {"errorCode": report.error_code} if report.error_code else {}
        if report.provider_message_id:
            fields["providerMessageId"] = report.provider_message_id
        change = deps.store.apply_provider_status(
            report.tenant_id, report.alert_id, report.delivery_id, report.status, fields, retry_once_at=retry_once_at
        )
        if change is None:
            logger.info("delivery report changed nothing (late or repeated)", extra={"json_fields": {"deliveryId": report.delivery_id}})
            return False
        logger.info("delivery report: %s", change.written.value, extra={"json_fields": {"deliveryId": report.delivery_id, "errorCode": report.error_code}})
        if change.written is DeliveryStatus.RETRYING:
            attempt = load_attempt(deps, report.tenant_id, report.alert_id, change.before)
            if attempt is not None:
                deps.queue.publish_retry(attempt.job(attempt.number + 1, retry_once_at, "provider_report"))
        elif change.written is DeliveryStatus.FAILED:
            _after_failure(deps, report, change.before, failure)
        deps.store.refresh_alert_status(report.tenant_id, report.alert_id)
        return True


def _failure(report: DeliveryReport) -> Failure | None:
    if report.status is not DeliveryStatus.FAILED:
        return None
    if report.provider == "twilio" and report.error_code and report.error_code.isdigit():
        code = int(report.error_code)
        if code in TWILIO_CALLBACK_RETRY_ONCE:
            return Failure.TRANSIENT
        return twilio_failure(400, code)
    return Failure.PERMANENT


def _after_failure(deps: PipelineDeps, report: DeliveryReport, before: dict, failure: Failure | None) -> None:
    attempt = load_attempt(deps, report.tenant_id, report.alert_id, before)
    if attempt is None:
        return
    if failure is Failure.OPTED_OUT:
        deps.store.set_opt_out(report.tenant_id, attempt.contact.id, attempt.channel, True)
        if not attempt.tenant.email_when_sms_opted_out:
            return
    fall_back(deps, attempt, (failure or Failure.PERMANENT).value)
