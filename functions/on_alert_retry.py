"""Pub/Sub push from alert-retry: one delivery job per message."""

import logging

import functions_framework

from shared.container import deps
from shared.errors import EventDecodeError, NotYetDue
from shared.events import decode_delivery_job
from shared.pipeline import process_retry_job

logger = logging.getLogger(__name__)


@functions_framework.cloud_event
def on_alert_retry(cloud_event):
    try:
        job = decode_delivery_job(cloud_event)
    except EventDecodeError as error:
        logger.error("undecodable retry job %s: %s", cloud_event["id"], error)
        return
    # Infrastructure errors propagate as a 500: Pub/Sub redelivers with the subscription's backoff.
    process_retry_job(deps(), job)


@functions_framework.errorhandler(NotYetDue)
def _not_yet_due(error):
    # An early job is expected (clock skew, a redelivery): a plain nack, not a crash with a traceback.
    logger.info("retry job arrived %.1fs early; handed back to Pub/Sub", error.seconds)
    return ("not yet due", 429)
