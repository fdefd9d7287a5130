"""Errors of the alerting service.

    AlertingError
    ├── EventDecodeError      the event is not one we can read at all: logged and acknowledged
    ├── InvalidAlert          the alert breaks CONTRACT §1: recorded as status=invalid, acknowledged
    ├── ProviderError         a provider refused or failed a send; `failure` says what to do next
    └── NotYetDue             a retry job arrived before its time: redelivered by Pub/Sub later

Vendor exceptions never travel past the adapters in shared.providers: they are
translated there (`raise ProviderError(...) from exc`).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum


class AlertingError(Exception):
    """Root of every error this service raises on purpose."""


class EventDecodeError(AlertingError):
    """The CloudEvent payload is unreadable; there is no alert document to mark."""


class InvalidAlert(AlertingError):
    """The alert document breaks the contract. `reason` is a CONTRACT §2 statusReason code."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Failure(str, Enum):
    """How a provider outcome is handled; every provider error maps to exactly one."""

    PERMANENT = "permanent"  # this recipient can't be reached on this channel: fall back now
    OPTED_OUT = "opted_out"  # the recipient said STOP: record it, fall back only where the tenant allows
    CONFIG = "config"  # our credentials or sender are wrong: page operators, don't burn every recipient
    REQUEST_BUG = "request_bug"  # we built a bad request: a bug, fall back now
    TRANSIENT = "transient"  # try the same channel again later
    AMBIGUOUS = "ambiguous"  # the request may have been accepted: look it up before any resend

    @property
    def retryable(self) -> bool:
        return self in (Failure.TRANSIENT, Failure.AMBIGUOUS)


@dataclass(frozen=True)
class ProviderOutcome:
    failure: Failure
    code: str | None = None
    retry_after_seconds: float | None = None


class ProviderError(AlertingError):
    """A send did not go through. Its text is built by the adapter and carries no personal data."""

    def __init__(self, provider: str, outcome: ProviderOutcome, detail: str = ""):
        super().__init__(f"{provider} {outcome.failure.value} (code {outcome.code}){': ' + detail if detail else ''}")
        self.provider = provider
        self.outcome = outcome

    @property
    def failure(self) -> Failure:
        return self.outcome.failure

    @property
    def retryable(self) -> bool:
        return self.outcome.failure.retryable


class NotYetDue(AlertingError):
    """A retry job is early by more than the function may wait; Pub/Sub will redeliver it."""

    def __init__(self, seconds: float):
        super().__init__(f"job due in {seconds:.1f}s")
        self.seconds = seconds
