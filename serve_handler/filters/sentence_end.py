"""Cut a draft that ran out of tokens back to its last complete sentence.

A draft the model ended itself (end-of-text or newline) is kept as it is. One cut by the token budget usually
stops mid-sentence, so it is cut right after its last sentence end, or rejected when it has none.

A sentence end is a run of . ! ? … (so "?!" and "..." count once), then any closing quotes or brackets, then
whitespace or the end of the text. A mark followed by anything else is inside a token such as "3.5", "e.g",
"example.com" or "?!x", so it ends nothing. A lone full stop also ends nothing after an abbreviation
(textrules.sentences, the list the corpus build splits passages with too: "e.g.", "J. Random Hacker", "Dr.").
The end of an incomplete text counts as followed by whitespace: what was cut there is unknown, and a text that
stops at a full stop reads as a whole sentence either way.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import ClassVar

from serve_handler.filters.base import CandidateFilter, Draft
from serve_handler.request import GenerationRequest
from textrules.sentences import CLOSERS, is_abbreviation

_SENTENCE_END = re.compile(rf"([.!?…]+)[{re.escape(CLOSERS)}]*(?=\s|\Z)")

def last_sentence_end(text: str) -> int | None:
    """The index right after the last sentence end in `text` (see the module docstring), or None."""
    for match in reversed(list(_SENTENCE_END.finditer(text))):
        before = text[: match.start()].split()
        if match.group(1) == "." and before and is_abbreviation(before[-1]):
            continue
        return match.end()
    return None


def cut_at_sentence_end(text: str, complete: bool) -> str | None:
    """A complete line as it is, else `text` up to its last sentence end; None when it has none."""
    if complete:
        return text
    end = last_sentence_end(text)
    return None if end is None else text[:end]


class SentenceEndCut(CandidateFilter):
    reason: ClassVar[str] = "sentence_end"

    def __call__(self, drafts: Sequence[Draft], requests: Sequence[GenerationRequest]) -> list[Draft | None]:
        return [_cut(draft) for draft in drafts]


def _cut(draft: Draft) -> Draft | None:
    text = cut_at_sentence_end(draft.text, draft.complete)
    # The mean log-prob stays that of everything generated: the cut-off part was drawn under the same settings.
    return None if text is None else replace(draft, text=text)
