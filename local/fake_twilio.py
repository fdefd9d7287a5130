"""A local Twilio Programmable Messaging API that the official `twilio` SDK can be pointed at.

    python -m local.fake_twilio --host 127.0.0.1 --port P --account-sid AC... --auth-token TOKEN \
        [--route PUBLIC_PREFIX=INTERNAL_PREFIX ...] [--callback-delay 0.05]

Speaks the 2010-04-01 Messages resource (create, fetch, list), answers errors in
Twilio's JSON shape, honours the test-credential magic numbers, and sends signed
status callbacks. The admin API under /__admin (see local/fake_common.py, plus
/messages, /inbound and /status-callback here) lets tests inject faults.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlencode

from flask import Flask, Response, g, jsonify, request

from local.fake_common import (
    COMMON_MATCH_KEYS,
    COMMON_RESPOND_KEYS,
    FakeState,
    add_common_arguments,
    admin_blueprint,
    apply_fault,
    install_request_log,
    serve_until_terminated,
)

API_VERSION = "2010-04-01"
MESSAGE_BODY_LIMIT = 1600  # characters; Twilio rejects longer bodies with 21617
DEFAULT_PAGE_SIZE = 50
CALLBACK_ATTEMPTS = 3
# The sender Twilio would pick from a Messaging Service's pool.
POOL_SENDER = "+15005550006"

E164 = re.compile(r"^\+[1-9]\d{1,14}$")
CHANNEL_PREFIX = re.compile(r"^(whatsapp|messenger|rcs):")

# Twilio's test-credential numbers (https://www.twilio.com/docs/iam/test-credentials).
MAGIC_TO = {
    "+15005550001": (21211, "The 'To' number {to} is not a valid phone number."),
    "+15005550002": (21612, "The 'To' phone number: {to}, is not currently reachable using the 'From' phone "
                            "number: {from_} via SMS."),
    "+15005550003": (21408, "Permission to send an SMS has not been enabled for the region indicated by the "
                            "'To' number: {to}."),
    "+15005550004": (21610, "Attempt to send to unsubscribed recipient"),
    "+15005550009": (21614, "'To' number is not a valid mobile number"),
}
MAGIC_FROM = {
    "+15005550001": (21212, "The 'From' number {from_} is not a valid phone number, shortcode, or alphanumeric "
                            "sender ID."),
    "+15005550007": (21606, "The 'From' phone number provided ({from_}) is not a valid message-capable Twilio "
                            "phone number for this destination/account."),
    "+15005550008": (21611, "This 'From' number has exceeded the maximum number of queued messages."),
}
# Twilio error codes when a rule gives only an HTTP status.
DEFAULT_CODES = {401: 20003, 404: 20404, 429: 20429, 500: 20500, 503: 20503}
DELIVERY_ERROR_MESSAGES = {
    30001: "Queue overflow", 30003: "Unreachable destination handset", 30004: "Message blocked",
    30005: "Unknown destination handset", 30006: "Landline or unreachable carrier",
    30007: "Message filtered", 30008: "Unknown error",
}
FINAL_FAILURES = ("failed", "undelivered")

GSM7_BASIC = set("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§"
                  "¿abcdefghijklmnopqrstuvwxyzäöñüà")
GSM7_EXTENDED = set("^{}\\[~]|€\f")  # two septets each


def twilio_signature(auth_token: str, url: str, params: dict[str, str]) -> str:
    """X-Twilio-Signature: base64 HMAC-SHA1 of the URL followed by each param name and value, sorted by name."""
    payload = url + "".join(name + params[name] for name in sorted(params))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def segment_count(body: str) -> int:
    """How many SMS segments Twilio bills: GSM-7 fits 160 (153 when split), anything else UCS-2 at 70 (67)."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in body):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in body)
        single, multi = 160, 153
    else:
        units = len(body.encode("utf-16-le")) // 2
        single, multi = 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def rfc2822(moment: datetime) -> str:
    return format_datetime(moment.replace(microsecond=0))


def twilio_error(status: int, code: int, message: str, **extra: Any) -> Response:
    response = jsonify({"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}",
                        "status": status, **extra})
    response.status_code = status
    return response


@dataclass
class StoredMessage:
    resource: dict[str, Any]  # exactly what the API returns
    seq: int  # creation order, to sort messages created within the same second
    sent_at: datetime
    status_callback: str | None = None
    lifecycle: list[tuple[str, int | None]] = field(default_factory=list)


class MessageStore:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: dict[str, StoredMessage] = {}
        self._seq = 0

    def add(self, message: StoredMessage) -> None:
        with self._lock:
            self._seq += 1
            message.seq = self._seq
            self._messages[message.resource["sid"]] = message

    def resource(self, sid: str) -> dict[str, Any] | None:
        with self._lock:
            message = self._messages.get(sid)
            return dict(message.resource) if message else None

    def stored(self, sid: str) -> StoredMessage | None:
        with self._lock:
            return self._messages.get(sid)

    def update(self, sid: str, **fields: Any) -> dict[str, Any] | None:
        with self._lock:
            message = self._messages.get(sid)
            if message is None:
                return None
            message.resource.update(fields, date_updated=rfc2822(datetime.now(timezone.utc)))
            return dict(message.resource)

    def newest_first(self) -> list[StoredMessage]:
        with self._lock:
            return sorted(self._messages.values(), key=lambda m: m.seq, reverse=True)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()


def parse_date_filter(value: str) -> date | datetime:
    """DateSent filters take a day (YYYY-MM-DD) or an instant (the SDK sends YYYY-MM-DDTHH:MM:SSZ)."""
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)).astimezone(timezone.utc)


def date_sent_matches(sent_at: datetime, op: str, bound: date | datetime) -> bool:
    # In Twilio's query syntax `DateSent>=X` reaches the server as key `DateSent>`: the bounds are inclusive.
    sent = sent_at.replace(microsecond=0)
    left: date | datetime = sent if isinstance(bound, datetime) else sent.date()
    return {"": left == bound, "<": left <= bound, ">": left >= bound}[op]


def callback_plan(accept_then: dict[str, Any] | None) -> list[tuple[str, int | None]]:
    """The statuses a message goes through after it was accepted, with their error codes."""
    if not accept_then:
        return [("sent", None), ("delivered", None)]
    code = accept_then.get("errorCode")
    if accept_then.get("statuses"):  # explicit, e.g. ["delivered", "sent"] to simulate a late callback
        return [(s, (code or 30008) if s in FINAL_FAILURES else None) for s in accept_then["statuses"]]
    final = accept_then.get("status", "delivered")
    if final == "failed":  # a failed message never left Twilio
        return [("failed", code or 30008)]
    if final == "sent":  # the carrier never confirmed delivery
        return [("sent", None)]
    return [("sent", None), (final, (code or 30008) if final in FINAL_FAILURES else None)]


class TwilioFake:
    def __init__(self, account_sid: str, auth_token: str, routes=(), callback_delay: float = 0.05) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.callback_delay = callback_delay
        self.messages = MessageStore()
        self.state = FakeState(routes, COMMON_MATCH_KEYS | {"kind"},
                               COMMON_RESPOND_KEYS | {"code", "acceptThenCallback"})
        self.state.on_reset(self.messages.clear)

    # ---- request plumbing -------------------------------------------------------------------

    def authenticate(self, account_sid: str) -> Response | None:
        auth = request.authorization
        if (auth is None or auth.type != "basic" or auth.username != self.account_sid
                or auth.password != self.auth_token or account_sid != self.account_sid):
            response = twilio_error(401, 20003, "Authenticate", detail="Your AccountSid or AuthToken was incorrect.")
            response.headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
            return response
        return None

    def injected_fault(self, kind: str, to: str | None) -> tuple[Response | None, dict[str, Any]]:
        respond = self.state.rules.take({"kind": kind, "method": request.method, "path": request.path,
                                         "to": [to] if to else []}) or {}
        if not respond:
            return None, respond
        return apply_fault(respond, self.rule_error, self.retry_after_header), respond

    @staticmethod
    def rule_error(respond: dict[str, Any]) -> Response:
        status = int(respond["status"])
        code = int(respond.get("code") or DEFAULT_CODES.get(status, status))
        return twilio_error(status, code, respond.get("message", f"Injected error {code}"))

    @staticmethod
    def retry_after_header(respond: dict[str, Any]) -> dict[str, str]:
        return {"Retry-After": str(respond["retryAfter"])} if respond.get("retryAfter") is not None else {}

    def account_uri(self, rest: str) -> str:
        return f"/{API_VERSION}/Accounts/{self.account_sid}/{rest}"

    # ---- Messages resource ------------------------------------------------------------------

    def new_resource(self, now: datetime, direction: str, status: str, to: str, sender: str | None, body: str,
                     service_sid: str | None = None, num_media: int = 0) -> dict[str, Any]:
        """A Message resource with every field of the spec's api.v2010.account.message schema."""
        sid = "SM" + secrets.token_hex(16)
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": body,
            "date_created": rfc2822(now),
            "date_sent": rfc2822(now),
            "date_updated": rfc2822(now),
            "direction": direction,
            "error_code": None,
            "error_message": None,
            "from": sender,
            "messaging_service_sid": service_sid,
            "num_media": str(num_media),
            "num_segments": str(segment_count(body)),
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": status,
            "subresource_uris": {"media": self.account_uri(f"Messages/{sid}/Media.json"),
                                 "feedback": self.account_uri(f"Messages/{sid}/Feedback.json")},
            "to": to,
            "uri": self.account_uri(f"Messages/{sid}.json"),
        }

    def create_message(self, account_sid: str) -> Response:
        denied = self.authenticate(account_sid)
        if denied:
            return denied
        form = request.form
        to = form.get("To", "").strip()
        generation = self.state.generation
        forced, respond = self.injected_fault("create", to)
        if forced:
            return forced
        if not self.state.is_current(generation):  # reset during a hang: don't leak a message into the next test
            return twilio_error(503, 20503, "The fake was reset while this request hung.")
        invalid = self.validate_create(form, to)
        if invalid:
            return invalid

        now = datetime.now(timezone.utc)
        sender = form.get("From") or None
        service_sid = form.get("MessagingServiceSid") or None
        # Twilio answers `accepted` when it still has to pick a sender from the service's pool.
        resource = self.new_resource(now, "outbound-api", "queued" if sender else "accepted", to, sender,
                                     form.get("Body", ""), service_sid, num_media=len(form.getlist("MediaUrl")))
        sid = resource["sid"]
        self.messages.add(StoredMessage(resource=resource, seq=0, sent_at=now,
                                        status_callback=form.get("StatusCallback") or None,
                                        lifecycle=callback_plan(respond.get("acceptThenCallback"))))
        g.message_sid = sid
        threading.Thread(target=self.run_lifecycle, args=(sid, generation), daemon=True).start()
        response = jsonify(resource)
        response.status_code = 201
        return response

    def validate_create(self, form, to: str) -> Response | None:
        sender = form.get("From", "").strip()
        if not to:
            return twilio_error(400, 21604, "A 'To' phone number is required.")
        if not sender and not form.get("MessagingServiceSid"):
            return twilio_error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
        if not form.get("Body") and not form.getlist("MediaUrl") and not form.get("ContentSid"):
            return twilio_error(400, 21602, "Message body is required.")
        if len(form.get("Body", "")) > MESSAGE_BODY_LIMIT:
            return twilio_error(400, 21617, "The concatenated message body exceeds the 1600 character limit.")
        if not E164.match(CHANNEL_PREFIX.sub("", to)):
            return twilio_error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        for table, number in ((MAGIC_FROM, sender), (MAGIC_TO, to)):
            if number in table:
                code, template = table[number]
                return twilio_error(400, code, template.format(to=to, from_=sender))
        return None

    def fetch_message(self, account_sid: str, message_sid: str) -> Response:
        denied = self.authenticate(account_sid)
        if denied:
            return denied
        resource = self.messages.resource(message_sid)
        forced, _ = self.injected_fault("fetch", resource["to"] if resource else None)
        if forced:
            return forced
        if resource is None:
            return twilio_error(404, 20404, f"The requested resource {request.path} was not found")
        g.message_sid = message_sid
        return jsonify(resource)

    def list_messages(self, account_sid: str) -> Response:
        denied = self.authenticate(account_sid)
        if denied:
            return denied
        args = request.args
        forced, _ = self.injected_fault("list", args.get("To"))
        if forced:
            return forced
        try:
            page_size = min(max(int(args.get("PageSize", DEFAULT_PAGE_SIZE)), 1), 1000)
            page = max(int(args.get("Page", 0)), 0)
            date_bounds = [(op, parse_date_filter(args[f"DateSent{op}"])) for op in ("", "<", ">") if args.get(f"DateSent{op}")]
        except ValueError as exc:
            return twilio_error(400, 20001, f"Invalid paging or DateSent parameter: {exc}")

        matching = [m.resource for m in self.messages.newest_first()
                    if (not args.get("To") or m.resource["to"] == args["To"])
                    and (not args.get("From") or m.resource["from"] == args["From"])
                    and all(date_sent_matches(m.sent_at, op, bound) for op, bound in date_bounds)]
        start = page * page_size
        token = args.get("PageToken", "")
        if token.startswith("PA"):  # the token names the last message of the previous page: stable under inserts
            sids = [m["sid"] for m in matching]
            if token[2:] in sids:
                start = sids.index(token[2:]) + 1
        items = [dict(m) for m in matching[start:start + page_size]]
        has_more = start + page_size < len(matching)

        filters = [(key, args[key]) for key in ("To", "From", "DateSent", "DateSent<", "DateSent>") if args.get(key)]
        def page_uri(number: int, last_sid: str | None = None) -> str:
            query = filters + [("PageSize", page_size), ("Page", number)] + ([("PageToken", "PA" + last_sid)] if last_sid else [])
            return self.account_uri("Messages.json") + "?" + urlencode(query)

        return jsonify({
            "messages": items,
            "uri": request.full_path.rstrip("?"),
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1, items[-1]["sid"]) if has_more and items else None,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "page": page,
            "page_size": page_size,
            "start": start,
            "end": start + max(len(items) - 1, 0),
        })

    # ---- status callbacks and inbound webhooks -----------------------------------------------

    def run_lifecycle(self, sid: str, generation: int) -> None:
        stored = self.messages.stored(sid)
        for status, error_code in stored.lifecycle:
            time.sleep(self.callback_delay)
            if not self.state.is_current(generation):
                return
            fields: dict[str, Any] = {"status": status, "error_code": error_code,
                                      "error_message": DELIVERY_ERROR_MESSAGES.get(error_code) if error_code else None}
            if stored.resource["from"] is None and status != "failed":
                fields["from"] = POOL_SENDER
            resource = self.messages.update(sid, **fields)
            if stored.status_callback and resource:
                self.send_status_callback(stored.status_callback, resource, CALLBACK_ATTEMPTS)

    def send_status_callback(self, url: str, resource: dict[str, Any], attempts: int, forge: bool = False) -> dict[str, Any]:
        params = {
            "MessageSid": resource["sid"], "SmsSid": resource["sid"], "AccountSid": resource["account_sid"],
            "From": resource["from"] or "", "To": resource["to"], "MessageStatus": resource["status"],
            "SmsStatus": resource["status"], "ApiVersion": API_VERSION,
        }
        if resource.get("messaging_service_sid"):
            params["MessagingServiceSid"] = resource["messaging_service_sid"]
        if resource.get("error_code"):
            params["ErrorCode"] = str(resource["error_code"])
        return self.send_signed_form("status_callback", url, params, attempts, forge)

    def send_signed_form(self, kind: str, url: str, params: dict[str, str], attempts: int, forge: bool) -> dict[str, Any]:
        signature = twilio_signature("forged" + self.auth_token if forge else self.auth_token, url, params)
        headers = {"Content-Type": "application/x-www-form-urlencoded", "User-Agent": "TwilioProxy/1.1",
                   "X-Twilio-Signature": signature,
                   # Same token on every retry, so receivers can recognise a redelivery.
                   "I-Twilio-Idempotency-Token": secrets.token_hex(16)}
        return self.state.send_webhook(kind, url, urlencode(params).encode("ascii"), headers, attempts=attempts)

    def simulate_inbound(self) -> Response:
        spec = request.get_json(force=True, silent=True) or {}
        missing = [key for key in ("from", "to", "body", "url") if key not in spec]
        if missing:
            return jsonify({"error": f"missing {missing}"}), 400
        now = datetime.now(timezone.utc)
        resource = self.new_resource(now, "inbound", "received", spec["to"], spec["from"], spec["body"])
        self.messages.add(StoredMessage(resource=resource, seq=0, sent_at=now))
        sid = resource["sid"]
        params = {
            "MessageSid": sid, "SmsSid": sid, "SmsMessageSid": sid, "AccountSid": self.account_sid,
            "From": spec["from"], "To": spec["to"], "Body": spec["body"], "NumMedia": "0",
            "NumSegments": resource["num_segments"], "SmsStatus": "received", "ApiVersion": API_VERSION,
            **{k: str(v) for k, v in (spec.get("params") or {}).items()},
        }
        # Twilio does not retry inbound webhooks, so neither do we.
        sent = self.send_signed_form("inbound", spec["url"], params, attempts=1, forge=bool(spec.get("forge")))
        return jsonify({"status": sent["status"], "body": sent["responseBody"], "error": sent["error"], "messageSid": sid})

    def replay_status_callback(self) -> Response:
        """Sends one more status callback for a message: late, duplicate or forged ones on demand."""
        spec = request.get_json(force=True, silent=True) or {}
        stored = self.messages.stored(spec.get("messageSid", ""))
        if stored is None:
            return jsonify({"error": "unknown messageSid"}), 404
        url = spec.get("url") or stored.status_callback
        if not url:
            return jsonify({"error": "message has no StatusCallback; give url"}), 400
        resource = {**stored.resource, "status": spec.get("status", stored.resource["status"]),
                    "error_code": spec.get("errorCode", stored.resource["error_code"])}
        sent = self.send_status_callback(url, resource, attempts=1, forge=bool(spec.get("forge")))
        return jsonify({"status": sent["status"], "body": sent["responseBody"], "error": sent["error"]})


def create_app(account_sid: str, auth_token: str, routes=(), callback_delay: float = 0.05) -> Flask:
    fake = TwilioFake(account_sid, auth_token, routes, callback_delay)
    app = Flask(__name__)
    app.extensions["twilio_fake"] = fake
    install_request_log(app, fake.state)

    base = f"/{API_VERSION}/Accounts/<account_sid>"
    app.add_url_rule(f"{base}/Messages.json", "create_message", fake.create_message, methods=["POST"])
    app.add_url_rule(f"{base}/Messages.json", "list_messages", fake.list_messages, methods=["GET"])
    app.add_url_rule(f"{base}/Messages/<message_sid>.json", "fetch_message", fake.fetch_message, methods=["GET"])

    admin = admin_blueprint(fake.state)
    admin.add_url_rule("/messages", "messages", lambda: jsonify([m.resource for m in fake.messages.newest_first()]))
    admin.add_url_rule("/inbound", "inbound", fake.simulate_inbound, methods=["POST"])
    admin.add_url_rule("/status-callback", "status_callback", fake.replay_status_callback, methods=["POST"])
    app.register_blueprint(admin)

    @app.errorhandler(404)
    def not_found(_error):
        return twilio_error(404, 20404, f"The requested resource {request.path} was not found")

    @app.errorhandler(405)
    def not_allowed(_error):
        return twilio_error(405, 20004, "Method not allowed")

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--account-sid", required=True)
    parser.add_argument("--auth-token", required=True)
    parser.add_argument("--callback-delay", type=float, default=0.05, help="seconds before each status callback")
    args = parser.parse_args(argv)
    app = create_app(args.account_sid, args.auth_token, args.route, args.callback_delay)
    serve_until_terminated(app, args.host, args.port)


if __name__ == "__main__":
    main()
