"""HTTP: SendGrid's signed event webhook."""

import logging

import functions_framework

from shared.container import deps
from shared.pipeline.reports import process_delivery_report
from shared.webhooks import SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER, sendgrid_reports, sendgrid_signature_valid

logger = logging.getLogger(__name__)


@functions_framework.http
def sendgrid_events(request):
    pipeline = deps()
    key = pipeline.settings.sendgrid_webhook_public_key
    raw = request.get_data(cache=True)
    signature, timestamp = request.headers.get(SENDGRID_SIGNATURE_HEADER), request.headers.get(SENDGRID_TIMESTAMP_HEADER)
    if key is None or not sendgrid_signature_valid(key.get_secret_value(), raw, signature, timestamp):
        logger.warning("sendgrid event webhook with a bad or stale signature rejected")
        return ("forbidden", 403)
    try:
        events = sendgrid_reports(raw)
    except ValueError:
        logger.error("sendgrid event webhook body is not a JSON array")
        return ("bad request", 400)
    for report in events.reports:
        process_delivery_report(pipeline, report)
    return ("", 204)
