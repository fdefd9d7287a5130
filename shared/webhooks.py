"""Provider webhook requests: signature checks and pure parsing into domain reports.

Signatures are checked against the *public* URL the provider called (settings.public_url),
not the URL this function sees behind Google's front end, or every callback would fail.
"""

from __future__ import annotations

import binascii
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass

from sendgrid.helpers.eventwebhook import EventWebhook
from twilio.request_validator import RequestValidator

from shared.models import DeliveryStatus
from shared.pipeline.reports import DeliveryReport
from shared.settings import Settings

SENDGRID_SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
SENDGRID_TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
SENDGRID_MAX_SKEW_SECONDS = 300

_TWILIO_STATUS = {
    "sent": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "read": DeliveryStatus.DELIVERED,
    "undelivered": DeliveryStatus.FAILED,
    "failed": DeliveryStatus.FAILED,
}
_SENDGRID_STATUS = {
    "processed": DeliveryStatus.SENT,
    "delivered": DeliveryStatus.DELIVERED,
    "bounce": DeliveryStatus.FAILED,
    "dropped": DeliveryStatus.FAILED,
}


def twilio_request_is_genuine(settings: Settings, request, entry_point: str) -> bool:
    """A Flask request to one of our Twilio webhooks, checked against the URL Twilio signed."""
    public_url = twilio_public_url(settings.public_url(entry_point), request.query_string)
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    return twilio_signature_valid(token, public_url, request.form, request.headers.get("X-Twilio-Signature"))


def twilio_signature_valid(auth_token: str, public_url: str, form: Mapping[str, str], signature: str | None) -> bool:
    return bool(signature) and RequestValidator(auth_token).validate(public_url, dict(form), signature)


def twilio_public_url(base: str, query_string: bytes | str) -> str:
    query = query_string.decode() if isinstance(query_string, bytes) else query_string
    return f"{base}?{query}" if query else base


def sendgrid_signature_valid(public_key_b64: str, raw_body: bytes, signature: str | None, timestamp: str | None, now: float | None = None) -> bool:
    """ECDSA over timestamp + body, and a timestamp within five minutes: a captured request can't be replayed later."""
    if not signature or not timestamp:
        return False
    try:
        skew = abs((now if now is not None else time.time()) - int(timestamp))
    except ValueError:
        return False
    if skew > SENDGRID_MAX_SKEW_SECONDS:
        return False
    try:
        verifier = EventWebhook(public_key_b64)
        return verifier.verify_signature(raw_body.decode("utf-8"), signature, timestamp)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return False


def twilio_status_report(query: Mapping[str, str], form: Mapping[str, str]) -> DeliveryReport | None:
    status = _TWILIO_STATUS.get((form.get("MessageStatus") or "").lower())
    if status is None or not all(query.get(k) for k in ("t", "a", "d")):
        return None  # queued/sending/accepted say nothing new; no correlation means not ours
    return DeliveryReport(
        tenant_id=query["t"],
        alert_id=query["a"],
        delivery_id=query["d"],
        status=status,
        provider="twilio",
        provider_message_id=form.get("MessageSid"),
        error_code=form.get("ErrorCode") or None,
    )


@dataclass(frozen=True)
class SendGridEvents:
    reports: list[DeliveryReport]
    ignored: int


def sendgrid_reports(raw_body: bytes) -> SendGridEvents:
    events = json.loads(raw_body or b"[]")
    if not isinstance(events, list):
        raise ValueError("SendGrid posts a JSON array of events")
    reports, ignored = [], 0
    for event in events:
        name = str(event.get("event"))
        status = _SENDGRID_STATUS.get(name)
        if (status is None and name != "deferred") or not all(event.get(k) for k in ("tenantId", "alertId", "deliveryId")):
            ignored += 1  # open/click, or mail this service didn't send
            continue
        message_id = str(event.get("sg_message_id") or "").split(".")[0] or None
        reports.append(
            DeliveryReport(
                tenant_id=event["tenantId"],
                alert_id=event["alertId"],
                delivery_id=event["deliveryId"],
                status=status,
                provider="sendgrid",
                provider_message_id=message_id,
                error_code=name if status is DeliveryStatus.FAILED else None,
                provider_event=name,
            )
        )
    return SendGridEvents(reports, ignored)
