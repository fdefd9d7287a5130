"""The alerting configuration: loaded once per instance, validated twice.

First the JSON Schema (shape, with the JSON path of the first error), then semantic
checks the schema cannot express (routes naming unknown contacts, template
placeholders, valid phone numbers and time zones). An invalid file fails loudly at
cold start rather than mis-routing alerts at 3 a.m.
"""

from __future__ import annotations

import json
import logging
import string
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import jsonschema
import phonenumbers
from pydantic import BaseModel, ConfigDict, Field

from shared.models import Channel, EventType, Severity
from shared.render import SMS_MAX_SEPTETS, gsm7_septets

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "config" / "alert_config.schema.json"

SMS_PLACEHOLDERS = frozenset({"severity", "severityWord", "site", "title", "source", "eventType", "link", "ackCode"})
# The ACK code in the SMS body is how a send whose outcome is unknown is found again at Twilio (instead of
# sending a duplicate), and how a contact acknowledges; the link is the only way to the details.
SMS_REQUIRED_PLACEHOLDERS = ("link", "ackCode")
# The SMS template must leave the title this many septets of one GSM-7 segment, with the worst plausible
# other fields: a link of baseUrl + a signed token (at least 80 septets in all), a 6-character ACK code,
# the longest severity and event type, and a 16-character siteId and 32-character source.
SMS_MIN_TITLE_SEPTETS = 20
_PLAUSIBLE_TOKEN_CHARS = 48  # "lt1." + link id + expiry + signature is about 45
_PLAUSIBLE_LINK_SEPTETS = 80


# In CONTRACT §4's configuration, but not acted on yet.
NOT_YET_ENFORCED = frozenset({"quietHours", "escalation"})
logger = logging.getLogger(__name__)


class ConfigError(ValueError):
    """The configuration file is unusable; the message names where."""


class _Model(BaseModel):
    model_config = ConfigDict(populate_by_name=True, frozen=True, extra="ignore")


class Window(_Model):
    limit: int
    window_seconds: int = Field(alias="windowSeconds")
    shards: int = 1


class RateLimits(_Model):
    per_contact: Window = Field(alias="perContact")
    per_tenant: Window = Field(alias="perTenant")
    global_: Window = Field(alias="global")


class RetryPolicy(_Model):
    max_attempts: int = Field(alias="maxAttempts")
    initial_backoff_seconds: float = Field(alias="initialBackoffSeconds")
    max_backoff_seconds: float = Field(alias="maxBackoffSeconds")
    multiplier: float = 2.0
    jitter: float = 0.5
    inline_wait_max_seconds: float = Field(10.0, alias="inlineWaitMaxSeconds")
    # After a timeout the provider may still be working on our request: look it up only after this.
    unknown_outcome_settle_seconds: float = Field(30.0, alias="unknownOutcomeSettleSeconds")
    max_event_age_seconds: int = Field(3600, alias="maxEventAgeSeconds")


class Links(_Model):
    base_url: str = Field(alias="baseUrl")
    ttl_seconds: int = Field(alias="ttlSeconds")


class Templates(_Model):
    sms: str
    email_subject: str = Field(alias="emailSubject")
    email_body: str = Field(alias="emailBody")


class Defaults(_Model):
    channels: tuple[Channel, ...]
    fallback_channel: Channel | None = Field(Channel.EMAIL, alias="fallbackChannel")
    dedup_window_seconds: int = Field(900, alias="dedupWindowSeconds")
    sending_lease_seconds: int = Field(60, alias="sendingLeaseSeconds")
    rate_limits: RateLimits = Field(alias="rateLimits")
    retry: RetryPolicy
    links: Links
    templates: Templates


class Contact(_Model):
    id: str
    name: str | None = None
    phone: str | None = None
    email: str | None = None
    time_zone: str | None = Field(None, alias="timeZone")

    def address(self, channel: Channel) -> str | None:
        return self.phone if channel is Channel.SMS else self.email


class Route(_Model):
    name: str | None = None
    severities: frozenset[Severity] | None = None
    event_types: frozenset[EventType] | None = Field(None, alias="eventTypes")
    sites: tuple[str, ...] | None = None
    contacts: tuple[str, ...]
    channels: tuple[Channel, ...] | None = None


class Tenant(_Model):
    display_name: str | None = Field(None, alias="displayName")
    time_zone: str | None = Field(None, alias="timeZone")
    contacts: tuple[Contact, ...]
    routes: tuple[Route, ...]
    email_when_sms_opted_out: bool = Field(False, alias="emailWhenSmsOptedOut")

    def contact(self, contact_id: str) -> Contact | None:
        return next((c for c in self.contacts if c.id == contact_id), None)

    def contact_by_phone(self, phone: str) -> Contact | None:
        return next((c for c in self.contacts if c.phone == phone), None)


class AlertConfig(_Model):
    version: int
    defaults: Defaults
    tenants: dict[str, Tenant]


def load_config(path: Path | str) -> AlertConfig:
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{path}: no such file (set ALERT_CONFIG to the configuration file)") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not JSON: {exc}") from exc
    _check_schema(raw, path)
    for tenant_id, tenant in raw["tenants"].items():
        for key in sorted(NOT_YET_ENFORCED & tenant.keys()):
            # Accepted so that CONTRACT §4 files validate, but an operator must not believe it works.
            logger.warning("tenant %s sets %s, which this version does not enforce yet; it is ignored", tenant_id, key)
    config = AlertConfig.model_validate(raw)
    problems = semantic_problems(config)
    if problems:
        raise ConfigError(f"{path}: " + "; ".join(problems))
    return config


@lru_cache(maxsize=1)
def _schema_validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def _check_schema(raw: object, path: Path) -> None:
    errors = sorted(_schema_validator().iter_errors(raw), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ConfigError(f"{path}: at {first.json_path}: {first.message}{more}")


def semantic_problems(config: AlertConfig) -> list[str]:
    problems: list[str] = []
    retry = config.defaults.retry
    if retry.max_backoff_seconds < retry.initial_backoff_seconds:
        problems.append("$.defaults.retry: maxBackoffSeconds is below initialBackoffSeconds")
    problems += _template_problems(config.defaults.templates, config.defaults.links.base_url)
    for tenant_id, tenant in config.tenants.items():
        at = f"$.tenants.{tenant_id}"
        ids = [c.id for c in tenant.contacts]
        duplicates = sorted({i for i in ids if ids.count(i) > 1})
        if duplicates:
            problems.append(f"{at}.contacts: duplicate ids {duplicates}")
        for index, contact in enumerate(tenant.contacts):
            problems += _contact_problems(contact, f"{at}.contacts[{index}]")
        for zone_owner, zone in (("timeZone", tenant.time_zone),):
            if zone and not _is_time_zone(zone):
                problems.append(f"{at}.{zone_owner}: unknown time zone {zone!r}")
        for index, route in enumerate(tenant.routes):
            unknown = [c for c in route.contacts if c not in ids]
            if unknown:
                problems.append(f"{at}.routes[{index}].contacts: unknown contact ids {unknown}")
    return problems


def _template_problems(templates: Templates, base_url: str = "https://alerts.example.test/a/") -> list[str]:
    problems = []
    for name, text in (("sms", templates.sms), ("emailSubject", templates.email_subject), ("emailBody", templates.email_body)):
        try:
            fields = {field for _, field, _, _ in string.Formatter().parse(text) if field is not None}
        except ValueError as exc:
            problems.append(f"$.defaults.templates.{name}: {exc}")
            continue
        unknown = sorted(fields - SMS_PLACEHOLDERS)
        if unknown:
            problems.append(f"$.defaults.templates.{name}: unknown placeholders {unknown} (allowed: {sorted(SMS_PLACEHOLDERS)})")
        elif name == "sms":
            problems += _sms_template_problems(text, fields, base_url)
    return problems


def _sms_template_problems(template: str, fields: set[str], base_url: str) -> list[str]:
    at = "$.defaults.templates.sms"
    missing = [name for name in SMS_REQUIRED_PLACEHOLDERS if name not in fields]
    if missing:
        return [f"{at}: must contain {{link}} and {{ackCode}} (missing {missing}): the ACK code lets contacts acknowledge "
                "and lets the service find a message at Twilio after a timeout instead of sending it twice"]
    link = base_url.rstrip("/") + "/" + "x" * _PLAUSIBLE_TOKEN_CHARS
    link += "x" * max(_PLAUSIBLE_LINK_SEPTETS - len(link), 0)
    worst = {
        "severity": "CRITICAL", "severityWord": "Critical", "site": "S" * 16, "source": "s" * 32,
        "eventType": "offnormal", "link": link, "ackCode": "A" * 6, "title": "",
    }
    try:
        text = template.format(**worst)
    except (ValueError, KeyError, IndexError) as exc:
        return [f"{at}: {exc}"]
    septets = gsm7_septets(text)
    if septets is None:
        outside = sorted({ch for ch in text if gsm7_septets(ch) is None})
        return [f"{at}: characters outside the GSM-7 alphabet {outside} (in the template or links.baseUrl) "
                "would turn every SMS into UCS-2 with 70 characters a segment"]
    room = SMS_MAX_SEPTETS - septets
    if room < SMS_MIN_TITLE_SEPTETS:
        return [f"{at}: leaves {max(room, 0)} of the {SMS_MAX_SEPTETS} GSM-7 septets of one SMS segment for the title "
                f"(with a {len(link)}-character link and the ACK code); at least {SMS_MIN_TITLE_SEPTETS} are needed: "
                "shorten the template or links.baseUrl"]
    return []


def _contact_problems(contact: Contact, at: str) -> list[str]:
    problems = []
    if contact.phone:
        try:
            parsed = phonenumbers.parse(contact.phone, None)
            possible = phonenumbers.is_possible_number(parsed)
        except phonenumbers.NumberParseException:
            possible = False
        if not possible:
            # The number itself stays out of the message: config errors end up in logs.
            problems.append(f"{at}.phone: not a possible E.164 number")
    if contact.time_zone and not _is_time_zone(contact.time_zone):
        problems.append(f"{at}.timeZone: unknown time zone {contact.time_zone!r}")
    return problems


def _is_time_zone(name: str) -> bool:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True
