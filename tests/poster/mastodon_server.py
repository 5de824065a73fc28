"""A local Mastodon instance: the subset of Mastodon's REST API and OAuth endpoints that lorecast uses, with one
account, checking what Mastodon checks.

    with MastodonServer() as server:          # 127.0.0.1, a free port; tests use the `mastodon_server` fixture
        server.url             http://127.0.0.1:PORT, the instance URL
        server.acct            "lorebot", the one account (server.account_id its id)
        server.access_token    a pre-issued user token with the scopes "read write:statuses"
        server.max_characters  500, settable; None: /api/v2/instance does not say (500 is enforced, as Mastodon)

Served:
    POST /api/v1/apps                  client_name, redirect_uris (a string or a list), scopes (default "read"),
                                       website; form or JSON -> {"id", "name", "client_id", "client_secret",
                                       "redirect_uri", "redirect_uris", "scopes", ...}; 422 when a field is bad
    GET  /oauth/authorize              as the signed-in account approving at once: checks response_type=code,
                                       client_id, redirect_uri (one of the app's) and scope (within the app's);
                                       for urn:ietf:wg:oauth:2.0:oob it redirects (302) to
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
    GET  /api/v1/accounts/verify_credentials    the account (read, read:accounts or profile)
    GET  /api/v2/instance, /api/v1/instance     configuration.statuses.{max_characters, characters_reserved_per_url}
    POST /api/v1/statuses              write or write:statuses, a user token; form or JSON status, visibility
                                       (public, unlisted, private, direct); the text limit counted as Mastodon
                                       counts (grapheme clusters, a link 23, a remote mention its local part):
                                       422 "Validation failed: Text character limit of N exceeded"; Idempotency-Key
                                       answers a repeat within an hour with the first status (no second one)
    GET  /api/v1/accounts/:id/statuses newest first, limit (20, at most 40), max_id, since_id, min_id; a Link
                                       header; a token given must have read or read:statuses
    GET  /api/v1/statuses/:id          404 {"error": "Record not found"} when there is none
    GET  /api/v1/statuses?id[]=...     Mastodon 4.3's multi-get, 20 ids at most (422 past that); set
                                       `server.multi_get = False` to be an older instance, which answers 404

Checked on every /api request as Mastodon does: the Bearer token is known (401 {"error": "The access token is
invalid"}) and not revoked (401 "The access token was revoked"), its scopes cover the endpoint (403 {"error":
"This action is outside the authorized scopes"}); an endpoint that needs a user refuses an app token (422
"This method requires an authenticated user"). Rate limits as Mastodon's defaults: `server.rate_limit` (300)
requests per `server.rate_limit_period_s` (300 s) per account, or per address without a token, in windows
aligned to the period; POST /api/v1/statuses also 300 per 3 hours per account. Every /api answer carries
X-RateLimit-Limit, -Remaining and -Reset (ISO 8601, the window nearest to running out); past a limit, 429
{"error": "Too many requests"}. Status content is Mastodon's HTML: <p> per paragraph (a blank line or more),
<br /> per line break, & < > " ' escaped, links as <a> with the "https://" and the tail past 30 characters in
invisible spans, hashtags as links.

Faults (tests/poster/platform_server/faults.py): `server.inject(path_regex, fault, times=1)`; a request whose
token checks passed (any request, for /oauth/...) and whose path (no query) matches takes the first matching fault:
    Status(503)        that status with {"error": ...} instead of handling the request
    RateLimit(30)      429 with X-RateLimit-Remaining 0 and a Reset 30 s from now
    Slow(2.0)          handles the request at once (a status IS created), answers 2 s later
    LateAccept(2.0)    waits 2 s, then handles the request (the status is created only then), then answers
    DropAfterAccept()  handles the request, then closes the connection without an answer

Inspection and controls: `server.posts()` (Posted: id, text, visibility, idempotency_key, created_at, counts;
oldest first), `server.set_engagement(status_id, favourites_count=, reblogs_count=, replies_count=)`,
`server.add_status(text)` (a status posted some other way), `server.delete(status_id)`,
`server.issue_token(scopes)` (another user token), `server.revoke(token)`, `server.advance_clock(seconds)` (the
instance's clock: idempotency keys, codes and rate windows age), and `server.requests` (Logged(method, path,
token_ok) for every request, the path without the query).
"""

from __future__ import annotations

import html
import json
import re
import secrets
import threading
import time
import unicodedata
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
        self._statuses: list[Posted] = []
        self._apps: dict[str, _App] = {}
        self._tokens: dict[str, _Token] = {}
        self._codes: dict[str, _Code] = {}
        self._idempotency: dict[str, tuple[str, float]] = {}
        self._windows: dict[str, _Window] = {}
        self._faults: list[tuple[re.Pattern[str], Fault]] = []
        self._clock_offset = 0.0
        self._sequence = 0
        self._lock = threading.Lock()
        self.access_token = self.issue_token("read write:statuses")

    # --- test controls

    def inject(self, path_regex: str, fault: Fault, times: int = 1) -> None:
        with self._lock:
            self._faults.extend([(re.compile(path_regex), fault)] * times)

    def issue_token(self, scopes: str, user: bool = True) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = _Token(frozenset(scopes.split()), user, None, int(self.now()))
        return token

    def revoke(self, token: str) -> None:
        with self._lock:
            self._tokens[token].revoked = True

    def posts(self) -> list[Posted]:
        with self._lock:
            return list(self._statuses)

    def set_engagement(self, status_id: str, **counts: int) -> None:
        unknown = sorted(set(counts) - {"favourites_count", "reblogs_count", "replies_count"})
        if unknown:
            raise ValueError(f"no count {unknown[0]!r}; use favourites_count, reblogs_count, replies_count")
        with self._lock:
            self._status(status_id).counts.update(counts)

    def add_status(self, text: str, visibility: str = "unlisted") -> str:
        """A status the account posted some other way (the web interface): no request, no key."""
        with self._lock:
            status = Posted(self._new_id(), text, visibility, None, self.now())
            self._statuses.append(status)
            return status.id

    def delete(self, status_id: str) -> None:
        with self._lock:
            self._statuses.remove(self._status(status_id))

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
        who = "account" if token is not None and token.user else f"address:{headers.get('x-forwarded-for', 'ip')}"
        checks = [(self._windows.setdefault(who, _Window()), self.rate_limit, self.rate_limit_period_s)]
        if (method, path) == ("POST", "/api/v1/statuses") and token is not None:
            checks.append((self._windows.setdefault("statuses", _Window()), STATUSES_CREATE_LIMIT,
                           STATUSES_CREATE_PERIOD_S))
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

    def _status(self, status_id: str) -> Posted:
        for status in self._statuses:
            if status.id == status_id:
                return status
        raise KeyError(f"no status {status_id}")

    def _new_id(self) -> str:
        self._sequence += 1
        return str((int(self.now() * 1000) << 16) | (self._sequence & 0xFFFF))

    # --- endpoints (called with the lock held)

    def _account_json(self) -> dict[str, Any]:
        return {"id": self.account_id, "username": self.acct, "acct": self.acct, "display_name": "Lore Bot",
                "locked": False, "bot": True, "url": f"{self.url}/@{self.acct}", "created_at": _iso(0),
                "statuses_count": len(self._statuses), "note": "", "fields": [], "emojis": []}

    def _status_json(self, status: Posted) -> dict[str, Any]:
        return {
            "id": status.id, "created_at": _iso(status.created_at), "in_reply_to_id": None,
            "in_reply_to_account_id": None, "sensitive": False, "spoiler_text": "", "visibility": status.visibility,
            "language": "en", "uri": f"{self.url}/users/{self.acct}/statuses/{status.id}",
            "url": f"{self.url}/@{self.acct}/{status.id}", **status.counts, "edited_at": None,
            "content": render(status.text, self.url), "reblog": None, "application": {"name": "lorecast"},
            "account": self._account_json(), "media_attachments": [], "mentions": [], "tags": [], "emojis": [],
            "card": None, "poll": None,
        }

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

    def verify_credentials(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        return Reply(200, {**self._account_json(), "source": {"privacy": "unlisted", "note": ""}})

    def create_status(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        key = headers.get("idempotency-key")
        now = self.now()
        if key:
            earlier = self._idempotency.get(key)
            if earlier is not None and now - earlier[1] < IDEMPOTENCY_S:
                return Reply(200, self._status_json(self._status(earlier[0])))
        text = _one(params, "status") or ""
        visibility = _one(params, "visibility") or "public"
        if not text.strip():
            return Reply(422, {"error": "Validation failed: Text can't be blank"})
        if visibility not in ("public", "unlisted", "private", "direct"):
            return Reply(422, {"error": "Validation failed: Visibility is not included in the list"})
        if counted_length(text) > self._limits():
            return Reply(422, {"error": f"Validation failed: Text character limit of {self._limits()} exceeded"})
        status = Posted(self._new_id(), text, visibility, key or None, now)
        self._statuses.append(status)
        if key:
            self._idempotency[key] = (status.id, now)
        return Reply(200, self._status_json(status))

    def account_statuses(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None,
                         account_id: str) -> Reply:
        if account_id != self.account_id:
            return Reply(404, {"error": "Record not found"})
        try:
            limit = min(max(int(_one(params, "limit") or 20), 1), 40)
        except ValueError:
            limit = 20
        bounds = {name: int(value) for name in ("max_id", "since_id", "min_id")
                  if (value := _one(params, name)) and value.isdigit()}
        chosen = [status for status in self._statuses
                  if int(status.id) < bounds.get("max_id", 1 << 80)
                  and int(status.id) > max(bounds.get("since_id", -1), bounds.get("min_id", -1))]
        # min_id pages forward from it (the oldest after it); the others page back from the newest.
        page = sorted(chosen, key=lambda s: int(s.id))[:limit] if "min_id" in bounds else None
        if page is None:
            page = sorted(chosen, key=lambda s: int(s.id), reverse=True)[:limit]
        page.sort(key=lambda s: int(s.id), reverse=True)
        reply = Reply(200, [self._status_json(status) for status in page])
        if page:
            base = f"{self.url}/api/v1/accounts/{account_id}/statuses"
            reply.headers["Link"] = (f'<{base}?{urlencode({"limit": limit, "max_id": page[-1].id})}>; rel="next", '
                                     f'<{base}?{urlencode({"limit": limit, "min_id": page[0].id})}>; rel="prev"')
        return reply

    def show_status(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None,
                    status_id: str) -> Reply:
        try:
            return Reply(200, self._status_json(self._status(status_id)))
        except KeyError:
            return Reply(404, {"error": "Record not found"})

    def statuses(self, params: dict[str, Any], headers: dict[str, str], token: _Token | None) -> Reply:
        if not self.multi_get:
            return Reply(404, {"error": "Record not found"})  # before Mastodon 4.3 there is no such route
        ids = list(dict.fromkeys(params.get("id[]", []) + params.get("id", [])))
        if len(ids) > MULTI_GET_LIMIT:
            return Reply(422, {"error": "Validation failed"})
        found = [self._status_json(status) for status in self._statuses if status.id in ids]
        return Reply(200, found)

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
        return self._issue(_Token(code.scopes, True, app.client_id, int(self.now())))

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


def render(text: str, instance_url: str) -> str:
    """A local status's content as Mastodon's TextFormatter renders it."""
    def link(match: re.Match[str]) -> str:
        url = match.group(0)
        scheme, _, rest = url.partition("://")
        shown, hidden = rest[:30], rest[30:]
        return (f'<a href="{html.escape(url)}" target="_blank" rel="nofollow noopener" translate="no">'
                f'<span class="invisible">{html.escape(scheme)}://</span>'
                f'<span class="{"ellipsis" if hidden else ""}">{html.escape(shown)}</span>'
                f'<span class="invisible">{html.escape(hidden)}</span></a>')

    def escaped(part: str) -> str:
        part = html.escape(part)
        # A remote mention of an account the instance resolved shows as @user, linked to its profile.
        part = _MENTIONED.sub(lambda m: f'<span class="h-card" translate="no"><a href="https://{m.group(2)}/@'
                                             f'{m.group(1)}" class="u-url mention">@<span>{m.group(1)}</span></a>'
                                             '</span>', part)
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

