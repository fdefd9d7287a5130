"""HTTP: SMS replies (STOP, START, ACK <code>) forwarded by Twilio."""

import logging

import functions_framework
from twilio.twiml.messaging_response import MessagingResponse

from shared.container import deps
from shared.pipeline.inbound import process_inbound_sms
from shared.webhooks import twilio_public_url, twilio_signature_valid

logger = logging.getLogger(__name__)


@functions_framework.http
def twilio_inbound(request):
    pipeline = deps()
    settings = pipeline.settings
    public_url = twilio_public_url(settings.public_url("twilio_inbound"), request.query_string)
    token = settings.twilio_auth_token.get_secret_value() if settings.twilio_auth_token else ""
    if not twilio_signature_valid(token, public_url, request.form, request.headers.get("X-Twilio-Signature")):
        logger.warning("inbound SMS with a bad signature rejected")
        return ("forbidden", 403)
    result = process_inbound_sms(pipeline, request.form.get("From", ""), request.form.get("Body", ""))
    reply = MessagingResponse()
    if result.reply:
        reply.message(result.reply)
    return (str(reply), 200, {"Content-Type": "application/xml"})
