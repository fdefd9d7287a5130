"""Runs after every other test: nothing any function logged during the whole suite leaks personal data."""

from __future__ import annotations

import json
import re
from collections import Counter

import pytest

from .conftest import SENDS_SEEN, STATE_DIR, TEST_CONFIG

UNMASKED_PHONE = re.compile(r"(?:\+|%2B)\d{8,15}(?!\d)")
UNMASKED_EMAIL = re.compile(r"[A-Za-z0-9._+-]{2,}@[A-Za-z0-9-]+\.[A-Za-z]{2,}")


@pytest.mark.suite_audit
@pytest.mark.emulators
def test_no_log_line_of_the_suite_carries_a_phone_number_email_or_secret(stack):
    contacts = [c for t in json.loads(TEST_CONFIG.read_text())["tenants"].values() for c in t["contacts"]]
    known = [c["phone"] for c in contacts if "phone" in c] + [c["email"] for c in contacts if "email" in c]
    known += [c["phone"][1:] for c in contacts if "phone" in c]  # also without the plus
    secrets = [stack.env[name] for name in ("TWILIO_AUTH_TOKEN", "SENDGRID_API_KEY", "LINK_SIGNING_KEY")]
    logs = sorted((STATE_DIR / "logs").glob("function-*.log")) + [STATE_DIR / "logs" / "relay.log"]
    # "READY <port>" is the relay's start-up handshake with the stack manager, not a log record.
    lines = [line for path in logs for line in path.read_text(errors="replace").splitlines() if not re.fullmatch(r"READY \d+", line)]
    assert len(lines) > 100, "the suite should have produced plenty of log lines to audit"
    structured = [json.loads(line) for line in lines if line.startswith("{")]
    assert len(structured) == len(lines), "every log line is one JSON object"
    assert all("severity" in record for record in structured)
    # Apart from the logging library's one diagnostic record per process, every record has a message.
    assert all("message" in r for r in structured if "logging.googleapis.com/diagnostic" not in r)
    leaks = [
        line[:200]
        for line in lines
        if UNMASKED_PHONE.search(line) or UNMASKED_EMAIL.search(line) or any(v in line for v in known + secrets)
        or re.search(r"lt1\.[a-z2-7]{16}\.", line)
    ]
    assert leaks == []


@pytest.mark.suite_audit
@pytest.mark.emulators
def test_no_contact_got_a_second_sms_or_email_for_one_alert_anywhere_in_the_suite(stack):
    """Counts every send the suite made; a send is wasted when its (alert, delivery) was already served."""
    per_delivery = Counter(send["callback"] for send in SENDS_SEEN)
    # The one deliberate second SMS: Twilio reported the first one undelivered (30003), which is retried once.
    allowed = {send["callback"] for send in SENDS_SEEN if send["test"].startswith("test_undelivered_30003")}
    wasted = {key: n for key, n in per_delivery.items() if n > 1 and key not in allowed}
    print(f"\nsends made by the suite: {len(SENDS_SEEN)} "
          f"({sum(s['channel'] == 'sms' for s in SENDS_SEEN)} SMS, {sum(s['channel'] == 'email' for s in SENDS_SEEN)} emails); "
          f"duplicates: {sum(n - 1 for n in wasted.values())}")
    assert len(SENDS_SEEN) > 40, "the suite is expected to send plenty"
    assert wasted == {}
