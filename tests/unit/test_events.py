"""The pure event-conversion layer, driven by golden CloudEvents through functions-framework itself."""

from __future__ import annotations

import base64
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from functions_framework import create_app

from shared.errors import EventDecodeError
from shared.events import decode_alert_created, decode_delivery_job, decode_pubsub_json
from shared.models import DeliveryJob

DATA = Path(__file__).resolve().parents[1] / "data"
CAPTURE_SOURCE = DATA / "functions" / "capture_main.py"


@pytest.fixture
def received():
    """A functions-framework app around a target that records its CloudEvents: the real conversion path."""
    app = create_app("capture", str(CAPTURE_SOURCE), "cloudevent")
    captured = sys.modules["capture_main"]  # functions-framework loads the source under its file name
    captured.RECEIVED.clear()
    return app.test_client(), captured.RECEIVED


def test_golden_firestore_created_event_decodes_to_the_alert_fields(received):
    client, events = received
    golden = json.loads((DATA / "cloudevent_alert_created.json").read_text())
    response = client.post("/", headers=golden["headers"], data=base64.b64decode(golden["bodyBase64"]))
    assert response.status_code == 200
    event = decode_alert_created(events[-1])
    assert (event.tenant_id, event.alert_id) == ("t-acme", "golden-0001")
    assert event.event_time == datetime(2026, 12, 3, 17, 21, 14, 972126, tzinfo=timezone.utc)
    assert event.fields["occurredAt"] == datetime(2022, 5, 9, 20, 15, tzinfo=timezone.utc)
    assert event.fields["schemaVersion"] == 1 and isinstance(event.fields["schemaVersion"], int)
    assert event.fields["attributes"] == {"value": "79.2", "units": "degF"}
    assert event.fields["extraProducerField"] is True
    assert event.fields["title"] == "Zone temp high: 79.2 F (band 68-76)"


def test_a_body_that_is_not_document_event_data_is_a_decode_error(received):
    client, events = received
    golden = json.loads((DATA / "cloudevent_alert_created.json").read_text())
    client.post("/", headers=golden["headers"], data=b"\xff\x00 not protobuf")
    with pytest.raises(EventDecodeError):
        decode_alert_created(events[-1])


def test_an_event_about_another_collection_is_a_decode_error(received):
    client, events = received
    golden = json.loads((DATA / "cloudevent_alert_created.json").read_text())
    from google.events.cloud.firestore_v1 import Document, DocumentEventData

    body = DocumentEventData.serialize(DocumentEventData(value=Document(name="projects/p/databases/(default)/documents/other/x")))
    client.post("/", headers={**golden["headers"], "ce-subject": "documents/other/x"}, data=body)
    with pytest.raises(EventDecodeError, match="tenants"):
        decode_alert_created(events[-1])


def test_golden_pubsub_push_decodes_to_a_delivery_job(received):
    client, events = received
    golden = json.loads((DATA / "pubsub_push_retry_job.json").read_text())
    assert client.post(golden["path"], json=golden["body"]).status_code == 200
    assert events[-1]["type"] == "google.cloud.pubsub.topic.v1.messagePublished"
    job = decode_delivery_job(events[-1])
    assert job == DeliveryJob(tenantId="t-acme", alertId="golden-0001", deliveryId="alice.sms", attempt=2,
                              notBefore=datetime(2026, 12, 3, 17, 21, 15, 500000, tzinfo=timezone.utc))
    assert DeliveryJob.model_validate_json(job.to_json()) == job


def test_pubsub_messages_that_are_not_jobs_are_decode_errors(received):
    client, events = received
    golden = json.loads((DATA / "pubsub_push_retry_job.json").read_text())
    body = {**golden["body"], "message": {**golden["body"]["message"], "data": base64.b64encode(b'{"tick": 1}').decode()}}
    client.post(golden["path"], json=body)
    with pytest.raises(EventDecodeError):
        decode_delivery_job(events[-1])
    assert decode_pubsub_json(events[-1]) == {"tick": 1}
