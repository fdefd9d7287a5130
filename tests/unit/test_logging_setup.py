import io
import json
import logging

from shared import logging_setup
from shared.logging_setup import configure_logging, log_labels


def test_records_are_one_masked_json_object_per_line_with_context_labels(monkeypatch):
    stream = io.StringIO()
    monkeypatch.setattr(logging_setup, "_configured", False)
    saved = logging.getLogger().handlers[:]
    try:
        configure_logging(stream=stream)
        logger = logging.getLogger("shared.test")
        with log_labels(tenant="acme", alert_id="a-1"):
            logger.warning("send to %s failed for %s", "+447700900123", "bob@example.com", extra={"json_fields": {"to": "+15551230001"}})
        logger.info("outside")
        try:
            raise ValueError("token SG.abcdefghij.klmnopqrstuv")
        except ValueError:
            logger.exception("boom")
    finally:
        logging.getLogger().handlers = saved
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if '"message"' in line]
    first = lines[0]
    assert first["severity"] == "WARNING"
    assert first["message"] == "send to +44******0123 failed for b***@example.com"
    assert first["to"] == "+15*****0001"
    assert first["logging.googleapis.com/labels"]["tenant"] == "acme"
    assert first["logging.googleapis.com/labels"]["alert_id"] == "a-1"
    assert "tenant" not in lines[1]["logging.googleapis.com/labels"]
    assert "SG.abcdefghij" not in lines[2]["message"] and "ValueError" in lines[2]["message"]


def test_an_uncaught_exception_logged_after_the_handler_keeps_the_alert_labels(monkeypatch):
    import flask

    stream = io.StringIO()
    monkeypatch.setattr(logging_setup, "_configured", False)
    saved = logging.getLogger().handlers[:]
    app = flask.Flask("labels")
    try:
        configure_logging(stream=stream)
        with app.test_request_context("/", headers={"Function-Execution-Id": "exec-1"}):
            with log_labels(tenant="acme", alert_id="a-9"):
                pass
            logging.getLogger("flask.app").error("Exception on / [POST]")  # what Flask logs after the handler raised
        with app.test_request_context("/"):
            logging.getLogger("flask.app").error("next request")
    finally:
        logging.getLogger().handlers = saved
    records = [json.loads(line) for line in stream.getvalue().splitlines() if '"message"' in line]
    labels = records[0]["logging.googleapis.com/labels"]
    assert (labels["tenant"], labels["alert_id"], labels["execution_id"]) == ("acme", "a-9", "exec-1")
    assert "tenant" not in records[1]["logging.googleapis.com/labels"]
