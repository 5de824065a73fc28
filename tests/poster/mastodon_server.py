"""A local Mastodon instance: the subset of Mastodon's REST API and OAuth endpoints that lorecast uses, with the
bot's account and any others a test adds, checking what Mastodon checks.

    with MastodonServer() as server:          # 127.0.0.1, a free port; tests use the `mastodon_server` fixture
        server.url             http://127.0.0.1:PORT, the instance URL
        server.acct            "lorebot", the bot's account (server.account_id its id)
        server.access_token    a pre-issued user token of it with the scopes "read write:statuses"
        server.max_characters  500, settable; None: /api/v2/instance does not say (500 is enforced, as Mastodon)

Served:
    POST /api/v1/apps                  client_name, redirect_uris (a string or a list), scopes (default "read"),
                                       website; form or JSON -> {"id", "name", "client_id", "client_secret",
                                       "redirect_uri", "redirect_uris", "scopes", ...}; 422 when a field is bad
    GET  /oauth/authorize              as the bot's account, signed in, approving at once: checks
                                       response_type=code, client_id, redirect_uri (one of the app's) and scope
                                       (within the app's); for urn:ietf:wg:oauth:2.0:oob it redirects (302) to
                                       /oauth/authorize/native?code=CODE, the page that shows the code in
                                       <input class="oauth-code" readonly value="CODE">, as Mastodon does; for any
                                       other redirect_uri 302 to it with ?code=CODE (&state=). A bad request gets a
                                       400 HTML page, never a redirect
    POST /oauth/token                  grant_type authorization_code (client_id and client_secret must match, the
                                       code is the app's, unused and under 10 minutes old, redirect_uri is the
                                       one of the authorize request) or client_credentials (an app token, no
                                       user) -> {"access_token", "token_type": "Bearer", "scope", "created_at"};
                                       400 invalid_grant, 401 invalid_client, as Doorkeeper answers
    POST /oauth/revoke                 client_id, client_secret, token
    GET  /api/v1/accounts/verify_credentials    the token's account (read, read:accounts or profile)
    GET  /api/v2/instance, /api/v1/instance     configuration.statuses.{max_characters, characters_reserved_per_url}
    POST /api/v1/statuses              write or write:statuses, a user token; form or JSON status, visibility
                                       (public, unlisted, private, direct), in_reply_to_id; the text limit
                                       counted as Mastodon counts (grapheme clusters, a link 23, a remote mention
                                       its local part): 422 "Validation failed: Text character limit of N
                                       exceeded"; in_reply_to_id must name a status the poster may see, else 404
                                       {"error": "The post you are trying to reply to does not appear to exist."}
                                       (checked first, as Mastodon's before_action); Idempotency-Key answers a
                                       repeat of the same account within an hour with the first status
    GET  /api/v1/accounts/:id/statuses newest first, limit (20, at most 40), max_id, since_id, min_id,
                                       exclude_replies (replies to others left out, a thread of one's own kept);
                                       a Link header; a token given must have read or read:statuses; what the
                                       viewer may see (below)
    GET  /api/v1/statuses/:id          404 {"error": "Record not found"} when there is none or it is not visible
    GET  /api/v1/statuses?id[]=...     Mastodon 4.3's multi-get, 20 ids at most (422 past that); set
                                       `server.multi_get = False` to be an older instance, which answers 404
    GET  /api/v1/notifications         read or read:notifications, a user token: the token's account's
                                       notifications newest first; types[], exclude_types[], max_id, since_id,
                                       min_id (pages forward), limit (40, at most 80; Rails' to_i), include_filtered;
                                       a Link header rel="next" (max_id = the page's oldest) and rel="prev" (min_id =
                                       its newest) keeping limit, types[] and exclude_types[] but NOT since_id, as
                                       Mastodon's; none on an empty page. Notification ids are their own sequence,
                                       not status ids

Mentions, as Mastodon makes them: a status whose text names "@username" (or "@username@HOST") of an account here
mentions it (`mentions` in its JSON, rendered as an h-card link). A reply without the "@" mentions nobody and
notifies nobody. Each mentioned account gets a `mention` notification, except (NotifyService) the author itself,
an account that blocks the author or mutes it (with notifications, the default), and, by the 4.3 notification
policy (`for_private_mentions` "filter" by default), a direct status from an account it does not follow that
does not answer a direct status of its own mentioning the author: that one is filtered (listed only with
include_filtered=true), or not made with "drop". Blocking deletes the author's earlier notifications; muting does
not. Deleting a status deletes its notifications.

Who sees a status (AccountStatusesFilter, StatusPolicy#show?): public and unlisted anyone; private its author,
followers and mentioned accounts; direct its author and mentioned accounts. Anything else answers 404.

Checked on every /api request as Mastodon does: the Bearer token is known (401 {"error": "The access token is
invalid"}) and not revoked (401 "The access token was revoked"), its scopes cover the endpoint (403 {"error":
"This action is outside the authorized scopes"}); an endpoint that needs a user refuses an app token (422
"This method requires an authenticated user"). Rate limits as Mastodon's defaults: `server.rate_limit` (300)
requests per `server.rate_limit_period_s` (300 s) per account, or per address without a token, in windows
aligned to the period; POST /api/v1/statuses also 300 per 3 hours per account. Every /api answer carries
X-RateLimit-Limit, -Remaining and -Reset (ISO 8601, the window nearest to running out); past a limit, 429
{"error": "Too many requests"}. Status content is Mastodon's HTML: <p> per paragraph (a blank line or more),
<br /> per line break, & < > " ' escaped, links as <a> with the "https://" and the tail past 30 characters in
invisible spans, hashtags as links, mentions as h-cards.

Faults (tests/poster/platform_server/faults.py): `server.inject(path_regex, fault, times=1)`; a request whose
token checks passed (any request, for /oauth/...) and whose path (no query) matches takes the first matching fault:
    Status(503)        that status with {"error": ...} instead of handling the request
    RateLimit(30)      429 with X-RateLimit-Remaining 0 and a Reset 30 s from now
    Slow(2.0)          handles the request at once (a status IS created), answers 2 s later
    LateAccept(2.0)    waits 2 s, then handles the request (the status is created only then), then answers
    DropAfterAccept()  handles the request, then closes the connection without an answer

Inspection and controls:
    server.posts(acct=None)            Posted (id, text, visibility, idempotency_key, created_at, counts,
                                       account_id, in_reply_to_id, in_reply_to_account_id, mentions) of one
                                       account (the bot's by default), oldest first
    server.add_account(acct) -> token  another local account, with a user token "read write:statuses" of its own;
                                       server.account_id_of(acct) its id
    server.mention(from_acct, text, in_reply_to=None, visibility="public") -> status id
                                       a status of that account posted some other way (no request, no limit); it
                                       notifies whom its text mentions, as any status; in_reply_to must exist
    server.add_status(text, visibility="unlisted", acct=None) -> status id   the same, by the bot by default
    server.mute(by_acct, muted_acct, notifications=True), server.block(by_acct, blocked_acct),
    server.follow(by_acct, followed_acct), server.set_private_mentions(acct, "accept" | "filter" | "drop")
    server.notifications(acct=None)    Notice (id, type, account_id, from_account_id, status_id, filtered) of an
                                       account, oldest first
    server.set_engagement(status_id, favourites_count=, reblogs_count=, replies_count=), server.delete(status_id),
    server.issue_token(scopes, user=True, acct=None) (another user token), server.revoke(token),
    server.advance_clock(seconds) (the instance's clock: idempotency keys, codes and rate windows age), and
    server.requests (Logged(method, path, token_ok) for every request, the path without the query).
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import time
import unicodedata
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, NamedTuple
from urllib.parse import parse_qs, urlencode, urlsplit

from loopback_http import LoopbackServer, Reply, Request
from platform_server.faults import DropAfterAccept, Fault, LateAccept, RateLimit, Slow, Status

OOB = "urn:ietf:wg:oauth:2.0:oob"
URL_CHARACTERS = 23
IDEMPOTENCY_S = 3600
CODE_LIFETIME_S = 600
STATUSES_CREATE_LIMIT, STATUSES_CREATE_PERIOD_S = 300, 3 * 3600
MULTI_GET_LIMIT = 20
NOTIFICATIONS_LIMIT = 40  # DEFAULT_NOTIFICATIONS_LIMIT since Mastodon 4.1; at most twice that (limit_param)
VISIBILITIES = ("public", "unlisted", "private", "direct")
POLICIES = ("accept", "filter", "drop")
REPLY_NOT_FOUND = "The post you are trying to reply to does not appear to exist."
KNOWN_SCOPES = frozenset(
    {"read", "write", "follow", "push", "profile"}
    | {f"read:{part}" for part in ("accounts", "blocks", "bookmarks", "favourites", "filters", "follows", "lists",
                                   "mutes", "notifications", "search", "statuses")}
    | {f"write:{part}" for part in ("accounts", "blocks", "bookmarks", "conversations", "favourites", "filters",
                                    "follows", "lists", "media", "mutes", "notifications", "reports", "statuses")}
)


class Logged(NamedTuple):
    method: str
    path: str
    token_ok: bool  # a valid token came with it (False for a public call without one)


@dataclass
class Posted:
    id: str
    text: str
    visibility: str
    idempotency_key: str | None
    created_at: float  # unix seconds, the instance's clock
    counts: dict[str, int] = field(default_factory=lambda: {
        "favourites_count": 0, "reblogs_count": 0, "replies_count": 0})
    account_id: str = ""  # its author's
    in_reply_to_id: str | None = None
    in_reply_to_account_id: str | None = None
    mentions: tuple[str, ...] = ()  # ids of the local accounts its text mentions


@dataclass
class Notice:
    """One notification, as Mastodon's notifications table has it."""

    id: str
    type: str
    account_id: str  # whom it notifies
    from_account_id: str
    status_id: str
    created_at: float
    filtered: bool = False  # held back by the recipient's notification policy


@dataclass
class _Account:
    id: str
    username: str
    created_at: float
    muting: dict[str, bool] = field(default_factory=dict)  # muted account id -> notifications muted too
    blocking: set[str] = field(default_factory=set)
    following: set[str] = field(default_factory=set)
    private_mentions: str = "filter"  # NotificationPolicy#for_private_mentions; Mastodon 4.3's default


@dataclass
class _App:
    name: str
    client_id: str
    client_secret: str
    redirect_uris: list[str]
    scopes: list[str]
    website: str | None


@dataclass
class _Token:
    scopes: frozenset[str]
    user: bool  # False: an app token (client_credentials)
    client_id: str | None
    created_at: int
    account_id: str | None = None  # whose it is; None for an app token
    revoked: bool = False


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scopes: frozenset[str]
    issued_at: float
    used: bool = False


class _Window:
    """An aligned rate-limit window, as Mastodon's: it resets at the next multiple of `period` seconds."""

    def __init__(self) -> None:
        self.start, self.used = -1.0, 0

    def take(self, now: float, limit: int, period: float) -> tuple[bool, int, float]:
        start = now - now % period
        if start != self.start:
            self.start, self.used = start, 0
        self.used += 1
        return self.used <= limit, max(0, limit - self.used), start + period


class MastodonServer(LoopbackServer):
    def __init__(self, acct: str = "lorebot") -> None:
        super().__init__("mastodon-server")
        self.acct = acct
        self.account_id = "109372843859201234"
        self.max_characters: int | None = 500
        self.multi_get = True
        self.rate_limit = 300
        self.rate_limit_period_s = 300.0
        self.requests: list[Logged] = []
        self._accounts: dict[str, _Account] = {}
        self._statuses: list[Posted] = []
        self._notices: list[Notice] = []
        self._apps: dict[str, _App] = {}
        self._tokens: dict[str, _Token] = {}
        self._codes: dict[str, _Code] = {}
        self._idempotency: dict[tuple[str, str], tuple[str, float]] = {}  # (account id, key) -> (status id, when)
        self._windows: dict[str, _Window] = {}
        self._faults: list[tuple[re.Pattern[str], Fault]] = []
        self._clock_offset = 0.0
        self._sequence = 0
        self._notice_sequence = 34975000  # notifications are numbered on their own, unlike statuses
        self._lock = threading.Lock()
        self._accounts[self.account_id] = _Account(self.account_id, acct, 0.0)
        self.access_token = self.issue_token("read write:statuses")

    # --- test controls

    def inject(self, path_regex: str, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([(re.compile(path_regex), fault)] * times)

    def add_account(self, acct: str) -> str:
        """Another local account; its user token with the scopes "read write:statuses"."""
        with self._lock:
            if self._find_account(acct) is not None:
                raise ValueError(f"there is an account @{acct} already")
            if not re.fullmatch(r"[a-z0-9_]+([a-z0-9_.-]+[a-z0-9_]+)?", acct, re.IGNORECASE):
                raise ValueError(f"@{acct} is not a username Mastodon allows")
            account_id = str(int(self.account_id) + 7919 * len(self._accounts))
            self._accounts[account_id] = _Account(account_id, acct, self.now())
        return self.issue_token("read write:statuses", acct=acct)

    def account_id_of(self, acct: str) -> str:
        with self._lock:
            return self._account(acct).id

    def issue_token(self, scopes: str, user: bool = True, acct: str | None = None) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            account_id = self._account(acct or self.acct).id if user else None
            self._tokens[token] = _Token(frozenset(scopes.split()), user, None, int(self.now()), account_id)
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens[token].revoked = True

    def posts(self, acct: str | None = None) -> list[Posted]:
        with self._lock:
            account_id = self._account(acct or self.acct).id
            return [status for status in self._statuses if status.account_id == account_id]

    def notifications(self, acct: str | None = None) -> list[Notice]:
        with self._lock:
            account_id = self._account(acct or self.acct).id
            return [notice for notice in self._notices if notice.account_id == account_id]

    def set_engagement(self, status_id: str, **counts: int) -> None:
        unknown = sorted(set(counts) - {"favourites_count", "reblogs_count", "replies_count"})
        if unknown:
            raise ValueError(f"no count {unknown[0]!r}; use favourites_count, reblogs_count, replies_count")
        with self._lock:
            self._status(status_id).counts.update(counts)

    def add_status(self, text: str, visibility: str = "unlisted", acct: str | None = None) -> str:
        """A status the account (the bot's by default) posted some other way (the web interface): no request, no
        key, no limit; it mentions and notifies as any status."""
        return self.mention(acct or self.acct, text, visibility=visibility)

    def mention(self, from_acct: str, text: str, in_reply_to: str | None = None, visibility: str = "public") -> str:
        """A status of `from_acct` posted some other way; it notifies the accounts its text names ("@lorebot")."""
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        with self._lock:
            author = self._account(from_acct)
            parent = self._status(in_reply_to) if in_reply_to is not None else None
            if parent is not None and not self._visible(parent, author.id):
                raise ValueError(f"@{from_acct} cannot see status {in_reply_to}")
            return self._create(author, text, visibility, parent, None).id

    def mute(self, by_acct: str, muted_acct: str, notifications: bool = True) -> None:
        """As POST /api/v1/accounts/:id/mute: later mentions by the muted account notify no more (with
        notifications, the default); earlier notifications stay."""
        with self._lock:
            self._account(by_acct).muting[self._account(muted_acct).id] = notifications

    def block(self, by_acct: str, blocked_acct: str) -> None:
        """As POST /api/v1/accounts/:id/block: no more notifications from it, and its earlier ones deleted."""
        with self._lock:
            account, blocked = self._account(by_acct), self._account(blocked_acct)
            account.blocking.add(blocked.id)
            account.following.discard(blocked.id)
            self._notices = [notice for notice in self._notices
                             if not (notice.account_id == account.id and notice.from_account_id == blocked.id)]

    def follow(self, by_acct: str, followed_acct: str) -> None:
        with self._lock:
            self._account(by_acct).following.add(self._account(followed_acct).id)

    def set_private_mentions(self, acct: str, policy: str) -> None:
        """The account's notification policy for unsolicited private mentions (PATCH /api/v2/notifications/policy
        for_private_mentions): "accept", "filter" (Mastodon 4.3's default) or "drop"."""
        if policy not in POLICIES:
            raise ValueError(f"policy must be one of {', '.join(POLICIES)}")
        with self._lock:
            self._account(acct).private_mentions = policy

    def delete(self, status_id: str) -> None:
        with self._lock:
            self._statuses.remove(self._status(status_id))
            self._notices = [notice for notice in self._notices if notice.status_id != status_id]

    def advance_clock(self, seconds: float) -> None:
        with self._lock:
            self._clock_offset += seconds

    def now(self) -> float:
        return time.time() + self._clock_offset

    # --- answering

    def _handled_late(self, handler, params, headers, token, args, rate_headers) -> Reply:
        """A request handled only now (LateAccept), under the lock as any other."""
        with self._lock:
            reply = handler(self, params, headers, token, *args)
        reply.headers.update(rate_headers)
        return reply

    def _answer(self, request: Request) -> tuple[Reply | None, float]:
        """The reply (None: drop the connection) and how long to hold it back."""
        method, target, headers, body = request.method, request.target, request.headers, request.body
        with self._lock:
            split = urlsplit(target)
            path, query = split.path, parse_qs(split.query, keep_blank_values=True)
            params = {**query, **_body_params(headers, body)}
            handler, token_rule, scopes, args = _route(method, path)
            if handler is None:
                self.requests.append(Logged(method, path, False))
                return Reply(404, {"error": "Record not found"}), 0.0
            token, refusal = self._authenticate(headers, token_rule, scopes)
            self.requests.append(Logged(method, path, token is not None))
            api = path.startswith("/api/")
            rate_headers: dict[str, str] = {}
            if api:
                within, rate_headers = self._count(method, path, token, headers)
                if not within:  # Rack::Attack answers before any controller looks at the token
                    return Reply(429, {"error": "Too many requests"}, headers=rate_headers), 0.0
            if refusal is not None:
                refusal.headers.update(rate_headers)
                return refusal, 0.0
            fault = self._take_fault(path)
            if isinstance(fault, RateLimit):
                reset = _iso(self.now() + fault.reset_in_s)
                return Reply(429, {"error": "Too many requests"}, headers={
                    "X-RateLimit-Limit": str(self.rate_limit), "X-RateLimit-Remaining": "0",
                    "X-RateLimit-Reset": reset}), 0.0
            if isinstance(fault, LateAccept):
                return lambda: self._handled_late(handler, params, headers, token, args, rate_headers), fault.seconds
            if isinstance(fault, Status):
                reply = Reply(fault.status, {"error": f"injected HTTP {fault.status}"})
            else:
                reply = handler(self, params, headers, token, *args)
            reply.headers.update(rate_headers)
            if isinstance(fault, DropAfterAccept):
                return None, 0.0
            return reply, fault.seconds if isinstance(fault, Slow) else 0.0

    def _authenticate(self, headers: dict[str, str], rule: str,
                      scopes: tuple[str, ...]) -> tuple[_Token | None, Reply | None]:
        """The request's token (None when it has none, or its token is not looked at) and, when the request is
        refused for it, the refusal: Doorkeeper's checks as Mastodon's controllers make them."""
        if rule == "ignored":
            return None, None
        authorization = headers.get("authorization", "")
        given = authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
        if not given:
            return None, (Reply(401, {"error": "The access token is invalid"}) if rule == "user" else None)
        token = self._tokens.get(given)
        if token is None:
            return None, Reply(401, {"error": "The access token is invalid"})
        if token.revoked:
            return None, Reply(401, {"error": "The access token was revoked"})
        if not _covers(token.scopes, scopes):
            return token, Reply(403, {"error": "This action is outside the authorized scopes"})
        if rule == "user" and not token.user:
            return token, Reply(422, {"error": "This method requires an authenticated user"})
        return token, None

    def _count(self, method: str, path: str, token: _Token | None,
               headers: dict[str, str]) -> tuple[bool, dict[str, str]]:
        now = self.now()
        user = token is not None and token.user
        who = f"account:{token.account_id}" if user else f"address:{headers.get('x-forwarded-for', 'ip')}"
        checks = [(self._windows.setdefault(who, _Window()), self.rate_limit, self.rate_limit_period_s)]
        if (method, path) == ("POST", "/api/v1/statuses") and user:
            checks.append((self._windows.setdefault(f"statuses:{token.account_id}", _Window()),
                           STATUSES_CREATE_LIMIT, STATUSES_CREATE_PERIOD_S))
        results = [(window.take(now, limit, period), limit) for window, limit, period in checks]
        (within, remaining, reset_at), limit = min(results, key=lambda result: (result[0][0], result[0][1]))
        return all(result[0][0] for result in results), {
            "X-RateLimit-Limit": str(limit), "X-RateLimit-Remaining": str(remaining),
            "X-RateLimit-Reset": _iso(reset_at)}

    def _take_fault(self, path: str) -> Fault | None:
        for index, (pattern, fault) in enumerate(self._faults):
            if pattern.search(path):
                del self._faults[index]
                return fault
        return None

    # --- the instance's records (called with the lock held)

    def _account(self, acct: str) -> _Account:
        account = self._find_account(acct)
        if account is None:
            raise KeyError(f"no account @{acct} here; add_account({acct!r}) first")
        return account

    def _find_account(self, acct: str) -> _Account | None:
        wanted = acct.lower()
        return next((account for account in self._accounts.values() if account.username.lower() == wanted), None)

    def _status(self, status_id: str) -> Posted:
        for status in self._statuses:
            if status.id == status_id:
                return status
        raise KeyError(f"no status {status_id}")

    def _find_status(self, status_id: str | None) -> Posted | None:
        return next((status for status in self._statuses if status.id == status_id), None)

    def _new_id(self) -> str:
        self._sequence += 1
        return str((int(self.now() * 1000) << 16) | (self._sequence & 0xFFFF))

    def _visible(self, status: Posted, viewer_id: str | None) -> bool:
        """Whether the account (None: no one signed in) may see the status, as StatusPolicy#show? decides."""
        if status.visibility in ("public", "unlisted"):
            return True
        if viewer_id is None:
            return False
        if viewer_id == status.account_id or viewer_id in status.mentions:
            return True
        return status.visibility == "private" and status.account_id in self._accounts[viewer_id].following

    def _mentioned(self, text: str) -> tuple[str, ...]:
        """The local accounts a text names, as ProcessMentionsService finds them: "@user" or "@user@this-host"."""
        found: list[str] = []
        local_hosts = {urlsplit(self.url).netloc.lower(), (urlsplit(self.url).hostname or "").lower()}
        for match in _LOCAL_MENTION.finditer(text):
            username, host = match.group(1), match.group(2)
            account = self._find_account(username) if host is None or host.lower() in local_hosts else None
            if account is not None and account.id not in found:
                found.append(account.id)
        return tuple(found)

    def _create(self, author: _Account, text: str, visibility: str, parent: Posted | None,
                key: str | None) -> Posted:
        status = Posted(self._new_id(), text, visibility, key, self.now(), account_id=author.id,
                        in_reply_to_id=parent.id if parent else None,
                        in_reply_to_account_id=parent.account_id if parent else None,
                        mentions=self._mentioned(text))
        self._statuses.append(status)
        if parent is not None and visibility in ("public", "unlisted"):
            parent.counts["replies_count"] += 1  # Status#increment_counter_caches: distributable replies only
        for recipient_id in status.mentions:
            self._notify(self._accounts[recipient_id], status)
        return status

    def _notify(self, recipient: _Account, status: Posted) -> None:
        """NotifyService for a mention: dropped, filtered or made."""
        sender = status.account_id
        if sender == recipient.id or sender in recipient.blocking or recipient.muting.get(sender, False):
            return
        filtered = False
        if (status.visibility == "direct" and sender not in recipient.following
                and not self._answers_private_mention(status, recipient.id)):
            if recipient.private_mentions == "drop":
                return
            filtered = recipient.private_mentions == "filter"
        self._notice_sequence += 1
        self._notices.append(Notice(str(self._notice_sequence), "mention", recipient.id, sender, status.id,
                                    self.now(), filtered))

    def _answers_private_mention(self, status: Posted, recipient_id: str) -> bool:
        """Whether the status answers, up its thread, a direct status of the recipient that mentions its author:
        a conversation the recipient started (NotifyService's response_to_recipient?)."""
        seen: set[str] = set()
        ancestor = self._find_status(status.in_reply_to_id)
        while ancestor is not None and ancestor.id not in seen:
            seen.add(ancestor.id)
            if ancestor.account_id == recipient_id and status.account_id in ancestor.mentions:
                return ancestor.visibility == "direct"
            ancestor = self._find_status(ancestor.in_reply_to_id)
        return False

    # --- endpoints (called with the lock held)

    def _account_json(self, account: _Account | None = None) -> dict[str, Any]:
        account = account or self._accounts[self.account_id]
        return {"id": account.id, "username": account.username, "acct": account.username,
                "display_name": account.username.title(), "locked": False, "bot": account.id == self.account_id,
                "url": f"{self.url}/@{account.username}", "created_at": _iso(account.created_at),
                "statuses_count": sum(1 for status in self._statuses if status.account_id == account.id),
                "note": "", "fields": [], "emojis": []}

    def _status_json(self, status: Posted) -> dict[str, Any]:
        author = self._accounts[status.account_id]
        mentioned = [self._accounts[account_id] for account_id in status.mentions]
        return {
            "id": status.id, "created_at": _iso(status.created_at), "in_reply_to_id": status.in_reply_to_id,
            "in_reply_to_account_id": status.in_reply_to_account_id, "sensitive": False, "spoiler_text": "",
            "visibility": status.visibility, "language": "en",
            "uri": f"{self.url}/users/{author.username}/statuses/{status.id}",
            "url": f"{self.url}/@{author.username}/{status.id}", **status.counts, "edited_at": None,
            "content": render(status.text, self.url, {account.username for account in mentioned}), "reblog": None,
            "application": {"name": "lorecast"}, "account": self._account_json(author), "media_attachments": [],
            "mentions": [{"id": account.id, "username": account.username, "url": f"{self.url}/@{account.username}",
                          "acct": account.username} for account in mentioned],
            "tags": [], "emojis": [], "card": None, "poll": None,
        }

    def _notice_json(self, notice: Notice) -> dict[str, Any]:
        return {"id": notice.id, "type": notice.type, "created_at": _iso(notice.created_at),
                "group_key": f"ungrouped-{notice.id}", "account": self._account_json(self._accounts[
                    notice.from_account_id]), "status": self._status_json(self._status(notice.status_id))}

    def _limits(self) -> int:
        return self.max_characters if self.max_characters is not None else 500

    def instance_v1(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        return self.instance(params, headers, token, version="v1")

    def instance(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None,
                 version: str = "v2") -> Reply:
        statuses: dict[str, Any] = {"max_media_attachments": 4}
        if self.max_characters is not None:
            statuses.update(max_characters=self.max_characters, characters_reserved_per_url=URL_CHARACTERS)
        host = urlsplit(self.url).netloc
        document = {"domain" if version == "v2" else "uri": host, "title": "Lorecast test instance",
                    "version": "4.3.0", "configuration": {"statuses": statuses}}
        return Reply(200, document)

    def verify_credentials(self, params: dict[str, Any], headers: dict[str, str], token: _Token) -> Reply:
        account = self._accounts[token.account_id or ""]
        return Reply(200, {**self._account_json(account), "source": {"privacy": "unlisted", "note": ""}})

    def create_status(self, params: dict[str, Any], headers: dict[str, str], token: _Token) -> Reply:
        author = self._accounts[token.account_id or ""]
        parent = None
        in_reply_to = _one(params, "in_reply_to_id")
        if in_reply_to:  # Mastodon's set_thread, a before_action: before the key is looked at
            parent = self._find_status(in_reply_to)
            if parent is None or not self._visible(parent, author.id):
                return Reply(404, {"error": REPLY_NOT_FOUND})
        key = headers.get("idempotency-key")
        now = self.now()
        if key:  # PostStatusService keeps keys per account
            earlier = self._idempotency.get((author.id, key))
            if earlier is not None and now - earlier[1] < IDEMPOTENCY_S:
                return Reply(200, self._status_json(self._status(earlier[0])))
        text = _one(params, "status") or ""
        visibility = _one(params, "visibility") or "public"
        if not text.strip():
            return Reply(422, {"error": "Validation failed: Text can't be blank"})
        if visibility not in VISIBILITIES:
            return Reply(422, {"error": "Validation failed: Visibility is not included in the list"})
        if counted_length(text) > self._limits():
            return Reply(422, {"error": f"Validation failed: Text character limit of {self._limits()} exceeded"})
        status = self._create(author, text, visibility, parent, key or None)
        if key:
            self._idempotency[(author.id, key)] = (status.id, now)
        return Reply(200, self._status_json(status))

    def account_statuses(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None,
                         account_id: str) -> Reply:
        if account_id not in self._accounts:
            return Reply(404, {"error": "Record not found"})
        try:
            limit = min(max(int(_one(params, "limit") or 20), 1), 40)
        except ValueError:
            limit = 20
        viewer = token.account_id if token is not None else None
        exclude_replies = _truthy(_one(params, "exclude_replies"))
        chosen = [status for status in self._statuses
                  if status.account_id == account_id and self._visible(status, viewer)
                  # Status.without_replies: a reply to oneself (a thread) is kept
                  and not (exclude_replies and status.in_reply_to_id is not None
                           and status.in_reply_to_account_id != account_id)]
        page = _paginated(chosen, params, limit)
        reply = Reply(200, [self._status_json(status) for status in page])
        if page:
            base = f"{self.url}/api/v1/accounts/{account_id}/statuses"
            reply.headers["Link"] = (f'<{base}?{urlencode({"limit": limit, "max_id": page[-1].id})}>; rel="next", '
                                     f'<{base}?{urlencode({"limit": limit, "min_id": page[0].id})}>; rel="prev"')
        return reply

    def show_status(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None,
                    status_id: str) -> Reply:
        status = self._find_status(status_id)
        if status is None or not self._visible(status, token.account_id if token is not None else None):
            return Reply(404, {"error": "Record not found"})  # StatusPolicy refuses with a 404, not a 403
        return Reply(200, self._status_json(status))

    def statuses(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        if not self.multi_get:
            return Reply(404, {"error": "Record not found"})  # before Mastodon 4.3 there is no such route
        ids = list(dict.fromkeys(params.get("id[]", []) + params.get("id", [])))
        if len(ids) > MULTI_GET_LIMIT:
            return Reply(422, {"error": "Validation failed"})
        viewer = token.account_id if token is not None else None
        found = [self._status_json(status) for status in self._statuses
                 if status.id in ids and self._visible(status, viewer)]
        return Reply(200, found)

    def list_notifications(self, params: dict[str, Any], headers: dict[str, str], token: _Token) -> Reply:
        types = params.get("types[]", []) + params.get("types", [])
        excluded = params.get("exclude_types[]", []) + params.get("exclude_types", [])
        include_filtered = _truthy(_one(params, "include_filtered"))
        given = _one(params, "limit")
        limit = NOTIFICATIONS_LIMIT if given is None else min(abs(_rails_int(given)), 2 * NOTIFICATIONS_LIMIT)
        chosen = [notice for notice in self._notices
                  if notice.account_id == token.account_id and (not types or notice.type in types)
                  and notice.type not in excluded and (include_filtered or not notice.filtered)]
        page = _paginated(chosen, params, limit)
        reply = Reply(200, [self._notice_json(notice) for notice in page])
        if page:
            # pagination_params: limit, types and exclude_types carried over; since_id is not.
            kept = {name: values for name, values in (("limit", params.get("limit", [])[:1]),
                                                      ("types[]", types), ("exclude_types[]", excluded)) if values}
            base = f"{self.url}/api/v1/notifications"
            links = [(rel, urlencode(sorted({**kept, bound: [page[index].id]}.items()), doseq=True))
                     for rel, bound, index in (("next", "max_id", -1), ("prev", "min_id", 0))]
            reply.headers["Link"] = ", ".join(f'<{base}?{query}>; rel="{rel}"' for rel, query in links)
        return reply

    def create_app(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        name = _one(params, "client_name")
        uris = [uri for value in params.get("redirect_uris", []) for uri in str(value).split()]
        scopes = (_one(params, "scopes") or "read").split()
        if not name:
            return Reply(422, {"error": "Validation failed: Application name can't be blank"})
        if not uris:
            return Reply(422, {"error": "Validation failed: Redirect URI can't be blank"})
        if any(uri != OOB and not re.match(r"[a-z][a-z0-9+.-]*://\S+$", uri) for uri in uris):
            return Reply(422, {"error": "Validation failed: Redirect URI must be an absolute URI."})
        if not set(scopes) <= KNOWN_SCOPES:
            return Reply(422, {"error": "Validation failed: Scopes must be chosen from the list"})
        app = _App(name, secrets.token_urlsafe(32), secrets.token_urlsafe(32), uris, scopes, _one(params, "website"))
        self._apps[app.client_id] = app
        return Reply(200, {"id": str(len(self._apps)), "name": name, "website": app.website, "scopes": scopes,
                           "redirect_uri": "\n".join(uris), "redirect_uris": uris, "client_id": app.client_id,
                           "client_secret": app.client_secret, "client_secret_expires_at": 0})

    def authorize(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        app = self._apps.get(_one(params, "client_id") or "")
        redirect_uri = _one(params, "redirect_uri") or ""
        scopes = frozenset((_one(params, "scope") or "read").split())
        if app is None:
            return _page(400, "invalid_client", "Client authentication failed due to unknown client.")
        if redirect_uri not in app.redirect_uris:
            return _page(400, "invalid_redirect_uri",
                         "The requested redirect uri is malformed or doesn't match client redirect URI.")
        if _one(params, "response_type") != "code":
            return _page(400, "unsupported_response_type", "The authorization server does not support this "
                                                           "response type.")
        if not scopes <= set(app.scopes):
            return _page(400, "invalid_scope", "The requested scope is invalid, unknown, or malformed.")
        code = secrets.token_urlsafe(32)
        self._codes[code] = _Code(app.client_id, redirect_uri, scopes, self.now())
        if redirect_uri == OOB:
            return Reply(302, "", "text/html", {"Location": f"{self.url}/oauth/authorize/native?"
                                                            f"{urlencode({'code': code})}"})
        query = {"code": code, **({"state": _one(params, "state")} if _one(params, "state") else {})}
        separator = "&" if "?" in redirect_uri else "?"
        return Reply(302, "", "text/html", {"Location": f"{redirect_uri}{separator}{urlencode(query)}"})

    def native_code_page(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        code = html.escape(_one(params, "code") or "")
        return Reply(200, "<!DOCTYPE html><html><body><h1>Authorization required</h1>"
                          "<p>Copy this authorization code and paste it to the application.</p>"
                          f'<input class="oauth-code" readonly type="text" value="{code}"></body></html>',
                     "text/html; charset=utf-8")

    def token(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        app = self._apps.get(_one(params, "client_id") or "")
        if app is None or not secrets.compare_digest(app.client_secret, _one(params, "client_secret") or ""):
            return Reply(401, {"error": "invalid_client",
                               "error_description": "Client authentication failed due to unknown client, no "
                                                    "client authentication included, or unsupported "
                                                    "authentication method."})
        grant = _one(params, "grant_type")
        if grant == "client_credentials":
            scopes = frozenset((_one(params, "scope") or "read").split())
            if not scopes <= set(app.scopes):
                return Reply(400, {"error": "invalid_scope",
                                   "error_description": "The requested scope is invalid, unknown, or malformed."})
            return self._issue(_Token(scopes, False, app.client_id, int(self.now())))
        if grant != "authorization_code":
            return Reply(400, {"error": "unsupported_grant_type",
                               "error_description": "The authorization grant type is not supported by the "
                                                    "authorization server."})
        code = self._codes.get(_one(params, "code") or "")
        if (code is None or code.used or code.client_id != app.client_id
                or code.redirect_uri != _one(params, "redirect_uri")
                or self.now() - code.issued_at > CODE_LIFETIME_S):
            return Reply(400, {"error": "invalid_grant",
                               "error_description": "The provided authorization grant is invalid, expired, "
                                                    "revoked, does not match the redirection URI used in the "
                                                    "authorization request, or was issued to another client."})
        code.used = True
        return self._issue(_Token(code.scopes, True, app.client_id, int(self.now()), self.account_id))

    def _issue(self, token: _Token) -> Reply:
        value = secrets.token_urlsafe(32)
        self._tokens[value] = token
        return Reply(200, {"access_token": value, "token_type": "Bearer", "scope": " ".join(sorted(token.scopes)),
                           "created_at": token.created_at})

    def revoke_token(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        app = self._apps.get(_one(params, "client_id") or "")
        if app is None or app.client_secret != _one(params, "client_secret"):
            return Reply(403, {"error": "unauthorized_client",
                               "error_description": "You are not authorized to revoke this token"})
        revoked = self._tokens.get(_one(params, "token") or "")
        if revoked is not None and revoked.client_id == app.client_id:
            revoked.revoked = True
        return Reply(200, {})




# (method, path pattern, handler, token, scopes): `token` is "ignored" (public, a token given is not looked at),
# "optional" (public, but a token given must be valid and have one of `scopes`) or "user" (a user token with one
# of `scopes` is required).
_READ_STATUSES = ("read", "read:statuses")
_ROUTES: tuple[tuple[str, re.Pattern[str], Any, str, tuple[str, ...]], ...] = (
    ("POST", re.compile(r"/api/v1/apps"), MastodonServer.create_app, "ignored", ()),
    ("GET", re.compile(r"/oauth/authorize"), MastodonServer.authorize, "ignored", ()),
    ("GET", re.compile(r"/oauth/authorize/native"), MastodonServer.native_code_page, "ignored", ()),
    ("POST", re.compile(r"/oauth/token"), MastodonServer.token, "ignored", ()),
    ("POST", re.compile(r"/oauth/revoke"), MastodonServer.revoke_token, "ignored", ()),
    ("GET", re.compile(r"/api/v2/instance"), MastodonServer.instance, "ignored", ()),
    ("GET", re.compile(r"/api/v1/instance"), MastodonServer.instance_v1, "ignored", ()),
    ("GET", re.compile(r"/api/v1/accounts/verify_credentials"), MastodonServer.verify_credentials, "user",
     ("read", "read:accounts", "profile")),
    ("POST", re.compile(r"/api/v1/statuses"), MastodonServer.create_status, "user", ("write", "write:statuses")),
    ("GET", re.compile(r"/api/v1/statuses"), MastodonServer.statuses, "optional", _READ_STATUSES),
    ("GET", re.compile(r"/api/v1/statuses/(\d+)"), MastodonServer.show_status, "optional", _READ_STATUSES),
    ("GET", re.compile(r"/api/v1/accounts/(\d+)/statuses"), MastodonServer.account_statuses, "optional",
     _READ_STATUSES),
    ("GET", re.compile(r"/api/v1/notifications"), MastodonServer.list_notifications, "user",
     ("read", "read:notifications")),
)


def _route(method: str, path: str) -> tuple[Any, str, tuple[str, ...], tuple[str, ...]]:
    for route_method, pattern, handler, token, scopes in _ROUTES:
        match = pattern.fullmatch(path)
        if match and route_method == method:
            return handler, token, scopes, match.groups()
    return None, "ignored", (), ()


def _covers(scopes: frozenset[str], needs: tuple[str, ...]) -> bool:
    """A token covers an endpoint when it has one of the scopes it needs ("read" covers "read:statuses")."""
    return any(need in scopes or need.split(":")[0] in scopes for need in needs)


# --- what Mastodon counts and renders ----------------------------------------------------------------------------

_URL = re.compile(r"https?://[^\s<>\"]+?(?=[.,;:!?'\")\]]*(?:\s|$))", re.IGNORECASE)
_REMOTE_MENTION = re.compile(r"@(\w+)@[\w.-]+\w", re.ASCII)
_MENTIONED = re.compile(r"(?<![\w/])@(\w+)@([\w-]+(?:\.[\w-]+)+)", re.ASCII)  # user, host
_HASHTAG = re.compile(r"(?<![\w/#])#(\w+)")
# Account::MENTION_RE: "@user", or "@user@host" (local when the host is this instance's)
_LOCAL_MENTION = re.compile(r"(?<![=/\w])@([a-z0-9_]+(?:[a-z0-9_.-]+[a-z0-9_]+)?)(?:@([\w.:-]+\w))?", re.IGNORECASE)


def counted_length(text: str) -> int:
    """Mastodon's StatusLengthValidator: links count 23, remote mentions their local part, and the rest in
    extended grapheme clusters (UAX #29, the rules that occur in text: CR LF, Extend and ZWJ after anything,
    SpacingMark, emoji ZWJ sequences, regional-indicator pairs)."""
    countable = _REMOTE_MENTION.sub(r"@\1", _URL.sub("x" * URL_CHARACTERS, text))
    clusters, previous, pictographic_run, regional_count = 0, None, False, 0
    for char in countable:
        kind = _break_class(char)
        if previous is None:
            joined = False
        elif previous == "CR" and kind == "LF":
            joined = True
        elif previous in ("CR", "LF", "Control") or kind in ("CR", "LF", "Control"):
            joined = False
        elif kind in ("Extend", "ZWJ", "SpacingMark"):
            joined = True
        elif previous == "ZWJ" and kind == "Pictographic" and pictographic_run:
            joined = True
        elif previous == "RI" and kind == "RI" and regional_count % 2 == 1:
            joined = True
        else:
            joined = False
        if not joined:
            clusters += 1
            pictographic_run = kind == "Pictographic"
        regional_count = regional_count + 1 if kind == "RI" else 0
        previous = kind
    return clusters


def _break_class(char: str) -> str:
    code, category = ord(char), unicodedata.category(char)
    if char == "\r":
        return "CR"
    if char == "\n":
        return "LF"
    if char == "\u200d":
        return "ZWJ"
    if category in ("Mn", "Me") or 0x1F3FB <= code <= 0x1F3FF or 0xE0020 <= code <= 0xE007F or char == "\u200c":
        return "Extend"
    if category == "Mc":
        return "SpacingMark"
    if category in ("Cc", "Zl", "Zp"):
        return "Control"
    if 0x1F1E6 <= code <= 0x1F1FF:
        return "RI"
    if code >= 0x1F000 and code <= 0x1FAFF or 0x2600 <= code <= 0x27BF or char in "\u00a9\u00ae\u203c\u2049":
        return "Pictographic"
    return "Other"




def render(text: str, instance_url: str, local: Collection[str] = ()) -> str:
    """A local status's content as Mastodon's TextFormatter renders it; `local`: the usernames of the local
    accounts it mentions, shown as h-card links."""
    usernames = {username.lower(): username for username in local}

    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        scheme, _, rest = url.partition("://")
        shown, hidden = rest[:30], rest[30:]
        return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
                f'<span class="invisible">{html.escape(scheme)}://</span>'
                f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                f'<span class="invisible">{html.escape(hidden)}</span></a>')

    def h_card(href: str, username: str) -> str:
        return (f'<span class="h-card" translate="no"><a href="{href}" class="u-url mention">@<span>{username}'
                '</span></a></span>')

    def local_mention(match: re.Match[str]) -> str:
        username = usernames.get(match.group(1).lower())
        if username is None or match.group(2) is not None:
            return match.group(0)
        return h_card(f"{instance_url}/@{username}", username)

    def escaped(part: str) -> str:
        part = html.escape(part)
        # A remote mention of an account the instance resolved shows as @user, linked to its profile.
        part = _MENTIONED.sub(lambda m: h_card(f"https://{m.group(2)}/@{m.group(1)}", m.group(1)), part)
        part = _LOCAL_MENTION.sub(local_mention, part)
        return _HASHTAG.sub(lambda m: f'<a href="{instance_url}/tags/{m.group(1).lower()}" class="mention hashtag" '
                                      f'rel="tag">#<span>{m.group(1)}</span></a>', part)

    def inline(paragraph: str) -> str:
        pieces, last = [], 0
        for match in _URL.finditer(paragraph):
            pieces += [escaped(paragraph[last:match.start()]), link(match)]
            last = match.end()
        pieces.append(escaped(paragraph[last:]))
        return "".join(pieces).replace("\n", "<br />")

    normalized = text.replace("\r\n", "\n").replace("\r", "\n")
    return "".join(f"<p>{inline(paragraph)}</p>" for paragraph in re.split(r"\n\n+", normalized))


# --- HTTP plumbing -----------------------------------------------------------------------------------------------


def _iso(unix: float) -> str:
    return datetime.fromtimestamp(unix, timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _body_params(headers: dict[str, str], body: bytes) -> dict[str, list[str]]:
    """Form or JSON parameters as lists of strings (a JSON list stays a list)."""
    if not body:
        return {}
    if headers.get("content-type", "").startswith("application/json"):
        try:
            document = json.loads(body)
        except ValueError:
            return {}
        if not isinstance(document, dict):
            return {}
        return {key: [str(item) for item in value] if isinstance(value, list) else [str(value)]
                for key, value in document.items() if value is not None}
    return parse_qs(body.decode("utf-8", errors="replace"), keep_blank_values=True)


def _one(params: dict[str, list[str]], name: str) -> str | None:
    values = params.get(name)
    return values[0] if values else None


def _page(status: int, error: str, description: str) -> Reply:
    return Reply(status, f"<!DOCTYPE html><html><body><h1>{error}</h1><p>{html.escape(description)}</p>"
                         "</body></html>", "text/html; charset=utf-8")



def _truthy(value: str | None) -> bool:
    """Rails' truthy_param?: anything but absent, "", "0", "false", "f", "off", "no"."""
    return value is not None and value.strip().lower() not in ("", "0", "false", "f", "off", "no")


def _rails_int(value: str) -> int:
    """String#to_i: the leading integer, 0 when there is none."""
    match = re.match(r"\s*([+-]?\d+)", value)
    return int(match.group(1)) if match else 0


def _paginated(records: list[Any], params: dict[str, list[str]], limit: int) -> list[Any]:
    """Paginable#to_a_paginated_by_id: newest first below max_id and above since_id; with min_id, the `limit`
    oldest above it (paging forward), still given newest first."""
    bounds = {name: int(value) for name in ("max_id", "since_id", "min_id")
              if (value := _one(params, name)) and value.isdigit()}
    chosen = [record for record in records if int(record.id) < bounds.get("max_id", 1 << 80)]
    if "min_id" in bounds:
        chosen = sorted((record for record in chosen if int(record.id) > bounds["min_id"]),
                        key=lambda record: int(record.id))[:limit]
    else:
        chosen = sorted((record for record in chosen if int(record.id) > bounds.get("since_id", -1)),
                        key=lambda record: int(record.id), reverse=True)[:limit]
    return sorted(chosen, key=lambda record: int(record.id), reverse=True)
