"""Replaying BAS alarm transitions into Firestore, the way bas_server would write them.

This package is shared vocabulary for its three parts:

- ``open_fdd``: derives transitions from the open-fdd S-7 trend exports (real data);
- ``synthetic``: a built-in scenario for when that dataset is not on the machine;
- ``writer``: writes the transitions as alert documents, compressed in time.

``Transition`` is what both sources produce and ``alert_document`` turns one into
the document of CONTRACT.md section 1. ``Transition`` checks those field rules
when it is built, so a rule that produces a bad title fails at derivation time
rather than as an ``invalid`` alert in the middle of a demo.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from types import MappingProxyType
from typing import Any, Mapping

SCHEMA_VERSION = 1

EVENT_TYPES = frozenset({"offnormal", "fault", "normal"})
SEVERITIES = frozenset({"critical", "major", "minor", "info"})

SITE_ID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
MAX_SOURCE_CHARS = 200
MAX_TITLE_CHARS = 120
MAX_MESSAGE_CHARS = 4000
MAX_FINGERPRINT_CHARS = 200
MAX_ATTRIBUTES = 20


@dataclass(frozen=True)
class Transition:
    """One BACnet-style event transition (to-offnormal, to-fault or to-normal) of one point."""

    site_id: str
    source: str
    event_type: str
    severity: str
    title: str
    message: str
    occurred_at: datetime
    fingerprint: str
    # Left out of the hash so transitions stay usable in sets; equality still compares it.
    attributes: Mapping[str, str] = field(default_factory=dict, hash=False)

    def __post_init__(self) -> None:
        problems = contract_violations(self)
        if problems:
            raise ValueError(f"transition violates CONTRACT §1: {'; '.join(problems)}: {self.title!r}")
        # Frozen means frozen: a caller mutating the dict it passed in must not change us.
        object.__setattr__(self, "attributes", MappingProxyType(dict(self.attributes)))


def contract_violations(t: Transition) -> list[str]:
    """The CONTRACT §1 field rules a transition breaks; empty when it is valid."""
    problems: list[str] = []
    if not SITE_ID_PATTERN.fullmatch(t.site_id):
        problems.append("siteId must be 1-64 chars of [A-Za-z0-9._-]")
    if not 1 <= len(t.source) <= MAX_SOURCE_CHARS:
        problems.append(f"source must be 1-{MAX_SOURCE_CHARS} chars")
    if t.event_type not in EVENT_TYPES:
        problems.append(f"eventType {t.event_type!r} not in {sorted(EVENT_TYPES)}")
    if t.severity not in SEVERITIES:
        problems.append(f"severity {t.severity!r} not in {sorted(SEVERITIES)}")
    if not 1 <= len(t.title) <= MAX_TITLE_CHARS or "\n" in t.title or "\r" in t.title:
        problems.append(f"title must be one line of 1-{MAX_TITLE_CHARS} chars")
    if len(t.message) > MAX_MESSAGE_CHARS:
        problems.append(f"message longer than {MAX_MESSAGE_CHARS} chars")
    if t.occurred_at.tzinfo is None or t.occurred_at.utcoffset() is None:
        problems.append("occurredAt must be timezone-aware")
    if not 1 <= len(t.fingerprint) <= MAX_FINGERPRINT_CHARS:
        problems.append(f"fingerprint must be 1-{MAX_FINGERPRINT_CHARS} chars")
    if len(t.attributes) > MAX_ATTRIBUTES:
        problems.append(f"more than {MAX_ATTRIBUTES} attributes")
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in t.attributes.items()):
        problems.append("attributes must map str to str")
    return problems


def alert_id(t: Transition, tenant_id: str) -> str:
    """Deterministic document id: the same transition always maps to the same alert.

    The fingerprint is part of the key on top of site, source, eventType and
    occurredAt because two conditions of one point can change at the same sample
    (a flat-lined zone sensor that starts moving again may also come back into
    band): without it their two ``normal`` alerts would collide and the second
    would be dropped as a retry.
    """
    key = "\x1f".join(
        (
            tenant_id,
            t.site_id,
            t.source,
            t.event_type,
            t.occurred_at.astimezone(timezone.utc).isoformat(),
            t.fingerprint,
        )
    )
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def alert_document(t: Transition, tenant_id: str) -> tuple[str, dict[str, Any]]:
    """The alertId and the Firestore document for ``tenants/{tenant_id}/alerts/{alertId}``.

    Only producer fields: status, statusReason and the timestamps are the service's.
    """
    document: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "tenantId": tenant_id,
        "siteId": t.site_id,
        "source": t.source,
        "eventType": t.event_type,
        "severity": t.severity,
        "title": t.title,
        "message": t.message,
        "occurredAt": t.occurred_at.astimezone(timezone.utc),
        "fingerprint": t.fingerprint,
        "attributes": dict(t.attributes),
    }
    return alert_id(t, tenant_id), document


__all__ = [
    "EVENT_TYPES",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "Transition",
    "alert_document",
    "alert_id",
    "contract_violations",
]
