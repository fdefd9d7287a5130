"""Email through the official sendgrid SDK. python_http_client's exceptions are translated here."""

from __future__ import annotations

import socket
import time
import urllib.error

from python_http_client.exceptions import HTTPError
from sendgrid import SendGridAPIClient
from sendgrid.helpers.mail import CustomArg, Mail

from shared.errors import Failure, ProviderError, ProviderOutcome
from shared.providers.base import OutgoingEmail, SendReceipt
from shared.providers.error_table import sendgrid_failure

PROVIDER = "sendgrid"


class SendGridEmailSender:
    def __init__(self, api_key: str, *, from_email: str, base_url: str | None = None, timeout_seconds: float):
        options = {"host": base_url.rstrip("/")} if base_url else {}
        self._client = SendGridAPIClient(api_key, **options)
        # The SDK's default is no timeout at all: a hung connection would hold the function until it is killed.
        self._client.client.timeout = timeout_seconds
        self._from_email = from_email

    def send_email(self, message: OutgoingEmail) -> SendReceipt:
        mail = Mail(from_email=self._from_email, to_emails=message.to, subject=message.subject, plain_text_content=message.body)
        for key, value in message.correlation.items():
            mail.add_custom_arg(CustomArg(key, value))
        try:
            response = self._client.send(mail)
        except HTTPError as exc:
            raise _http_error(exc) from exc
        except (TimeoutError, socket.timeout) as exc:
            raise ProviderError(PROVIDER, ProviderOutcome(Failure.AMBIGUOUS, "timeout"), type(exc).__name__) from exc
        except urllib.error.URLError as exc:
            raise _url_error(exc) from exc
        except (ConnectionError, OSError) as exc:
            raise ProviderError(PROVIDER, ProviderOutcome(Failure.TRANSIENT, "connection"), type(exc).__name__) from exc
        headers = {key.lower(): value for key, value in (response.headers or {}).items()}
        return SendReceipt(provider_message_id=headers.get("x-message-id", ""))


def _http_error(exc: HTTPError) -> ProviderError:
    status = int(getattr(exc, "status_code", 0) or 0)
    failure = sendgrid_failure(status)
    retry_after = _rate_limit_wait(getattr(exc, "headers", None)) if failure is Failure.TRANSIENT else None
    # The body may be HTML from a proxy, or quote the recipient: only the status goes into our error.
    return ProviderError(PROVIDER, ProviderOutcome(failure, str(status), retry_after), f"HTTP {status}")


def _url_error(exc: urllib.error.URLError) -> ProviderError:
    if isinstance(exc.reason, (TimeoutError, socket.timeout)):
        return ProviderError(PROVIDER, ProviderOutcome(Failure.AMBIGUOUS, "timeout"), "timeout")
    return ProviderError(PROVIDER, ProviderOutcome(Failure.TRANSIENT, "connection"), type(exc.reason).__name__)


def _rate_limit_wait(headers) -> float | None:
    """SendGrid sends X-RateLimit-Reset as an epoch second; Retry-After if a proxy answered."""
    if not headers:
        return None
    reset = headers.get("X-RateLimit-Reset")
    if reset:
        try:
            return max(float(reset) - time.time(), 0.0)
        except ValueError:
            pass
    retry_after = headers.get("Retry-After")
    try:
        return max(float(retry_after), 0.0) if retry_after else None
    except ValueError:
        return None
