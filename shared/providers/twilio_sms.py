"""SMS through the official twilio SDK. Twilio's exceptions are translated here."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

import requests
import urllib3
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from shared.errors import Failure, ProviderError, ProviderOutcome
from shared.providers.base import OutgoingSms, SendReceipt
from shared.providers.error_table import twilio_failure

PROVIDER = "twilio"
logger = logging.getLogger(__name__)


class _HeaderKeepingHttpClient(TwilioHttpClient):
    """Keeps each thread's last response headers: TwilioRestException drops Retry-After."""

    def __init__(self, timeout: float):
        super().__init__(timeout=timeout)
        self._local = threading.local()

    def request(self, *args, **kwargs):
        self._local.headers = {}
        response = super().request(*args, **kwargs)
        self._local.headers = dict(response.headers or {})
        return response

    def last_headers(self) -> dict[str, str]:
        return getattr(self._local, "headers", {}) or {}


class TwilioSmsSender:
    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None,
        messaging_service_sid: str | None = None,
        base_url: str | None = None,
        timeout_seconds: float,
    ):
        self._http = _HeaderKeepingHttpClient(timeout=timeout_seconds)
        self._client = Client(account_sid, auth_token, http_client=self._http)
        if base_url:
            self._client.api.base_url = base_url.rstrip("/")
        self._sender = {"messaging_service_sid": messaging_service_sid} if messaging_service_sid else {"from_": from_number}

    def send_sms(self, message: OutgoingSms) -> SendReceipt:
        options = dict(self._sender)
        if message.status_callback_url:
            options["status_callback"] = message.status_callback_url
        try:
            created = self._client.messages.create(to=message.to, body=message.body, **options)
        except TwilioRestException as exc:
            raise self._rest_error(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise _network_error(exc) from exc
        except (ValueError, KeyError, TwilioException) as exc:
            # A 2xx the SDK can't read (a captive portal's HTML, a truncated body): Twilio may have accepted it.
            raise ProviderError(PROVIDER, ProviderOutcome(Failure.AMBIGUOUS, "bad_response"), type(exc).__name__) from exc
        return SendReceipt(provider_message_id=created.sid)

    def find_sent(self, to: str, since: datetime, marker: str) -> str | None:
        # DateSent filters by day only, so look back a day and match on the body's unique marker.
        try:
            for message in self._client.messages.list(to=to, date_sent_after=since - timedelta(days=1), limit=200):
                if marker in (message.body or ""):
                    return message.sid
        except TwilioRestException as exc:
            raise self._rest_error(exc) from exc
        except requests.exceptions.RequestException as exc:
            raise _network_error(exc) from exc
        except (ValueError, KeyError, TwilioException) as exc:
            raise ProviderError(PROVIDER, ProviderOutcome(Failure.TRANSIENT, "bad_response"), type(exc).__name__) from exc
        return None

    def _rest_error(self, exc: TwilioRestException) -> ProviderError:
        failure = twilio_failure(exc.status, exc.code)
        retry_after = _seconds(self._http.last_headers().get("Retry-After")) if failure is Failure.TRANSIENT else None
        code = str(exc.code) if exc.code is not None else str(exc.status)
        # exc.msg may quote the recipient's number: it is never copied into our error text.
        return ProviderError(PROVIDER, ProviderOutcome(failure, code, retry_after), f"HTTP {exc.status}")


def _network_error(exc: requests.exceptions.RequestException | TwilioException) -> ProviderError:
    if _never_reached_twilio(exc):
        return ProviderError(PROVIDER, ProviderOutcome(Failure.TRANSIENT, "connection"), type(exc).__name__)
    # A read timeout or a dropped connection: Twilio may have accepted the message after we stopped listening.
    return ProviderError(PROVIDER, ProviderOutcome(Failure.AMBIGUOUS, "timeout"), type(exc).__name__)


def _never_reached_twilio(exc: BaseException) -> bool:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if not isinstance(exc, requests.exceptions.ConnectionError):
        return False
    reason = exc.args[0] if exc.args else None
    return isinstance(reason, urllib3.exceptions.MaxRetryError) and isinstance(
        reason.reason, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ConnectTimeoutError)
    )


def _seconds(value: str | None) -> float | None:
    try:
        return max(float(value), 0.0) if value is not None else None
    except ValueError:
        return None
