"""Issue 3's guarantees, each end to end: at most one SMS and one fallback email per contact
and alert under every redelivery, crash and timeout; webhooks that confirm and can't be forged."""

from __future__ import annotations

import base64
import json
import os
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from twilio.request_validator import RequestValidator

from local import stack as local_stack

from .conftest import STATE_DIR
from .test_pipeline_e2e import ALICE, BOB, CAROL, DAVE, ERIN, _document_event

pytestmark = pytest.mark.emulators


def push(e2e, function: str, topic: str, payload: dict, attributes: dict | None = None) -> requests.Response:
    """What the Pub/Sub emulator's push subscription sends, delivered by hand (e.g. a redelivery)."""
    envelope = {
        "message": {
            "data": base64.b64encode(json.dumps(payload).encode()).decode(),
            "attributes": attributes or {},
            "messageId": uuid.uuid4().hex,
            "publishTime": datetime.now(timezone.utc).isoformat().replace("+00:00", "Z"),
        },
        "subscription": f"projects/{e2e.stack.project_id}/subscriptions/manual",
    }
    base = e2e.stack.functions[function].rstrip("/")
    return requests.post(f"{base}/projects/{e2e.stack.project_id}/topics/{topic}", json=envelope, timeout=30)


def job(alert_id, delivery_id, attempt, tenant="t-acme", reason="transient"):
    return {"tenantId": tenant, "alertId": alert_id, "deliveryId": delivery_id, "attempt": attempt,
            "notBefore": datetime.now(timezone.utc).isoformat(), "reason": reason}


def function_logs(name: str) -> str:
    return (STATE_DIR / "logs" / f"function-{name}.log").read_text(errors="replace")


def test_retry_job_delivered_twice_concurrently_and_after_success_sends_nothing_more(e2e):
    e2e.rule("twilio", {"match": {"to": BOB}, "respond": {"status": 429, "code": 20429}, "times": 1})
    alert_id = e2e.write_alert("bob-site")
    e2e.wait_final(alert_id)
    assert [r["status"] for r in e2e.sms_attempts_to(BOB)] == [429, 201]
    with ThreadPoolExecutor(max_workers=3) as pool:
        answers = list(pool.map(lambda _: push(e2e, "on_alert_retry", "alert-retry", job(alert_id, "bob.sms", 2)), range(3)))
    assert all(a.status_code < 300 for a in answers)
    assert push(e2e, "on_alert_retry", "alert-retry", job(alert_id, "bob.sms", 3)).status_code < 300  # a job from the future
    assert [r["status"] for r in e2e.sms_attempts_to(BOB)] == [429, 201]
    assert e2e.deliveries(alert_id)["bob.sms"]["attempts"] == 2


def test_three_429s_with_retry_after_then_success(e2e):
    e2e.rule("twilio", {"match": {"to": CAROL}, "respond": {"status": 429, "code": 20429, "retryAfter": 1}, "times": 3})
    alert_id = e2e.write_alert("carol-site")
    assert e2e.wait_final(alert_id, timeout=40)["status"] == "notified"
    attempts = e2e.sms_attempts_to(CAROL)
    assert [r["status"] for r in attempts] == [429, 429, 429, 201]
    gaps = [later["receivedAt"] - earlier["receivedAt"] for earlier, later in zip(attempts, attempts[1:])]
    assert min(gaps) >= 0.9, f"Retry-After: 1 not honoured: {gaps}"  # a lower bound on a delay, not a speed check
    assert e2e.deliveries(alert_id)["carol.sms"]["attempts"] == 4 and e2e.emails_to("carol@example.test") == []


def test_provider_hanging_past_the_sdk_timeout_is_looked_up_not_resent(e2e):
    # The SDK gives up after 2 s (PROVIDER_TIMEOUT_SECONDS); Twilio accepts the message at 3 s anyway.
    e2e.rule("twilio", {"match": {"to": DAVE, "kind": "create"}, "respond": {"hangSeconds": 3}, "times": 1})
    alert_id = e2e.write_alert("dave-site")
    alert = e2e.wait_final(alert_id, timeout=40)
    assert alert["status"] == "notified"
    assert len(e2e.sms_attempts_to(DAVE)) == 1
    delivery = e2e.deliveries(alert_id)["dave.sms"]
    assert delivery["status"] in ("sent", "delivered") and delivery["providerMessageId"] == e2e.sms_attempts_to(DAVE)[0]["messageSid"]
    assert e2e.emails_to("dave@example.test") == []


def test_crash_after_the_provider_accepted_is_reconciled_by_the_sweeper(e2e):
    # Accepted after 1.5 s, with no useful status callback: only the sweeper's lookup can settle it.
    e2e.rule("twilio", {"match": {"to": ERIN, "kind": "create"},
                        "respond": {"hangSeconds": 1.5, "acceptThenCallback": {"statuses": ["queued"]}}, "times": 1})
    alert_id = e2e.write_alert("erin-site")
    e2e.wait_for(lambda: e2e.sms_attempts_to(ERIN), what="the send to reach Twilio")
    local_stack.crash_function(STATE_DIR, "on_alert_created")  # dies mid-send; the relay will redeliver the event
    local_stack.start_function(STATE_DIR, "on_alert_created")
    alert = e2e.wait_final(alert_id, timeout=60)
    assert alert["status"] == "notified"
    assert len(e2e.sms_attempts_to(ERIN)) == 1, "a crash must not cause a second SMS"
    delivery = e2e.deliveries(alert_id)["erin.sms"]
    assert delivery["status"] == "sent" and delivery["providerMessageId"] == e2e.sms_attempts_to(ERIN)[0]["messageSid"]
    assert "lease_expired" in function_logs("on_sweep") or delivery["attempts"] == 2


def test_21610_in_a_status_callback_after_sent_opts_out_and_falls_back_to_email(e2e):
    e2e.rule("twilio", {"match": {"to": ALICE}, "respond": {"acceptThenCallback": {"status": "undelivered", "errorCode": 21610}}, "times": 1})
    alert_id = e2e.write_alert("alice-site")
    e2e.wait_for(lambda: "alice.email" in e2e.deliveries(alert_id), what="the fallback email")
    alert = e2e.wait_final(alert_id)
    deliveries = e2e.deliveries(alert_id)
    assert (deliveries["alice.sms"]["status"], deliveries["alice.sms"]["errorCode"]) == ("failed", "21610")
    assert deliveries["alice.email"]["fallbackOf"] == "alice.sms" and alert["status"] == "notified"
    second = e2e.write_alert("alice-site")
    e2e.wait_final(second)
    assert (e2e.deliveries(second)["alice.sms"]["status"], e2e.deliveries(second)["alice.sms"]["errorCode"]) == ("suppressed", "opted_out")
    assert len(e2e.sms_attempts_to(ALICE)) == 1 and len(e2e.emails_to("alice@example.test")) == 2


def test_a_late_sent_callback_never_downgrades_delivered(e2e):
    e2e.rule("twilio", {"match": {"to": BOB}, "respond": {"acceptThenCallback": {"statuses": ["delivered", "sent"]}}, "times": 1})
    alert_id = e2e.write_alert("bob-site")
    e2e.wait_final(alert_id)
    callbacks = lambda: [w for w in requests.get(f"{e2e.stack.twilio_url}/__admin/webhooks", timeout=5).json() if w.get("kind") == "status_callback"]
    e2e.wait_for(lambda: len(callbacks()) >= 2 and all(c.get("status") for c in callbacks()), what="both callbacks answered")
    assert e2e.deliveries(alert_id)["bob.sms"]["status"] == "delivered"


def _status_callback(e2e, alert_id, **spec):
    sid = e2e.deliveries(alert_id)["carol.sms"]["providerMessageId"]
    return requests.post(f"{e2e.stack.twilio_url}/__admin/status-callback", json={"messageSid": sid, **spec}, timeout=10).json()


def test_callbacks_signed_for_the_public_url_are_accepted_on_the_internal_host_and_forgeries_are_not(e2e):
    e2e.rule("twilio", {"match": {"to": CAROL}, "respond": {"acceptThenCallback": {"status": "sent"}}, "times": 1})
    alert_id = e2e.write_alert("carol-site")
    e2e.wait_for(lambda: e2e.deliveries(alert_id).get("carol.sms", {}).get("status") == "sent", what="sent")
    assert _status_callback(e2e, alert_id, status="delivered", forge=True)["status"] == 403
    assert e2e.deliveries(alert_id)["carol.sms"]["status"] == "sent"
    # Signed for the URL the function sees internally, as a naive validator would expect: rejected.
    internal = e2e.stack.functions["twilio_status"].rstrip("/") + "/?" + "t=t-acme&a=" + alert_id + "&d=carol.sms"
    form = {"MessageSid": e2e.deliveries(alert_id)["carol.sms"]["providerMessageId"], "MessageStatus": "delivered"}
    token = e2e.stack.env["TWILIO_AUTH_TOKEN"]
    signature = RequestValidator(token).compute_signature(internal, form)
    assert requests.post(internal, data=form, headers={"X-Twilio-Signature": signature}, timeout=10).status_code == 403
    assert e2e.deliveries(alert_id)["carol.sms"]["status"] == "sent"
    # The genuine one, signed for the public URL and routed to the internal host by the "load balancer".
    assert _status_callback(e2e, alert_id, status="delivered")["status"] < 300
    assert e2e.deliveries(alert_id)["carol.sms"]["status"] == "delivered"


def test_sendgrid_events_confirm_the_fallback_email_and_stale_or_forged_ones_change_nothing(e2e):
    alert_id = e2e.write_alert("invalid-site")  # +15005550001: 21211, then email
    e2e.wait_final(alert_id)
    email = e2e.wait_for(lambda: (d := e2e.deliveries(alert_id)["invalid-number.email"])["status"] == "delivered" and d, what="delivered event")
    assert email["providerMessageId"] and email["fallbackOf"] == "invalid-number.sms"
    bounce = [{"email": "invalid@example.test", "event": "bounce", "timestamp": int(time.time()), "tenantId": "t-acme",
               "alertId": alert_id, "deliveryId": "invalid-number.email", "sg_message_id": "x.filter"}]
    for stale_or_forged in ({"timestampOffset": -600}, {"forge": True}):
        sent = requests.post(f"{e2e.stack.sendgrid_url}/__admin/events", json={"events": bounce, **stale_or_forged}, timeout=10).json()
        assert sent["status"] == 403
    assert e2e.deliveries(alert_id)["invalid-number.email"]["status"] == "delivered"


def test_a_bounced_fallback_email_fails_the_alert(e2e):
    e2e.rule("sendgrid", {"match": {"to": "invalid@example.test"}, "respond": {"acceptThenEvent": {"event": "bounce", "reason": "550 no such user"}}, "times": 1})
    alert_id = e2e.write_alert("invalid-site")
    e2e.wait_for(lambda: e2e.deliveries(alert_id).get("invalid-number.email", {}).get("status") == "failed", what="bounce recorded")
    # The email was "processed" (sent) first, so the alert was briefly notified; the bounce turns it to failed.
    e2e.wait_for(lambda: e2e.alert(alert_id)["status"] == "failed", what="the alert to turn failed")
    assert e2e.alert(alert_id)["statusReason"] == "unreachable"


def _stale(headers: dict) -> dict:
    return {**headers, "ce-time": (datetime.now(timezone.utc) - timedelta(minutes=20)).isoformat().replace("+00:00", "Z")}


def test_an_event_older_than_the_maximum_age_is_recorded_and_dropped(e2e):
    # The trigger for this document was lost (relay down); its event turns up 20 minutes late.
    alert_id = "stale-" + uuid.uuid4().hex[:8]
    fields = e2e.alert_fields("alice-site")
    local_stack.stop_relay(STATE_DIR)
    try:
        e2e.db.document("tenants", "t-acme", "alerts", alert_id).create(fields)
    finally:
        local_stack.start_relay(STATE_DIR)
    headers, body = _document_event(e2e, alert_id, fields)
    assert requests.post(e2e.stack.functions["on_alert_created"], data=body, headers=_stale(headers), timeout=30).status_code < 300
    assert (e2e.alert(alert_id)["status"], e2e.alert(alert_id)["statusReason"]) == ("suppressed", "stale_event")
    assert e2e.twilio_requests("all") == []


def test_a_stale_duplicate_of_a_processed_event_changes_nothing(e2e):
    alert_id = e2e.write_alert("alice-site")
    assert e2e.wait_final(alert_id)["status"] == "notified"
    headers, body = _document_event(e2e, alert_id, e2e.alert_fields("alice-site"))
    assert requests.post(e2e.stack.functions["on_alert_created"], data=body, headers=_stale(headers), timeout=30).status_code < 300
    assert e2e.alert(alert_id)["status"] == "notified" and len(e2e.sms_attempts_to(ALICE)) == 1


def test_provider_error_text_with_the_phone_number_never_reaches_a_log(e2e):
    e2e.rule("twilio", {"match": {"to": ERIN}, "respond": {"status": 400, "code": 21614, "message": f"'To' number {ERIN} is not a mobile number"}, "times": 1})
    alert_id = e2e.write_alert("erin-site")
    e2e.wait_final(alert_id)
    assert e2e.sms_attempts_to(ERIN)[0]["response"]["message"].endswith("is not a mobile number")
    logs = "".join(function_logs(name) for name in ("on_alert_created", "on_alert_retry"))
    assert alert_id in logs and "21614" in logs
    assert ERIN not in logs and ERIN[1:] not in logs and "erin@example.test" not in logs


def test_dead_letter_consumer_is_idempotent(e2e):
    e2e.rule("twilio", {"match": {"to": BOB}, "respond": {"status": 503}, "times": None})
    alert_id = e2e.write_alert("bob-site")
    e2e.wait_for(lambda: e2e.deliveries(alert_id).get("bob.sms", {}).get("status") == "retrying", what="retrying")
    letter = job(alert_id, "bob.sms", 1, reason="delivery_attempts_exhausted")
    for _ in range(2):
        assert push(e2e, "on_dead_letter", "alert-dead-letter", letter, {"reason": "crashing_consumer"}).status_code < 300
    delivery = e2e.deliveries(alert_id)["bob.sms"]
    assert (delivery["status"], delivery["errorCode"]) == ("failed", "dead_letter:crashing_consumer")
    requests.delete(f"{e2e.stack.twilio_url}/__admin/rules", timeout=5)
    e2e.wait_final(alert_id)
    assert len(e2e.emails_to("bob@example.test")) <= 1


def _inbound(e2e, sender: str, body: str, forge: bool = False) -> dict:
    spec = {"from": sender, "to": e2e.stack.env["TWILIO_FROM_NUMBER"], "body": body,
            "url": e2e.stack.public_url("twilio_inbound"), "forge": forge}
    return requests.post(f"{e2e.stack.twilio_url}/__admin/inbound", json=spec, timeout=10).json()


def test_ack_reply_acknowledges_the_alert(e2e):
    alert_id = e2e.write_alert("alice-site")
    e2e.wait_final(alert_id)
    code = re.search(r"ACK (\w+)$", e2e.sms_to(ALICE)[0]["form"]["Body"]).group(1)
    assert _inbound(e2e, ALICE, "ack WRONG1")["status"] == 200
    assert e2e.alert(alert_id)["status"] == "notified"
    assert _inbound(e2e, BOB, f"ACK {code}")["status"] == 200  # somebody else's code does nothing
    assert e2e.alert(alert_id)["status"] == "notified"
    assert _inbound(e2e, ALICE, f"ACK {code}", forge=True)["status"] == 403
    answer = _inbound(e2e, ALICE, f" ack {code.lower()} ")
    assert answer["status"] == 200 and "Acknowledged" in answer["body"]
    alert = e2e.alert(alert_id)
    assert (alert["status"], alert["acknowledgedBy"]) == ("acknowledged", "alice") and alert["acknowledgedAt"]


def test_stop_opts_out_of_sms_and_start_opts_back_in(e2e):
    assert _inbound(e2e, BOB, "STOP")["status"] == 200
    first = e2e.write_alert("bob-site")
    e2e.wait_final(first)
    assert e2e.sms_attempts_to(BOB) == [] and len(e2e.emails_to("bob@example.test")) == 1
    assert e2e.deliveries(first)["bob.email"]["status"] in ("sent", "delivered")
    assert _inbound(e2e, BOB, "START")["status"] == 200
    second = e2e.write_alert("bob-site", source="AHU-other/ZN-T")
    e2e.wait_final(second)
    assert len(e2e.sms_to(BOB)) == 1


def test_undelivered_30003_is_retried_once_later(e2e):
    e2e.rule("twilio", {"match": {"to": CAROL}, "respond": {"acceptThenCallback": {"status": "undelivered", "errorCode": 30003}}, "times": 1})
    alert_id = e2e.write_alert("carol-site")
    e2e.wait_for(lambda: e2e.deliveries(alert_id).get("carol.sms", {}).get("status") == "delivered", timeout=30, what="the retried SMS delivered")
    delivery = e2e.deliveries(alert_id)["carol.sms"]
    assert delivery["callbackRetried"] is True and delivery["attempts"] == 2
    assert len(e2e.sms_to(CAROL)) == 2 and e2e.emails_to("carol@example.test") == []


def test_undelivered_30003_twice_falls_back_to_email(e2e):
    e2e.rule("twilio", {"match": {"to": DAVE}, "respond": {"acceptThenCallback": {"status": "undelivered", "errorCode": 30003}}, "times": 2})
    alert_id = e2e.write_alert("dave-site")
    e2e.wait_for(lambda: "dave.email" in e2e.deliveries(alert_id), timeout=30, what="the fallback email")
    assert e2e.deliveries(alert_id)["dave.sms"]["status"] == "failed"
    assert len(e2e.sms_to(DAVE)) == 2


@pytest.fixture
def fresh_trigger_instance():
    """The breaker lives in the function instance; a new instance afterwards keeps it out of other tests."""
    yield
    local_stack.stop_function(STATE_DIR, "on_alert_created")
    local_stack.start_function(STATE_DIR, "on_alert_created")


def test_a_config_error_pauses_sms_instead_of_failing_every_recipient(e2e, fresh_trigger_instance):
    e2e.rule("twilio", {"match": {"kind": "create"}, "respond": {"status": 401, "code": 20003}, "times": None})
    first = e2e.write_alert("team-site")  # alice, bob and carol at once
    e2e.wait_final(first)
    calls_for_first = len(e2e.twilio_requests())
    second = e2e.write_alert("team-site", source="AHU-2/ZN-T")
    assert e2e.wait_final(second)["status"] == "notified"
    assert len(e2e.twilio_requests()) == calls_for_first <= 3  # the second alert never called Twilio
    assert {d["errorCode"] for d in e2e.deliveries(second).values() if d["channel"] == "sms"} == {"breaker_open"}
    for who in ("alice", "bob", "carol"):
        assert len(e2e.emails_to(f"{who}@example.test")) == 2
    assert "configuration error; channel paused" in function_logs("on_alert_created")


def test_an_email_with_an_unknown_outcome_is_resent_at_most_once(e2e):
    # SendGrid hangs past the SDK timeout every time (and in the end refuses): no lookup exists for email.
    e2e.rule("sendgrid", {"match": {"to": "invalid@example.test"}, "respond": {"hangSeconds": 3, "status": 500}, "times": None})
    alert_id = e2e.write_alert("invalid-site")
    email = e2e.wait_for(lambda: (d := e2e.deliveries(alert_id).get("invalid-number.email", {})).get("status") == "failed" and d,
                         timeout=40, what="the email to be given up")
    assert (email["errorCode"], email["resent"], email["attempts"]) == ("unconfirmed", True, 2)
    time.sleep(2)  # nothing more may follow
    assert len(e2e.emails_to("invalid@example.test", accepted_only=False)) == 2


def test_a_deferred_email_is_recorded_without_changing_its_status(e2e):
    e2e.rule("sendgrid", {"match": {"to": "invalid@example.test"}, "respond": {"acceptThenEvent": "deferred"}, "times": 1})
    alert_id = e2e.write_alert("invalid-site")
    email = e2e.wait_for(lambda: (d := e2e.deliveries(alert_id).get("invalid-number.email", {})).get("lastProviderEvent") == "deferred" and d,
                         what="the deferred event recorded")
    assert email["status"] == "sent"  # processed, then deferred: still on its way
