"""The local SendGrid fake, driven through the official sendgrid SDK as the service will drive it."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
from pathlib import Path

import pytest
import requests
import sendgrid
from flask import Flask, request
from python_http_client import exceptions as sg_errors
from sendgrid.helpers.eventwebhook import EventWebhook
from sendgrid.helpers.mail import CustomArg, Mail

from local.fake_common import ServerThread
from local.fake_sendgrid import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    create_app,
    generate_signing_keypair,
    load_signing_key,
    read_public_key_b64,
)

REPO = Path(__file__).resolve().parents[2]
SPEC = Path(os.environ.get("SENDGRID_SPEC", REPO.parent / "shared" / "specs" / "tsg_mail_v3.json"))
API_KEY = "SG.test-key"
PUBLIC_EVENTS_URL = "https://alerts.example.test/fn/sendgrid_events"
MAX_BODY_BYTES = 50_000  # small, so the 413 test stays fast; the CLI default is SendGrid's 30 MB


class Receiver:
    """The event webhook function: records raw bodies and headers, can refuse requests with a given status."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.answer = 200
        self.lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/internal/sendgrid_events", "events", self.events, methods=["POST"])

    def events(self):
        with self.lock:
            self.calls.append({"body": request.get_data(as_text=True), "headers": dict(request.headers)})
        return "", self.answer

    def wait_for(self, count: int, email: str | None = None, timeout: float = 3.0) -> list[dict]:
        """The first `count` posts (about `email` only, if given: a previous test's late events do not count)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                calls = [c for c in self.calls if email is None or f'"{email}"' in c["body"]]
            if len(calls) >= count:
                return calls
            time.sleep(0.01)
        raise AssertionError(f"expected {count} event posts, got {len(calls)}")


@pytest.fixture(scope="module")
def receiver():
    rx = Receiver()
    with ServerThread(rx.app) as server:
        rx.url = server.url
        yield rx


@pytest.fixture(scope="module")
def public_key(tmp_path_factory):
    pem = tmp_path_factory.mktemp("keys") / "signing.pem"
    key = generate_signing_keypair(str(pem))
    assert read_public_key_b64(str(pem)) == key and oct(pem.stat().st_mode & 0o777) == "0o600"
    return key, pem


@pytest.fixture(scope="module")
def sendgrid_url(receiver, public_key):
    app = create_app(API_KEY, PUBLIC_EVENTS_URL, load_signing_key(str(public_key[1])),
                     routes=[f"https://alerts.example.test/fn={receiver.url}/internal"], event_delay=0.01,
                     max_body_bytes=MAX_BODY_BYTES)
    with ServerThread(app) as server:
        yield server.url


@pytest.fixture(autouse=True)
def clean(sendgrid_url, receiver):
    requests.post(f"{sendgrid_url}/__admin/reset").raise_for_status()
    receiver.calls.clear()
    receiver.answer = 200


def sdk_client(base_url: str, key: str = API_KEY, timeout: float = 5) -> sendgrid.SendGridAPIClient:
    client = sendgrid.SendGridAPIClient(key, host=base_url)
    client.client.timeout = timeout
    return client


def alert_mail(to: str = "ops@example.com") -> Mail:
    mail = Mail(from_email="alerts@example.com", to_emails=to, subject="AHU-3 offnormal", plain_text_content="details")
    mail.custom_arg = [CustomArg("deliveryId", "D1"), CustomArg("tenantId", "T1")]
    return mail


def add_rule(base_url: str, rule: dict) -> None:
    requests.post(f"{base_url}/__admin/rules", json=rule).raise_for_status()


def verified_events(call: dict, public_key: str) -> list[dict]:
    headers = call["headers"]
    assert EventWebhook(public_key).verify_signature(call["body"], headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER])
    return json.loads(call["body"])


# ---- mail send -------------------------------------------------------------------------------------

def test_send_is_accepted_and_followed_by_signed_events_with_custom_args(sendgrid_url, receiver, public_key):
    response = sdk_client(sendgrid_url).send(alert_mail())
    message_id = response.headers["X-Message-Id"]
    assert (response.status_code, response.body, len(message_id)) == (202, b"", 22)

    processed, delivered = [verified_events(call, public_key[0]) for call in receiver.wait_for(2)]
    assert [e["event"] for e in processed + delivered] == ["processed", "delivered"]
    for event in processed + delivered:
        assert (event["email"], event["deliveryId"], event["tenantId"]) == ("ops@example.com", "D1", "T1")
        assert event["sg_message_id"].startswith(message_id + ".filter")
        assert isinstance(event["timestamp"], int) and event["sg_event_id"] and event["smtp-id"]
    assert receiver.calls[0]["headers"]["Host"] == "alerts.example.test"  # routed like a load balancer would
    assert requests.get(f"{sendgrid_url}/__admin/messages").json()[0]["events"] == ["processed", "delivered"]


def test_wrong_key_is_401_with_sendgrids_message(sendgrid_url):
    with pytest.raises(sg_errors.UnauthorizedError) as raised:
        sdk_client(sendgrid_url, key="SG.wrong").send(alert_mail())
    assert json.loads(raised.value.body)["errors"][0]["message"] == "The provided authorization grant is invalid, expired, or revoked"


@pytest.mark.parametrize("mutate, field", [
    (lambda m: m.pop("personalizations"), "personalizations"),
    (lambda m: m.pop("from"), "from.email"),
    (lambda m: m.pop("subject"), "subject"),
    (lambda m: m.pop("content"), "content"),
    (lambda m: m["personalizations"][0].update(to=[{"email": "not-an-address"}]), "personalizations.0.to.0.email"),
    (lambda m: m.update(content=[{"type": "text/html", "value": "<p>x</p>"}, {"type": "text/plain", "value": "x"}]), "content"),
    (lambda m: m.update(custom_args={"n": 1}), "custom_args"),
])
def test_invalid_mail_is_400_naming_the_field(sendgrid_url, mutate, field):
    mail = alert_mail().get()
    mutate(mail)
    with pytest.raises(sg_errors.BadRequestsError) as raised:
        sdk_client(sendgrid_url).send(mail)
    assert field in [error["field"] for error in json.loads(raised.value.body)["errors"]]


def test_spec_required_fields_are_enforced(sendgrid_url):
    schema = json.loads(SPEC.read_text())["components"]["requestBodies"]["PostMailSend"]["content"]["application/json"]["schema"]
    assert set(schema["required"]) == {"personalizations", "from"}
    assert schema["properties"]["personalizations"]["items"]["required"] == ["to"]
    assert schema["properties"]["personalizations"]["maxItems"] == 1000
    too_many = alert_mail().get()
    too_many["personalizations"] = too_many["personalizations"] * 1001
    with pytest.raises(sg_errors.BadRequestsError):
        sdk_client(sendgrid_url).send(too_many)


def test_template_mail_needs_neither_subject_nor_content(sendgrid_url):
    mail = {"personalizations": [{"to": [{"email": "ops@example.com"}]}], "from": {"email": "alerts@example.com"},
            "template_id": "d-123"}
    assert sdk_client(sendgrid_url).send(mail).status_code == 202


def test_oversized_body_is_413(sendgrid_url):
    mail = alert_mail().get()
    mail["content"][0]["value"] = "x" * MAX_BODY_BYTES
    with pytest.raises(sg_errors.PayloadTooLargeError):
        sdk_client(sendgrid_url).send(mail)


def test_sandbox_mode_validates_without_sending(sendgrid_url, receiver):
    mail = alert_mail("sandbox@example.com").get()
    mail["mail_settings"] = {"sandbox_mode": {"enable": True}}
    assert sdk_client(sendgrid_url).send(mail).status_code == 200
    time.sleep(0.1)
    assert not any("sandbox@example.com" in call["body"] for call in receiver.calls)


# ---- fault rules ---------------------------------------------------------------------------------

def test_rate_limit_rule_sets_x_ratelimit_reset_for_n_requests(sendgrid_url):
    add_rule(sendgrid_url, {"match": {"to": "OPS@example.com"}, "respond": {"status": 429, "retryAfter": 5}, "times": 1})
    client = sdk_client(sendgrid_url)
    assert client.send(alert_mail("other@example.com")).status_code == 202
    with pytest.raises(sg_errors.TooManyRequestsError) as raised:
        client.send(alert_mail())
    reset_at = int(raised.value.headers["X-RateLimit-Reset"])
    assert time.time() + 3 < reset_at <= time.time() + 6
    assert client.send(alert_mail()).status_code == 202


def test_hang_times_the_client_out_and_the_mail_is_still_sent(sendgrid_url, receiver):
    add_rule(sendgrid_url, {"respond": {"hangSeconds": 0.5}, "times": 1})
    with pytest.raises((TimeoutError, urllib.error.URLError)):
        sdk_client(sendgrid_url, timeout=0.15).send(alert_mail("slow@example.com"))
    receiver.wait_for(2, email="slow@example.com")  # accepted after the client gave up: the ambiguous case


def test_html_error_body_and_extra_headers(sendgrid_url):
    add_rule(sendgrid_url, {"match": {"path": "/mail/send", "method": "post"},
                            "respond": {"status": 502, "body": "<html>oops</html>", "contentType": "text/html",
                                        "headers": {"X-Upstream": "lb"}}, "times": 1})
    with pytest.raises(sg_errors.HTTPError) as raised:  # python_http_client has no class of its own for 502
        sdk_client(sendgrid_url).send(alert_mail())
    assert raised.value.status_code == 502 and raised.value.body == b"<html>oops</html>" and raised.value.headers["X-Upstream"] == "lb"


@pytest.mark.parametrize("accept_then, expected", [
    ({"event": "bounce", "reason": "550 5.1.1 no such user"}, ("bounce", "550 5.1.1 no such user")),
    ("dropped", ("dropped", "Bounced Address")),
    ("deferred", ("deferred", None)),
])
def test_accept_then_event_replaces_delivered(sendgrid_url, receiver, public_key, accept_then, expected):
    email = f"{expected[0]}@example.com"
    add_rule(sendgrid_url, {"match": {"to": email}, "respond": {"acceptThenEvent": accept_then}})
    sdk_client(sendgrid_url).send(alert_mail(email))
    final = verified_events(receiver.wait_for(2, email=email)[1], public_key[0])[0]
    assert (final["event"], final.get("reason")) == expected and final["deliveryId"] == "D1"


# ---- admin events --------------------------------------------------------------------------------

def test_admin_events_can_be_stale_or_forged(sendgrid_url, receiver, public_key):
    events = [{"email": "ops@example.com", "event": "delivered", "timestamp": 1, "deliveryId": "D1"}]
    stale = requests.post(f"{sendgrid_url}/__admin/events", json={"events": events, "timestampOffset": -600}).json()
    receiver.answer = 403
    forged = requests.post(f"{sendgrid_url}/__admin/events", json={"events": events, "forge": True}).json()
    assert (stale["status"], forged["status"]) == (200, 403)

    stale_call, forged_call = receiver.wait_for(2)
    assert verified_events(stale_call, public_key[0]) == events
    assert abs(int(stale_call["headers"][TIMESTAMP_HEADER]) - (time.time() - 600)) < 5
    headers = forged_call["headers"]
    assert not EventWebhook(public_key[0]).verify_signature(forged_call["body"], headers[SIGNATURE_HEADER], headers[TIMESTAMP_HEADER])


def test_failed_event_post_is_retried(sendgrid_url, receiver):
    receiver.answer = 503
    sdk_client(sendgrid_url).send(alert_mail())
    receiver.wait_for(6)  # two batches, three attempts each
    # The fake logs a webhook once its last attempt has been answered, a moment after the receiver saw it.
    deadline = time.time() + 3
    while len(webhooks := requests.get(f"{sendgrid_url}/__admin/webhooks").json()) < 2 and time.time() < deadline:
        time.sleep(0.02)
    assert [(w["attempts"], w["status"]) for w in webhooks] == [(3, 503), (3, 503)]


def test_request_log_has_the_contract_fields_and_no_key(sendgrid_url):
    sdk_client(sendgrid_url).send(alert_mail())
    entry = requests.get(f"{sendgrid_url}/__admin/requests").json()[0]
    assert (entry["method"], entry["path"], entry["status"]) == ("POST", "/v3/mail/send", 202)
    assert entry["json"]["personalizations"][0]["to"] == [{"email": "ops@example.com"}]
    assert len(entry["messageSid"]) == 22 and API_KEY not in json.dumps(entry)
    requests.post(f"{sendgrid_url}/__admin/reset").raise_for_status()
    assert requests.get(f"{sendgrid_url}/__admin/requests").json() == []


def test_cli_prints_ready_and_stops_on_sigterm(public_key):
    process = subprocess.Popen(
        [sys.executable, "-m", "local.fake_sendgrid", "--port", "0", "--api-key", API_KEY,
         "--signing-key-pem", str(public_key[1])],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        port = int(process.stdout.readline().split()[1])
        assert sdk_client(f"http://127.0.0.1:{port}").send(alert_mail()).status_code == 202
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
