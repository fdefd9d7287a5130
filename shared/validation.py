"""The validate stage: raw document fields → Alert, or InvalidAlert with a CONTRACT §2 reason."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError

from shared.config import AlertConfig
from shared.errors import InvalidAlert
from shared.models import Alert

# Firestore keeps types; these must arrive as the contract's types, not as look-alikes
# (an ISO string for occurredAt would sort and compare wrongly downstream).
_STRICT_TYPES: dict[str, type | tuple[type, ...]] = {
    "schemaVersion": int,
    "tenantId": str,
    "siteId": str,
    "source": str,
    "eventType": str,
    "severity": str,
    "title": str,
    "message": str,
    "occurredAt": datetime,
    "fingerprint": str,
    "attributes": dict,
}
_REQUIRED = ("schemaVersion", "tenantId", "siteId", "source", "eventType", "severity", "title", "occurredAt")


def validate_alert(tenant_id: str, alert_id: str, fields: dict[str, Any], config: AlertConfig) -> Alert:
    for name in _REQUIRED:
        if fields.get(name) is None:
            raise InvalidAlert(f"missing_field:{name}")
    for name, expected in _STRICT_TYPES.items():
        value = fields.get(name)
        if value is not None and (not isinstance(value, expected) or isinstance(value, bool)):
            raise InvalidAlert(f"invalid_field:{name}")
    if fields["tenantId"] != tenant_id:
        raise InvalidAlert("tenant_mismatch")
    if tenant_id not in config.tenants:
        raise InvalidAlert("unknown_tenant")
    try:
        return Alert.model_validate({**fields, "alertId": alert_id})
    except ValidationError as exc:
        first = exc.errors()[0]
        location = str(first["loc"][0]) if first["loc"] else "document"
        raise InvalidAlert(f"invalid_field:{_alias(location)}") from exc


def _alias(field_name: str) -> str:
    field = Alert.model_fields.get(field_name)
    return (field.alias if field and field.alias else field_name).replace("fingerprint_field", "fingerprint")
