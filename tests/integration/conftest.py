"""The local stack (real emulators, functions-framework, relay, provider servers) for end-to-end tests.

Started once per session on free ports in a private state directory, and always torn
down. Each test starts from an empty Firestore and empty provider logs.
"""

from __future__ import annotations

import json
import os
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests

from local import stack as local_stack

REPO = Path(__file__).resolve().parents[2]
TEST_CONFIG = REPO / "tests" / "data" / "alert_config.test.json"
TERMINAL_ALERT = {"invalid", "suppressed", "notified", "failed", "acknowledged"}
STATE_DIR = REPO / ".local" / "test-stack"


@pytest.fixture(scope="session")
def stack():
    info = local_stack.up(STATE_DIR, config_path=TEST_CONFIG, extra_env={"SWEEP_INTERVAL_SECONDS": "1", "PROVIDER_TIMEOUT_SECONDS": "2"})
    try:
        yield info
    finally:
        local_stack.down(STATE_DIR)


@pytest.fixture(scope="session")
def db(stack):
    os.environ["FIRESTORE_EMULATOR_HOST"] = stack.firestore_emulator_host
    from google.cloud import firestore

    return firestore.Client(project=stack.project_id)


SENDS_SEEN: list[dict] = []  # every accepted provider request of the session, for the suite audit


@pytest.fixture
def e2e(stack, db, request):
    """A clean slate: empty Firestore, empty provider request logs and rules."""
    requests.delete(
        f"http://{stack.firestore_emulator_host}/emulator/v1/projects/{stack.project_id}/databases/(default)/documents", timeout=10
    ).raise_for_status()
    for url in (stack.twilio_url, stack.sendgrid_url):
        requests.post(f"{url}/__admin/reset", timeout=5).raise_for_status()
    session = EndToEnd(stack, db)
    yield session
    for sms in session.twilio_requests():
        if 200 <= sms["status"] < 300 and sms.get("messageSid"):  # a 2xx without a message (an HTML page) sent nothing
            SENDS_SEEN.append({"test": request.node.name, "channel": "sms", "to": sms["form"].get("To"),
                               "callback": sms["form"].get("StatusCallback", "")})
    for email in session.sendgrid_requests():
        if 200 <= email["status"] < 300:
            args = (email.get("json") or {}).get("custom_args") or {}
            SENDS_SEEN.append({"test": request.node.name, "channel": "email", "to": None,
                               "callback": f"{args.get('alertId')}/{args.get('deliveryId')}"})


class EndToEnd:
    """What a test does to the running service, and what it reads back."""

    def __init__(self, stack, db):
        self.stack = stack
        self.db = db

    # -- producing ----------------------------------------------------------------------------

    def alert_fields(self, site: str, **overrides) -> dict:
        fields = {
            "schemaVersion": 1,
            "tenantId": overrides.pop("tenantId", "t-acme"),
            "siteId": site,
            "source": f"AHU-{uuid.uuid4().hex[:8]}/ZN-T",
            "eventType": "offnormal",
            "severity": "major",
            "title": "Zone temp high 81.2 F",
            "message": "Zone 3 has been above 76 F for 10 minutes. Tenant: Jane Doe, +15557654321.",
            "occurredAt": datetime.now(timezone.utc),
            "attributes": {"value": "81.2", "units": "degF"},
        }
        fields.update(overrides)
        return {k: v for k, v in fields.items() if v is not ...}

    def write_alert(self, site: str, tenant: str = "t-acme", alert_id: str | None = None, **overrides) -> str:
        alert_id = alert_id or uuid.uuid4().hex
        fields = self.alert_fields(site, tenantId=overrides.pop("tenantId", tenant), **overrides)
        self.db.document("tenants", tenant, "alerts", alert_id).create(fields)
        return alert_id

    # -- reading back -------------------------------------------------------------------------

    def alert(self, alert_id: str, tenant: str = "t-acme") -> dict:
        return self.db.document("tenants", tenant, "alerts", alert_id).get().to_dict() or {}

    def deliveries(self, alert_id: str, tenant: str = "t-acme") -> dict[str, dict]:
        ref = self.db.document("tenants", tenant, "alerts", alert_id).collection("deliveries")
        return {d.id: d.to_dict() for d in ref.stream()}

    def wait_final(self, alert_id: str, tenant: str = "t-acme", timeout: float = 30, settle: float = 0.0) -> dict:
        """Waits until the alert is final and no delivery is still moving."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            alert = self.alert(alert_id, tenant)
            if alert.get("status") in TERMINAL_ALERT:
                deliveries = self.deliveries(alert_id, tenant)
                if all(d["status"] not in ("pending", "sending", "retrying") for d in deliveries.values()):
                    if settle:
                        time.sleep(settle)
                        return self.alert(alert_id, tenant)
                    return alert
            time.sleep(0.1)
        raise AssertionError(f"alert {alert_id} not final after {timeout}s: {self.alert(alert_id, tenant)} {self.deliveries(alert_id, tenant)}")

    def wait_for(self, predicate, timeout: float = 20, what: str = "condition"):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError(f"timed out waiting for {what}")

    def twilio_requests(self, kind: str = "create") -> list[dict]:
        requests_seen = requests.get(f"{self.stack.twilio_url}/__admin/requests", timeout=5).json()
        if kind == "create":
            return [r for r in requests_seen if r["method"] == "POST" and r["path"].endswith("/Messages.json")]
        return requests_seen

    def sms_to(self, number: str) -> list[dict]:
        return [r for r in self.twilio_requests() if r["form"].get("To") == number and 200 <= r["status"] < 300]

    def sms_attempts_to(self, number: str) -> list[dict]:
        return [r for r in self.twilio_requests() if r["form"].get("To") == number]

    def sendgrid_requests(self) -> list[dict]:
        return requests.get(f"{self.stack.sendgrid_url}/__admin/requests", timeout=5).json()

    def emails_to(self, address: str, accepted_only: bool = True) -> list[dict]:
        found = []
        for request in self.sendgrid_requests():
            body = request.get("json") or {}
            recipients = [to["email"] for p in body.get("personalizations", []) for to in p.get("to", [])]
            if address in recipients and (not accepted_only or 200 <= request["status"] < 300):
                found.append(request)
        return found

    def rule(self, provider: str, rule: dict) -> None:
        url = self.stack.twilio_url if provider == "twilio" else self.stack.sendgrid_url
        requests.post(f"{url}/__admin/rules", json=rule, timeout=5).raise_for_status()


@pytest.fixture
def dead_letters(stack):
    """Reads (and acks) what reached alert-dead-letter, through the audit pull subscription."""
    os.environ["PUBSUB_EMULATOR_HOST"] = stack.pubsub_emulator_host
    from google.cloud import pubsub_v1

    from local.topology import DEAD_LETTER_AUDIT_SUBSCRIPTION

    subscriber = pubsub_v1.SubscriberClient()
    path = subscriber.subscription_path(stack.project_id, DEAD_LETTER_AUDIT_SUBSCRIPTION)
    seen: list[dict] = []

    def read() -> list[dict]:
        response = subscriber.pull(request={"subscription": path, "max_messages": 50}, timeout=5)
        if response.received_messages:
            subscriber.acknowledge(request={"subscription": path, "ack_ids": [m.ack_id for m in response.received_messages]})
        for received in response.received_messages:
            seen.append({**json.loads(received.message.data), "attributes": dict(received.message.attributes)})
        return list(seen)

    yield read
    subscriber.close()
