"""Signed, expiring links to an alert's details, and short acknowledgement codes.

The SMS carries only a link; whoever opens it proves nothing but possession of the
token, so the token is an HMAC over (tenant, alert, expiry) and expires. Tokens start
with "lt1." so the log masker can find and hide them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import datetime, timedelta

TOKEN_PREFIX = "lt1."
_ACK_ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ"  # no 0/O, 1/I/L: codes are typed on phones


class InvalidLink(ValueError):
    """The token is malformed, forged or expired."""


@dataclass(frozen=True)
class LinkClaims:
    tenant_id: str
    alert_id: str
    expires_at: int


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign_link_token(key: bytes, tenant_id: str, alert_id: str, now: datetime, ttl_seconds: int) -> str:
    claims = {"t": tenant_id, "a": alert_id, "e": int((now + timedelta(seconds=ttl_seconds)).timestamp())}
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18])
    return f"{TOKEN_PREFIX}{payload}.{signature}"


def verify_link_token(key: bytes, token: str, now: datetime) -> LinkClaims:
    if not token.startswith(TOKEN_PREFIX):
        raise InvalidLink("unknown token format")
    try:
        payload, signature = token[len(TOKEN_PREFIX) :].split(".")
    except ValueError as exc:
        raise InvalidLink("malformed token") from exc
    expected = _b64(hmac.new(key, payload.encode(), hashlib.sha256).digest()[:18])
    if not hmac.compare_digest(expected, signature):
        raise InvalidLink("bad signature")
    claims = json.loads(_unb64(payload))
    if claims["e"] < now.timestamp():
        raise InvalidLink("expired")
    return LinkClaims(claims["t"], claims["a"], claims["e"])


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
