"""End to end on the real emulators: an alert document goes in, the outcome is read back
from Firestore and from the provider servers' admin API."""

from __future__ import annotations

import base64
import json
import os
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone

import pytest
import requests
from google.events.cloud.firestore_v1 import Document, DocumentEventData, Value

pytestmark = pytest.mark.emulators

ALICE, BOB, CAROL, DAVE, ERIN = "+15551230001", "+15551230002", "+15551230003", "+15551230004", "+15551230005"


def test_happy_path_sends_one_minimal_sms_and_records_delivery(e2e):
    alert_id = e2e.write_alert("alice-site")
    alert = e2e.wait_final(alert_id)
    assert alert["status"] == "notified" and alert["statusReason"] is None
    assert alert["processedAt"] and alert["updatedAt"]
    sms = e2e.sms_to(ALICE)
    assert len(sms) == 1
    body = sms[0]["form"]["Body"]
    assert body.startswith("[MAJOR] alice-site: Zone temp high 81.2 F https://alerts.example.test/a/lt1.")
    assert "Jane Doe" not in body and "+15557654321" not in body and "Reply ACK " in body
    delivery = e2e.wait_for(lambda: (d := e2e.deliveries(alert_id)["alice.sms"])["status"] == "delivered" and d, what="delivered callback")
    assert delivery["contactId"] == "alice" and delivery["channel"] == "sms" and delivery["attempts"] == 1
    assert delivery["providerMessageId"] == sms[0]["messageSid"]
    assert "+1555" not in json.dumps(delivery, default=str) and "@" not in json.dumps(delivery, default=str)
    assert e2e.emails_to("alice@example.test") == []


def test_malformed_alert_is_marked_invalid_without_send_or_retry(e2e):
    before = requests.get(f"{e2e.stack.relay_url}/__relay/stats", timeout=5).json()
    alert_id = e2e.write_alert("alice-site", siteId=..., severity="urgent")
    alert = e2e.wait_final(alert_id)
    assert (alert["status"], alert["statusReason"]) == ("invalid", "missing_field:siteId")
    after = requests.get(f"{e2e.stack.relay_url}/__relay/stats", timeout=5).json()
    assert after["retried"] == before["retried"] and after["dropped"] == before["dropped"]
    assert e2e.twilio_requests("all") == [] and e2e.sendgrid_requests() == []
    assert e2e.deliveries(alert_id) == {}


def test_tenant_mismatch_between_path_and_body_is_invalid(e2e):
    alert_id = e2e.write_alert("alice-site", tenant="t-acme", tenantId="t-other")
    alert = e2e.wait_final(alert_id)
    assert (alert["status"], alert["statusReason"]) == ("invalid", "tenant_mismatch")
    assert e2e.twilio_requests("all") == []


def test_tenants_are_isolated(e2e):
    alert_id = e2e.write_alert("alice-site", tenant="t-other")
    assert e2e.wait_final(alert_id, tenant="t-other")["status"] == "notified"
    assert len(e2e.sms_to("+15551239999")) == 1 and e2e.sms_to(ALICE) == []
    assert e2e.alert(alert_id, tenant="t-acme") == {}


def test_opted_out_number_falls_back_to_email_without_sms_retry(e2e):
    alert_id = e2e.write_alert("optout-site")
    alert = e2e.wait_final(alert_id)
    assert alert["status"] == "notified"
    deliveries = e2e.deliveries(alert_id)
    sms, email = deliveries["opted-out-number.sms"], deliveries["opted-out-number.email"]
    assert (sms["status"], sms["errorCode"], sms["attempts"]) == ("failed", "21610", 1)
    assert email["fallbackOf"] == "opted-out-number.sms" and email["status"] in ("sent", "delivered")
    assert len(e2e.sms_attempts_to("+15005550004")) == 1
    assert len(e2e.emails_to("stopper@example.test")) == 1


def test_two_429s_then_success_goes_through_the_retry_topic(e2e):
    e2e.rule("twilio", {"match": {"to": BOB}, "respond": {"status": 429, "code": 20429, "retryAfter": 1}, "times": 2})
    alert_id = e2e.write_alert("bob-site")
    alert = e2e.wait_final(alert_id)
    assert alert["status"] == "notified"
    delivery = e2e.deliveries(alert_id)["bob.sms"]
    assert delivery["attempts"] == 3 and delivery["status"] in ("sent", "delivered")
    assert [r["status"] for r in e2e.sms_attempts_to(BOB)] == [429, 429, 201]
    assert e2e.emails_to("bob@example.test") == []


def test_twilio_down_for_good_exhausts_attempts_then_emails(e2e):
    e2e.rule("twilio", {"match": {"to": CAROL}, "respond": {"status": 503, "code": 20503}, "times": None})
    alert_id = e2e.write_alert("carol-site")
    alert = e2e.wait_final(alert_id)
    assert alert["status"] == "notified"
    deliveries = e2e.deliveries(alert_id)
    assert (deliveries["carol.sms"]["status"], deliveries["carol.sms"]["attempts"]) == ("failed", 4)
    assert deliveries["carol.email"]["fallbackOf"] == "carol.sms"
    assert len(e2e.sms_attempts_to(CAROL)) == 4 and len(e2e.emails_to("carol@example.test")) == 1


def test_sms_and_email_both_failing_ends_failed_on_the_dead_letter_topic(e2e, dead_letters):
    e2e.rule("twilio", {"match": {"to": DAVE}, "respond": {"status": 400, "code": 21211}, "times": None})
    e2e.rule("sendgrid", {"match": {"to": "dave@example.test"}, "respond": {"status": 500}, "times": None})
    alert_id = e2e.write_alert("dave-site")
    alert = e2e.wait_final(alert_id)
    assert (alert["status"], alert["statusReason"]) == ("failed", "unreachable")
    deliveries = e2e.deliveries(alert_id)
    assert deliveries["dave.sms"]["status"] == "failed" and deliveries["dave.email"]["status"] == "failed"
    assert deliveries["dave.email"]["attempts"] == 4  # 500 is transient: retried, then given up
    letters = e2e.wait_for(lambda: [m for m in dead_letters() if m["alertId"] == alert_id], what="a dead letter")
    assert letters[0]["deliveryId"] == "dave.email"


def _document_event(e2e, alert_id: str, fields: dict) -> tuple[dict, bytes]:
    """The CloudEvent the relay would deliver for this document (binary mode, DocumentEventData)."""
    project = e2e.stack.project_id
    name = f"projects/{project}/databases/(default)/documents/tenants/t-acme/alerts/{alert_id}"
    values = {
        key: Value(timestamp_value=v) if isinstance(v, datetime)
        else Value(integer_value=v) if isinstance(v, int)
        else Value(map_value={"fields": {k: Value(string_value=s) for k, s in v.items()}}) if isinstance(v, dict)
        else Value(string_value=v)
        for key, v in fields.items()
    }
    body = DocumentEventData.serialize(DocumentEventData(value=Document(name=name, fields=values)))
    headers = {
        "ce-id": f"redelivered-{alert_id}",
        "ce-specversion": "1.0",
        "ce-type": "google.cloud.firestore.document.v1.created",
        "ce-source": f"//firestore.googleapis.com/projects/{project}/databases/(default)",
        "ce-subject": f"documents/tenants/t-acme/alerts/{alert_id}",
        "ce-time": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        "Content-Type": "application/protobuf",
    }
    return headers, body


def test_the_same_cloud_event_delivered_five_times_concurrently_sends_one_sms(e2e):
    alert_id = "concurrent-" + os.urandom(6).hex()
    fields = e2e.alert_fields("erin-site")
    headers, body = _document_event(e2e, alert_id, fields)
    url = e2e.stack.functions["on_alert_created"]
    # The real trigger path delivers it once, and four copies race it.
    e2e.db.document("tenants", "t-acme", "alerts", alert_id).create(fields)
    with ThreadPoolExecutor(max_workers=6) as pool:
        posts = [pool.submit(requests.post, url, data=body, headers=headers, timeout=30) for _ in range(4)]
        assert all(p.result().status_code < 300 for p in posts)
    e2e.wait_final(alert_id)
    assert len(e2e.sms_to(ERIN)) == 1
    assert list(e2e.deliveries(alert_id)) == ["erin.sms"]
    # Redelivered long after it finished: still nothing more.
    assert requests.post(url, data=body, headers=headers, timeout=30).status_code < 300
    assert len(e2e.sms_attempts_to(ERIN)) == 1 and e2e.emails_to("erin@example.test") == []


def test_flapping_point_is_deduplicated_within_the_window(e2e):
    source = "AHU-flap/ZN-T"
    first = e2e.write_alert("alice-site", source=source)
    e2e.wait_final(first)
    second = e2e.write_alert("alice-site", source=source)
    alert = e2e.wait_final(second)
    assert (alert["status"], alert["statusReason"]) == ("suppressed", "duplicate")
    assert len(e2e.sms_to(ALICE)) == 1


def test_contact_budget_suppresses_an_alarm_storm(e2e):
    ids = [e2e.write_alert("alice-site", source=f"AHU-{n}/ZN-T") for n in range(5)]
    statuses = [e2e.wait_final(alert_id)["status"] for alert_id in ids]
    assert sorted(statuses) == ["notified"] * 3 + ["suppressed"] * 2  # perContact limit is 3 in the test config
    assert len(e2e.sms_to(ALICE)) == 3


def test_no_route_is_suppressed(e2e):
    alert_id = e2e.write_alert("unrouted-site")
    alert = e2e.wait_final(alert_id)
    assert (alert["status"], alert["statusReason"]) == ("suppressed", "no_route")


def test_critical_alerts_page_even_when_the_contact_budget_is_spent(e2e):
    ids = [e2e.write_alert("alice-site", source=f"AHU-{n}/ZN-T") for n in range(3)]
    assert [e2e.wait_final(a)["status"] for a in ids] == ["notified"] * 3
    minor = e2e.write_alert("alice-site", source="AHU-9/ZN-T")
    assert e2e.wait_final(minor)["statusReason"] == "rate_limited"
    critical = e2e.write_alert("alice-site", source="AHU-10/ZN-T", severity="critical")
    assert e2e.wait_final(critical)["status"] == "notified"
    assert len(e2e.sms_to(ALICE)) == 4


def test_a_number_twilio_rejected_for_good_is_not_tried_again(e2e):
    first = e2e.write_alert("invalid-site")
    e2e.wait_final(first)
    second = e2e.write_alert("invalid-site")
    assert e2e.wait_final(second)["status"] == "notified"
    assert len(e2e.sms_attempts_to("+15005550001")) == 1  # only the first alert tried the number
    sms = e2e.deliveries(second)["invalid-number.sms"]
    assert (sms["status"], sms["errorCode"]) == ("suppressed", "bad_address:21211")
    assert e2e.deliveries(second)["invalid-number.email"]["fallbackOf"] == "invalid-number.sms"
    assert len(e2e.emails_to("invalid@example.test")) == 2
