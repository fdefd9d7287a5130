"""End-to-end latency on the full local stack: alert document written → SMS request at the Twilio server.

Ours: `local.stack.up` with tests/data/alert_config.test.json, its rate limits
(per contact 3 an hour) raised so that no send is rate limited (the copy lives
in the bench state dir). 100 alerts, paced 20/s, for alice/bob/carol/dave/erin (siteIds
`<contact>-site`, unique sources so nothing is deduplicated). For each alert the
latency is the Twilio server's `receivedAt` of the message-create request whose
StatusCallback URL carries `a=<alertId>`, minus time.time() taken right after
the document's create() returned.

Baseline, same run, same machine, same transport: a second stack started the
same way but with bench/noop_functions.py as the function source. Its
on_alert_created reads the alert document once and records time.time(); so the
baseline is emulator callback → relay → functions-framework → one Firestore read,
everything ours has to go through before it can do any work of its own. It gets
the same alerts at the same pace.

Both stacks are up together; alerts go to one at a time, in blocks of 25 in the
order ours, noop, noop, ours, ... (see `measure_interleaved`). Each stack first
gets 150 warm-up alerts (not counted). Without them the first ~100 measured
alerts of ours are 2-4x slower (p95 ~90-105 ms instead of ~30 ms on the 2-core
dev machine): the Firestore emulator's JVM is still JIT-compiling, and its CPU
time for the same 100 alerts fell 6.9 s → 4.4 s → 2.8 s over three passes. That is
the emulator warming up, not the service, and production Firestore has no such
phase; the first event of each function instance (client set-up) is covered too.

The goal is on p95 (a pager's worst case matters more than its median), as a
multiple of the no-op's p95. Before the SMS leaves, ours makes about ten
Firestore round trips in sequence (dedup read+create; delivery read, opt-out and
bad-address reads, create, three budget increments; the ACK/link batch) where the
no-op makes one, plus one HTTP call to Twilio. Budgeting each of those eleven
calls at no more than the no-op's whole trip (which also includes the callback,
the relay and the framework) would allow ~12x; "<= 10x" asks that the steps stay
cheaper than that. p50 is reported against the same bound.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path

import requests

from bench import support
from bench.noop_functions import NOOP_LOG_VARIABLE, NOOP_MARKER
from bench.results import Result
from local import stack as local_stack
from local.demo_summary import twilio_alert_id, twilio_creates

TEST_CONFIG = support.REPO_ROOT / "tests" / "data" / "alert_config.test.json"
NOOP_SOURCE = Path(__file__).resolve().parent / "noop_functions.py"
NOOP_LOG = "noop-arrivals.jsonl"
CONTACTS = ("alice", "bob", "carol", "dave", "erin")
TENANT = "t-acme"
ALERTS = 100  # per side
BLOCK_SIZE = 25
# Enough to get the emulators' JVMs past JIT compilation (see the module docstring), sent faster
# than the measured alerts because only their number matters.
WARM_UP_ALERTS = 150
WARM_UP_RATE_PER_SECOND = 50.0
RATE_PER_SECOND = 20.0
WARM_UP_TIMEOUT_SECONDS = 60.0
DRAIN_TIMEOUT_SECONDS = 30.0
RAISED_LIMIT = 100_000


@dataclasses.dataclass
class BenchStack:
    name: str
    state_dir: Path
    info: local_stack.StackInfo


def write_config(state_dir: Path) -> Path:
    """The test config with every rate limit raised so that a benchmark's alerts are never rate limited."""
    config = json.loads(TEST_CONFIG.read_text())
    limits = config["defaults"]["rateLimits"]
    limits["perContact"] = {"limit": RAISED_LIMIT, "windowSeconds": 3600}
    limits["perTenant"] = {"limit": RAISED_LIMIT, "windowSeconds": 60}
    limits["global"] = {"limit": RAISED_LIMIT, "windowSeconds": 60, "shards": limits["global"].get("shards", 1)}
    path = state_dir / "alert_config.bench.json"
    path.write_text(json.dumps(config, indent=2) + "\n")
    return path


@contextlib.contextmanager
def running_stack(name: str, function_source: Path | None = None) -> Iterator[BenchStack]:
    """The whole local stack in `.local/bench/<name>`, always taken down again."""
    state = support.state_dir(name)
    (state / NOOP_LOG).unlink(missing_ok=True)
    try:
        info = local_stack.up(
            state,
            config_path=write_config(state),
            extra_env={NOOP_LOG_VARIABLE: str(state / NOOP_LOG)},
            function_source=function_source,
        )
        yield BenchStack(name, state, info)
    finally:
        local_stack.down(state)


def _alert_fields(contact: str, number: int) -> dict:
    return {
        "schemaVersion": 1,
        "tenantId": TENANT,
        "siteId": f"{contact}-site",
        "source": f"AHU-{number}-{uuid.uuid4().hex[:8]}/SAT",
        "eventType": "offnormal",
        "severity": "major",
        "title": "Supply air temp high 81.2 F",
        "occurredAt": datetime.now(timezone.utc),
    }


def write_alerts(db, count: int, rate: float, start_number: int = 0) -> dict[str, float]:
    """Creates `count` alerts at `rate` per second; alert id -> time.time() right after its create() returned."""
    written: dict[str, float] = {}
    started = time.monotonic()
    for index in range(count):
        due = started + index / rate
        pause = due - time.monotonic()
        if pause > 0:
            time.sleep(pause)
        number = start_number + index
        alert_id = f"bench-{number:04d}-{uuid.uuid4().hex[:8]}"
        db.document("tenants", TENANT, "alerts", alert_id).create(_alert_fields(CONTACTS[number % len(CONTACTS)], number))
        written[alert_id] = time.time()
    return written


def twilio_arrivals(stack: BenchStack) -> dict[str, float]:
    """alert id -> receivedAt of the first message-create request the Twilio server got for it."""
    seen = requests.get(f"{stack.info.twilio_url}/__admin/requests", timeout=10).json()
    arrivals: dict[str, float] = {}
    for request in twilio_creates(seen):
        alert_id = twilio_alert_id(request)
        if alert_id and alert_id not in arrivals:
            arrivals[alert_id] = float(request["receivedAt"])
    return arrivals


def noop_arrivals(stack: BenchStack) -> dict[str, float]:
    """alert id -> time the no-op on_alert_created finished its one read, from the file it appends to."""
    arrivals: dict[str, float] = {}
    log = stack.state_dir / NOOP_LOG
    if not log.exists():
        return arrivals
    for line in log.read_text(errors="replace").splitlines():
        if NOOP_MARKER not in line:
            continue
        try:
            record = json.loads(line)
        except ValueError:
            continue
        arrivals.setdefault(record[NOOP_MARKER], float(record["at"]))
    return arrivals


@dataclasses.dataclass
class Side:
    """One stack under measurement: where to write, and how to tell when each alert arrived."""

    stack: BenchStack
    arrivals: Callable[[BenchStack], dict[str, float]]
    latencies_ms: list[float] = dataclasses.field(default_factory=list)
    missing: int = 0
    written: int = 0


def _wait_arrived(side: Side, alert_ids: set[str], timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        seen = side.arrivals(side.stack)
        if alert_ids <= set(seen) or time.monotonic() > deadline:
            return seen
        time.sleep(0.1)


def measure_interleaved(ours: Side, noop: Side, after_warm_up: Callable[[], None] = lambda: None) -> None:
    """Warm both stacks up, then write ALERTS to each in blocks, in the order ours, noop, noop, ours, ...

    Both stacks are up the whole time but only one gets alerts at a time. Interleaving
    (ABBA, so a steady drift in the machine's load hits both sides alike) keeps a busy
    neighbour on a shared machine from landing on one side of the ratio only.
    """
    sides = {"ours": ours, "noop": noop}
    with contextlib.ExitStack() as cleanup:
        clients = {
            name: cleanup.enter_context(support.firestore_client(side.stack.info.firestore_emulator_host, side.stack.info.project_id))
            for name, side in sides.items()
        }
        for name, side in sides.items():
            warm_up = write_alerts(clients[name], WARM_UP_ALERTS, WARM_UP_RATE_PER_SECOND, start_number=10_000)
            missing = set(warm_up) - set(_wait_arrived(side, set(warm_up), WARM_UP_TIMEOUT_SECONDS))
            if missing:
                raise RuntimeError(f"{side.stack.name}: {len(missing)} warm-up alerts never arrived (see {side.stack.state_dir}/logs)")
        after_warm_up()
        number = 0
        for block in range(ALERTS // BLOCK_SIZE):
            for name in ("ours", "noop") if block % 2 == 0 else ("noop", "ours"):
                side = sides[name]
                written = write_alerts(clients[name], BLOCK_SIZE, RATE_PER_SECOND, start_number=number)
                number += BLOCK_SIZE
                seen = _wait_arrived(side, set(written), DRAIN_TIMEOUT_SECONDS)
                side.written += len(written)
                for alert_id, at in written.items():
                    if alert_id in seen:
                        side.latencies_ms.append((seen[alert_id] - at) * 1000)
                    else:
                        side.missing += 1


def summarize(side: Side) -> dict:
    values = side.latencies_ms
    summary: dict = {"written": side.written, "missing": side.missing}
    if values:
        summary.update(
            p50=support.percentile(values, 0.50), p95=support.percentile(values, 0.95), min=min(values), max=max(values)
        )
    return summary


def results(ours: Side, noop: Side) -> list[Result]:
    ours_summary, noop_summary = summarize(ours), summarize(noop)
    incomplete = bool(ours.missing or noop.missing or not ours.latencies_ms or not noop.latencies_ms)
    details = {
        "ours": {k: (round(v, 1) if isinstance(v, float) else v) for k, v in ours_summary.items()},
        "noop": {k: (round(v, 1) if isinstance(v, float) else v) for k, v in noop_summary.items()},
        "ratePerSecond": RATE_PER_SECOND,
        "blockSize": BLOCK_SIZE,
    }
    if incomplete:
        details["warning"] = "some alerts never arrived; percentiles cover only those that did, and the goal counts as missed"
    rows = []
    for percentile in ("p50", "p95"):
        row = Result(
            f"latency {percentile}: write → SMS at Twilio, vs write → no-op trigger ({ALERTS} alerts each, {RATE_PER_SECOND:.0f}/s)",
            ours_summary.get(percentile),
            "ms",
            noop_summary.get(percentile),
            better="lower",
            goal="<= 10x",
            ratio_of="value/baseline",
            note=f"ours {_describe(ours_summary)}; no-op {_describe(noop_summary)}" if percentile == "p95" else "",
            details=details,
        )
        if incomplete:
            row.met = False
        rows.append(row)
    return rows


def _describe(summary: dict) -> str:
    if "p50" not in summary:
        return f"nothing arrived ({summary['written']} written)"
    text = f"min {summary['min']:.0f} / p50 {summary['p50']:.0f} / p95 {summary['p95']:.0f} / max {summary['max']:.0f} ms"
    return text + (f", {summary['missing']} of {summary['written']} never arrived" if summary["missing"] else "")
