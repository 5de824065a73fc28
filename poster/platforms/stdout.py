"""The `stdout` platform: prints each post instead of publishing it, for dry runs and the demo.

    platform = StdoutPlatform()                 # prints to sys.stdout as it is when posting
    platform.post(draft)    -> "stdout-aaf4c61ddcc5"   "stdout-" + the first 12 hex digits of the text's SHA-1
    platform.find(draft)    -> that id, for a text printed by this object; None otherwise
    platform.engagement(ids) -> zero counts for ids it printed; other ids are left out

It accepts every non-empty text and keeps no state beyond this process: a later run's find() knows nothing.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from typing import TextIO

from poster.platforms.base import Draft, Engagement, Platform


class StdoutPlatform(Platform):
    name = "stdout"

    def __init__(self, stream: TextIO | None = None, account: str = "stdout") -> None:
        # None means sys.stdout at the time of printing, so a redirected stdout (tests, click) is honoured.
        self._stream = stream
        self.account = account
        self._printed: dict[str, str] = {}  # text -> id

    def __repr__(self) -> str:
        return f"StdoutPlatform(account={self.account!r})"

    def fits(self, text: str) -> str | None:
        return "empty text" if not text.strip() else None

    def post(self, draft: Draft) -> str:
        text = draft.text
        stream = self._stream if self._stream is not None else sys.stdout
        stream.write(text + "\n")
        stream.flush()
        post_id = "stdout-" + hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
        self._printed[text] = post_id
        return post_id

    def find(self, draft: Draft) -> str | None:
        return self._printed.get(draft.text)

    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]:
        printed = set(self._printed.values())
        return {post_id: Engagement() for post_id in ids if post_id in printed}
