from datetime import datetime, timedelta, timezone

import pytest

from shared.config import Templates
from shared.links import InvalidLink, ack_code, link_id, link_url, sign_link_token, verify_link_token
from shared.models import Alert
from shared.render import SMS_MAX_CHARS, render_email, render_sms

KEY = b"k" * 32
NOW = datetime(2026, 12, 3, 12, 0, tzinfo=timezone.utc)


def make_alert(**overrides):
    fields = {
        "tenantId": "acme",
        "alertId": "a1",
        "schemaVersion": 1,
        "siteId": "S-7",
        "source": "AHU-3/SAT",
        "eventType": "offnormal",
        "severity": "critical",
        "title": "Zone temp high",
        "message": "SECRET-DETAIL tenant Jane Doe room 12",
        "occurredAt": NOW,
        "attributes": {"value": "81.2"},
    }
    fields.update(overrides)
    return Alert.model_validate(fields)


def test_link_token_round_trips_and_expires():
    details = link_id(KEY, "acme", "a1")
    token = sign_link_token(KEY, details, NOW, ttl_seconds=3600)
    claims = verify_link_token(KEY, token, NOW + timedelta(minutes=59))
    assert claims.link_id == details and claims.expires_at == int((NOW + timedelta(hours=1)).timestamp())
    with pytest.raises(InvalidLink, match="expired"):
        verify_link_token(KEY, token, NOW + timedelta(hours=2))


def test_link_is_short_and_reveals_no_ids():
    token = sign_link_token(KEY, link_id(KEY, "acme-tenant", "a" * 64), NOW, ttl_seconds=86400)
    assert len(token) <= 50 and "acme" not in token and "aaaa" not in token
    assert link_id(KEY, "acme", "a1") != link_id(KEY, "acme", "a2") != link_id(b"x" * 32, "acme", "a1")


def test_forged_or_foreign_tokens_are_rejected():
    token = sign_link_token(KEY, link_id(KEY, "acme", "a1"), NOW, ttl_seconds=3600)
    with pytest.raises(InvalidLink):
        verify_link_token(b"other-key" * 4, token, NOW)
    _, expires, signature = token[4:].split(".")
    other = link_id(KEY, "evil", "a1")
    with pytest.raises(InvalidLink, match="signature"):
        verify_link_token(KEY, f"lt1.{other}.{expires}.{signature}", NOW)
    longer = sign_link_token(KEY, link_id(KEY, "acme", "a1"), NOW, ttl_seconds=7200).split(".")[2]
    with pytest.raises(InvalidLink, match="signature"):
        verify_link_token(KEY, f"lt1.{link_id(KEY, 'acme', 'a1')}.{longer}.{signature}", NOW)
    with pytest.raises(InvalidLink, match="malformed"):
        verify_link_token(KEY, "lt1.abc", NOW)


def test_ack_codes_are_stable_short_and_distinct_per_contact():
    first = ack_code(KEY, "acme", "a1", "alice")
    assert first == ack_code(KEY, "acme", "a1", "alice")
    assert first != ack_code(KEY, "acme", "a1", "bob")
    assert len(first) == 6 and first.isalnum() and first.isupper() or first.isdigit()
    assert not set(first) & set("01OIL")


def test_sms_is_minimal_and_never_carries_the_message():
    link = link_url("https://alerts.example.test/a/", sign_link_token(KEY, link_id(KEY, "acme", "a1"), NOW, 3600))
    body = render_sms("[{severity}] {site}: {title} {link} Reply ACK {ackCode}", make_alert(), link, "ABC234")
    assert body.startswith("[CRITICAL] S-7: Zone temp high https://alerts.example.test/a/lt1.")
    assert body.endswith("Reply ACK ABC234")
    assert "SECRET-DETAIL" not in body and "81.2" not in body


def test_long_titles_are_cut_so_link_and_code_survive():
    link = "https://alerts.example.test/a/" + "x" * 60
    body = render_sms("[{severity}] {site}: {title} {link} Reply ACK {ackCode}", make_alert(title="T" * 120), link, "ABC234")
    assert len(body) <= SMS_MAX_CHARS
    assert link in body and body.endswith("ACK ABC234") and "T..." in body


def test_email_has_subject_and_link_but_not_the_message():
    templates = Templates(sms="{title}", emailSubject="[{severity}] {site}: {title}", emailBody="{title}\n{link}\nACK {ackCode}")
    email = render_email(templates, make_alert(), "https://l.test/x", "ABC234")
    assert email.subject == "[CRITICAL] S-7: Zone temp high"
    assert "https://l.test/x" in email.body and "SECRET-DETAIL" not in email.body
