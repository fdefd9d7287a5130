"""The trigger relay: the Firestore emulator's "functions emulator", standing in for Eventarc.

The emulator POSTs each document event here. Its request is not a CloudEvent
functions-framework accepts: the body is base64 TEXT of the DocumentEventData
protobuf, `ce-source` has a doubled `projects/`, and `ce-time` is cut to whole
seconds. The emulator also delivers from a single thread and never retries, so
an event it cannot hand over is lost. The relay therefore answers 200 at once,
queues the converted event, and delivers it to the function from a pool of
workers, retrying with exponential backoff and jitter until a maximum age, the
way Eventarc with retries enabled does in production.

    python -m local.relay --port R --firestore-host H --project P --trigger-id ID --target URL [--workers 16]

Admin: GET /__relay/stats, GET /__relay/events?limit=N (the last converted
events, so tests can redeliver the exact same CloudEvent to the function).
"""

from __future__ import annotations

import argparse
import base64
import binascii
import collections
import dataclasses
import heapq
import itertools
import json
import random
import re
import threading
import time
from collections.abc import Callable, Mapping
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import requests
from google.events.cloud.firestore_v1 import DocumentEventData
from google.protobuf.message import DecodeError

from local import emulators, topology

TRIGGER_PATH = re.compile(r"^/functions/projects/(?P<project>[^/]+)/triggers/(?P<trigger>[^/]+)$")
PROTOBUF = "application/protobuf"

# -- Conversion: emulator callback -> binary-mode CloudEvent (pure) ---------------------------------------


class ConversionError(ValueError):
    """The emulator's request cannot be turned into a CloudEvent."""


@dataclasses.dataclass(frozen=True)
class CloudEvent:
    """A binary-mode CloudEvent: `ce-*` attributes and Content-Type as headers, the data as the body."""

    headers: dict[str, str]
    body: bytes

    def to_json(self) -> dict:
        return {"headers": self.headers, "bodyBase64": base64.b64encode(self.body).decode("ascii")}


def parse_trigger_path(path: str) -> tuple[str, str] | None:
    """(project, trigger id) of a `/functions/projects/P/triggers/ID` callback path, else None."""
    match = TRIGGER_PATH.match(urlsplit(path).path)
    return (match["project"], match["trigger"]) if match else None


def firestore_source(project: str, database: str = "(default)") -> str:
    return f"//firestore.googleapis.com/projects/{project}/databases/{database}"


def decode_emulator_body(raw_body: bytes) -> bytes:
    """The emulator sends the DocumentEventData protobuf as base64 text; return the protobuf bytes."""
    try:
        return base64.b64decode(raw_body.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise ConversionError(f"body is not base64 text ({len(raw_body)} bytes)") from exc


def document_event_time(document_event: bytes) -> str | None:
    """RFC 3339 time of the change, to full precision: the new document's update_time (the old one's on delete)."""
    try:
        event = DocumentEventData.pb().FromString(document_event)
    except DecodeError as exc:
        raise ConversionError("body is not a DocumentEventData protobuf") from exc
    for document in (event.value, event.old_value):
        if document.HasField("update_time"):
            return document.update_time.ToJsonString()
    return None


def convert_callback(headers: Mapping[str, str], raw_body: bytes, project: str) -> CloudEvent:
    """Turn one emulator callback into the CloudEvent production Eventarc would deliver."""
    attributes = {name.lower(): value for name, value in headers.items() if name.lower().startswith("ce-")}
    for required in ("ce-id", "ce-type", "ce-specversion"):
        if required not in attributes:
            raise ConversionError(f"missing header {required}")
    body = decode_emulator_body(raw_body)
    attributes["ce-source"] = firestore_source(project, attributes.get("ce-database", "(default)"))
    attributes["ce-time"] = document_event_time(body) or attributes.get("ce-time", "")
    if not attributes["ce-time"]:
        del attributes["ce-time"]
    return CloudEvent(headers={**attributes, "content-type": PROTOBUF}, body=body)


# -- Delivery: a time-ordered queue, a worker pool, backoff -----------------------------------------------


@dataclasses.dataclass(frozen=True)
class RetryPolicy:
    min_backoff: float = 0.5
    max_backoff: float = 10.0
    max_age: float = 600.0  # production Eventarc retries up to 24 h; locally ten minutes rides out any restart


def backoff_seconds(attempt: int, policy: RetryPolicy, rand: Callable[[], float] = random.random) -> float:
    """Delay before retry number `attempt` (1-based): doubling, capped, with jitter in [50 %, 100 %].

    Jitter keeps a burst of events that failed together (a restarted function)
    from coming back as one burst.
    """
    ceiling = min(policy.max_backoff, policy.min_backoff * 2 ** (attempt - 1))
    return ceiling * (0.5 + rand() / 2)


@dataclasses.dataclass
class PendingDelivery:
    event: CloudEvent
    received_at: float  # time.monotonic()
    attempts: int = 0
    last_error: str = ""


class DeliverySchedule:
    """Deliveries waiting for their next attempt; `take` blocks until the earliest one is due."""

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, PendingDelivery]] = []
        self._order = itertools.count()  # ties keep arrival order
        self._changed = threading.Condition()

    def put(self, delivery: PendingDelivery, due: float | None = None) -> None:
        with self._changed:
            heapq.heappush(self._heap, (time.monotonic() if due is None else due, next(self._order), delivery))
            self._changed.notify()

    def take(self) -> PendingDelivery:
        with self._changed:
            while True:
                if self._heap:
                    wait = self._heap[0][0] - time.monotonic()
                    if wait <= 0:
                        return heapq.heappop(self._heap)[2]
                    self._changed.wait(wait)
                else:
                    self._changed.wait()

    def __len__(self) -> int:
        with self._changed:
            return len(self._heap)


class RelayStats:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = collections.Counter()

    def add(self, name: str, amount: int = 1) -> None:
        with self._lock:
            self._counts[name] += amount

    def snapshot(self, queued: int) -> dict[str, int]:
        with self._lock:
            counts = dict(self._counts)
        names = ("received", "delivered", "retried", "dropped", "rejected")
        return {**{name: counts.get(name, 0) for name in names}, "queued": queued, "inFlight": counts.get("inFlight", 0)}


class Relay:
    """Accepts converted events and delivers them to the function with retries."""

    def __init__(
        self,
        project: str,
        trigger_id: str,
        target_url: str,
        policy: RetryPolicy = RetryPolicy(),
        delivery_timeout: float = 60.0,
        history_size: int = 1000,
    ) -> None:
        self.project = project
        self.trigger_id = trigger_id
        self.target_url = target_url
        self.policy = policy
        self.delivery_timeout = delivery_timeout
        self.schedule = DeliverySchedule()
        self.stats = RelayStats()
        self._history: collections.deque[CloudEvent] = collections.deque(maxlen=history_size)
        self._history_lock = threading.Lock()
        self._sessions = threading.local()

    def accept(self, event: CloudEvent) -> None:
        with self._history_lock:
            self._history.append(event)
        self.stats.add("received")
        self.schedule.put(PendingDelivery(event, received_at=time.monotonic()))

    def recent_events(self, limit: int) -> list[CloudEvent]:
        with self._history_lock:
            return list(self._history)[-limit:] if limit > 0 else []

    def stats_snapshot(self) -> dict[str, int]:
        return self.stats.snapshot(queued=len(self.schedule))

    def start_workers(self, count: int) -> None:
        for number in range(count):
            threading.Thread(target=self._work, name=f"deliver-{number}", daemon=True).start()

    def _work(self) -> None:
        while True:
            delivery = self.schedule.take()
            self.stats.add("inFlight")
            try:
                self._attempt(delivery)
            finally:
                self.stats.add("inFlight", -1)

    def _attempt(self, delivery: PendingDelivery) -> None:
        delivery.attempts += 1
        error = self._post(delivery.event)
        if error is None:
            self.stats.add("delivered")
            if delivery.attempts > 1:
                log("INFO", "delivered after retries", **_event_fields(delivery))
            return
        delivery.last_error = error
        delay = backoff_seconds(delivery.attempts, self.policy)
        age = time.monotonic() - delivery.received_at
        if age + delay > self.policy.max_age:
            self.stats.add("dropped")
            log("ERROR", "dropping event: still undeliverable at max age", ageSeconds=round(age, 1), **_event_fields(delivery))
            return
        self.stats.add("retried")
        log("WARNING", "delivery failed, will retry", retryInSeconds=round(delay, 2), **_event_fields(delivery))
        self.schedule.put(delivery, due=time.monotonic() + delay)

    def _post(self, event: CloudEvent) -> str | None:
        """None on a 2xx answer, else a short description of the failure."""
        session = getattr(self._sessions, "session", None)
        if session is None:
            session = self._sessions.session = requests.Session()
        try:
            response = session.post(
                self.target_url, data=event.body, headers=event.headers, timeout=(2.0, self.delivery_timeout)
            )
        except requests.RequestException as exc:
            return f"{type(exc).__name__}"
        if 200 <= response.status_code < 300:
            return None
        return f"HTTP {response.status_code}"


def _event_fields(delivery: PendingDelivery) -> dict:
    headers = delivery.event.headers
    return {
        "ceId": headers.get("ce-id"),
        "document": headers.get("ce-document"),
        "attempts": delivery.attempts,
        "lastError": delivery.last_error,
    }


def log(severity: str, message: str, **fields) -> None:
    """One Cloud Logging style JSON record per line on stdout."""
    print(json.dumps({"severity": severity, "message": message, "component": "relay", **fields}), flush=True)


# -- HTTP -------------------------------------------------------------------------------------------------


class RelayRequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the emulator reuses its connection
    # Headers and body go out in two writes; with Nagle on, the body waits ~40 ms for the client's delayed ACK.
    disable_nagle_algorithm = True
    server: RelayServer

    def do_POST(self) -> None:
        relay = self.server.relay
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        target = parse_trigger_path(self.path)
        if target != (relay.project, relay.trigger_id):
            log("WARNING", "callback for an unknown trigger", path=self.path)
            self._reply(HTTPStatus.NOT_FOUND, {"error": "unknown trigger"})
            return
        try:
            event = convert_callback(dict(self.headers.items()), body, relay.project)
        except ConversionError as exc:
            relay.stats.add("rejected")
            log("ERROR", "cannot convert emulator callback", error=str(exc), ceId=self.headers.get("ce-id"))
            self._reply(HTTPStatus.BAD_REQUEST, {"error": str(exc)})
            return
        relay.accept(event)
        self._reply(HTTPStatus.OK, {"queued": True})

    def do_GET(self) -> None:
        relay = self.server.relay
        url = urlsplit(self.path)
        if url.path == "/__relay/stats":
            self._reply(HTTPStatus.OK, relay.stats_snapshot())
        elif url.path == "/__relay/events":
            limit = int(parse_qs(url.query).get("limit", ["20"])[0])
            self._reply(HTTPStatus.OK, [event.to_json() for event in relay.recent_events(limit)])
        elif url.path in ("/", "/__relay/health"):
            self._reply(HTTPStatus.OK, {"ok": True})
        else:
            self._reply(HTTPStatus.NOT_FOUND, {"error": "not found"})

    def _reply(self, status: HTTPStatus, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - BaseHTTPRequestHandler's signature
        pass  # per-request access lines would drown the structured log


class RelayServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], relay: Relay) -> None:
        self.relay = relay
        super().__init__(address, RelayRequestHandler)


def register_trigger_when_emulator_answers(args: argparse.Namespace, timeout_seconds: float = 60.0) -> None:
    """Register our trigger; retried because the relay may start before the emulator answers."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        try:
            emulators.register_firestore_trigger(
                args.firestore_host, args.project, args.trigger_id, args.document_pattern, args.event_type
            )
            return
        except (requests.RequestException, emulators.EmulatorAdminError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"relay: cannot register trigger with the Firestore emulator at {args.firestore_host}: {exc}")
            time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m local.relay", description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--firestore-host", required=True, help="host:port of the Firestore emulator")
    parser.add_argument("--project", required=True)
    parser.add_argument("--trigger-id", required=True)
    parser.add_argument("--target", required=True, help="URL of the functions-framework process")
    parser.add_argument("--workers", type=int, default=16)
    parser.add_argument("--document-pattern", default=topology.FIRESTORE_ALERT_PATTERN)
    parser.add_argument("--event-type", default=topology.FIRESTORE_CREATED)
    parser.add_argument("--min-backoff", type=float, default=RetryPolicy.min_backoff)
    parser.add_argument("--max-backoff", type=float, default=RetryPolicy.max_backoff)
    parser.add_argument("--max-age", type=float, default=RetryPolicy.max_age, help="seconds before an event is dropped")
    parser.add_argument("--delivery-timeout", type=float, default=60.0)
    args = parser.parse_args(argv)

    relay = Relay(
        args.project,
        args.trigger_id,
        args.target,
        RetryPolicy(args.min_backoff, args.max_backoff, args.max_age),
        args.delivery_timeout,
    )
    relay.start_workers(args.workers)
    server = RelayServer((args.host, args.port), relay)
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    # Register only once we listen: an event fired at a closed port is lost for good.
    register_trigger_when_emulator_answers(args)
    log("INFO", "relay ready", port=args.port, target=args.target, trigger=args.trigger_id, workers=args.workers)
    print(f"READY {args.port}", flush=True)
    try:
        threading.Event().wait()  # until SIGTERM (from `down`) or Ctrl-C
    except KeyboardInterrupt:
        server.shutdown()


if __name__ == "__main__":
    main()
