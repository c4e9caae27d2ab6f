"""Secret redaction for every text AniVault writes about itself: log records, crash output, error lines.

Two layers. Known secrets (the TMDB key once it is loaded, the PIN, ``ANIVAULT_TMDB_KEY``) are registered
here and removed in every spelling a library might log them in: raw, URL-encoded (``quote``/``quote_plus``)
and base64 (standard and URL-safe, with and without padding). Patterns catch what was never registered:
``api_key=…`` in a query string or JSON, and ``Bearer …`` headers. The TMDB client passes the key in the
query string for v3 keys, and urllib3 logs full URLs at DEBUG and puts them in ``MaxRetryError`` text,
which is why the pattern layer exists even when registration works.
"""

from __future__ import annotations

import base64
import os
import re
import threading
from typing import Final
from urllib.parse import quote, quote_plus

MASK: Final = "***"
# Secrets shorter than this are not registered: masking "1234" everywhere would garble ordinary output,
# and the only short secret (a PIN) never reaches a log line through our code.
_MIN_SECRET_LEN: Final = 6
_ENV_SECRETS: Final = ("ANIVAULT_TMDB_KEY", "ANIVAULT_PIN")

_PATTERNS: Final = (
    # api_key=VALUE in a URL or form body; "api_key": "VALUE" in JSON; api_key: VALUE in a repr.
    re.compile(r"""(?i)(api[_-]?key\s*[=:]\s*["']?)[^&\s"',;)}\]]+"""),
    re.compile(r"""(?i)(["']api[_-]?key["']\s*:\s*["'])[^"']+"""),
    re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"""(?i)(\bauthorization["']?\s*[=:]\s*["']?)(?!bearer\b)[^\s"',;)}\]]+"""),
)

_lock = threading.Lock()
_variants: set[str] = set()
_regex: re.Pattern[str] | None = None


def spellings(secret: str) -> set[str]:
    """The forms in which ``secret`` could appear in text."""
    raw = secret.encode("utf-8")
    out = {secret, quote(secret, safe=""), quote_plus(secret)}
    for encoded in (base64.b64encode(raw), base64.urlsafe_b64encode(raw)):
        text = encoded.decode("ascii")
        out.add(text)
        out.add(text.rstrip("="))
    return {s for s in out if s}


def register_secret(secret: str | None) -> None:
    """From now on, ``secret`` is masked wherever :func:`redact` runs."""
    global _regex
    if not secret or len(secret) < _MIN_SECRET_LEN:
        return
    with _lock:
        new = spellings(secret) - _variants
        if not new:
            return
        _variants.update(new)
        # Longest first so a base64 spelling is masked whole rather than around a shorter raw match.
        _regex = re.compile("|".join(re.escape(v) for v in sorted(_variants, key=len, reverse=True)))


def register_env_secrets() -> None:
    for name in _ENV_SECRETS:
        register_secret(os.environ.get(name, "").strip())


def forget_secrets() -> None:
    """Tests only: drop every registered secret."""
    global _regex
    with _lock:
        _variants.clear()
        _regex = None


def redact(text: str) -> str:
    """``text`` with every registered secret and every key-looking pattern masked."""
    regex = _regex
    if regex is not None:
        text = regex.sub(MASK, text)
    for pattern in _PATTERNS:
        text = pattern.sub(lambda m: m.group(1) + MASK, text)
    return text
