"""A local Bluesky stand-in: the subset of a PDS that the bluesky platform uses, as strict as the reference PDS
(tests/poster/test_bluesky_pds.py runs that one), with fault injection, and the AppView reads the PDS cannot serve
offline (app.bsky.feed.getPosts, with counts a test sets; app.bsky.notification.listNotifications, made from the
posts of the accounts here as Bluesky's AppView makes them).

    with BlueskyServer() as server:                  # 127.0.0.1, a free port; tests use the `bluesky_server` fixture
        server.url              http://127.0.0.1:PORT          the PDS (XRPC under /xrpc/)
        server.appview_url      http://127.0.0.1:PORT/appview  a public AppView: getPosts without a token
        server.handle, server.did, server.app_password, server.password    the first account (the bot's)
        server.access_ttl_s     seconds an access JWT lives (7200 as on Bluesky; set 2 to exercise refresh)

Served and checked, with XRPC error bodies {"error", "message"} as the PDS sends them:
    POST com.atproto.server.createSession {"identifier": handle or did, "password"}   app password or password;
         else 401 AuthenticationRequired. 30 logins per 5 minutes and 300 a day per identifier, else 429
         RateLimitExceeded with ratelimit-limit, -remaining, -reset (unix seconds) and -policy headers.
    POST com.atproto.server.refreshSession   Bearer refresh JWT and no body (400 InvalidRequest for one); each
         refresh JWT works once (the PDS allows a short grace period: stricter here), a used or revoked one
         answers 400 ExpiredToken "Token has been revoked"
    Access JWTs (HS256, with exp) answer 400 ExpiredToken once expired or revoked, 400 InvalidToken when unknown
         or a refresh JWT, 401 AuthMissing when absent.
    POST com.atproto.repo.createRecord  (access JWT) repo = did or handle of the token's own account (another
         account's: 401 AuthenticationRequired; none here: 403 AccountNotFound, as the PDS); collection
         app.bsky.feed.post; rkey a TID (else 400 InvalidRequest "Invalid record key"); a key it already has: 500
         InternalServerError, as the reference PDS; record $type, text (at most 300 graphemes and 3000 bytes, else
         400), createdAt, facets, reply: the shapes as the PDS's lexicon checks them, with its messages (measured
         on the reference PDS: a strongRef needs an at-uri and a CID string; a mention a DID; a link a URI; byte
         offsets of at least 0; a feature its $type). Stricter than the PDS, so that a client's mistake fails its
         test rather than a thread on Bluesky: facet byte ranges outside the text or off UTF-8 boundaries, an empty
         or unknown feature (the PDS takes both), and a reply whose root or parent is not a post here with that
         cid, or whose root is not its parent's root (the PDS takes any well-formed ref, it cannot see other
         repos; the AppView would leave such a reply out of the thread): 400.
    GET com.atproto.repo.getRecord, listRecords   public; 400 RecordNotFound for a key it does not have
    GET app.bsky.feed.getPosts?uris=…   (access JWT at /xrpc/, as the PDS proxies it; none under /appview/)
         at most 25 uris (else 400), unknown ones left out; counts from set_engagement
    GET app.bsky.notification.listNotifications?limit=&cursor=&reasons=…   (access JWT) the token's account's
         notifications, as Bluesky's AppView (@atproto/bsky) makes and pages them:
         - a post notifies each DID its mention facets name (reason "mention"; the text alone notifies no one),
           then the authors of its parent and their parents up to 4 levels (reason "reply", reasonSubject the post
           answered), each account once, never the post's own author;
         - sorted newest first by indexedAt = the earlier of when the post came in and its createdAt (to the
           millisecond), the first page only older than now; the cursor is the last one's indexedAt, and the
           next page strictly older than that (two notifications of one millisecond across a page break: the
           second is not listed, as on Bluesky); `reasons` filters each page, and a page under half full is
           topped up from the next, 10 reads at most: a page may hold fewer than `limit` and still have a cursor;
         - the posts of an account the reader mutes or blocks, or is blocked by, are left out (hides_muted;
           False lists them, author.viewer saying muted/blockedBy/blocking, as an AppView that does not filter);
         - limit 1..100 (default 50), a cursor that is no datetime, seenAt, priority: 400.

Test controls: `.add_account(handle)` -> Account(handle, did, password, app_password), signed in like the first;
`.account(handle_or_did)`; `.posts(handle=None)` (the Records of the first account or of `handle`: Record(rkey,
uri, cid, text, facets, created_at, value, counts, did, indexed_at), oldest first); `.record(uri)`;
`.mention(from_handle, text, reply_to_uri=None, created_at=None)` -> uri: a post by that account as the Bluesky
app makes it (a mention facet over every "@handle" of an account here, reply refs to `reply_to_uri` and its
thread's root), through the same checks and notifications as createRecord; `.mute(handle, by=None)` and
`.block(handle, by=None)` (by the first account unless `by`); `.notifications(handle=None)` (Notification(
recipient, uri, cid, author, reason, reason_subject, sort_at), newest first); `.logins` and `.refreshes` (calls
that issued a session), `.requests` ((method, path, sent a token) of every request), `.set_engagement(uri,
likeCount=, repostCount=, replyCount=, quoteCount=)`, `.revoke_sessions()` (every JWT issued so far stops
working, as when the app password is revoked), `.inject(path_regex, fault, times=1)` with the faults of
platform_server.faults: a request whose path (e.g. "/xrpc/com.atproto.repo.createRecord") matches and whose token
checked out takes the first matching fault: Status(n) answers n instead (nothing happens), RateLimit(s) 429
resetting in s seconds, Slow(s) does the work and answers s seconds later, LateAccept(s) waits s seconds and only
then does the work and answers, DropAfterAccept() does the work and closes the connection without an answer.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, urlsplit

import regex
from loopback_http import LoopbackServer, Reply, Request
from platform_server.base import Window
from platform_server.faults import DropAfterAccept, Fault, LateAccept, RateLimit, Slow, Status

from poster.tid import is_tid, tid

COLLECTION = "app.bsky.feed.post"
COUNTS = ("likeCount", "repostCount", "replyCount", "quoteCount")
LINK_FEATURE = "app.bsky.richtext.facet#link"
MENTION_FEATURE = "app.bsky.richtext.facet#mention"
TAG_FEATURE = "app.bsky.richtext.facet#tag"
STRONG_REF = "com.atproto.repo.strongRef"
REPLY_NOTIF_DEPTH = 5  # the AppView notifies the authors of the ancestors of heights 1..4
FILL_PAGE_REQUESTS = 10  # the AppView's reads to top up one page of notifications
_ERROR_NAMES = {400: "InvalidRequest", 401: "AuthenticationRequired", 403: "Forbidden", 404: "NotFound",
                429: "RateLimitExceeded", 500: "InternalServerError", 501: "MethodNotImplemented",
                502: "UpstreamFailure", 503: "NotEnoughResources", 504: "UpstreamTimeout"}
_GRAPHEME = regex.compile(r"\X")
_INVALID_RECORD = f"Invalid {COLLECTION} record"


@dataclass
class Account:
    handle: str
    did: str
    password: str = field(repr=False)
    app_password: str = field(repr=False)
    mutes: set[str] = field(default_factory=set)  # DIDs it mutes (app.bsky.graph.muteActor: private, AppView-side)
    blocks: set[str] = field(default_factory=set)  # DIDs it blocks (app.bsky.graph.block records)


@dataclass
class Record:
    rkey: str
    uri: str
    cid: str
    text: str
    facets: list[dict[str, Any]] | None
    created_at: str
    value: dict[str, Any]
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNTS, 0))
    did: str = ""  # the repo's (its author's) DID
    indexed_at: str = ""  # when it came in: ISO 8601, milliseconds, Z

    @property
    def reply(self) -> dict[str, Any] | None:
        return self.value.get("reply")


@dataclass(frozen=True)
class Notification:
    recipient: str  # DID
    uri: str
    cid: str
    author: str  # DID
    reason: str  # "mention" or "reply"
    reason_subject: str | None  # the post answered (reply)
    sort_at: str  # the AppView's indexedAt: the earlier of the post's indexedAt and createdAt


class _XrpcError(Exception):
    def __init__(self, status: int, name: str | None = None, message: str = "", headers: dict | None = None):
        super().__init__(message)
        self.reply = Reply(status, {"error": name or _ERROR_NAMES.get(status, "InvalidRequest"),
                                    "message": message or _ERROR_NAMES.get(status, "Error")}, headers=headers or {})


class BlueskyServer(LoopbackServer):
    def __init__(self, handle: str = "lorecastbot.test") -> None:
        super().__init__("bluesky-server")
        self.access_ttl_s = 7200.0
        self.refresh_ttl_s = 90 * 86400.0
        self.hides_muted = True
        self.logins = 0
        self.refreshes = 0
        self.requests: list[tuple[str, str, bool]] = []
        self._accounts: dict[str, Account] = {}  # by DID, in the order added
        self._records: list[Record] = []
        self._notifications: list[Notification] = []  # in the order made
        self._key = secrets.token_bytes(32)
        self._live_refresh: set[str] = set()  # jti of refresh JWTs not yet used or revoked
        self._revoked_before = 0.0  # JWTs issued before this (unix seconds) no longer work
        self._login_windows: dict[str, tuple[Window, Window]] = {}  # by identifier, as the PDS keys them
        self._faults: list[tuple[re.Pattern[str], Fault]] = []
        self._lock = threading.Lock()
        first = self.add_account(handle)
        self.handle, self.did, self.password, self.app_password = (first.handle, first.did, first.password,
                                                                   first.app_password)

    @property
    def appview_url(self) -> str:
        return f"{self.url}/appview"

    # --- test controls

    def add_account(self, handle: str) -> Account:
        """A new account on this PDS, with a password and an app password."""
        if not _is_handle(handle):
            raise ValueError(f"{handle!r} is not a handle")
        with self._lock:
            if any(account.handle == handle.lower() for account in self._accounts.values()):
                raise ValueError(f"{handle} is taken")
            account = Account(handle.lower(), "did:plc:" + secrets.token_hex(12), secrets.token_hex(12),
                              "-".join(secrets.token_hex(2) for _ in range(4)))
            self._accounts[account.did] = account
            return account

    def account(self, handle_or_did: str) -> Account:
        with self._lock:
            account = self._find_account(handle_or_did)
        if account is None:
            raise KeyError(f"no account {handle_or_did}")
        return account

    def posts(self, handle: str | None = None) -> list[Record]:
        """The posts of the first account (the bot's), or of `handle`, oldest first."""
        did = self.account(handle).did if handle else self.did
        with self._lock:
            return [record for record in self._records if record.did == did]

    def record(self, uri: str) -> Record | None:
        with self._lock:
            return self._resolve(uri)

    def notifications(self, handle: str | None = None) -> list[Notification]:
        """What the AppView holds for the first account (or `handle`), newest first, mutes not applied."""
        did = self.account(handle).did if handle else self.did
        with self._lock:
            return _newest_first([n for n in self._notifications if n.recipient == did])

    def mention(self, from_handle: str, text: str, reply_to_uri: str | None = None,
                created_at: datetime | None = None) -> str:
        """A post by `from_handle` as the Bluesky app makes it: a mention facet over every "@handle" of an account
        here, and reply refs to `reply_to_uri` (and its thread's root) when given. Its uri."""
        author = self.account(from_handle)
        value: dict[str, Any] = {"$type": COLLECTION, "text": text,
                                 "createdAt": _iso(created_at or datetime.now(timezone.utc))}
        with self._lock:
            facets = self._mention_facets(text)
            if facets:
                value["facets"] = facets
            if reply_to_uri is not None:
                parent = self._resolve(reply_to_uri)
                if parent is None:
                    raise KeyError(f"no post {reply_to_uri}")
                parent_ref = {"uri": parent.uri, "cid": parent.cid}
                value["reply"] = {"root": parent.reply["root"] if parent.reply else parent_ref, "parent": parent_ref}
            try:
                return self._store(author, _tid(), value).uri
            except _XrpcError as error:
                raise ValueError(error.reply.body["message"]) from None

    def mute(self, handle: str, by: str | None = None) -> None:
        muted, muter = self.account(handle), self.account(by or self.handle)
        with self._lock:
            muter.mutes.add(muted.did)

    def block(self, handle: str, by: str | None = None) -> None:
        blocked, blocker = self.account(handle), self.account(by or self.handle)
        with self._lock:
            blocker.blocks.add(blocked.did)

    def set_engagement(self, uri: str, **counts: int) -> None:
        unknown = sorted(set(counts) - set(COUNTS))
        if unknown:
            raise ValueError(f"no count {unknown[0]!r}; the counts are {', '.join(COUNTS)}")
        with self._lock:
            record = next((record for record in self._records if record.uri == uri), None)
            if record is None:
                raise KeyError(f"no post {uri}")
            record.counts.update(counts)

    def revoke_sessions(self) -> None:
        with self._lock:
            self._live_refresh.clear()
            self._revoked_before = time.time()

    def inject(self, path_regex: str, fault: Fault, times: int = 1) -> None:
        if not isinstance(fault, (Status, RateLimit, Slow, LateAccept, DropAfterAccept)):
            raise ValueError(f"Bluesky has no {type(fault).__name__} fault")
        with self._lock:
            self._faults.extend([(re.compile(path_regex), fault)] * times)

    # --- accounts and records (under the lock)

    def _find_account(self, handle_or_did: str | None) -> Account | None:
        if not isinstance(handle_or_did, str):
            return None
        key = handle_or_did.lower() if not handle_or_did.startswith("did:") else handle_or_did
        return self._accounts.get(key) or next(
            (account for account in self._accounts.values() if account.handle == key), None)

    def _resolve(self, uri: str) -> Record | None:
        """The post an at:// uri names (its authority a DID or a handle); None when there is none."""
        parts = uri.removeprefix("at://").split("/") if uri.startswith("at://") else []
        account = self._find_account(parts[0]) if len(parts) == 3 and parts[1] == COLLECTION else None
        if account is None:
            return None
        return next((r for r in self._records if r.did == account.did and r.rkey == parts[2]), None)

    def _mention_facets(self, text: str) -> list[dict[str, Any]]:
        facets, data = [], text.encode("utf-8")
        for found in re.finditer(rb"(?<![\w@.])@([A-Za-z0-9][A-Za-z0-9.-]*[A-Za-z0-9])", data):
            account = self._find_account(found.group(1).decode())
            if account is not None:
                facets.append({"index": {"byteStart": found.start(), "byteEnd": found.end()},
                               "features": [{"$type": MENTION_FEATURE, "did": account.did}]})
        return facets

    def _store(self, author: Account, rkey: str, value: Any) -> Record:
        """createRecord's work once the request is authorized: the checks, the record, its notifications."""
        text, facets = _check_post(value)
        if value.get("reply") is not None:
            self._check_thread(value["reply"])
        if any(existing.did == author.did and existing.rkey == rkey for existing in self._records):
            raise _XrpcError(500, "InternalServerError", "Internal Server Error")  # as the reference PDS does
        uri = f"at://{author.did}/{COLLECTION}/{rkey}"
        indexed_at = _iso(datetime.now(timezone.utc))
        record = Record(rkey, uri, _cid(value), text, facets, value["createdAt"], value, did=author.did,
                        indexed_at=indexed_at)
        self._records.append(record)
        self._notify(record, min(indexed_at, _iso(_datetime(value["createdAt"]))))
        return record

    def _check_thread(self, reply: dict[str, Any]) -> None:
        """What the PDS cannot check and the AppView needs to thread a reply: refs to posts it has, with their
        cids, and a root that is its parent's root (or the parent, when that answers none)."""
        found = {}
        for name in ("root", "parent"):
            ref = reply[name]
            post = found[name] = self._resolve(ref["uri"])
            if post is None:
                raise _XrpcError(400, "InvalidRequest", f"reply {name} {ref['uri']} is no post here (the PDS takes "
                                                        "any well-formed ref; the AppView would not thread it)")
            if post.cid != ref["cid"]:
                raise _XrpcError(400, "InvalidRequest", f"reply {name} {ref['uri']} has the cid {post.cid}, not "
                                                        f"{ref['cid']} (the AppView would not thread it)")
        root, parent = found["root"], found["parent"]
        parent_root = self._resolve(parent.reply["root"]["uri"]) if parent.reply else parent
        if parent_root is not root:
            raise _XrpcError(400, "InvalidRequest", f"reply root {root.uri} is not the root of the thread of "
                                                    f"{parent.uri} (the AppView would mark the reply invalid)")

    def _notify(self, record: Record, sort_at: str) -> None:
        """The AppView's notifications of a new post (notifsForInsert): mentions, then the ancestors' authors."""
        notified = {record.did}

        def notify(did: str, reason: str, subject: str | None = None) -> None:
            if did not in notified:
                notified.add(did)
                self._notifications.append(Notification(did, record.uri, record.cid, record.did, reason, subject,
                                                        sort_at))

        for facet in record.facets or []:
            for feature in facet["features"]:
                if feature["$type"] == MENTION_FEATURE:
                    notify(feature["did"], "mention")
        ancestor, height = record, 0
        while ancestor.reply is not None and height + 1 < REPLY_NOTIF_DEPTH:
            ancestor, height = self._resolve(ancestor.reply["parent"]["uri"]), height + 1
            if ancestor is None:
                break
            notify(ancestor.did, "reply", ancestor.uri)

    def _silenced(self, viewer: Account, did: str) -> bool:
        author = self._accounts.get(did)
        return did in viewer.mutes or did in viewer.blocks or (author is not None and viewer.did in author.blocks)

    # --- JWTs

    def _jwt(self, did: str, scope: str, ttl_s: float, jti: str | None = None) -> str:
        now = time.time()
        claims = {"scope": scope, "sub": did, "aud": "did:web:127.0.0.1", "iat": now, "exp": int(now + ttl_s)}
        if jti:
            claims["jti"] = jti
        head = _b64(json.dumps({"typ": "at+jwt" if scope != "com.atproto.refresh" else "refresh+jwt",
                                "alg": "HS256"}).encode())
        body = _b64(json.dumps(claims).encode())
        signature = _b64(hmac.new(self._key, f"{head}.{body}".encode(), hashlib.sha256).digest())
        return f"{head}.{body}.{signature}"

    def _claims(self, headers: dict[str, str]) -> dict[str, Any]:
        """The verified claims of the Bearer token; the PDS's error when there is none or it does not verify."""
        value = headers.get("authorization", "")
        if not value:
            raise _XrpcError(401, "AuthMissing", "Authentication Required")
        scheme, _, token = value.partition(" ")
        parts = token.split(".")
        if scheme.lower() != "bearer" or len(parts) != 3:
            raise _XrpcError(400, "InvalidToken", "Token could not be verified")
        expected = _b64(hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())
        if not hmac.compare_digest(expected, parts[2]):
            raise _XrpcError(400, "InvalidToken", "Token could not be verified")
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        if claims["iat"] <= self._revoked_before:
            raise _XrpcError(400, "ExpiredToken", "Token has been revoked")
        if time.time() >= claims["exp"]:
            raise _XrpcError(400, "ExpiredToken", "Token has expired")
        return claims

    def _access(self, headers: dict[str, str]) -> Account:
        claims = self._claims(headers)
        if claims["scope"] == "com.atproto.refresh":
            raise _XrpcError(400, "InvalidToken", "Bad token scope")
        return self._accounts[claims["sub"]]

    def _session(self, account: Account, scope: str) -> dict[str, Any]:
        jti = secrets.token_urlsafe(16)
        self._live_refresh.add(jti)
        return {"did": account.did, "handle": account.handle,
                "accessJwt": self._jwt(account.did, scope, self.access_ttl_s),
                "refreshJwt": self._jwt(account.did, "com.atproto.refresh", self.refresh_ttl_s, jti), "active": True}

    # --- answering

    def _answer(self, request: Request) -> tuple[Reply | None, float]:
        method, headers = request.method, request.headers
        with self._lock:
            split = urlsplit(request.target)
            self.requests.append((method, split.path, "authorization" in headers))
            query = parse_qs(split.query, keep_blank_values=True)
            try:
                return self._route(method, split.path, query, headers, request.body)
            except _XrpcError as error:
                return error.reply, 0.0

    def _handled_late(self, handler, arguments, headers, viewer) -> Reply:
        """A request handled only now (LateAccept), under the lock as any other."""
        with self._lock:
            try:
                return handler(self, arguments, headers, viewer)
            except _XrpcError as error:
                return error.reply

    def _route(self, method: str, path: str, query: dict[str, list[str]], headers: dict[str, str],
               body: bytes) -> tuple[Reply | None, float]:
        public_appview = path.startswith("/appview/")
        nsid = path.removeprefix("/appview").removeprefix("/xrpc/")
        handler = _ROUTES.get((method, nsid))
        if handler is None or not path.startswith(("/xrpc/", "/appview/xrpc/")) or (
                public_appview and nsid != "app.bsky.feed.getPosts"):
            raise _XrpcError(501 if method in ("GET", "POST") else 405, "MethodNotImplemented",
                             "Method Not Implemented")
        needs = _AUTH[nsid]
        viewer = self._access(headers) if needs == "access" and not public_appview else None
        if nsid.startswith("app.bsky.") and "atproto-proxy" in headers and not re.fullmatch(
                r"did:[a-z]+:[^#\s]+#[A-Za-z0-9_]+", headers["atproto-proxy"]):
            raise _XrpcError(400, "InvalidRequest", "could not parse atproto-proxy header")
        fault = next(((index, f) for index, (pattern, f) in enumerate(self._faults) if pattern.search(path)), None)
        if fault is not None:
            del self._faults[fault[0]]
            fault = fault[1]
        if isinstance(fault, Status):
            raise _XrpcError(fault.status)
        if isinstance(fault, RateLimit):
            raise _XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded",
                             _rate_headers(100, 0, time.time() + fault.reset_in_s, 300))
        arguments = self._json(body, headers, expected=needs != "refresh") if method == "POST" else query
        if isinstance(fault, LateAccept):
            return lambda: self._handled_late(handler, arguments, headers, viewer), fault.seconds
        reply = handler(self, arguments, headers, viewer)
        if isinstance(fault, DropAfterAccept):
            return None, 0.0
        return reply, fault.seconds if isinstance(fault, Slow) else 0.0

    def _json(self, body: bytes, headers: dict[str, str], expected: bool) -> dict[str, Any] | None:
        if not expected:
            if body or "transfer-encoding" in headers:
                raise _XrpcError(400, "InvalidRequest", "A request body was provided when none was expected")
            return None
        if not headers.get("content-type", "").startswith("application/json"):
            raise _XrpcError(400, "InvalidRequest", "Wrong request encoding (Content-Type)")
        try:
            document = json.loads(body)
        except ValueError:
            raise _XrpcError(400, "InvalidRequest", "Invalid JSON body") from None
        if not isinstance(document, dict):
            raise _XrpcError(400, "InvalidRequest", "Input must be an object")
        return document

    # --- endpoints

    def _create_session(self, document: dict[str, Any], headers: dict[str, str], _viewer: None) -> Reply:
        identifier, password = document.get("identifier"), document.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            raise _XrpcError(400, "InvalidRequest", 'Input must have the property "identifier" and "password"')
        now = time.time()
        windows = self._login_windows.setdefault(identifier.lower(), (Window(30, 300), Window(300, 86400)))
        taken = [window.take(now) for window in windows]
        if not all(taken):
            window = windows[taken.index(False)]
            raise _XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded",
                             _rate_headers(window.limit, 0, window.resets_at, int(window.seconds)))
        account = self._find_account(identifier)
        if account is None or password not in (account.app_password, account.password):
            raise _XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        self.logins += 1
        scope = "com.atproto.appPass" if password == account.app_password else "com.atproto.access"
        return Reply(200, self._session(account, scope),
                     headers=_rate_headers(windows[0].limit, windows[0].remaining, windows[0].resets_at,
                                           int(windows[0].seconds)))

    def _refresh_session(self, _document: None, headers: dict[str, str], _viewer: None) -> Reply:
        claims = self._claims(headers)
        if claims["scope"] != "com.atproto.refresh":
            raise _XrpcError(400, "InvalidToken", "Invalid token type")
        if claims.get("jti") not in self._live_refresh:
            raise _XrpcError(400, "ExpiredToken", "Token has been revoked")
        self._live_refresh.discard(claims["jti"])
        self.refreshes += 1
        return Reply(200, self._session(self._accounts[claims["sub"]], "com.atproto.appPass"))

    def _create_record(self, document: dict[str, Any], headers: dict[str, str], viewer: Account) -> Reply:
        repo = self._find_account(document.get("repo"))
        if repo is None:
            raise _XrpcError(403, "AccountNotFound", "Account not found")
        if repo is not viewer:
            raise _XrpcError(401, "AuthenticationRequired", "Authentication Required")
        if document.get("collection") != COLLECTION:
            raise _XrpcError(400, "InvalidRequest", f"this stand-in has only {COLLECTION}")
        rkey = document.get("rkey")
        if rkey is None:
            rkey = _tid()
        if not isinstance(rkey, str) or not is_tid(rkey):
            raise _XrpcError(400, "InvalidRequest", f"Invalid record key for {COLLECTION}: Invalid TID string")
        record = self._store(viewer, rkey, document.get("record"))
        return Reply(200, {"uri": record.uri, "cid": record.cid, "validationStatus": "valid"})

    def _get_record(self, query: dict[str, list[str]], headers: dict[str, str], _viewer: None) -> Reply:
        repo, collection, rkey = (_param(query, name) for name in ("repo", "collection", "rkey"))
        account = self._find_account(repo)
        record = next((r for r in self._records if account and r.did == account.did and r.rkey == rkey), None)
        if collection != COLLECTION or record is None:
            raise _XrpcError(400, "RecordNotFound",
                             f"Could not locate record: at://{repo}/{collection}/{rkey}")
        return Reply(200, {"uri": record.uri, "cid": record.cid, "value": record.value})

    def _list_records(self, query: dict[str, list[str]], headers: dict[str, str], _viewer: None) -> Reply:
        account = self._find_account(_param(query, "repo"))
        if account is None:
            raise _XrpcError(400, "InvalidRequest", "Could not find repo")
        records = [{"uri": r.uri, "cid": r.cid, "value": r.value} for r in reversed(self._records)
                   if r.did == account.did and _param(query, "collection") == COLLECTION]
        return Reply(200, {"records": records})

    def _get_posts(self, query: dict[str, list[str]], headers: dict[str, str], _viewer: Account | None) -> Reply:
        uris = query.get("uris", [])
        if not uris:
            raise _XrpcError(400, "InvalidRequest", 'Params must have the property "uris"')
        if len(uris) > 25:
            raise _XrpcError(400, "InvalidRequest", "uris must not have more than 25 elements")
        views = [{"uri": r.uri, "cid": r.cid, "author": self._profile(r.did, None), "record": r.value, **r.counts,
                  "indexedAt": r.indexed_at}
                 for uri in dict.fromkeys(uris) for r in self._records if r.uri == uri]
        return Reply(200, {"posts": views})

    def _list_notifications(self, query: dict[str, list[str]], headers: dict[str, str], viewer: Account) -> Reply:
        limit = _limit(query)
        if _param(query, "seenAt") is not None:
            raise _XrpcError(400, "InvalidRequest", "The seenAt parameter is unsupported")
        if _param(query, "priority") not in (None, "false"):
            raise _XrpcError(400, "InvalidRequest", "this stand-in has no follows: priority is not served")
        reasons = query.get("reasons")
        now = _iso(datetime.now(timezone.utc))
        given = _param(query, "cursor")
        if given is not None:
            when = _datetime(given)
            if when is None:
                raise _XrpcError(400, "InvalidRequest", "Malformed cursor")
            given = min(_iso(when), now)
        # fillPage: a page under half full is topped up from the next one, FILL_PAGE_REQUESTS reads at most.
        items, cursor = self._notification_page(viewer, given or now, limit, reasons)
        reads = 1
        while reads < FILL_PAGE_REQUESTS and cursor and len(items) < -(-limit // 2):
            previous = cursor
            page, cursor = self._notification_page(viewer, cursor, limit - len(items), reasons)
            items += page
            reads += 1
            if cursor == previous:
                cursor = None
        body: dict[str, Any] = {"notifications": [self._notification_view(n, viewer) for n in items],
                                "priority": False}
        if cursor:
            body["cursor"] = cursor
        return Reply(200, body)

    def _notification_page(self, viewer: Account, before: str, limit: int,
                           reasons: list[str] | None) -> tuple[list[Notification], str | None]:
        """One read of the AppView's notifications: `limit` strictly older than `before`, then filtered."""
        older = _newest_first([n for n in self._notifications if n.recipient == viewer.did and n.sort_at < before])
        page = older[:limit]
        cursor = page[-1].sort_at if len(older) > limit and page else None
        if reasons:
            page = [n for n in page if n.reason in reasons]
        if self.hides_muted:
            page = [n for n in page if not self._silenced(viewer, n.author)]
        return page, cursor

    def _notification_view(self, notification: Notification, viewer: Account) -> dict[str, Any]:
        record = self._resolve(notification.uri)
        view = {"uri": notification.uri, "cid": notification.cid, "author": self._profile(notification.author,
                                                                                            viewer),
                "reason": notification.reason, "record": record.value if record else {}, "isRead": False,
                "indexedAt": notification.sort_at, "labels": []}
        if notification.reason_subject:
            view["reasonSubject"] = notification.reason_subject
        return view

    def _profile(self, did: str, viewer: Account | None) -> dict[str, Any]:
        """app.bsky.actor.defs#profileView(Basic) of an account here; `viewer` adds what it says of the reader."""
        account = self._accounts[did]
        profile: dict[str, Any] = {"did": did, "handle": account.handle, "labels": []}
        if viewer is not None:
            state: dict[str, Any] = {"muted": did in viewer.mutes, "blockedBy": viewer.did in account.blocks}
            if did in viewer.blocks:
                state["blocking"] = f"at://{viewer.did}/app.bsky.graph.block/{_tid()}"
            profile["viewer"] = state
        return profile


_ROUTES = {
    ("POST", "com.atproto.server.createSession"): BlueskyServer._create_session,
    ("POST", "com.atproto.server.refreshSession"): BlueskyServer._refresh_session,
    ("POST", "com.atproto.repo.createRecord"): BlueskyServer._create_record,
    ("GET", "com.atproto.repo.getRecord"): BlueskyServer._get_record,
    ("GET", "com.atproto.repo.listRecords"): BlueskyServer._list_records,
    ("GET", "app.bsky.feed.getPosts"): BlueskyServer._get_posts,
    ("GET", "app.bsky.notification.listNotifications"): BlueskyServer._list_notifications,
}
_AUTH = {"com.atproto.server.createSession": "none", "com.atproto.server.refreshSession": "refresh",
         "com.atproto.repo.createRecord": "access", "com.atproto.repo.getRecord": "none",
         "com.atproto.repo.listRecords": "none", "app.bsky.feed.getPosts": "access",
         "app.bsky.notification.listNotifications": "access"}


# --- the record's checks


def _invalid(message: str) -> _XrpcError:
    return _XrpcError(400, "InvalidRequest", f"{_INVALID_RECORD}: {message}")


def _check_post(record: Any) -> tuple[str, list[dict[str, Any]] | None]:
    """The text and facets of a valid app.bsky.feed.post record; 400 InvalidRequest as the PDS words it."""
    if not isinstance(record, dict) or record.get("$type") != COLLECTION:
        raise _XrpcError(400, "InvalidRequest", f"Invalid $type: must be {COLLECTION}")
    text, created_at = record.get("text"), record.get("createdAt")
    if not isinstance(text, str):
        raise _XrpcError(400, "InvalidRequest", 'Record must have the property "text"')
    graphemes = len(_GRAPHEME.findall(text))
    if graphemes > 300:
        raise _invalid(f"grapheme too big (maximum 300, got {graphemes}) at $.record.text")
    data = text.encode("utf-8")
    if len(data) > 3000:
        raise _invalid(f"string too big (maximum 3000, got {len(data)}) at $.record.text")
    if not isinstance(created_at, str) or _datetime(created_at) is None:
        raise _XrpcError(400, "InvalidRequest", "createdAt must be a valid datetime at $.record.createdAt")
    facets = record.get("facets")
    if record.get("reply") is not None:
        _check_reply_shape(record["reply"])
    if facets is None:
        return text, None
    if not isinstance(facets, list):
        raise _invalid("Expected array value type at $.record.facets")
    for number, facet in enumerate(facets):
        _check_facet(facet, f"$.record.facets[{number}]", data)
    return text, facets


def _check_facet(facet: Any, where: str, data: bytes) -> None:
    index = facet.get("index") if isinstance(facet, dict) else None
    if not isinstance(index, dict):
        raise _invalid(f'Missing required key "index" at {where}')
    for key in ("byteStart", "byteEnd"):
        value = index.get(key)
        if key not in index:
            raise _invalid(f'Missing required key "{key}" at {where}.index')
        if not isinstance(value, int) or isinstance(value, bool):
            raise _invalid(f"Expected integer value type (got {json.dumps(value)}) at {where}.index.{key}")
        if value < 0:
            raise _invalid(f"integer too small (minimum 0, got {value}) at {where}.index.{key}")
    start, end = index["byteStart"], index["byteEnd"]
    # The PDS does not check these two: a stand-in's own, so that offsets are tested.
    if not start < end <= len(data):
        raise _XrpcError(400, "InvalidRequest", f"byte range {start}..{end} outside the text at {where}")
    if any(offset < len(data) and data[offset] & 0xC0 == 0x80 for offset in (start, end)):
        raise _XrpcError(400, "InvalidRequest", f"byte range {start}..{end} splits a character at {where}")
    features = facet.get("features")
    if not isinstance(features, list):
        raise _invalid(f'Missing required key "features" at {where}')
    if not features:  # the PDS takes an empty list; no client means one
        raise _XrpcError(400, "InvalidRequest", f"a facet without features at {where}")
    for number, feature in enumerate(features):
        _check_feature(feature, f"{where}.features[{number}]")


def _check_feature(feature: Any, where: str) -> None:
    kind = feature.get("$type") if isinstance(feature, dict) else None
    if not isinstance(kind, str):
        keys = ", ".join(f"{json.dumps(key)}: ..." for key in feature) if isinstance(feature, dict) else ""
        raise _invalid(f'Expected an object which includes the "$type" property value type (got {{{keys}}}) at '
                       f'{where}')
    checks = {LINK_FEATURE: ("uri", _is_uri, "uri"), MENTION_FEATURE: ("did", _is_did, "DID"),
              TAG_FEATURE: ("tag", lambda tag: 0 < len(tag.encode("utf-8")) <= 640, "tag")}
    if kind not in checks:  # an open union: the PDS takes any $type, which no AppView shows
        raise _XrpcError(400, "InvalidRequest", f"unknown facet feature {kind} at {where}")
    key, valid, name = checks[kind]
    value = feature.get(key)
    if key not in feature:
        raise _invalid(f'Missing required key "{key}" at {where}')
    if not isinstance(value, str):
        raise _invalid(f"Expected string value type (got {json.dumps(value)}) at {where}.{key}")
    if not valid(value):
        raise _invalid(f'Invalid {name} (got "{value}") at {where}.{key}')


def _check_reply_shape(reply: Any) -> None:
    """app.bsky.feed.post#replyRef: root and parent strongRefs, as the PDS validates them (no look-ups)."""
    where = "$.record.reply"
    if not isinstance(reply, dict):
        raise _invalid(f"Expected object value type (got {json.dumps(reply)[:40]}) at {where}")
    for name in ("root", "parent"):
        if name not in reply:
            raise _invalid(f'Missing required key "{name}" at {where}')
        ref, at = reply[name], f"{where}.{name}"
        if not isinstance(ref, dict):
            raise _invalid(f"Expected object value type (got {json.dumps(ref)[:40]}) at {at}")
        if "$type" in ref and ref["$type"] != STRONG_REF:
            raise _invalid(f'Expected "{STRONG_REF}" (got {json.dumps(ref["$type"])}) at {at}.$type')
        for key in ("uri", "cid"):
            if key not in ref:
                raise _invalid(f'Missing required key "{key}" at {at}')
            if not isinstance(ref[key], str):
                raise _invalid(f"Expected string value type (got {json.dumps(ref[key])[:40]}) at {at}.{key}")
        if not _is_at_uri(ref["uri"]):
            raise _invalid(f'Invalid at-uri (got "{ref["uri"]}") at {at}.uri')
        if not _is_cid(ref["cid"]):
            raise _invalid(f'Invalid CID string (got "{ref["cid"]}") at {at}.cid')


# --- atproto string formats (@atproto/syntax and multiformats, as the PDS checks them)

_DID = re.compile(r"did:[a-z]+:[a-zA-Z0-9._:%-]*[a-zA-Z0-9._-]")
_HANDLE = re.compile(r"([a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?\.)+[a-zA-Z]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?")
_NSID = re.compile(r"[a-zA-Z]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,62}[a-zA-Z0-9])?)+"
                   r"\.[a-zA-Z][a-zA-Z0-9]{0,62}")
_RKEY = re.compile(r"[a-zA-Z0-9_~.:-]{1,512}")
_AT_URI = re.compile(r"at://(?P<authority>[^/?#\s]+)(?:/(?P<collection>[^/?#\s]+)(?:/(?P<rkey>[^/?#\s]+))?)?"
                     r"(?P<slash>/)?(?:\?(?P<query>[^#\s]*))?(?:#(?P<hash>[^\s]*))?")
_AT_URI_CHARS = re.compile(r"[a-zA-Z0-9._~:@!$&'()*+,;=%/\\\[\]#?-]*")
_JSON_POINTER = re.compile(r"/[a-zA-Z0-9._~:@!$&')(*+,;=%\[\]/-]*")
_BASE32 = "abcdefghijklmnopqrstuvwxyz234567"
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE36 = "0123456789abcdefghijklmnopqrstuvwxyz"


def _is_did(text: str) -> bool:
    return len(text) <= 2048 and _DID.fullmatch(text) is not None


def _is_handle(text: str) -> bool:
    return len(text) <= 253 and _HANDLE.fullmatch(text) is not None


def _is_uri(text: str) -> bool:
    return re.fullmatch(r"\w+:(?://)?[^\s/][^\s]*", text, flags=re.ASCII) is not None


def _is_at_uri(text: str) -> bool:
    found = _AT_URI.fullmatch(text) if len(text) <= 8192 and _AT_URI_CHARS.fullmatch(text) else None
    if found is None or found["slash"] is not None or found["query"] is not None:
        return False
    if not (_is_did(found["authority"]) or _is_handle(found["authority"])):
        return False
    if found["collection"] is not None and _NSID.fullmatch(found["collection"]) is None:
        return False
    if found["rkey"] is not None and (_RKEY.fullmatch(found["rkey"]) is None or found["rkey"] in (".", "..")):
        return False
    return found["hash"] is None or _JSON_POINTER.fullmatch(found["hash"]) is not None


def _is_cid(text: str) -> bool:
    """CID.parse of multiformats: base32 (b…), base58btc (z…, or Qm… for CIDv0) or base36 (k…), whole."""
    if not text or len(text) > 128:
        return False
    decoders = {"Q": lambda: _base_n(text, _BASE58), "z": lambda: _base_n(text[1:], _BASE58),
                "b": lambda: _base32(text[1:]), "k": lambda: _base_n(text[1:], _BASE36)}
    data = decoders[text[0]]() if text[0] in decoders else None
    return data is not None and _cid_bytes(data)


def _cid_bytes(data: bytes) -> bool:
    offset = 0

    def varint() -> int | None:
        nonlocal offset
        value = shift = 0
        while offset < len(data):
            byte = data[offset]
            offset += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
        return None

    version = varint()
    if version == 0x12:  # a bare sha2-256 multihash: a CIDv0
        offset = 0
    elif version != 1 or varint() is None:
        return False
    code, size = varint(), varint()
    return code is not None and size is not None and len(data) - offset == size


def _base32(text: str) -> bytes | None:
    """RFC 4648 base32, lower case, no padding, as multiformats decodes it (no stray bits at the end)."""
    buffer = bits = 0
    out = bytearray()
    for char in text:
        value = _BASE32.find(char)
        if value < 0:
            return None
        buffer, bits = (buffer << 5) | value, bits + 5
        if bits >= 8:
            bits -= 8
            out.append((buffer >> bits) & 0xFF)
    if bits >= 5 or (buffer << (8 - bits)) & 0xFF:
        return None
    return bytes(out)


def _base_n(text: str, alphabet: str) -> bytes | None:
    if not text or any(char not in alphabet for char in text):
        return None
    number = 0
    for char in text:
        number = number * len(alphabet) + alphabet.index(char)
    zeros = len(text) - len(text.lstrip(alphabet[0]))
    return b"\0" * zeros + (number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b"")


def _cid(value: dict[str, Any]) -> str:
    """A CIDv1 (dag-cbor, sha2-256) in base32, as the PDS writes them; of the JSON here, not of DAG-CBOR."""
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return "b" + base64.b32encode(b"\x01\x71\x12\x20" + digest).decode().lower().rstrip("=")


# --- small helpers


def _limit(query: dict[str, list[str]]) -> int:
    raw = _param(query, "limit")
    if raw is None:
        return 50
    if not re.fullmatch(r"-?\d+", raw):
        raise _XrpcError(400, "InvalidRequest", f"Expected integer value type (got {raw}) at $.limit")
    limit = int(raw)
    if limit < 1:
        raise _XrpcError(400, "InvalidRequest", f"integer too small (minimum 1, got {limit}) at $.limit")
    if limit > 100:
        raise _XrpcError(400, "InvalidRequest", f"integer too big (maximum 100, got {limit}) at $.limit")
    return limit


def _newest_first(notifications: list[Notification]) -> list[Notification]:
    """By sort_at, newest first; of one instant, the one made last first."""
    return sorted(reversed(notifications), key=lambda n: n.sort_at, reverse=True)


_DATETIME = re.compile(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)")


def _datetime(text: str) -> datetime | None:
    found = _DATETIME.fullmatch(text)
    if found is None:
        return None
    day_time, fraction, zone = found.groups()
    try:
        return datetime.fromisoformat(f"{day_time}.{(fraction or '')[:6]:0<6}{'+00:00' if zone == 'Z' else zone}")
    except ValueError:
        return None


def _iso(when: datetime) -> str:
    """JavaScript's toISOString: UTC, milliseconds, Z (how the AppView writes and compares its times)."""
    when = when.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _rate_headers(limit: int, remaining: int, reset_at: float, window_s: int) -> dict[str, str]:
    return {"ratelimit-limit": str(limit), "ratelimit-remaining": str(remaining),
            "ratelimit-reset": str(int(reset_at)), "ratelimit-policy": f"{limit};w={window_s}"}


def _param(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


def _tid() -> str:
    return tid(datetime.now(timezone.utc), secrets.randbelow(1024))


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()
