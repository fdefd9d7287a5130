"""Pub/Sub push from alert-sweep (Cloud Scheduler): recovers expired leases and lost retry jobs."""

import functions_framework

from shared.container import deps
from shared.pipeline.maintenance import sweep


@functions_framework.cloud_event
def on_sweep(cloud_event):
    sweep(deps())
