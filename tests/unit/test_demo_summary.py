"""The pure computations behind `make demo`'s summary, on small hand-made inputs."""

from __future__ import annotations

import pytest

from local import demo_summary as ds

TWILIO_PATH = "/2010-04-01/Accounts/AC0123/Messages.json"


def sms(alert_id: str | None, received_at: float, status: int = 201, sid: str | None = None, to: str = "+15551230001", body: str = "[major] S-7: title") -> dict:
    form = {"To": to, "Body": body}
    if alert_id is not None:
        form["StatusCallback"] = f"https://hooks.alerts.test/twilio_status?t=demo-campus&a={alert_id}&d=oncall-hvac.sms"
    response = {"code": 20429} if status == 429 else {"code": 21211} if status == 400 else {"sid": sid}
    return {"method": "POST", "path": TWILIO_PATH, "form": form, "receivedAt": received_at, "status": status,
            "messageSid": sid if 200 <= status < 300 else None, "response": response}


def email(alert_id: str | None, received_at: float, status: int = 202, sid: str | None = None, to: str = "energy@example.test",
          on_personalization: bool = False) -> dict:
    body: dict = {"personalizations": [{"to": [{"email": to}]}], "subject": "s"}
    if alert_id is not None:
        args = {"tenantId": "demo-campus", "alertId": alert_id, "deliveryId": "energy-desk.email"}
        if on_personalization:
            body["personalizations"][0]["custom_args"] = args
        else:
            body["custom_args"] = args
    return {"method": "POST", "path": "/v3/mail/send", "json": body, "receivedAt": received_at, "status": status,
            "messageSid": sid if 200 <= status < 300 else None}


# --------------------------------------------------------------------------- percentile


def test_percentile_of_nothing_is_none():
    assert ds.percentile([], 50) is None


def test_percentile_of_one_value_is_that_value():
    assert ds.percentile([7.0], 50) == 7.0
    assert ds.percentile([7.0], 95) == 7.0


def test_percentile_interpolates_between_ranks():
    assert ds.percentile([4, 1, 3, 2], 50) == 2.5  # order of the input does not matter
    assert ds.percentile([1, 2, 3, 4, 5], 50) == 3
    # rank (5-1)*0.95 = 3.8: 4 + 0.8*(5-4)
    assert ds.percentile([1, 2, 3, 4, 5], 95) == pytest.approx(4.8)
    assert ds.percentile([10, 20], 0) == 10
    assert ds.percentile([10, 20], 100) == 20


def test_percentile_rejects_out_of_range():
    with pytest.raises(ValueError):
        ds.percentile([1, 2], 101)


# --------------------------------------------------------------------------- grouping


def test_count_by_orders_by_count_then_key():
    items = ["b", "a", "c", "a", "b", "a"]
    assert ds.count_by(items, lambda x: x) == [("a", 3), ("b", 2), ("c", 1)]
    assert ds.count_by(["y", "x"], lambda x: x) == [("x", 1), ("y", 1)]


def test_count_by_handles_tuple_keys_with_none():
    alerts = [{"status": "suppressed", "statusReason": None}, {"status": "notified"}, {"status": "suppressed", "statusReason": "rate_limited"}]
    grouped = ds.count_by(alerts, lambda a: (a.get("status"), a.get("statusReason")))
    assert grouped == [(("notified", None), 1), (("suppressed", None), 1), (("suppressed", "rate_limited"), 1)]


def test_provider_request_filters():
    requests = [
        sms("a1", 1.0),
        {"method": "GET", "path": TWILIO_PATH, "status": 200},  # a list call is not a send
        {"method": "POST", "path": "/2010-04-01/Accounts/AC0123/Messages/SM1.json", "status": 200},
    ]
    assert ds.twilio_creates(requests) == [requests[0]]
    sends = [email("a1", 1.0), {"method": "GET", "path": "/v3/mail/send"}]
    assert ds.sendgrid_sends(sends) == [sends[0]]


# --------------------------------------------------------------------------- correlation


def test_alert_ids_from_status_callback_and_custom_args():
    assert ds.twilio_alert_id(sms("abc123", 1.0)) == "abc123"
    assert ds.twilio_alert_id(sms(None, 1.0)) is None
    assert ds.sendgrid_alert_id(email("def456", 1.0)) == "def456"
    assert ds.sendgrid_alert_id(email("ghi789", 1.0, on_personalization=True)) == "ghi789"
    assert ds.sendgrid_alert_id(email(None, 1.0)) is None


def test_first_sends_takes_the_earliest_attempt_even_a_refused_one():
    twilio = [sms("a1", 105.0, status=201, sid="SM2"), sms("a1", 100.5, status=429)]
    sendgrid = [email("a1", 101.0), email("a2", 200.2, sid="m2")]
    firsts = ds.first_sends(twilio, sendgrid, deliveries=[])
    assert firsts["a1"] == ds.FirstSend(100.5, "sms")
    assert firsts["a2"] == ds.FirstSend(200.2, "email")


def test_first_sends_falls_back_to_provider_message_id():
    # No StatusCallback and no custom_args: the delivery document's providerMessageId ties them.
    twilio = [sms(None, 10.25, sid="SMabc")]
    sendgrid = [email(None, 11.5, sid="sg-1")]
    deliveries = [
        {"alertId": "a1", "providerMessageId": "SMabc"},
        {"alertId": "a2", "providerMessageId": "sg-1"},
        {"alertId": "a3", "providerMessageId": None},
    ]
    firsts = ds.first_sends(twilio, sendgrid, deliveries)
    assert firsts == {"a1": ds.FirstSend(10.25, "sms"), "a2": ds.FirstSend(11.5, "email")}


def test_uncorrelatable_requests_are_skipped():
    assert ds.first_sends([sms(None, 1.0, status=429)], [], []) == {}


def test_latencies_in_ms_per_channel():
    written = {"a1": 100.0, "a2": 200.0, "a3": 300.0}  # a3 never reached a provider (suppressed)
    firsts = {"a1": ds.FirstSend(100.05, "sms"), "a2": ds.FirstSend(200.2, "email")}
    assert ds.latencies_ms(written, firsts) == pytest.approx([50.0, 200.0])
    assert ds.latencies_ms(written, firsts, "sms") == pytest.approx([50.0])
    assert ds.latencies_ms(written, firsts, "email") == pytest.approx([200.0])


# --------------------------------------------------------------------------- privacy


def test_privacy_check_flags_an_sms_carrying_its_alert_message():
    messages = {"a1": "Zone temp at AHU-S7/ZN-T has been above the high limit of 76 F for 10 min.", "a2": "Secret details of a2."}
    clean = sms("a1", 1.0, body="[major] S-7: Zone temp high https://x/a/lt1.tok Reply ACK 123456")
    leaky = sms("a2", 2.0, body="[major] S-7: title Secret details of a2. Reply ACK 1")
    assert ds.sms_privacy_leaks([clean], messages) == []
    assert ds.sms_privacy_leaks([clean, leaky], messages) == ["a2"]


def test_privacy_check_compares_an_uncorrelated_sms_with_every_message():
    messages = {"a1": "Message one.", "a2": "Message two."}
    assert ds.sms_privacy_leaks([sms(None, 1.0, body="x Message two. y")], messages) == ["a2"]


def test_privacy_check_catches_a_truncated_long_message():
    message = "A" * 30 + " long explanation that goes on " + "B" * 100
    body = "[major] S-7: t " + message[:70] + "..."
    assert ds.sms_privacy_leaks([sms("a1", 1.0, body=body)], {"a1": message}) == ["a1"]


def test_empty_message_never_counts_as_a_leak():
    assert ds.sms_privacy_leaks([sms("a1", 1.0, body="anything")], {"a1": ""}) == []


# --------------------------------------------------------------------------- waiting, contacts, notes


def test_still_open_lists_missing_and_moving_things():
    alerts = {"a1": {"status": "notified"}, "a2": {"status": "notifying"}, "a3": {}}
    deliveries = [
        {"alertId": "a1", "deliveryId": "x.sms", "status": "delivered"},
        {"alertId": "a2", "deliveryId": "y.sms", "status": "retrying", "attempts": 2, "errorCode": "20429"},
    ]
    items = ds.still_open(["a1", "a2", "a3", "a4"], alerts, deliveries)
    assert items == [
        "alert a2: status notifying",
        "alert a3: status (none yet)",
        "alert a4: document missing",
        "delivery a2/y.sms: retrying (attempts 2, errorCode 20429)",
    ]
    assert ds.still_open(["a1"], {"a1": {"status": "suppressed"}}, [{"status": "failed"}]) == []


def test_per_contact_attributes_requests_by_recipient():
    contacts = {"+15551230001": "oncall-hvac", "+15005550001": "legacy-pager", "Energy@Example.test": "energy-desk"}
    twilio = [sms("a1", 1, to="+15551230001"), sms("a1", 1, status=400, to="+15005550001"), sms("a2", 2, to="+19999999999")]
    sendgrid = [email("a1", 1, to="energy@example.test"), email("a2", 2, status=429, to="energy@example.test")]
    deliveries = [{"contactId": "oncall-hvac", "status": "suppressed"}, {"contactId": "oncall-hvac", "status": "sent"}]
    assert ds.per_contact(twilio, sendgrid, deliveries, contacts) == [
        ("(unknown)", 1, 0, 0, 0, 0),
        ("energy-desk", 0, 0, 1, 1, 0),
        ("legacy-pager", 0, 1, 0, 0, 0),
        ("oncall-hvac", 1, 0, 0, 0, 1),
    ]


def test_rate_limit_note():
    assert ds.rate_limit_note([{"errorCode": None}], {"limit": 20, "windowSeconds": 600}, 30, 40) is None
    note = ds.rate_limit_note([{"contactId": "c1", "errorCode": "rate_limited"}] * 2, {"limit": 20, "windowSeconds": 600}, 29.9, 40)
    assert note.startswith("2 deliveries were rate-limited (c1 2).")
    assert "20 sends per 600s" in note and "29.9 days" in note


def test_table_aligns_numbers_right_and_text_left():
    lines = ds.table(["name", "n"], [("a", 5), ("long name", 123)], indent=0)
    assert lines == ["name         n", "---------  ---", "a            5", "long name  123"]
    assert ds.table(["x", "ms"], [("a", "5 ms"), ("b", "50 ms")], indent=0, right=[1]) == ["x     ms", "-  -----", "a   5 ms", "b  50 ms"]


# --------------------------------------------------------------------------- the whole summary


def _run(**overrides) -> ds.DemoRun:
    fields = dict(
        source="open-fdd",
        source_detail="/data/open-fdd-S7",
        transitions=3,
        alerts={
            "a1": {"status": "notified", "statusReason": None},
            "a2": {"status": "notified"},
            "a3": {"status": "suppressed", "statusReason": "rate_limited"},
        },
        deliveries=[
            {"alertId": "a1", "contactId": "lead", "channel": "sms", "status": "delivered", "attempts": 4, "providerMessageId": "SM1"},
            {"alertId": "a2", "contactId": "pager", "channel": "sms", "status": "failed", "attempts": 1, "errorCode": "21211"},
            {"alertId": "a2", "contactId": "pager", "channel": "email", "status": "sent", "attempts": 1, "fallbackOf": "pager.sms",
             "providerMessageId": "m1"},
            {"alertId": "a3", "contactId": "lead", "channel": "sms", "status": "suppressed", "attempts": 0, "errorCode": "rate_limited"},
        ],
        written_at={"a1": 100.0, "a2": 110.0, "a3": 120.0},
        messages={"a1": "Long explanation one.", "a2": "Long explanation two.", "a3": "Three."},
        twilio_requests=[
            sms("a1", 100.1, status=429), sms("a1", 101.2, status=429), sms("a1", 102.3, status=429),
            sms("a1", 103.4, sid="SM1", to="+15551230002"),
            sms("a2", 110.3, status=400, to="+15005550001"),
        ],
        sendgrid_requests=[email("a2", 110.4, sid="m1", to="pager@example.test")],
        replay_started=99.0,
        replay_finished=120.0,
        drained_at=129.0,
        contact_of_address={"+15551230002": "lead", "+15005550001": "pager", "pager@example.test": "pager"},
    )
    fields.update(overrides)
    return ds.DemoRun(**fields)


def test_summarize_counts_everything():
    s = ds.summarize(_run())
    assert s.alerts == 3 and s.deliveries == 4
    assert dict(s.alerts_by_status) == {("notified", "-"): 2, ("suppressed", "rate_limited"): 1}
    assert (("sms", "failed", "21211"), 1) in s.deliveries_by_channel_status
    assert s.sms_attempts == 5 and s.sms_sent == 1
    assert dict(s.sms_refused) == {"429/20429": 3, "400/21211": 1}
    assert s.email_attempts == 1 and s.emails_sent == 1
    assert s.twilio_429s == 3 and s.sendgrid_429s == 0
    assert s.retried_deliveries == 1 and s.extra_attempts == 3
    assert s.fallbacks == [(("pager", "sent"), 1)]
    assert s.failed_deliveries == [(("pager", "sms", "21211"), 1)]
    assert s.failed_alerts == 0
    assert s.throughput == pytest.approx(3 / 30.0)
    n, p50, p95, biggest = s.latency["all alerts"]
    assert n == 2  # a3 never reached a provider
    assert p50 == pytest.approx(200.0)  # a1: 100.0 -> 100.1 (the first, refused, attempt) = 100 ms; a2: 300 ms
    assert biggest == pytest.approx(300.0)
    assert s.privacy_leaks == [] and s.ok


def test_summary_is_not_ok_when_something_stayed_open_or_leaked():
    assert not ds.summarize(_run(open_items=["alert a9: status notifying"])).ok
    leaky = _run(twilio_requests=[sms("a1", 100.1, body="x Long explanation one. y")])
    assert ds.summarize(leaky).privacy_leaks == ["a1"]
    assert not ds.summarize(leaky).ok


def test_render_is_plain_text_within_the_width():
    text = ds.render(ds.summarize(_run(notes=["a note " * 30], open_items=["alert a9: status notifying"])))
    assert "\x1b" not in text  # no colours
    assert all(len(line) <= 78 for line in text.splitlines()), max(text.splitlines(), key=len)
    for expected in ("Alerts by status", "suppressed", "rate_limited", "429/20429", "Fallbacks", "p95", "OK: none of 5 SMS",
                     "NOT FINISHED", "open-fdd S-7"):
        assert expected in text


def test_render_names_the_synthetic_source():
    text = ds.render(ds.summarize(_run(source="synthetic", source_detail="dataset missing at /nowhere")))
    assert "synthetic scenario" in text and "/nowhere" in text


def test_contacts_column_belongs_to_its_own_error_code_row():
    # Same channel and status, different errorCodes: each row names only the contacts that had that code.
    deliveries = (
        [{"alertId": f"p{i}", "contactId": "legacy-pager", "channel": "sms", "status": "suppressed", "errorCode": "bad_address:21211"}
         for i in range(3)]
        + [{"alertId": f"o{i}", "contactId": "oncall-hvac", "channel": "sms", "status": "suppressed", "errorCode": "rate_limited"}
           for i in range(2)]
    )
    s = ds.summarize(_run(deliveries=deliveries))
    assert s.contacts_by_channel_status[("sms", "suppressed", "bad_address:21211")] == [("legacy-pager", 3)]
    assert s.contacts_by_channel_status[("sms", "suppressed", "rate_limited")] == [("oncall-hvac", 2)]
    lines = ds.render(s).splitlines()
    bad_address = next(line for line in lines if "bad_address:21211" in line)
    rate_limited = next(line for line in lines if "suppressed" in line and "rate_limited" in line and "sms" in line)
    assert "legacy-pager 3" in bad_address and "oncall-hvac" not in bad_address
    assert "oncall-hvac 2" in rate_limited and "legacy-pager" not in rate_limited
