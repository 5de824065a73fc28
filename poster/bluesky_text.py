"""Bluesky's text rules for a post record (`app.bsky.feed.post`): its length, and the link and mention facets it needs.

    grapheme_length("👩‍💻 ok")   -> 4      extended grapheme clusters, what the PDS counts (the `regex` package's \\X)
    too_long(text)               -> None, or "301 graphemes, Bluesky allows 300"
    link_facets(text)            -> [{"index": {"byteStart": 6, "byteEnd": 25},
                                      "features": [{"$type": "app.bsky.richtext.facet#link", "uri": "https://…"}]}]
    mention_facet("@ann.test hi", "ann.test", "did:plc:…")
                                 -> {"index": {"byteStart": 0, "byteEnd": 9},
                                     "features": [{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:…"}]}

The lexicon limits `text` twice: MAX_GRAPHEMES (300) user-perceived characters and MAX_BYTES (3000) bytes of
UTF-8, so 300 family emoji (25 bytes each) are still refused. Bluesky makes no link out of a bare URL in the text:
the client marks it with a facet whose index is a half-open range of UTF-8 byte offsets (not code points, not
UTF-16 units). The PDS does not check those ranges, so they must be right here. The same goes for "@handle": it is
plain text until a mention facet names the account's DID over it, and only that facet notifies the account (the
AppView makes mention notifications from facets, never from the text).
"""

from __future__ import annotations

import re
from typing import Any

import regex

MAX_GRAPHEMES = 300
MAX_BYTES = 3000
LINK_FEATURE = "app.bsky.richtext.facet#link"
MENTION_FEATURE = "app.bsky.richtext.facet#mention"

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
    return [_facet(text, start, end, {"$type": LINK_FEATURE, "uri": url}) for start, end, url in link_urls(text)]


def mention_facet(text: str, handle: str, did: str) -> dict[str, Any] | None:
    """The facet that makes the first "@handle" of `text` (not inside a longer handle or an e-mail address) a
    mention of `did`; None when the text does not name the handle."""
    # A handle's labels are letters, digits and hyphens joined by dots; a dot after it ends the sentence.
    pattern = rf"(?<![\w@.])@{re.escape(handle.lstrip('@'))}(?![\w-]|\.[\w-])"
    found = re.search(pattern, text, flags=re.IGNORECASE)  # handles are case-insensitive
    if found is None:
        return None
    return _facet(text, found.start(), found.end(), {"$type": MENTION_FEATURE, "did": did})


def _facet(text: str, start: int, end: int, feature: dict[str, str]) -> dict[str, Any]:
    """A facet over text[start:end] (code points), its index in UTF-8 bytes as the lexicon wants."""
    byte_start = len(text[:start].encode("utf-8"))
    byte_end = byte_start + len(text[start:end].encode("utf-8"))
    return {"index": {"byteStart": byte_start, "byteEnd": byte_end}, "features": [feature]}


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
