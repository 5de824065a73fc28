"""Reddit dumps in Pushshift NDJSON (format `reddit`; always chosen with the `reddit:` prefix).

One JSON object per line, submissions and comments mixed freely:
  submission: id, title, selftext, score, over_18
  comment:    id, body, score, parent_id ("t1_<comment id>" or "t3_<submission id>"), link_id ("t3_<id>")
A line with `body` is a comment, else one with `title` is a submission; anything else, malformed
JSON, or a non-integer score is a `SourceError` naming the line. Other fields are ignored.

Filters:
- `options.min_score`: items scored below it are dropped (a missing score counts as 0).
- NSFW items are dropped unless `options.allow_nsfw`: a submission when its `over_18` is true; a
  comment when its own `over_18` is, or its submission's when that submission is in the file.
- "[removed]", "[deleted]" and "[deleted by user]" are no text: such a comment is dropped, such a
  selftext counts as empty (the title stays), a submission left with no title is dropped.

Texts without `options.conversation_tags`: a submission gives its selftext with the title as
`title` (a link or title-only post gives the title as text); a comment gives its body.

With `options.conversation_tags`, texts carry the tags that GPT-2 Reddit bots are trained with,
so that a model learns where a post or reply starts and ends:
  <|sot|>title<|eot|>                  a submission's title
  <|sost|>selftext<|eost|>             its selftext, right after the title, when there is one
  <|sor|>body<|eor|>                   a comment
A reply to a comment that is in the file gets one level of context: the parent first, then the
reply, `<|sor|>parent body<|eor|><|sor|>reply body<|eor|>`. A top-level comment, or a reply whose
parent is not in the file (or was removed), stands alone.

Large dumps are streamed line by line in two passes (a `.gz` dump is decompressed twice). The
first pass remembers the ids of NSFW submissions and, with conversation tags, the body of every
usable comment by id, because a reply may come before its parent; memory grows with those, never
with the whole file. The second pass yields the records in file order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from dataset.sources.base import Record, SourceReader
from dataset.sources.jsonl import parse_json_object
from dataset.sources.textio import iter_lines, origin
from lorecast.errors import SourceError

REMOVED_MARKERS = frozenset({"[removed]", "[deleted]", "[deleted by user]"})


@dataclass
class _ThreadIndex:
    """What the first pass learns about the file."""

    nsfw_submissions: set[str] = field(default_factory=set)
    comment_bodies: dict[str, str] = field(default_factory=dict)


def _text(row: dict, key: str, path: Path, line: int) -> str:
    """A text field, "" when absent, null or a removal marker."""
    value = row.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise SourceError(path, f"field {key!r} holds {type(value).__name__}, not text", line)
    return "" if value.strip() in REMOVED_MARKERS else value


def _score(row: dict, path: Path, line: int) -> int:
    value = row.get("score", 0)
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SourceError(path, f"score {value!r} is not an integer", line)
    try:
        return int(value)
    except ValueError:
        raise SourceError(path, f"score {value!r} is not an integer", line) from None


def _without_prefix(fullname: object, prefix: str) -> str | None:
    """`"t3_abc"` -> `"abc"` for prefix "t3_"; None for anything else."""
    if isinstance(fullname, str) and fullname.startswith(prefix):
        return fullname[len(prefix) :]
    return None


class RedditReader(SourceReader):
    format = "reddit"
    suffixes = ()  # NDJSON looks like any JSONL file: only the explicit prefix picks this reader

    def read(self, path: Path) -> Iterator[Record]:
        index = self._index(path)
        for number, row in self._rows(path):
            if "body" in row:
                text, title = self._comment(row, index, path, number)
            else:
                text, title = self._submission(row, path, number)
            if text:
                yield Record(text=text, origin=origin(path, number), title=title)

    def _rows(self, path: Path) -> Iterator[tuple[int, dict]]:
        for number, line in iter_lines(path):
            if not line.strip():
                continue
            row = parse_json_object(line, path, number)
            if "body" not in row and "title" not in row:
                raise SourceError(path, "neither a comment (no 'body') nor a submission (no 'title')", number)
            yield number, row

    def _index(self, path: Path) -> _ThreadIndex:
        index = _ThreadIndex()
        if self.options.allow_nsfw and not self.options.conversation_tags:
            return index  # nothing to look up: skip the first pass
        for number, row in self._rows(path):
            item_id = row.get("id")
            if "body" not in row:
                if row.get("over_18") is True and isinstance(item_id, str):
                    index.nsfw_submissions.add(item_id)
            elif self.options.conversation_tags and isinstance(item_id, str):
                body = _text(row, "body", path, number)
                if body:
                    index.comment_bodies[item_id] = body
        return index

    def _kept(self, row: dict, nsfw: bool, path: Path, line: int) -> bool:
        if nsfw and not self.options.allow_nsfw:
            return False
        return self.options.min_score is None or _score(row, path, line) >= self.options.min_score

    def _submission(self, row: dict, path: Path, line: int) -> tuple[str, str]:
        """(text, title) of a submission; empty text when it is filtered out."""
        if not self._kept(row, row.get("over_18") is True, path, line):
            return "", ""
        title, selftext = _text(row, "title", path, line), _text(row, "selftext", path, line)
        if not title:
            return "", ""
        if self.options.conversation_tags:
            tagged = f"<|sot|>{title}<|eot|>"
            if selftext:
                tagged += f"<|sost|>{selftext}<|eost|>"
            return tagged, ""
        return (selftext, title) if selftext else (title, "")

    def _comment(self, row: dict, index: _ThreadIndex, path: Path, line: int) -> tuple[str, str]:
        """(text, title) of a comment; empty text when it is filtered out."""
        submission = _without_prefix(row.get("link_id"), "t3_")
        nsfw = row.get("over_18") is True or submission in index.nsfw_submissions
        if not self._kept(row, nsfw, path, line):
            return "", ""
        body = _text(row, "body", path, line)
        if not body or not self.options.conversation_tags:
            return body, ""
        parent = _without_prefix(row.get("parent_id"), "t1_")
        context = index.comment_bodies.get(parent) if parent else None
        reply = f"<|sor|>{body}<|eor|>"
        return (f"<|sor|>{context}<|eor|>{reply}" if context else reply), ""
