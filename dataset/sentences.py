"""Split long passages into examples made of whole sentences, with no NLP library.

A sentence ends at `.`, `!`, `?`, `...` or `…`, optionally followed by closing quotes or
brackets, when whitespace and then an uppercase letter or a digit (possibly after an opening
quote or bracket) come next. So decimals (`3.14`), an ellipsis inside a sentence (`wait... what`)
and `etc.` before a lowercase word never split. A single `.` does not end a sentence after an
abbreviation (the list the served texts are cut with too: `Dr.`, `e.g.`, a capital initial) or a list number
(`... former. 2. To ...`), unless a closing quote follows it. The splitter is `textrules.sentences`'s, so that
the worker's novelty check splits candidates exactly as the archive split the training lines.

`chunk_passage` then packs consecutive sentences greedily into chunks of at most `limit`
characters, joined by one space. A sentence longer than the limit stays whole as its own chunk
(the `length` rule decides its fate).
"""

from __future__ import annotations

from textrules.sentences import split_sentences

__all__ = ["chunk_passage", "split_sentences"]  # the splitter is textrules's, shared with the worker


def chunk_passage(text: str, limit: int, first_limit: int | None = None) -> list[str]:
    """`text` as one chunk when it fits, else packed sentence chunks of at most `limit` chars.

    `first_limit` (default `limit`) bounds the first chunk, which leaves room for a title prefix.
    """
    first_limit = limit if first_limit is None else first_limit
    if len(text) <= first_limit:
        return [text]
    chunks: list[str] = []
    current = ""
    for sentence in split_sentences(text):
        capacity = limit if chunks else first_limit
        joined = f"{current} {sentence}" if current else sentence
        if current and len(joined) > capacity:
            chunks.append(current)
            current = sentence
        else:
            current = joined
    if current:
        chunks.append(current)
    return chunks
