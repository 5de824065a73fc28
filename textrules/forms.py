"""The normal forms texts are compared in, one per purpose. They differ on purpose; each says what it ignores.

    novelty_form    novelty index and the batch's duplicate check: is this text a copy of another?
                    NFKC, case folded, whitespace runs -> one space, punctuation and spaces stripped at both ends
                    (a generation cut at a sentence end differs from its training line in exactly these ways).
                    Inner punctuation is kept: it is content.
    blocklist_form  blocklist matching: does this text spell a blocked word, however obscured?
                    NFKD with combining marks dropped ("bád" -> "bad"), case folded, runs of one character
                    longer than three cut to three ("baaaaad" -> "baaad", which bounds the matcher's work).
                    Punctuation and spacing are kept: the matcher reads through them itself.
    ledger_form     the posters' ledger: is this "the same text" to a reader, so never posted twice?
                    NFKC, case folded (NFKC again after casefold, which can make foldable characters), whitespace
                    runs -> one space. Punctuation is kept: "It works." and "It works!" are two posts.
    platform_form   what X and Tumblr store of a posted text, to find it again after a crash: NFC, ends
                    trimmed. Case and spacing are kept: the platform keeps them.
"""

from __future__ import annotations

import re
import unicodedata

_LONG_RUN = re.compile(r"(.)\1{3,}", re.DOTALL)


def novelty_form(text: str) -> str:
    text = " ".join(unicodedata.normalize("NFKC", text).casefold().split())
    start, end = 0, len(text)
    while start < end and _is_edge_junk(text[start]):
        start += 1
    while end > start and _is_edge_junk(text[end - 1]):
        end -= 1
    return text[start:end]


def blocklist_form(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    folded = "".join(char for char in decomposed if not unicodedata.combining(char)).casefold()
    return _LONG_RUN.sub(r"\1\1\1", folded)


def ledger_form(text: str) -> str:
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", text).casefold())
    return " ".join(folded.split())


def platform_form(text: str) -> str:
    return unicodedata.normalize("NFC", text).strip()


def _is_edge_junk(char: str) -> bool:
    return char.isspace() or unicodedata.category(char).startswith("P")
