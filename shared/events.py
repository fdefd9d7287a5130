"""Pure conversion of incoming CloudEvents into domain inputs.

No I/O here: golden CloudEvent fixtures in tests/data drive these functions directly.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from google.events.cloud.firestore_v1 import DocumentEventData, Value
from pydantic import ValidationError

from shared.errors import EventDecodeError
from shared.models import DeliveryJob

_ALERT_DOCUMENT = re.compile(r"(?:^|/)documents/tenants/(?P<tenant>[^/]+)/alerts/(?P<alert>[^/]+)$")


@dataclass(frozen=True)
class AlertCreated:
    """A newly created alert document, as the Firestore trigger saw it."""

    tenant_id: str
    alert_id: str
    fields: dict[str, Any]
    event_id: str
    event_time: datetime | None


def decode_alert_created(cloud_event) -> AlertCreated:
    data = cloud_event.data
    if isinstance(data, str):
        data = base64.b64decode(data)
    try:
        payload = DocumentEventData.deserialize(data)
    except Exception as exc:  # protobuf raises DecodeError and friends; all mean "not our payload"
        raise EventDecodeError(f"not a DocumentEventData payload: {type(exc).__name__}") from exc
    name = payload.value.name or _subject_path(cloud_event)
    match = _ALERT_DOCUMENT.search(name or "")
    if not match:
        raise EventDecodeError("event is not about tenants/{tenantId}/alerts/{alertId}")
    return AlertCreated(
        tenant_id=match.group("tenant"),
        alert_id=match.group("alert"),
        fields={key: firestore_value(value) for key, value in payload.value.fields.items()},
        event_id=cloud_event["id"],
        event_time=_event_time(cloud_event),
    )


def firestore_value(value: Value) -> Any:
    """Firestore's typed Value to plain Python, keeping the type distinctions validation needs."""
    kind = Value.pb(value).WhichOneof("value_type")
    if kind is None or kind == "null_value":
        return None
    if kind == "map_value":
        return {key: firestore_value(item) for key, item in value.map_value.fields.items()}
    if kind == "array_value":
        return [firestore_value(item) for item in value.array_value.values]
    if kind == "timestamp_value":
        stamp = value.timestamp_value
        return stamp if stamp.tzinfo else stamp.replace(tzinfo=timezone.utc)
    if kind == "geo_point_value":
        return {"latitude": value.geo_point_value.latitude, "longitude": value.geo_point_value.longitude}
    return getattr(value, kind)


def decode_delivery_job(cloud_event) -> DeliveryJob:
    """A Pub/Sub messagePublished CloudEvent carrying a DeliveryJob as JSON."""
    try:
        encoded = cloud_event.data["message"]["data"]
        return DeliveryJob.model_validate_json(base64.b64decode(encoded))
    except (KeyError, TypeError, ValueError, ValidationError) as exc:
        raise EventDecodeError(f"not a delivery job: {type(exc).__name__}") from exc


def decode_pubsub_json(cloud_event) -> dict[str, Any]:
    try:
        encoded = cloud_event.data["message"].get("data") or ""
        return json.loads(base64.b64decode(encoded) or b"{}")
    except (KeyError, TypeError, ValueError) as exc:
        raise EventDecodeError(f"not a JSON Pub/Sub message: {type(exc).__name__}") from exc


def _subject_path(cloud_event) -> str:
    try:
        return cloud_event["subject"] or ""
    except KeyError:
        return ""


def _event_time(cloud_event) -> datetime | None:
    try:
        raw = cloud_event["time"]
    except KeyError:
        return None
    if not raw:
        return None
    if isinstance(raw, datetime):
        return raw if raw.tzinfo else raw.replace(tzinfo=timezone.utc)
    try:
        parsed = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)
