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
