"""The numbers `make demo` prints, computed from plain data (no I/O, no clock).

`local.demo` gathers what the run left behind (alert and delivery documents read
back from Firestore, the provider fakes' request logs, when each alert document
was written) into a `DemoRun`; `summarize()` turns that into a `Summary`, and
`render()` into aligned plain-text tables for a terminal.

Correlating a provider request with its alert, in order of preference:
- Twilio: the StatusCallback URL carries the alert id as its `a` query parameter;
- SendGrid: `custom_args.alertId`, on the message or on a personalization;
- either: the request's messageSid equals a delivery document's providerMessageId
  (only for accepted requests: a refused one has no message id).
"""

from __future__ import annotations

import math
import textwrap
from collections import Counter, defaultdict
from collections.abc import Callable, Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

FINAL_ALERT_STATUSES = frozenset({"invalid", "suppressed", "notified", "failed", "acknowledged"})
OPEN_DELIVERY_STATUSES = frozenset({"pending", "sending", "retrying"})
SENDGRID_SEND_PATH = "/v3/mail/send"


# --------------------------------------------------------------------------- small pure helpers


def percentile(values: Iterable[float], p: float) -> float | None:
    """The p-th percentile (0..100) with linear interpolation between closest ranks; None when empty.

    The same definition as numpy's default ("linear"): p50 of [1, 2, 3, 4] is 2.5.
    """
    ordered = sorted(values)
    if not ordered:
        return None
    if not 0 <= p <= 100:
        raise ValueError("p must be within 0..100")
    rank = (len(ordered) - 1) * p / 100
    low, high = math.floor(rank), math.ceil(rank)
    if low == high:
        return float(ordered[low])
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def count_by(items: Iterable[Any], key: Callable[[Any], Hashable]) -> list[tuple[Any, int]]:
    """(key, count) pairs, most frequent first, ties in key order (None sorts first)."""
    counts = Counter(key(item) for item in items)
    return sorted(counts.items(), key=lambda kv: (-kv[1], _sortable(kv[0])))


def _sortable(value: Any) -> tuple:
    if isinstance(value, tuple):
        return tuple(_sortable(v) for v in value)
    return (value is not None, str(value) if value is not None else "")


def is_accepted(request: Mapping[str, Any]) -> bool:
    status = request.get("status")
    return isinstance(status, int) and 200 <= status < 300


def twilio_creates(requests: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Message-create requests (POST .../Messages.json), in arrival order, whatever their answer."""
    return [r for r in requests if r.get("method") == "POST" and str(r.get("path", "")).endswith("/Messages.json")]


def sendgrid_sends(requests: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Mail-send requests (POST /v3/mail/send), in arrival order, whatever their answer."""
    return [r for r in requests if r.get("method") == "POST" and r.get("path") == SENDGRID_SEND_PATH]


def twilio_alert_id(request: Mapping[str, Any]) -> str | None:
    """The alert id in a create request's StatusCallback URL (`?t=..&a=<alertId>&d=..`)."""
    callback = (request.get("form") or {}).get("StatusCallback")
    if not isinstance(callback, str) or not callback:
        return None
    values = parse_qs(urlsplit(callback).query).get("a")
    return values[0] if values else None


def sendgrid_alert_id(request: Mapping[str, Any]) -> str | None:
    """`custom_args.alertId` of a mail-send body, on the message or on any personalization."""
    body = request.get("json") or {}
    if not isinstance(body, Mapping):
        return None
    candidates = [body.get("custom_args")] + [p.get("custom_args") for p in body.get("personalizations") or [] if isinstance(p, Mapping)]
    for args in candidates:
        if isinstance(args, Mapping) and args.get("alertId"):
            return str(args["alertId"])
    return None


def sendgrid_recipients(request: Mapping[str, Any]) -> list[str]:
    body = request.get("json") or {}
    if not isinstance(body, Mapping):
        return []
    return [
        to["email"]
        for p in body.get("personalizations") or []
        for to in (p.get("to") or [])
        if isinstance(to, Mapping) and "email" in to
    ]


def alert_id_by_message_id(deliveries: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """providerMessageId -> alertId, from the delivery documents."""
    return {d["providerMessageId"]: d["alertId"] for d in deliveries if d.get("providerMessageId") and d.get("alertId")}


def request_alert_id(request: Mapping[str, Any], channel: str, by_message_id: Mapping[str, str]) -> str | None:
    found = twilio_alert_id(request) if channel == "sms" else sendgrid_alert_id(request)
    if found:
        return found
    sid = request.get("messageSid")
    return by_message_id.get(sid) if sid else None


@dataclass(frozen=True)
class FirstSend:
    received_at: float  # epoch seconds, the provider's clock (same machine)
    channel: str  # "sms" or "email"


def first_sends(
    twilio_requests: Iterable[Mapping[str, Any]],
    sendgrid_requests: Iterable[Mapping[str, Any]],
    deliveries: Iterable[Mapping[str, Any]],
) -> dict[str, FirstSend]:
    """alertId -> the earliest provider send request made for it, accepted or not (a 429 counts: it was an attempt)."""
    by_message_id = alert_id_by_message_id(deliveries)
    first: dict[str, FirstSend] = {}
    for channel, requests in (("sms", twilio_creates(twilio_requests)), ("email", sendgrid_sends(sendgrid_requests))):
        for request in requests:
            alert_id = request_alert_id(request, channel, by_message_id)
            received = request.get("receivedAt")
            if alert_id is None or received is None:
                continue
            if alert_id not in first or received < first[alert_id].received_at:
                first[alert_id] = FirstSend(float(received), channel)
    return first


def latencies_ms(written_at: Mapping[str, float], firsts: Mapping[str, FirstSend], channel: str | None = None) -> list[float]:
    """Write-to-first-provider-request latency of every alert that reached a provider, in ms."""
    return [
        (firsts[alert_id].received_at - written) * 1000.0
        for alert_id, written in written_at.items()
        if alert_id in firsts and (channel is None or firsts[alert_id].channel == channel)
    ]


def sms_privacy_leaks(twilio_requests: Iterable[Mapping[str, Any]], messages: Mapping[str, str], by_message_id: Mapping[str, str] | None = None) -> list[str]:
    """Alert ids whose alert `message` text appears in an SMS body sent (or attempted) for them.

    Checks the SMS against its own alert's message when it can be correlated, and
    against every message otherwise, so an uncorrelated SMS is not waved through.
    """
    by_message_id = by_message_id or {}
    leaks: list[str] = []
    for request in twilio_creates(twilio_requests):
        body = str((request.get("form") or {}).get("Body") or "")
        alert_id = request_alert_id(request, "sms", by_message_id)
        candidates = {alert_id: messages[alert_id]} if alert_id in messages else dict(messages)
        for candidate_id, message in candidates.items():
            if _contains_message(body, message) and candidate_id not in leaks:
                leaks.append(candidate_id)
    return leaks


def _contains_message(body: str, message: str) -> bool:
    message = message.strip()
    if not message:
        return False
    # The whole text, or a telling piece of it (a template that truncates would still leak).
    return message in body or (len(message) > 60 and message[:60] in body)


# --------------------------------------------------------------------------- the run and its summary


@dataclass
class DemoRun:
    """Everything the summary needs, as plain data."""

    source: str  # "open-fdd" or "synthetic"
    source_detail: str  # e.g. the dataset path, or why the synthetic scenario stands in
    transitions: int
    alerts: Mapping[str, Mapping[str, Any]]  # alertId -> alert document
    deliveries: Sequence[Mapping[str, Any]]  # delivery documents (each carries alertId)
    written_at: Mapping[str, float]  # alertId -> epoch seconds when create() returned
    messages: Mapping[str, str]  # alertId -> the alert's `message` text
    twilio_requests: Sequence[Mapping[str, Any]]
    sendgrid_requests: Sequence[Mapping[str, Any]]
    replay_started: float  # epoch seconds
    replay_finished: float
    drained_at: float  # epoch seconds when everything was final (or the wait gave up)
    already_existed: int = 0  # replayed alerts whose document was already there
    contact_of_address: Mapping[str, str] = field(default_factory=dict)  # phone/email -> contact id
    open_items: Sequence[str] = ()  # what was still moving when the wait gave up
    notes: Sequence[str] = ()  # explanations printed under the summary


@dataclass
class Summary:
    source: str
    source_detail: str
    transitions: int
    alerts: int
    already_existed: int
    alerts_by_status: list[tuple[tuple[str, str], int]]
    deliveries: int
    deliveries_by_channel_status: list[tuple[tuple[str, str, str], int]]  # (channel, status, errorCode)
    contacts_by_channel_status: dict[tuple[str, str, str], list[tuple[str, int]]]  # (channel, status, errorCode) -> contacts
    sms_sent: int
    sms_attempts: int
    sms_refused: list[tuple[str, int]]  # ("429/20429", n)
    emails_sent: int
    email_attempts: int
    emails_refused: list[tuple[str, int]]
    retried_deliveries: int
    extra_attempts: int
    twilio_429s: int
    sendgrid_429s: int
    retried_detail: list[tuple[str, str, int, str]]  # (contact, channel, attempts, status)
    fallbacks: list[tuple[tuple[str, str], int]]  # ((contact, status), n)
    failed_deliveries: list[tuple[tuple[str, str, str], int]]  # ((contact, channel, errorCode), n)
    failed_alerts: int
    replay_seconds: float
    window_seconds: float
    throughput: float
    latency: dict[str, tuple[int, float | None, float | None, float | None]]  # label -> (n, p50, p95, max)
    uncorrelated_requests: int
    sms_checked: int
    privacy_leaks: list[str]
    open_items: list[str]
    by_contact: list[tuple[str, int, int, int, int, int]]  # (contact, sms ok, sms refused, email ok, email refused, suppressed)
    notes: list[str]

    @property
    def ok(self) -> bool:
        return not self.open_items and not self.privacy_leaks


def _provider_refusals(requests: Iterable[Mapping[str, Any]], code_of: Callable[[Mapping[str, Any]], str | None]) -> list[tuple[str, int]]:
    refused = [r for r in requests if not is_accepted(r)]
    return count_by(refused, lambda r: f"{r.get('status')}" + (f"/{code_of(r)}" if code_of(r) else ""))


def _twilio_error_code(request: Mapping[str, Any]) -> str | None:
    response = request.get("response")
    if isinstance(response, Mapping) and response.get("code") is not None:
        return str(response["code"])
    return None


def per_contact(
    twilio_requests: Iterable[Mapping[str, Any]],
    sendgrid_requests: Iterable[Mapping[str, Any]],
    deliveries: Iterable[Mapping[str, Any]],
    contact_of_address: Mapping[str, str],
) -> list[tuple[str, int, int, int, int, int]]:
    """(contact, SMS accepted, SMS refused, emails accepted, emails refused, deliveries suppressed) per contact.

    Provider requests are attributed by recipient address; one not in the
    configuration counts under "(unknown)".
    """
    rows: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0, 0])
    lowered = {address.lower(): contact for address, contact in contact_of_address.items()}
    for request in twilio_creates(twilio_requests):
        contact = lowered.get(str((request.get("form") or {}).get("To") or "").lower(), "(unknown)")
        rows[contact][0 if is_accepted(request) else 1] += 1
    for request in sendgrid_sends(sendgrid_requests):
        for address in sendgrid_recipients(request) or [""]:
            contact = lowered.get(address.lower(), "(unknown)")
            rows[contact][2 if is_accepted(request) else 3] += 1
    for d in deliveries:
        if d.get("status") == "suppressed":
            rows[d.get("contactId") or "(unknown)"][4] += 1
    return [(contact, *counts) for contact, counts in sorted(rows.items())]


def _channel_status_code(delivery: Mapping[str, Any]) -> tuple[str, str, str]:
    return (delivery.get("channel") or "?", delivery.get("status") or "?", str(delivery.get("errorCode") or "-"))


def summarize(run: DemoRun) -> Summary:
    deliveries = list(run.deliveries)
    twilio = twilio_creates(run.twilio_requests)
    sendgrid = sendgrid_sends(run.sendgrid_requests)
    by_message_id = alert_id_by_message_id(deliveries)
    firsts = first_sends(run.twilio_requests, run.sendgrid_requests, deliveries)

    # Keyed exactly like deliveries_by_channel_status, so each table row names only its own contacts.
    contacts: dict[tuple[str, str, str], Counter] = defaultdict(Counter)
    for d in deliveries:
        contacts[_channel_status_code(d)][d.get("contactId") or "?"] += 1

    retried = [d for d in deliveries if int(d.get("attempts") or 0) > 1]
    fallbacks = [d for d in deliveries if d.get("fallbackOf")]
    failed = [d for d in deliveries if d.get("status") == "failed"]

    window = max(run.drained_at - run.replay_started, 1e-9)
    latency: dict[str, tuple[int, float | None, float | None, float | None]] = {}
    for label, channel in (("all alerts", None), ("first send by SMS", "sms"), ("first send by email", "email")):
        values = latencies_ms(run.written_at, firsts, channel)
        latency[label] = (len(values), percentile(values, 50), percentile(values, 95), max(values) if values else None)
    uncorrelated = sum(1 for r in twilio if request_alert_id(r, "sms", by_message_id) is None) + sum(
        1 for r in sendgrid if request_alert_id(r, "email", by_message_id) is None
    )

    return Summary(
        source=run.source,
        source_detail=run.source_detail,
        transitions=run.transitions,
        alerts=len(run.alerts),
        already_existed=run.already_existed,
        alerts_by_status=count_by(run.alerts.values(), lambda a: (a.get("status") or "(none)", a.get("statusReason") or "-")),
        deliveries=len(deliveries),
        deliveries_by_channel_status=count_by(deliveries, _channel_status_code),
        contacts_by_channel_status={key: sorted(counter.items()) for key, counter in contacts.items()},
        sms_sent=sum(1 for r in twilio if is_accepted(r)),
        sms_attempts=len(twilio),
        sms_refused=_provider_refusals(twilio, _twilio_error_code),
        emails_sent=sum(1 for r in sendgrid if is_accepted(r)),
        email_attempts=len(sendgrid),
        emails_refused=_provider_refusals(sendgrid, lambda r: None),
        retried_deliveries=len(retried),
        extra_attempts=sum(int(d.get("attempts") or 0) - 1 for d in retried),
        twilio_429s=sum(1 for r in twilio if r.get("status") == 429),
        sendgrid_429s=sum(1 for r in sendgrid if r.get("status") == 429),
        retried_detail=sorted(
            (d.get("contactId") or "?", d.get("channel") or "?", int(d.get("attempts") or 0), d.get("status") or "?") for d in retried
        ),
        fallbacks=count_by(fallbacks, lambda d: (d.get("contactId") or "?", d.get("status") or "?")),
        failed_deliveries=count_by(failed, lambda d: (d.get("contactId") or "?", d.get("channel") or "?", d.get("errorCode") or "-")),
        failed_alerts=sum(1 for a in run.alerts.values() if a.get("status") == "failed"),
        replay_seconds=run.replay_finished - run.replay_started,
        window_seconds=window,
        throughput=len(run.written_at) / window,
        latency=latency,
        uncorrelated_requests=uncorrelated,
        sms_checked=len(twilio),
        privacy_leaks=sms_privacy_leaks(twilio, run.messages, by_message_id),
        open_items=list(run.open_items),
        by_contact=per_contact(run.twilio_requests, run.sendgrid_requests, deliveries, run.contact_of_address),
        notes=list(run.notes),
    )


# --------------------------------------------------------------------------- rendering


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], indent: int = 2, right: Iterable[int] = ()) -> list[str]:
    """Plain-text table: numbers (and the columns in `right`) right-aligned, text left-aligned, a rule under the header."""
    cells = [[_cell(v) for v in row] for row in rows]
    forced = set(right)
    numeric = [i in forced or (all(isinstance(row[i], (int, float)) for row in rows) if rows else False) for i in range(len(headers))]
    widths = [max([len(h)] + [len(row[i]) for row in cells]) for i, h in enumerate(headers)]

    def line(values: Sequence[str]) -> str:
        parts = [v.rjust(w) if numeric[i] else v.ljust(w) for i, (v, w) in enumerate(zip(values, widths))]
        return (" " * indent + "  ".join(parts)).rstrip()

    return [line(list(headers)), " " * indent + "  ".join("-" * w for w in widths), *(line(row) for row in cells)]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.1f}"
    return "-" if value is None else str(value)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f} ms"


def _pairs(items: Sequence[tuple[str, int]]) -> str:
    return ", ".join(f"{count} x {what}" for what, count in items) or "none"


def render(s: Summary, width: int = 78) -> str:
    out: list[str] = []
    label_width = 15

    def heading(title: str) -> None:
        out.append("")
        out.append(f"-- {title} " + "-" * max(0, width - len(title) - 4))

    def para(label: str, text: str) -> None:
        """`label` in a column of its own, `text` wrapped beside it."""
        out.extend(textwrap.wrap(text, width, initial_indent=f"  {label}".ljust(label_width),
                                 subsequent_indent=" " * label_width, break_on_hyphens=False))

    out.append("=" * width)
    out.append("Demo summary".center(width).rstrip())
    out.append("=" * width)
    source = "open-fdd S-7 (real AHU trend data)" if s.source == "open-fdd" else "synthetic scenario"
    para("Data", f"{source}: {s.source_detail}")
    para("Transitions", f"{s.transitions} replayed as {s.alerts} alert documents"
         + (f" ({s.already_existed} of them already existed!)" if s.already_existed else ""))

    heading("Alerts by status")
    out.extend(table(["status", "statusReason", "alerts"], [(st, reason, n) for (st, reason), n in s.alerts_by_status]))

    heading(f"Deliveries by channel and status ({s.deliveries} documents)")
    rows = []
    for (channel, status, code), n in sorted(s.deliveries_by_channel_status, key=lambda kv: kv[0]):
        who = ", ".join(f"{c} {k}" for c, k in s.contacts_by_channel_status.get((channel, status, code), []))
        rows.append((channel, status, code, n, who))
    out.extend(table(["channel", "status", "errorCode", "count", "contacts"], rows))

    heading("Provider requests")
    out.extend(table(
        ["provider", "requests", "accepted", "refused (HTTP/code)"],
        [
            ("Twilio SMS", s.sms_attempts, s.sms_sent, _pairs(s.sms_refused)),
            ("SendGrid email", s.email_attempts, s.emails_sent, _pairs(s.emails_refused)),
        ],
    ))
    if s.by_contact:
        out.append("")
        out.extend(table(["contact", "SMS sent", "refused", "emails sent", "refused", "suppressed"], s.by_contact))
    out.append("")
    para("Sent", f"{s.sms_sent} SMS, {s.emails_sent} emails")

    heading("Retries, fallbacks, failures")
    para("Retries", f"{s.retried_deliveries} deliveries took more than one attempt ({s.extra_attempts} extra)")
    para("", f"429s seen: Twilio {s.twilio_429s}, SendGrid {s.sendgrid_429s}")
    for contact, channel, attempts, status in s.retried_detail:
        para("", f"- {contact} {channel}: {attempts} attempts, ended {status}")
    fallback_total = sum(n for _, n in s.fallbacks)
    para("Fallbacks", f"{fallback_total} emails in place of a failed SMS"
         + (": " + ", ".join(f"{c} {n} x {st}" for (c, st), n in s.fallbacks) if s.fallbacks else ""))
    failed_total = sum(n for _, n in s.failed_deliveries)
    para("Failures", f"{failed_total} deliveries failed"
         + (" (" + ", ".join(f"{c} {ch} {code} x {n}" for (c, ch, code), n in s.failed_deliveries) + ")" if s.failed_deliveries else ""))
    para("", f"{s.failed_alerts} alerts failed (a contact unreachable on every channel)")

    heading("Speed")
    para("Throughput", f"{s.throughput:.2f} alerts/s = {s.alerts} alerts / {s.window_seconds:.1f}s "
         f"(replay {s.replay_seconds:.1f}s + drain {s.window_seconds - s.replay_seconds:.1f}s)")
    para("", "paced by the replay's time compression: not a capacity figure")
    para("Latency", "alert document written -> first provider request for it")
    out.extend(table(
        ["", "alerts", "p50", "p95", "max"],
        [(label, n, _ms(p50), _ms(p95), _ms(mx)) for label, (n, p50, p95, mx) in s.latency.items()],
        indent=label_width,
        right=(2, 3, 4),
    ))
    if s.uncorrelated_requests:
        para("", f"({s.uncorrelated_requests} provider requests could not be tied to an alert)")

    heading("Privacy")
    if s.privacy_leaks:
        para("SMS bodies", f"FAIL: {len(s.privacy_leaks)} alerts had their message text in an SMS: {', '.join(s.privacy_leaks)}")
    else:
        para("SMS bodies", f"OK: none of {s.sms_checked} SMS requests carried its alert's message")

    if s.notes:
        heading("Notes")
        for note in s.notes:
            para("", note)
    if s.open_items:
        heading(f"NOT FINISHED ({len(s.open_items)})")
        for item in s.open_items[:20]:
            para("", item)
        if len(s.open_items) > 20:
            para("", f"... and {len(s.open_items) - 20} more")
    out.append("=" * width)
    return "\n".join(out)


def rate_limit_note(deliveries: Iterable[Mapping[str, Any]], per_contact: Mapping[str, Any] | None, data_days: float, replay_seconds: float) -> str | None:
    """Why deliveries were rate-limited, when they were: the limit counts wall time, the replay compresses it."""
    limited = Counter(d.get("contactId") or "?" for d in deliveries if d.get("errorCode") == "rate_limited")
    if not limited:
        return None
    who = ", ".join(f"{contact} {n}" for contact, n in sorted(limited.items()))
    text = f"{sum(limited.values())} deliveries were rate-limited ({who})."
    if per_contact and per_contact.get("limit") and per_contact.get("windowSeconds"):
        text += (
            f" The per-contact limit is {per_contact['limit']} sends per {per_contact['windowSeconds']}s of wall time;"
            f" the replay squeezes {data_days:.1f} days of alarms into {replay_seconds:.0f}s, so busy contacts hit it."
        )
    return text


# --------------------------------------------------------------------------- waiting for the end


def still_open(
    expected_alert_ids: Iterable[str],
    alerts: Mapping[str, Mapping[str, Any]],
    deliveries: Iterable[Mapping[str, Any]],
) -> list[str]:
    """What is not finished yet: alerts without a final status, deliveries still moving. Empty when all is done."""
    items: list[str] = []
    for alert_id in expected_alert_ids:
        alert = alerts.get(alert_id)
        if alert is None:
            items.append(f"alert {alert_id}: document missing")
        elif alert.get("status") not in FINAL_ALERT_STATUSES:
            items.append(f"alert {alert_id}: status {alert.get('status') or '(none yet)'}")
    for d in deliveries:
        if d.get("status") in OPEN_DELIVERY_STATUSES:
            items.append(
                f"delivery {d.get('alertId')}/{d.get('deliveryId') or d.get('contactId')}: {d.get('status')}"
                f" (attempts {d.get('attempts')}, errorCode {d.get('errorCode') or '-'})"
            )
    return items
