"""Writes transitions as alert documents, in time order, squeezed into a bounded wall time.

This is the producer side of CONTRACT §1: each transition becomes
``tenants/{tenantId}/alerts/{alertId}`` through ``create()``, so a document that
already exists (a producer retry, a replay run twice) is left alone and
reported rather than written again.

Time is compressed linearly: the span from the first to the last transition is
mapped onto at most ``max_duration_s`` seconds of wall time (sooner if
``speedup`` asks for it), and the writer sleeps until each transition's slot.
Transitions whose slots fall within ``SLOT_SECONDS`` of each other form a burst
that is written concurrently on a small thread pool, which is what a busy BAS
looks like to the service. Within a burst, the transitions of one fingerprint
stay on one thread in order, so an ``offnormal`` is never overtaken by its own
``normal``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
import dataclasses
from dataclasses import dataclass
from datetime import datetime, timezone
from functools import partial
from typing import Any

from google.api_core.exceptions import AlreadyExists

from local.replay import Transition, alert_document

# Transitions closer than this in wall time are one burst: sleeping for less is noise.
SLOT_SECONDS = 0.01
DEFAULT_MAX_WORKERS = 8


@dataclass(frozen=True)
class WrittenAlert:
    alert_id: str
    path: str  # tenants/{tenantId}/alerts/{alertId}
    transition: Transition
    # time.time() when create() returned: from then on the document exists, so
    # end-to-end latencies measured from here are never flattered by queueing
    # in this writer.
    written_at: float
    # False when the document was already there: an earlier replay, or our own
    # first attempt whose reply was lost before the client library retried it.
    created: bool
    scheduled_offset_s: float  # when it was due, in seconds after the replay started


def replay(
    transitions: Sequence[Transition],
    db: Any,
    tenant_id: str,
    speedup: float | None = None,
    max_duration_s: float = 60.0,
    *,
    max_workers: int = DEFAULT_MAX_WORKERS,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[WrittenAlert]:
    """Write every transition and return what was written, in time order.

    ``db`` is a ``google.cloud.firestore.Client`` (anything with the same
    ``collection().document().collection().document().create()`` chain works).
    ``speedup`` is data seconds per wall second; None means "as fast as
    ``max_duration_s`` allows". ``max_duration_s`` of 0 writes everything at once.
    """
    if speedup is not None and speedup <= 0:
        raise ValueError("speedup must be positive")
    if max_duration_s < 0:
        raise ValueError("max_duration_s must not be negative")
    ordered = sorted(transitions, key=lambda t: t.occurred_at)  # stable: ties keep the caller's order
    offsets = wall_offsets(ordered, speedup, max_duration_s)
    alerts = db.collection("tenants").document(tenant_id).collection("alerts")

    written: list[WrittenAlert | None] = [None] * len(ordered)
    started = clock()
    with ThreadPoolExecutor(max_workers=max_workers, thread_name_prefix="replay") as pool:
        for burst in _bursts(ordered, offsets):
            delay = started + burst[0].offset_s - clock()
            if delay > 0:
                sleep(delay)
            lanes = _lanes_by_fingerprint(burst)
            write_lane = partial(_write_lane, alerts, tenant_id)
            # A lone lane is written on this thread: no hand-off latency for the common case.
            lane_results = [write_lane(lanes[0])] if len(lanes) == 1 else pool.map(write_lane, lanes)
            for results in lane_results:
                for index, alert in results:
                    written[index] = alert
    return [alert for alert in written if alert is not None]


def rebased(transitions: Sequence[Transition], first_at: datetime) -> list[Transition]:
    """The same transitions shifted so the earliest happens at ``first_at``.

    For demos that want present-day occurredAt values (e.g. so quiet hours and
    "last 24 h" views behave as live), or a fresh set of alert ids on a database
    that still holds an earlier replay: ids hash occurredAt, so they change too.
    """
    if not transitions:
        return []
    shift = first_at - min(t.occurred_at for t in transitions)
    return [dataclasses.replace(t, occurred_at=(t.occurred_at + shift).astimezone(timezone.utc)) for t in transitions]


def wall_offsets(ordered: Sequence[Transition], speedup: float | None, max_duration_s: float) -> list[float]:
    """Seconds after the start of the replay at which each (time-ordered) transition is due."""
    if not ordered:
        return []
    first = ordered[0].occurred_at
    span_s = (ordered[-1].occurred_at - first).total_seconds()
    if span_s <= 0:
        return [0.0] * len(ordered)
    wall_per_data_second = max_duration_s / span_s
    if speedup is not None:
        wall_per_data_second = min(wall_per_data_second, 1.0 / speedup)
    return [(t.occurred_at - first).total_seconds() * wall_per_data_second for t in ordered]


@dataclass(frozen=True)
class _Scheduled:
    index: int  # position in the time-ordered input, which the result keeps
    transition: Transition
    offset_s: float


def _bursts(ordered: Sequence[Transition], offsets: Sequence[float]) -> list[list[_Scheduled]]:
    bursts: list[list[_Scheduled]] = []
    for index, (transition, offset) in enumerate(zip(ordered, offsets)):
        scheduled = _Scheduled(index, transition, offset)
        if bursts and offset - bursts[-1][0].offset_s < SLOT_SECONDS:
            bursts[-1].append(scheduled)
        else:
            bursts.append([scheduled])
    return bursts


def _lanes_by_fingerprint(burst: list[_Scheduled]) -> list[list[_Scheduled]]:
    lanes: dict[str, list[_Scheduled]] = {}
    for scheduled in burst:
        lanes.setdefault(scheduled.transition.fingerprint, []).append(scheduled)
    return list(lanes.values())


def _write_lane(alerts: Any, tenant_id: str, lane: list[_Scheduled]) -> list[tuple[int, WrittenAlert]]:
    return [(s.index, _write_one(alerts, tenant_id, s.transition, s.offset_s)) for s in lane]


def _write_one(alerts: Any, tenant_id: str, transition: Transition, offset_s: float) -> WrittenAlert:
    alert_id, document = alert_document(transition, tenant_id)
    try:
        # The client library already retries a commit that failed transiently;
        # if the first try had in fact landed, the retry ends here as AlreadyExists.
        alerts.document(alert_id).create(document)
        created = True
    except AlreadyExists:
        created = False
    return WrittenAlert(
        alert_id=alert_id,
        path=f"tenants/{tenant_id}/alerts/{alert_id}",
        transition=transition,
        written_at=time.time(),
        created=created,
        scheduled_offset_s=offset_s,
    )
