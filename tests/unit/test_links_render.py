import random
from datetime import datetime, timedelta, timezone

import pytest

from shared.config import Templates
from shared.links import InvalidLink, ack_code, link_id, link_url, sign_link_token, verify_link_token
from shared.models import Alert
from shared.render import SMS_MAX_CHARS, gsm7_septets, render_email, render_sms, to_gsm7

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


TEMPLATE = "[{severity}] {site}: {title} {link} Reply ACK {ackCode}"
LINK = link_url("https://alerts.example.test/a/", sign_link_token(KEY, link_id(KEY, "acme", "a1"), NOW, 86400))


def assert_one_gsm7_segment(body: str, link: str = LINK, ack: str = "ABC234") -> None:
    septets = gsm7_septets(body)
    assert septets is not None, f"not GSM-7: {[ch for ch in body if gsm7_septets(ch) is None]}"
    assert septets <= 160, septets
    assert link in body and body.endswith(f"Reply ACK {ack}")


def test_gsm7_septets_counts_extension_characters_twice_and_rejects_others():
    assert gsm7_septets("Zone temp high") == 14
    assert gsm7_septets("[]{}\\^~|€") == 18
    assert gsm7_septets("\f") == 2
    assert gsm7_septets("éüñÄÖÜßøΔ") == 9  # these accented letters are GSM-7
    assert gsm7_septets("ç") is None and gsm7_septets("°") is None and gsm7_septets("…") is None
    assert gsm7_septets("") == 0


def test_title_with_extension_characters_fits_in_septets_not_characters():
    title = "{x}[y]" * 20  # 120 characters, 200 septets
    body = render_sms(TEMPLATE, make_alert(title=title), LINK, "ABC234")
    assert_one_gsm7_segment(body)
    assert "..." in body


def test_title_is_transliterated_to_gsm7():
    title = "Températ\u00a0 30 °C – “A” ‘b’ … çà Ōk ﬁ ☃ — €5"
    body = render_sms(TEMPLATE, make_alert(title=title), LINK, "ABC234")
    assert_one_gsm7_segment(body)
    assert body.startswith('[CRITICAL] S-7: Températ 30 degC - "A" \'b\' ... cà Ok fi ? - €5 https://')


def test_to_gsm7_keeps_gsm7_accents_and_replaces_what_has_no_equivalent():
    assert to_gsm7("é ü ñ à Ç") == "é ü ñ à Ç"
    assert to_gsm7("e\u0301") == "é"  # decomposed input is composed first
    assert to_gsm7("ą ł œ µg/m³") == "a l oe ug/m3"
    assert to_gsm7("日本 🔥") == "?? ?"
    assert to_gsm7("  a \u2003\u00a0 b  ") == "a b"


def test_non_gsm7_title_that_is_long_still_fits_one_segment():
    title = ("Überhitzung – Lüftung ° " * 10)[:120]
    body = render_sms(TEMPLATE, make_alert(title=title), LINK, "ABC234")
    assert_one_gsm7_segment(body)


def test_source_in_the_template_is_transliterated_too():
    alert = make_alert(source="AHU–3/SAT °F", title="T" * 120)
    body = render_sms("{source}: {title} {link} Reply ACK {ackCode}", alert, LINK, "ABC234")
    assert_one_gsm7_segment(body)
    assert body.startswith("AHU-3/SAT degF: TTT")


def test_long_site_and_source_never_push_the_sms_past_one_segment():
    alert = make_alert(siteId="S" * 64, source="s" * 200, title="{T}" * 40)
    for template in (TEMPLATE, "{severity} {site} {source}: {title} {link} Reply ACK {ackCode}"):
        assert_one_gsm7_segment(render_sms(template, alert, LINK, "ABC234"))


def test_random_titles_always_render_as_one_gsm7_segment():
    rng = random.Random(7)
    alphabet = "abcXYZ 019[]{}~|^€\\°–—“”…\u00a0éçłΩ日🔥\u0301"
    for _ in range(300):
        title = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120))).strip() or "x"
        assert_one_gsm7_segment(render_sms(TEMPLATE, make_alert(title=title), LINK, "ABC234"))


def test_email_keeps_the_original_title():
    templates = Templates(sms=TEMPLATE, emailSubject="[{severity}] {site}: {title}", emailBody="{title} {link}")
    email = render_email(templates, make_alert(title="Température 30 °C – “A”"), LINK, "ABC234")
    assert email.subject == "[CRITICAL] S-7: Température 30 °C – “A”"
