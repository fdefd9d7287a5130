"""Regressions for what a break-it review found, each end to end on the emulators."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from shared.models import Channel, DeliveryStatus
from shared.store import AlertStore

from .test_pipeline_e2e import ALICE, BOB, CAROL

pytestmark = pytest.mark.emulators


def test_a_retry_after_longer_than_the_wait_cap_still_ends_in_an_email(e2e):
    e2e.rule("twilio", {"match": {"to": ALICE}, "respond": {"status": 429, "code": 20429, "retryAfter": 90}, "times": None})
    alert_id = e2e.write_alert("alice-site", severity="critical")
    assert e2e.wait_final(alert_id, timeout=60)["status"] == "notified"
    deliveries = e2e.deliveries(alert_id)
    assert (deliveries["alice.sms"]["status"], deliveries["alice.sms"]["attempts"]) == ("failed", 4)
    assert deliveries["alice.email"]["status"] in ("sent", "delivered")


def test_a_2xx_twilio_cannot_parse_is_bounded_and_falls_back(e2e):
    e2e.rule("twilio", {"match": {"to": BOB, "kind": "create"},
                        "respond": {"status": 200, "body": "<html>captive portal</html>", "contentType": "text/html"}, "times": None})
    alert_id = e2e.write_alert("bob-site")
    assert e2e.wait_final(alert_id, timeout=90)["status"] == "notified"
    assert 1 <= len(e2e.sms_attempts_to(BOB)) <= 4
    assert e2e.deliveries(alert_id)["bob.email"]["status"] in ("sent", "delivered")


def test_an_escalation_to_critical_is_not_a_duplicate(e2e):
    source = "AHU-esc/ZN-T"
    major = e2e.write_alert("team-site", source=source, severity="major")
    e2e.wait_final(major)
    critical = e2e.write_alert("team-site", source=source, severity="critical")
    assert e2e.wait_final(critical)["status"] == "notified"
    again = e2e.write_alert("team-site", source=source, severity="major")
    assert e2e.wait_final(again)["statusReason"] == "duplicate"


def test_a_status_written_by_the_producer_is_not_obeyed(e2e):
    alert_id = e2e.write_alert("carol-site", status="invalid", statusReason="bogus")
    e2e.wait_for(lambda: e2e.alert(alert_id).get("processedAt"), what="the service's own status")
    alert = e2e.wait_final(alert_id)
    assert (alert["status"], alert["statusReason"]) == ("notified", None)
    assert len(e2e.sms_to(CAROL)) == 1


def test_fallback_emails_have_a_budget_of_their_own(e2e):
    ids = [e2e.write_alert("invalid-site", source=f"AHU-{n}/ZN-T") for n in range(5)]
    for alert_id in ids:
        e2e.wait_final(alert_id)
    assert len(e2e.emails_to("invalid@example.test")) == 3  # perContact limit of the test configuration
    reasons = sorted(e2e.alert(a)["statusReason"] or "-" for a in ids)
    assert reasons == ["-", "-", "-", "rate_limited", "rate_limited"]


@pytest.fixture
def store(e2e):
    return AlertStore(e2e.db)


def _sending_delivery(e2e, alert_id: str) -> None:
    e2e.db.document("tenants", "t-acme", "alerts", alert_id).set({"x": 1})
    now = datetime.now(timezone.utc)
    e2e.db.document("tenants", "t-acme", "alerts", alert_id, "deliveries", "alice.sms").set({
        "tenantId": "t-acme", "alertId": alert_id, "deliveryId": "alice.sms", "contactId": "alice", "channel": "sms",
        "status": "sending", "attempts": 1, "providerMessageId": None, "errorCode": None, "createdAt": now,
        "claimedAt": now, "leaseExpiresAt": now + timedelta(seconds=30),
    })


def test_a_report_that_beats_the_send_call_is_not_overwritten_by_it(e2e, store):
    _sending_delivery(e2e, "race-1")
    retry_at = datetime.now(timezone.utc) + timedelta(seconds=5)
    change = store.apply_provider_status("t-acme", "race-1", "alice.sms", DeliveryStatus.FAILED,
                                         {"providerMessageId": "SM1", "errorCode": "30003"}, retry_once_at=retry_at)
    assert change.written is DeliveryStatus.RETRYING
    # ...and only now does the send call return and record its success.
    wrote_status = store.record_attempt("t-acme", "race-1", "alice.sms", 1, {"status": "sent", "providerMessageId": "SM1", "errorCode": None})
    assert wrote_status is False
    delivery = store.get_delivery("t-acme", "race-1", "alice.sms")
    assert (delivery["status"], delivery["errorCode"], delivery["providerMessageId"]) == ("retrying", "30003", "SM1")


def test_a_late_report_about_an_earlier_attempts_message_is_ignored(e2e, store):
    _sending_delivery(e2e, "race-2")
    store.record_attempt("t-acme", "race-2", "alice.sms", 1, {"status": "sent", "providerMessageId": "SM-first"})
    retry_at = datetime.now(timezone.utc)
    store.apply_provider_status("t-acme", "race-2", "alice.sms", DeliveryStatus.FAILED, {"providerMessageId": "SM-first", "errorCode": "30003"}, retry_once_at=retry_at)
    assert store.claim_attempt("t-acme", "race-2", "alice.sms", 2, lease_seconds=30) is not None
    store.record_attempt("t-acme", "race-2", "alice.sms", 2, {"status": "sent", "providerMessageId": "SM-second"})
    assert store.apply_provider_status("t-acme", "race-2", "alice.sms", DeliveryStatus.FAILED, {"providerMessageId": "SM-first", "errorCode": "30003"}) is None
    delivery = store.get_delivery("t-acme", "race-2", "alice.sms")
    assert (delivery["status"], delivery["providerMessageId"]) == ("sent", "SM-second")
    assert store.apply_provider_status("t-acme", "race-2", "alice.sms", DeliveryStatus.DELIVERED, {"providerMessageId": "SM-second"}) is not None


def test_a_redelivered_event_never_turns_a_notified_alert_into_a_duplicate(e2e):
    from .test_pipeline_e2e import _document_event

    fields = e2e.alert_fields("alice-site", source="AHU-redeliver/ZN-T")
    first = "first-" + e2e.write_alert("alice-site", source="AHU-other/ZN-T")[:8]
    e2e.db.document("tenants", "t-acme", "alerts", first).create(fields)
    assert e2e.wait_final(first)["status"] == "notified"
    second = e2e.write_alert("alice-site", source="AHU-redeliver/ZN-T")
    assert e2e.wait_final(second)["statusReason"] == "duplicate"
    headers, body = _document_event(e2e, first, fields)
    import requests

    assert requests.post(e2e.stack.functions["on_alert_created"], data=body, headers=headers, timeout=30).status_code < 300
    assert e2e.alert(first)["status"] == "notified"


def test_a_point_flapping_offnormal_normal_is_caught_on_its_second_offnormal(e2e):
    source = "AHU-flapping/ZN-T"
    statuses = []
    for event_type in ("offnormal", "normal", "offnormal", "normal", "offnormal"):
        alert_id = e2e.write_alert("alice-site", source=source, eventType=event_type)
        statuses.append(e2e.wait_final(alert_id)["statusReason"])
    # The first offnormal and the first return to normal go out; every repeat within the window is a duplicate.
    assert statuses == [None, None, "duplicate", "duplicate", "duplicate"]
    assert len(e2e.sms_to(ALICE)) == 2


def test_the_last_allowed_sms_timing_out_is_looked_up_before_falling_back(e2e):
    e2e.rule("twilio", {"match": {"to": CAROL, "kind": "create"}, "respond": {"status": 429, "code": 20429}, "times": 3})
    # The 4th (last) attempt times out at the client (2 s) but Twilio accepts it at 3 s, with no useful callback.
    e2e.rule("twilio", {"match": {"to": CAROL, "kind": "create"},
                        "respond": {"hangSeconds": 3, "acceptThenCallback": {"statuses": ["queued"]}}, "times": 1})
    alert_id = e2e.write_alert("carol-site")
    assert e2e.wait_final(alert_id, timeout=60)["status"] == "notified"
    sms = e2e.deliveries(alert_id)["carol.sms"]
    assert sms["status"] == "sent" and sms["providerMessageId"]
    assert "carol.email" not in e2e.deliveries(alert_id) and e2e.emails_to("carol@example.test") == []
