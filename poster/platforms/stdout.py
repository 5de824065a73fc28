"""The `stdout` platform: prints each post instead of publishing it, for dry runs and the demo.

    platform = StdoutPlatform()                 # prints to sys.stdout as it is when posting
    platform.post(draft)    -> "stdout-aaf4c61ddcc5"   "stdout-" + the first 12 hex digits of the text's SHA-1
    platform.find(draft)    -> that id, for a text printed by this object; None otherwise
    platform.engagement(ids) -> zero counts for ids it printed; other ids are left out
    StdoutPlatform(mentions=["what do you know about kernels?"]).mentions(after)
                            -> those made-up mentions, as if @someone wrote them (`lorecast reply stdout
                               --stdout-mention TEXT`): ids "stdout-mention-" + 12 hex digits of the text's SHA-1

It accepts every non-empty text and keeps no state beyond this process: a later run's find() knows nothing.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import TextIO

from poster.platforms.base import Draft, Engagement, Mention, MentionPage, Platform

MENTION_AUTHOR = "someone"


class StdoutPlatform(Platform):
    name = "stdout"
    replies = True

    def __init__(self, stream: TextIO | None = None, account: str = "stdout", mentions: Sequence[str] = ()) -> None:
        # None means sys.stdout at the time of printing, so a redirected stdout (tests, click) is honoured.
        self._stream = stream
        self.account = account
        self.own_id = account
        self._printed: dict[str, str] = {}  # text -> id
        now = datetime.now(timezone.utc)
        self._mentions = [Mention(f"stdout-mention-{_digest(text)}", MENTION_AUTHOR, MENTION_AUTHOR, text, now)
                          for text in mentions]

    def __repr__(self) -> str:
        return f"StdoutPlatform(account={self.account!r})"

    def fits(self, text: str) -> str | None:
        return "empty text" if not text.strip() else None

    def post(self, draft: Draft) -> str:
        text = draft.text
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write(text + "\n")
        stream.flush()
        post_id = f"stdout-{_digest(text)}"
        self._printed[text] = post_id
        return post_id

    def find(self, draft: Draft) -> str | None:
        return self._printed.get(draft.text)

    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]:
        printed = set(self._printed.values())
        return {post_id: Engagement() for post_id in ids if post_id in printed}

    def mentions(self, after: str | None) -> MentionPage:
        # Made up anew by every process: the ledger, which stores each mention once, tells which are new.
        return MentionPage(list(self._mentions), self._mentions[-1].id if self._mentions else after)


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
