"""Structured JSON logging for Cloud Logging, with labels and masking.

Every record becomes one JSON line on stdout in Cloud Logging's structured format
(google-cloud-logging's StructuredLogHandler); the whole line is masked last.
Labels (tenant, alert id, execution id) come from a context variable that the
handlers bind, so domain code never has to pass them along.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
import sys
from collections.abc import Iterator

from google.cloud.logging.handlers import StructuredLogHandler

from shared.masking import mask

_labels: contextvars.ContextVar[dict[str, str]] = contextvars.ContextVar("alert_log_labels", default={})
_configured = False


class _MaskedStructuredLogHandler(StructuredLogHandler):
    def format(self, record: logging.LogRecord) -> str:
        return mask(super().format(record))


class _ContextLabels(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        bound = _labels.get() or _request_labels()
        if bound:
            record.labels = {**bound, **(getattr(record, "labels", None) or {})}
        return True


def configure_logging(level: int = logging.INFO, stream=None) -> None:
    """Idempotent: functions-framework may import main.py more than once per process."""
    global _configured
    if _configured:
        return
    handler = _MaskedStructuredLogHandler(stream=stream or sys.stdout)
    # Before the handler's own CloudLoggingFilter, which turns record.labels into the output's labels.
    handler.filters.insert(0, _ContextLabels())
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level)
    # Client libraries log request details (URLs with numbers) at DEBUG/INFO.
    for noisy in ("urllib3", "twilio", "python_http_client", "google", "grpc"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _configured = True


def _execution_id() -> str | None:
    try:
        import flask

        if flask.has_request_context():
            return flask.request.headers.get("Function-Execution-Id")
    except ImportError:  # pragma: no cover - flask ships with functions-framework
        pass
    return None


def _request_labels() -> dict[str, str]:
    """Labels of the current request, still there when functions-framework logs an uncaught exception
    after the handler's own label context has ended."""
    try:
        import flask

        if flask.has_request_context():
            return getattr(flask.g, "alert_log_labels", None) or {}
    except ImportError:  # pragma: no cover - flask ships with functions-framework
        pass
    return {}


def _remember_for_request(labels: dict[str, str]) -> None:
    try:
        import flask

        if flask.has_request_context():
            flask.g.alert_log_labels = labels  # per request: nothing leaks into the next one
    except ImportError:  # pragma: no cover
        pass


@contextlib.contextmanager
def log_labels(**labels: str | None) -> Iterator[None]:
    merged = dict(_labels.get())
    execution_id = _execution_id()
    if execution_id and "execution_id" not in merged:
        merged["execution_id"] = execution_id
    merged.update({key: str(value) for key, value in labels.items() if value is not None})
    _remember_for_request(merged)
    token = _labels.set(merged)
    try:
        yield
    finally:
        _labels.reset(token)
