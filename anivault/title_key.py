"""``title_norm``: the key that groups releases of one show together."""

from __future__ import annotations

import re
import unicodedata

# Every run of characters that is not a letter or digit (in any script) becomes one space. `\w` is
# Unicode-aware, so CJK, Hangul and accented Latin letters count as letters; `_` is folded explicitly.
_NON_WORD = re.compile(r"[\W_]+")


def normalize_title(text: str) -> str:
    """NFKC, casefold, punctuation folded to single spaces, trimmed. Idempotent.

    >>> normalize_title("Re:Zero − Kara Hajimeru  Isekai Seikatsu!")
    're zero kara hajimeru isekai seikatsu'
    """
    # NFKC then casefold then NFKC again: casefold can produce text that NFKC would still change
    # (e.g. some compatibility characters), and the key must be a fixed point.
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return _NON_WORD.sub(" ", folded).strip()
