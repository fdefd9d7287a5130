"""Everything the stages need, injected once per function instance (see shared.container)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from shared.config import AlertConfig
from shared.providers.base import EmailSender, SmsSender
from shared.queues import JobQueue
from shared.settings import Settings
from shared.store import AlertStore, utcnow


@dataclass
class PipelineDeps:
    settings: Settings
    config: AlertConfig
    store: AlertStore
    sms: SmsSender
    email: EmailSender
    queue: JobQueue
    link_key: bytes
    clock: Callable[[], datetime] = utcnow
    sleep: Callable[[float], None] = time.sleep
    breaker: "ChannelBreaker" = field(default_factory=lambda: ChannelBreaker())


class ChannelBreaker:
    """Stops using a channel after a config error (bad credentials, bad sender) for a while.

    Without it one wrong token would be discovered once per recipient of an alarm storm,
    each discovery costing a provider call and a delay before that recipient's email.
    """

    def __init__(self, cool_down_seconds: float = 60.0, monotonic: Callable[[], float] = time.monotonic):
        self._open_until: dict[str, float] = {}
        self._cool_down = cool_down_seconds
        self._monotonic = monotonic

    def trip(self, channel: str) -> None:
        self._open_until[channel] = self._monotonic() + self._cool_down

    def is_open(self, channel: str) -> bool:
        return self._open_until.get(channel, 0.0) > self._monotonic()
