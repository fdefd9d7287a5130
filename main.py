"""Entry points for functions-framework and Cloud Functions (--entry-point NAME). No logic here."""

from functions.on_alert_created import on_alert_created
from functions.on_alert_retry import on_alert_retry
from functions.on_dead_letter import on_dead_letter
from functions.on_sweep import on_sweep
from functions.sendgrid_events import sendgrid_events
from functions.twilio_inbound import twilio_inbound
from functions.twilio_status import twilio_status

__all__ = [
    "on_alert_created",
    "on_alert_retry",
    "on_dead_letter",
    "on_sweep",
    "sendgrid_events",
    "twilio_inbound",
    "twilio_status",
]
