"""A local test platform: the subset of the X (Twitter) API v2 and the Tumblr API v2 that the posters use, with
the OAuth 1.0a endpoints of the PIN flow, every signature verified by oauthlib's server-side endpoints.

    with PlatformServer() as server:                       # 127.0.0.1, a free port; tests use the fixture
        server.twitter_api_url    http://127.0.0.1:PORT/x        X API base (OAuth endpoints under it too)
        server.tumblr_api_url     http://127.0.0.1:PORT/tumblr   Tumblr API base
        server.tumblr_oauth_url   http://127.0.0.1:PORT/tumblr   Tumblr OAuth base (same prefix here)
        server.twitter_credentials, server.tumblr_credentials    pre-issued OAuth1Credentials (random test keys)
        server.twitter_user       TwitterUser(id, name, username)   the one X account ("lorecast_test")
        server.tumblr_blog        "lorecast-test"                   the one Tumblr blog

Platform names in this API: "twitter" (alias "x") and "tumblr". Each platform has one consumer key and one
account; every access token of that platform (the pre-issued one and those the PIN flow issues) acts as it.

OAuth 1.0a (both platforms; HMAC-SHA1 and the other methods oauthlib knows)
    Every request except the authorize page must be signed. The signature base string is the method, the URL as
    the client used it (http://127.0.0.1:PORT/x/2/tweets?...) with its query, and a form-encoded body; a JSON body
    is not signed (requests-oauthlib does not sign it). Nonces are single use (a replay is refused), timestamps
    must be within 10 minutes. Key, token, nonce and verifier lengths may be 4 to 64 ASCII letters and digits.
    A request that is unsigned or wrongly signed gets the platform's 401:
        X       {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
        Tumblr  {"meta": {"status": 401, "msg": "Not Authorized"}, "response": [],
                 "errors": [{"title": "Not Authorized", "code": 0, "detail": "..."}]}
    PIN flow (oob), under each prefix (/x/oauth/..., /tumblr/oauth/...):
        POST oauth/request_token   oauth_callback=oob (any other callback: 401)
            -> 200 oauth_token=..&oauth_token_secret=..&oauth_callback_confirmed=true
        GET  oauth/authorize?oauth_token=..   (unsigned: the user's browser) -> 200 HTML showing the PIN in
            <code id="pin">; `server.pin_for(request_token)` does the same for a test and returns the PIN
        POST oauth/access_token    signed with the request token, oauth_verifier=PIN
            -> 200 oauth_token=..&oauth_token_secret=..&user_id=..&screen_name=..  (X)
               200 oauth_token=..&oauth_token_secret=..                          (Tumblr)
            The request token is then spent; the access token works on the API at once.

X, under /x (errors are problem objects {"title", "type", "status", "detail"}; a bad parameter is 400
{"errors": [{"parameters": {...}, "message": ...}], "title": "Invalid Request", "detail": ..., "type": ...})
    POST /2/tweets  JSON {"text": str} (other fields: 400) -> 201 {"data": {"id", "text", "edit_history_tweet_ids"}}
        The same text twice by the account -> 403 {"detail": "You are not allowed to create a Tweet with duplicate
        content.", "type": "about:blank", "title": "Forbidden", "status": 403}. Empty or blank text -> 400.
        Weighted length over 280 -> 400. The weighting here (`weighted_length`): NFC first; a link
        ("http://", "https://" or "www." up to the next space) counts 23; code points 0-U+10FF, U+2000-U+200D,
        U+2010-U+201F and U+2032-U+2037 count 1, others 2; emoji continuations count 0 (variation selectors,
        skin tones, tag characters, U+20E3, the code point after a zero-width joiner, the second regional
        indicator of a flag). Bare domains (example.com) count by their characters.
    GET /2/users/me -> {"data": {"id", "name", "username"}}
    GET /2/users/:id/tweets?max_results=5..100 (default 10)&pagination_token=.. -> newest first
        {"data": [{"id", "text", "edit_history_tweet_ids"}], "meta": {"result_count", "newest_id", "oldest_id",
        "next_token" (when there are more)}}; no tweets: {"meta": {"result_count": 0}}; unknown user: errors.
    GET /2/tweets?ids=1,2&tweet.fields=public_metrics,created_at,author_id -> {"data": [{"id", "text",
        "edit_history_tweet_ids", "public_metrics": {"retweet_count", "reply_count", "like_count",
        "quote_count", "impression_count"}}]}: tweets of any account, in the order asked; unknown ids go into
        "errors" ({"value", "detail", "title": "Not Found Error", "resource_type": "tweet", "parameter": "ids",
        "resource_id", "type"}) and "data" is left out when none is found. No ids or more than 100 -> 400.
    Rate limits: every answer to a request whose signature verified carries x-rate-limit-limit, -remaining and
    -reset (unix seconds), counted per endpoint and token over 15-minute windows (limits in
    `server.twitter_rate_limits`, keyed like "POST /2/tweets"; change them before the requests). Past the limit:
    429 {"title": "Too Many Requests", ...} with remaining 0. The limit counts refused requests as well.

Tumblr, under /tumblr (errors are {"meta": {"status", "msg"}, "response": [], "errors": [{"title", "code": 0,
"detail"}]}; a blog is "name" or "name.tumblr.com")
    POST /v2/blog/{blog}/posts  NPF JSON {"content": [{"type": "text", "text": str}, ...], "tags": [str] or
        "a,b", other NPF fields ignored} -> 201 {"meta": {"status": 201, "msg": "Created"},
        "response": {"id": "<digits>", "id_string": "<digits>"}}. Another blog than the token's -> 403; no
        content, a block without a type or a text block without text -> 400; more than
        `server.tumblr_daily_post_limit` (250) posts by the account -> 429 "Limit Exceeded".
    GET /v2/blog/{blog}/posts?npf=true&limit=1..20 (default 20)&offset=N&id=ID -> {"meta": {"status": 200,
        "msg": "OK"}, "response": {"blog": {"name", "url"}, "total_posts", "posts": [{"id", "id_string",
        "blog_name", "post_url", "timestamp", "tags", "note_count", "content"}]}}, newest first. Without npf=true
        a post has the legacy "type": "text" and "body" (HTML) instead of "content". An unknown blog or id: 404.
    Rate headers on every answer to a verified request, per consumer key: X-Ratelimit-Perhour-Limit/-Remaining/
    -Reset and X-Ratelimit-Perday-Limit/-Remaining/-Reset (reset in seconds from now, as Tumblr sends them).

Faults: `server.inject(platform, path_regex, fault, times=1)` queues a fault; a request whose signature verified
and whose path under the prefix (no query, e.g. "/2/tweets") matches `re.search(path_regex, path)` takes the
first matching fault in the queue, once:
    Status(503)         answers that status with the platform's error body instead of handling the request
    RateLimit(30)       429 with the platform's body and rate headers saying the limit resets in 30 s
                        (X: x-rate-limit-remaining 0 and -reset now + 30; Tumblr: X-Ratelimit-Perhour-Remaining 0
                        and -Reset 30)
    Duplicate()         X only: the duplicate-content 403, even for a new text (nothing is created)
    Slow(2.0)           handles the request at once (a post IS created), answers 2 s later
    DropAfterAccept()   handles the request (a post IS created), then closes the connection without an answer
On the OAuth token endpoints the token is issued before a fault replaces the answer.

Inspection: `server.posts(platform, account=None)` (Post objects, oldest first; account defaults to the test
account), `server.set_engagement(platform, post_id, **counts)` (X: like_count, retweet_count, reply_count,
quote_count, impression_count; Tumblr: note_count), `server.requests` (Logged(method, path, signed_ok) for every
request, path with the prefix and without the query; the authorize page logs signed_ok False).
"""

from __future__ import annotations

import html
import json
import re
import secrets
import sys
import threading
import time
import unicodedata
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

from oauthlib.oauth1 import AccessTokenEndpoint, RequestTokenEndpoint, RequestValidator, ResourceEndpoint

from poster.credentials import OAuth1Credentials

# --- faults ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Status:
    status: int


@dataclass(frozen=True)
class RateLimit:
    reset_in_s: float


@dataclass(frozen=True)
class Slow:
    seconds: float


@dataclass(frozen=True)
class Duplicate:
    pass


@dataclass(frozen=True)
class DropAfterAccept:
    pass


Fault = Status | RateLimit | Slow | Duplicate | DropAfterAccept

# --- what the server holds -------------------------------------------------------------------------------------


class Logged(NamedTuple):
    method: str
    path: str
    signed_ok: bool


@dataclass(frozen=True)
class TwitterUser:
    id: str
    name: str
    username: str


@dataclass
class Post:
    id: str
    account: str  # X: the username; Tumblr: the blog name
    text: str  # Tumblr: the text blocks joined by blank lines
    created_at: int  # unix seconds
    tags: list[str] = field(default_factory=list)
    content: list[dict[str, Any]] = field(default_factory=list)  # Tumblr: the NPF blocks as sent
    counts: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Reply:
    status: int
    body: Any  # a str is sent as is (with content_type), anything else as JSON
    content_type: str = "application/json; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)


X_METRICS = ("retweet_count", "reply_count", "like_count", "quote_count", "impression_count")
TUMBLR_METRICS = ("note_count",)
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
TUMBLR_HOURLY_LIMIT, TUMBLR_DAILY_LIMIT = 1000, 5000  # API calls per consumer key
TUMBLR_DAILY_POST_LIMIT = 250  # new posts per day per user


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


# --- OAuth 1.0a ----------------------------------------------------------------------------------------------


@dataclass
class _RequestToken:
    consumer_key: str
    secret: str
    pin: str | None = None  # set once the user "authorized" it


class _Validator(RequestValidator):
    """oauthlib's storage hooks over one platform's keys and tokens; called with the server's lock held."""

    # Plain http on loopback, and test keys of any length from 4 to 64 letters and digits.
    enforce_ssl = False
    client_key_length = request_token_length = access_token_length = (4, 64)
    nonce_length = verifier_length = (4, 64)
    # Stand-ins oauthlib signs with when a key is unknown, so that refusals take the same path as acceptances.
    dummy_client = "dummyclient"
    dummy_request_token = "dummyrequesttoken"
    dummy_access_token = "dummyaccesstoken"

    def __init__(self, consumer_key: str, consumer_secret: str) -> None:
        super().__init__()
        self.consumer_key, self.consumer_secret = consumer_key, consumer_secret
        self.request_tokens: dict[str, _RequestToken] = {}
        self.access_tokens: dict[str, str] = {}  # token -> secret (all belong to the one consumer)
        self._nonces: set[tuple[str, str, str, str | None]] = set()

    def get_client_secret(self, client_key: str, request: Any) -> str:
        return self.consumer_secret if client_key == self.consumer_key else "dummy"

    def validate_client_key(self, client_key: str, request: Any) -> bool:
        return client_key == self.consumer_key

    def get_request_token_secret(self, client_key: str, token: str, request: Any) -> str:
        held = self.request_tokens.get(token)
        return held.secret if held and held.consumer_key == client_key else "dummy"

    def validate_request_token(self, client_key: str, token: str, request: Any) -> bool:
        held = self.request_tokens.get(token)
        return held is not None and held.consumer_key == client_key

    def get_access_token_secret(self, client_key: str, token: str, request: Any) -> str:
        return self.access_tokens.get(token, "dummy")

    def validate_access_token(self, client_key: str, token: str, request: Any) -> bool:
        return token in self.access_tokens and client_key == self.consumer_key

    def validate_timestamp_and_nonce(
        self, client_key: str, timestamp: str, nonce: str, request: Any,
        request_token: str | None = None, access_token: str | None = None,
    ) -> bool:
        key = (client_key, timestamp, nonce, request_token or access_token)
        if key in self._nonces:
            return False
        self._nonces.add(key)
        return True

    def validate_redirect_uri(self, client_key: str, redirect_uri: str, request: Any) -> bool:
        return redirect_uri == "oob"  # the PIN flow is the only one the posters use

    def get_default_realms(self, client_key: str, request: Any) -> list[str]:
        return []

    def validate_requested_realms(self, client_key: str, realms: list[str], request: Any) -> bool:
        return True

    def get_realms(self, token: str, request: Any) -> list[str]:
        return []

    def validate_realms(self, client_key: str, token: str, request: Any, uri: Any = None, realms: Any = None) -> bool:
        return True

    def save_request_token(self, token: dict[str, str], request: Any) -> None:
        self.request_tokens[token["oauth_token"]] = _RequestToken(request.client_key, token["oauth_token_secret"])

    def validate_verifier(self, client_key: str, token: str, verifier: str, request: Any) -> bool:
        held = self.request_tokens.get(token)
        return held is not None and held.pin is not None and secrets.compare_digest(held.pin, verifier)

    def save_access_token(self, token: dict[str, str], request: Any) -> None:
        self.access_tokens[token["oauth_token"]] = token["oauth_token_secret"]

    def invalidate_request_token(self, client_key: str, request_token: str, request: Any) -> None:
        self.request_tokens.pop(request_token, None)


class _Window:
    """A fixed rate-limit window: `limit` requests per `seconds`, starting at its first request."""

    def __init__(self, limit: int, seconds: float) -> None:
        self.limit, self.seconds = limit, seconds
        self.used, self.resets_at = 0, 0.0

    def take(self, now: float) -> bool:
        """Counts one request; False when it is over the limit."""
        if now >= self.resets_at:
            self.used, self.resets_at = 0, now + self.seconds
        self.used += 1
        return self.used <= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.used)


class _Route(NamedTuple):
    endpoint: str  # "POST /2/tweets", "GET /2/users/:id/tweets": the rate-limit key
    args: tuple[str, ...]  # the path's variable parts


# --- the platforms -----------------------------------------------------------------------------------------------


class _Platform(ABC):
    """What the two platforms share: routing, the OAuth endpoints, posts and their ids."""

    name: str
    routes: tuple[tuple[str, re.Pattern[str], str], ...]  # (method, path pattern, endpoint)
    metrics: tuple[str, ...]

    def __init__(self, consumer_key: str, consumer_secret: str, account: str, first_id: int) -> None:
        self.validator = _Validator(consumer_key, consumer_secret)
        self.resource = ResourceEndpoint(self.validator)
        self.request_token = RequestTokenEndpoint(self.validator)
        self.access_token = AccessTokenEndpoint(self.validator)
        self.account = account
        self.posts: list[Post] = []
        self._next_id = first_id
        access_token, access_secret = secrets.token_hex(16), secrets.token_hex(16)
        self.validator.access_tokens[access_token] = access_secret
        self.credentials = OAuth1Credentials(consumer_key, consumer_secret, access_token, access_secret)

    def route(self, method: str, path: str) -> _Route | None:
        for route_method, pattern, endpoint in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return _Route(endpoint, match.groups())
        return None

    def new_post(self, text: str, **extra: Any) -> Post:
        post = Post(str(self._next_id), self.account, text, int(time.time()), **extra)
        post.counts = dict.fromkeys(self.metrics, 0)
        self._next_id += 1
        self.posts.append(post)
        return post

    def find_post(self, post_id: str) -> Post | None:
        return next((post for post in self.posts if post.id == post_id), None)

    def pin_for(self, request_token: str) -> str:
        held = self.validator.request_tokens.get(request_token)
        if held is None:
            raise KeyError(f"no such request token on {self.name}")
        if held.pin is None:
            held.pin = f"{secrets.randbelow(10**7):07d}"
        return held.pin

    def authorize_page(self, query: dict[str, list[str]]) -> _Reply:
        token = query.get("oauth_token", [""])[0]
        try:
            pin = self.pin_for(token)
        except KeyError:
            return _Reply(400, "<p>This authorization link is not valid.</p>", "text/html; charset=utf-8")
        page = (
            f"<html><body><p>You authorized the test app on {self.name} as {html.escape(self.account)}.</p>"
            f'<p>Enter this PIN in the app: <code id="pin">{pin}</code></p></body></html>'
        )
        return _Reply(200, page, "text/html; charset=utf-8")

    def token_reply(self, endpoint: str, uri: str, method: str, body: str, headers: dict[str, str]) -> _Reply:
        """The oauthlib token endpoint's answer; a refusal becomes the platform's 401."""
        if endpoint == "POST /oauth/request_token":
            _, text, status = self.request_token.create_request_token_response(uri, method, body, headers)
        else:
            _, text, status = self.access_token.create_access_token_response(
                uri, method, body, headers, credentials=self.access_token_extras()
            )
            if status == 200:  # oauthlib's realms field is not something either platform sends
                text = urlencode([(k, v) for k, v in parse_qsl(text) if k != "oauth_authorized_realms"])
        if status != 200:
            return self.unauthorized()
        return _Reply(status, text, "application/x-www-form-urlencoded")

    def access_token_extras(self) -> dict[str, str]:
        return {}

    @abstractmethod
    def unauthorized(self) -> _Reply:
        """The platform's 401 for a request whose signature did not verify."""

    @abstractmethod
    def error(self, status: int, detail: str | None = None) -> _Reply:
        """The platform's error body for `status`."""

    @abstractmethod
    def rate_limited(self, endpoint: str, key: str, reset_in_s: float) -> _Reply:
        """A 429 whose headers say that the limit resets in `reset_in_s` seconds."""

    @abstractmethod
    def count_request(self, endpoint: str, key: str) -> tuple[bool, dict[str, str]]:
        """Counts a verified request: (within the limits, the rate headers to send)."""

    @abstractmethod
    def handle(self, route: _Route, query: dict[str, list[str]], body: bytes, headers: dict[str, str]) -> _Reply:
        """The answer to an API request whose signature verified."""


_TWEET_FIELDS = frozenset({"id", "text", "edit_history_tweet_ids", "public_metrics", "created_at", "author_id"})
_INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"


class _Twitter(_Platform):
    name = "twitter"
    metrics = X_METRICS
    routes = (
        ("POST", re.compile(r"/2/tweets"), "POST /2/tweets"),
        ("GET", re.compile(r"/2/tweets"), "GET /2/tweets"),
        ("GET", re.compile(r"/2/users/me"), "GET /2/users/me"),
        ("GET", re.compile(r"/2/users/(\d+)/tweets"), "GET /2/users/:id/tweets"),
        ("POST", re.compile(r"/oauth/request_token"), "POST /oauth/request_token"),
        ("GET", re.compile(r"/oauth/authorize"), "GET /oauth/authorize"),
        ("POST", re.compile(r"/oauth/access_token"), "POST /oauth/access_token"),
    )

    def __init__(self, user: TwitterUser) -> None:
        super().__init__(f"xck{secrets.token_hex(10)}", secrets.token_hex(20), user.username, 1_790_000_000_000_000_001)
        self.user = user
        self.rate_limits = dict(DEFAULT_TWITTER_RATE_LIMITS)
        self._windows: dict[tuple[str, str], _Window] = {}

    def access_token_extras(self) -> dict[str, str]:
        return {"user_id": self.user.id, "screen_name": self.user.username}

    def unauthorized(self) -> _Reply:
        return self.error(401)

    def error(self, status: int, detail: str | None = None) -> _Reply:
        phrase = HTTPStatus(status).phrase
        return _Reply(status, {"title": phrase, "type": "about:blank", "status": status, "detail": detail or phrase})

    def invalid(self, parameter: str, value: Any, message: str) -> _Reply:
        return _Reply(400, {
            "errors": [{"parameters": {parameter: [value]}, "message": message}],
            "title": "Invalid Request", "detail": "One or more parameters to your request was invalid.",
            "type": _INVALID_REQUEST,
        })

    def _window(self, endpoint: str, key: str) -> _Window:
        return self._windows.setdefault((endpoint, key), _Window(self.rate_limits[endpoint], X_WINDOW_S))

    def count_request(self, endpoint: str, key: str) -> tuple[bool, dict[str, str]]:
        window = self._window(endpoint, key)
        within = window.take(time.time())
        return within, _x_rate_headers(window.limit, window.remaining, window.resets_at)

    def rate_limited(self, endpoint: str, key: str, reset_in_s: float) -> _Reply:
        reply = self.error(429)
        headers = _x_rate_headers(self._window(endpoint, key).limit, 0, time.time() + reset_in_s)
        return _Reply(reply.status, reply.body, headers=headers)

    def handle(self, route: _Route, query: dict[str, list[str]], body: bytes, headers: dict[str, str]) -> _Reply:
        if route.endpoint == "POST /2/tweets":
            return self._create(body, headers)
        if route.endpoint == "GET /2/users/me":
            return _Reply(200, {"data": {"id": self.user.id, "name": self.user.name, "username": self.user.username}})
        if route.endpoint == "GET /2/users/:id/tweets":
            return self._timeline(route.args[0], query)
        return self._lookup(query)

    def duplicate(self) -> _Reply:
        return self.error(403, "You are not allowed to create a Tweet with duplicate content.")

    def _create(self, body: bytes, headers: dict[str, str]) -> _Reply:
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
        return _Reply(201, {"data": {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}})

    def _fields(self, query: dict[str, list[str]]) -> set[str] | _Reply:
        fields = {name for value in query.get("tweet.fields", []) for name in value.split(",") if name}
        unknown = sorted(fields - _TWEET_FIELDS)
        if unknown:
            return self.invalid("tweet.fields", unknown[0], f"The `tweet.fields` value [{unknown[0]}] is not valid")
        return fields

    def _tweet(self, post: Post, fields: set[str]) -> dict[str, Any]:
        tweet: dict[str, Any] = {"id": post.id, "text": post.text, "edit_history_tweet_ids": [post.id]}
        if "public_metrics" in fields:
            tweet["public_metrics"] = dict(post.counts)
        if "created_at" in fields:
            tweet["created_at"] = time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime(post.created_at))
        if "author_id" in fields:
            tweet["author_id"] = self.user.id
        return tweet

    def _lookup(self, query: dict[str, list[str]]) -> _Reply:
        fields = self._fields(query)
        if isinstance(fields, _Reply):
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
        return _Reply(200, answer)

    def _timeline(self, user_id: str, query: dict[str, list[str]]) -> _Reply:
        fields = self._fields(query)
        if isinstance(fields, _Reply):
            return fields
        if user_id != self.user.id:
            return _Reply(200, {"errors": [{
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
        start, size = int(token.removeprefix("page-")), int(raw_max)
        newest_first = list(reversed(self.posts))
        page = newest_first[start:start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        if start + size < len(newest_first):
            meta["next_token"] = f"page-{start + size}"
        answer: dict[str, Any] = {"data": [self._tweet(post, fields) for post in page]} if page else {}
        answer["meta"] = meta
        return _Reply(200, answer)


def _x_rate_headers(limit: int, remaining: int, resets_at: float) -> dict[str, str]:
    return {"x-rate-limit-limit": str(limit), "x-rate-limit-remaining": str(remaining),
            "x-rate-limit-reset": str(int(resets_at))}


class _Tumblr(_Platform):
    name = "tumblr"
    metrics = TUMBLR_METRICS
    routes = (
        ("POST", re.compile(r"/v2/blog/([^/]+)/posts"), "POST /v2/blog/:blog/posts"),
        ("GET", re.compile(r"/v2/blog/([^/]+)/posts"), "GET /v2/blog/:blog/posts"),
        ("POST", re.compile(r"/oauth/request_token"), "POST /oauth/request_token"),
        ("GET", re.compile(r"/oauth/authorize"), "GET /oauth/authorize"),
        ("POST", re.compile(r"/oauth/access_token"), "POST /oauth/access_token"),
    )

    def __init__(self, blog: str) -> None:
        super().__init__(f"tck{secrets.token_hex(10)}", secrets.token_hex(20), blog, 760_000_000_000_000_001)
        self.daily_post_limit = TUMBLR_DAILY_POST_LIMIT
        self._hourly = _Window(TUMBLR_HOURLY_LIMIT, 3600)
        self._daily = _Window(TUMBLR_DAILY_LIMIT, 86400)

    def unauthorized(self) -> _Reply:
        return self._envelope(401, "Not Authorized", "The request's OAuth 1.0a signature or token is not valid.")

    def error(self, status: int, detail: str | None = None) -> _Reply:
        phrase = "Limit Exceeded" if status == 429 else HTTPStatus(status).phrase
        return self._envelope(status, phrase, detail or phrase)

    def _envelope(self, status: int, msg: str, detail: str) -> _Reply:
        return _Reply(status, {"meta": {"status": status, "msg": msg}, "response": [],
                               "errors": [{"title": msg, "code": 0, "detail": detail}]})

    def _rate_headers(self, now: float, hourly_remaining: int, hourly_reset: float) -> dict[str, str]:
        return {
            "X-Ratelimit-Perhour-Limit": str(self._hourly.limit),
            "X-Ratelimit-Perhour-Remaining": str(hourly_remaining),
            "X-Ratelimit-Perhour-Reset": str(max(0, round(hourly_reset))),
            "X-Ratelimit-Perday-Limit": str(self._daily.limit),
            "X-Ratelimit-Perday-Remaining": str(self._daily.remaining),
            "X-Ratelimit-Perday-Reset": str(max(0, round(self._daily.resets_at - now))),
        }

    def count_request(self, endpoint: str, key: str) -> tuple[bool, dict[str, str]]:
        now = time.time()  # one consumer key per server: the windows are the consumer's
        within_hour = self._hourly.take(now)
        within_day = self._daily.take(now)
        within = within_hour and within_day
        return within, self._rate_headers(now, self._hourly.remaining, self._hourly.resets_at - now)

    def rate_limited(self, endpoint: str, key: str, reset_in_s: float) -> _Reply:
        reply = self.error(429, "You have hit the API rate limit; try again later.")
        return _Reply(reply.status, reply.body, headers=self._rate_headers(time.time(), 0, reset_in_s))

    def handle(self, route: _Route, query: dict[str, list[str]], body: bytes, headers: dict[str, str]) -> _Reply:
        blog = route.args[0].removesuffix(".tumblr.com")
        if route.endpoint == "POST /v2/blog/:blog/posts":
            return self._create(blog, body, headers)
        return self._list(blog, query)

    def _create(self, blog: str, body: bytes, headers: dict[str, str]) -> _Reply:
        if blog != self.account:
            return self.error(403, f"You cannot post to the blog {blog!r}.")
        if "application/json" not in headers.get("content-type", ""):
            return self.error(400, "The body must be NPF JSON (Content-Type: application/json).")
        try:
            request = json.loads(body)
        except ValueError:
            return self.error(400, "The body is not valid JSON.")
        problem = _npf_problem(request)
        if problem:
            return self.error(400, problem)
        if len(self.posts) >= self.daily_post_limit:
            return self.error(429, f"You have exceeded your daily post limit ({self.daily_post_limit} posts).")
        tags = request.get("tags", [])
        if isinstance(tags, str):
            tags = [tag.strip() for tag in tags.split(",") if tag.strip()]
        content = request["content"]
        text = "\n\n".join(block["text"] for block in content if block["type"] == "text")
        post = self.new_post(text, tags=list(tags), content=content)
        return _Reply(201, {"meta": {"status": 201, "msg": "Created"},
                            "response": {"id": post.id, "id_string": post.id}})

    def _list(self, blog: str, query: dict[str, list[str]]) -> _Reply:
        if blog != self.account:
            return self.error(404, f"The blog {blog!r} was not found.")
        npf = query.get("npf", ["false"])[0] == "true"
        raw_limit, raw_offset = query.get("limit", ["20"])[0], query.get("offset", ["0"])[0]
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= 20 or not raw_offset.isdigit():
            return self.error(400, "limit must be 1 to 20 and offset a non-negative integer.")
        if "id" in query:
            post = self.find_post(query["id"][0])
            if post is None:
                return self.error(404, "The post was not found.")
            page = [post]
        else:
            offset = int(raw_offset)
            page = list(reversed(self.posts))[offset:offset + int(raw_limit)]
        url = f"https://{self.account}.tumblr.com/"
        return _Reply(200, {"meta": {"status": 200, "msg": "OK"}, "response": {
            "blog": {"name": self.account, "url": url}, "total_posts": len(self.posts),
            "posts": [self._post(post, url, npf) for post in page],
        }})

    def _post(self, post: Post, url: str, npf: bool) -> dict[str, Any]:
        shown: dict[str, Any] = {
            "id": int(post.id), "id_string": post.id, "blog_name": self.account, "post_url": f"{url}post/{post.id}",
            "timestamp": post.created_at, "tags": post.tags, "note_count": post.counts["note_count"],
        }
        if npf:
            shown["content"] = post.content
        else:  # the legacy format of a text post
            shown.update(type="text", body="".join(f"<p>{html.escape(line)}</p>" for line in post.text.split("\n\n")))
        return shown


def _npf_problem(request: Any) -> str | None:
    if not isinstance(request, dict):
        return "The body must be a JSON object."
    content = request.get("content")
    if not isinstance(content, list) or not content:
        return "content must be a non-empty list of NPF blocks."
    for index, block in enumerate(content):
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            return f"content[{index}] must be an object with a type."
        if block["type"] == "text" and not (isinstance(block.get("text"), str) and block["text"].strip()):
            return f"content[{index}] is a text block without text."
    tags = request.get("tags", [])
    if not isinstance(tags, str) and not (isinstance(tags, list) and all(isinstance(tag, str) for tag in tags)):
        return "tags must be a list of strings or a comma-separated string."
    return None


# --- the server ----------------------------------------------------------------------------------------------


_PREFIXES = {"x": "twitter", "tumblr": "tumblr"}
_NAMES = {"twitter": "twitter", "x": "twitter", "tumblr": "tumblr"}
_TOKEN_ENDPOINTS = frozenset({"POST /oauth/request_token", "POST /oauth/access_token"})


@dataclass
class _Outcome:
    reply: _Reply | None  # None: drop the connection without an answer
    delay_s: float = 0.0


class PlatformServer:
    def __init__(self) -> None:
        self.twitter_user = TwitterUser(id="1500000000000000042", name="Lorecast Test", username="lorecast_test")
        self.tumblr_blog = "lorecast-test"
        self._platforms: dict[str, _Platform] = {
            "twitter": _Twitter(self.twitter_user), "tumblr": _Tumblr(self.tumblr_blog),
        }
        self.requests: list[Logged] = []
        self._faults: list[tuple[str, re.Pattern[str], Fault]] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.platform_server = self  # type: ignore[attr-defined]
        # A short poll interval: shutdown() waits up to one interval, and every test stops a server.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, name="platform-server", daemon=True
        )

    # --- addresses and keys

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def twitter_api_url(self) -> str:
        return f"{self.url}/x"

    @property
    def tumblr_api_url(self) -> str:
        return f"{self.url}/tumblr"

    @property
    def tumblr_oauth_url(self) -> str:
        return f"{self.url}/tumblr"

    @property
    def twitter_credentials(self) -> OAuth1Credentials:
        return self._platforms["twitter"].credentials

    @property
    def tumblr_credentials(self) -> OAuth1Credentials:
        return self._platforms["tumblr"].credentials

    @property
    def twitter_rate_limits(self) -> dict[str, int]:
        return self._twitter.rate_limits

    @property
    def tumblr_daily_post_limit(self) -> int:
        return self._tumblr.daily_post_limit

    @tumblr_daily_post_limit.setter
    def tumblr_daily_post_limit(self, limit: int) -> None:
        self._tumblr.daily_post_limit = limit

    @property
    def _twitter(self) -> _Twitter:
        return self._platforms["twitter"]  # type: ignore[return-value]

    @property
    def _tumblr(self) -> _Tumblr:
        return self._platforms["tumblr"]  # type: ignore[return-value]

    # --- test controls

    def inject(self, platform: str, path_regex: str, fault: Fault, times: int = 1) -> None:
        name = self._platform(platform).name
        if isinstance(fault, Duplicate) and name != "twitter":
            raise ValueError("only X has a duplicate-content error")
        with self._lock:
            self._faults.extend([(name, re.compile(path_regex), fault)] * times)

    def pin_for(self, request_token: str, platform: str | None = None) -> str:
        """The PIN the authorize page shows for `request_token` (authorizing it, as the user would)."""
        with self._lock:
            for candidate in ([self._platform(platform)] if platform else self._platforms.values()):
                if request_token in candidate.validator.request_tokens:
                    return candidate.pin_for(request_token)
        raise KeyError("no such request token")

    def posts(self, platform: str, account: str | None = None) -> list[Post]:
        chosen = self._platform(platform)
        with self._lock:
            return [post for post in chosen.posts if post.account == (account or chosen.account)]

    def set_engagement(self, platform: str, post_id: str, **counts: int) -> None:
        chosen = self._platform(platform)
        unknown = sorted(set(counts) - set(chosen.metrics))
        if unknown:
            raise ValueError(f"{chosen.name} has no count {unknown[0]!r}; it has {', '.join(chosen.metrics)}")
        with self._lock:
            post = chosen.find_post(post_id)
            if post is None:
                raise KeyError(f"no {chosen.name} post {post_id}")
            post.counts.update(counts)

    def _platform(self, name: str) -> _Platform:
        if name not in _NAMES:
            raise ValueError(f"unknown platform {name!r}; use twitter (or x) or tumblr")
        return self._platforms[_NAMES[name]]

    # --- lifecycle

    def __enter__(self) -> PlatformServer:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopping.set()  # wakes a Slow answer that is still waiting
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    # --- answering

    def _take_fault(self, platform: str, path: str) -> Fault | None:
        for index, (name, pattern, fault) in enumerate(self._faults):
            if name == platform and pattern.search(path):
                del self._faults[index]
                return fault
        return None

    def _answer(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Outcome:
        with self._lock:
            return self._answer_locked(method, target, headers, body)

    def _answer_locked(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Outcome:
        split = urlsplit(target)
        prefix, _, rest = split.path.lstrip("/").partition("/")
        if prefix not in _PREFIXES:
            self.requests.append(Logged(method, split.path, False))
            return _Outcome(_Reply(404, {"error": f"no platform under /{prefix}; use /x or /tumblr"}))
        platform, path = self._platforms[_PREFIXES[prefix]], "/" + rest
        query = parse_qs(split.query, keep_blank_values=True)
        route = platform.route(method, path)
        if route is None or route.endpoint == "GET /oauth/authorize":
            self.requests.append(Logged(method, split.path, False))
            return _Outcome(platform.authorize_page(query) if route else platform.error(404))

        uri = f"http://{headers.get('host', '')}{target}"
        text_body = body.decode("utf-8", errors="replace")
        if route.endpoint in _TOKEN_ENDPOINTS:
            token_reply = platform.token_reply(route.endpoint, uri, method, text_body, headers)
            signed_ok, rate_key = token_reply.status == 200, platform.validator.consumer_key
            run: Callable[[], _Reply] = lambda: token_reply  # noqa: E731
        else:
            signed_ok, rate_key = _verify(platform, uri, method, text_body, headers)
            run = lambda: platform.handle(route, query, body, headers)  # noqa: E731
        self.requests.append(Logged(method, split.path, signed_ok))
        if not signed_ok:
            return _Outcome(platform.unauthorized())

        fault = self._take_fault(platform.name, path)
        within, rate_headers = platform.count_request(route.endpoint, rate_key)
        if isinstance(fault, RateLimit):
            return _Outcome(platform.rate_limited(route.endpoint, rate_key, fault.reset_in_s))
        if isinstance(fault, Status):
            reply = platform.error(fault.status)
        elif isinstance(fault, Duplicate):
            reply = self._twitter.duplicate()
        elif not within:
            reply = platform.error(429)
        else:
            reply = run()
        reply = _Reply(reply.status, reply.body, reply.content_type, {**reply.headers, **rate_headers})
        if isinstance(fault, DropAfterAccept):
            return _Outcome(None)
        return _Outcome(reply, fault.seconds if isinstance(fault, Slow) else 0.0)


def _verify(platform: _Platform, uri: str, method: str, body: str, headers: dict[str, str]) -> tuple[bool, str]:
    """(signature verified, the access token) for an API request."""
    try:
        valid, request = platform.resource.validate_protected_resource_request(uri, method, body, headers)
    except ValueError:  # oauthlib refuses some malformed requests by raising
        return False, ""
    return valid, request.resource_owner_key if valid else ""


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up waiting (a Slow answer past its timeout) is expected here, not an error.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as the real APIs
    timeout = 5  # an idle kept-alive connection ends its thread

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        server: PlatformServer = self.server.platform_server  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        headers = {name.lower(): value for name, value in self.headers.items()}
        outcome = server._answer(self.command, self.path, headers, body)
        if outcome.reply is None or (outcome.delay_s and server._stopping.wait(outcome.delay_s)):
            self.close_connection = True
            return
        self._send(outcome.reply)

    def _send(self, reply: _Reply) -> None:
        text = reply.body if isinstance(reply.body, str) else json.dumps(reply.body)
        payload = text.encode("utf-8")
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(payload)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass
