"""Alarm transitions derived from the open-fdd S-7 air-handler trend exports.

The dataset (MIT, https://github.com/bbartling/open-fdd) is read where it lies,
never copied into this repository. It holds a month of one AHU:

- ``S-7_ZN-T.csv``  zone temperature, 5-minute trend, ``07-May-22 12:15:00 PM CDT``
- ``S-7_DA-T.csv``  discharge air temperature, 5-minute trend, ``5/7/2022 12:00``
  (24-hour clock, no zone: US/Central local time)
- ``S-7_OCC-C.csv`` occupancy command, change of value, ``Occupied``/``UnOccupied``
- ``S-7_SF-S.csv``  supply fan status, change of value, ``On``/``Off``

From those it derives the transitions a BAS alarm engine would have raised,
with the simple limit, flat-line and trend-gap rules of ``AlarmRules``
(docs/alarm-rules.md explains the numbers).

``python -m local.replay.open_fdd [--dir D]`` prints what it read and derived.
"""

from __future__ import annotations

import argparse
import bisect
import csv
import math
import os
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Iterable, Iterator, Sequence
from zoneinfo import ZoneInfo

from local.replay import Transition, alert_document

__all__ = [
    "AlarmRules",
    "Band",
    "LimitAlarm",
    "ParseReport",
    "Point",
    "S7Dataset",
    "Sample",
    "StateLog",
    "Transition",
    "alert_document",  # re-exported: the brief's one-stop import for producers
    "dataset_dir",
    "dataset_present",
    "demo_transitions",
    "derive_transitions",
    "discharge_temperature_transitions",
    "flatline_transitions",
    "load_dataset",
    "parse_timestamp",
    "read_numeric_trend",
    "read_state_log",
    "sort_transitions",
    "trend_gap_transitions",
    "zone_temperature_transitions",
]

SITE_ID = "S-7"
EQUIPMENT = "AHU-S7"
CENTRAL = ZoneInfo("America/Chicago")
DEG_F = "°F"

ZONE_TEMP_FILE = "S-7_ZN-T.csv"
DISCHARGE_TEMP_FILE = "S-7_DA-T.csv"
OCCUPANCY_FILE = "S-7_OCC-C.csv"
SUPPLY_FAN_FILE = "S-7_SF-S.csv"
DATASET_FILES = (ZONE_TEMP_FILE, DISCHARGE_TEMP_FILE, OCCUPANCY_FILE, SUPPLY_FAN_FILE)

DATASET_DIR_ENV = "OPEN_FDD_DIR"
REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATASET_DIR = REPO_ROOT.parent / "shared" / "datasets" / "open-fdd-S7"


# --------------------------------------------------------------------------- timestamps

# Only the abbreviations this BAS exports; an unknown one is a garbled row, not a guess.
_ZONE_ABBREVIATIONS = {
    "CST": timezone(timedelta(hours=-6)),
    "CDT": timezone(timedelta(hours=-5)),
    "UTC": timezone.utc,
    "GMT": timezone.utc,
}
_MONTHS = {name: number for number, name in enumerate(
    ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), start=1)}

_CLOCK = r"(?P<hour>\d{1,2}):(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
_DAY_MONTH_YEAR = re.compile(
    r"(?P<day>\d{1,2})-(?P<month>[A-Za-z]{3})-(?P<year>\d{4}|\d{2})\s+" + _CLOCK
    + r"\s*(?P<meridiem>[AaPp][Mm])(?:\s+(?P<zone>[A-Za-z]{3,4}))?"
)
_MONTH_DAY_YEAR = re.compile(
    r"(?P<month>\d{1,2})/(?P<day>\d{1,2})/(?P<year>\d{4}|\d{2})\s+" + _CLOCK
    + r"(?:\s*(?P<meridiem>[AaPp][Mm]))?(?:\s+(?P<zone>[A-Za-z]{3,4}))?"
)


def parse_timestamp(text: str) -> datetime:
    """An aware UTC datetime from either export format; ValueError if it is neither.

    ``07-May-22 12:15:00 PM CDT`` carries its own offset (CST = UTC-6, CDT = UTC-5),
    which also settles the repeated hour in November. ``5/7/2022 12:00`` (24-hour)
    carries none and is read as America/Chicago wall time; in the repeated hour the
    first (daylight) reading is taken, and a time skipped in March lands an hour
    later, which is what the controller's clock would have meant.
    """
    stripped = text.strip()
    for pattern, month_of in ((_DAY_MONTH_YEAR, _MONTHS.get), (_MONTH_DAY_YEAR, _numeric_month)):
        match = pattern.fullmatch(stripped)
        if match:
            return _to_utc(match, month_of(match["month"].lower()))
    raise ValueError(f"unrecognised timestamp {text!r}")


def _numeric_month(text: str) -> int | None:
    return int(text)


def _to_utc(match: re.Match[str], month: int | None) -> datetime:
    if month is None:
        raise ValueError(f"unknown month in {match.string!r}")
    year = int(match["year"])
    if year < 100:
        year += 2000
    hour = int(match["hour"])
    if match["meridiem"]:
        if not 1 <= hour <= 12:
            raise ValueError(f"hour {hour} on a 12-hour clock in {match.string!r}")
        hour = hour % 12 + (12 if match["meridiem"].upper() == "PM" else 0)
    naive = datetime(year, month, int(match["day"]), hour, int(match["minute"]), int(match["second"] or 0))
    if match["zone"]:
        offset = _ZONE_ABBREVIATIONS.get(match["zone"].upper())
        if offset is None:
            raise ValueError(f"unknown time zone {match['zone']!r} in {match.string!r}")
        return naive.replace(tzinfo=offset).astimezone(timezone.utc)
    return naive.replace(tzinfo=CENTRAL).astimezone(timezone.utc)


# --------------------------------------------------------------------------- files


@dataclass(frozen=True)
class Sample:
    at: datetime  # aware UTC
    value: float


@dataclass(frozen=True)
class ParseReport:
    """What reading one export gave: data rows seen, and how many could not be used."""

    file: str
    rows_read: int
    rows_skipped: int
    skipped_examples: tuple[str, ...] = ()

    @property
    def rows_used(self) -> int:
        return self.rows_read - self.rows_skipped


@dataclass(frozen=True)
class StateLog:
    """A binary point recorded on change of value; the state holds until the next change."""

    changes: tuple[tuple[datetime, bool], ...]
    _times: tuple[datetime, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        ordered = tuple(sorted(self.changes, key=lambda change: change[0]))
        # COV logs repeat a state (a re-sent command, a restart): only real changes matter.
        collapsed: list[tuple[datetime, bool]] = []
        for at, state in ordered:
            if not collapsed or collapsed[-1][1] != state:
                collapsed.append((at, state))
        object.__setattr__(self, "changes", tuple(collapsed))
        object.__setattr__(self, "_times", tuple(at for at, _ in collapsed))

    def state_at(self, at: datetime) -> bool | None:
        """The state in force at ``at``; None before the first record."""
        index = bisect.bisect_right(self._times, at) - 1
        return self.changes[index][1] if index >= 0 else None

    def on_since(self, at: datetime) -> datetime | None:
        """When the state in force at ``at`` became True; None if it is not True."""
        index = bisect.bisect_right(self._times, at) - 1
        if index < 0 or not self.changes[index][1]:
            return None
        return self.changes[index][0]


_TRUE_STATES = frozenset({"on", "occupied", "active", "true", "1"})
_FALSE_STATES = frozenset({"off", "unoccupied", "inactive", "false", "0"})
_MAX_SKIPPED_EXAMPLES = 3


def read_numeric_trend(path: Path) -> tuple[list[Sample], ParseReport]:
    """Samples sorted by time; blank, garbled, non-finite and duplicate-time rows are skipped."""
    by_time: dict[datetime, float] = {}
    skipped: list[str] = []
    rows = 0
    for row in _data_rows(path):
        rows += 1
        try:
            at = parse_timestamp(row[0])
            value = float(row[1])
            if not math.isfinite(value):
                raise ValueError("non-finite value")
        except (ValueError, IndexError):
            skipped.append(",".join(row))
            continue
        if at in by_time:  # the same instant exported twice: keep the first
            skipped.append(",".join(row))
            continue
        by_time[at] = value
    samples = [Sample(at, by_time[at]) for at in sorted(by_time)]
    return samples, _report(path, rows, skipped)


def read_state_log(path: Path) -> tuple[StateLog, ParseReport]:
    """A change-of-value log of On/Off or Occupied/UnOccupied; unknown states are skipped."""
    changes: list[tuple[datetime, bool]] = []
    skipped: list[str] = []
    rows = 0
    for row in _data_rows(path):
        rows += 1
        try:
            at = parse_timestamp(row[0])
            word = row[1].strip().lower()
        except (ValueError, IndexError):
            skipped.append(",".join(row))
            continue
        if word in _TRUE_STATES:
            changes.append((at, True))
        elif word in _FALSE_STATES:
            changes.append((at, False))
        else:
            skipped.append(",".join(row))
    return StateLog(tuple(changes)), _report(path, rows, skipped)


def _data_rows(path: Path) -> Iterator[list[str]]:
    """Every row after the header; a blank line comes through as an empty row to be counted."""
    # errors="replace": one corrupt byte should cost one row, not the whole file.
    with path.open(encoding="utf-8-sig", errors="replace", newline="") as handle:
        for number, row in enumerate(csv.reader(handle)):
            if number == 0 and row and row[0].strip().lower().startswith("time"):
                continue
            yield row


def _report(path: Path, rows: int, skipped: list[str]) -> ParseReport:
    return ParseReport(path.name, rows, len(skipped), tuple(skipped[:_MAX_SKIPPED_EXAMPLES]))


# --------------------------------------------------------------------------- rules


@dataclass(frozen=True)
class AlarmRules:
    """Thresholds of the derived alarms; docs/alarm-rules.md gives the reasoning.

    A limit alarm's time delay applies both ways, as BACnet's ``time_delay`` does
    when no separate ``time_delay_normal`` is set: out of band for the whole delay
    to raise, back inside the band by the hysteresis for the whole delay to clear.
    """

    occupied_zone_low_f: float = 68.0
    occupied_zone_high_f: float = 76.0
    unoccupied_zone_low_f: float = 60.0
    unoccupied_zone_high_f: float = 80.0
    zone_time_delay: timedelta = timedelta(minutes=10)
    zone_hysteresis_f: float = 1.0
    zone_critical_margin_f: float = 3.0

    discharge_low_f: float = 50.0
    discharge_high_f: float = 72.0
    discharge_time_delay: timedelta = timedelta(minutes=15)
    discharge_hysteresis_f: float = 2.0
    discharge_critical_margin_f: float = 6.0
    # Right after the fan starts the coil has not pulled the air down yet.
    fan_proving_delay: timedelta = timedelta(minutes=30)

    flatline_duration: timedelta = timedelta(hours=3)
    # Readings this close count as identical: the export has one decimal.
    flatline_tolerance_f: float = 0.01

    trend_gap: timedelta = timedelta(hours=1)


@dataclass(frozen=True)
class Band:
    """The limits in force for one reading; None on a side means no limit there."""

    low: float | None
    high: float | None
    label: str  # why these limits apply, e.g. "occupied"

    def describe(self) -> str:
        if self.low is not None and self.high is not None:
            return f"{self.label} band {self.low:g}–{self.high:g}"
        if self.high is not None:
            return f"{self.label} high limit {self.high:g}"
        return f"{self.label} low limit {self.low:g}"


@dataclass(frozen=True)
class Point:
    equipment: str
    name: str  # BAS point name, e.g. "ZN-T"
    label: str  # what an operator calls it, e.g. "Zone temp"
    units: str = DEG_F

    @property
    def source(self) -> str:
        return f"{self.equipment}/{self.name}"

    def fingerprint(self, site_id: str, condition: str) -> str:
        return f"{site_id}/{self.source}/{condition}"


ZONE_TEMP = Point(EQUIPMENT, "ZN-T", "Zone temp")
DISCHARGE_TEMP = Point(EQUIPMENT, "DA-T", "Discharge air temp")


# --------------------------------------------------------------------------- limit alarms


@dataclass
class _Excursion:
    side: str  # "high" or "low"
    since: datetime
    peak: float


class LimitAlarm:
    """BACnet OUT_OF_RANGE for one point: time delay, deadband (hysteresis), inhibit.

    ``observe`` is fed the readings in time order with the band in force for each;
    a band of None inhibits the alarm (e.g. supply fan off), which returns an
    active alarm to normal at once, as a BAS does when its alarm enable drops.
    """

    def __init__(
        self,
        point: Point,
        site_id: str,
        time_delay: timedelta,
        hysteresis: float,
        critical_margin: float,
        max_sample_gap: timedelta,
    ) -> None:
        self._point = point
        self._site_id = site_id
        self._time_delay = time_delay
        self._hysteresis = hysteresis
        self._critical_margin = critical_margin
        self._max_sample_gap = max_sample_gap
        self._active: _Excursion | None = None
        self._pending: _Excursion | None = None
        self._clearing_since: datetime | None = None
        self._last_at: datetime | None = None

    def observe(self, at: datetime, value: float, band: Band | None) -> Transition | None:
        if self._last_at is not None and at - self._last_at > self._max_sample_gap:
            # No readings, no evidence of "continuously": timers start over.
            self._pending = None
            self._clearing_since = None
        self._last_at = at

        if band is None:
            self._pending = None
            self._clearing_since = None
            if self._active is None:
                return None
            return self._to_normal(at, value, None)

        if self._active is not None:
            return self._observe_active(at, value, band)

        side = _side_out_of(band, value)
        if side is None:
            self._pending = None
            return None
        if self._pending is None or self._pending.side != side:
            self._pending = _Excursion(side, at, value)
        else:
            self._pending.peak = _worse(side, self._pending.peak, value)
        if at - self._pending.since < self._time_delay:
            return None
        self._active, self._pending = self._pending, None
        return self._to_offnormal(at, value, band, self._active)

    def _observe_active(self, at: datetime, value: float, band: Band) -> Transition | None:
        assert self._active is not None
        if not self._back_inside(self._active.side, band, value):
            self._active.peak = _worse(self._active.side, self._active.peak, value)
            self._clearing_since = None
            return None
        if self._clearing_since is None:
            self._clearing_since = at
        if at - self._clearing_since < self._time_delay:
            return None
        return self._to_normal(at, value, band)

    def _back_inside(self, side: str, band: Band, value: float) -> bool:
        if side == "high":
            return band.high is None or value <= band.high - self._hysteresis
        return band.low is None or value >= band.low + self._hysteresis

    def _to_offnormal(self, at: datetime, value: float, band: Band, excursion: _Excursion) -> Transition:
        point = self._point
        limit = band.high if excursion.side == "high" else band.low
        assert limit is not None
        beyond = abs(excursion.peak - limit)
        severity = "critical" if beyond >= self._critical_margin else "major"
        minutes = _minutes(self._time_delay)
        direction = "above the high" if excursion.side == "high" else "below the low"
        return Transition(
            site_id=self._site_id,
            source=point.source,
            event_type="offnormal",
            severity=severity,
            title=f"{point.label} {excursion.side}: {value:.1f} {point.units} ({band.describe()})",
            message=(
                f"{point.label} at {point.source} has been {direction} limit of {limit:g} {point.units} "
                f"({band.describe()}) for {minutes} min, since {_local(excursion.since)}. "
                f"Now {value:.1f} {point.units}, {beyond:.1f} {point.units} past the limit at worst. "
                f"It returns to normal after {minutes} min back inside the band by "
                f"{self._hysteresis:g} {point.units}."
            ),
            occurred_at=at,
            fingerprint=point.fingerprint(self._site_id, excursion.side),
            attributes=_limit_attributes(point, value, band, limit, excursion, self._time_delay),
        )

    def _to_normal(self, at: datetime, value: float, band: Band | None) -> Transition:
        assert self._active is not None
        excursion, self._active, self._clearing_since = self._active, None, None
        point = self._point
        if band is None:
            title = f"{point.label} {excursion.side} alarm cleared: supply fan off"
            why = "the supply fan stopped, which disables this alarm"
        else:
            title = f"{point.label} back to normal: {value:.1f} {point.units} ({band.describe()})"
            why = (
                f"it has been back inside the {band.describe()} {point.units} by at least "
                f"{self._hysteresis:g} {point.units} for {_minutes(self._time_delay)} min"
            )
        attributes = {
            "value": f"{value:.1f}",
            "units": point.units,
            "condition": excursion.side,
            "peak": f"{excursion.peak:.1f}",
            "offnormalSince": excursion.since.isoformat(),
            "durationMinutes": str(_minutes(at - excursion.since)),
        }
        if band is not None:
            attributes["band"] = band.label
        return Transition(
            site_id=self._site_id,
            source=point.source,
            event_type="normal",
            severity="info",
            title=title,
            message=(
                f"{point.label} at {point.source} is back to normal: {why}. Now {value:.1f} {point.units}; "
                f"the {excursion.side} excursion began {_local(excursion.since)} and peaked at "
                f"{excursion.peak:.1f} {point.units}."
            ),
            occurred_at=at,
            fingerprint=point.fingerprint(self._site_id, excursion.side),
            attributes=attributes,
        )


def _side_out_of(band: Band, value: float) -> str | None:
    if band.high is not None and value > band.high:
        return "high"
    if band.low is not None and value < band.low:
        return "low"
    return None


def _worse(side: str, a: float, b: float) -> float:
    return max(a, b) if side == "high" else min(a, b)


def _limit_attributes(
    point: Point, value: float, band: Band, limit: float, excursion: _Excursion, delay: timedelta
) -> dict[str, str]:
    attributes = {
        "value": f"{value:.1f}",
        "units": point.units,
        "condition": excursion.side,
        "band": band.label,
        "threshold": f"{limit:g}",
        "peak": f"{excursion.peak:.1f}",
        "timeDelayMinutes": str(_minutes(delay)),
    }
    if band.low is not None:
        attributes["lowLimit"] = f"{band.low:g}"
    if band.high is not None:
        attributes["highLimit"] = f"{band.high:g}"
    return attributes


def zone_temperature_transitions(
    samples: Sequence[Sample], occupancy: StateLog, rules: AlarmRules = AlarmRules(), site_id: str = SITE_ID
) -> list[Transition]:
    """Zone temperature out of its occupied or unoccupied (setback) band."""
    occupied = Band(rules.occupied_zone_low_f, rules.occupied_zone_high_f, "occupied")
    unoccupied = Band(rules.unoccupied_zone_low_f, rules.unoccupied_zone_high_f, "unoccupied")
    alarm = LimitAlarm(
        ZONE_TEMP,
        site_id,
        rules.zone_time_delay,
        rules.zone_hysteresis_f,
        rules.zone_critical_margin_f,
        rules.trend_gap,
    )
    transitions = []
    for sample in samples:
        # Before the first occupancy record the setback band is the safe assumption.
        band = occupied if occupancy.state_at(sample.at) else unoccupied
        transitions.append(alarm.observe(sample.at, sample.value, band))
    return [t for t in transitions if t is not None]


def discharge_temperature_transitions(
    samples: Sequence[Sample], supply_fan: StateLog, rules: AlarmRules = AlarmRules(), site_id: str = SITE_ID
) -> list[Transition]:
    """Discharge air out of its band while the supply fan has been proven on long enough."""
    running = Band(rules.discharge_low_f, rules.discharge_high_f, "fan-on")
    alarm = LimitAlarm(
        DISCHARGE_TEMP,
        site_id,
        rules.discharge_time_delay,
        rules.discharge_hysteresis_f,
        rules.discharge_critical_margin_f,
        rules.trend_gap,
    )
    transitions = []
    for sample in samples:
        fan_on_since = supply_fan.on_since(sample.at)
        proven = fan_on_since is not None and sample.at - fan_on_since >= rules.fan_proving_delay
        transitions.append(alarm.observe(sample.at, sample.value, running if proven else None))
    return [t for t in transitions if t is not None]


# --------------------------------------------------------------------------- flat line


def flatline_transitions(
    samples: Sequence[Sample],
    supply_fan: StateLog,
    point: Point,
    rules: AlarmRules = AlarmRules(),
    site_id: str = SITE_ID,
) -> list[Transition]:
    """A sensor reporting the identical value for ``flatline_duration`` of unbroken fan-on time.

    Only fan-on time counts: with the fan off the air is still and this BAS trends
    on change, so long identical stretches at night are expected, not stuck sensors.
    The fault clears at the first reading that differs, whatever the fan does.
    """
    transitions: list[Transition] = []
    run_value: float | None = None
    run_since: datetime | None = None  # first identical reading with the fan on
    faulted_since: datetime | None = None
    previous_at: datetime | None = None
    fingerprint = point.fingerprint(site_id, "flatline")
    for sample in samples:
        fan_on = bool(supply_fan.state_at(sample.at))
        gap = previous_at is not None and sample.at - previous_at > rules.trend_gap
        previous_at = sample.at
        if run_value is None or abs(sample.value - run_value) > rules.flatline_tolerance_f:
            if faulted_since is not None and run_value is not None:
                transitions.append(_flatline_normal(point, site_id, fingerprint, sample, run_value, faulted_since))
                faulted_since = None
            run_value = sample.value
            run_since = sample.at if fan_on else None
            continue
        if not fan_on or gap:
            run_since = sample.at if fan_on else None
            continue
        if run_since is None:
            run_since = sample.at
        if faulted_since is None and sample.at - run_since >= rules.flatline_duration:
            faulted_since = run_since
            transitions.append(_flatline_fault(point, site_id, fingerprint, sample, run_since))
    return transitions


def _flatline_fault(point: Point, site_id: str, fingerprint: str, sample: Sample, since: datetime) -> Transition:
    hours = (sample.at - since) / timedelta(hours=1)
    return Transition(
        site_id=site_id,
        source=point.source,
        event_type="fault",
        severity="major",
        title=f"{point.label} sensor flat-lined: {sample.value:.1f} {point.units} for {hours:.1f} h, fan on",
        message=(
            f"{point.label} at {point.source} has reported exactly {sample.value:.1f} {point.units} "
            f"since {_local(since)} while the supply fan ran. A live sensor in moving air drifts by at "
            "least a tenth of a degree; check the sensor, its wiring and the controller's input."
        ),
        occurred_at=sample.at,
        fingerprint=fingerprint,
        attributes={
            "value": f"{sample.value:.1f}",
            "units": point.units,
            "condition": "flatline",
            "flatSince": since.isoformat(),
            "flatHours": f"{hours:.1f}",
        },
    )


def _flatline_normal(
    point: Point, site_id: str, fingerprint: str, sample: Sample, stuck_value: float, since: datetime
) -> Transition:
    hours = (sample.at - since) / timedelta(hours=1)
    return Transition(
        site_id=site_id,
        source=point.source,
        event_type="normal",
        severity="info",
        title=f"{point.label} sensor reading again: {sample.value:.1f} {point.units} after {hours:.1f} h flat",
        message=(
            f"{point.label} at {point.source} changed to {sample.value:.1f} {point.units} after holding "
            f"{stuck_value:.1f} {point.units} since {_local(since)}."
        ),
        occurred_at=sample.at,
        fingerprint=fingerprint,
        attributes={
            "value": f"{sample.value:.1f}",
            "units": point.units,
            "condition": "flatline",
            "flatSince": since.isoformat(),
            "durationMinutes": str(_minutes(sample.at - since)),
        },
    )


# --------------------------------------------------------------------------- trend gaps


def trend_gap_transitions(
    samples: Sequence[Sample], point: Point, rules: AlarmRules = AlarmRules(), site_id: str = SITE_ID
) -> list[Transition]:
    """A fault when a 5-minute trend goes silent for ``trend_gap``, normal when it resumes.

    The fault is dated when the silence reached the threshold, the moment a live
    BAS would have noticed, not when the next sample finally arrived.
    """
    transitions: list[Transition] = []
    fingerprint = point.fingerprint(site_id, "trend-gap")
    for before, after in zip(samples, samples[1:]):
        silence = after.at - before.at
        if silence <= rules.trend_gap:
            continue
        noticed_at = before.at + rules.trend_gap
        hours = silence / timedelta(hours=1)
        attributes = {"units": point.units, "condition": "trend-gap", "lastSampleAt": before.at.isoformat()}
        transitions.append(
            Transition(
                site_id=site_id,
                source=point.source,
                event_type="fault",
                severity="minor",
                title=f"{point.label} trend data gap: no sample since {_local(before.at)}",
                message=(
                    f"{point.label} at {point.source} has logged nothing for "
                    f"{_minutes(rules.trend_gap)} min; the last sample was {before.value:.1f} {point.units} "
                    f"at {_local(before.at)}. Check the controller and the trend log."
                ),
                occurred_at=noticed_at,
                fingerprint=fingerprint,
                attributes=attributes,
            )
        )
        transitions.append(
            Transition(
                site_id=site_id,
                source=point.source,
                event_type="normal",
                severity="info",
                title=f"{point.label} trend data resumed after {hours:.1f} h",
                message=f"{point.label} at {point.source} is logging again: {after.value:.1f} {point.units}.",
                occurred_at=after.at,
                fingerprint=fingerprint,
                attributes={**attributes, "value": f"{after.value:.1f}", "gapMinutes": str(_minutes(silence))},
            )
        )
    return transitions


# --------------------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class S7Dataset:
    zone_temp: list[Sample]
    discharge_temp: list[Sample]
    occupancy: StateLog
    supply_fan: StateLog
    reports: tuple[ParseReport, ...]


def dataset_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """Where to look: the argument, else $OPEN_FDD_DIR, else ../shared/datasets/open-fdd-S7."""
    if explicit is not None:
        return Path(explicit)
    from_env = os.environ.get(DATASET_DIR_ENV)
    return Path(from_env) if from_env else DEFAULT_DATASET_DIR


def dataset_present(directory: Path) -> bool:
    return all((directory / name).is_file() for name in DATASET_FILES)


def load_dataset(directory: Path) -> S7Dataset:
    zone, zone_report = read_numeric_trend(directory / ZONE_TEMP_FILE)
    discharge, discharge_report = read_numeric_trend(directory / DISCHARGE_TEMP_FILE)
    occupancy, occupancy_report = read_state_log(directory / OCCUPANCY_FILE)
    fan, fan_report = read_state_log(directory / SUPPLY_FAN_FILE)
    return S7Dataset(zone, discharge, occupancy, fan, (zone_report, discharge_report, occupancy_report, fan_report))


def derive_transitions(dataset: S7Dataset, rules: AlarmRules = AlarmRules()) -> list[Transition]:
    """Every rule over the dataset, merged into one time-ordered list."""
    transitions = [
        *zone_temperature_transitions(dataset.zone_temp, dataset.occupancy, rules),
        *discharge_temperature_transitions(dataset.discharge_temp, dataset.supply_fan, rules),
        *flatline_transitions(dataset.zone_temp, dataset.supply_fan, ZONE_TEMP, rules),
        *flatline_transitions(dataset.discharge_temp, dataset.supply_fan, DISCHARGE_TEMP, rules),
        *trend_gap_transitions(dataset.zone_temp, ZONE_TEMP, rules),
        *trend_gap_transitions(dataset.discharge_temp, DISCHARGE_TEMP, rules),
    ]
    return sort_transitions(transitions)


def sort_transitions(transitions: Iterable[Transition]) -> list[Transition]:
    # Ties (several conditions at one sample) in a fixed order so ids and replays are stable.
    return sorted(transitions, key=lambda t: (t.occurred_at, t.fingerprint, t.event_type))


def demo_transitions(directory: Path | None = None, rules: AlarmRules = AlarmRules()) -> tuple[str, list[Transition]]:
    """("open-fdd", derived transitions) when the dataset is there, else ("synthetic", the scenario)."""
    where = dataset_dir(directory)
    if dataset_present(where):
        return "open-fdd", derive_transitions(load_dataset(where), rules)
    from local.replay.synthetic import synthetic_transitions

    return "synthetic", synthetic_transitions()


# --------------------------------------------------------------------------- helpers and CLI


def _local(at: datetime) -> str:
    return at.astimezone(CENTRAL).strftime("%Y-%m-%d %H:%M %Z")


def _minutes(span: timedelta) -> int:
    return int(span.total_seconds() // 60)


def summarize_reports(dataset: S7Dataset) -> list[str]:
    lines = ["Rows read / skipped:"]
    for report in dataset.reports:
        lines.append(f"  {report.file:<16} {report.rows_read:>6} read {report.rows_skipped:>4} skipped")
        lines.extend(f"      skipped: {example!r}" for example in report.skipped_examples)
    trend = dataset.zone_temp + dataset.discharge_temp
    if trend:
        first, last = min(s.at for s in trend), max(s.at for s in trend)
        lines.append(f"Trend span: {_local(first)} .. {_local(last)} ({(last - first) / timedelta(days=1):.1f} days)")
    return lines


def summarize_transitions(transitions: Sequence[Transition]) -> list[str]:
    lines = [f"Transitions: {len(transitions)}"]
    if transitions:
        lines.append(f"  first {_local(transitions[0].occurred_at)}, last {_local(transitions[-1].occurred_at)}")
    for heading, key in (
        ("by eventType", lambda t: t.event_type),
        ("by severity", lambda t: t.severity),
        ("by source", lambda t: t.source),
        ("by condition", lambda t: t.fingerprint),
    ):
        counts = Counter(key(t) for t in transitions)
        lines.append(f"  {heading}: " + ", ".join(f"{name}={count}" for name, count in sorted(counts.items())))
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", help=f"dataset directory (default: ${DATASET_DIR_ENV} or {DEFAULT_DATASET_DIR})")
    parser.add_argument("--list", action="store_true", help="print every transition")
    args = parser.parse_args(argv)
    directory = dataset_dir(args.dir)
    if dataset_present(directory):
        dataset = load_dataset(directory)
        transitions = derive_transitions(dataset)
        lines = [f"Dataset: {directory}", *summarize_reports(dataset)]
    else:
        origin, transitions = demo_transitions(directory)
        lines = [f"open-fdd dataset not found in {directory}: the {origin} scenario stands in for it"]
    lines.extend(summarize_transitions(transitions))
    if args.list:
        lines.extend(f"{_local(t.occurred_at)}  {t.event_type:<9} {t.severity:<8} {t.title}" for t in transitions)
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
