"""Minimal message text: severity, site, short title, a signed link and an ACK code.

The alert's `message`, attributes and any unknown fields are never available to the
templates, so they cannot leak into an SMS whatever the configuration says.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.config import Templates
from shared.models import Alert

SMS_MAX_CHARS = 160
_ELLIPSIS = "..."  # GSM-7: "…" would switch the whole SMS to UCS-2 and shrink a segment to 70 chars


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str


def _fields(alert: Alert, link: str, ack: str, title: str) -> dict[str, str]:
    return {
        "severity": alert.severity.value.upper(),
        "severityWord": alert.severity.value.capitalize(),
        "site": alert.site_id,
        "title": title,
        "source": alert.source,
        "eventType": alert.event_type.value,
        "link": link,
        "ackCode": ack,
    }


def render_sms(template: str, alert: Alert, link: str, ack: str) -> str:
    """Shortens only the title, so the link and the ACK code always survive intact."""
    title = alert.title
    text = template.format(**_fields(alert, link, ack, title))
    overflow = len(text) - SMS_MAX_CHARS
    if overflow > 0:
        keep = max(len(title) - overflow - len(_ELLIPSIS), 8)
        text = template.format(**_fields(alert, link, ack, title[:keep].rstrip() + _ELLIPSIS))
    return text


def render_email(templates: Templates, alert: Alert, link: str, ack: str) -> RenderedEmail:
    fields = _fields(alert, link, ack, alert.title)
    return RenderedEmail(templates.email_subject.format(**fields), templates.email_body.format(**fields))
