"""X (Twitter) API v2 with OAuth 1.0a user context: the `twitter` platform.

    x = TwitterPlatform(credentials, meter=Meter(...))   # api_url="https://api.x.com", allow_links=False
    x.fits(text)        None, or "301 weighted characters, X allows 280" (poster.twitter_text); a text with a
                        link is refused unless allow_links (X bills such a post about 13 times a plain one)
    x.post(draft)       POST /2/tweets {"text"}                 -> 201 {"data": {"id", "text"}}
                        a reply (draft.reply_to): {"text", "reply": {"in_reply_to_tweet_id": mention id}}; X adds
                        the thread's @mentions in front of the text where it does not start with them
    x.account, x.own_id GET /2/users/me                         -> {"data": {"id", "username", ...}}, once
    x.find(draft)       GET /2/users/:id/tweets?max_results=100&start_time=(a minute before the draft's row was
                        written)&tweet.fields=entities,referenced_tweets -> {"data": [{"id", "text", "entities",
                        "referenced_tweets"}, ...], "meta"}: only the posts since then, so a lookup reads (and
                        costs) little; up to 5 pages, then "cannot tell"; links compared by their originals, as X
                        shows every link as its t.co link. Replies are in (no exclude=replies): a reply is the
                        post that answers the mention with the same text once leading @mentions are set aside
    x.mentions(after)   GET /2/users/:id/mentions?since_id=after&max_results=100&expansions=author_id
                        &user.fields=username&tweet.fields=author_id,conversation_id,created_at,referenced_tweets,
                        in_reply_to_user_id -> {"data": [...], "includes": {"users": [{"id", "username"}]},
                        "meta": {"newest_id", "next_token"}}: newest first, following next_token (pagination_token)
                        back to `after`, at most MENTION_PAGES pages (after=None: the newest page only); the
                        account's own posts are in too (author_id == own_id). X serves only the 800 newest.
    x.engagement(ids)   GET /2/tweets?ids=1,2,...&tweet.fields=public_metrics, 100 ids a request
                        -> {"data": [{"id", "public_metrics": {"like_count", "retweet_count", "reply_count",
                            "quote_count", "impression_count"}}], "errors": [...ids not found...]}
    x.rate_limit        RateLimit(limit, remaining, reset_at) of the last answer's x-rate-limit-* headers

Billing (poster/costs.py): every call goes through the meter first, which refuses (BudgetReached) a call that
could pass a spending cap and records what it billed: a post ("post" or "post_with_link"), and each post or user
object read ("read": the user lookup, the timeline lookup, the engagement reads, each mention and each user
object that comes with the mentions).

Errors, from X's problem bodies {"title", "detail", "errors": [{"message"}]}:
    403 whose detail speaks of duplicate content -> DuplicatePost
    403 "You attempted to reply to a Tweet that is deleted or not visible to you." -> PlatformError (not transient)
    401, other 403                               -> AuthRefused
    429                                          -> RateLimited(reset_at = x-rate-limit-reset, unix seconds)
    5xx, timeouts, dropped connections           -> PlatformError(transient=True)
    other 4xx, a success body that is not X's    -> PlatformError(transient=False)
"""

from __future__ import annotations

import contextlib
import html
import re
from collections.abc import Sequence
from datetime import timedelta, timezone
from typing import Any

import requests

from lorecast.errors import AuthRefused, DuplicatePost, RateLimited
from poster.costs import Bill, Meter
from poster.credentials import OAuth1Credentials
from poster.platforms.base import MENTION_PAGES, Draft, Engagement, Mention, MentionPage, Platform
from poster.platforms.http import RateLimit, SignedApi, header_number, resets
from poster.responses import count, excerpt, json_body, shape, string_field, timestamp
from poster.twitter_text import INVALID_CHARACTERS, MAX_WEIGHTED_LENGTH, has_link, weighted_length
from textrules.forms import platform_form

ENGAGEMENT_BATCH = 100  # ids per GET /2/tweets: X's maximum
TIMELINE_SCAN = 100  # posts per page of the timeline find() reads: X's max_results
LOOKUP_PAGES = 5  # find() reads at most this many pages, then says it cannot tell
LOOKUP_MARGIN = timedelta(minutes=1)  # find() reads from this long before the row was written (clock skew)
MENTION_SCAN = 100  # mentions a page: X's max_results
MENTION_FIELDS = "author_id,conversation_id,created_at,referenced_tweets,in_reply_to_user_id"
_LEADING_MENTIONS = re.compile(r"(?:@\w{1,15}\s+)*", re.ASCII)  # the @usernames a text starts with


class TwitterPlatform(Platform):
    name = "twitter"
    replies = True

    def __init__(self, credentials: OAuth1Credentials, api_url: str = "https://api.x.com",
                 timeout: float = 30.0, meter: Meter | None = None, allow_links: bool = False) -> None:
        self.api_url = api_url.rstrip("/")
        self.rate_limit: RateLimit | None = None
        self.allow_links = allow_links
        self.meter = meter
        self._api = SignedApi("X", credentials, timeout)
        self._user: tuple[str, str] | None = None  # (id, username)

    def __repr__(self) -> str:
        return f"TwitterPlatform({self.api_url!r})"

    @property
    def account(self) -> str:
        return self._me()[1]

    @property
    def own_id(self) -> str:
        return self._me()[0]

    def fits(self, text: str) -> str | None:
        if not text.strip():
            return "empty text"
        invalid = sorted(INVALID_CHARACTERS.intersection(text))
        if invalid:
            return f"holds {', '.join(f'U+{ord(char):04X}' for char in invalid)}, which X refuses"
        length = weighted_length(text)
        if length > MAX_WEIGHTED_LENGTH:
            return f"{length} weighted characters, X allows {MAX_WEIGHTED_LENGTH}"
        if not self.allow_links and has_link(text):
            return "holds a link, which X bills at about 13 times a plain post (--allow-links posts it)"
        return None

    def post(self, draft: Draft) -> str:
        body: dict[str, Any] = {"text": draft.text}
        if draft.reply_to is not None:
            body["reply"] = {"in_reply_to_tweet_id": draft.reply_to.id}
        with self._bill("post_with_link" if has_link(draft.text) else "post") as bill:
            bill.units = 1  # billed once sent, even when the answer is lost
            document = self._call("POST", "/2/tweets", json=body)
        post_id = string_field(document.get("data"), "id")
        if post_id is None:
            # X took the request but the answer does not say as what: the post may be out, so the run must look.
            raise self._api.error(f"X answered POST /2/tweets without a post id: {shape(document)}",
                                  transient=True)
        return post_id

    def find(self, draft: Draft) -> str | None:
        user_id = self._me()[0]
        since = (draft.created_at - LOOKUP_MARGIN).astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        # No exclude=replies: the timeline must hold the account's replies too.
        params: dict[str, Any] = {"max_results": TIMELINE_SCAN, "start_time": since,
                                  "tweet.fields": "entities,referenced_tweets"}
        for _ in range(LOOKUP_PAGES):
            with self._bill("read", at_most=TIMELINE_SCAN) as bill:
                document = self._call("GET", f"/2/users/{user_id}/tweets", params=params)
                bill.units = len(_list(document, "data"))
            for item in _list(document, "data"):
                if _is_sent(item, draft):
                    return string_field(item, "id")
            next_token = string_field(document.get("meta"), "next_token")
            if next_token is None:
                return None
            params["pagination_token"] = next_token
        # Not transient: reading the same pages again (and paying for them) would tell no more.
        raise self._api.error(f"X: the post was not among the {LOOKUP_PAGES * TIMELINE_SCAN} newest since its row "
                              "was written; cannot tell whether it is out")

    def mentions(self, after: str | None) -> MentionPage:
        user_id = self._me()[0]
        params: dict[str, Any] = {"max_results": MENTION_SCAN, "tweet.fields": MENTION_FIELDS,
                                  "expansions": "author_id", "user.fields": "username"}
        if after is not None:
            params["since_id"] = after
        found: dict[str, Mention] = {}
        newest: str | None = None
        for _ in range(MENTION_PAGES if after is not None else 1):
            with self._bill("read", at_most=2 * MENTION_SCAN) as bill:  # each post and each user object read
                document = self._call("GET", f"/2/users/{user_id}/mentions", params=params)
                includes = document.get("includes")
                users = _list(includes, "users") if isinstance(includes, dict) else []
                bill.units = len(_list(document, "data")) + len(users)
            names = {string_field(user, "id"): string_field(user, "username") for user in users}
            for item in _list(document, "data"):
                mention = _mention(item, names)
                if mention is not None:
                    found.setdefault(mention.id, mention)
            meta = document.get("meta")
            newest = newest or string_field(meta, "newest_id")
            next_token = string_field(meta, "next_token")
            if next_token is None:
                return self._page(found, newest, after, complete=True)
            params["pagination_token"] = next_token
        # More pages were left: older mentions are left out, unless after=None, which asks for the newest page only.
        return self._page(found, newest, after, complete=after is None)

    @staticmethod
    def _page(found: dict[str, Mention], newest: str | None, after: str | None, complete: bool) -> MentionPage:
        mentions = sorted(found.values(), key=lambda mention: (len(mention.id), mention.id))  # X's ids grow with time
        cursor = newest or (mentions[-1].id if mentions else after)
        return MentionPage(mentions, cursor, complete)

    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]:
        counts: dict[str, Engagement] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), ENGAGEMENT_BATCH):
            batch = unique[start:start + ENGAGEMENT_BATCH]
            with self._bill("read", at_most=len(batch)) as bill:
                document = self._call("GET", "/2/tweets",
                                      params={"ids": ",".join(batch), "tweet.fields": "public_metrics"})
                bill.units = len(_list(document, "data"))
            for item in _list(document, "data"):  # ids X no longer has come under "errors": left out
                post_id, metrics = string_field(item, "id"), item.get("public_metrics")
                if post_id is not None and isinstance(metrics, dict):
                    counts[post_id] = _engagement(metrics)
        return counts

    def close(self) -> None:
        self._api.close()

    def _me(self) -> tuple[str, str]:
        if self._user is None:
            with self._bill("read") as bill:
                data = self._call("GET", "/2/users/me").get("data")
                user_id, username = string_field(data, "id"), string_field(data, "username")
                if user_id is None or username is None:
                    raise self._api.error("X answered GET /2/users/me without the user's id and username")
                self._user = (user_id, username)
                bill.units = 1
                if self.meter is not None:
                    self.meter.account = username
        return self._user

    def _bill(self, kind: str, at_most: int = 1):
        """The meter's guard of one billed call (nothing to guard without a meter)."""
        return self.meter.call(kind, at_most) if self.meter is not None else contextlib.nullcontext(Bill(kind, 0))

    def _call(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        """The JSON object of a 2xx answer; the mapped PlatformError for anything else."""
        response = self._api.send(method, self.api_url + path, **kwargs)
        self._note_rate_limit(response)
        document = json_body(response)
        status = response.status_code
        if 200 <= status < 300:
            if not isinstance(document, dict):
                raise self._api.error(f"X answered {method} {path} with {excerpt(response)}, not a JSON object",
                                      transient=method == "POST")  # a post may be out: let the run look
            return document
        detail = _problem(document) or excerpt(response)
        where = f"{method} {path}"
        if status == 429:
            reset_at = header_number(response, "x-rate-limit-reset")
            raise self._api.error(f"X rate limit reached on {where}{resets(reset_at)}: {detail}", RateLimited,
                                  reset_at=reset_at)
        if status == 403 and "duplicate" in detail.lower():
            raise self._api.error(f"X refused the post as a duplicate: {detail}", DuplicatePost)
        if status == 403 and "reply to a tweet that is deleted or not visible" in detail.lower():
            # The mention is gone (or its author hides it from the account): the credentials are fine.
            raise self._api.error(f"X refused the reply, as the post it answers is gone: {detail}")
        if status in (401, 403):
            raise self._api.error(f"X refused {where} (HTTP {status}): {detail}; check the app's keys and its "
                                  "read and write permission, and the access token (`lorecast auth twitter`)",
                                  AuthRefused)
        raise self._api.error(f"X answered HTTP {status} to {where}: {detail}", transient=status >= 500)

    def _note_rate_limit(self, response: requests.Response) -> None:
        limit, remaining, reset_at = (header_number(response, f"x-rate-limit-{part}")
                                      for part in ("limit", "remaining", "reset"))
        if limit is not None and remaining is not None and reset_at is not None:
            self.rate_limit = RateLimit(int(limit), int(remaining), reset_at)


def _problem(document: Any) -> str | None:
    """X's reason in an error body: the messages of "errors" (specific) before "detail" and "title" (generic)."""
    if not isinstance(document, dict):
        return None
    messages = [error["message"] for error in _list(document, "errors") if isinstance(error.get("message"), str)]
    if messages:
        return "; ".join(messages)
    for key in ("detail", "title"):
        if isinstance(document.get(key), str):
            return document[key]
    return None


def _is_sent(item: dict[str, Any], draft: Draft) -> bool:
    """Whether the timeline's `item` is the draft's post: the same text; for a reply, one that answers the same
    mention with the same text once the leading @mentions (which X may add) are set aside."""
    sent = platform_form(_sent_text(item))
    if draft.reply_to is None:
        return sent == platform_form(draft.text)
    answered = [string_field(ref, "id") for ref in _list(item, "referenced_tweets")
                if string_field(ref, "type") == "replied_to"]
    return answered == [draft.reply_to.id] and _without_leading_mentions(sent) == \
        _without_leading_mentions(platform_form(draft.text))


def _without_leading_mentions(text: str) -> str:
    return text[_LEADING_MENTIONS.match(text).end():]  # type: ignore[union-attr]  # the pattern matches ""


def _mention(item: dict[str, Any], names: dict[str | None, str | None]) -> Mention | None:
    """The Mention of a mentions timeline item; None for one without what a reply needs (an id, its author's
    username, a time), which X should never send."""
    post_id, author_id, text = string_field(item, "id"), string_field(item, "author_id"), item.get("text")
    author = names.get(author_id)
    created_at = timestamp(item.get("created_at"))
    if post_id is None or author_id is None or author is None or not isinstance(text, str) or created_at is None:
        return None
    parent = next((string_field(ref, "id") for ref in _list(item, "referenced_tweets")
                   if string_field(ref, "type") == "replied_to"), None)
    return Mention(id=post_id, author=author, author_id=author_id, text=html.unescape(text), created_at=created_at,
                   thread=string_field(item, "conversation_id"), parent=parent)


def _sent_text(item: dict[str, Any]) -> str:
    """The text as it was sent: X gives it back with &, < and > as HTML entities and every link replaced by its
    t.co link, whose original the `entities` field holds."""
    text = item.get("text")
    if not isinstance(text, str):
        return ""
    entities = item.get("entities")
    urls = entities.get("urls") if isinstance(entities, dict) else None
    for url in urls if isinstance(urls, list) else []:
        if isinstance(url, dict) and isinstance(url.get("url"), str) and isinstance(url.get("expanded_url"), str):
            text = text.replace(url["url"], url["expanded_url"])
    return html.unescape(text)


def _engagement(metrics: dict[str, Any]) -> Engagement:
    def number(key: str) -> int:
        return count(metrics.get(key)) or 0

    return Engagement(likes=number("like_count"), reposts=number("retweet_count"), replies=number("reply_count"),
                      quotes=number("quote_count"), impressions=count(metrics.get("impression_count")))


def _list(document: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = document.get(key)
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []
