"""The secret redaction used by every log handler and by crash output (RELIABILITY G11, §5.F 46)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anivault import redact

CANARY = "TMDBCANARY1234567890abcdef+/=&?"


@pytest.fixture(autouse=True)
def _clean() -> Iterator[None]:
    redact.forget_secrets()
    yield
    redact.forget_secrets()


def all_spellings(secret: str) -> list[str]:
    raw = secret.encode()
    return [
        secret,
        quote(secret, safe=""),
        quote_plus(secret),
        base64.b64encode(raw).decode(),
        base64.urlsafe_b64encode(raw).decode(),
        base64.b64encode(raw).decode().rstrip("="),
    ]


@pytest.mark.parametrize("spelling", all_spellings(CANARY))
def test_registered_secret_is_masked_in_every_spelling(spelling: str) -> None:
    redact.register_secret(CANARY)
    out = redact.redact(f"GET /3/search/tv?x={spelling}&page=1 and again {spelling}.")
    assert spelling not in out
    assert "TMDBCANARY" not in out
    assert out.count(redact.MASK) >= 2


@pytest.mark.parametrize(
    ("text", "leak"),
    [
        ("https://api.themoviedb.org/3/search/tv?api_key=abc123SECRET&query=x", "abc123SECRET"),
        ("GET /3/configuration?query=a&api_key=abc123SECRET HTTP/1.1", "abc123SECRET"),
        ('{"api_key": "abc123SECRET", "page": 1}', "abc123SECRET"),
        ("params={'api_key': 'abc123SECRET'}", "abc123SECRET"),
        ("Authorization: Bearer eyJhbGciOi.abc123SECRET.sig", "abc123SECRET"),
        ("headers={'Authorization': 'Bearer abc123SECRET'}", "abc123SECRET"),
        ("apiKey=abc123SECRET", "abc123SECRET"),
        ('MaxRetryError("... url: /3/tv/1?api_key=abc123SECRET (Caused by ...)")', "abc123SECRET"),
    ],
)
def test_patterns_mask_unregistered_keys(text: str, leak: str) -> None:
    out = redact.redact(text)
    assert leak not in out
    assert redact.MASK in out


def test_ordinary_text_is_untouched() -> None:
    redact.register_secret(CANARY)
    text = "Indexed 1,204 files under /anime/進撃の巨人 in 3.1 s; api docs at https://x/y?page=2"
    assert redact.redact(text) == text


def test_short_secrets_are_not_registered() -> None:
    redact.register_secret("1234")
    assert redact.redact("episode 1234") == "episode 1234"


def test_env_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANIVAULT_TMDB_KEY", "envcanary-0123456789")
    monkeypatch.setenv("ANIVAULT_PIN", "pin-canary-77")
    redact.register_env_secrets()
    out = redact.redact("key envcanary-0123456789 pin pin-canary-77")
    assert "envcanary" not in out and "pin-canary" not in out


@given(prefix=st.text(max_size=40), suffix=st.text(max_size=40))
def test_property_registered_secret_never_survives(prefix: str, suffix: str) -> None:
    redact.register_secret(CANARY)
    for spelling in all_spellings(CANARY):
        assert spelling not in redact.redact(prefix + spelling + suffix)
