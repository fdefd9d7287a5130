"""The local stand-in for Cloud Scheduler: publish a small JSON tick to the sweep topic every interval.

    python -m local.ticker --project P --topic alert-sweep --interval 5 [--pubsub-host H]

The Pub/Sub emulator host defaults to $PUBSUB_EMULATOR_HOST. Prints `READY` once
the topic exists, then ticks after each full interval, like a scheduler job
whose first run is one period away.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import time

import requests

from local import emulators, topology


def tick_payload(now: datetime.datetime) -> bytes:
    return json.dumps({"tick": now.isoformat(timespec="milliseconds").replace("+00:00", "Z")}).encode()


def log(severity: str, message: str, **fields) -> None:
    print(json.dumps({"severity": severity, "message": message, "component": "ticker", **fields}), flush=True)


def wait_for_topic(pubsub_host: str, project: str, topic: str, timeout_seconds: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            if emulators.topic_exists(pubsub_host, project, topic):
                return
        except requests.RequestException:
            pass
        if time.monotonic() > deadline:
            raise SystemExit(f"ticker: topic projects/{project}/topics/{topic} not found on {pubsub_host}")
        time.sleep(0.2)


def run(pubsub_host: str, project: str, topic: str, interval: float) -> None:
    next_tick = time.monotonic() + interval
    while True:
        time.sleep(max(0.0, next_tick - time.monotonic()))
        # Due times advance from the previous due time so ticks do not drift; after a stall
        # (machine suspended, emulator stuck) skip the missed ticks rather than bursting them.
        next_tick = max(next_tick + interval, time.monotonic())
        try:
            emulators.publish(pubsub_host, project, topic, tick_payload(datetime.datetime.now(datetime.timezone.utc)))
        except (requests.RequestException, emulators.EmulatorAdminError) as exc:
            # A missed tick is what a scheduler outage looks like; the next one catches up.
            log("WARNING", "tick not published", error=str(exc))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.ticker", description=__doc__.split("\n\n")[0])
    parser.add_argument("--project", required=True)
    parser.add_argument("--topic", default=topology.SWEEP_TOPIC)
    parser.add_argument("--interval", type=float, default=5.0, help="seconds between ticks")
    parser.add_argument("--pubsub-host", default=os.environ.get("PUBSUB_EMULATOR_HOST"))
    args = parser.parse_args(argv)
    if not args.pubsub_host:
        parser.error("--pubsub-host or $PUBSUB_EMULATOR_HOST is required")
    if args.interval <= 0:
        parser.error("--interval must be positive")

    wait_for_topic(args.pubsub_host, args.project, args.topic)
    log("INFO", "ticker ready", topic=args.topic, intervalSeconds=args.interval)
    print("READY", flush=True)
    try:
        run(args.pubsub_host, args.project, args.topic, args.interval)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
