"""Tumblr API v2 with OAuth 1.0a (HMAC-SHA1): the `tumblr` platform, posting NPF text posts to one blog.

    tumblr = TumblrPlatform(credentials, blog="mybot", tags=("lorecast", "bot"))
    tumblr.account          the blog, as given
    tumblr.fits(text)       None, or why not (empty, more than 4096 characters)
    tumblr.post(draft)      POST /v2/blog/{blog}/posts {"content": [{"type": "text", "text"}], "tags": "a,b",
                            "state": "published"}                     -> 201 {"meta", "response": {"id": "..."}}
    tumblr.find(draft)      GET /v2/blog/{blog}/posts?npf=true&limit=20&offset=...  (the 100 latest posts)
                            -> {"response": {"posts": [{"id_string", "content": [blocks], "note_count"}, ...]}}
    tumblr.engagement(ids)  GET /v2/blog/{blog}/posts?id=ID&npf=true, one request per id (404: left out)

Engagement: Tumblr gives one number, the post's notes, which lumps likes, reblogs and replies together. It is
stored as `likes=note_count` (reposts and replies 0), so Engagement.total is the note count.

Errors, from Tumblr's envelope {"meta": {"status", "msg"}, "errors": [{"title", "detail", "code"}]}:
    401, 403                                -> AuthRefused
    429                                     -> RateLimited(reset_at from Retry-After, or from the
                                               X-Ratelimit-Perhour/Perday-Reset seconds of the exhausted limit)
    5xx, timeouts, dropped connections      -> PlatformError(transient=True)
    other 4xx, a success body not Tumblr's  -> PlatformError(transient=False)
Tumblr has no duplicate-post error: the run's find() is what keeps a text from going out twice.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import requests

from lorecast.errors import AuthRefused, LorecastError, RateLimited
from poster.credentials import OAuth1Credentials
from poster.platforms.base import Draft, Engagement, Platform
from poster.platforms.http import SignedApi, header_number, resets
from poster.responses import excerpt, json_body
from textrules.forms import platform_form

MAX_TEXT_CHARS = 4096  # the longest text block this client sends
PAGE_SIZE = 20  # Tumblr's maximum `limit` for a blog's posts
FIND_SCAN = 100  # the most recent posts find() looks through


class TumblrPlatform(Platform):
    name = "tumblr"

    def __init__(self, credentials: OAuth1Credentials, blog: str, api_url: str = "https://api.tumblr.com",
                 tags: Sequence[str] = (), timeout: float = 30.0) -> None:
        if not blog.strip():
            raise LorecastError("no Tumblr blog given (its name, as in NAME.tumblr.com)")
        bad_tags = [tag for tag in tags if "," in tag or not tag.strip()]
        if bad_tags:
            # Tumblr takes tags as one comma-separated string: a comma inside a tag would split it.
            raise LorecastError(f"Tumblr tags must be non-empty and hold no comma: {bad_tags!r}")
        self.account = blog.strip()
        self.api_url = api_url.rstrip("/")
        self.tags = tuple(tag.strip() for tag in tags)
        self._api = SignedApi("Tumblr", credentials, timeout)
        self._posts_path = f"/v2/blog/{quote(self.account, safe='')}/posts"

    def __repr__(self) -> str:
        return f"TumblrPlatform({self.account!r}, {self.api_url!r})"

    def fits(self, text: str) -> str | None:
        if not text.strip():
            return "empty text"
        if len(text) > MAX_TEXT_CHARS:
            return f"{len(text)} characters, a Tumblr text block here takes {MAX_TEXT_CHARS}"
        return None

    def post(self, draft: Draft) -> str:
        body: dict[str, Any] = {"content": [{"type": "text", "text": draft.text}], "state": "published"}
        if self.tags:
            body["tags"] = ",".join(self.tags)
        response = self._call("POST", self._posts_path, json=body)
        post_id = _id(response)
        if post_id is None:
            # Tumblr took the request but does not say as what: the post may be out, so the run must look.
            raise self._api.error(f"Tumblr answered POST {self._posts_path} without a post id", transient=True)
        return post_id

    def find(self, draft: Draft) -> str | None:
        wanted = platform_form(draft.text)
        for offset in range(0, FIND_SCAN, PAGE_SIZE):
            posts = _posts(self._call("GET", self._posts_path,
                                      params={"npf": "true", "limit": PAGE_SIZE, "offset": offset}))
            for post in posts:
                if platform_form(_text_of(post)) == wanted:
                    return _id(post)
            if len(posts) < PAGE_SIZE:  # the blog has no older posts
                return None
        return None

    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]:
        counts: dict[str, Engagement] = {}
        for post_id in dict.fromkeys(ids):
            posts = self._call("GET", self._posts_path, params={"id": post_id, "npf": "true"}, missing_ok=True)
            for post in _posts(posts):
                notes = post.get("note_count")
                if _id(post) == post_id and isinstance(notes, int) and not isinstance(notes, bool):
                    counts[post_id] = Engagement(likes=notes)
        return counts

    def close(self) -> None:
        self._api.close()

    def _call(self, method: str, path: str, missing_ok: bool = False, **kwargs: Any) -> dict[str, Any]:
        """The "response" object of a 2xx answer ({} for a 404 when `missing_ok`); the mapped PlatformError for
        anything else."""
        response = self._api.send(method, self.api_url + path, **kwargs)
        document = json_body(response)
        status = response.status_code
        if 200 <= status < 300:
            inner = document.get("response") if isinstance(document, dict) else None
            if not isinstance(inner, dict):
                raise self._api.error(f"Tumblr answered {method} {path} with {excerpt(response)}, not its "
                                      'JSON envelope {"meta", "response"}',
                                      transient=method == "POST")  # a post may be out: let the run look
            return inner
        if status == 404 and missing_ok:
            return {}
        detail = _problem(document) or excerpt(response)
        where = f"{method} {path}"
        if status == 429:
            reset_at = _reset_at(response)
            raise self._api.error(f"Tumblr rate limit reached on {where}{resets(reset_at)}: {detail}", RateLimited,
                                  reset_at=reset_at)
        if status in (401, 403):
            raise self._api.error(f"Tumblr refused {where} (HTTP {status}): {detail}; check the app's keys, the "
                                  "access token (`lorecast auth tumblr`) and that the account owns the blog",
                                  AuthRefused)
        raise self._api.error(f"Tumblr answered HTTP {status} to {where}: {detail}", transient=status >= 500)


def _reset_at(response: requests.Response) -> float | None:
    """When a 429 ends, in unix seconds: Retry-After, else the reset of the hourly or daily limit that ran out
    (Tumblr's X-Ratelimit-*-Reset headers count seconds from now); None when Tumblr does not say."""
    now = time.time()
    retry_after = header_number(response, "Retry-After")
    if retry_after is not None:
        return now + retry_after
    exhausted = [
        header_number(response, f"X-Ratelimit-{period}-Reset")
        for period in ("Perhour", "Perday")
        if header_number(response, f"X-Ratelimit-{period}-Remaining") == 0
    ]
    known = [seconds for seconds in exhausted if seconds is not None]
    return now + max(known) if known else None


def _problem(document: Any) -> str | None:
    """Tumblr's reason in an error envelope: the errors' details, else meta.msg."""
    if not isinstance(document, dict):
        return None
    errors = document.get("errors")
    if isinstance(errors, list):
        details = [
            error.get("detail") or error.get("title")
            for error in errors
            if isinstance(error, dict) and isinstance(error.get("detail") or error.get("title"), str)
        ]
        if details:
            return "; ".join(details)
    meta = document.get("meta")
    if isinstance(meta, dict) and isinstance(meta.get("msg"), str):
        return meta["msg"]
    return None


def _posts(response: dict[str, Any]) -> list[dict[str, Any]]:
    posts = response.get("posts")
    return [post for post in posts if isinstance(post, dict)] if isinstance(posts, list) else []


def _id(obj: dict[str, Any]) -> str | None:
    """A post's id as a string: id_string where Tumblr gives one (its ids pass 2**53, too big for a JavaScript
    number; Python's json reads a numeric id exactly, so that one is taken too)."""
    for key in ("id_string", "id"):
        value = obj.get(key)
        if isinstance(value, str) and value:
            return value
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
    return None


def _text_of(post: dict[str, Any]) -> str:
    """The text of an NPF post: its text blocks, a line each."""
    blocks = post.get("content")
    if not isinstance(blocks, list):
        return ""
    return "\n".join(
        block["text"] for block in blocks
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
    )


