"""What the two test platforms share: their posts, the replies they give, rate-limit windows, and the Platform
base class (routing, the OAuth 1.0a token endpoints, posts and their ids). The authorize step differs (X shows a
PIN, Tumblr redirects to the callback): each platform has its own."""

from __future__ import annotations

import re
import secrets
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, urlencode

from loopback_http import Reply
from oauthlib.oauth1 import AccessTokenEndpoint, RequestTokenEndpoint, ResourceEndpoint

from poster.credentials import OAuth1Credentials

from .oauth1 import Validator


@dataclass
class Post:
    id: str
    account: str  # X: the username; Tumblr: the blog name
    text: str  # Tumblr: the text blocks joined by blank lines
    created_at: int  # unix seconds
    tags: list[str] = field(default_factory=list)
    content: list[dict[str, Any]] = field(default_factory=list)  # Tumblr: the NPF blocks as sent
    counts: dict[str, int] = field(default_factory=dict)
    in_reply_to: str | None = None  # X: the id of the tweet it answers (None: it answers none)
    conversation_id: str | None = None  # X: the id of its thread's first tweet (its own id when it starts one)


class Window:
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


class Route(NamedTuple):
    endpoint: str  # "POST /2/tweets", "GET /2/users/:id/tweets": the rate-limit key
    args: tuple[str, ...]  # the path's variable parts


# The OAuth1 sign-in endpoints every OAuth1 platform here serves (routes: method, path pattern, name).
OAUTH1_ROUTES = (
    ("POST", re.compile(r"/oauth/request_token"), "POST /oauth/request_token"),
    ("GET", re.compile(r"/oauth/authorize"), "GET /oauth/authorize"),
    ("POST", re.compile(r"/oauth/access_token"), "POST /oauth/access_token"),
)


class Platform(ABC):
    """What the two platforms share: routing, the OAuth endpoints, posts and their ids."""

    name: str
    routes: tuple[tuple[str, re.Pattern[str], str], ...]  # (method, path pattern, endpoint)
    metrics: tuple[str, ...]

    def __init__(self, consumer_key: str, consumer_secret: str, account: str, first_id: int,
                 callback: str | None) -> None:
        self.validator = Validator(consumer_key, consumer_secret, callback)
        self.resource = ResourceEndpoint(self.validator)
        self.request_token = RequestTokenEndpoint(self.validator)
        self.access_token = AccessTokenEndpoint(self.validator)
        self.account = account
        self.posts: list[Post] = []
        self._next_id = first_id
        access_token, access_secret = secrets.token_hex(16), secrets.token_hex(16)
        self.validator.access_tokens[access_token] = access_secret
        self.credentials = OAuth1Credentials(consumer_key, consumer_secret, access_token, access_secret)

    def route(self, method: str, path: str) -> Route | None:
        for route_method, pattern, endpoint in self.routes:
            match = pattern.fullmatch(path)
            if match and route_method == method:
                return Route(endpoint, match.groups())
        return None

    def new_post(self, text: str, account: str | None = None, **extra: Any) -> Post:
        """A new post by `account` (the platform's one account when None)."""
        post = Post(str(self._next_id), account or self.account, text, int(time.time()), **extra)
        post.counts = dict.fromkeys(self.metrics, 0)
        self._next_id += 1
        self.posts.append(post)
        return post

    def find_post(self, post_id: str) -> Post | None:
        return next((post for post in self.posts if post.id == post_id), None)

    def not_a_valid_link(self) -> Reply:
        """The authorize step's answer to an unknown request token."""
        return Reply(400, "<p>This authorization link is not valid.</p>", "text/html; charset=utf-8")

    def token_reply(self, endpoint: str, uri: str, method: str, body: str, headers: dict[str, str]) -> Reply:
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
        return Reply(status, text, "application/x-www-form-urlencoded")

    def access_token_extras(self) -> dict[str, str]:
        return {}

    @abstractmethod
    def authorize(self, uri: str, query: dict[str, list[str]]) -> Reply:
        """GET /oauth/authorize (unsigned: the user's browser): the user allows the app."""

    @abstractmethod
    def unauthorized(self) -> Reply:
        """The platform's 401 for a request whose signature did not verify."""

    @abstractmethod
    def error(self, status: int, detail: str | None = None) -> Reply:
        """The platform's error body for `status`."""

    @abstractmethod
    def rate_limited(self, endpoint: str, key: str, reset_in_s: float) -> Reply:
        """A 429 whose headers say that the limit resets in `reset_in_s` seconds."""

    @abstractmethod
    def count_request(self, endpoint: str, key: str) -> tuple[bool, dict[str, str]]:
        """Counts a verified request: (within the limits, the rate headers to send)."""

    @abstractmethod
    def handle(self, route: Route, query: dict[str, list[str]], body: bytes, headers: dict[str, str]) -> Reply:
        """The answer to an API request whose signature verified."""

    def handle_as(self, token: str, route: Route, query: dict[str, list[str]], body: bytes,
                  headers: dict[str, str]) -> Reply:
        """handle() for the request signed with access token `token`. A platform whose tokens all act as its one
        account need not override it (Tumblr); X overrides it, as its tokens may act as other users."""
        return self.handle(route, query, body, headers)
