"""anitopy.parse, without its infinite loop.

anitopy 2.1's ``Parser.search_for_episode_title`` never returns when the first unenclosed unknown token
after the episode is a lone dash with at most one token after it ("Show 01 -", "Show 01 -_",
"Show S01E01 -"): on ``continue`` with no end token it restarts from the first token and finds the same
dash again. File names like that exist (truncated downloads, templated renames), and one of them would
hang an indexer worker forever. ``parse`` below is anitopy's own ``parse`` with that one method fixed;
everything else is anitopy's code. If anitopy's internals ever move, it falls back to ``anitopy.parse``
(and the pre-processing in ``rules.preprocess`` still strips trailing dashes, the common trigger).
"""

from __future__ import annotations

from typing import Any

import anitopy

try:
    from anitopy import parser_helper
    from anitopy.anitopy import default_options
    from anitopy.element import ElementCategory, Elements
    from anitopy.parser import Parser
    from anitopy.token import TokenCategory, TokenFlags, Tokens
    from anitopy.tokenizer import Tokenizer
except ImportError:  # pragma: no cover - a future anitopy layout
    Parser = None


if Parser is not None:

    class _TerminatingParser(Parser):  # type: ignore[misc]
        def search_for_episode_title(self) -> None:
            token_end = None
            while True:
                # Find the first non-enclosed unknown token
                if token_end:
                    token_begin = Tokens.find_next(token_end, TokenFlags.NOT_ENCLOSED | TokenFlags.UNKNOWN)
                else:
                    token_begin = Tokens.find(TokenFlags.NOT_ENCLOSED | TokenFlags.UNKNOWN)
                if token_begin is None:
                    return
                # Continue until a bracket or identifier is found
                token_end = Tokens.find_next(token_begin, TokenFlags.BRACKET | TokenFlags.IDENTIFIER)
                # Ignore if it's only a dash
                if Tokens.distance(token_begin, token_end) <= 2 and parser_helper.is_dash_character(
                    token_begin.content
                ):
                    if token_end is None:
                        return  # the fix: nothing follows, so there is no episode title
                    continue
                # If token end is a bracket, then we get the previous token to be included
                if token_end and token_end.category == TokenCategory.BRACKET:
                    token_end = Tokens.find_previous(token_end, TokenFlags.VALID)
                parser_helper.build_element(
                    ElementCategory.EPISODE_TITLE, token_begin, token_end, keep_delimiters=False
                )
                return


def parse(text: str, options: dict[str, Any]) -> dict[str, Any] | None:
    """``anitopy.parse(text, options)`` for a name whose extension was already removed."""
    if Parser is None:  # pragma: no cover
        result = anitopy.parse(text, options=options)
        return result if isinstance(result, dict) else None
    for key, value in default_options.items():
        options.setdefault(key, value)
    Elements.clear()
    Tokens.clear()
    Elements.insert(ElementCategory.FILE_NAME, text)
    if not text:
        return None
    if not Tokenizer(text, options).tokenize():
        return None
    if not _TerminatingParser(options).parse():
        return None
    result = Elements.get_dictionary()
    return result if isinstance(result, dict) else None
