"""The X (Twitter) API v2 of the test platform: the endpoints the posters use, as X answers them.

X, under /x (errors are problem objects {"title", "type", "status", "detail"}; a bad parameter is 400
{"errors": [{"parameters": {...}, "message": ...}], "title": "Invalid Request", "detail": ..., "type": ...})
    POST /2/tweets  JSON {"text": str} (other fields: 400) -> 201 {"data": {"id", "text", "edit_history_tweet_ids"}}
        Every text X gives back has each link replaced by a t.co link ("https://t.co/" + 10 characters);
        tweet.fields=entities adds {"entities": {"urls": [{"start", "end", "url", "expanded_url", "display_url"}]}}.
        The same text twice by the account -> 403 {"detail": "You are not allowed to create a Tweet with duplicate
        content.", "type": "about:blank", "title": "Forbidden", "status": 403}. Empty or blank text -> 400.
        Weighted length over 280 -> 400. The weighting here (`weighted_length`): NFC first; a link
        ("http://", "https://" or "www." up to the next space) counts 23; code points 0-U+10FF, U+2000-U+200D,
        U+2010-U+201F and U+2032-U+2037 count 1, others 2; emoji continuations count 0 (variation selectors,
        skin tones, tag characters, U+20E3, the code point after a zero-width joiner, the second regional
        indicator of a flag). Bare domains (example.com) count by their characters.
    GET /2/users/me -> {"data": {"id", "name", "username"}}
    GET /2/users/:id/tweets?max_results=5..100 (default 10)&pagination_token=..&start_time=YYYY-MM-DDTHH:mm:ssZ
        (only the tweets created from then on) -> newest first
        {"data": [{"id", "text", "edit_history_tweet_ids"}], "meta": {"result_count", "newest_id", "oldest_id",
        "next_token" (when there are more)}}; no tweets: {"meta": {"result_count": 0}}; unknown user: errors.
    GET /2/tweets?ids=1,2&tweet.fields=public_metrics,created_at,author_id -> {"data": [{"id", "text",
        "edit_history_tweet_ids", "public_metrics": {"retweet_count", "reply_count", "like_count",
        "quote_count", "impression_count"}}]}: tweets of any account, in the order asked; unknown ids go into
        "errors" ({"value", "detail", "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
        "resource_id", "type"}) and "data" is left out when none is found. No ids or more than 100 -> 400.
    GET /oauth/authorize?oauth_token=.. -> 200 HTML with the PIN in <code id="pin"> (the other OAuth endpoints:
        oauth1.py). Request tokens need oauth_callback=oob.
    Rate limits: every answer to a request whose signature verified carries x-rate-limit-limit, -remaining and
    -reset (unix seconds), counted per endpoint and token over 15-minute windows (limits in
    `server.twitter_rate_limits`, keyed like "POST /2/tweets"; change them before the requests). Past the limit:
    429 {"title": "Too Many Requests", ...} with remaining 0. The limit counts refused requests as well.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import secrets
import time
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from http import HTTPStatus
from typing import Any

from .base import OAUTH1_ROUTES, Platform, Post, Reply, Route, Window

X_METRICS = ("retweet_count", "reply_count", "like_count", "quote_count", "impression_count")
MAX_WEIGHTED_LENGTH = 280
X_WINDOW_S = 15 * 60
DEFAULT_TWITTER_RATE_LIMITS = {
    "POST /2/tweets": 100,
    "GET /2/tweets": 900,
    "GET /2/users/me": 75,
    "GET /2/users/:id/tweets": 900,
    "POST /oauth/request_token": 100,
    "POST /oauth/access_token": 100,
}


@dataclass(frozen=True)
class TwitterUser:
    id: str
    name: str
    username: str


# --- X's weighted length (see the module docstring for what is counted) ------------------------------------------

_LINK = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_LIGHT_RANGES = ((0x0, 0x10FF), (0x2000, 0x200D), (0x2010, 0x201F), (0x2032, 0x2037))
_CONTINUATION_RANGES = ((0xFE00, 0xFE0F), (0x1F3FB, 0x1F3FF), (0xE0020, 0xE007F), (0x20E3, 0x20E3))
_ZWJ = 0x200D
_REGIONAL_INDICATORS = (0x1F1E6, 0x1F1FF)


def _in(code: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    return any(low <= code <= high for low, high in ranges)


def weighted_length(text: str) -> int:
    text = unicodedata.normalize("NFC", text)
    links = _LINK.findall(text)
    text = _LINK.sub("", text)
    length = 23 * len(links)
    previous, flag_half = 0, False
    for char in text:
        code = ord(char)
        is_indicator = _in(code, (_REGIONAL_INDICATORS,))
        if code == _ZWJ or previous == _ZWJ or _in(code, _CONTINUATION_RANGES) or (is_indicator and flag_half):
            weight = 0
        else:
            weight = 1 if _in(code, _LIGHT_RANGES) else 2
        flag_half = is_indicator and not flag_half
        previous = code
        length += weight
    return length


_TWEET_FIELDS = frozenset({"id", "text", "edit_history_tweet_ids", "public_metrics", "created_at", "author_id",
                           "entities"})
_INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"


class Twitter(Platform):
    name = "twitter"
    metrics = X_METRICS
    routes = (
        ("POST", re.compile(r"/2/tweets"), "POST /2/tweets"),
        ("GET", re.compile(r"/2/tweets"), "GET /2/tweets"),
        ("GET", re.compile(r"/2/users/me"), "GET /2/users/me"),
        ("GET", re.compile(r"/2/users/(\d+)/tweets"), "GET /2/users/:id/tweets"),
        *OAUTH1_ROUTES,
    )

    def __init__(self, user: TwitterUser) -> None:
        super().__init__(f"xck{secrets.token_hex(10)}", secrets.token_hex(20), user.username, 1_790_000_000_000_000_001,
                         callback="oob")
        self.user = user
        self.rate_limits = dict(DEFAULT_TWITTER_RATE_LIMITS)
        self._windows: dict[tuple[str, str], Window] = {}

    def access_token_extras(self) -> dict[str, str]:
        return {"user_id": self.user.id, "screen_name": self.user.username}

    def pin_for(self, request_token: str) -> str:
        """The PIN of `request_token`, made when the user first authorizes it."""
        held = self.validator.request_tokens.get(request_token)
        if held is None:
            raise KeyError("no such request token on twitter")
        if held.verifier is None:
            held.verifier = f"{secrets.randbelow(10**7):07d}"
        return held.verifier

    def authorize(self, uri: str, query: dict[str, list[str]]) -> Reply:
        try:
            pin = self.pin_for(query.get("oauth_token", [""])[0])
        except KeyError:
            return self.not_a_valid_link()
        page = (
            f"<html><body><p>You authorized the test app on X as {html.escape(self.account)}.</p>"
            f'<p>Enter this PIN in the app: <code id="pin">{pin}</code></p></body></html>'
        )
        return Reply(200, page, "text/html; charset=utf-8")

    def unauthorized(self) -> Reply:
        return self.error(401)

    def error(self, status: int, detail: str | None = None) -> Reply:
        phrase = HTTPStatus(status).phrase
        return Reply(status, {"title": phrase, "type": "about:blank", "status": status, "detail": detail or phrase})

    def invalid(self, parameter: str, value: Any, message: str) -> Reply:
        return Reply(400, {
            "errors": [{"parameters": {parameter: [value]}, "message": message}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": _INVALID_REQUEST,
        })

    def _window(self, endpoint: str, key: str) -> Window:
        return self._windows.setdefault((endpoint, key), Window(self.rate_limits[endpoint], X_WINDOW_S))

    def count_request(self, endpoint: str, key: str) -> tuple[bool, dict[str, str]]:
        window = self._window(endpoint, key)
        within = window.take(time.time())
        return within, _x_rate_headers(window.limit, window.remaining, window.resets_at)

    def rate_limited(self, endpoint: str, key: str, reset_in_s: float) -> Reply:
        reply = self.error(429)
        headers = _x_rate_headers(self._window(endpoint, key).limit, 0, time.time() + reset_in_s)
        return Reply(reply.status, reply.body, headers=headers)

    def handle(self, route: Route, query: dict[str, list[str]], body: bytes, headers: dict[str, str]) -> Reply:
        if route.endpoint == "POST /2/tweets":
            return self._create(body, headers)
        if route.endpoint == "GET /2/users/me":
            return Reply(200, {"data": {"id": self.user.id, "name": self.user.name, "username": self.user.username}})
        if route.endpoint == "GET /2/users/:id/tweets":
            return self._timeline(route.args[0], query)
        return self._lookup(query)

    def duplicate(self) -> Reply:
        return self.error(403, "You are not allowed to create a Tweet with duplicate content.")

    def _create(self, body: bytes, headers: dict[str, str]) -> Reply:
        if "application/json" not in headers.get("content-type", ""):
            return self.invalid("body", None, "the body must be JSON (Content-Type: application/json)")
        try:
            request = json.loads(body)
        except ValueError:
            return self.invalid("body", None, "the body is not valid JSON")
        if not isinstance(request, dict):
            return self.invalid("body", None, "the body must be a JSON object")
        for name in request:
            if name != "text":
                return self.invalid(name, request[name], f"$.{name}: is not defined in the schema")
        text = request.get("text")
        if not isinstance(text, str) or not text.strip():
            return self.invalid("text", text, "text must be a non-empty string")
        length = weighted_length(text)
        if length > MAX_WEIGHTED_LENGTH:
            return self.invalid("text", text, f"text is too long: weighted length {length} > {MAX_WEIGHTED_LENGTH}")
        if any(post.text == text for post in self.posts):
            return self.duplicate()
        post = self.new_post(text)
        shown = _shortened(post.text)[0]
        return Reply(201, {"data": {"id": post.id, "text": shown, "edit_history_tweet_ids": [post.id]}})

    def _fields(self, query: dict[str, list[str]]) -> set[str] | Reply:
        fields = {name for value in query.get("tweet.fields", []) for name in value.split(",") if name}
        unknown = sorted(fields - _TWEET_FIELDS)
        if unknown:
            return self.invalid("tweet.fields", unknown[0], f"The `tweet.fields` value [{unknown[0]}] is not valid")
        return fields

    def _tweet(self, post: Post, fields: set[str]) -> dict[str, Any]:
        text, urls = _shortened(post.text)
        tweet: dict[str, Any] = {"id": post.id, "text": text, "edit_history_tweet_ids": [post.id]}
        if "entities" in fields and urls:
            tweet["entities"] = {"urls": urls}
        if "public_metrics" in fields:
            tweet["public_metrics"] = dict(post.counts)
        if "created_at" in fields:
            tweet["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(post.created_at))
        if "author_id" in fields:
            tweet["author_id"] = self.user.id
        return tweet

    def _lookup(self, query: dict[str, list[str]]) -> Reply:
        fields = self._fields(query)
        if isinstance(fields, Reply):
            return fields
        ids = [value for joined in query.get("ids", []) for value in joined.split(",")]
        if not 1 <= len(ids) <= 100:
            return self.invalid("ids", ",".join(ids), f"ids must hold 1 to 100 ids, got {len(ids)}")
        bad = next((value for value in ids if not re.fullmatch(r"\d{1,19}", value)), None)
        if bad is not None:
            return self.invalid("ids", bad, f"The `ids` query parameter value [{bad}] is not valid")
        found, errors = [], []
        for tweet_id in ids:
            post = self.find_post(tweet_id)
            if post is not None:
                found.append(self._tweet(post, fields))
            else:
                errors.append({
                    "value": tweet_id, "detail": f"Could not find tweet with ids: [{tweet_id}].",
                    "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
                    "resource_id": tweet_id, "type": "https://api.twitter.com/2/problems/resource-not-found",
                })
        answer: dict[str, Any] = {"data": found} if found else {}
        if errors:
            answer["errors"] = errors
        return Reply(200, answer)

    def _timeline(self, user_id: str, query: dict[str, list[str]]) -> Reply:
        fields = self._fields(query)
        if isinstance(fields, Reply):
            return fields
        if user_id != self.user.id:
            return Reply(200, {"errors": [{
                "value": user_id, "detail": f"Could not find user with id: [{user_id}].", "title": "Not Found Error",
                "resource_type": "user", "parameter": "id", "resource_id": user_id,
                "type": "https://api.twitter.com/2/problems/resource-not-found",
            }]})
        raw_max = query.get("max_results", ["10"])[0]
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            return self.invalid("max_results", raw_max, "max_results must be an integer from 5 to 100")
        token = query.get("pagination_token", ["page-0"])[0]
        if not re.fullmatch(r"page-\d+", token):
            return self.invalid("pagination_token", token, "pagination_token is not one this server gave")
        since = query.get("start_time", [None])[0]
        if since is not None and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", since):
            return self.invalid("start_time", since, "start_time must be YYYY-MM-DDTHH:mm:ssZ")
        since_unix = datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp() \
            if since else 0
        start, size = int(token.removeprefix("page-")), int(raw_max)
        newest_first = [post for post in reversed(self.posts) if post.created_at >= since_unix]
        page = newest_first[start:start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        if start + size < len(newest_first):
            meta["next_token"] = f"page-{start + size}"
        answer: dict[str, Any] = {"data": [self._tweet(post, fields) for post in page]} if page else {}
        answer["meta"] = meta
        return Reply(200, answer)


def _shortened(text: str) -> tuple[str, list[dict[str, Any]]]:
    """The text as X shows it, every link replaced by its t.co link, and the url entities that say what each one
    stands for (start and end in code points of the shown text)."""
    shown, urls, position = [], [], 0
    for match in _LINK.finditer(text):
        shown.append(text[position:match.start()])
        short = "https://t.co/" + hashlib.sha1(match.group().encode()).hexdigest()[:10]
        start = sum(len(part) for part in shown)
        urls.append({"start": start, "end": start + len(short), "url": short, "expanded_url": match.group(),
                     "display_url": match.group().split("://", 1)[-1][:25]})
        shown.append(short)
        position = match.end()
    shown.append(text[position:])
    return "".join(shown), urls


def _x_rate_headers(limit: int, remaining: int, resets_at: float) -> dict[str, str]:
    return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(resets_at))}
