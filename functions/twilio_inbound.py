"""HTTP: SMS replies (STOP, START, ACK <code>) forwarded by Twilio."""

import logging

import functions_framework
from twilio.twiml.messaging_response import MessagingResponse

from shared.container import deps
from shared.pipeline.inbound import process_inbound_sms
from shared.webhooks import twilio_request_is_genuine

logger = logging.getLogger(__name__)


@functions_framework.http
def twilio_inbound(request):
    pipeline = deps()
    if not twilio_request_is_genuine(pipeline.settings, request, "twilio_inbound"):
        logger.warning("inbound SMS with a bad signature rejected")
        return ("forbidden", 403)
    result = process_inbound_sms(pipeline, request.form.get("From", ""), request.form.get("Body", ""))
    reply = MessagingResponse()
    if result.reply:
        reply.message(result.reply)
    return (str(reply), 200, {"Content-Type": "application/xml"})
