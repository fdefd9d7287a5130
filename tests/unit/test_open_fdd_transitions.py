"""Alarm transitions from the open-fdd S-7 trends, the synthetic scenario, and the replay writer."""

from __future__ import annotations

import dataclasses
import re
import threading
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from google.api_core.exceptions import AlreadyExists

from local.replay import Transition, alert_document, alert_id
from local.replay.open_fdd import (
    DISCHARGE_TEMP,
    ZONE_TEMP,
    AlarmRules,
    Sample,
    StateLog,
    dataset_dir,
    dataset_present,
    derive_transitions,
    discharge_temperature_transitions,
    flatline_transitions,
    load_dataset,
    parse_timestamp,
    read_numeric_trend,
    read_state_log,
    trend_gap_transitions,
    zone_temperature_transitions,
)
from local.replay.synthetic import synthetic_transitions
from local.replay.writer import rebased, replay, wall_offsets

UTC = timezone.utc
T0 = datetime(2022, 5, 10, 14, 0, tzinfo=UTC)  # 09:00 CDT, a Tuesday
RULES = AlarmRules()
SERVICE_FIELDS = {"status", "statusReason", "processedAt", "updatedAt"}


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


def series(*points: tuple[float, float]) -> list[Sample]:
    """Samples from (minutes after T0, value) pairs."""
    return [Sample(T0 + minutes(m), v) for m, v in points]


def every_5_min(values: list[float], start_min: float = 0) -> list[Sample]:
    return [Sample(T0 + minutes(start_min + 5 * i), v) for i, v in enumerate(values)]


ALWAYS_OCCUPIED = StateLog(((T0 - timedelta(days=1), True),))
ALWAYS_UNOCCUPIED = StateLog(((T0 - timedelta(days=1), False),))
FAN_ON_LONG_AGO = StateLog(((T0 - timedelta(hours=2), True),))


# --------------------------------------------------------------------------- contract checks


def assert_valid_alert(tenant_id: str, doc_id: str, doc: dict[str, Any]) -> None:
    """CONTRACT §1, written out independently of the code under test."""
    assert re.fullmatch(r"[0-9a-f]{32}", doc_id)
    assert doc["schemaVersion"] == 1 and type(doc["schemaVersion"]) is int
    assert doc["tenantId"] == tenant_id
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", doc["siteId"])
    assert isinstance(doc["source"], str) and 1 <= len(doc["source"]) <= 200
    assert doc["eventType"] in {"offnormal", "fault", "normal"}
    assert doc["severity"] in {"critical", "major", "minor", "info"}
    title = doc["title"]
    assert isinstance(title, str) and 1 <= len(title) <= 120 and "\n" not in title and "\r" not in title
    assert isinstance(doc.get("message", ""), str) and len(doc.get("message", "")) <= 4000
    occurred = doc["occurredAt"]
    assert isinstance(occurred, datetime) and occurred.utcoffset() == timedelta(0)
    assert isinstance(doc["fingerprint"], str) and 1 <= len(doc["fingerprint"]) <= 200
    attributes = doc["attributes"]
    assert isinstance(attributes, dict) and len(attributes) <= 20
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in attributes.items())
    assert not SERVICE_FIELDS & doc.keys()


def assert_consistent_episodes(transitions: list[Transition]) -> None:
    """Per fingerprint: alternating raise / normal, starting with a raise, in time order."""
    assert transitions == sorted(transitions, key=lambda t: t.occurred_at)
    last_by_fingerprint: dict[str, str] = {}
    for t in transitions:
        previous = last_by_fingerprint.get(t.fingerprint, "normal")
        if t.event_type == "normal":
            assert previous != "normal", f"normal without a raise: {t.fingerprint} at {t.occurred_at}"
            assert t.severity == "info"
        else:
            assert previous == "normal", f"raised twice: {t.fingerprint} at {t.occurred_at}"
        last_by_fingerprint[t.fingerprint] = t.event_type


# --------------------------------------------------------------------------- timestamps


@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        ("07-May-22 12:15:00 PM CDT", datetime(2022, 5, 7, 17, 15, tzinfo=UTC)),
        ("02-Mar-22 12:00:43 PM CST", datetime(2022, 3, 2, 18, 0, 43, tzinfo=UTC)),
        ("13-Mar-22 9:00:01 AM CDT", datetime(2022, 3, 13, 14, 0, 1, tzinfo=UTC)),
        ("06-Jun-22 12:05:00 AM CDT", datetime(2022, 6, 6, 5, 5, tzinfo=UTC)),
        # The repeated hour in November is told apart by the abbreviation alone.
        ("06-Nov-22 1:30:00 AM CDT", datetime(2022, 11, 6, 6, 30, tzinfo=UTC)),
        ("06-Nov-22 1:30:00 AM CST", datetime(2022, 11, 6, 7, 30, tzinfo=UTC)),
        ("  07-may-22 1:05:00 pm cdt ", datetime(2022, 5, 7, 18, 5, tzinfo=UTC)),
        ("07-May-22 12:15:00 PM", datetime(2022, 5, 7, 17, 15, tzinfo=UTC)),  # no zone: Chicago
    ],
)
def test_day_month_year_timestamps_with_their_own_offset(text: str, expected_utc: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected_utc and parsed.tzinfo == UTC


@pytest.mark.parametrize(
    ("text", "expected_utc"),
    [
        ("5/7/2022 12:00", datetime(2022, 5, 7, 17, 0, tzinfo=UTC)),  # CDT, UTC-5
        ("5/7/2022 13:05", datetime(2022, 5, 7, 18, 5, tzinfo=UTC)),  # 24-hour clock
        ("1/15/2022 0:30", datetime(2022, 1, 15, 6, 30, tzinfo=UTC)),  # CST, UTC-6
        ("3/13/2022 1:55", datetime(2022, 3, 13, 7, 55, tzinfo=UTC)),  # just before spring forward
        ("3/13/2022 3:00", datetime(2022, 3, 13, 8, 0, tzinfo=UTC)),  # just after
        ("11/6/2022 1:30", datetime(2022, 11, 6, 6, 30, tzinfo=UTC)),  # repeated hour: first (CDT)
        ("6/6/2022 11:55:30", datetime(2022, 6, 6, 16, 55, 30, tzinfo=UTC)),
    ],
)
def test_month_day_year_timestamps_are_chicago_wall_time(text: str, expected_utc: datetime) -> None:
    parsed = parse_timestamp(text)
    assert parsed == expected_utc and parsed.tzinfo == UTC


@pytest.mark.parametrize(
    "text",
    ["", "Timestamp", "07-May-22", "07-Foo-22 12:15:00 PM CDT", "07-May-22 13:15:00 PM CDT",
     "07-May-22 12:15:00 PM XYZ", "13/40/2022 10:00", "5/7/2022 25:00", "5/7/2022 12:00 garbage"],
)
def test_garbled_timestamps_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_timestamp(text)


def test_numeric_trend_skips_and_counts_bad_rows(tmp_path: Path) -> None:
    export = tmp_path / "ZN-T.csv"
    export.write_text(
        "Timestamp,Value (°F)\n"
        "07-May-22 12:20:00 PM CDT,72.7\n"
        "07-May-22 12:15:00 PM CDT,72.6\n"  # out of order: sorted, not skipped
        "\n"  # blank
        "07-May-22 12:25:00 PM CDT,\n"  # no value
        "07-May-22 12:30:00 PM CDT,nan\n"
        "##garbage##\n"
        "07-May-22 12:20:00 PM CDT,99.9\n"  # same instant twice: the first wins
        "07-May-22 12:35:00 PM CDT,72.9\n",
        encoding="utf-8",
    )
    samples, report = read_numeric_trend(export)
    assert [s.value for s in samples] == [72.6, 72.7, 72.9]
    assert samples == sorted(samples, key=lambda s: s.at)
    assert (report.rows_read, report.rows_skipped, report.rows_used) == (8, 5, 3)


def test_state_log_collapses_repeats_and_skips_unknown_states(tmp_path: Path) -> None:
    export = tmp_path / "SF-S.csv"
    export.write_text(
        "Timestamp,Value\n"
        "12-May-22 6:39:54 AM CDT,Off\n"
        "12-May-22 6:40:06 AM CDT,Off\n"
        "12-May-22 7:00:15 AM CDT,On\n"
        "12-May-22 8:00:00 AM CDT,Maybe\n"
        "12-May-22 5:01:39 PM CDT,Off\n",
        encoding="utf-8",
    )
    log, report = read_state_log(export)
    assert [state for _, state in log.changes] == [False, True, False]
    assert (report.rows_read, report.rows_skipped) == (5, 1)
    on_at = datetime(2022, 5, 12, 12, 0, 15, tzinfo=UTC)
    assert log.state_at(on_at - timedelta(seconds=1)) is False
    assert log.state_at(on_at) is True and log.on_since(on_at + timedelta(hours=1)) == on_at
    assert log.state_at(on_at - timedelta(days=1)) is None


# --------------------------------------------------------------------------- zone limit alarm


def test_zone_out_of_band_for_9_minutes_raises_nothing() -> None:
    samples = series((0, 74.0), (1, 77.0), (5, 77.5), (10, 77.2), (11, 75.0), (20, 75.0))
    assert zone_temperature_transitions(samples, ALWAYS_OCCUPIED) == []


def test_zone_out_of_band_for_10_minutes_raises_offnormal_at_the_10th_minute() -> None:
    samples = series((0, 74.0), (5, 77.0), (10, 77.5), (15, 77.2))
    [raised] = zone_temperature_transitions(samples, ALWAYS_OCCUPIED)
    assert raised.event_type == "offnormal" and raised.severity == "major"
    assert raised.occurred_at == T0 + minutes(15)
    assert raised.fingerprint == "S-7/AHU-S7/ZN-T/high" and raised.source == "AHU-S7/ZN-T"
    assert raised.title == "Zone temp high: 77.2 °F (occupied band 68–76)"
    assert raised.attributes["threshold"] == "76" and raised.attributes["peak"] == "77.5"


def test_zone_excursion_interrupted_by_one_in_band_reading_starts_over() -> None:
    samples = series((0, 77.0), (5, 77.0), (8, 75.9), (10, 77.0), (15, 77.0), (20, 77.0))
    [raised] = zone_temperature_transitions(samples, ALWAYS_OCCUPIED)
    assert raised.occurred_at == T0 + minutes(20)


def test_zone_far_out_of_band_is_critical_and_low_side_has_its_own_fingerprint() -> None:
    samples = every_5_min([64.5, 64.0, 64.2])
    [raised] = zone_temperature_transitions(samples, ALWAYS_OCCUPIED)
    assert raised.severity == "critical"
    assert raised.fingerprint == "S-7/AHU-S7/ZN-T/low"


def test_zone_returns_to_normal_only_past_the_hysteresis_for_the_whole_delay() -> None:
    high = RULES.occupied_zone_high_f
    inside_but_within_hysteresis = high - RULES.zone_hysteresis_f / 2
    clear = high - RULES.zone_hysteresis_f - 0.1
    values = [77.0, 77.0, 77.0] + [inside_but_within_hysteresis] * 6 + [clear, clear, 76.5, clear, clear, clear]
    raised, returned = zone_temperature_transitions(every_5_min(values), ALWAYS_OCCUPIED)
    assert raised.event_type == "offnormal" and raised.occurred_at == T0 + minutes(10)
    # 76.5 at index 11 is inside the hysteresis again, so the clear timer restarts at
    # index 12 and normal comes 10 minutes later at index 14, not at index 11.
    assert returned.event_type == "normal" and returned.severity == "info"
    assert returned.occurred_at == T0 + minutes(5 * 14)
    assert returned.fingerprint == raised.fingerprint


def test_zone_band_follows_occupancy() -> None:
    warm_night = every_5_min([78.5] * 6)
    assert zone_temperature_transitions(warm_night, ALWAYS_UNOCCUPIED) == []
    assert [t.event_type for t in zone_temperature_transitions(warm_night, ALWAYS_OCCUPIED)] == ["offnormal"]


def test_a_gap_in_the_trend_restarts_the_persistence_timer() -> None:
    samples = series((0, 77.0), (5, 77.0), (5 + 61, 77.0), (5 + 66, 77.0))
    assert zone_temperature_transitions(samples, ALWAYS_OCCUPIED) == []


# --------------------------------------------------------------------------- discharge air


def test_discharge_high_needs_the_fan_proven_on_and_clears_when_it_stops() -> None:
    fan = StateLog(((T0, True), (T0 + minutes(120), False)))
    hot = RULES.discharge_high_f + 3
    samples = every_5_min([hot] * 30)  # 0..145 min
    raised, cleared = discharge_temperature_transitions(samples, fan)
    # Inhibited for the 30-minute proving delay, then 15 minutes of persistence.
    assert raised.occurred_at == T0 + RULES.fan_proving_delay + RULES.discharge_time_delay
    assert raised.source == "AHU-S7/DA-T" and raised.fingerprint == "S-7/AHU-S7/DA-T/high"
    assert cleared.event_type == "normal" and cleared.occurred_at == T0 + minutes(120)
    assert "supply fan off" in cleared.title


def test_discharge_never_alarms_with_the_fan_off() -> None:
    fan_off = StateLog(((T0 - timedelta(days=1), False),))
    assert discharge_temperature_transitions(every_5_min([90.0] * 20), fan_off) == []


# --------------------------------------------------------------------------- flat line


def test_flatline_faults_after_the_duration_with_the_fan_on_and_recovers_on_change() -> None:
    steps = int(RULES.flatline_duration / minutes(5))
    samples = every_5_min([73.0] + [74.2] * (steps + 3) + [74.3])
    fault, recovered = flatline_transitions(samples, FAN_ON_LONG_AGO, ZONE_TEMP)
    first_flat = T0 + minutes(5)
    assert fault.event_type == "fault" and fault.severity == "major"
    assert fault.occurred_at == first_flat + RULES.flatline_duration
    assert fault.fingerprint == "S-7/AHU-S7/ZN-T/flatline"
    assert recovered.event_type == "normal" and recovered.occurred_at == samples[-1].at


def test_flatline_just_short_of_the_duration_is_not_a_fault() -> None:
    steps = int(RULES.flatline_duration / minutes(5))
    samples = every_5_min([74.2] * steps + [74.3])  # identical for duration - 5 min
    assert flatline_transitions(samples, FAN_ON_LONG_AGO, ZONE_TEMP) == []


def test_flatline_with_the_fan_off_is_expected_not_a_fault() -> None:
    fan_off = StateLog(((T0 - timedelta(days=1), False),))
    samples = every_5_min([74.2] * 100)
    assert flatline_transitions(samples, fan_off, DISCHARGE_TEMP) == []


def test_flatline_only_counts_fan_on_time() -> None:
    # Fan off for the first hour of the flat stretch: the clock starts when it comes on.
    fan = StateLog(((T0 - timedelta(days=1), False), (T0 + minutes(60), True)))
    samples = every_5_min([74.2] * 60)
    [fault] = flatline_transitions(samples, fan, ZONE_TEMP)
    assert fault.occurred_at == T0 + minutes(60) + RULES.flatline_duration


# --------------------------------------------------------------------------- trend gaps


def test_trend_gap_faults_when_noticed_and_clears_when_data_resumes() -> None:
    samples = series((0, 74.0), (5, 74.1), (5 + 150, 74.3), (160, 74.2))
    fault, resumed = trend_gap_transitions(samples, ZONE_TEMP)
    assert fault.event_type == "fault" and fault.occurred_at == T0 + minutes(5) + RULES.trend_gap
    assert resumed.event_type == "normal" and resumed.occurred_at == T0 + minutes(155)
    assert fault.fingerprint == resumed.fingerprint == "S-7/AHU-S7/ZN-T/trend-gap"


# --------------------------------------------------------------------------- documents


def sample_transition(**changes: Any) -> Transition:
    base = Transition(
        site_id="S-7",
        source="AHU-S7/ZN-T",
        event_type="offnormal",
        severity="major",
        title="Zone temp high: 79.2 °F (band 68–76)",
        message="longer text",
        occurred_at=datetime(2022, 5, 18, 16, 45, tzinfo=UTC),
        fingerprint="S-7/AHU-S7/ZN-T/high",
        attributes={"value": "79.2", "units": "°F"},
    )
    return dataclasses.replace(base, **changes)


def test_alert_document_follows_the_contract() -> None:
    doc_id, doc = alert_document(sample_transition(), "tenant-a")
    assert_valid_alert("tenant-a", doc_id, doc)
    assert doc["occurredAt"] == datetime(2022, 5, 18, 16, 45, tzinfo=UTC)
    assert doc["attributes"] == {"value": "79.2", "units": "°F"}


def test_alert_ids_are_deterministic_and_tell_events_apart() -> None:
    t = sample_transition()
    same_instant_other_zone = sample_transition(occurred_at=t.occurred_at.astimezone(timezone(timedelta(hours=-5))))
    assert alert_id(t, "tenant-a") == alert_id(sample_transition(), "tenant-a")
    assert alert_id(t, "tenant-a") == alert_id(same_instant_other_zone, "tenant-a")
    others = {
        alert_id(t, "tenant-b"),
        alert_id(sample_transition(site_id="S-8"), "tenant-a"),
        alert_id(sample_transition(source="AHU-S7/DA-T"), "tenant-a"),
        alert_id(sample_transition(event_type="normal", severity="info"), "tenant-a"),
        alert_id(sample_transition(occurred_at=t.occurred_at + timedelta(seconds=1)), "tenant-a"),
        alert_id(sample_transition(fingerprint="S-7/AHU-S7/ZN-T/flatline"), "tenant-a"),
    }
    assert alert_id(t, "tenant-a") not in others and len(others) == 6


@pytest.mark.parametrize(
    "bad",
    [
        {"site_id": "S 7"},
        {"site_id": "x" * 65},
        {"source": ""},
        {"event_type": "alarm"},
        {"severity": "warning"},
        {"title": "two\nlines"},
        {"title": "x" * 121},
        {"message": "x" * 4001},
        {"occurred_at": datetime(2022, 5, 18, 16, 45)},
        {"fingerprint": "x" * 201},
        {"attributes": {str(i): "v" for i in range(21)}},
    ],
)
def test_transitions_that_break_the_contract_are_refused(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        sample_transition(**bad)


# --------------------------------------------------------------------------- synthetic scenario


def test_synthetic_scenario_shape() -> None:
    scenario = synthetic_transitions()
    assert scenario == synthetic_transitions()  # deterministic
    assert 40 <= len(scenario) <= 60
    assert {t.event_type for t in scenario} == {"offnormal", "fault", "normal"}
    assert {"critical", "major", "minor", "info"} <= {t.severity for t in scenario}
    assert len({t.source.split("/")[0] for t in scenario}) >= 3  # several AHUs
    assert scenario[-1].occurred_at - scenario[0].occurred_at <= timedelta(days=1)
    assert max(Counter(t.occurred_at for t in scenario).values()) >= 3  # a burst
    assert_consistent_episodes(scenario)
    ids = set()
    for t in scenario:
        doc_id, doc = alert_document(t, "tenant-a")
        assert_valid_alert("tenant-a", doc_id, doc)
        ids.add(doc_id)
    assert len(ids) == len(scenario)


# --------------------------------------------------------------------------- writer


class FakeFirestore:
    """Just enough of the client: collection/document references and create()."""

    def __init__(self) -> None:
        self.documents: dict[str, dict[str, Any]] = {}  # in creation order
        self.lock = threading.Lock()

    def collection(self, name: str) -> _FakeReference:
        return _FakeReference(self, name)


class _FakeReference:
    """A collection or document reference; both only extend the path."""

    def __init__(self, db: FakeFirestore, path: str) -> None:
        self._db, self._path = db, path

    def collection(self, name: str) -> _FakeReference:
        return _FakeReference(self._db, f"{self._path}/{name}")

    document = collection

    def create(self, document: dict[str, Any]) -> None:
        with self._db.lock:
            if self._path in self._db.documents:
                raise AlreadyExists(self._path)
            self._db.documents[self._path] = document


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def test_replay_writes_once_in_time_order_within_the_time_budget() -> None:
    scenario = synthetic_transitions()
    db, fake_time = FakeFirestore(), FakeTime()
    written = replay(list(reversed(scenario)), db, "tenant-a", None, 10.0, sleep=fake_time.sleep, clock=fake_time.clock)
    times = [w.transition.occurred_at for w in written]
    assert times == sorted(times) and Counter(w.transition for w in written) == Counter(scenario)
    assert all(w.created for w in written) and len(db.documents) == len(scenario)
    assert fake_time.now - 100.0 == pytest.approx(10.0)  # the whole day squeezed into 10 s
    for w in written:
        assert w.path == f"tenants/tenant-a/alerts/{w.alert_id}"
        assert_valid_alert("tenant-a", w.alert_id, db.documents[w.path])

    again = replay(scenario, db, "tenant-a", None, 0.0)
    assert not any(w.created for w in again) and len(db.documents) == len(scenario)


def test_replay_burst_keeps_each_fingerprint_in_order() -> None:
    scenario = synthetic_transitions()
    db = FakeFirestore()
    replay(scenario, db, "tenant-a", None, 0.0, max_workers=4)  # no time budget: one big burst
    created = list(db.documents.values())
    for fingerprint in {t.fingerprint for t in scenario}:
        times = [doc["occurredAt"] for doc in created if doc["fingerprint"] == fingerprint]
        assert times == sorted(times), fingerprint


def test_replay_speedup_slower_than_the_budget_wins() -> None:
    transitions = [sample_transition(), sample_transition(occurred_at=sample_transition().occurred_at + minutes(10))]
    assert wall_offsets(transitions, speedup=600.0, max_duration_s=60.0) == [0.0, 1.0]
    assert wall_offsets(transitions, speedup=6.0, max_duration_s=60.0) == [0.0, 60.0]
    assert wall_offsets(transitions, speedup=None, max_duration_s=30.0) == [0.0, 30.0]
    assert wall_offsets(transitions[:1], speedup=None, max_duration_s=30.0) == [0.0]


def test_rebased_keeps_spacing_and_changes_ids() -> None:
    scenario = synthetic_transitions()
    start = datetime(2030, 1, 1, tzinfo=UTC)
    shifted = rebased(scenario, start)
    assert shifted[0].occurred_at == start
    assert [b.occurred_at - a.occurred_at for a, b in zip(scenario, scenario[1:])] == [
        b.occurred_at - a.occurred_at for a, b in zip(shifted, shifted[1:])
    ]
    assert alert_id(shifted[0], "t") != alert_id(scenario[0], "t")
    assert [dataclasses.replace(t, occurred_at=o.occurred_at) for t, o in zip(shifted, scenario)] == scenario


# --------------------------------------------------------------------------- the real dataset

REAL_DATA = dataset_dir()


@pytest.mark.skipif(not dataset_present(REAL_DATA), reason=f"open-fdd S-7 dataset not found in {REAL_DATA}")
def test_real_s7_dataset_gives_a_sensible_demo() -> None:
    dataset = load_dataset(REAL_DATA)
    assert [r.rows_read for r in dataset.reports[:2]] == [8640, 8640]
    assert all(r.rows_skipped == 0 for r in dataset.reports)
    transitions = derive_transitions(dataset)
    assert 40 <= len(transitions) <= 200
    counts = Counter(t.event_type for t in transitions)
    assert counts["offnormal"] > 0 and counts["fault"] > 0 and counts["normal"] > 0
    assert {t.source for t in transitions} == {"AHU-S7/ZN-T", "AHU-S7/DA-T"}
    assert_consistent_episodes(transitions)
    span = (dataset.zone_temp[0].at, dataset.zone_temp[-1].at)
    assert all(span[0] <= t.occurred_at <= span[1] for t in transitions)
    ids = {alert_document(t, "tenant-a")[0] for t in transitions}
    assert len(ids) == len(transitions)
    for t in transitions:
        assert_valid_alert("tenant-a", *alert_document(t, "tenant-a"))
    # The cooling failure over the Memorial Day weekend is in there.
    memorial_day = datetime(2022, 5, 30, 5, tzinfo=UTC)
    assert any(t.event_type != "normal" and abs(t.occurred_at - memorial_day) < timedelta(days=1) for t in transitions)
