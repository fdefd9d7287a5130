"""The relay's pure parts: emulator callback -> CloudEvent, retry backoff, the delivery schedule.

The golden fixture is one real callback captured from the SDK's Firestore
emulator, so these tests pin the emulator quirks the relay exists to fix.
"""

from __future__ import annotations

import base64
import json
import random
import sys
import textwrap
import time
from pathlib import Path

import functions_framework
import pytest
from google.events.cloud.firestore_v1 import DocumentEventData

from local.relay import (
    CloudEvent,
    ConversionError,
    DeliverySchedule,
    PendingDelivery,
    RetryPolicy,
    backoff_seconds,
    convert_callback,
    decode_emulator_body,
    document_event_time,
    parse_trigger_path,
)

FIXTURE = Path(__file__).parent.parent / "data" / "firestore_emulator_callback.json"
PROJECT = "demo-alerts"


@pytest.fixture(scope="module")
def callback() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def event(callback) -> CloudEvent:
    return convert_callback(callback["headers"], callback["rawBody"].encode(), PROJECT)


def test_fixture_shows_the_emulator_quirks(callback):
    assert callback["headers"]["ce-source"] == "//firestore.googleapis.com/projects/projects/demo-alerts/databases/(default)"
    assert callback["headers"]["ce-time"] == "2026-12-03T16:46:44Z"  # whole seconds only
    assert callback["rawBody"].isascii()  # base64 text, not protobuf bytes


def test_body_is_decoded_from_base64_to_the_document_event(event):
    data = DocumentEventData.deserialize(event.body)
    assert data.value.name == "projects/demo-alerts/databases/(default)/documents/tenants/t1/alerts/a1"
    assert data.value.fields["siteId"].string_value == "s1"
    assert data.value.fields["attributes"].map_value.fields["units"].string_value == "degC"


def test_source_loses_the_doubled_projects_segment(event):
    assert event.headers["ce-source"] == "//firestore.googleapis.com/projects/demo-alerts/databases/(default)"


def test_time_comes_from_update_time_at_full_precision(event):
    assert event.headers["ce-time"] == "2026-12-03T16:46:44.760750Z"


def test_other_cloudevent_attributes_are_kept_verbatim(callback, event):
    for name in ("ce-id", "ce-type", "ce-subject", "ce-specversion", "ce-database", "ce-namespace", "ce-document",
                 "ce-dataschema", "ce-project", "ce-location"):  # fmt: skip
        assert event.headers[name] == callback["headers"][name]


def test_delivered_as_binary_protobuf_without_transport_headers(event):
    assert event.headers["content-type"] == "application/protobuf"
    assert all(name.startswith("ce-") or name == "content-type" for name in event.headers)


def test_header_names_are_matched_case_insensitively(callback):
    shouted = {name.upper(): value for name, value in callback["headers"].items()}
    event = convert_callback(shouted, callback["rawBody"].encode(), PROJECT)
    assert event.headers["ce-id"] == callback["headers"]["ce-id"]
    assert event.headers["ce-time"] == "2026-12-03T16:46:44.760750Z"


def test_conversion_is_pure(callback):
    first = convert_callback(callback["headers"], callback["rawBody"].encode(), PROJECT)
    second = convert_callback(callback["headers"], callback["rawBody"].encode(), PROJECT)
    assert first == second


def test_event_json_round_trips_the_exact_bytes(event):
    as_json = event.to_json()
    assert base64.b64decode(as_json["bodyBase64"]) == event.body
    assert as_json["headers"] == event.headers


@pytest.mark.parametrize("raw", [b"not base64 at all!", b"\x0a\x8a\x01\x02"])
def test_body_that_is_not_base64_is_rejected(raw):
    with pytest.raises(ConversionError):
        decode_emulator_body(raw)


def test_base64_of_something_else_is_rejected():
    with pytest.raises(ConversionError):
        document_event_time(b"\xff\xff\xff")


def test_missing_cloudevent_id_is_rejected(callback):
    headers = {name: value for name, value in callback["headers"].items() if name != "ce-id"}
    with pytest.raises(ConversionError, match="ce-id"):
        convert_callback(headers, callback["rawBody"].encode(), PROJECT)


def test_emulator_time_is_kept_when_the_event_has_no_document_times(callback):
    empty_event = base64.b64encode(DocumentEventData.serialize(DocumentEventData()))
    event = convert_callback(callback["headers"], empty_event, PROJECT)
    assert event.headers["ce-time"] == "2026-12-03T16:46:44Z"


def test_trigger_path_names_project_and_trigger(callback):
    assert parse_trigger_path(callback["path"]) == ("demo-alerts", "on_alert_created")
    assert parse_trigger_path("/functions/projects/p/triggers/t?x=1") == ("p", "t")
    assert parse_trigger_path("/__relay/stats") is None


def test_functions_framework_accepts_the_converted_event(event, tmp_path):
    """The reason the relay exists: the converted request is a CloudEvent the real framework decodes."""
    source = tmp_path / "relay_conversion_target.py"  # functions-framework registers it under this module name
    source.write_text(
        textwrap.dedent(
            """
            import functions_framework
            from google.events.cloud.firestore_v1 import DocumentEventData
            received = []

            @functions_framework.cloud_event
            def on_alert_created(event):
                received.append((event["source"], event["time"], event["subject"], DocumentEventData.deserialize(event.data)))
            """
        )
    )
    app = functions_framework.create_app("on_alert_created", str(source), "cloudevent")
    response = app.test_client().post("/", data=event.body, headers=event.headers)
    assert response.status_code == 200, response.get_data(as_text=True)
    source_attr, time_attr, subject, data = sys.modules["relay_conversion_target"].received[-1]
    assert source_attr == "//firestore.googleapis.com/projects/demo-alerts/databases/(default)"
    assert time_attr == "2026-12-03T16:46:44.760750Z"
    assert subject == "documents/tenants/t1/alerts/a1"
    assert data.value.fields["tenantId"].string_value == "t1"


def test_backoff_doubles_up_to_the_cap_with_jitter():
    policy = RetryPolicy(min_backoff=0.5, max_backoff=10.0)
    assert backoff_seconds(1, policy, rand=lambda: 1.0) == 0.5
    assert backoff_seconds(3, policy, rand=lambda: 1.0) == 2.0
    assert backoff_seconds(3, policy, rand=lambda: 0.0) == 1.0  # jitter never goes below half
    assert backoff_seconds(30, policy, rand=lambda: 1.0) == 10.0
    rng = random.Random(7)
    assert all(0.25 <= backoff_seconds(1, policy, rng.random) <= 0.5 for _ in range(100))


def test_schedule_hands_out_the_earliest_due_delivery_first():
    schedule = DeliverySchedule()
    now = time.monotonic()
    late, early, due_now = (PendingDelivery(CloudEvent({"ce-id": name}, b""), now) for name in ("late", "early", "now"))
    schedule.put(late, due=now + 0.2)
    schedule.put(early, due=now + 0.1)
    schedule.put(due_now)
    taken = [schedule.take() for _ in range(3)]
    assert [delivery.event.headers["ce-id"] for delivery in taken] == ["now", "early", "late"]
    assert time.monotonic() - now >= 0.2  # take() waited for the later ones to fall due
    assert len(schedule) == 0
