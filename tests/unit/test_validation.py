from datetime import datetime, timezone
from pathlib import Path

import pytest

from shared.config import load_config
from shared.errors import InvalidAlert
from shared.validation import validate_alert

CONFIG = load_config(Path(__file__).resolve().parents[2] / "config" / "alert_config.json")
TENANT = "demo-campus"


def fields(**overrides):
    base = {
        "schemaVersion": 1,
        "tenantId": TENANT,
        "siteId": "S-7",
        "source": "AHU-S7/ZN-T",
        "eventType": "offnormal",
        "severity": "major",
        "title": "Zone temp high",
        "occurredAt": datetime(2022, 5, 9, 15, 0, tzinfo=timezone.utc),
    }
    base.update(overrides)
    return {key: value for key, value in base.items() if value is not ...}


def reason(**overrides):
    with pytest.raises(InvalidAlert) as raised:
        validate_alert(TENANT, "a1", fields(**overrides), CONFIG)
    return raised.value.reason


def test_valid_alert_gets_defaults():
    alert = validate_alert(TENANT, "a1", fields(attributes={"value": "80"}, extra="ignored"), CONFIG)
    assert alert.fingerprint == "S-7/AHU-S7/ZN-T"
    assert alert.alert_id == "a1" and alert.attributes == {"value": "80"}


@pytest.mark.parametrize("missing", ["siteId", "severity", "title", "occurredAt", "schemaVersion", "tenantId", "eventType", "source"])
def test_missing_required_field_is_named(missing):
    assert reason(**{missing: ...}) == f"missing_field:{missing}"


@pytest.mark.parametrize(
    "overrides, expected",
    [
        ({"tenantId": "someone-else"}, "tenant_mismatch"),
        ({"severity": "catastrophic"}, "invalid_field:severity"),
        ({"eventType": "alarm"}, "invalid_field:eventType"),
        ({"siteId": "bad site!"}, "invalid_field:siteId"),
        ({"title": "two\nlines"}, "invalid_field:title"),
        ({"title": "x" * 121}, "invalid_field:title"),
        ({"schemaVersion": 2}, "invalid_field:schemaVersion"),
        ({"schemaVersion": True}, "invalid_field:schemaVersion"),
        ({"occurredAt": "2022-05-09T15:00:00Z"}, "invalid_field:occurredAt"),
        ({"attributes": {"value": 80}}, "invalid_field:attributes"),
        ({"attributes": {f"k{i}": "v" for i in range(21)}}, "invalid_field:attributes"),
        ({"message": "m" * 4001}, "invalid_field:message"),
        ({"fingerprint": "f" * 201}, "invalid_field:fingerprint"),
    ],
)
def test_invalid_fields_get_precise_reasons(overrides, expected):
    assert reason(**overrides) == expected


def test_unknown_tenant_is_invalid():
    with pytest.raises(InvalidAlert, match="unknown_tenant"):
        validate_alert("nobody", "a1", fields(tenantId="nobody"), CONFIG)


@pytest.mark.parametrize(
    "title",
    [
        "",
        " ",
        "   \u00a0 ",  # whitespace only, with a non-breaking space
        "tab\tinside",
        "vertical\x0btab",
        "form\x0cfeed",
        "nul\x00byte",
        "line\u2028separator",
        "paragraph\u2029separator",
        "next\x85line",
        "zero\u200bwidth",
        "bidi\u202eoverride",
        "escape\x1b[31m",
        "carriage\rreturn",
    ],
)
def test_title_must_be_one_visible_line(title):
    assert reason(title=title) == "invalid_field:title"


@pytest.mark.parametrize("source", ["   ", "AHU-3\x00/SAT", "AHU-3\t/SAT", "AHU-3\n/SAT", "AHU-3\u2028SAT"])
def test_source_must_be_one_visible_line(source):
    assert reason(source=source) == "invalid_field:source"


@pytest.mark.parametrize("title", ["Zone temp high", "Température 30 °C – zone 3", "Raum \u00a0Süd > 80%", "Ω ≥ 5 “quoted” …"])
def test_ordinary_titles_with_spaces_and_unicode_are_valid(title):
    assert validate_alert(TENANT, "a1", fields(title=title), CONFIG).title == title
