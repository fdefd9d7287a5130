"""The job-queue port (Pub/Sub topics alert-retry and alert-dead-letter) and its adapter."""

from __future__ import annotations

import json
from typing import Protocol

from google.cloud import pubsub_v1

from shared.models import DeliveryJob

RETRY_TOPIC = "alert-retry"
DEAD_LETTER_TOPIC = "alert-dead-letter"
_PUBLISH_TIMEOUT_SECONDS = 10


class JobQueue(Protocol):
    def publish_retry(self, job: DeliveryJob) -> None: ...

    def publish_dead_letter(self, job: DeliveryJob, reason: str) -> None: ...


class PubSubJobQueue:
    def __init__(self, project_id: str, publisher: pubsub_v1.PublisherClient | None = None):
        self._publisher = publisher or pubsub_v1.PublisherClient()
        self._retry_topic = self._publisher.topic_path(project_id, RETRY_TOPIC)
        self._dead_letter_topic = self._publisher.topic_path(project_id, DEAD_LETTER_TOPIC)

    def publish_retry(self, job: DeliveryJob) -> None:
        # Wait for the server's ack: the delivery document already says "retrying", and the
        # sweeper only re-publishes jobs whose time has long passed.
        self._publisher.publish(self._retry_topic, job.to_json(), deliveryId=job.delivery_id).result(_PUBLISH_TIMEOUT_SECONDS)

    def publish_dead_letter(self, job: DeliveryJob, reason: str) -> None:
        body = json.loads(job.to_json())
        self._publisher.publish(
            self._dead_letter_topic, json.dumps(body).encode(), reason=reason, deliveryId=job.delivery_id
        ).result(_PUBLISH_TIMEOUT_SECONDS)
