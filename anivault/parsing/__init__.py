"""File-name parsing: anitopy first, then general rules for the conventions it misses.

>>> from anivault.parsing import parse_name
>>> p = parse_name("[SubsPlease] Sousou no Frieren S2 - 03 (1080p) [0A1B2C3D].mkv")
>>> (p.title, p.season, p.episode, p.release_group)
('Sousou no Frieren', 2, 3, 'SubsPlease')
"""

from anivault.parsing.model import PARSER_VERSION, ParsedName
from anivault.parsing.parser import parse_name
from anivault.title_key import normalize_title

__all__ = ["PARSER_VERSION", "ParsedName", "normalize_title", "parse_name"]
