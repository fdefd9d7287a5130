"""Masks personal data and credentials out of any text before it is logged.

Applied to the final serialized log line, so nothing that reaches stdout (messages,
exception text, extra fields, vendor error bodies) can carry a phone number, an email
address, a provider SID or key, or a signed-link token.
"""

from __future__ import annotations

import re
import threading

# E.164 numbers, also URL-encoded (%2B), as they appear in vendor error texts and URLs.
_PHONE = re.compile(r"(?P<plus>\+|%2B)(?P<digits>\d{7,15})(?!\d)")
_EMAIL = re.compile(r"(?P<first>[A-Za-z0-9])[A-Za-z0-9._+-]*(?:@|%40)(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
_TWILIO_SID = re.compile(r"\b(?P<prefix>AC|SM|MM|MG|PN|SK|IS)[0-9a-fA-F]{28}(?P<tail>[0-9a-fA-F]{4})\b")
_SENDGRID_KEY = re.compile(r"\bSG\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}")
_AUTH_HEADER = re.compile(r"\b(?P<scheme>Basic|Bearer)\s+[A-Za-z0-9+/=._-]{6,}")
# Signed-link tokens all start with this prefix (see shared.links), which makes them findable here.
_LINK_TOKEN = re.compile(r"\blt1\.[A-Za-z0-9_.-]+")

_registered_secrets: set[str] = set()
_lock = threading.Lock()


def register_secret(value: str | None) -> None:
    """Masks this exact value wherever it appears: for secrets with no recognizable shape."""
    if value and len(value) >= 6:
        with _lock:
            _registered_secrets.add(value)


def mask_phone(number: str) -> str:
    match = _PHONE.fullmatch(number.strip())
    if not match:
        return "***"
    return _phone_replacement(match)


def mask_email(address: str) -> str:
    return _EMAIL.sub(_email_replacement, address) if "@" in address else "***"


def _phone_replacement(match: re.Match[str]) -> str:
    digits = match.group("digits")
    return f"{match.group('plus')}{digits[:2]}{'*' * max(len(digits) - 6, 1)}{digits[-4:]}"


def _email_replacement(match: re.Match[str]) -> str:
    return f"{match.group('first')}***@{match.group('domain')}"


def mask(text: str) -> str:
    for secret in tuple(_registered_secrets):
        if secret in text:
            text = text.replace(secret, "<secret>")
    text = _AUTH_HEADER.sub(lambda m: f"{m.group('scheme')} <secret>", text)
    text = _SENDGRID_KEY.sub("SG.<secret>", text)
    text = _LINK_TOKEN.sub("lt1.<token>", text)
    text = _TWILIO_SID.sub(lambda m: f"{m.group('prefix')}****{m.group('tail')}", text)
    text = _EMAIL.sub(_email_replacement, text)
    return _PHONE.sub(_phone_replacement, text)
