"""The X (Twitter) API v2 of the test platform: the endpoints the posters use, as X answers them.

X, under /x (errors are problem objects {"title", "type", "status", "detail"}; a bad parameter is 400
{"errors": [{"parameters": {...}, "message": ...}], "title": "Invalid Request", "detail": ..., "type": ...})
    Users: the test account and those a test adds (`server.add_twitter_user`); each access token acts as one
    of them (`server.twitter_credentials_for`), and what follows is as that user ("the account").
    POST /2/tweets  JSON {"text": str, "reply": {"in_reply_to_tweet_id": str}} (other fields: 400)
        -> 201 {"data": {"id", "text", "edit_history_tweet_ids"}}
        Every text X gives back has each link replaced by a t.co link ("https://t.co/" + 10 characters);
        tweet.fields=entities adds {"entities": {"urls": [{"start", "end", "url", "expanded_url", "display_url"}]}}.
        The same text twice by the account -> 403 {"detail": "You are not allowed to create a Tweet with duplicate
        content.", "type": "about:blank", "title": "Forbidden", "status": 403}. Empty or blank text -> 400.
        Weighted length over 280 -> 400. The weighting here (`weighted_length`): NFC first; a link
        ("http://", "https://" or "www." up to the next space) counts 23; code points 0-U+10FF, U+2000-U+200D,
        U+2010-U+201F and U+2032-U+2037 count 1, others 2; emoji continuations count 0 (variation selectors,
        skin tones, tag characters, U+20E3, the code point after a zero-width joiner, the second regional
        indicator of a flag). Bare domains (example.com) count by their characters.
        A reply: in_reply_to_tweet_id not a string of digits -> 400; no such tweet -> 403 {"detail": "You
        attempted to reply to a Tweet that is deleted or not visible to you.", "title": "Forbidden", ...}. X puts
        the reply's mentions in front of its text: "@" + the answered tweet's author and the answered tweet's own
        leading @mentions, never the replier, each only when the text does not start with it already. The
        reply joins the answered tweet's conversation (conversation_id: the id of the thread's first tweet).
    GET /2/users/me -> {"data": {"id", "name", "username"}} of the account
    GET /2/users/:id/tweets?max_results=5..100 (default 10)&pagination_token=..&start_time=YYYY-MM-DDTHH:mm:ssZ
        &exclude=replies,retweets (only the tweets created from then on; replies are in unless excluded)
        -> newest first
        {"data": [{"id", "text", "edit_history_tweet_ids"}], "meta": {"result_count", "newest_id", "oldest_id",
        "next_token" (when there are more)}}; no tweets: {"meta": {"result_count": 0}}; unknown user: errors.
    GET /2/users/:id/mentions?since_id=..&until_id=..&max_results=5..100 (default 10)&pagination_token=..
        &expansions=author_id,in_reply_to_user_id&user.fields=id,name,username&tweet.fields=..
        The tweets whose text names "@username" of user :id (any user here, as X also serves others' mentions;
        its own tweets too), of its 800 most recent, newer than since_id (exclusive), older than until_id
        (exclusive), newest first, max_results a page; a pagination token stands for "older than the last
        tweet given", so tweets posted between two pages do not shift them
        -> {"data": [...], "includes": {"users": [{"id", "name", "username"}]} (with expansions),
            "meta": {"result_count", "newest_id", "oldest_id", "next_token" (when there are more)}};
        none: {"meta": {"result_count": 0}}. A bad since_id, until_id, max_results or pagination_token -> 400
        ("The `since_id` query parameter value [x] is not valid", "... is not between 5 and 100"); a parameter
        X does not have -> 400 "The query parameter [x] is not one of [...]"; one X has but the stand-in does
        not implement (start_time, end_time, media/poll/place fields) -> 400 saying so.
        tweet.fields here and on the other reads: id, text, edit_history_tweet_ids, public_metrics, created_at,
        author_id, entities, conversation_id, referenced_tweets ([{"type": "replied_to", "id"}] on a reply),
        in_reply_to_user_id (on a reply); any other -> 400.
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

from poster.credentials import OAuth1Credentials

from .base import OAUTH1_ROUTES, Platform, Post, Reply, Route, Window

X_METRICS = ("retweet_count", "reply_count", "like_count", "quote_count", "impression_count")
MAX_WEIGHTED_LENGTH = 280
X_WINDOW_S = 15 * 60
DEFAULT_TWITTER_RATE_LIMITS = {
    "POST /2/tweets": 100,
    "GET /2/tweets": 900,
    "GET /2/users/me": 75,
    "GET /2/users/:id/tweets": 900,
    "GET /2/users/:id/mentions": 180,  # per user and 15 minutes (X's Basic access allows only 10)
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
                           "entities", "conversation_id", "referenced_tweets", "in_reply_to_user_id"})
_USER_FIELDS = frozenset({"id", "name", "username"})
_EXPANSIONS = frozenset({"author_id", "in_reply_to_user_id"})
# The query parameters X documents for the mentions timeline; the stand-in implements those in _MENTION_QUERY.
_X_MENTION_PARAMETERS = ("id", "since_id", "until_id", "max_results", "pagination_token", "start_time", "end_time",
                         "expansions", "tweet.fields", "media.fields", "poll.fields", "user.fields", "place.fields")
_MENTION_QUERY = frozenset({"since_id", "until_id", "max_results", "pagination_token", "expansions", "tweet.fields",
                            "user.fields"})
MENTION_HISTORY = 800  # X serves only a user's 800 most recent mentions
_INVALID_REQUEST = "https://api.twitter.com/2/problems/invalid-request"
_USERNAME = re.compile(r"\w{1,15}", re.ASCII)
_MENTION = re.compile(r"(?<![\w@])@(\w{1,15})(?!\w)", re.ASCII)
_LEADING_MENTIONS = re.compile(r"(?:@\w{1,15}\s+)*", re.ASCII)
_TOKEN_PREFIX = "b1"  # mention pagination tokens: b1 + the hex id of the oldest tweet already given


class Twitter(Platform):
    name = "twitter"
    metrics = X_METRICS
    routes = (
        ("POST", re.compile(r"/2/tweets"), "POST /2/tweets"),
        ("GET", re.compile(r"/2/tweets"), "GET /2/tweets"),
        ("GET", re.compile(r"/2/users/me"), "GET /2/users/me"),
        ("GET", re.compile(r"/2/users/(\d+)/tweets"), "GET /2/users/:id/tweets"),
        ("GET", re.compile(r"/2/users/(\d+)/mentions"), "GET /2/users/:id/mentions"),
        *OAUTH1_ROUTES,
    )

    def __init__(self, user: TwitterUser) -> None:
        super().__init__(f"xck{secrets.token_hex(10)}", secrets.token_hex(20), user.username, 1_790_000_000_000_000_001,
                         callback="oob")
        self.user = user
        self.users: dict[str, TwitterUser] = {user.id: user}  # by id: the test account and those tests add
        self._acting: dict[str, str] = {}  # access token -> user id, for tokens issued to added users
        self._next_user_id = int(user.id) + 1_000
        self.rate_limits = dict(DEFAULT_TWITTER_RATE_LIMITS)
        self._windows: dict[tuple[str, str], Window] = {}

    # --- users beyond the test account, and mentions (test controls; called with the server's lock held)

    def add_user(self, username: str, name: str | None = None) -> TwitterUser:
        """The user named `username` (case-insensitive, as X's), made when new."""
        if not _USERNAME.fullmatch(username):
            raise ValueError(f"{username!r} is not an X username (1 to 15 letters, digits or _)")
        known = self._user_named(username)
        if known is not None:
            return known
        user = TwitterUser(str(self._next_user_id), name or username, username)
        self._next_user_id += 1
        self.users[user.id] = user
        return user

    def credentials_for(self, username: str) -> OAuth1Credentials:
        """A new access token of the app that acts as `username` (the user is made when new)."""
        user = self.add_user(username)
        if user.id == self.user.id:
            return self.credentials
        token, secret = secrets.token_hex(16), secrets.token_hex(16)
        self.validator.access_tokens[token] = secret
        self._acting[token] = user.id
        return OAuth1Credentials(self.credentials.consumer_key, self.credentials.consumer_secret, token, secret)

    def add_mention(self, author: str, text: str, in_reply_to: str | None = None, of: str | None = None) -> str:
        """A tweet by `author` (made when new) that mentions `of` (default: the test account): its "@of" is put in
        front when the text does not name it already; a reply when `in_reply_to` is set. Returns its id."""
        writer, mentioned = self.add_user(author), self.add_user(of or self.user.username)
        parent = None
        if in_reply_to is not None:
            parent = self.find_post(in_reply_to)
            if parent is None:
                raise KeyError(f"no X tweet {in_reply_to}")
        text = _with_reply_mentions(text, self._reply_handles(writer, parent))
        if mentioned.id not in self._mentioned_ids(text):
            text = f"@{mentioned.username} {text}"
        if self._has_text(writer, text):
            raise ValueError(f"{writer.username} already has a tweet {text!r}: X would refuse it as a duplicate")
        return self._new_tweet(writer, text, parent).id

    def _user_named(self, username: str) -> TwitterUser | None:
        return next((user for user in self.users.values() if user.username.lower() == username.lower()), None)

    def _author(self, post: Post) -> TwitterUser:
        return self._user_named(post.account) or self.user

    def _mentioned_ids(self, text: str) -> set[str]:
        """The users an @username of the text names (X links only names of existing accounts)."""
        named = (self._user_named(handle) for handle in _MENTION.findall(text))
        return {user.id for user in named if user is not None}

    def _reply_handles(self, writer: TwitterUser, parent: Post | None) -> list[str]:
        """The @usernames X puts in front of a reply to `parent`: its author's and the parent's own leading ones,
        never the replier's."""
        if parent is None:
            return []
        handles = [self._author(parent).username, *_leading_handles(parent.text)]
        chosen: list[str] = []
        for handle in handles:
            if handle.lower() != writer.username.lower() and handle.lower() not in {h.lower() for h in chosen}:
                chosen.append(handle)
        return chosen

    def _has_text(self, writer: TwitterUser, text: str) -> bool:
        return any(post.text == text and post.account == writer.username for post in self.posts)

    def _new_tweet(self, writer: TwitterUser, text: str, parent: Post | None) -> Post:
        post = self.new_post(text, account=writer.username)
        if parent is not None:
            post.in_reply_to, post.conversation_id = parent.id, parent.conversation_id or parent.id
        else:
            post.conversation_id = post.id
        return post

    # --- the Platform parts

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
        return self._handle(self.user, route, query, body, headers)

    def handle_as(self, token: str, route: Route, query: dict[str, list[str]], body: bytes,
                  headers: dict[str, str]) -> Reply:
        return self._handle(self.users[self._acting.get(token, self.user.id)], route, query, body, headers)

    def _handle(self, me: TwitterUser, route: Route, query: dict[str, list[str]], body: bytes,
                headers: dict[str, str]) -> Reply:
        if route.endpoint == "POST /2/tweets":
            return self._create(me, body, headers)
        if route.endpoint == "GET /2/users/me":
            return Reply(200, {"data": {"id": me.id, "name": me.name, "username": me.username}})
        if route.endpoint == "GET /2/users/:id/tweets":
            return self._timeline(route.args[0], query)
        if route.endpoint == "GET /2/users/:id/mentions":
            return self._mentions(route.args[0], query)
        return self._lookup(query)

    def duplicate(self) -> Reply:
        return self.error(403, "You are not allowed to create a Tweet with duplicate content.")

    # --- POST /2/tweets

    def _create(self, me: TwitterUser, body: bytes, headers: dict[str, str]) -> Reply:
        if "application/json" not in headers.get("content-type", ""):
            return self.invalid("body", None, "the body must be JSON (Content-Type: application/json)")
        try:
            request = json.loads(body)
        except ValueError:
            return self.invalid("body", None, "the body is not valid JSON")
        if not isinstance(request, dict):
            return self.invalid("body", None, "the body must be a JSON object")
        for name in request:
            if name not in ("text", "reply"):
                return self.invalid(name, request[name], f"$.{name}: is not defined in the schema")
        text = request.get("text")
        if not isinstance(text, str) or not text.strip():
            return self.invalid("text", text, "text must be a non-empty string")
        length = weighted_length(text)
        if length > MAX_WEIGHTED_LENGTH:
            return self.invalid("text", text, f"text is too long: weighted length {length} > {MAX_WEIGHTED_LENGTH}")
        parent = None
        if "reply" in request:
            parent = self._replied_to(request["reply"])
            if isinstance(parent, Reply):
                return parent
            text = _with_reply_mentions(text, self._reply_handles(me, parent))
        if self._has_text(me, text):
            return self.duplicate()
        post = self._new_tweet(me, text, parent)
        shown = _shortened(post.text)[0]
        return Reply(201, {"data": {"id": post.id, "text": shown, "edit_history_tweet_ids": [post.id]}})

    def _replied_to(self, reply: Any) -> Post | Reply:
        """The tweet a create's `reply` object answers, or X's refusal."""
        if not isinstance(reply, dict):
            return self.invalid("reply", reply, "$.reply: must be an object")
        for name in reply:
            if name != "in_reply_to_tweet_id":  # exclude_reply_user_ids: X has it, the stand-in does not
                return self.invalid(f"reply.{name}", reply[name], f"$.reply.{name}: is not defined in the schema")
        tweet_id = reply.get("in_reply_to_tweet_id")
        if not isinstance(tweet_id, str) or not re.fullmatch(r"\d{1,19}", tweet_id):
            return self.invalid("reply.in_reply_to_tweet_id", tweet_id,
                                "$.reply.in_reply_to_tweet_id: must be a tweet id (a string of digits)")
        parent = self.find_post(tweet_id)
        if parent is None:
            return self.error(403, "You attempted to reply to a Tweet that is deleted or not visible to you.")
        return parent

    # --- reads

    def _fields(self, query: dict[str, list[str]]) -> set[str] | Reply:
        return self._listed(query, "tweet.fields", _TWEET_FIELDS)

    def _listed(self, query: dict[str, list[str]], parameter: str, allowed: frozenset[str]) -> set[str] | Reply:
        values = {name for value in query.get(parameter, []) for name in value.split(",") if name}
        unknown = sorted(values - allowed)
        if unknown:
            return self.invalid(parameter, unknown[0], f"The `{parameter}` value [{unknown[0]}] is not valid")
        return values

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
            tweet["author_id"] = self._author(post).id
        if "conversation_id" in fields:
            tweet["conversation_id"] = post.conversation_id or post.id
        parent = self.find_post(post.in_reply_to) if post.in_reply_to else None
        if "in_reply_to_user_id" in fields and parent is not None:
            tweet["in_reply_to_user_id"] = self._author(parent).id
        if "referenced_tweets" in fields and post.in_reply_to is not None:
            tweet["referenced_tweets"] = [{"type": "replied_to", "id": post.in_reply_to}]
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

    def _no_user(self, user_id: str) -> Reply:
        return Reply(200, {"errors": [{
            "value": user_id, "detail": f"Could not find user with id: [{user_id}].", "title": "Not Found Error",
            "resource_type": "user", "parameter": "id", "resource_id": user_id,
            "type": "https://api.twitter.com/2/problems/resource-not-found",
        }]})

    def _timeline(self, user_id: str, query: dict[str, list[str]]) -> Reply:
        fields = self._fields(query)
        if isinstance(fields, Reply):
            return fields
        user = self.users.get(user_id)
        if user is None:
            return self._no_user(user_id)
        raw_max = query.get("max_results", ["10"])[0]
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            return self.invalid("max_results", raw_max, "max_results must be an integer from 5 to 100")
        token = query.get("pagination_token", ["page-0"])[0]
        if not re.fullmatch(r"page-\d+", token):
            return self.invalid("pagination_token", token, "pagination_token is not one this server gave")
        since = query.get("start_time", [None])[0]
        if since is not None and not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", since):
            return self.invalid("start_time", since, "start_time must be YYYY-MM-DDTHH:mm:ssZ")
        excluded = self._listed(query, "exclude", frozenset({"replies", "retweets"}))
        if isinstance(excluded, Reply):
            return excluded
        since_unix = datetime.strptime(since, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc).timestamp() \
            if since else 0
        start, size = int(token.removeprefix("page-")), int(raw_max)
        newest_first = [post for post in reversed(self.posts) if post.account == user.username
                        and post.created_at >= since_unix and not ("replies" in excluded and post.in_reply_to)]
        page = newest_first[start:start + size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        if start + size < len(newest_first):
            meta["next_token"] = f"page-{start + size}"
        answer: dict[str, Any] = {"data": [self._tweet(post, fields) for post in page]} if page else {}
        answer["meta"] = meta
        return Reply(200, answer)

    def _mentions(self, user_id: str, query: dict[str, list[str]]) -> Reply:
        for name in query:
            if name not in _X_MENTION_PARAMETERS:
                return self.invalid(name, query[name][0],
                                    f"The query parameter [{name}] is not one of [{','.join(_X_MENTION_PARAMETERS)}]")
            if name not in _MENTION_QUERY:
                return self.invalid(name, query[name][0], f"the test platform does not implement [{name}]")
        fields = self._fields(query)
        user_fields = self._listed(query, "user.fields", _USER_FIELDS)
        expansions = self._listed(query, "expansions", _EXPANSIONS)
        for chosen in (fields, user_fields, expansions):
            if isinstance(chosen, Reply):
                return chosen
        user = self.users.get(user_id)
        if user is None:
            return self._no_user(user_id)
        raw_max = query.get("max_results", ["10"])[0]
        if not raw_max.isdigit() or not 5 <= int(raw_max) <= 100:
            return self.invalid("max_results", raw_max,
                                f"The `max_results` query parameter value [{raw_max}] is not between 5 and 100")
        bounds = []
        for name in ("since_id", "until_id"):
            value = query.get(name, [None])[0]
            if value is not None and not re.fullmatch(r"\d{1,19}", value):
                return self.invalid(name, value, f"The `{name}` query parameter value [{value}] is not valid")
            bounds.append(int(value) if value is not None else None)
        since_id, until_id = bounds
        token = query.get("pagination_token", [None])[0]
        below = _token_id(token) if token is not None else None
        if token is not None and below is None:
            return self.invalid("pagination_token", token,
                                f"The `pagination_token` query parameter value [{token}] is not valid")
        history = [post for post in reversed(self.posts) if user.id in self._mentioned_ids(post.text)]
        newest_first = [post for post in history[:MENTION_HISTORY]
                        if (since_id is None or int(post.id) > since_id)
                        and (until_id is None or int(post.id) < until_id)
                        and (below is None or int(post.id) < below)]
        size = int(raw_max)
        page = newest_first[:size]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta.update(newest_id=page[0].id, oldest_id=page[-1].id)
        if len(newest_first) > size:
            meta["next_token"] = f"{_TOKEN_PREFIX}{int(page[-1].id):x}"
        answer: dict[str, Any] = {}
        if page:
            answer["data"] = [self._tweet(post, fields) for post in page]
            users = self._expanded_users(page, expansions)
            if users:
                answer["includes"] = {"users": [
                    {"id": u.id, "name": u.name, "username": u.username} for u in users
                ]}
        answer["meta"] = meta
        return Reply(200, answer)

    def _expanded_users(self, page: list[Post], expansions: set[str]) -> list[TwitterUser]:
        users: dict[str, TwitterUser] = {}
        for post in page:
            if "author_id" in expansions:
                author = self._author(post)
                users.setdefault(author.id, author)
            parent = self.find_post(post.in_reply_to) if post.in_reply_to else None
            if "in_reply_to_user_id" in expansions and parent is not None:
                answered = self._author(parent)
                users.setdefault(answered.id, answered)
        return list(users.values())


def _leading_handles(text: str) -> list[str]:
    """The usernames of the @mentions a text starts with."""
    return re.findall(r"@(\w{1,15})", _LEADING_MENTIONS.match(text).group(), re.ASCII)  # type: ignore[union-attr]


def _with_reply_mentions(text: str, handles: list[str]) -> str:
    """`text` with the reply's @usernames that its leading mentions lack put in front, as X adds them."""
    leading = {handle.lower() for handle in _leading_handles(text)}
    missing = [f"@{handle}" for handle in handles if handle.lower() not in leading]
    return " ".join([*missing, text]) if missing else text


def _token_id(token: str) -> int | None:
    """The tweet id a mentions pagination token continues below; None for a token this server did not give."""
    hex_id = token.removeprefix(_TOKEN_PREFIX)
    if token == hex_id or not re.fullmatch(r"[0-9a-f]{1,16}", hex_id):
        return None
    return int(hex_id, 16)


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
