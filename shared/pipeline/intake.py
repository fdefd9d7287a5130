"""A newly created alert: validate → route → dedup → deliver to each contact."""

from __future__ import annotations

import contextvars
import logging
from concurrent.futures import ThreadPoolExecutor

from shared.errors import InvalidAlert
from shared.events import AlertCreated
from shared.logging_setup import log_labels
from shared.models import AlertStatus, Severity
from shared.pipeline.deps import PipelineDeps
from shared.pipeline.delivery import start_delivery
from shared.routing import route
from shared.validation import validate_alert

logger = logging.getLogger(__name__)
_MAX_PARALLEL_CONTACTS = 8
_SEVERITY_RANK = {Severity.INFO: 0, Severity.MINOR: 1, Severity.MAJOR: 2, Severity.CRITICAL: 3}


def process_new_alert(deps: PipelineDeps, event: AlertCreated) -> AlertStatus | None:
    """Safe to run any number of times for the same event, also concurrently."""
    with log_labels(tenant=event.tenant_id, alert_id=event.alert_id):
        store = deps.store
        if _too_old(deps, event):
            logger.warning("event older than the maximum age; dropped")
            store.mark_alert(event.tenant_id, event.alert_id, AlertStatus.SUPPRESSED, "stale_event", only_if_unprocessed=True)
            return None
        try:
            alert = validate_alert(event.tenant_id, event.alert_id, event.fields, deps.config)
        except InvalidAlert as invalid:
            logger.warning("invalid alert: %s", invalid.reason)
            store.mark_alert(event.tenant_id, event.alert_id, AlertStatus.INVALID, invalid.reason)
            return AlertStatus.INVALID
        tenant = deps.config.tenants[alert.tenant_id]
        targets = route(alert, tenant, deps.config.defaults)
        if not targets:
            store.mark_alert(alert.tenant_id, alert.alert_id, AlertStatus.SUPPRESSED, "no_route", only_if_unprocessed=True)
            return AlertStatus.SUPPRESSED
        window = deps.config.defaults.dedup_window_seconds
        rank = _SEVERITY_RANK[alert.severity]
        if store.note_transition(alert.tenant_id, alert.alert_id, alert.fingerprint, alert.event_type.value, rank, alert.occurred_at, window):
            logger.info("same transition already notified within the dedup window")
            # A decision about this alert only: a redelivered event never turns a notified alert into a duplicate.
            store.mark_alert(alert.tenant_id, alert.alert_id, AlertStatus.SUPPRESSED, "duplicate", only_if_unprocessed=True)
            return AlertStatus.SUPPRESSED
        if len(targets) == 1:
            start_delivery(deps, alert, tenant, targets[0])
        else:
            # Contacts are independent; one slow provider call must not delay the next person's page.
            # Each task runs in a copy of this context, so its log lines keep the alert's labels.
            with ThreadPoolExecutor(max_workers=min(len(targets), _MAX_PARALLEL_CONTACTS)) as pool:
                tasks = [pool.submit(contextvars.copy_context().run, start_delivery, deps, alert, tenant, t) for t in targets]
                for task in tasks:
                    task.result()
        return store.refresh_alert_status(alert.tenant_id, alert.alert_id)


def _too_old(deps: PipelineDeps, event: AlertCreated) -> bool:
    if event.event_time is None:
        return False
    age = (deps.clock() - event.event_time).total_seconds()
    return age > deps.config.defaults.retry.max_event_age_seconds

