"""Bluesky's text rules for a post record (`app.bsky.feed.post`): its length, and the link facets it needs.

    grapheme_length("👩‍💻 ok")   -> 4      extended grapheme clusters, what the PDS counts (the `regex` package's \\X)
    too_long(text)               -> None, or "301 graphemes, Bluesky allows 300"
    link_facets(text)            -> [{"index": {"byteStart": 6, "byteEnd": 25},
                                      "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://…"}]}]

The lexicon limits `text` twice: MAX_GRAPHEMES (300) user-perceived characters and MAX_BYTES (3000) bytes of
UTF-8, so 300 family emoji (25 bytes each) are still refused. Bluesky makes no link out of a bare URL in the text:
the client marks it with a facet whose index is a half-open range of UTF-8 byte offsets (not code points, not
UTF-16 units). The PDS does not check those ranges, so they must be right here.
"""

from __future__ import annotations

import re
from typing import Any

import regex

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
LINK_FEATURE = "app.bsky.richtext.facet#link"

# A URL starts at a word boundary and runs to the next white space; what ends a sentence is cut off below.
_URL = re.compile(r"(?<![\w/])https?://[^\s/?#]+[^\s]*")
_TRAILING = ".,;:!?"
_BRACKETS = {")": "(", "]": "[", "}": "{"}
_GRAPHEME = regex.compile(r"\X")


def grapheme_length(text: str) -> int:
    return sum(1 for _ in _GRAPHEME.finditer(text))


def too_long(text: str) -> str | None:
    """Why the PDS would refuse `text` as a post's text for its length; None when it fits."""
    graphemes = grapheme_length(text)
    if graphemes > MAX_GRAPHEMES:
        return f"{graphemes} graphemes, Bluesky allows {MAX_GRAPHEMES}"
    size = len(text.encode("utf-8"))
    if size > MAX_BYTES:
        return f"{size} bytes of UTF-8, Bluesky allows {MAX_BYTES}"
    return None


def link_urls(text: str) -> list[tuple[int, int, str]]:
    """(start, end, url) in code points for every http(s) URL of `text`, trailing punctuation left out."""
    found = []
    for match in _URL.finditer(text):
        url = _trim(match.group())
        if "://" in url and url.split("://", 1)[1]:
            found.append((match.start(), match.start() + len(url), url))
    return found


def link_facets(text: str) -> list[dict[str, Any]]:
    """The `app.bsky.richtext.facet` objects that make every URL of `text` a link; [] when it has none."""
    facets = []
    for start, end, url in link_urls(text):
        byte_start = len(text[:start].encode("utf-8"))
        byte_end = byte_start + len(text[start:end].encode("utf-8"))
        facets.append({"index": {"byteStart": byte_start, "byteEnd": byte_end},
                       "features": [{"$type": LINK_FEATURE, "uri": url}]})
    return facets


def _trim(url: str) -> str:
    """`url` without the sentence punctuation after it: "(see https://a.b/c)." -> "https://a.b/c"."""
    while url:
        last = url[-1]
        if last in _TRAILING:
            url = url[:-1]
        elif last in _BRACKETS and url.count(last) > url.count(_BRACKETS[last]):
            url = url[:-1]  # closes a bracket opened before the URL, as in "(https://a.b)"
        else:
            break
    return url
