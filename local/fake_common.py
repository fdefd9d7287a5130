"""What the local Twilio and SendGrid fakes share.

Both fakes keep a log of the API requests they answered, a list of fault rules
that tests install through the admin API, and send webhooks (Twilio status
callbacks, SendGrid events) to URLs that may have to be rewritten the way a load
balancer would. Each server adds only its provider's API and payloads.
"""

from __future__ import annotations

import argparse
import copy
import signal
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterable
from urllib.parse import urlsplit

import requests
from flask import Blueprint, Flask, Response, g, jsonify, request
from werkzeug.serving import make_server

ADMIN_PREFIX = "/__admin"

# Respond options every fake understands; each server adds its own (code, acceptThen...).
COMMON_RESPOND_KEYS = frozenset({"status", "message", "body", "contentType", "headers", "retryAfter", "hangSeconds"})
COMMON_MATCH_KEYS = frozenset({"method", "path", "to"})

# How often a server checks whether it was asked to stop: shutdown waits up to this long.
SHUTDOWN_POLL_SECONDS = 0.05

# Bodies larger than this are logged by size only, so a 30 MB test mail does not sit in memory twice.
MAX_LOGGED_BODY_BYTES = 1_000_000


class RequestLog:
    """Every provider API request received, in arrival order, with the answer given."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []
        self._next_id = 1

    def start(self, entry: dict[str, Any]) -> dict[str, Any]:
        # Logged on arrival, not on answer: a request that hangs is already visible to tests.
        with self._lock:
            entry["id"] = self._next_id
            self._next_id += 1
            self._entries.append(entry)
        return entry

    def finish(self, entry: dict[str, Any], status: int, response: Any, message_sid: str | None) -> None:
        with self._lock:
            entry.update(status=status, response=response, messageSid=message_sid)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


@dataclass
class Rule:
    id: int
    match: dict[str, Any]
    respond: dict[str, Any]
    remaining: int | None  # None: applies forever

    def matches(self, facts: dict[str, Any]) -> bool:
        for key, expected in self.match.items():
            actual = facts.get(key)
            if key == "path":
                ok = str(expected) in (actual or "")
            elif key == "method":
                ok = str(expected).upper() == actual
            elif key == "to":
                # A request can have several recipients (SendGrid); one is enough. Emails compare case-insensitively.
                ok = str(expected).lower() in {str(r).lower() for r in actual or ()}
            else:
                ok = expected == actual
            if not ok:
                return False
        return True

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "match": self.match, "respond": self.respond, "times": self.remaining}


class RuleBook:
    """Fault rules, matched in the order added; the first match wins and uses up one of its `times`."""

    def __init__(self, match_keys: Iterable[str], respond_keys: Iterable[str]) -> None:
        self._match_keys = frozenset(match_keys)
        self._respond_keys = frozenset(respond_keys)
        self._lock = threading.Lock()
        self._rules: list[Rule] = []
        self._next_id = 1

    def add(self, spec: dict[str, Any]) -> Rule:
        """Validates and stores a rule; raises ValueError so a typo in a test fails loudly instead of matching nothing."""
        if not isinstance(spec, dict):
            raise ValueError("rule must be a JSON object")
        match = spec.get("match") or {}
        respond = spec.get("respond") or {}
        times = spec.get("times")
        if not isinstance(match, dict) or not isinstance(respond, dict):
            raise ValueError("match and respond must be objects")
        unknown = (set(match) - self._match_keys) | (set(respond) - self._respond_keys)
        if unknown:
            raise ValueError(f"unknown rule keys: {sorted(unknown)}")
        if times is not None and (not isinstance(times, int) or isinstance(times, bool) or times < 1):
            raise ValueError("times must be a positive integer or null")
        with self._lock:
            rule = Rule(self._next_id, match, respond, times)
            self._next_id += 1
            self._rules.append(rule)
        return rule

    def take(self, facts: dict[str, Any]) -> dict[str, Any] | None:
        """The respond options of the first rule matching this request, counting the use."""
        with self._lock:
            for rule in self._rules:
                if rule.matches(facts):
                    if rule.remaining is not None:
                        rule.remaining -= 1
                        if rule.remaining == 0:
                            self._rules.remove(rule)
                    return copy.deepcopy(rule.respond)
        return None

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(rule.as_json()) for rule in self._rules]

    def clear(self) -> None:
        with self._lock:
            self._rules.clear()


class UrlRouter:
    """Rewrites public webhook URLs to where the function really listens.

    Signatures are computed over the public URL while the request goes to the
    internal one, as behind a load balancer: a receiver that validates against
    the URL it was reached at fails, like it would in production.
    """

    def __init__(self, routes: Iterable[str] = ()) -> None:
        self._routes: list[tuple[str, str]] = [parse_route(route) for route in routes]

    def internal_url(self, public_url: str) -> str:
        for public_prefix, internal_prefix in self._routes:
            if public_url.startswith(public_prefix):
                return internal_prefix + public_url[len(public_prefix):]
        return public_url


def parse_route(text: str) -> tuple[str, str]:
    public_prefix, sep, internal_prefix = text.partition("=")
    if not sep or not public_prefix or not internal_prefix:
        raise ValueError(f"route must look like PUBLIC_PREFIX=INTERNAL_PREFIX, got {text!r}")
    return public_prefix, internal_prefix


class WebhookLog:
    """Every webhook the fake sent (or tried to), for tests that check what the function was told."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: list[dict[str, Any]] = []

    def add(self, entry: dict[str, Any]) -> None:
        with self._lock:
            entry["id"] = len(self._entries) + 1
            self._entries.append(entry)

    def snapshot(self) -> list[dict[str, Any]]:
        with self._lock:
            return copy.deepcopy(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class FakeState:
    """The mutable state of one fake server: logs, rules, routing and the reset generation."""

    def __init__(self, routes: Iterable[str], match_keys: Iterable[str], respond_keys: Iterable[str]) -> None:
        self.requests = RequestLog()
        self.rules = RuleBook(match_keys, respond_keys)
        self.router = UrlRouter(routes)
        self.webhooks = WebhookLog()
        self._reset_hooks: list[Callable[[], None]] = []
        self._generation = 0
        self._generation_lock = threading.Lock()

    @property
    def generation(self) -> int:
        return self._generation

    def is_current(self, generation: int) -> bool:
        # Background senders started before a reset stop, so one test's callbacks never reach the next test.
        return generation == self._generation

    def on_reset(self, hook: Callable[[], None]) -> None:
        self._reset_hooks.append(hook)

    def reset(self) -> None:
        with self._generation_lock:
            self._generation += 1
        self.requests.clear()
        self.rules.clear()
        self.webhooks.clear()
        for hook in self._reset_hooks:
            hook()

    def send_webhook(
        self,
        kind: str,
        public_url: str,
        body: bytes,
        headers: dict[str, str],
        attempts: int = 1,
        backoff_seconds: float = 0.05,
        timeout: float = 10.0,
    ) -> dict[str, Any]:
        """POSTs one webhook to the routed URL, retrying connection errors, 429 and 5xx; returns the log entry."""
        target = self.router.internal_url(public_url)
        public = urlsplit(public_url)
        # What a load balancer passes on: the original host and scheme, not the internal ones.
        headers = {**headers, "Host": public.netloc, "X-Forwarded-Proto": public.scheme, "X-Forwarded-Host": public.netloc}
        entry: dict[str, Any] = {"kind": kind, "url": public_url, "deliveredTo": target, "sentAt": time.time(),
                                 "requestHeaders": headers, "body": body.decode("utf-8", "replace"),
                                 "status": None, "responseBody": None, "error": None, "attempts": 0}
        for attempt in range(1, attempts + 1):
            entry["attempts"] = attempt
            try:
                answer = requests.post(target, data=body, headers=headers, timeout=timeout, allow_redirects=False)
                entry.update(status=answer.status_code, responseBody=answer.text, error=None)
                if answer.status_code < 500 and answer.status_code != 429:
                    break
            except requests.RequestException as exc:
                entry.update(status=None, responseBody=None, error=f"{type(exc).__name__}: {exc}")
            if attempt < attempts:
                time.sleep(backoff_seconds * 2 ** (attempt - 1))
        self.webhooks.add(entry)
        return entry


def admin_blueprint(state: FakeState) -> Blueprint:
    """The admin API of CONTRACT §5; servers add their own routes to it before registering it."""
    admin = Blueprint("admin", __name__, url_prefix=ADMIN_PREFIX)

    @admin.get("/requests")
    def list_requests():
        return jsonify(state.requests.snapshot())

    @admin.post("/reset")
    def reset():
        state.reset()
        return jsonify({"reset": True})

    @admin.get("/rules")
    def list_rules():
        return jsonify(state.rules.snapshot())

    @admin.post("/rules")
    def add_rule():
        try:
            rule = state.rules.add(request.get_json(force=True, silent=True))
        except ValueError as exc:
            return jsonify({"error": str(exc)}), 400
        return jsonify(rule.as_json()), 201

    @admin.delete("/rules")
    def clear_rules():
        state.rules.clear()
        return jsonify({"cleared": True})

    @admin.get("/webhooks")
    def list_webhooks():
        return jsonify(state.webhooks.snapshot())

    return admin


def install_request_log(app: Flask, state: FakeState) -> None:
    """Logs every non-admin request: what came in and what was answered, never the credentials."""

    @app.before_request
    def log_arrival():
        if request.path.startswith(ADMIN_PREFIX):
            return
        raw = request.get_data(cache=True)  # read first so the handler can still parse form or JSON
        small = len(raw) <= MAX_LOGGED_BODY_BYTES
        form = request.form if small else {}
        g.log_entry = state.requests.start({
            "receivedAt": time.time(),
            "method": request.method,
            "path": request.path,
            "query": request.args.to_dict(),
            "form": {key: _one_or_list(form.getlist(key)) for key in form} if form else {},
            "json": request.get_json(silent=True) if small and request.is_json else None,
            "bodyBytes": len(raw),
            "headers": {k: v for k, v in request.headers.items() if k.lower() not in ("authorization", "cookie")},
            "status": None,
            "response": None,
            "messageSid": None,
        })

    @app.after_request
    def log_answer(response: Response) -> Response:
        entry = g.pop("log_entry", None)
        if entry is not None:
            answered = response.get_json(silent=True) if response.is_json else None
            state.requests.finish(entry, response.status_code, answered, g.get("message_sid"))
        return response


def _one_or_list(values: list[str]) -> str | list[str]:
    return values[0] if len(values) == 1 else values


def apply_fault(
    respond: dict[str, Any],
    error_response: Callable[[dict[str, Any]], Response],
    extra_headers: Callable[[dict[str, Any]], dict[str, str]],
) -> Response | None:
    """Carries out a rule's respond options: hangs if asked, then returns the forced answer.

    Returns None when the rule forces no answer (e.g. only hangSeconds): the request
    is then handled normally, like a slow provider that accepts after the client gave up.
    """
    if respond.get("hangSeconds"):
        time.sleep(float(respond["hangSeconds"]))
    if "body" in respond:
        answer = Response(str(respond["body"]), status=int(respond.get("status", 500)),
                          content_type=respond.get("contentType", "text/plain"))
    elif "status" in respond:
        answer = error_response(respond)
    else:
        return None
    for name, value in {**extra_headers(respond), **(respond.get("headers") or {})}.items():
        answer.headers[name] = str(value)
    return answer


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port; the READY line tells which")
    parser.add_argument("--route", action="append", default=[], metavar="PUBLIC_PREFIX=INTERNAL_PREFIX",
                        help="send webhooks for URLs starting with PUBLIC_PREFIX to INTERNAL_PREFIX instead")


def serve_until_terminated(app: Flask, host: str, port: int) -> None:
    """Serves on a threaded werkzeug server, prints `READY <port>` once listening, stops on SIGTERM or SIGINT."""
    server = make_server(host, port, app, threaded=True)

    def stop(_signum, _frame):
        # shutdown() waits for serve_forever to return, which runs on this very thread: ask from another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY {server.port}", flush=True)
    try:
        server.serve_forever(poll_interval=SHUTDOWN_POLL_SECONDS)
    finally:
        server.server_close()


class ServerThread:
    """Runs a WSGI app on a threaded werkzeug server in the background (tests, in-process stacks)."""

    def __init__(self, app: Flask, host: str = "127.0.0.1", port: int = 0) -> None:
        self._server = make_server(host, port, app, threaded=True)
        self.port = self._server.port
        self.url = f"http://{host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, args=(SHUTDOWN_POLL_SECONDS,), daemon=True)

    def start(self) -> "ServerThread":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "ServerThread":
        return self.start()

    def __exit__(self, *_exc) -> None:
        self.stop()
