"""HTTP: Twilio's message status callback."""

import logging

import functions_framework

from shared.container import deps
from shared.pipeline.reports import process_delivery_report
from shared.webhooks import twilio_public_url, twilio_signature_valid, twilio_status_report

logger = logging.getLogger(__name__)


@functions_framework.http
def twilio_status(request):
    pipeline = deps()
    settings = pipeline.settings
    public_url = twilio_public_url(settings.public_url("twilio_status"), request.query_string)
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not twilio_signature_valid(token, public_url, request.form, request.headers.get("X-Twilio-Signature")):
        logger.warning("twilio status callback with a bad signature rejected")
        return ("forbidden", 403)
    report = twilio_status_report(request.args, request.form)
    if report is not None:
        process_delivery_report(pipeline, report)
    return ("", 204)
