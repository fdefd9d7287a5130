"""A built-in day of alarms at a made-up site, for machines without the open-fdd dataset.

Everything is fixed in the table below (no randomness), so the same call always
yields the same transitions and therefore the same alert ids. The day is
written to exercise the service rather than to look like a statistic:

- limit alarms of every severity on several AHUs, each with its return to normal;
- sensor and equipment faults, including one that never clears before midnight;
- a controller reboot at 14:00 that faults three points of AHU-3 in the same
  second, so a replay has a burst of simultaneous writes;
- a point that alarms twice in one morning (same fingerprint, two episodes).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

from local.replay import Transition

SYNTHETIC_SITE_ID = "SYN-1"
SYNTHETIC_DAY = date(2024, 6, 4)
SITE_TIME_ZONE = ZoneInfo("America/Chicago")


@dataclass(frozen=True)
class LimitEpisode:
    """A point outside a limit from ``start`` for ``minutes`` (None: still out at the end of the day)."""

    equipment: str
    point: str
    label: str
    side: str  # "high" or "low"
    limit: float
    units: str
    start: str  # "HH:MM" site time
    minutes: int | None
    peak: float
    settled: float  # the reading when it came back
    severity: str


@dataclass(frozen=True)
class FaultEpisode:
    """A sensor or equipment fault from ``start`` for ``minutes`` (None: not cleared that day)."""

    equipment: str
    point: str
    label: str
    condition: str  # fingerprint suffix, e.g. "flatline"
    what: str  # the fault, as an operator would read it
    start: str
    minutes: int | None
    severity: str


Episode = LimitEpisode | FaultEpisode

EPISODES: tuple[Episode, ...] = (
    # Morning start-up: supply air warm until the chiller is staged on.
    LimitEpisode("AHU-1", "SA-T", "supply air temp", "high", 60, "°F", "06:20", 45, 68.2, 57.9, "major"),
    LimitEpisode("AHU-2", "SA-T", "supply air temp", "high", 60, "°F", "06:25", 35, 64.1, 58.3, "minor"),
    LimitEpisode("AHU-1", "ZN-T", "zone temp", "low", 68, "°F", "06:40", 50, 65.9, 69.4, "minor"),
    LimitEpisode("AHU-4", "RA-H", "return air humidity", "high", 60, "%RH", "07:05", 95, 66.0, 57.5, "minor"),
    LimitEpisode("AHU-2", "DSP", "duct static pressure", "low", 0.8, "in. w.c.", "07:30", 20, 0.42, 1.05, "major"),
    FaultEpisode("AHU-3", "OA-T", "outside air temp", "flatline",
                 "sensor flat-lined at 71.0 °F for 3 h", "08:10", 160, "major"),
    LimitEpisode("AHU-4", "ZN-T", "zone temp", "high", 76, "°F", "08:45", 40, 77.6, 74.8, "major"),
    # The same zone again an hour later: one fingerprint, two episodes.
    LimitEpisode("AHU-4", "ZN-T", "zone temp", "high", 76, "°F", "10:05", 70, 78.9, 74.6, "major"),
    FaultEpisode("AHU-2", "SF-S", "supply fan", "failure",
                 "status Off while commanded On", "09:12", 18, "critical"),
    LimitEpisode("AHU-1", "FLT-DP", "filter differential pressure", "high", 1.0, "in. w.c.", "09:40", 240, 1.18,
                 0.35, "minor"),
    LimitEpisode("AHU-2", "ZN-T", "zone temp", "high", 76, "°F", "10:30", 85, 80.7, 75.0, "critical"),
    LimitEpisode("AHU-3", "MA-T", "mixed air temp", "low", 45, "°F", "11:15", 25, 42.8, 49.6, "major"),
    FaultEpisode("AHU-4", "CHW-V", "chilled water valve", "stuck",
                 "commanded 100 % but feedback stays at 12 %", "11:50", 65, "major"),
    LimitEpisode("AHU-1", "SA-T", "supply air temp", "high", 60, "°F", "12:35", 30, 63.4, 57.2, "minor"),
    LimitEpisode("AHU-4", "DSP", "duct static pressure", "high", 2.0, "in. w.c.", "13:05", 15, 2.6, 1.5, "critical"),
    LimitEpisode("AHU-2", "RA-T", "return air temp", "high", 78, "°F", "13:20", 55, 79.8, 76.4, "major"),
    # 14:00 controller reboot on AHU-3: three points fault in the same second.
    FaultEpisode("AHU-3", "SF-S", "supply fan", "comm", "no response from controller (BACnet timeout)",
                 "14:00", 12, "critical"),
    FaultEpisode("AHU-3", "SA-T", "supply air temp", "comm", "no response from controller (BACnet timeout)",
                 "14:00", 12, "major"),
    FaultEpisode("AHU-3", "ZN-T", "zone temp", "comm", "no response from controller (BACnet timeout)",
                 "14:00", 12, "major"),
    LimitEpisode("AHU-3", "ZN-T", "zone temp", "high", 76, "°F", "14:20", 60, 77.9, 75.1, "major"),
    LimitEpisode("AHU-1", "ZN-T", "zone temp", "high", 76, "°F", "15:10", 95, 79.3, 74.9, "critical"),
    FaultEpisode("AHU-2", "FRZ", "freeze stat", "trip", "low-limit thermostat tripped", "16:45", 30, "critical"),
    LimitEpisode("AHU-4", "SA-T", "supply air temp", "low", 50, "°F", "18:30", 20, 47.9, 53.0, "minor"),
    LimitEpisode("AHU-3", "RA-H", "return air humidity", "high", 60, "%RH", "20:15", 120, 64.5, 58.2, "minor"),
    # Still active at midnight: the night shift inherits them.
    FaultEpisode("AHU-1", "EF-S", "exhaust fan", "failure", "status Off while commanded On", "22:40", None, "major"),
    LimitEpisode("AHU-2", "ZN-T", "zone temp", "low", 60, "°F", "23:30", None, 57.8, 0.0, "major"),
)


def synthetic_transitions(day: date = SYNTHETIC_DAY, site_id: str = SYNTHETIC_SITE_ID) -> list[Transition]:
    """Every transition of the scenario on ``day``, in time order."""
    transitions: list[Transition] = []
    for episode in EPISODES:
        if isinstance(episode, LimitEpisode):
            transitions.extend(_limit_transitions(episode, day, site_id))
        else:
            transitions.extend(_fault_transitions(episode, day, site_id))
    return sorted(transitions, key=lambda t: (t.occurred_at, t.fingerprint, t.event_type))


def _limit_transitions(episode: LimitEpisode, day: date, site_id: str) -> list[Transition]:
    source = f"{episode.equipment}/{episode.point}"
    fingerprint = f"{site_id}/{source}/{episode.side}"
    started = _at(day, episode.start)
    limit_text = f"{'high' if episode.side == 'high' else 'low'} limit {episode.limit:g}"
    raised = Transition(
        site_id=site_id,
        source=source,
        event_type="offnormal",
        severity=episode.severity,
        title=f"{episode.equipment} {episode.label} {episode.side}: {episode.peak:g} {episode.units} ({limit_text})",
        message=(
            f"{episode.label.capitalize()} at {source} is {episode.peak:g} {episode.units}, "
            f"{'above' if episode.side == 'high' else 'below'} its {limit_text} {episode.units}. "
            "Synthetic scenario: no real building is affected."
        ),
        occurred_at=started,
        fingerprint=fingerprint,
        attributes={
            "value": f"{episode.peak:g}",
            "units": episode.units,
            "condition": episode.side,
            "threshold": f"{episode.limit:g}",
            "scenario": "synthetic",
        },
    )
    if episode.minutes is None:
        return [raised]
    returned = Transition(
        site_id=site_id,
        source=source,
        event_type="normal",
        severity="info",
        title=f"{episode.equipment} {episode.label} back to normal: {episode.settled:g} {episode.units}",
        message=(
            f"{episode.label.capitalize()} at {source} is back within its {limit_text} {episode.units} "
            f"after {episode.minutes} min. Synthetic scenario."
        ),
        occurred_at=started + timedelta(minutes=episode.minutes),
        fingerprint=fingerprint,
        attributes={
            "value": f"{episode.settled:g}",
            "units": episode.units,
            "condition": episode.side,
            "durationMinutes": str(episode.minutes),
            "scenario": "synthetic",
        },
    )
    return [raised, returned]


def _fault_transitions(episode: FaultEpisode, day: date, site_id: str) -> list[Transition]:
    source = f"{episode.equipment}/{episode.point}"
    fingerprint = f"{site_id}/{source}/{episode.condition}"
    started = _at(day, episode.start)
    attributes = {"condition": episode.condition, "scenario": "synthetic"}
    faulted = Transition(
        site_id=site_id,
        source=source,
        event_type="fault",
        severity=episode.severity,
        title=f"{episode.equipment} {episode.label} fault: {episode.what}",
        message=f"{episode.label.capitalize()} at {source}: {episode.what}. Synthetic scenario.",
        occurred_at=started,
        fingerprint=fingerprint,
        attributes=attributes,
    )
    if episode.minutes is None:
        return [faulted]
    cleared = Transition(
        site_id=site_id,
        source=source,
        event_type="normal",
        severity="info",
        title=f"{episode.equipment} {episode.label} fault cleared after {episode.minutes} min",
        message=f"{episode.label.capitalize()} at {source} is healthy again. Synthetic scenario.",
        occurred_at=started + timedelta(minutes=episode.minutes),
        fingerprint=fingerprint,
        attributes={**attributes, "durationMinutes": str(episode.minutes)},
    )
    return [faulted, cleared]


def _at(day: date, hh_mm: str) -> datetime:
    local = datetime.combine(day, time.fromisoformat(hh_mm), tzinfo=SITE_TIME_ZONE)
    return local.astimezone(timezone.utc)


if __name__ == "__main__":
    from collections import Counter

    scenario = synthetic_transitions()
    print(f"{len(scenario)} transitions at {SYNTHETIC_SITE_ID} on {SYNTHETIC_DAY}")
    print("  by eventType:", dict(sorted(Counter(t.event_type for t in scenario).items())))
    print("  by severity: ", dict(sorted(Counter(t.severity for t in scenario).items())))
