"""Replies to our SMS: STOP/START (opt out, opt back in) and ACK <code> (acknowledge the alert)."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

from shared.logging_setup import log_labels
from shared.models import Channel
from shared.pipeline.deps import PipelineDeps

logger = logging.getLogger(__name__)

# Twilio's own opt-out and opt-in keywords: Twilio already blocks the number on these,
# so we must record the same decision or every later SMS fails with 21610.
OPT_OUT_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT", "REVOKE"})
OPT_IN_WORDS = frozenset({"START", "UNSTOP", "YES", "OPTIN"})
_ACK = re.compile(r"^\s*ACK\s+([A-Za-z0-9]{4,12})\s*$", re.IGNORECASE)


@dataclass(frozen=True)
class InboundResult:
    action: str  # "opt_out", "opt_in", "acknowledged", "unknown_code", "unknown_sender", "ignored"
    reply: str | None


def process_inbound_sms(deps: PipelineDeps, from_number: str, body: str) -> InboundResult:
    words = body.strip().upper()
    memberships = [(tenant_id, tenant, tenant.contact_by_phone(from_number)) for tenant_id, tenant in deps.config.tenants.items()]
    memberships = [(tid, tenant, contact) for tid, tenant, contact in memberships if contact is not None]
    if not memberships:
        return InboundResult("unknown_sender", None)
    if words in OPT_OUT_WORDS or words in OPT_IN_WORDS:
        opted_out = words in OPT_OUT_WORDS
        # The opt-out is per sending number at the carrier, so it holds for every tenant listing this phone.
        for tenant_id, _, contact in memberships:
            deps.store.set_opt_out(tenant_id, contact.id, Channel.SMS, opted_out)
            with log_labels(tenant=tenant_id):
                logger.info("contact opted %s of SMS", "out" if opted_out else "back in", extra={"json_fields": {"contactId": contact.id}})
        return InboundResult("opt_out" if opted_out else "opt_in", None)  # Twilio sends the carrier-mandated reply itself
    match = _ACK.match(body)
    if not match:
        return InboundResult("ignored", "Reply ACK <code> to acknowledge an alert.")
    code = match.group(1).upper()
    for tenant_id, _, contact in memberships:
        entry = deps.store.find_ack_code(tenant_id, code)
        if entry and entry.get("contactId") == contact.id:
            with log_labels(tenant=tenant_id, alert_id=entry["alertId"]):
                changed = deps.store.acknowledge(tenant_id, entry["alertId"], contact.id)
                logger.info("alert acknowledged" if changed else "alert was already acknowledged", extra={"json_fields": {"contactId": contact.id}})
            return InboundResult("acknowledged", "Acknowledged. Thank you.")
    return InboundResult("unknown_code", "That code matches no alert sent to you.")
