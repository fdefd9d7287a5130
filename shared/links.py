"""Signed, expiring links to an alert's details, and short acknowledgement codes.

The SMS carries only a link; whoever opens it proves nothing but possession of the
token, so the token is an HMAC over (opaque link id, expiry) and expires. Tokens start
with "lt1." so the log masker can find and hide them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

TOKEN_PREFIX = "lt1."
_ACK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: codes are typed on phones


class InvalidLink(ValueError):
    """The token is malformed, forged or expired."""


@dataclass(frozen=True)
class LinkClaims:
    link_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signature(key: bytes, signed: str) -> str:
    return _b64(hmac.new(key, signed.encode(), hashlib.sha256).digest()[:12])


def link_id(key: bytes, tenant_id: str, alert_id: str) -> str:
    """A short, opaque, deterministic name for an alert's details; the mapping back lives in Firestore.

    Putting tenant and alert ids in the token itself would make it long enough to push
    an SMS into a second segment, and would show ids to anyone who sees the link.
    """
    return base64.b32encode(hmac.new(key, f"link|{tenant_id}|{alert_id}".encode(), hashlib.sha256).digest()[:10]).decode().lower()


def sign_link_token(key: bytes, link: str, now: datetime, ttl_seconds: int) -> str:
    expires = _base36(int((now + timedelta(seconds=ttl_seconds)).timestamp()))
    signed = f"{link}.{expires}"
    return f"{TOKEN_PREFIX}{signed}.{_signature(key, signed)}"


def verify_link_token(key: bytes, token: str, now: datetime) -> LinkClaims:
    if not token.startswith(TOKEN_PREFIX):
        raise InvalidLink("unknown token format")
    try:
        link, expires, signature = token[len(TOKEN_PREFIX) :].split(".")
        expires_at = int(expires, 36)
    except ValueError as exc:
        raise InvalidLink("malformed token") from exc
    if not hmac.compare_digest(_signature(key, f"{link}.{expires}"), signature):
        raise InvalidLink("bad signature")
    if expires_at < now.timestamp():
        raise InvalidLink("expired")
    return LinkClaims(link, expires_at)


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while number:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
    return text or "0"


def link_url(base_url: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/{token}"


def ack_code(key: bytes, tenant_id: str, alert_id: str, contact_id: str, length: int = 6) -> str:
    """Deterministic per (alert, contact): a redelivered send carries the same code, and the code is unique
    enough to find the message again at the provider when a send's outcome is unknown."""
    digest = hmac.new(key, f"ack|{tenant_id}|{alert_id}|{contact_id}".encode(), hashlib.sha256).digest()
    number = int.from_bytes(digest[:8], "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ACK_ALPHABET))
        chars.append(_ACK_ALPHABET[index])
    return "".join(chars)
