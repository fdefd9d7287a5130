"""`make demo`: the main job end to end on the local stack, on real data, with a summary.

    python -m local.demo [--state-dir .local/demo] [--dataset DIR] [--max-replay-seconds 40]
                         [--drain-timeout 90] [--keep-running]

1. starts the local stack (real Firestore and Pub/Sub emulators, every function,
   the trigger relay, the Twilio and SendGrid fakes) in its own state dir;
2. derives alarm transitions from the open-fdd S-7 trend exports (or, when the
   dataset is not on this machine, uses the built-in synthetic scenario);
3. injects a little provider trouble so retries show;
4. replays the transitions into tenant `demo-campus` as bas_server would write
   them, compressed into at most --max-replay-seconds of wall time;
5. waits until every alert and delivery is final;
6. prints a summary (local.demo_summary) and stops the stack.

Exit status: 0 when everything finished and the privacy check passed, 1 otherwise,
130 on Ctrl-C. The stack is always stopped unless --keep-running.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import requests

from local import demo_summary
from local import stack as local_stack

TENANT_ID = "demo-campus"
REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_STATE_DIR = Path(".local/demo")
FACILITIES_LEAD_PHONE = "+15551230002"
ENERGY_DESK_EMAIL = "energy@example.test"
PROGRESS_EVERY_SECONDS = 10.0
POLL_SECONDS = 0.25

# The trouble the demo injects: a rate-limited SMS burst and one throttled email.
TROUBLE = (
    (
        "twilio",
        {"match": {"kind": "create", "to": FACILITIES_LEAD_PHONE}, "respond": {"status": 429, "code": 20429, "retryAfter": 1}, "times": 3},
        "Twilio answers 429/20429 (Retry-After 1 s) to the first 3 SMS to facilities-lead",
    ),
    (
        "sendgrid",
        {"match": {"to": ENERGY_DESK_EMAIL}, "respond": {"status": 429, "retryAfter": 1}, "times": 1},
        "SendGrid answers 429 (rate-limit reset in ~1 s) to the first email to energy-desk",
    ),
)


class _Clock:
    def __init__(self) -> None:
        self.started = time.monotonic()

    def say(self, text: str) -> None:
        print(f"[{time.monotonic() - self.started:6.1f}s] {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--state-dir", type=Path, default=DEFAULT_STATE_DIR)
    parser.add_argument("--dataset", type=Path, default=None, help="open-fdd S-7 directory (default: $OPEN_FDD_DIR or ../shared/datasets/open-fdd-S7)")
    parser.add_argument("--config", type=Path, default=None, help="alert configuration (default: $ALERT_CONFIG or config/alert_config.json)")
    parser.add_argument("--max-replay-seconds", type=float, default=40.0, help="wall time the replay is compressed into (default 40)")
    parser.add_argument("--drain-timeout", type=float, default=90.0, help="how long to wait for every alert to finish after the replay (default 90)")
    parser.add_argument("--keep-running", action="store_true", help="leave the stack up afterwards (stop it with `python -m local.stack down --state-dir ...`)")
    args = parser.parse_args(argv)

    logging.basicConfig(level=logging.WARNING, format="           %(name)s: %(message)s")
    # SIGTERM (e.g. from a CI timeout) must run the same clean-up as Ctrl-C.
    signal.signal(signal.SIGTERM, _interrupt)

    clock = _Clock()
    config_path = Path(args.config or os.environ.get("ALERT_CONFIG") or REPO_ROOT / "config" / "alert_config.json").resolve()
    state_dir = args.state_dir.resolve()
    print("Alerting demo: BAS alarm transitions -> Firestore -> functions -> Twilio / SendGrid, all on this machine")
    stack_started = False
    try:
        source, detail, transitions = _load_transitions(clock, args.dataset)
        if not transitions:
            clock.say("nothing to replay")
            return 1

        clock.say(f"starting the local stack in {_short(state_dir)} (config {_short(config_path)}) ...")
        before = time.monotonic()
        stack_started = True
        info = local_stack.up(state_dir, config_path=config_path)
        clock.say(
            f"stack up in {time.monotonic() - before:.1f} s: Firestore {info.firestore_emulator_host}, "
            f"Pub/Sub {info.pubsub_emulator_host}, {len(info.functions)} functions, relay, Twilio and SendGrid fakes"
        )
        code = _run(clock, info, args, source, detail, transitions, config_path, state_dir)
    except KeyboardInterrupt:
        print()
        clock.say("interrupted")
        code = 130
    finally:
        if stack_started and not args.keep_running:
            clock.say("stopping the stack ...")
            try:
                local_stack.down(state_dir)
            except Exception as exc:  # noqa: BLE001 - reported, and the exit status says so
                clock.say(f"stopping the stack failed: {exc}")
                code = 1
            else:
                clock.say("stack stopped; nothing left running")
        elif stack_started:
            clock.say(f"stack left running (--keep-running): python -m local.stack down --state-dir {_short(state_dir)}")
    clock.say(f"demo finished in {time.monotonic() - clock.started:.1f} s wall time, exit status {code}")
    return code


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt


def _load_transitions(clock: _Clock, dataset: Path | None):
    from local.replay.open_fdd import dataset_dir, dataset_present, demo_transitions

    where = dataset_dir(dataset).resolve()
    source, transitions = demo_transitions(where)
    span = ""
    if transitions:
        first, last = transitions[0].occurred_at, transitions[-1].occurred_at
        span = f", {first:%Y-%m-%d} .. {last:%Y-%m-%d} ({(last - first) / timedelta(days=1):.1f} days of data)"
    if source == "open-fdd":
        detail = f"{where}"
        clock.say(f"data: real open-fdd S-7 AHU trend exports in {_short(where)}: {len(transitions)} alarm transitions{span}")
    else:
        missing = "missing" if not where.exists() else "incomplete" if not dataset_present(where) else "unusable"
        detail = f"the open-fdd dataset is {missing} at {where}"
        clock.say(f"data: open-fdd S-7 dataset not found at {where} (set --dataset or $OPEN_FDD_DIR)")
        clock.say(f"      using the built-in synthetic scenario instead: {len(transitions)} alarm transitions{span}")
    return source, detail, transitions


def _run(clock: _Clock, info: local_stack.StackInfo, args, source: str, detail: str, transitions, config_path: Path, state_dir: Path) -> int:
    from local.replay.writer import rebased, replay

    os.environ["FIRESTORE_EMULATOR_HOST"] = info.firestore_emulator_host
    from google.cloud import firestore

    db = firestore.Client(project=info.project_id)
    config = _read_json(config_path)
    contact_of_address = _contacts(config)

    for provider, rule, description in TROUBLE:
        url = info.twilio_url if provider == "twilio" else info.sendgrid_url
        requests.post(f"{url}/__admin/rules", json=rule, timeout=5).raise_for_status()
        clock.say(f"injected: {description}")
    clock.say("(legacy-pager's number is Twilio's invalid test number +15005550001: its SMS fail with 21211 and fall back to email)")

    # A unique run: occurredAt moved so the last transition happens now. Alert ids hash
    # occurredAt, so every run writes new documents even into a database that kept an old run.
    now = datetime.now(timezone.utc).replace(microsecond=0)
    span = transitions[-1].occurred_at - transitions[0].occurred_at
    run_transitions = rebased(transitions, now - span)
    wall = args.max_replay_seconds
    per_day = wall / max(span / timedelta(days=1), 1e-9)
    clock.say(
        f"replaying {len(run_transitions)} transitions into tenant {TENANT_ID} in at most {wall:.0f} s "
        f"(1 day of data per {per_day:.2f} s; occurredAt shifted to end now, {now:%Y-%m-%d %H:%M:%S} UTC)"
    )

    result: dict[str, Any] = {}

    def write_all() -> None:
        try:
            result["written"] = replay(run_transitions, db, TENANT_ID, max_duration_s=wall)
        except BaseException as exc:  # noqa: BLE001 - re-raised on the main thread
            result["error"] = exc
        finally:
            result["finished"] = time.time()

    replay_started = time.time()
    writer = threading.Thread(target=write_all, name="replay", daemon=True)
    writer.start()
    next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
    while writer.is_alive():
        writer.join(timeout=0.2)
        if time.monotonic() >= next_progress and writer.is_alive():
            next_progress += PROGRESS_EVERY_SECONDS
            clock.say("  " + _progress(db, info, len(run_transitions)))
    if "error" in result:
        raise result["error"]
    written = result["written"]
    replay_finished = result["finished"]
    already = sum(1 for w in written if not w.created)
    clock.say(f"replay done: {len(written)} alert documents written in {replay_finished - replay_started:.1f} s"
              + (f" ({already} already existed!)" if already else ""))

    expected = [w.alert_id for w in written]
    clock.say(f"waiting for every alert and delivery to be final (at most {args.drain_timeout:.0f} s) ...")
    deadline = time.monotonic() + args.drain_timeout
    settled_once = False
    next_progress = time.monotonic() + PROGRESS_EVERY_SECONDS
    while True:
        alerts, deliveries = _read_firestore(db)
        open_items = demo_summary.still_open(expected, alerts, deliveries)
        if not open_items:
            if settled_once:  # twice in a row: nothing was between two writes
                break
            settled_once = True
        else:
            settled_once = False
        if time.monotonic() >= deadline:
            break
        if time.monotonic() >= next_progress:
            next_progress += PROGRESS_EVERY_SECONDS
            clock.say(f"  {len(open_items)} still open, e.g. {open_items[0]}" if open_items else "  settling")
        time.sleep(POLL_SECONDS)
    drained_at = time.time()
    if open_items:
        clock.say(f"gave up after {args.drain_timeout:.0f} s: {len(open_items)} alerts or deliveries still open")
    else:
        clock.say(f"all {len(expected)} alerts final {drained_at - replay_finished:.1f} s after the last write")

    twilio_requests = requests.get(f"{info.twilio_url}/__admin/requests", timeout=10).json()
    sendgrid_requests = requests.get(f"{info.sendgrid_url}/__admin/requests", timeout=10).json()
    run = demo_summary.DemoRun(
        source=source,
        source_detail=detail,
        transitions=len(transitions),
        alerts={alert_id: alerts[alert_id] for alert_id in expected if alert_id in alerts},
        deliveries=[d for d in deliveries if d.get("alertId") in set(expected)],
        written_at={w.alert_id: w.written_at for w in written},
        messages={w.alert_id: w.transition.message for w in written},
        twilio_requests=twilio_requests,
        sendgrid_requests=sendgrid_requests,
        replay_started=replay_started,
        replay_finished=replay_finished,
        drained_at=drained_at,
        already_existed=already,
        contact_of_address=contact_of_address,
        open_items=open_items,
    )
    note = demo_summary.rate_limit_note(
        run.deliveries,
        ((config.get("defaults") or {}).get("rateLimits") or {}).get("perContact"),
        span / timedelta(days=1),
        replay_finished - replay_started,
    )
    run.notes = [note] if note else []
    summary = demo_summary.summarize(run)
    print()
    print(demo_summary.render(summary))
    print(f"Logs of every component: {_short(state_dir / 'logs')}/")
    print()
    return 0 if summary.ok and not already else 1


def _read_firestore(db) -> tuple[dict[str, dict], list[dict]]:
    """Every alert document of the tenant, and every delivery document under them (each with its alertId)."""
    tenant = db.collection("tenants").document(TENANT_ID)
    alerts = {doc.id: doc.to_dict() or {} for doc in tenant.collection("alerts").stream()}
    prefix = f"tenants/{TENANT_ID}/alerts/"
    deliveries = []
    for doc in db.collection_group("deliveries").stream():
        path = doc.reference.path
        if not path.startswith(prefix):
            continue
        data = doc.to_dict() or {}
        data.setdefault("alertId", path[len(prefix):].split("/", 1)[0])
        data.setdefault("deliveryId", doc.id)
        deliveries.append(data)
    return alerts, deliveries


def _progress(db, info: local_stack.StackInfo, total: int) -> str:
    try:
        alerts, _ = _read_firestore(db)
        final = sum(1 for a in alerts.values() if a.get("status") in demo_summary.FINAL_ALERT_STATUSES)
        sms = sum(1 for r in demo_summary.twilio_creates(requests.get(f"{info.twilio_url}/__admin/requests", timeout=5).json()) if demo_summary.is_accepted(r))
        emails = sum(1 for r in demo_summary.sendgrid_sends(requests.get(f"{info.sendgrid_url}/__admin/requests", timeout=5).json()) if demo_summary.is_accepted(r))
    except Exception as exc:  # noqa: BLE001 - progress is best effort
        return f"(progress unavailable: {type(exc).__name__})"
    return f"{len(alerts)} of {total} alerts written, {final} final; {sms} SMS and {emails} emails sent so far"


def _read_json(path: Path) -> dict:
    try:
        loaded = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _contacts(config: dict) -> dict[str, str]:
    """Phone number or email address -> contact id, for the demo-campus tenant."""
    found: dict[str, str] = {}
    for contact in ((config.get("tenants") or {}).get(TENANT_ID) or {}).get("contacts") or []:
        for key in ("phone", "email"):
            if contact.get(key):
                found[contact[key]] = contact["id"]
    return found


def _short(path: Path) -> str:
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    sys.exit(main())
