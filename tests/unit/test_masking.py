import pytest

from shared.masking import mask, mask_email, mask_phone, register_secret


@pytest.mark.parametrize(
    "text, leaked",
    [
        ("To +447700900123 failed", "+447700900123"),
        ("url?To=%2B15551230001&x=1", "15551230001"),
        ("contact hvac-oncall@example.test bounced", "hvac-oncall@example.test"),
        ("account AC0123456789abcdef0123456789abcdef", "AC0123456789abcdef0123456789abcdef"),
        ("message SM0123456789abcdef0123456789abcdef", "SM0123456789abcdef0123456789abcdef"),
        ("key SG.abcdefghijk.lmnopqrstuvwxyz012", "SG.abcdefghijk.lmnopqrstuvwxyz012"),
        ("Authorization: Basic QUMxMjM0NTY3ODk6c2VjcmV0", "QUMxMjM0NTY3ODk6c2VjcmV0"),
        ("link https://x.test/a/lt1.eyJ0IjoiYSJ9.c2lnbmF0dXJl", "eyJ0IjoiYSJ9"),
    ],
)
def test_mask_removes_personal_data_and_credentials(text, leaked):
    assert leaked not in mask(text)


def test_masked_forms_keep_enough_to_tell_contacts_apart():
    assert mask_phone("+447700900123") == "+44******0123"  # CONTRACT §6 example
    assert mask_email("alice@example.com") == "a***@example.com"
    assert mask("call +447700900123") == "call +44******0123"


def test_mask_is_idempotent():
    once = mask("+15551230001 a@b.example")
    assert mask(once) == once


def test_registered_secret_is_masked_wherever_it_appears():
    register_secret("tok-7f3a9c1e55")
    assert "tok-7f3a9c1e55" not in mask('{"token": "xtok-7f3a9c1e55y"}')


def test_ordinary_text_is_untouched():
    text = '{"severity": "INFO", "message": "sms sent", "attempt": 2, "line": 151}'
    assert mask(text) == text
