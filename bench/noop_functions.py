"""Stand-in entry points for the benchmarks' baselines, loaded by functions-framework like main.py.

- `on_alert_created`: the no-op trigger of bench/latency.py. It reads the alert
  document once (the least any real handler does) and appends one JSON line with
  the time it finished to $BENCH_NOOP_LOG (one O_APPEND write per line, so the
  worker's threads never interleave; stdout does, under LOG_EXECUTION_ID).
- `hello`: the bare hello-world CloudEvent function of bench/memory.py.
- the other names only exist so the local stack can start every function it knows.

Only functions_framework is imported at module level: the Firestore client is
imported inside the one handler that needs it, so `hello` stays a bare
functions-framework process.
"""

import json
import os
import time

import functions_framework

NOOP_MARKER = "benchNoopDone"
NOOP_LOG_VARIABLE = "BENCH_NOOP_LOG"
_client = None


@functions_framework.cloud_event
def on_alert_created(cloud_event):
    global _client
    if _client is None:
        from google.cloud import firestore

        _client = firestore.Client()
    path = cloud_event["subject"].removeprefix("documents/")
    _client.document(path).get()
    line = json.dumps({NOOP_MARKER: path.rsplit("/", 1)[-1], "at": time.time()}) + "\n"
    fd = os.open(os.environ[NOOP_LOG_VARIABLE], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, line.encode())
    finally:
        os.close(fd)


@functions_framework.cloud_event
def hello(cloud_event):
    return None


@functions_framework.cloud_event
def on_alert_retry(cloud_event):
    return None


@functions_framework.cloud_event
def on_dead_letter(cloud_event):
    return None


@functions_framework.cloud_event
def on_sweep(cloud_event):
    return None


@functions_framework.http
def twilio_status(request):
    return ""


@functions_framework.http
def twilio_inbound(request):
    return ""


@functions_framework.http
def sendgrid_events(request):
    return ""
