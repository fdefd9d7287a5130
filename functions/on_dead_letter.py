"""Pub/Sub push from alert-dead-letter: jobs given up on, by us or by the subscription's policy."""

import logging

import functions_framework

from shared.container import deps
from shared.errors import EventDecodeError
from shared.events import decode_delivery_job
from shared.pipeline.maintenance import process_dead_letter

logger = logging.getLogger(__name__)


@functions_framework.cloud_event
def on_dead_letter(cloud_event):
    try:
        job = decode_delivery_job(cloud_event)
    except EventDecodeError as error:
        logger.error("undecodable dead letter %s: %s", cloud_event["id"], error)
        return
    attributes = cloud_event.data["message"].get("attributes") or {}
    process_dead_letter(deps(), job, attributes.get("reason") or "delivery_attempts_exhausted")
