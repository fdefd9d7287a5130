"""The provider adapters through the official SDKs, against the local provider servers.

Every row of the error contract is driven over HTTP: the adapter must turn the vendor's
exception into the right Failure class, and its error text must carry no personal data.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
import requests

from local.fake_common import ServerThread
from local.fake_sendgrid import create_app as create_sendgrid, load_signing_key
from local.fake_sendgrid import generate_signing_keypair
from local.fake_twilio import create_app as create_twilio
from shared.errors import Failure, ProviderError
from shared.masking import mask
from shared.providers.base import OutgoingEmail, OutgoingSms
from shared.providers.sendgrid_email import SendGridEmailSender
from shared.providers.twilio_sms import TwilioSmsSender

SID = "AC" + "ab" * 16
TOKEN = "adapter-test-token"
API_KEY = "SG.adapter-test.key-for-tests"
TO = "+15551230001"


@pytest.fixture(scope="module")
def twilio_server():
    with ServerThread(create_twilio(SID, TOKEN, callback_delay=0.01)) as server:
        yield server


@pytest.fixture(scope="module")
def sendgrid_server(tmp_path_factory):
    pem = tmp_path_factory.mktemp("sg") / "key.pem"
    generate_signing_keypair(pem)
    with ServerThread(create_sendgrid(API_KEY, None, load_signing_key(pem))) as server:
        yield server


@pytest.fixture
def sms(twilio_server):
    requests.post(f"{twilio_server.url}/__admin/reset", timeout=5)
    return TwilioSmsSender(SID, TOKEN, from_number="+15005550006", base_url=twilio_server.url, timeout_seconds=1.0)


@pytest.fixture
def email(sendgrid_server):
    requests.post(f"{sendgrid_server.url}/__admin/reset", timeout=5)
    return SendGridEmailSender(API_KEY, from_email="alerts@example.test", base_url=sendgrid_server.url, timeout_seconds=1.0)


def rule(server, match, respond, times=1):
    requests.post(f"{server.url}/__admin/rules", json={"match": match, "respond": respond, "times": times}, timeout=5).raise_for_status()


def sms_failure(sms, to=TO) -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        sms.send_sms(OutgoingSms(to=to, body="[MAJOR] S-7: test"))
    assert to not in str(raised.value) and to not in mask(repr(raised.value.__cause__))
    return raised.value


def test_sms_success_returns_the_message_sid(sms):
    receipt = sms.send_sms(OutgoingSms(to=TO, body="hello", status_callback_url="https://hooks.test/twilio_status?t=a"))
    assert receipt.provider_message_id.startswith("SM") and len(receipt.provider_message_id) == 34


@pytest.mark.parametrize(
    "to, failure, code",
    [
        ("+15005550001", Failure.PERMANENT, "21211"),
        ("+15005550002", Failure.PERMANENT, "21612"),
        ("+15005550003", Failure.CONFIG, "21408"),
        ("+15005550004", Failure.OPTED_OUT, "21610"),
        ("+15005550009", Failure.PERMANENT, "21614"),
    ],
)
def test_twilio_magic_numbers(sms, to, failure, code):
    error = sms_failure(sms, to)
    assert (error.failure, error.outcome.code) == (failure, code)


@pytest.mark.parametrize(
    "respond, failure, code",
    [
        ({"status": 429, "code": 20429, "retryAfter": 3}, Failure.TRANSIENT, "20429"),
        ({"status": 401, "code": 20003}, Failure.CONFIG, "20003"),
        ({"status": 400, "code": 21606}, Failure.CONFIG, "21606"),
        ({"status": 400, "code": 21602}, Failure.REQUEST_BUG, "21602"),
        ({"status": 400, "code": 21611}, Failure.TRANSIENT, "21611"),
        ({"status": 503, "code": 20503}, Failure.TRANSIENT, "20503"),
        ({"status": 502, "body": "<html>Bad gateway</html>", "contentType": "text/html"}, Failure.TRANSIENT, "502"),
    ],
)
def test_twilio_error_table_over_http(sms, twilio_server, respond, failure, code):
    rule(twilio_server, {"to": TO}, respond)
    error = sms_failure(sms)
    assert (error.failure, error.outcome.code) == (failure, code)


def test_twilio_retry_after_is_read(sms, twilio_server):
    rule(twilio_server, {"to": TO}, {"status": 429, "code": 20429, "retryAfter": 7})
    assert sms_failure(sms).outcome.retry_after_seconds == 7


def test_twilio_hang_past_the_timeout_is_ambiguous(sms, twilio_server):
    rule(twilio_server, {"to": TO}, {"hangSeconds": 2})
    error = sms_failure(sms)
    assert error.failure is Failure.AMBIGUOUS and error.retryable


def test_twilio_unreachable_is_transient_not_ambiguous():
    sender = TwilioSmsSender(SID, TOKEN, from_number="+15005550006", base_url="http://127.0.0.1:9", timeout_seconds=1.0)
    error = sms_failure(sender)
    assert (error.failure, error.outcome.code) == (Failure.TRANSIENT, "connection")


def test_twilio_lookup_finds_an_earlier_send_by_its_marker(sms):
    since = datetime.now(timezone.utc) - timedelta(seconds=5)
    sent = sms.send_sms(OutgoingSms(to=TO, body="[MAJOR] x Reply ACK K7Q2ZP"))
    sms.send_sms(OutgoingSms(to=TO, body="[MAJOR] y Reply ACK AAAAAA"))
    assert sms.find_sent(TO, since, "K7Q2ZP") == sent.provider_message_id
    assert sms.find_sent(TO, since, "ZZZZZZ") is None
    assert sms.find_sent("+15551239999", since, "K7Q2ZP") is None


def message(to="ops@example.test"):
    return OutgoingEmail(to=to, subject="[MAJOR] S-7: t", body="b", correlation={"tenantId": "t", "alertId": "a", "deliveryId": "c.email"})


def email_failure(email, to="ops@example.test") -> ProviderError:
    with pytest.raises(ProviderError) as raised:
        email.send_email(message(to))
    assert to not in str(raised.value)
    return raised.value


def test_email_success_returns_the_message_id_and_sends_custom_args(email, sendgrid_server):
    receipt = email.send_email(message())
    assert receipt.provider_message_id
    sent = requests.get(f"{sendgrid_server.url}/__admin/requests", timeout=5).json()[-1]["json"]
    assert sent["custom_args"] == {"tenantId": "t", "alertId": "a", "deliveryId": "c.email"}


@pytest.mark.parametrize(
    "respond, failure",
    [
        ({"status": 400}, Failure.REQUEST_BUG),
        ({"status": 401}, Failure.CONFIG),
        ({"status": 403}, Failure.CONFIG),
        ({"status": 413}, Failure.REQUEST_BUG),
        ({"status": 429}, Failure.TRANSIENT),
        ({"status": 500}, Failure.TRANSIENT),
        ({"status": 503, "body": "<html><h1>503 Service Unavailable</h1></html>", "contentType": "text/html"}, Failure.TRANSIENT),
    ],
)
def test_sendgrid_error_table_over_http(email, sendgrid_server, respond, failure):
    rule(sendgrid_server, {"to": "ops@example.test"}, respond)
    error = email_failure(email)
    assert error.failure is failure and error.outcome.code == str(respond["status"])


def test_sendgrid_rate_limit_reset_becomes_a_wait(email, sendgrid_server):
    rule(sendgrid_server, {"to": "ops@example.test"}, {"status": 429, "retryAfter": 5})
    wait = email_failure(email).outcome.retry_after_seconds
    assert wait is not None and 3 <= wait <= 6


def test_sendgrid_hang_past_the_timeout_is_ambiguous(email, sendgrid_server):
    # Without the explicit timeout (the SDK's default is none) this send would succeed after the hang.
    rule(sendgrid_server, {"to": "ops@example.test"}, {"hangSeconds": 2})
    assert email_failure(email).failure is Failure.AMBIGUOUS


def test_sendgrid_unreachable_is_transient():
    sender = SendGridEmailSender(API_KEY, from_email="alerts@example.test", base_url="http://127.0.0.1:9", timeout_seconds=1.0)
    error = email_failure(sender)
    assert (error.failure, error.outcome.code) == (Failure.TRANSIENT, "connection")
