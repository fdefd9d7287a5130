"""HTTP: Twilio's message status callback."""

import logging

import functions_framework

from shared.container import deps
from shared.pipeline.reports import process_delivery_report
from shared.webhooks import twilio_request_is_genuine, twilio_status_report

logger = logging.getLogger(__name__)


@functions_framework.http
def twilio_status(request):
    pipeline = deps()
    if not twilio_request_is_genuine(pipeline.settings, request, "twilio_status"):
        logger.warning("twilio status callback with a bad signature rejected")
        return ("forbidden", 403)
    report = twilio_status_report(request.args, request.form)
    if report is not None:
        process_delivery_report(pipeline, report)
    return ("", 204)
