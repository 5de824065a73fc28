"""How long X counts a text: the weighted length of twitter-text's configuration v3, which X enforces.

    weighted_length("hello")        -> 5
    weighted_length("日本語")        -> 6      CJK counts 2 per character
    weighted_length("ok 👍🏽")        -> 5      an emoji sequence counts 2, however many code points it takes
    weighted_length("https://example.org/a/very/long/path") -> 23
    weighted_length(text) <= MAX_WEIGHTED_LENGTH   is what X accepts

The rules (configuration v3: maxWeightedTweetLength 280, scale 100, defaultWeight 200, transformedURLLength 23):
the text is normalized to NFC first; every code point weighs 200 (two characters) except those in the ranges
0-4351 (Latin, Greek, Cyrillic, Hebrew, Arabic, Indic scripts...), 8192-8205, 8208-8223 and 8242-8247 (spaces,
dashes, quotes and primes of General Punctuation), which weigh 100; an emoji sequence weighs 200 as a whole; a URL
counts as 23 characters whatever its length (X shortens it to a t.co link).

What is simplified, always towards counting more, never less than X (so a text that fits here fits there):
- Emoji: twitter-text matches the exact emoji list of twemoji. Here a pictographic code point followed by
  variation selectors, skin-tone modifiers, tag characters or zero-width-joined pictographs counts as one emoji,
  as do regional-indicator pairs (flags) and keycaps. A pictograph standing alone weighs 200 either way.
- URLs: twitter-text recognises bare domains by its list of top-level domains. Here http(s):// and www. links
  count 23 exactly, and any other word.word token that ends in letters (example.com, but also file.txt) counts
  as 23 or as its own weight, whichever is more.
"""

from __future__ import annotations

import re
import unicodedata

MAX_WEIGHTED_LENGTH = 280
_SCALE = 100
_DEFAULT_WEIGHT = 200
_LIGHT_RANGES = ((0, 4351), (8192, 8205), (8208, 8223), (8242, 8247))  # weight 100
_URL_WEIGHT = 23 * _SCALE
_EMOJI_WEIGHT = _DEFAULT_WEIGHT

# Code points X refuses in a post whatever the length (twitter-text's "invalid characters").
INVALID_CHARACTERS = frozenset("\ufffe\ufeff\uffff")

# Trailing punctuation is not part of a link ("see https://example.org." ends the link before the dot).
_LINK_END = r"(?=[.,;:!?'\")\]]*(?:\s|$))"
_NOT_MID_WORD = r"(?<![\w@.-])"
_LINK = rf"{_NOT_MID_WORD}(?:https?://|www\.)\S+?{_LINK_END}"
_LABEL = r"[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
_BARE_DOMAIN = rf"{_NOT_MID_WORD}{_LABEL}(?:\.{_LABEL})*\.[a-z]{{2,}}(?:/\S*?)?{_LINK_END}"

_PICTOGRAPH = (
    "\u00a9\u00ae\u203c\u2049\u2122\u2139\u2194-\u21ff\u2300-\u23ff\u24c2\u25a0-\u27bf\u2900-\u297f"
    "\u2b00-\u2bff\u3030\u303d\u3297\u3299\U0001f000-\U0001faff"
)
_EMOJI_MODIFIER = "\ufe0f\U0001f3fb-\U0001f3ff\U000e0020-\U000e007f"
_EMOJI = (
    r"[\U0001f1e6-\U0001f1ff]{2}"  # a flag: two regional indicators
    r"|[0-9#*]\ufe0f?\u20e3"  # a keycap
    rf"|[{_PICTOGRAPH}][{_EMOJI_MODIFIER}]*(?:\u200d[{_PICTOGRAPH}][{_EMOJI_MODIFIER}]*)*"
)

_TOKENS = re.compile(
    rf"(?P<link>{_LINK})|(?P<bare>{_BARE_DOMAIN})|(?P<emoji>{_EMOJI})|(?P<char>.)",
    re.IGNORECASE | re.DOTALL,
)


def weighted_length(text: str) -> int:
    """The length X counts for `text`, in characters (a CJK character or an emoji counts 2)."""
    total = 0
    for match in _TOKENS.finditer(unicodedata.normalize("NFC", text)):
        kind = match.lastgroup
        if kind == "link":
            total += _URL_WEIGHT
        elif kind == "bare":
            total += max(_URL_WEIGHT, sum(_code_point_weight(char) for char in match.group()))
        elif kind == "emoji":
            total += _EMOJI_WEIGHT
        else:
            total += _code_point_weight(match.group())
    return total // _SCALE


def _code_point_weight(char: str) -> int:
    code_point = ord(char)
    if any(start <= code_point <= end for start, end in _LIGHT_RANGES):
        return _SCALE
    return _DEFAULT_WEIGHT


def has_link(text: str) -> bool:
    """Whether X would see a link in `text` (http(s)://, www., or a bare domain): X bills such a post higher."""
    return any(match.lastgroup in ("link", "bare") for match in _TOKENS.finditer(unicodedata.normalize("NFC", text)))
