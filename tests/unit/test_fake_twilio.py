"""The local Twilio fake, driven through the official twilio SDK as the service will drive it."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import requests
from flask import Flask, request
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from local.fake_common import ServerThread
from local.fake_twilio import create_app, segment_count, twilio_signature

REPO = Path(__file__).resolve().parents[2]
SPEC = Path(os.environ.get("TWILIO_SPEC", REPO.parent / "shared" / "specs" / "twilio_api_v2010.json"))
ACCOUNT_SID = "AC" + "0123456789abcdef" * 2
AUTH_TOKEN = "test-auth-token"
SENDER = "+15005550006"
PUBLIC_BASE = "https://alerts.example.test/fn"


class Receiver:
    """The function side: records every webhook and can be told to fail the next few with 500."""

    def __init__(self) -> None:
        self.calls: list[dict] = []
        self.fail_next = 0
        self.lock = threading.Lock()
        self.app = Flask("receiver")
        self.app.add_url_rule("/internal/<path:rest>", "hook", self.hook, methods=["POST"])

    def hook(self, rest: str):
        with self.lock:
            self.calls.append({"path": request.path, "public_url": f"{PUBLIC_BASE}/{rest}", "form": request.form.to_dict(),
                               "headers": dict(request.headers)})
            if self.fail_next:
                self.fail_next -= 1
                return "boom", 500
        return "<Response/>", 200, {"Content-Type": "text/xml"}

    def wait_for(self, count: int, timeout: float = 3.0) -> list[dict]:
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.calls) >= count:
                    return list(self.calls)
            time.sleep(0.01)
        raise AssertionError(f"expected {count} webhooks, got {len(self.calls)}")


@pytest.fixture(scope="module")
def receiver():
    rx = Receiver()
    with ServerThread(rx.app) as server:
        rx.url = server.url
        yield rx


@pytest.fixture(scope="module")
def twilio_url(receiver):
    app = create_app(ACCOUNT_SID, AUTH_TOKEN, routes=[f"{PUBLIC_BASE}={receiver.url}/internal"], callback_delay=0.01)
    with ServerThread(app) as server:
        yield server.url


@pytest.fixture(autouse=True)
def clean(twilio_url, receiver):
    requests.post(f"{twilio_url}/__admin/reset").raise_for_status()
    receiver.calls.clear()
    receiver.fail_next = 0


def sdk_client(base_url: str, token: str = AUTH_TOKEN, timeout: float = 5) -> Client:
    client = Client(ACCOUNT_SID, token, http_client=TwilioHttpClient(timeout=timeout))
    client.api.base_url = base_url
    return client


def add_rule(base_url: str, rule: dict) -> None:
    requests.post(f"{base_url}/__admin/rules", json=rule).raise_for_status()


def eventually(read, done, timeout: float = 3.0):
    """Reads until done(value) or the timeout; returns the last value read."""
    deadline = time.time() + timeout
    while not done(value := read()) and time.time() < deadline:
        time.sleep(0.02)
    return value


def wait_for_status(client: Client, sid: str, status: str, timeout: float = 3.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        message = client.messages(sid).fetch()
        if message.status == status:
            return message
        time.sleep(0.02)
    raise AssertionError(f"{sid} never reached {status}")


# ---- create --------------------------------------------------------------------------------------

def test_create_returns_a_queued_message_shaped_like_the_spec(twilio_url):
    spec = json.loads(SPEC.read_text())
    properties = set(spec["components"]["schemas"]["api.v2010.account.message"]["properties"])
    message = sdk_client(twilio_url).messages.create(to="+15551230001", from_=SENDER, body="AHU-3 offnormal")

    raw = requests.get(f"{twilio_url}/__admin/requests").json()[0]["response"]
    assert set(raw) == properties
    assert re.fullmatch(r"SM[0-9a-f]{32}", message.sid)
    assert (message.status, message.direction, message.num_segments) == ("queued", "outbound-api", "1")
    assert (message.to, message.from_, message.account_sid, message.api_version) == ("+15551230001", SENDER, ACCOUNT_SID, "2010-04-01")
    assert message.price is None and message.error_code is None
    assert message.date_created.tzinfo is not None  # the SDK parsed our RFC 2822 date
    assert raw["uri"] == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{message.sid}.json"


def test_messaging_service_sender_is_accepted_then_gets_a_pool_number(twilio_url):
    client = sdk_client(twilio_url)
    message = client.messages.create(to="+15551230001", messaging_service_sid="MG" + "a" * 32, body="hi")
    assert (message.status, message.from_) == ("accepted", None)
    assert wait_for_status(client, message.sid, "delivered").from_ == "+15005550006"


@pytest.mark.parametrize("to, code", [("+15005550001", 21211), ("+15005550002", 21612), ("+15005550003", 21408),
                                      ("+15005550004", 21610), ("+15005550009", 21614)])
def test_magic_numbers_fail_with_their_documented_code(twilio_url, to, code):
    with pytest.raises(TwilioRestException) as raised:
        sdk_client(twilio_url).messages.create(to=to, from_=SENDER, body="x")
    assert (raised.value.status, raised.value.code) == (400, code)


@pytest.mark.parametrize("params, code", [
    ({"to": "", "from_": SENDER, "body": "x"}, 21604),
    ({"to": "+15551230001", "body": "x"}, 21603),
    ({"to": "+15551230001", "from_": SENDER}, 21602),
    ({"to": "5551230001", "from_": SENDER, "body": "x"}, 21211),
    ({"to": "+15551230001", "from_": SENDER, "body": "x" * 1601}, 21617),
    ({"to": "+15551230001", "from_": "+15005550007", "body": "x"}, 21606),
])
def test_invalid_requests_fail_like_twilio(twilio_url, params, code):
    with pytest.raises(TwilioRestException) as raised:
        sdk_client(twilio_url).messages.create(**params)
    assert (raised.value.status, raised.value.code) == (400, code)
    assert requests.get(f"{twilio_url}/__admin/messages").json() == []


def test_wrong_credentials_are_rejected_with_20003(twilio_url):
    with pytest.raises(TwilioRestException) as raised:
        sdk_client(twilio_url, token="wrong").messages.create(to="+15551230001", from_=SENDER, body="x")
    assert (raised.value.status, raised.value.code) == (401, 20003)


def test_segments_follow_gsm7_and_ucs2_limits():
    assert [segment_count("a" * 160), segment_count("a" * 161), segment_count("é" * 160)] == [1, 2, 1]
    assert [segment_count("ł" * 70), segment_count("ł" * 71), segment_count("{" * 81)] == [1, 2, 2]


# ---- fault rules ---------------------------------------------------------------------------------

def test_rule_fails_the_next_n_matching_requests_with_retry_after(twilio_url):
    add_rule(twilio_url, {"match": {"to": "+15551230001"}, "respond": {"status": 429, "code": 20429, "retryAfter": 1}, "times": 2})
    client = sdk_client(twilio_url)
    assert client.messages.create(to="+15551230002", from_=SENDER, body="other number").status == "queued"
    with pytest.raises(TwilioRestException) as raised:
        client.messages.create(to="+15551230001", from_=SENDER, body="x")
    assert (raised.value.status, raised.value.code) == (429, 20429)
    # The SDK drops response headers from its exception, so read Retry-After from a plain request.
    raw = requests.post(f"{twilio_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", auth=(ACCOUNT_SID, AUTH_TOKEN),
                        data={"To": "+15551230001", "From": SENDER, "Body": "x"})
    assert (raw.status_code, raw.headers["Retry-After"], raw.json()["code"]) == (429, "1", 20429)
    assert client.messages.create(to="+15551230001", from_=SENDER, body="x").status == "queued"
    assert requests.get(f"{twilio_url}/__admin/rules").json() == []


def test_rule_matches_kind_and_path(twilio_url):
    add_rule(twilio_url, {"match": {"kind": "fetch", "path": "/Messages/"}, "respond": {"status": 503}})
    client = sdk_client(twilio_url)
    sid = client.messages.create(to="+15551230001", from_=SENDER, body="x").sid
    with pytest.raises(TwilioRestException) as raised:
        client.messages(sid).fetch()
    assert (raised.value.status, raised.value.code) == (503, 20503)


def test_rule_with_unknown_keys_is_refused(twilio_url):
    answer = requests.post(f"{twilio_url}/__admin/rules", json={"match": {"too": "+1"}, "respond": {"status": 500}})
    assert answer.status_code == 400


def test_hang_times_the_client_out_and_the_message_is_still_accepted(twilio_url):
    add_rule(twilio_url, {"match": {"kind": "create"}, "respond": {"hangSeconds": 0.5}, "times": 1})
    with pytest.raises(requests.exceptions.Timeout):
        sdk_client(twilio_url, timeout=0.15).messages.create(to="+15551230001", from_=SENDER, body="slow")
    messages = eventually(lambda: requests.get(f"{twilio_url}/__admin/messages").json(), bool)
    assert [m["body"] for m in messages] == ["slow"]


def test_html_error_body_reaches_the_sdk_as_a_rest_exception(twilio_url):
    add_rule(twilio_url, {"respond": {"status": 502, "body": "<html>oops</html>", "contentType": "text/html"}, "times": 1})
    with pytest.raises(TwilioRestException) as raised:
        sdk_client(twilio_url).messages.create(to="+15551230001", from_=SENDER, body="x")
    assert (raised.value.status, raised.value.code) == (502, 502)


# ---- fetch and list ------------------------------------------------------------------------------

def test_fetch_unknown_message_is_20404(twilio_url):
    with pytest.raises(TwilioRestException) as raised:
        sdk_client(twilio_url).messages("SM" + "0" * 32).fetch()
    assert (raised.value.status, raised.value.code) == (404, 20404)


def test_list_filters_newest_first_and_pages_through_the_sdk(twilio_url):
    client = sdk_client(twilio_url)
    sids = [client.messages.create(to="+15551230001", from_=SENDER, body=f"m{i}").sid for i in range(3)]
    client.messages.create(to="+15551230002", from_=SENDER, body="other")
    since = datetime.now(timezone.utc) - timedelta(minutes=1)

    listed = client.messages.list(to="+15551230001", date_sent_after=since, page_size=2)
    assert [m.sid for m in listed] == sids[::-1]
    assert client.messages.list(to="+15551230001", date_sent_before=since) == []
    assert len(client.messages.list(date_sent=datetime.now(timezone.utc).date().isoformat())) == 4
    page = requests.get(f"{twilio_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", params={"PageSize": 3},
                        auth=(ACCOUNT_SID, AUTH_TOKEN)).json()
    assert (page["page"], page["page_size"], page["start"], page["end"], page["previous_page_uri"]) == (0, 3, 0, 2, None)
    assert "Page=1" in page["next_page_uri"] and "PageToken=PA" in page["next_page_uri"]


def test_list_response_has_the_spec_paging_fields(twilio_url):
    spec = json.loads(SPEC.read_text())
    operation = spec["paths"]["/2010-04-01/Accounts/{AccountSid}/Messages.json"]["get"]
    fields = set(operation["responses"]["200"]["content"]["application/json"]["schema"]["properties"])
    page = requests.get(f"{twilio_url}/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json", auth=(ACCOUNT_SID, AUTH_TOKEN)).json()
    assert set(page) == fields
    # Every filter the SDK can send is one the spec lists, so the fake's filters are the real ones.
    assert {p["name"] for p in operation["parameters"]} >= {"To", "From", "DateSent", "DateSent<", "DateSent>", "PageSize", "Page", "PageToken"}


# ---- webhooks --------------------------------------------------------------------------------------

def test_status_callbacks_are_signed_for_the_public_url_and_routed_inside(twilio_url, receiver):
    client = sdk_client(twilio_url)
    public_url = f"{PUBLIC_BASE}/twilio_status?alert=A1"
    message = client.messages.create(to="+15551230001", from_=SENDER, body="x", status_callback=public_url)

    calls = receiver.wait_for(2)
    validator = RequestValidator(AUTH_TOKEN)
    assert [c["form"]["MessageStatus"] for c in calls] == ["sent", "delivered"]
    for call in calls:
        assert call["path"] == "/internal/twilio_status"
        assert call["form"]["MessageSid"] == call["form"]["SmsSid"] == message.sid
        assert (call["form"]["AccountSid"], call["form"]["To"], call["form"]["From"]) == (ACCOUNT_SID, "+15551230001", SENDER)
        signature = call["headers"]["X-Twilio-Signature"]
        assert validator.validate(public_url, call["form"], signature)
        assert not validator.validate(f"{receiver.url}/internal/twilio_status?alert=A1", call["form"], signature)
    assert wait_for_status(client, message.sid, "delivered")


def test_accept_then_callback_ends_undelivered_with_the_error_code(twilio_url, receiver):
    add_rule(twilio_url, {"match": {"to": "+15551230001"}, "respond": {"acceptThenCallback": {"status": "undelivered", "errorCode": 30003}}})
    client = sdk_client(twilio_url)
    message = client.messages.create(to="+15551230001", from_=SENDER, body="x", status_callback=f"{PUBLIC_BASE}/s")
    assert message.status == "queued"
    calls = receiver.wait_for(2)
    assert [(c["form"]["MessageStatus"], c["form"].get("ErrorCode")) for c in calls] == [("sent", None), ("undelivered", "30003")]
    fetched = wait_for_status(client, message.sid, "undelivered")
    assert fetched.error_code == 30003


def test_failed_callback_is_retried(twilio_url, receiver):
    receiver.fail_next = 1
    sdk_client(twilio_url).messages.create(to="+15551230001", from_=SENDER, body="x", status_callback=f"{PUBLIC_BASE}/s")
    calls = receiver.wait_for(3)
    assert [c["form"]["MessageStatus"] for c in calls] == ["sent", "sent", "delivered"]
    assert calls[0]["headers"]["I-Twilio-Idempotency-Token"] == calls[1]["headers"]["I-Twilio-Idempotency-Token"]
    webhooks = eventually(lambda: requests.get(f"{twilio_url}/__admin/webhooks").json(), lambda w: len(w) == 2)
    assert [(w["attempts"], w["status"]) for w in webhooks] == [(2, 200), (1, 200)]


def test_inbound_sms_is_a_signed_webhook_and_returns_the_function_answer(twilio_url, receiver):
    public_url = f"{PUBLIC_BASE}/twilio_inbound"
    answer = requests.post(f"{twilio_url}/__admin/inbound",
                           json={"from": "+15551230001", "to": SENDER, "body": "STOP", "url": public_url}).json()
    assert (answer["status"], answer["body"]) == (200, "<Response/>")
    call = receiver.wait_for(1)[0]
    assert (call["form"]["Body"], call["form"]["From"], call["form"]["NumMedia"]) == ("STOP", "+15551230001", "0")
    assert RequestValidator(AUTH_TOKEN).validate(public_url, call["form"], call["headers"]["X-Twilio-Signature"])


def test_replayed_status_callback_can_be_late_or_forged(twilio_url, receiver):
    sid = sdk_client(twilio_url).messages.create(to="+15551230001", from_=SENDER, body="x", status_callback=f"{PUBLIC_BASE}/s").sid
    receiver.wait_for(2)
    requests.post(f"{twilio_url}/__admin/status-callback", json={"messageSid": sid, "status": "sent"}).raise_for_status()
    requests.post(f"{twilio_url}/__admin/status-callback", json={"messageSid": sid, "forge": True}).raise_for_status()
    late, forged = receiver.wait_for(4)[2:]
    validator = RequestValidator(AUTH_TOKEN)
    assert late["form"]["MessageStatus"] == "sent" and validator.validate(late["public_url"], late["form"], late["headers"]["X-Twilio-Signature"])
    assert not validator.validate(forged["public_url"], forged["form"], forged["headers"]["X-Twilio-Signature"])


def test_signature_agrees_with_the_sdk_validator():
    params = {"Body": "Ünïcode & spaces", "To": "+18005551212", "From": "+12349013030", "A": ""}
    url = "https://example.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == RequestValidator("12345").compute_signature(url, params)


# ---- admin ---------------------------------------------------------------------------------------

def test_request_log_has_the_contract_fields_and_no_credentials(twilio_url):
    client = sdk_client(twilio_url)
    sid = client.messages.create(to="+15551230001", from_=SENDER, body="x").sid
    client.messages.list(to="+15551230001")
    entries = requests.get(f"{twilio_url}/__admin/requests").json()
    assert [(e["method"], e["status"]) for e in entries] == [("POST", 201), ("GET", 200)]
    assert entries[0]["form"]["To"] == "+15551230001" and entries[0]["messageSid"] == sid
    assert entries[1]["query"] == {"To": "+15551230001"}
    assert {"id", "receivedAt", "method", "path", "query", "form", "json", "status", "response", "messageSid"} <= set(entries[0])
    assert AUTH_TOKEN not in json.dumps(entries) and "Authorization" not in entries[0]["headers"]


def test_reset_clears_requests_rules_and_messages(twilio_url):
    sdk_client(twilio_url).messages.create(to="+15551230001", from_=SENDER, body="x")
    add_rule(twilio_url, {"respond": {"status": 500}})
    requests.post(f"{twilio_url}/__admin/reset").raise_for_status()
    for what in ("requests", "rules", "messages"):
        assert requests.get(f"{twilio_url}/__admin/{what}").json() == []


def test_cli_prints_ready_and_stops_on_sigterm():
    process = subprocess.Popen(
        [sys.executable, "-m", "local.fake_twilio", "--port", "0", "--account-sid", ACCOUNT_SID, "--auth-token", AUTH_TOKEN],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        port = int(process.stdout.readline().split()[1])
        message = sdk_client(f"http://127.0.0.1:{port}").messages.create(to="+15551230001", from_=SENDER, body="x")
        assert message.status == "queued"
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            process.kill()
