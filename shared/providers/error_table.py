"""Provider outcome → Failure class: one table per provider, one behaviour per class.

Sources: Twilio's error dictionary and REST API docs, SendGrid's v3 Mail Send
error responses, and what shared/notes/twilio-sendgrid.md measured.
"""

from __future__ import annotations

from shared.errors import Failure

TWILIO_CODES: dict[int, Failure] = {
    20003: Failure.CONFIG,  # authentication failed
    20429: Failure.TRANSIENT,  # too many requests
    21211: Failure.PERMANENT,  # invalid 'To' number
    21212: Failure.CONFIG,  # invalid 'From' number
    21408: Failure.CONFIG,  # sending to this region is not enabled on the account
    21602: Failure.REQUEST_BUG,  # message body required
    21603: Failure.CONFIG,  # 'From' or MessagingServiceSid required
    21604: Failure.REQUEST_BUG,  # 'To' required
    21606: Failure.CONFIG,  # 'From' is not a valid, SMS-capable number of this account
    21610: Failure.OPTED_OUT,  # recipient replied STOP
    21611: Failure.TRANSIENT,  # 'From' has too many queued messages
    21612: Failure.PERMANENT,  # no route from this 'From' to this 'To'
    21614: Failure.PERMANENT,  # 'To' is not a mobile number
    21617: Failure.REQUEST_BUG,  # body exceeds the concatenated-message limit
    30001: Failure.TRANSIENT,  # queue overflow
    30002: Failure.CONFIG,  # account suspended
    30003: Failure.TRANSIENT,  # unreachable handset (callback): worth one later try
    30004: Failure.PERMANENT,  # message blocked by the recipient or carrier
    30005: Failure.PERMANENT,  # unknown or inactive destination
    30006: Failure.PERMANENT,  # landline or unreachable carrier
    30007: Failure.PERMANENT,  # filtered by the carrier
    30008: Failure.TRANSIENT,  # unknown error (callback): worth one later try
}

# Errors that condemn the address itself (not the message): remembered, so later alerts skip straight
# to the fallback channel instead of failing the same way every time.
PERMANENTLY_BAD_ADDRESS_CODES = frozenset({"21211", "21614"})

# Delivery failures reported in a status callback that merit one more SMS later.
TWILIO_CALLBACK_RETRY_ONCE = frozenset({30003, 30008})


def by_http_status(status: int) -> Failure:
    """For bodies with no usable provider code (HTML error pages, proxies, SendGrid)."""
    if status == 429 or status >= 500:
        return Failure.TRANSIENT
    if status in (401, 403):
        return Failure.CONFIG
    return Failure.REQUEST_BUG


def twilio_failure(status: int, code: int | None) -> Failure:
    if code is not None and code in TWILIO_CODES:
        return TWILIO_CODES[code]
    return by_http_status(status)


def sendgrid_failure(status: int) -> Failure:
    # SendGrid's v3 errors carry no stable numeric codes: the HTTP status is the contract.
    return by_http_status(status)
