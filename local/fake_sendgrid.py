"""A local SendGrid v3 Mail Send API that the official `sendgrid` SDK can be pointed at.

    python -m local.fake_sendgrid --host 127.0.0.1 --port P --api-key KEY --event-webhook-url URL \
        --signing-key-pem FILE [--route PUBLIC=INTERNAL ...] [--event-delay 0.05]

Checks the bearer key and the request body like SendGrid does, answers 202 with an
X-Message-Id, then posts `processed` and `delivered` events to the event webhook,
signed like SendGrid's Signed Event Webhook (ECDSA P-256 over timestamp + body).
The admin API under /__admin (see local/fake_common.py, plus /messages and
/events here) lets tests inject faults and hand-crafted events.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import threading
import time
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
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

SIGNATURE_HEADER = "X-Twilio-Email-Event-Webhook-Signature"
TIMESTAMP_HEADER = "X-Twilio-Email-Event-Webhook-Timestamp"
# SendGrid's documented limit: the whole message, attachments included, under 30 MB.
MAX_BODY_BYTES = 30 * 1024 * 1024
MAX_PERSONALIZATIONS = 1000
MAX_CUSTOM_ARGS_BYTES = 10_000
EVENT_ATTEMPTS = 3
EMAIL = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
HELP = "http://sendgrid.com/docs/API_Reference/Web_API_v3/Mail/errors.html"

DEFAULT_ERROR_MESSAGES = {
    400: "invalid request", 401: "authorization required", 403: "access forbidden", 404: "not found",
    413: "content too large", 429: "too many requests", 500: "internal server error", 503: "service unavailable",
}
# Fields SendGrid adds to each kind of final event.
EVENT_DETAILS: dict[str, dict[str, Any]] = {
    "delivered": {"response": "250 2.0.0 OK", "ip": "149.72.0.1", "tls": 1},
    "bounce": {"reason": "550 5.1.1 The email account that you tried to reach does not exist.", "status": "5.1.1",
               "type": "bounce", "bounce_classification": "Invalid Address"},
    "dropped": {"reason": "Bounced Address"},
    "deferred": {"response": "421 4.7.0 Try again later", "attempt": "1"},
}


# ---- keys and signatures ----------------------------------------------------------------------

def generate_signing_keypair(pem_path: str) -> str:
    """Writes a new P-256 private key to pem_path and returns the public key as SendGrid shows it."""
    private_key = ec.generate_private_key(ec.SECP256R1())
    pem = private_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                    serialization.NoEncryption())
    descriptor = os.open(pem_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(pem)
    return public_key_b64(private_key)


def load_signing_key(pem_path: str) -> ec.EllipticCurvePrivateKey:
    with open(pem_path, "rb") as handle:
        return serialization.load_pem_private_key(handle.read(), password=None)


def public_key_b64(private_key: ec.EllipticCurvePrivateKey) -> str:
    """Base64 of the DER SubjectPublicKeyInfo: the 'verification key' of SendGrid's Mail Settings page."""
    der = private_key.public_key().public_bytes(serialization.Encoding.DER,
                                                serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(der).decode("ascii")


def read_public_key_b64(pem_path: str) -> str:
    return public_key_b64(load_signing_key(pem_path))


def sign_event_payload(private_key: ec.EllipticCurvePrivateKey, timestamp: str, body: bytes) -> str:
    signature = private_key.sign(timestamp.encode("ascii") + body, ec.ECDSA(hashes.SHA256()))
    return base64.b64encode(signature).decode("ascii")


# ---- request validation -------------------------------------------------------------------------

def sendgrid_errors(status: int, errors: list[dict[str, Any]]) -> Response:
    response = jsonify({"errors": [{"message": e["message"], "field": e.get("field"), "help": e.get("help")}
                                   for e in errors]})
    response.status_code = status
    return response


def mail_errors(mail: Any) -> list[dict[str, Any]]:
    """The essentials of SendGrid's Mail Send validation, in its messages; all errors at once, as SendGrid does."""
    if not isinstance(mail, dict):
        return [{"message": "Bad Request", "field": None}]
    errors: list[dict[str, Any]] = []

    def error(message: str, field_name: str | None, anchor: str = "") -> None:
        errors.append({"message": message, "field": field_name, "help": f"{HELP}#{anchor}" if anchor else None})

    def check_address(obj: Any, field_name: str) -> None:
        if not isinstance(obj, dict) or not EMAIL.match(str(obj.get("email", ""))):
            error("Does not contain a valid address.", f"{field_name}.email", "message.personalizations")

    personalizations = mail.get("personalizations")
    if not isinstance(personalizations, list) or not personalizations:
        error("The personalizations field is required and must have at least one personalization.",
              "personalizations", "-Personalizations-Errors")
        personalizations = []
    elif len(personalizations) > MAX_PERSONALIZATIONS:
        error(f"The personalizations field may not have more than {MAX_PERSONALIZATIONS} items.",
              "personalizations", "-Personalizations-Errors")
    for index, personalization in enumerate(personalizations):
        to = personalization.get("to") if isinstance(personalization, dict) else None
        if not isinstance(to, list) or not to:
            error("The to array is required for all personalization objects, and must have at least one email "
                  "object with a valid email address.", f"personalizations.{index}.to", "message.personalizations.to")
            continue
        for kind in ("to", "cc", "bcc"):
            for position, address in enumerate(personalization.get(kind) or []):
                check_address(address, f"personalizations.{index}.{kind}.{position}")

    sender = mail.get("from")
    if not isinstance(sender, dict) or not sender.get("email"):
        error("The from object must be provided for every email send. It is an object that requires the email "
              "parameter, but may also contain a name parameter.", "from.email", "message.from")
    elif not EMAIL.match(str(sender["email"])):
        error("The from email does not contain a valid address.", "from.email", "message.from")

    uses_template = bool(mail.get("template_id"))
    every_personalization_has_subject = bool(personalizations) and all(
        isinstance(p, dict) and p.get("subject") for p in personalizations)
    if not uses_template and not mail.get("subject") and not every_personalization_has_subject:
        error("The subject is required. You can get around this requirement if you use a template with a subject "
              "defined or if every personalization has a subject defined.", "subject", "message.subject")

    content = mail.get("content")
    if not uses_template and (not isinstance(content, list) or not content):
        error("Unless a valid template_id is provided, the content parameter is required. There must be at least "
              "one defined content block.", "content", "message.content")
    for index, block in enumerate(content if isinstance(content, list) else []):
        for key in ("type", "value"):
            if not isinstance(block, dict) or not isinstance(block.get(key), str) or not block[key]:
                error(f"The content {key} must be a string at least one character in length.",
                      f"content.{index}.{key}", "message.content")
    types = [b.get("type") for b in content if isinstance(b, dict)] if isinstance(content, list) else []
    if "text/plain" in types and types[0] != "text/plain":
        error("If present, text/plain must be first, followed by text/html, followed by any other content.",
              "content", "message.content")

    for label, args in [("custom_args", mail.get("custom_args"))] + [
            (f"personalizations.{i}.custom_args", p.get("custom_args"))
            for i, p in enumerate(personalizations) if isinstance(p, dict)]:
        if args is None:
            continue
        if not isinstance(args, dict) or not all(isinstance(v, str) for v in args.values()):
            error("custom_args must be an object whose values are strings.", label, "message.custom_args")
        elif len(json.dumps(args).encode("utf-8")) > MAX_CUSTOM_ARGS_BYTES:
            error(f"custom_args may not exceed {MAX_CUSTOM_ARGS_BYTES} bytes.", label, "message.custom_args")
    return errors


def recipients(mail: Any) -> list[str]:
    if not isinstance(mail, dict) or not isinstance(mail.get("personalizations"), list):
        return []
    return [address.get("email", "") for p in mail["personalizations"] if isinstance(p, dict)
            for kind in ("to", "cc", "bcc") for address in (p.get(kind) or []) if isinstance(address, dict)]


# ---- events -------------------------------------------------------------------------------------

def event_plan(accept_then: Any) -> list[dict[str, Any]]:
    """The events after `processed`: a name, an object with extra fields, or a list of those."""
    if accept_then is None:
        return [{"event": "delivered"}]
    steps = accept_then if isinstance(accept_then, list) else [accept_then]
    return [{"event": step} if isinstance(step, str) else dict(step) for step in steps]


def new_event(step: dict[str, Any], email: str, message_id: str, recipient_index: int,
              custom_args: dict[str, str], categories: list[str]) -> dict[str, Any]:
    name = step["event"]
    # Custom args come first so SendGrid's own fields win on a name clash.
    event: dict[str, Any] = {**custom_args, **EVENT_DETAILS.get(name, {}), **step}
    event.update({
        "email": email,
        "timestamp": int(time.time()),
        "smtp-id": f"<{message_id}@geopod-ismtpd-1>",
        "sg_event_id": base64.urlsafe_b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("="),
        # SendGrid's per-recipient id: the X-Message-Id, then the filter that handled it, then the recipient.
        "sg_message_id": f"{message_id}.filterdrecv-5bd4d8b4d5-{secrets.token_hex(3)}-1-{secrets.token_hex(4).upper()}-1.{recipient_index}",
    })
    if categories:
        event["category"] = categories
    return event


class SendGridFake:
    def __init__(self, api_key: str, event_webhook_url: str | None, signing_key: ec.EllipticCurvePrivateKey,
                 routes=(), event_delay: float = 0.05, max_body_bytes: int = MAX_BODY_BYTES) -> None:
        self.api_key = api_key
        self.event_webhook_url = event_webhook_url
        self.signing_key = signing_key
        self.event_delay = event_delay
        self.max_body_bytes = max_body_bytes
        self.state = FakeState(routes, COMMON_MATCH_KEYS, COMMON_RESPOND_KEYS | {"acceptThenEvent"})
        self._sent_lock = threading.Lock()
        self.sent: list[dict[str, Any]] = []
        self.state.on_reset(self.clear_sent)

    def clear_sent(self) -> None:
        with self._sent_lock:
            self.sent.clear()

    @staticmethod
    def rule_error(respond: dict[str, Any]) -> Response:
        status = int(respond["status"])
        return sendgrid_errors(status, [{"message": respond.get("message", DEFAULT_ERROR_MESSAGES.get(status, "error"))}])

    @staticmethod
    def rate_limit_headers(respond: dict[str, Any]) -> dict[str, str]:
        # SendGrid tells when to come back with an absolute reset time, not Retry-After.
        if respond.get("retryAfter") is None:
            return {}
        return {"X-RateLimit-Limit": "600", "X-RateLimit-Remaining": "0",
                "X-RateLimit-Reset": str(int(time.time() + float(respond["retryAfter"])))}

    def mail_send(self) -> Response:
        auth = request.headers.get("Authorization", "")
        if not auth:
            return sendgrid_errors(401, [{"message": "authorization required"}])
        if auth != f"Bearer {self.api_key}":
            return sendgrid_errors(401, [{"message": "The provided authorization grant is invalid, expired, or revoked"}])
        if (request.content_length or len(request.get_data(cache=True))) > self.max_body_bytes:
            return sendgrid_errors(413, [{"message": "content too large"}])
        mail = request.get_json(force=True, silent=True)
        generation = self.state.generation
        respond = self.state.rules.take({"method": request.method, "path": request.path, "to": recipients(mail)}) or {}
        if respond:
            forced = apply_fault(respond, self.rule_error, self.rate_limit_headers)
            if forced:
                return forced
        if not self.state.is_current(generation):  # reset during a hang: don't leak a mail into the next test
            return sendgrid_errors(503, [{"message": "The fake was reset while this request hung."}])
        if mail is None:
            return sendgrid_errors(400, [{"message": "Bad Request"}])
        errors = mail_errors(mail)
        if errors:
            return sendgrid_errors(400, errors)
        if ((mail.get("mail_settings") or {}).get("sandbox_mode") or {}).get("enable"):
            return Response(status=200)  # validated, not sent: no message id, no events

        message_id = base64.urlsafe_b64encode(secrets.token_bytes(16)).decode("ascii").rstrip("=")
        g.message_sid = message_id
        record = {"messageId": message_id, "receivedAt": time.time(), "recipients": recipients(mail),
                  "subject": mail.get("subject"), "events": []}
        with self._sent_lock:
            self.sent.append(record)
        if self.event_webhook_url:
            threading.Thread(target=self.deliver_events,
                             args=(mail, message_id, event_plan(respond.get("acceptThenEvent")), record,
                                   self.state.generation), daemon=True).start()
        return Response(status=202, headers={"X-Message-Id": message_id})

    def deliver_events(self, mail: dict[str, Any], message_id: str, plan: list[dict[str, Any]],
                       record: dict[str, Any], generation: int) -> None:
        """Posts one batch per stage (all `processed`, then each following step), like SendGrid batches events."""
        message_args = mail.get("custom_args") or {}
        categories = mail.get("categories") or []
        addressed = [(address["email"], {**message_args, **(p.get("custom_args") or {})})
                     for p in mail["personalizations"] for kind in ("to", "cc", "bcc") for address in p.get(kind) or []]
        for step in [{"event": "processed"}] + plan:
            time.sleep(self.event_delay)
            if not self.state.is_current(generation):
                return
            events = [new_event(step, email, message_id, index, args, categories)
                      for index, (email, args) in enumerate(addressed)]
            with self._sent_lock:
                record["events"].append(step["event"])
            self.post_events(events, attempts=EVENT_ATTEMPTS)

    def post_events(self, events: list[dict[str, Any]], attempts: int, timestamp_offset: float = 0,
                    forge: bool = False, url: str | None = None) -> dict[str, Any]:
        body = json.dumps(events).encode("ascii")  # ASCII-only JSON: the bytes signed are the text a receiver decodes
        timestamp = str(int(time.time() + timestamp_offset))
        signature = (base64.b64encode(secrets.token_bytes(71)).decode("ascii") if forge
                     else sign_event_payload(self.signing_key, timestamp, body))
        headers = {"Content-Type": "application/json", "User-Agent": "SendGrid Event API",
                   SIGNATURE_HEADER: signature, TIMESTAMP_HEADER: timestamp}
        return self.state.send_webhook("event", url or self.event_webhook_url, body, headers, attempts=attempts)

    def send_custom_events(self) -> Response:
        spec = request.get_json(force=True, silent=True) or {}
        if not isinstance(spec.get("events"), list):
            return jsonify({"error": "events must be a list"}), 400
        url = spec.get("url") or self.event_webhook_url
        if not url:
            return jsonify({"error": "no event webhook URL configured; give url"}), 400
        sent = self.post_events(spec["events"], attempts=1, timestamp_offset=float(spec.get("timestampOffset") or 0),
                                forge=bool(spec.get("forge")), url=url)
        return jsonify({"status": sent["status"], "body": sent["responseBody"], "error": sent["error"]})

    def sent_messages(self) -> Response:
        with self._sent_lock:
            return jsonify([dict(record, events=list(record["events"])) for record in self.sent])


def create_app(api_key: str, event_webhook_url: str | None, signing_key: ec.EllipticCurvePrivateKey, routes=(),
               event_delay: float = 0.05, max_body_bytes: int = MAX_BODY_BYTES) -> Flask:
    fake = SendGridFake(api_key, event_webhook_url, signing_key, routes, event_delay, max_body_bytes)
    app = Flask(__name__)
    app.extensions["sendgrid_fake"] = fake
    install_request_log(app, fake.state)
    app.add_url_rule("/v3/mail/send", "mail_send", fake.mail_send, methods=["POST"])

    admin = admin_blueprint(fake.state)
    admin.add_url_rule("/messages", "messages", fake.sent_messages)
    admin.add_url_rule("/events", "events", fake.send_custom_events, methods=["POST"])
    app.register_blueprint(admin)

    @app.errorhandler(404)
    def not_found(_error):
        return sendgrid_errors(404, [{"message": "not found"}])

    @app.errorhandler(405)
    def not_allowed(_error):
        return sendgrid_errors(405, [{"message": "method not allowed"}])

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_common_arguments(parser)
    parser.add_argument("--api-key", required=True)
    parser.add_argument("--event-webhook-url", default=None, help="where events go; none: no events are sent")
    parser.add_argument("--signing-key-pem", required=True, help="P-256 private key; see generate_signing_keypair()")
    parser.add_argument("--event-delay", type=float, default=0.05, help="seconds before each batch of events")
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
    args = parser.parse_args(argv)
    app = create_app(args.api_key, args.event_webhook_url, load_signing_key(args.signing_key_pem), args.route,
                     args.event_delay, args.max_body_bytes)
    serve_until_terminated(app, args.host, args.port)


if __name__ == "__main__":
    main()
