"""Root fixtures: an isolated environment per test, and ordering for suite-wide checks."""

import os

import pytest


@pytest.fixture(autouse=True)
def _isolated_environ():
    saved = dict(os.environ)
    yield
    os.environ.clear()
    os.environ.update(saved)


def pytest_collection_modifyitems(items):
    # Suite-wide checks (e.g. "no log line leaked a phone number") read what every other test left behind.
    items.sort(key=lambda item: item.get_closest_marker("suite_audit") is not None)


def pytest_configure(config):
    config.addinivalue_line("markers", "suite_audit: runs after every other test of the session")


def pytest_terminal_summary(terminalreporter):
    """The count issue 3 asks for: how many sends the suite made, and how many of them were duplicates."""
    from collections import Counter

    try:
        from integration.conftest import SENDS_SEEN
    except ImportError:
        return
    if SENDS_SEEN:
        per_delivery = Counter(send["callback"] for send in SENDS_SEEN)
        second = {key for key, n in per_delivery.items() if n > 1}
        retry_once = {send["callback"] for send in SENDS_SEEN if send["test"].startswith("test_undelivered_30003")}
        sms = sum(send["channel"] == "sms" for send in SENDS_SEEN)
        terminalreporter.write_line(
            f"end-to-end sends: {len(SENDS_SEEN)} ({sms} SMS, {len(SENDS_SEEN) - sms} emails) to {len(per_delivery)} deliveries; "
            f"second sends: {len(second & retry_once)} deliberate (undelivered 30003, retried once), {len(second - retry_once)} unexpected"
        )
