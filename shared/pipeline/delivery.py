"""Per-contact stages: rate-limit+claim → render → send → record → retry/fallback."""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from datetime import timedelta
from urllib.parse import urlencode

from shared.backoff import retry_delay
from shared.config import Contact, Tenant
from shared.errors import Failure, InvalidAlert, ProviderError, ProviderOutcome
from shared.links import ack_code, link_id, link_url, sign_link_token
from shared.models import Alert, Channel, DeliveryJob, DeliveryStatus, Severity, delivery_id
from shared.pipeline.deps import PipelineDeps
from shared.providers.base import OutgoingEmail, OutgoingSms, SendReceipt
from shared.ratelimit import Budget, budgets_for
from shared.render import render_email, render_sms
from shared.providers.error_table import PERMANENTLY_BAD_ADDRESS_CODES
from shared.routing import Target
from shared.store import ClaimOutcome
from shared.validation import validate_alert

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One try at one delivery document: the unit the send/record/retry stages work on."""

    alert: Alert
    tenant: Tenant
    contact: Contact
    channel: Channel
    number: int
    fallback_of: str | None = None
    resend_of_unknown: bool = False

    @property
    def delivery_id(self) -> str:
        return delivery_id(self.contact.id, self.channel)

    def job(self, attempt: int, not_before, reason: str) -> DeliveryJob:
        return DeliveryJob(
            tenantId=self.alert.tenant_id,
            alertId=self.alert.alert_id,
            deliveryId=self.delivery_id,
            attempt=attempt,
            notBefore=not_before,
            reason=reason,
        )


def load_attempt(deps: PipelineDeps, tenant_id: str, alert_id: str, delivery: dict) -> Attempt | None:
    """The attempt a delivery document stands for, rebuilt from the stored alert and today's configuration."""
    tenant = deps.config.tenants.get(tenant_id)
    contact = tenant.contact(delivery["contactId"]) if tenant else None
    if contact is None:
        return None
    try:
        alert = validate_alert(tenant_id, alert_id, deps.store.get_alert(tenant_id, alert_id) or {}, deps.config)
    except InvalidAlert:
        return None
    return Attempt(
        alert,
        tenant,
        contact,
        Channel(delivery["channel"]),
        number=int(delivery.get("attempts") or 1),
        fallback_of=delivery.get("fallbackOf"),
        resend_of_unknown=bool(delivery.get("outcomeUnknown")),
    )


def start_delivery(deps: PipelineDeps, alert: Alert, tenant: Tenant, target: Target) -> None:
    """Stage: rate-limit + claim. Only the invocation that creates the delivery document sends."""
    claim = deps.store.claim_new_delivery(
        alert.tenant_id,
        alert.alert_id,
        target.contact.id,
        target.channel,
        lease_seconds=deps.config.defaults.sending_lease_seconds,
        budgets=_budgets(deps, alert, target.contact.id, target.channel),
        address=target.contact.address(target.channel),
    )
    attempt = Attempt(alert, tenant, target.contact, target.channel, number=1)
    fields = {"contactId": target.contact.id, "deliveryId": attempt.delivery_id}
    if claim.outcome is ClaimOutcome.CLAIMED:
        attempt_delivery(deps, attempt)
    elif claim.outcome is ClaimOutcome.EXISTS:
        logger.info("delivery already claimed; redelivered event", extra={"json_fields": fields})
    elif claim.outcome is ClaimOutcome.OPTED_OUT:
        logger.info("contact opted out of %s", target.channel.value, extra={"json_fields": fields})
        if tenant.email_when_sms_opted_out:
            fall_back(deps, attempt, "opted_out")
    elif claim.outcome is ClaimOutcome.BAD_ADDRESS:
        logger.info("address known to be unreachable; going straight to the fallback", extra={"json_fields": fields})
        fall_back(deps, attempt, "bad_address")
    else:
        logger.warning("delivery suppressed: %s", claim.reason, extra={"json_fields": fields})


def attempt_delivery(deps: PipelineDeps, attempt: Attempt) -> None:
    """Stages: render → send → record, then retry/fallback on failure."""
    try:
        if deps.breaker.is_open(attempt.channel.value):
            raise ProviderError(attempt.channel.value, ProviderOutcome(Failure.CONFIG, "breaker_open"), "channel paused after a config error")
        receipt = send(deps, attempt)
    except ProviderError as error:
        handle_failure(deps, attempt, error)
        return
    record_sent(deps, attempt, receipt)


def send(deps: PipelineDeps, attempt: Attempt) -> SendReceipt:
    alert, settings = attempt.alert, deps.settings
    code = ack_code(deps.link_key, alert.tenant_id, alert.alert_id, attempt.contact.id)
    details = link_id(deps.link_key, alert.tenant_id, alert.alert_id)
    token = sign_link_token(deps.link_key, details, deps.clock(), deps.config.defaults.links.ttl_seconds)
    link = link_url(deps.config.defaults.links.base_url, token)
    deps.store.remember_references(alert.tenant_id, alert.alert_id, attempt.contact.id, ack=code, link=details)
    if attempt.channel is Channel.SMS:
        query = urlencode({"t": alert.tenant_id, "a": alert.alert_id, "d": attempt.delivery_id})
        message = OutgoingSms(
            to=attempt.contact.phone,
            body=render_sms(deps.config.defaults.templates.sms, alert, link, code),
            status_callback_url=f"{settings.public_url('twilio_status')}?{query}",
        )
        return deps.sms.send_sms(message)
    rendered = render_email(deps.config.defaults.templates, alert, link, code)
    correlation = {"tenantId": alert.tenant_id, "alertId": alert.alert_id, "deliveryId": attempt.delivery_id}
    return deps.email.send_email(OutgoingEmail(attempt.contact.email, rendered.subject, rendered.body, correlation))


def record_sent(deps: PipelineDeps, attempt: Attempt, receipt: SendReceipt) -> None:
    update = {
        "status": DeliveryStatus.SENT.value,
        "providerMessageId": receipt.provider_message_id,
        "errorCode": None,
        "sentAt": deps.clock(),
        "outcomeUnknown": False,
    }
    if attempt.resend_of_unknown:
        update["resent"] = True
    deps.store.record_attempt(attempt.alert.tenant_id, attempt.alert.alert_id, attempt.delivery_id, attempt.number, update)
    logger.info("%s sent", attempt.channel.value, extra={"json_fields": {"deliveryId": attempt.delivery_id, "attempt": attempt.number}})


def handle_failure(deps: PipelineDeps, attempt: Attempt, error: ProviderError) -> None:
    """Stage: retry/fallback. One behaviour per Failure class (see shared.errors.Failure)."""
    failure, code = error.failure, error.outcome.code
    fields = {"deliveryId": attempt.delivery_id, "attempt": attempt.number, "failure": failure.value, "errorCode": code}
    if failure is Failure.AMBIGUOUS and attempt.resend_of_unknown and attempt.channel is not Channel.SMS:
        # No lookup exists for this channel and it was already resent once after an unknown outcome:
        # a third copy is worse than silence. Its event webhook can still settle it as sent or delivered.
        logger.error("%s outcome unknown again after one resend; not sending again", attempt.channel.value, extra={"json_fields": fields})
        deps.store.record_attempt(
            attempt.alert.tenant_id, attempt.alert.alert_id, attempt.delivery_id, attempt.number,
            {"status": DeliveryStatus.FAILED.value, "errorCode": "unconfirmed", "outcomeUnknown": True, "resent": True},
        )
        return
    max_attempts = deps.config.defaults.retry.max_attempts
    # Even the last allowed SMS is looked up at Twilio when its outcome is unknown, before any fallback:
    # one extra, lookup-only turn (shared.pipeline.retry), never a send.
    lookup_last = failure is Failure.AMBIGUOUS and attempt.channel is Channel.SMS and attempt.number == max_attempts
    if failure.retryable and (attempt.number < max_attempts or lookup_last):
        logger.warning("%s attempt failed; will retry: %s", attempt.channel.value, error, extra={"json_fields": fields})
        schedule_retry(deps, attempt, error)
        return
    if failure is Failure.CONFIG:
        # Our credentials or sender are wrong: operators must act, recipients must still be told.
        logger.error("%s configuration error; channel paused: %s", attempt.channel.value, error, extra={"json_fields": fields})
        deps.breaker.trip(attempt.channel.value)
    elif failure is Failure.REQUEST_BUG:
        logger.error("%s rejected our request: %s", attempt.channel.value, error, extra={"json_fields": fields})
    else:
        logger.warning("%s delivery failed: %s", attempt.channel.value, error, extra={"json_fields": fields})
    reason = "exhausted" if failure.retryable else failure.value
    record_failed(deps, attempt, code or failure.value)
    if failure is Failure.PERMANENT and code in PERMANENTLY_BAD_ADDRESS_CODES:
        deps.store.mark_bad_address(attempt.alert.tenant_id, attempt.contact.id, attempt.channel, attempt.contact.address(attempt.channel), code)
    if failure is Failure.OPTED_OUT:
        deps.store.set_opt_out(attempt.alert.tenant_id, attempt.contact.id, attempt.channel, True)
        if not attempt.tenant.email_when_sms_opted_out:
            return
    fall_back(deps, attempt, reason)


def schedule_retry(deps: PipelineDeps, attempt: Attempt, error: ProviderError) -> None:
    policy = deps.config.defaults.retry
    delay = retry_delay(policy, attempt.number, error.outcome.retry_after_seconds)
    if error.failure is Failure.AMBIGUOUS:
        delay = max(delay, policy.unknown_outcome_settle_seconds)
    # A longer wait (a Retry-After of minutes) would outlive the retry subscription's redeliveries; for a
    # page it means the channel is down: the remaining attempts run at this cap, then the fallback takes over.
    delay = min(delay, policy.inline_wait_max_seconds)
    not_before = deps.clock() + timedelta(seconds=delay)
    recorded = deps.store.record_attempt(
        attempt.alert.tenant_id,
        attempt.alert.alert_id,
        attempt.delivery_id,
        attempt.number,
        {
            "status": DeliveryStatus.RETRYING.value,
            "errorCode": error.outcome.code,
            "nextAttemptAt": not_before,
            "outcomeUnknown": error.failure is Failure.AMBIGUOUS,
        },
    )
    if recorded:  # not if a provider report settled the delivery meanwhile
        deps.queue.publish_retry(attempt.job(attempt.number + 1, not_before, error.failure.value))


def record_failed(deps: PipelineDeps, attempt: Attempt, code: str) -> None:
    deps.store.record_attempt(
        attempt.alert.tenant_id,
        attempt.alert.alert_id,
        attempt.delivery_id,
        attempt.number,
        {"status": DeliveryStatus.FAILED.value, "errorCode": code, "failedAt": deps.clock()},
    )


def _budgets(deps: PipelineDeps, alert: Alert, contact_id: str, channel: Channel) -> list[Budget]:
    key = f"{alert.tenant_id}/{alert.alert_id}/{contact_id}/{channel.value}"
    return budgets_for(
        deps.config.defaults.rate_limits, alert.tenant_id, contact_id, channel.value, key, critical=alert.severity is Severity.CRITICAL
    )


def fall_back(deps: PipelineDeps, failed: Attempt, reason: str, *, dead_letter_when_exhausted: bool = True) -> None:
    """Tries the fallback channel once; with none left, the job goes to the dead-letter topic."""
    fallback = deps.config.defaults.fallback_channel
    if fallback and fallback is not failed.channel and failed.contact.address(fallback):
        claim = deps.store.claim_new_delivery(
            failed.alert.tenant_id,
            failed.alert.alert_id,
            failed.contact.id,
            fallback,
            lease_seconds=deps.config.defaults.sending_lease_seconds,
            # The fallback channel has budgets of its own: in a storm, a contact whose SMS always fails
            # must not get every alert by email instead.
            budgets=_budgets(deps, failed.alert, failed.contact.id, fallback),
            address=failed.contact.address(fallback),
            fallback_of=failed.delivery_id,
        )
        if claim.reason and not claim.claimed:
            logger.warning("fallback %s suppressed: %s", fallback.value, claim.reason, extra={"json_fields": {"contactId": failed.contact.id}})
        if claim.claimed:
            logger.info("falling back to %s after %s", fallback.value, reason, extra={"json_fields": {"contactId": failed.contact.id}})
            attempt_delivery(deps, replace(failed, channel=fallback, number=1, fallback_of=failed.delivery_id, resend_of_unknown=False))
        return
    logger.error("contact unreachable on every channel (%s)", reason, extra={"json_fields": {"contactId": failed.contact.id}})
    if dead_letter_when_exhausted:
        deps.queue.publish_dead_letter(failed.job(failed.number, deps.clock(), reason), reason)
