"""The test platform's HTTP server: one loopback server (tests/loopback_http.py) on a free port that routes /x/...
to the X platform and /tumblr/... to the Tumblr one, verifies every signature (oauth1.py), applies the injected
faults (faults.py) and rate limits, and keeps the log of requests. See the package docstring for its API."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from loopback_http import LoopbackServer, Request

from poster.credentials import OAuth1Credentials

from .base import Platform, Post, Reply
from .faults import DropAfterAccept, Duplicate, Fault, LateAccept, RateLimit, Slow, Status
from .oauth1 import verify
from .tumblr import Tumblr
from .x import Twitter, TwitterUser


class Logged(NamedTuple):
    method: str
    path: str
    signed_ok: bool


_PREFIXES = {"x": "twitter", "tumblr": "tumblr"}
_NAMES = {"twitter": "twitter", "x": "twitter", "tumblr": "tumblr"}
_TOKEN_ENDPOINTS = frozenset({"POST /oauth/request_token", "POST /oauth/access_token"})


# What _answer gives the loopback server: the reply (None: drop the connection without an answer; a callable:
# handle the request only after the delay, for LateAccept) and how long to hold it back.
_Outcome = tuple[Reply | Callable[[], Reply] | None, float]


class PlatformServer(LoopbackServer):
    def __init__(self) -> None:
        super().__init__("platform-server")
        self.twitter_user = TwitterUser(id="1500000000000000042", name="Lorecast Test", username="lorecast_test")
        self.tumblr_blog = "lorecast-test"
        self._platforms: dict[str, Platform] = {
            "twitter": Twitter(self.twitter_user), "tumblr": Tumblr(self.tumblr_blog),
        }
        self.requests: list[Logged] = []
        self._faults: list[tuple[str, re.Pattern[str], Fault]] = []
        self._lock = threading.Lock()

    # --- addresses and keys (`url` is the loopback server's)

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
    def tumblr_callback_url(self) -> str | None:
        """The app's registered callback URL: the one oauth_callback Tumblr's request token accepts."""
        return self._tumblr.validator.callback

    @tumblr_callback_url.setter
    def tumblr_callback_url(self, url: str | None) -> None:
        if url == "oob":
            raise ValueError("Tumblr has no oob (PIN) flow: its callback is a URL")
        with self._lock:
            self._tumblr.validator.callback = url

    @property
    def tumblr_user_denies(self) -> bool:
        """True: the user clicks Deny on Tumblr's authorize page (the browser goes to the bare callback URL)."""
        return self._tumblr.user_denies

    @tumblr_user_denies.setter
    def tumblr_user_denies(self, denies: bool) -> None:
        with self._lock:
            self._tumblr.user_denies = denies

    @property
    def tumblr_daily_post_limit(self) -> int:
        return self._tumblr.daily_post_limit

    @tumblr_daily_post_limit.setter
    def tumblr_daily_post_limit(self, limit: int) -> None:
        self._tumblr.daily_post_limit = limit

    @property
    def _twitter(self) -> Twitter:
        return self._platforms["twitter"]  # type: ignore[return-value]

    @property
    def _tumblr(self) -> Tumblr:
        return self._platforms["tumblr"]  # type: ignore[return-value]

    # --- test controls

    def inject(self, platform: str, path_regex: str, fault: Fault, times: int = 1) -> None:
        name = self._platform(platform).name
        if isinstance(fault, Duplicate) and name != "twitter":
            raise ValueError("only X has a duplicate-content error")
        with self._lock:
            self._faults.extend([(name, re.compile(path_regex), fault)] * times)

    def pin_for(self, request_token: str) -> str:
        """The PIN X's authorize page shows for `request_token` (authorizing it, as the user would). Tumblr has
        no PIN: its authorize step redirects to the callback."""
        with self._lock:
            return self._twitter.pin_for(request_token)

    def add_twitter_user(self, username: str, name: str | None = None) -> TwitterUser:
        """Another X user (the one named `username` when it exists already; names are case-insensitive)."""
        with self._lock:
            return self._twitter.add_user(username, name)

    def twitter_credentials_for(self, username: str) -> OAuth1Credentials:
        """A new access token of the test app that acts as X user `username` (made when new): a second bot."""
        with self._lock:
            return self._twitter.credentials_for(username)

    def add_mention(self, author_username: str, text: str, in_reply_to: str | None = None,
                    of: str | None = None) -> str:
        """A tweet by X user `author_username` (made when new) that mentions `of` (default: the test account),
        whose "@username" is put in front when the text lacks it; a reply to tweet `in_reply_to` when set (X's
        reply mentions added as for a posted reply). Returns its id. ValueError when X would refuse it as a
        duplicate, KeyError for an unknown `in_reply_to`."""
        with self._lock:
            return self._twitter.add_mention(author_username, text, in_reply_to, of)

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

    def _platform(self, name: str) -> Platform:
        if name not in _NAMES:
            raise ValueError(f"unknown platform {name!r}; use twitter (or x) or tumblr")
        return self._platforms[_NAMES[name]]

    # --- answering

    def _take_fault(self, platform: str, path: str) -> Fault | None:
        for index, (name, pattern, fault) in enumerate(self._faults):
            if name == platform and pattern.search(path):
                del self._faults[index]
                return fault
        return None

    def _answer(self, request: Request) -> _Outcome:
        with self._lock:
            return self._answer_locked(request.method, request.target, request.headers, request.body)

    def _locked(self, run: Callable[[], Reply]) -> Reply:
        with self._lock:
            return run()

    def _answer_locked(self, method: str, target: str, headers: dict[str, str], body: bytes) -> _Outcome:
        split = urlsplit(target)
        prefix, _, rest = split.path.lstrip("/").partition("/")
        if prefix not in _PREFIXES:
            self.requests.append(Logged(method, split.path, False))
            return Reply(404, {"error": f"no platform under /{prefix}; use /x or /tumblr"}), 0.0
        platform, path = self._platforms[_PREFIXES[prefix]], "/" + rest
        query = parse_qs(split.query, keep_blank_values=True)
        route = platform.route(method, path)
        uri = f"http://{headers.get('host', '')}{target}"
        if route is None or route.endpoint == "GET /oauth/authorize":
            self.requests.append(Logged(method, split.path, False))
            return (platform.authorize(uri, query) if route else platform.error(404)), 0.0

        text_body = body.decode("utf-8", errors="replace")
        if route.endpoint in _TOKEN_ENDPOINTS:
            token_reply = platform.token_reply(route.endpoint, uri, method, text_body, headers)
            signed_ok, rate_key = token_reply.status == 200, platform.validator.consumer_key
            run: Callable[[], Reply] = lambda: token_reply  # noqa: E731
        else:
            signed_ok, rate_key = verify(platform.resource, uri, method, text_body, headers)
            run = lambda: platform.handle_as(rate_key, route, query, body, headers)  # noqa: E731
        self.requests.append(Logged(method, split.path, signed_ok))
        if not signed_ok:
            return platform.unauthorized(), 0.0

        fault = self._take_fault(platform.name, path)
        within, rate_headers = platform.count_request(route.endpoint, rate_key)
        if isinstance(fault, RateLimit):
            return platform.rate_limited(route.endpoint, rate_key, fault.reset_in_s), 0.0
        if isinstance(fault, LateAccept) and within:
            return lambda: self._locked(run), fault.seconds
        if isinstance(fault, Status):
            reply = platform.error(fault.status)
        elif isinstance(fault, Duplicate):
            reply = self._twitter.duplicate()
        elif not within:
            reply = platform.error(429)
        else:
            reply = run()
        reply = Reply(reply.status, reply.body, reply.content_type, {**reply.headers, **rate_headers})
        if isinstance(fault, DropAfterAccept):
            return None, 0.0
        return reply, fault.seconds if isinstance(fault, Slow) else 0.0

