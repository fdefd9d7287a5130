"""Minimal message text: severity, site, short title, a signed link and an ACK code.

The alert's `message`, attributes and any unknown fields are never available to the
templates, so they cannot leak into an SMS whatever the configuration says.

An SMS is always one GSM-7 segment (at most 160 septets). One character outside the
GSM-7 alphabet would switch the whole message to UCS-2 (70 characters a segment), so the
alert's free text (title, source, site) is transliterated to GSM-7 first; then only the
title is shortened, so the link and the ACK code always survive intact. The ACK code in
the body is how a send with an unknown outcome is found again at Twilio, and how a
contact acknowledges, so it must never be cut.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shared.models import Alert

if TYPE_CHECKING:  # shared.config imports this module to check the SMS template
    from shared.config import Templates

SMS_MAX_SEPTETS = 160  # one GSM-7 segment
SMS_MAX_CHARS = SMS_MAX_SEPTETS  # older name
_ELLIPSIS = "..."  # GSM-7: "…" would switch the whole SMS to UCS-2 and shrink a segment to 70 chars

# GSM 03.38 default alphabet and its extension table (each extension character is sent as ESC + char: two septets).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

# Common characters in building-automation titles that GSM-7 lacks, and their readable stand-ins.
_TRANSLITERATIONS = {
    "°": "deg",
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "\u2039": "'", "\u203a": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "«": '"', "»": '"',
    "…": "...",
    "µ": "u", "μ": "u",
    "×": "x", "÷": "/", "±": "+/-", "≤": "<=", "≥": ">=", "≠": "!=", "→": "->", "←": "<-", "•": "*", "·": ".",
    "ł": "l", "Ł": "L", "đ": "d", "Đ": "D", "ı": "i", "œ": "oe", "Œ": "OE", "þ": "th", "Þ": "Th", "ð": "d",
}
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class RenderedEmail:
    subject: str
    body: str


def gsm7_septets(text: str) -> int | None:
    """How many septets `text` takes in GSM-7, or None if it cannot be sent in GSM-7 at all."""
    count = 0
    for ch in text:
        if ch in GSM7_BASIC:
            count += 1
        elif ch in GSM7_EXTENDED:
            count += 2
        else:
            return None
    return count


def to_gsm7(text: str) -> str:
    """One line of GSM-7 text: transliterated where a close equivalent exists, "?" where not."""
    out = []
    for ch in unicodedata.normalize("NFC", text):
        if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
            out.append(ch)
        elif ch in _TRANSLITERATIONS:
            out.append(_TRANSLITERATIONS[ch])
        elif ch.isspace() or unicodedata.category(ch) == "Zs":
            out.append(" ")
        else:
            # "ç" -> "c", "ﬁ" -> "fi", "²" -> "2"; accents and other combining marks dropped.
            base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
            if not base and unicodedata.combining(ch):
                continue  # a stray combining mark: nothing to show
            out.append(base if base and gsm7_septets(base) is not None else "?")
    return _WHITESPACE.sub(" ", "".join(out)).strip()


def _shorten(text: str, max_septets: int) -> str:
    """`text` cut to at most `max_septets` septets, ending in "..." when cut. `text` must be GSM-7."""
    if (gsm7_septets(text) or 0) <= max_septets:
        return text
    budget = max(max_septets - len(_ELLIPSIS), 0)
    kept, used = [], 0
    for ch in text:
        used += 2 if ch in GSM7_EXTENDED else 1
        if used > budget:
            break
        kept.append(ch)
    return "".join(kept).rstrip() + _ELLIPSIS


def _fields(alert: Alert, link: str, ack: str, title: str, site: str | None = None, source: str | None = None) -> dict[str, str]:
    return {
        "severity": alert.severity.value.upper(),
        "severityWord": alert.severity.value.capitalize(),
        "site": alert.site_id if site is None else site,
        "title": title,
        "source": alert.source if source is None else source,
        "eventType": alert.event_type.value,
        "link": link,
        "ackCode": ack,
    }


def render_sms(template: str, alert: Alert, link: str, ack: str) -> str:
    """One GSM-7 segment. Shortens the title (and, only if that is not enough, source and site); never the link or code."""
    title, site, source = to_gsm7(alert.title), to_gsm7(alert.site_id), to_gsm7(alert.source)
    text = template.format(**_fields(alert, link, ack, title, site, source))
    septets = gsm7_septets(text)
    if septets is None:
        # Only the template, link or code can be outside GSM-7 here, and the configuration check rules that out.
        return text
    # The title goes first, down to "..."; a template using {source} or a very long siteId may need more.
    for name in ("title", "source", "site"):
        overflow = septets - SMS_MAX_SEPTETS
        if overflow <= 0:
            break
        value = {"title": title, "source": source, "site": site}[name]
        if name != "title" and "{" + name not in template:
            continue
        shortened = _shorten(value, max((gsm7_septets(value) or 0) - overflow, len(_ELLIPSIS)))
        if name == "title":
            title = shortened
        elif name == "source":
            source = shortened
        else:
            site = shortened
        text = template.format(**_fields(alert, link, ack, title, site, source))
        septets = gsm7_septets(text) or 0
    return text


def render_email(templates: Templates, alert: Alert, link: str, ack: str) -> RenderedEmail:
    fields = _fields(alert, link, ack, alert.title)
    return RenderedEmail(templates.email_subject.format(**fields), templates.email_body.format(**fields))
