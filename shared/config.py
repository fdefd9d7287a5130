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

SCHEMA_PATH = Path(__file__).resolve().parent.parent / "config" / "alert_config.schema.json"

SMS_PLACEHOLDERS = frozenset({"severity", "severityWord", "site", "title", "source", "eventType", "link", "ackCode"})
EMAIL_PLACEHOLDERS = SMS_PLACEHOLDERS


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
    problems += _template_problems(config.defaults.templates)
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


def _template_problems(templates: Templates) -> list[str]:
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
    return problems


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
