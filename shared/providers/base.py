"""The provider ports: small interfaces that the pipeline sends through.

An adapter returns a SendReceipt or raises ProviderError, whose `failure` says
whether the send is retryable; nothing vendor-specific leaks past it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class OutgoingSms:
    to: str
    body: str
    status_callback_url: str | None = None


@dataclass(frozen=True)
class OutgoingEmail:
    to: str
    subject: str
    body: str
    # Echoed back by the provider's event webhook; how events find their delivery document.
    correlation: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class SendReceipt:
    provider_message_id: str


class SmsSender(Protocol):
    def send_sms(self, message: OutgoingSms) -> SendReceipt:
        """Hands the message to the provider, or raises ProviderError."""

    def find_sent(self, to: str, since: datetime, marker: str) -> str | None:
        """The id of a message to `to` since `since` whose body contains `marker`, if the provider has one.

        Used to settle a send whose outcome is unknown (timeout, crash) before resending.
        """


class EmailSender(Protocol):
    def send_email(self, message: OutgoingEmail) -> SendReceipt:
        """Hands the email to the provider, or raises ProviderError."""
