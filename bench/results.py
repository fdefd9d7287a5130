"""One benchmark figure, its goal, the table printed for people and the results.json written for tools.

Every figure is measured against a baseline taken in the same run on the same
machine, and judged by a ratio, never by an absolute time: a slow CI machine
slows both sides.

`better` says which way the value improves ("lower" for times and memory,
"higher" for throughput and counts). `ratioOf` names the division behind `ratio`:
by default it is oriented so that a bigger ratio is the better outcome
(baseline/value when lower is better, value/baseline when higher is better); a
cost that only has to stay within a multiple of the baseline (latency, memory)
uses value/baseline with a "<=" goal instead. A goal is written against the ratio
(">= 3x", "<= 10x") or, for exactness checks, against the value itself
("value == 3"); `met` says whether the run reached it. A missed goal is
reported, it does not fail the run.
"""

from __future__ import annotations

import dataclasses
import json
import math
import operator
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_OPERATORS = {">=": operator.ge, "<=": operator.le, ">": operator.gt, "<": operator.lt, "==": operator.eq}
_GOAL = re.compile(r"^\s*(?P<subject>value\s+)?(?P<op>>=|<=|==|>|<)\s*(?P<number>[0-9]*\.?[0-9]+)\s*(?P<x>x)?\s*$")


class GoalError(ValueError):
    """A goal string this module cannot judge."""


@dataclasses.dataclass(frozen=True)
class Goal:
    subject: str  # "ratio" or "value"
    op: str
    threshold: float

    @classmethod
    def parse(cls, text: str) -> Goal:
        """">= 3x" is a goal on the ratio; "value == 10" one on the value (no "x")."""
        match = _GOAL.match(text)
        if not match:
            raise GoalError(f"cannot read goal {text!r}: write e.g. '>= 3x' or 'value == 10'")
        on_value = bool(match["subject"])
        if on_value == bool(match["x"]):
            raise GoalError(f"goal {text!r}: a ratio goal ends in 'x', a value goal starts with 'value' and has no 'x'")
        return cls("value" if on_value else "ratio", match["op"], float(match["number"]))

    def met_by(self, value: float | None, ratio: float | None) -> bool:
        subject = value if self.subject == "value" else ratio
        if subject is None or (isinstance(subject, float) and math.isnan(subject)):
            return False
        return _OPERATORS[self.op](subject, self.threshold)


RATIOS = ("baseline/value", "value/baseline")


def default_ratio_of(better: str) -> str:
    """The division that grows as the value gets better than the baseline."""
    if better not in ("lower", "higher"):
        raise ValueError(f"better must be 'lower' or 'higher', not {better!r}")
    return "baseline/value" if better == "lower" else "value/baseline"


def compute_ratio(value: float | None, baseline: float | None, ratio_of: str) -> float | None:
    """`ratio_of` applied to the two figures; None when undefined (a missing side, or a zero denominator)."""
    if ratio_of not in RATIOS:
        raise ValueError(f"ratio_of must be one of {RATIOS}, not {ratio_of!r}")
    if value is None or baseline is None:
        return None
    numerator, denominator = (baseline, value) if ratio_of == "baseline/value" else (value, baseline)
    if denominator == 0:
        return None
    return numerator / denominator


@dataclasses.dataclass
class Result:
    name: str
    value: float | None
    unit: str
    baseline: float | None
    better: str  # "lower" or "higher": which way `value` improves
    goal: str
    ratio_of: str = ""  # "" picks default_ratio_of(better)
    note: str = ""  # one line for people, printed under the table
    details: dict[str, Any] = dataclasses.field(default_factory=dict)
    ratio: float | None = dataclasses.field(init=False, default=None)
    met: bool = dataclasses.field(init=False, default=False)

    def __post_init__(self) -> None:
        self.ratio_of = self.ratio_of or default_ratio_of(self.better)
        default_ratio_of(self.better)  # validates `better` also when ratio_of was given
        self.ratio = compute_ratio(self.value, self.baseline, self.ratio_of)
        self.met = Goal.parse(self.goal).met_by(self.value, self.ratio)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "value": _finite(self.value),
            "unit": self.unit,
            "baseline": _finite(self.baseline),
            "ratio": _finite(self.ratio),
            "ratioOf": self.ratio_of,
            "better": self.better,
            "goal": self.goal,
            "met": self.met,
            "note": self.note,
            "details": self.details,
        }


def failed(name: str, error: str) -> Result:
    """A benchmark that could not measure at all: no figures, goal not met, the reason in the note."""
    result = Result(name, None, "", None, better="higher", goal=">= 1x", note=f"did not run: {error}", details={"error": error})
    result.goal = "-"
    return result


def write_json(results: Sequence[Result], path: Path) -> None:
    path.write_text(json.dumps([result.to_json() for result in results], indent=2, allow_nan=False) + "\n")


def format_table(results: Sequence[Result]) -> str:
    """A plain-text table, one row per result, then each row's note."""
    rows = [("#", "benchmark", "better", "ours", "baseline", "ratio", "goal", "verdict")]
    for number, result in enumerate(results, 1):
        rows.append(
            (
                str(number),
                result.name,
                result.better,
                _number(result.value, result.unit),
                _number(result.baseline, result.unit),
                "n/a" if result.ratio is None else f"{result.ratio:.2f}x = {result.ratio_of}",
                result.goal,
                "met" if result.met else "MISSED",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(width) for cell, width in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * width for width in widths))
    notes = [f"  [{number}] {result.note}" for number, result in enumerate(results, 1) if result.note]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


def _number(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if float(value).is_integer() and abs(value) < 1e6:
        text = str(int(value))
    elif abs(value) >= 100:
        text = f"{value:.0f}"
    elif abs(value) >= 10:
        text = f"{value:.1f}"
    else:
        text = f"{value:.3g}"
    return f"{text} {unit}"


def _finite(number: float | None) -> float | None:
    if number is None or math.isinf(number) or math.isnan(number):
        return None
    return number
