"""The bookkeeping behind `make bench`, on hand-made figures: goals, ratios, verdicts, results.json, the table.

Nothing here measures or asserts any time: the benchmarks themselves only print figures.
"""

from __future__ import annotations

import json

import pytest

from bench import latency, memory, support
from bench.results import Goal, GoalError, Result, compute_ratio, default_ratio_of, failed, format_table, write_json

CONTRACT_KEYS = {"name", "value", "unit", "baseline", "ratio", "goal"}


# --------------------------------------------------------------------------- goals


@pytest.mark.parametrize(
    ("text", "goal"),
    [
        (">= 3x", Goal("ratio", ">=", 3.0)),
        ("<=10x", Goal("ratio", "<=", 10.0)),
        ("> 0.5x", Goal("ratio", ">", 0.5)),
        ("value == 3", Goal("value", "==", 3.0)),
        ("value <= 12.5", Goal("value", "<=", 12.5)),
    ],
)
def test_goals_parse_into_subject_operator_threshold(text, goal):
    assert Goal.parse(text) == goal


@pytest.mark.parametrize("text", ["", "fast", "3x", ">= x", "value >= 3x", ">= 3", "=> 3x", "value"])
def test_unreadable_goals_are_refused(text):
    with pytest.raises(GoalError):
        Goal.parse(text)


@pytest.mark.parametrize(
    ("text", "value", "ratio", "met"),
    [
        (">= 3x", 1.0, 3.0, True),
        (">= 3x", 1.0, 2.99, False),
        ("<= 10x", 1.0, 10.0, True),
        ("<= 10x", 1.0, 10.01, False),
        ("> 1x", 1.0, 1.0, False),
        ("value == 3", 3, None, True),
        ("value == 3", 2, 99.0, False),
        (">= 3x", 1.0, None, False),
        ("value == 3", None, 5.0, False),
        (">= 3x", 1.0, float("nan"), False),
    ],
)
def test_goal_verdicts(text, value, ratio, met):
    assert Goal.parse(text).met_by(value, ratio) is met


# --------------------------------------------------------------------------- ratios


def test_default_ratio_grows_as_the_value_gets_better():
    assert default_ratio_of("lower") == "baseline/value"
    assert default_ratio_of("higher") == "value/baseline"
    with pytest.raises(ValueError):
        default_ratio_of("faster")


def test_ratio_divisions_and_undefined_cases():
    assert compute_ratio(2.0, 10.0, "baseline/value") == 5.0
    assert compute_ratio(2.0, 10.0, "value/baseline") == 0.2
    assert compute_ratio(0.0, 10.0, "baseline/value") is None
    assert compute_ratio(3, 0, "value/baseline") is None
    assert compute_ratio(None, 1.0, "value/baseline") is None
    with pytest.raises(ValueError):
        compute_ratio(1.0, 1.0, "value*baseline")


def test_a_speed_up_is_judged_as_baseline_over_value():
    result = Result("claims", 0.1, "s", 10.0, better="lower", goal=">= 3x")
    assert result.ratio_of == "baseline/value"
    assert result.ratio == pytest.approx(100.0)
    assert result.met


def test_a_cost_bounded_by_a_multiple_is_judged_as_value_over_baseline():
    within = Result("latency", 80.0, "ms", 10.0, better="lower", goal="<= 10x", ratio_of="value/baseline")
    beyond = Result("latency", 120.0, "ms", 10.0, better="lower", goal="<= 10x", ratio_of="value/baseline")
    assert (within.ratio, within.met) == (pytest.approx(8.0), True)
    assert (beyond.ratio, beyond.met) == (pytest.approx(12.0), False)


def test_throughput_ratio_and_a_missed_goal():
    result = Result("relay", 100.0, "events/s", 20.0, better="higher", goal=">= 8x")
    assert result.ratio_of == "value/baseline"
    assert result.ratio == pytest.approx(5.0)
    assert not result.met


def test_an_exactness_goal_is_on_the_value_even_when_the_ratio_is_undefined():
    result = Result("exact rounds", 3, "of 3", 0, better="higher", goal="value == 3")
    assert result.ratio is None
    assert result.met


def test_invalid_better_or_goal_fail_at_construction():
    with pytest.raises(ValueError):
        Result("x", 1.0, "s", 1.0, better="sooner", goal=">= 1x")
    with pytest.raises(ValueError):
        Result("x", 1.0, "s", 1.0, better="lower", goal=">= 1x", ratio_of="value-baseline")
    with pytest.raises(GoalError):
        Result("x", 1.0, "s", 1.0, better="lower", goal="quick")


def test_a_benchmark_that_did_not_run_is_missed_with_its_reason():
    result = failed("latency", "ComponentNotReady: firestore-emulator exited")
    assert (result.value, result.baseline, result.ratio, result.met, result.goal) == (None, None, None, False, "-")
    assert "ComponentNotReady" in result.note
    assert result.details["error"].startswith("ComponentNotReady")


# --------------------------------------------------------------------------- results.json and the table


def test_results_json_is_a_list_of_contract_records(tmp_path):
    results = [
        Result("a", 0.5, "s", 10.0, better="lower", goal=">= 3x", details={"rounds": [1, 2]}),
        Result("b", 3, "of 3", 0, better="higher", goal="value == 3"),
        Result("c", 1.0, "x", float("inf"), better="higher", goal=">= 1x"),
    ]
    path = tmp_path / "results.json"
    write_json(results, path)
    written = json.loads(path.read_text())
    assert isinstance(written, list) and len(written) == 3
    for record in written:
        assert CONTRACT_KEYS <= set(record)
        assert {"met", "better", "ratioOf"} <= set(record)
    assert written[0] == {
        "name": "a",
        "value": 0.5,
        "unit": "s",
        "baseline": 10.0,
        "ratio": 20.0,
        "ratioOf": "baseline/value",
        "better": "lower",
        "goal": ">= 3x",
        "met": True,
        "note": "",
        "details": {"rounds": [1, 2]},
    }
    assert written[1]["ratio"] is None and written[1]["met"] is True
    assert written[2]["baseline"] is None and written[2]["ratio"] == 0.0  # inf is not JSON: written as null


def test_table_has_a_row_per_result_with_verdicts_and_notes():
    table = format_table(
        [
            Result("fast claims", 0.1, "s", 10.0, better="lower", goal=">= 3x", note="10 passed"),
            Result("slow relay", 20.0, "events/s", 19.0, better="higher", goal=">= 8x"),
            failed("memory", "RuntimeError: gone"),
        ]
    )
    lines = table.splitlines()
    row = {name: next(line for line in lines if name in line and not line.lstrip().startswith("[")) for name in ("fast claims", "slow relay", "memory")}
    assert row["fast claims"].rstrip().endswith("met") and "100.00x = baseline/value" in row["fast claims"]
    assert row["slow relay"].rstrip().endswith("MISSED") and "1.05x = value/baseline" in row["slow relay"]
    assert row["memory"].rstrip().endswith("MISSED") and "n/a" in row["memory"]
    assert "[1] 10 passed" in table
    assert "[3] did not run: RuntimeError: gone" in table


# --------------------------------------------------------------------------- percentiles


def test_nearest_rank_percentiles():
    hundred = [float(n) for n in range(100, 0, -1)]
    assert support.percentile(hundred, 0.95) == 95.0
    assert support.percentile(hundred, 0.50) == 50.0
    assert support.percentile([1, 2, 3, 4], 0.5) == 2
    assert support.percentile([7.0], 0.95) == 7.0
    assert support.percentile([1, 2, 3], 1.0) == 3
    with pytest.raises(ValueError):
        support.percentile([], 0.5)


# --------------------------------------------------------------------------- the benchmarks' own verdicts


def _side(latencies: list[float], missing: int = 0) -> latency.Side:
    stack = latency.BenchStack("hand-made", None, None)  # type: ignore[arg-type]
    return latency.Side(stack, lambda _: {}, latencies_ms=latencies, missing=missing, written=len(latencies) + missing)


def test_latency_rows_compare_percentiles_against_the_no_op():
    ours = _side([float(n) for n in range(1, 101)])  # p50 50, p95 95
    noop = _side([10.0] * 100)
    p50, p95 = latency.results(ours, noop)
    assert (p50.value, p50.baseline, p50.ratio, p50.met) == (50.0, 10.0, 5.0, True)
    assert (p95.value, p95.baseline, p95.ratio, p95.met) == (95.0, 10.0, 9.5, True)
    assert p95.ratio_of == "value/baseline" and p95.goal == "<= 10x"


def test_latency_goal_is_missed_when_an_alert_never_arrived():
    p50, p95 = latency.results(_side([10.0] * 99, missing=1), _side([10.0] * 100))
    assert p95.ratio == 1.0
    assert not p50.met and not p95.met
    assert "never arrived" in p95.details["warning"]


def test_latency_with_nothing_measured_has_no_figures():
    p50, p95 = latency.results(_side([], missing=100), _side([5.0] * 100))
    assert (p95.value, p95.ratio, p95.met) == (None, None, False)


def test_memory_row_is_the_rss_multiple_of_the_hello_world():
    (row,) = memory.results({"pids": 2, "rssMiB": 200.0, "pssMiB": 100.0}, {"pids": 2, "rssMiB": 64.0, "pssMiB": 40.0}, 250)
    assert (row.value, row.baseline, row.ratio, row.met) == (200.0, 64.0, 3.125, True)
    assert "PSS" in row.note and "2.50x" in row.note
    (too_big,) = memory.results({"pids": 2, "rssMiB": 300.0, "pssMiB": 150.0}, {"pids": 2, "rssMiB": 64.0, "pssMiB": 40.0}, 250)
    assert not too_big.met
