"""The service's vocabulary: alerts as bas_server writes them, and delivery state."""

from __future__ import annotations

import unicodedata
from datetime import datetime, timezone
from enum import Enum

from pydantic import BaseModel, ConfigDict, Field, field_validator

ID_PATTERN = r"^[A-Za-z0-9._-]{1,64}$"

# Controls (tab, NUL, CR/LF, ...), invisible format characters (bidi overrides, zero-width), line and
# paragraph separators, unpaired surrogates. Ordinary spaces (category Zs) remain allowed.
_CONTROL_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Zl", "Zp"})


def has_control_or_line_separator(text: str) -> bool:
    return any(unicodedata.category(ch) in _CONTROL_CATEGORIES for ch in text)


class Severity(str, Enum):
    CRITICAL = "critical"
    MAJOR = "major"
    MINOR = "minor"
    INFO = "info"


AlertSeverity = Severity


class EventType(str, Enum):
    OFFNORMAL = "offnormal"
    FAULT = "fault"
    NORMAL = "normal"


class Channel(str, Enum):
    SMS = "sms"
    EMAIL = "email"


class AlertStatus(str, Enum):
    INVALID = "invalid"
    SUPPRESSED = "suppressed"
    NOTIFYING = "notifying"
    NOTIFIED = "notified"
    FAILED = "failed"
    ACKNOWLEDGED = "acknowledged"


class DeliveryStatus(str, Enum):
    PENDING = "pending"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    RETRYING = "retrying"
    FAILED = "failed"
    SUPPRESSED = "suppressed"

    @property
    def is_final(self) -> bool:
        return self in _FINAL_DELIVERY

    @property
    def reached_contact(self) -> bool:
        return self in (DeliveryStatus.SENT, DeliveryStatus.DELIVERED)


_FINAL_DELIVERY = frozenset({DeliveryStatus.SENT, DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.SUPPRESSED})


class Alert(BaseModel):
    """An alert document as CONTRACT §1 defines it; unknown fields are dropped here."""

    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")

    tenant_id: str = Field(alias="tenantId", pattern=ID_PATTERN)
    alert_id: str = Field(alias="alertId", min_length=1, max_length=1500)
    schema_version: int = Field(alias="schemaVersion")
    site_id: str = Field(alias="siteId", pattern=ID_PATTERN)
    source: str = Field(min_length=1, max_length=200)
    event_type: EventType = Field(alias="eventType")
    severity: Severity
    title: str = Field(min_length=1, max_length=120)
    message: str | None = Field(None, max_length=4000)
    occurred_at: datetime = Field(alias="occurredAt")
    fingerprint_field: str | None = Field(None, alias="fingerprint", max_length=200)
    attributes: dict[str, str] = Field(default_factory=dict, max_length=20)

    @field_validator("schema_version")
    @classmethod
    def _supported_version(cls, value: int) -> int:
        if value != 1:
            raise ValueError("unsupported schemaVersion")
        return value

    @field_validator("title", "source")
    @classmethod
    def _one_visible_line(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        if has_control_or_line_separator(value):
            raise ValueError("must be one line without control or format characters")
        return value

    @field_validator("occurred_at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)

    @property
    def fingerprint(self) -> str:
        return self.fingerprint_field or f"{self.site_id}/{self.source}"


class DeliveryJob(BaseModel):
    """A message on the alert-retry topic: which delivery to attempt, and when."""

    model_config = ConfigDict(populate_by_name=True, frozen=True)

    version: int = 1
    tenant_id: str = Field(alias="tenantId")
    alert_id: str = Field(alias="alertId")
    delivery_id: str = Field(alias="deliveryId")
    attempt: int = Field(ge=1, description="the attempt number this job is allowed to make")
    not_before: datetime = Field(alias="notBefore")
    reason: str = "transient"

    def to_json(self) -> bytes:
        return self.model_dump_json(by_alias=True).encode()


def delivery_id(contact_id: str, channel: Channel) -> str:
    """Deterministic, so a redelivered trigger claims the same document instead of a new one."""
    return f"{contact_id}.{channel.value}"
