"""A functions-framework target that only records what it was given: for golden conversion tests."""

import functions_framework

RECEIVED = []


@functions_framework.cloud_event
def capture(cloud_event):
    RECEIVED.append(cloud_event)
