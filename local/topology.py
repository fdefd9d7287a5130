"""What runs where: the single description of functions, triggers and topics.

The local stack and cloudbuild.yaml both follow this table, so the local wiring
cannot drift from the deployed one without a test noticing.
"""

from __future__ import annotations

from dataclasses import dataclass

FIRESTORE_ALERT_PATTERN = "tenants/{tenantId}/alerts/{alertId}"
FIRESTORE_CREATED = "google.cloud.firestore.document.v1.created"

RETRY_TOPIC = "alert-retry"
DEAD_LETTER_TOPIC = "alert-dead-letter"
SWEEP_TOPIC = "alert-sweep"
# A pull subscription nobody consumes in production code: tests and the demo read
# dead letters from it to see what was given up on.
DEAD_LETTER_AUDIT_SUBSCRIPTION = "alert-dead-letter-audit"


@dataclass(frozen=True)
class FunctionSpec:
    name: str  # also the entry point exposed by main.py
    signature: str  # "cloudevent" or "http"
    trigger: str  # "firestore", "pubsub" or "http"
    topic: str | None = None
    subscription: str | None = None
    dead_letter_topic: str | None = None
    max_delivery_attempts: int | None = None


FUNCTIONS: tuple[FunctionSpec, ...] = (
    FunctionSpec("on_alert_created", "cloudevent", "firestore"),
    FunctionSpec(
        "on_alert_retry",
        "cloudevent",
        "pubsub",
        topic=RETRY_TOPIC,
        subscription="alert-retry-push",
        dead_letter_topic=DEAD_LETTER_TOPIC,
        max_delivery_attempts=5,
    ),
    FunctionSpec("on_dead_letter", "cloudevent", "pubsub", topic=DEAD_LETTER_TOPIC, subscription="alert-dead-letter-push"),
    FunctionSpec("on_sweep", "cloudevent", "pubsub", topic=SWEEP_TOPIC, subscription="alert-sweep-push"),
    FunctionSpec("twilio_status", "http", "http"),
    FunctionSpec("twilio_inbound", "http", "http"),
    FunctionSpec("sendgrid_events", "http", "http"),
)

TOPICS = (RETRY_TOPIC, DEAD_LETTER_TOPIC, SWEEP_TOPIC)


def function(name: str) -> FunctionSpec:
    return next(spec for spec in FUNCTIONS if spec.name == name)
