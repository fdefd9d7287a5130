import random
from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared import alert_status
from shared.backoff import retry_delay
from shared.config import RetryPolicy, load_config
from shared.errors import Failure
from shared.models import Alert, AlertStatus, Channel
from shared.providers.error_table import by_http_status, sendgrid_failure, twilio_failure
from shared.ratelimit import Budget, budgets_for, window_start
from shared.routing import route

CONFIG = load_config(Path(__file__).resolve().parents[2] / "config" / "alert_config.json")
TENANT = CONFIG.tenants["demo-campus"]


def alert(severity="major", event_type="offnormal", site="S-7"):
    return Alert.model_validate(
        {
            "tenantId": "demo-campus",
            "alertId": "a",
            "schemaVersion": 1,
            "siteId": site,
            "source": "AHU/ZN-T",
            "eventType": event_type,
            "severity": severity,
            "title": "t",
            "occurredAt": datetime(2022, 5, 1, tzinfo=timezone.utc),
        }
    )


def test_routes_union_matching_rules_and_pick_first_reachable_channel():
    targets = {t.contact.id: t.channel for t in route(alert("critical"), TENANT, CONFIG.defaults)}
    assert targets == {"oncall-hvac": Channel.SMS, "legacy-pager": Channel.SMS, "facilities-lead": Channel.SMS}


def test_returns_to_normal_go_by_email_to_the_energy_desk_only():
    targets = route(alert("info", "normal"), TENANT, CONFIG.defaults)
    assert [(t.contact.id, t.channel) for t in targets] == [("energy-desk", Channel.EMAIL)]


def test_no_matching_route_means_no_targets():
    assert route(alert("minor", "offnormal"), TENANT, CONFIG.defaults) == []


def test_backoff_grows_caps_and_honours_retry_after():
    policy = RetryPolicy(maxAttempts=5, initialBackoffSeconds=1, maxBackoffSeconds=8, multiplier=2, jitter=0)
    assert [retry_delay(policy, n) for n in range(1, 6)] == [1, 2, 4, 8, 8]
    assert retry_delay(policy, 1, retry_after=30) == 30


def test_jitter_only_shortens_within_its_fraction():
    policy = RetryPolicy(maxAttempts=5, initialBackoffSeconds=4, maxBackoffSeconds=8, jitter=0.5)
    delays = {retry_delay(policy, 1, rand=random.Random(seed)) for seed in range(50)}
    assert min(delays) >= 2 and max(delays) <= 4 and len(delays) > 40


@pytest.mark.parametrize(
    "code, expected",
    [
        (20003, Failure.CONFIG),
        (20429, Failure.TRANSIENT),
        (21211, Failure.PERMANENT),
        (21212, Failure.CONFIG),
        (21408, Failure.CONFIG),
        (21602, Failure.REQUEST_BUG),
        (21604, Failure.REQUEST_BUG),
        (21606, Failure.CONFIG),
        (21610, Failure.OPTED_OUT),
        (21611, Failure.TRANSIENT),
        (21612, Failure.PERMANENT),
        (21614, Failure.PERMANENT),
        (30001, Failure.TRANSIENT),
        (30003, Failure.TRANSIENT),
        (30004, Failure.PERMANENT),
        (30005, Failure.PERMANENT),
        (30006, Failure.PERMANENT),
        (30007, Failure.PERMANENT),
        (30008, Failure.TRANSIENT),
    ],
)
def test_twilio_codes(code, expected):
    assert twilio_failure(400, code) is expected


@pytest.mark.parametrize(
    "status, expected",
    [(400, Failure.REQUEST_BUG), (401, Failure.CONFIG), (403, Failure.CONFIG), (404, Failure.REQUEST_BUG), (413, Failure.REQUEST_BUG),
     (429, Failure.TRANSIENT), (500, Failure.TRANSIENT), (502, Failure.TRANSIENT), (503, Failure.TRANSIENT)],
)
def test_http_statuses(status, expected):
    assert by_http_status(status) is expected
    assert sendgrid_failure(status) is expected
    assert twilio_failure(status, None) is expected


def test_only_transient_and_ambiguous_are_retryable():
    assert {f for f in Failure if f.retryable} == {Failure.TRANSIENT, Failure.AMBIGUOUS}


def test_fixed_window_starts_on_window_boundaries():
    budget = Budget("contact", "x", limit=2, window_seconds=60)
    assert window_start(budget, datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc)) == 1767225600
    assert window_start(budget, datetime(2026, 1, 1, 0, 1, 0, tzinfo=timezone.utc)) == 1767225660


def test_global_budget_is_sharded():
    budgets = budgets_for(CONFIG.defaults.rate_limits, "t", "c", "sms", "t/a/c")
    assert [b.scope for b in budgets] == ["contact", "tenant", "global"]
    assert budgets[2].limit == -(-CONFIG.defaults.rate_limits.global_.limit // CONFIG.defaults.rate_limits.global_.shards)


def d(contact, status, code=None):
    return {"contactId": contact, "status": status, "errorCode": code}


@pytest.mark.parametrize(
    "deliveries, expected",
    [
        ([], None),
        ([d("a", "sent"), d("b", "delivered")], (AlertStatus.NOTIFIED, None)),
        ([d("a", "sent"), d("b", "retrying")], (AlertStatus.NOTIFYING, None)),
        ([d("a", "failed"), d("a", "sending")], (AlertStatus.NOTIFYING, None)),
        ([d("a", "failed"), d("a", "delivered")], (AlertStatus.NOTIFIED, None)),
        ([d("a", "failed"), d("a", "failed"), d("b", "sent")], (AlertStatus.FAILED, "unreachable")),
        ([d("a", "suppressed", "rate_limited"), d("b", "sent")], (AlertStatus.NOTIFIED, None)),
        ([d("a", "suppressed", "rate_limited")], (AlertStatus.SUPPRESSED, "rate_limited")),
    ],
)
def test_alert_status_is_derived_from_deliveries(deliveries, expected):
    assert alert_status.derive(deliveries) == expected


def test_budgets_are_per_channel_and_critical_is_exempt_from_contact_and_tenant_only():
    sms = budgets_for(CONFIG.defaults.rate_limits, "t", "c", "sms", "k")
    email = budgets_for(CONFIG.defaults.rate_limits, "t", "c", "email", "k")
    assert not {b.path for b in sms} & {b.path for b in email}
    critical = budgets_for(CONFIG.defaults.rate_limits, "t", "c", "sms", "k", critical=True)
    assert [b.enforced for b in critical] == [False, False, True]
