"""The route stage: which contacts hear about an alert, and on which channel first.

Every matching route contributes its contacts (a union, not first-match): for alerting,
forgetting someone a rule meant to page is worse than telling someone twice, and a
contact is only ever targeted once per alert.
"""

from __future__ import annotations

from dataclasses import dataclass
from fnmatch import fnmatchcase

from shared.config import Contact, Defaults, Route, Tenant
from shared.models import Alert, Channel


@dataclass(frozen=True)
class Target:
    contact: Contact
    channel: Channel  # the first channel tried; the fallback channel follows a failure


def route(alert: Alert, tenant: Tenant, defaults: Defaults) -> list[Target]:
    targets: dict[str, Target] = {}
    for rule in tenant.routes:
        if not _matches(rule, alert):
            continue
        channels = rule.channels or defaults.channels
        for contact_id in rule.contacts:
            contact = tenant.contact(contact_id)
            if contact is None or contact_id in targets:
                continue
            channel = first_reachable_channel(contact, channels, defaults.fallback_channel)
            if channel is not None:
                targets[contact_id] = Target(contact, channel)
    return list(targets.values())


def _matches(rule: Route, alert: Alert) -> bool:
    if rule.severities is not None and alert.severity not in rule.severities:
        return False
    if rule.event_types is not None and alert.event_type not in rule.event_types:
        return False
    if rule.sites is not None and not any(fnmatchcase(alert.site_id, pattern) for pattern in rule.sites):
        return False
    return True


def first_reachable_channel(contact: Contact, channels: tuple[Channel, ...], fallback: Channel | None) -> Channel | None:
    for channel in (*channels, *((fallback,) if fallback else ())):
        if contact.address(channel):
            return channel
    return None
