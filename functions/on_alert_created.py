"""Firestore trigger: google.cloud.firestore.document.v1.created on tenants/{tenantId}/alerts/{alertId}."""

import logging

import functions_framework

from shared.container import deps
from shared.errors import EventDecodeError
from shared.events import decode_alert_created
from shared.pipeline import process_new_alert

logger = logging.getLogger(__name__)


@functions_framework.cloud_event
def on_alert_created(cloud_event):
    try:
        event = decode_alert_created(cloud_event)
    except EventDecodeError as error:
        # Nothing to mark and nothing a retry would fix: acknowledge, loudly.
        logger.error("undecodable alert event %s: %s", cloud_event["id"], error)
        return
    # Anything raised past here is a 500, and Eventarc delivers the event again.
    process_new_alert(deps(), event)
