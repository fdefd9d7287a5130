"""Masks personal data and credentials out of any text before it is logged.

Applied to the final serialized log line, so nothing that reaches stdout (messages,
exception text, extra fields, vendor error bodies) can carry a phone number, an email
address, a provider SID or key, or a signed-link token.
"""

from __future__ import annotations

import re
import threading

# E.164 numbers, also URL-encoded (%2B), as they appear in vendor error texts and URLs: either 7-15
# digits in a row, or written for humans with spaces, dashes, dots or parentheses between the digits
# ("+1 (555) 765-4321", "+44 20 7946 0958"); _phone_replacement decides whether the latter is a number.
_SEP = r"(?:[ .\-]|%20)"
_PHONE = re.compile(
    r"(?P<plus>\+|%2B)(?P<number>\(?\d(?:(?:" + _SEP + r"?\(|\)" + _SEP + r"?|" + _SEP + r")?\d){6,14})(?!\d)"
)
_NOT_DIGIT = re.compile(r"%20|\D")
_DECIMAL = re.compile(r"\d+\.\d+")  # "+12.345678": a signed number, not a phone
_LEADING_DIGITS = re.compile(r"\d*")
# Unicode letters and digits (\w) in the local part and the domain ("jörg@exämple.com"), plus combining
# marks, which \w does not include but decomposed (NFD) text uses for accents.
_MARKS = "\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f"
# The local part is matched from its very start (the lookbehind), so a long run of word characters with no
# "@" after it costs one scan, not one per character.
_EMAIL = re.compile(
    rf"(?<![\w{_MARKS}.+-])(?P<local>[\w{_MARKS}.+-]+)(?:@|%40)(?P<domain>[\w{_MARKS}-]+(?:\.[\w{_MARKS}-]+)+)"
)
_FIRST_ALNUM = re.compile(r"[^\W_]")
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
    masked = _phone_replacement(match)
    return masked if masked != match.group(0) else "***"


def mask_email(address: str) -> str:
    return _EMAIL.sub(_email_replacement, address) if "@" in address else "***"


def _phone_replacement(match: re.Match[str]) -> str:
    plus, number = match.group("plus"), match.group("number")
    digits = _NOT_DIGIT.sub("", number)
    if digits != number and (len(digits) < 8 or digits[0] == "0" or _DECIMAL.fullmatch(number)):
        # Separators but not a plausible number (country codes never start with 0; "+12.5" is a float):
        # still mask a plain number in front of them, as "+4477009001" in "+4477009001.5".
        leading = _LEADING_DIGITS.match(number).group()
        if 7 <= len(leading) <= 15:
            return _masked_digits(plus, leading) + number[len(leading) :]
        return match.group(0)
    return _masked_digits(plus, digits)


def _masked_digits(plus: str, digits: str) -> str:
    return f"{plus}{digits[:2]}{'*' * max(len(digits) - 6, 1)}{digits[-4:]}"


def _email_replacement(match: re.Match[str]) -> str:
    first = _FIRST_ALNUM.search(match.group("local"))
    return f"{first.group() if first else '*'}***@{match.group('domain')}"


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
