"""A local Bluesky stand-in: the subset of a PDS that the bluesky platform uses, as strict as the reference PDS
(tests/poster/test_bluesky_pds.py runs that one), with fault injection, and the AppView read the PDS cannot serve
offline (app.bsky.feed.getPosts, with counts a test sets).

    with BlueskyServer() as server:                  # 127.0.0.1, a free port; tests use the `bluesky_server` fixture
        server.url              http://127.0.0.1:PORT          the PDS (XRPC under /xrpc/)
        server.appview_url      http://127.0.0.1:PORT/appview  a public AppView: getPosts without a token
        server.handle, server.did, server.app_password, server.password    the one account
        server.access_ttl_s     seconds an access JWT lives (7200 as on Bluesky; set 2 to exercise refresh)

Served and checked, with XRPC error bodies {"error", "message"} as the PDS sends them:
    POST com.atproto.server.createSession {"identifier": handle or did, "password"}   app password or password;
         else 401 AuthenticationRequired. 30 logins per 5 minutes and 300 a day, else 429 RateLimitExceeded
         with ratelimit-limit, -remaining, -reset (unix seconds) and -policy headers.
    POST com.atproto.server.refreshSession   Bearer refresh JWT and no body (400 InvalidRequest for one); each
         refresh JWT works once (the PDS allows a short grace period: stricter here), a used or revoked one
         answers 400 ExpiredToken "Token has been revoked"
    Access JWTs (HS256, with exp) answer 400 ExpiredToken once expired or revoked, 400 InvalidToken when unknown
         or a refresh JWT, 401 AuthMissing when absent.
    POST com.atproto.repo.createRecord  (access JWT) repo = did or handle; collection app.bsky.feed.post; rkey a
         TID (else 400 InvalidRequest "Invalid record key"); a key it already has: 500 InternalServerError, as
         the reference PDS; record $type, text (at most 300 graphemes and 3000 bytes, else 400), createdAt;
         facets whose byte ranges lie outside the text or off UTF-8 boundaries: 400 (the PDS does not check
         this; we do, so our offsets are tested)
    GET com.atproto.repo.getRecord, listRecords   public; 400 RecordNotFound for a key it does not have
    GET app.bsky.feed.getPosts?uris=…   (access JWT at /xrpc/, as the PDS proxies it; none under /appview/)
         at most 25 uris (else 400), unknown ones left out; counts from set_engagement

Test controls: `.posts()` (Record(rkey, uri, text, facets, created_at, counts), oldest first), `.logins` and
`.refreshes` (calls that issued a session), `.requests` ((method, path, sent a token) of every request),
`.set_engagement(uri, likeCount=, repostCount=, replyCount=, quoteCount=)`, `.revoke_sessions()` (every JWT
issued so far stops working, as when the app password is revoked), `.inject(path_regex, fault, times=1)` with
the faults of platform_server.faults: a request whose path (e.g. "/xrpc/com.atproto.repo.createRecord") matches
and whose token checked out takes the first matching fault: Status(n) answers n instead (nothing happens),
RateLimit(s) 429 resetting in s seconds, Slow(s) does the work and answers s seconds later, LateAccept(s) waits s
seconds and only then does the work and answers, DropAfterAccept() does the work and closes the connection without
an answer.
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
_ERROR_NAMES = {400: "InvalidRequest", 401: "AuthenticationRequired", 403: "Forbidden", 404: "NotFound",
                429: "RateLimitExceeded", 500: "InternalServerError", 501: "MethodNotImplemented",
                502: "UpstreamFailure", 503: "NotEnoughResources", 504: "UpstreamTimeout"}
_GRAPHEME = regex.compile(r"\X")


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


class _XrpcError(Exception):
    def __init__(self, status: int, name: str | None = None, message: str = "", headers: dict | None = None):
        super().__init__(message)
        self.reply = Reply(status, {"error": name or _ERROR_NAMES.get(status, "InvalidRequest"),
                                    "message": message or _ERROR_NAMES.get(status, "Error")}, headers=headers or {})


class BlueskyServer(LoopbackServer):
    def __init__(self, handle: str = "lorecastbot.test") -> None:
        super().__init__("bluesky-server")
        self.handle = handle
        self.did = "did:plc:" + secrets.token_hex(12)
        self.password = secrets.token_hex(12)
        self.app_password = "-".join(secrets.token_hex(2) for _ in range(4))
        self.access_ttl_s = 7200.0
        self.refresh_ttl_s = 90 * 86400.0
        self.logins = 0
        self.refreshes = 0
        self.requests: list[tuple[str, str, bool]] = []
        self._records: list[Record] = []
        self._key = secrets.token_bytes(32)
        self._live_refresh: set[str] = set()  # jti of refresh JWTs not yet used or revoked
        self._revoked_before = 0.0  # JWTs issued before this (unix seconds) no longer work
        self._login_windows = (Window(30, 300), Window(300, 86400))
        self._faults: list[tuple[re.Pattern[str], Fault]] = []
        self._lock = threading.Lock()

    @property
    def appview_url(self) -> str:
        return f"{self.url}/appview"

    # --- test controls

    def posts(self) -> list[Record]:
        with self._lock:
            return list(self._records)

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

    # --- JWTs

    def _jwt(self, scope: str, ttl_s: float, jti: str | None = None) -> str:
        now = time.time()
        claims = {"scope": scope, "sub": self.did, "aud": "did:web:127.0.0.1", "iat": now, "exp": int(now + ttl_s)}
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

    def _access(self, headers: dict[str, str]) -> None:
        if self._claims(headers)["scope"] == "com.atproto.refresh":
            raise _XrpcError(400, "InvalidToken", "Bad token scope")

    def _session(self, scope: str) -> dict[str, Any]:
        jti = secrets.token_urlsafe(16)
        self._live_refresh.add(jti)
        return {"did": self.did, "handle": self.handle, "accessJwt": self._jwt(scope, self.access_ttl_s),
                "refreshJwt": self._jwt("com.atproto.refresh", self.refresh_ttl_s, jti), "active": True}

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

    def _handled_late(self, handler, arguments, headers) -> Reply:
        """A request handled only now (LateAccept), under the lock as any other."""
        with self._lock:
            try:
                return handler(self, arguments, headers)
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
        if needs == "access" and not public_appview:
            self._access(headers)
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
        if method == "POST":
            document = self._json(body, headers, expected=needs != "refresh")
        else:
            document = None
        if isinstance(fault, LateAccept):
            return lambda: self._handled_late(handler, document if method == "POST" else query, headers), fault.seconds
        reply = handler(self, document if method == "POST" else query, headers)
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

    def _create_session(self, document: dict[str, Any], headers: dict[str, str]) -> Reply:
        now = time.time()
        taken = [window.take(now) for window in self._login_windows]
        if not all(taken):
            window = self._login_windows[taken.index(False)]
            raise _XrpcError(429, "RateLimitExceeded", "Rate Limit Exceeded",
                             _rate_headers(window.limit, 0, window.resets_at, int(window.seconds)))
        identifier, password = document.get("identifier"), document.get("password")
        if not isinstance(identifier, str) or not isinstance(password, str):
            raise _XrpcError(400, "InvalidRequest", 'Input must have the property "identifier" and "password"')
        if identifier.lower() not in (self.handle, self.did) or password not in (self.app_password, self.password):
            raise _XrpcError(401, "AuthenticationRequired", "Invalid identifier or password")
        self.logins += 1
        scope = "com.atproto.appPass" if password == self.app_password else "com.atproto.access"
        window = self._login_windows[0]
        return Reply(200, self._session(scope),
                     headers=_rate_headers(window.limit, window.remaining, window.resets_at, int(window.seconds)))

    def _refresh_session(self, _document: None, headers: dict[str, str]) -> Reply:
        claims = self._claims(headers)
        if claims["scope"] != "com.atproto.refresh":
            raise _XrpcError(400, "InvalidToken", "Invalid token type")
        if claims.get("jti") not in self._live_refresh:
            raise _XrpcError(400, "ExpiredToken", "Token has been revoked")
        self._live_refresh.discard(claims["jti"])
        self.refreshes += 1
        return Reply(200, self._session("com.atproto.appPass"))

    def _create_record(self, document: dict[str, Any], headers: dict[str, str]) -> Reply:
        if document.get("repo") not in (self.did, self.handle):
            raise _XrpcError(400, "InvalidRequest", "Invalid repo")
        if document.get("collection") != COLLECTION:
            raise _XrpcError(400, "InvalidRequest", f"this stand-in has only {COLLECTION}")
        rkey = document.get("rkey")
        if rkey is None:
            rkey = _tid()
        if not isinstance(rkey, str) or not is_tid(rkey):
            raise _XrpcError(400, "InvalidRequest", f"Invalid record key for {COLLECTION}: Invalid TID string")
        record = document.get("record")
        text, facets = _check_post(record)
        if any(existing.rkey == rkey for existing in self._records):
            raise _XrpcError(500, "InternalServerError", "Internal Server Error")  # as the reference PDS does
        uri = f"at://{self.did}/{COLLECTION}/{rkey}"
        cid = "bafyrei" + hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:52]
        self._records.append(Record(rkey, uri, cid, text, facets, record["createdAt"], record))
        return Reply(200, {"uri": uri, "cid": cid, "validationStatus": "valid"})

    def _get_record(self, query: dict[str, list[str]], headers: dict[str, str]) -> Reply:
        repo, collection, rkey = (_param(query, name) for name in ("repo", "collection", "rkey"))
        record = next((r for r in self._records if r.rkey == rkey), None)
        if repo not in (self.did, self.handle) or collection != COLLECTION or record is None:
            raise _XrpcError(400, "RecordNotFound",
                             f"Could not locate record: at://{repo}/{collection}/{rkey}")
        return Reply(200, {"uri": record.uri, "cid": record.cid, "value": record.value})

    def _list_records(self, query: dict[str, list[str]], headers: dict[str, str]) -> Reply:
        if _param(query, "repo") not in (self.did, self.handle):
            raise _XrpcError(400, "InvalidRequest", "Could not find repo")
        records = [{"uri": r.uri, "cid": r.cid, "value": r.value} for r in reversed(self._records)
                   if _param(query, "collection") == COLLECTION]
        return Reply(200, {"records": records})

    def _get_posts(self, query: dict[str, list[str]], headers: dict[str, str]) -> Reply:
        uris = query.get("uris", [])
        if not uris:
            raise _XrpcError(400, "InvalidRequest", 'Params must have the property "uris"')
        if len(uris) > 25:
            raise _XrpcError(400, "InvalidRequest", "uris must not have more than 25 elements")
        views = [{"uri": r.uri, "cid": r.cid, "author": {"did": self.did, "handle": self.handle},
                  "record": r.value, **r.counts, "indexedAt": r.created_at}
                 for uri in dict.fromkeys(uris) for r in self._records if r.uri == uri]
        return Reply(200, {"posts": views})


_ROUTES = {
    ("POST", "com.atproto.server.createSession"): BlueskyServer._create_session,
    ("POST", "com.atproto.server.refreshSession"): BlueskyServer._refresh_session,
    ("POST", "com.atproto.repo.createRecord"): BlueskyServer._create_record,
    ("GET", "com.atproto.repo.getRecord"): BlueskyServer._get_record,
    ("GET", "com.atproto.repo.listRecords"): BlueskyServer._list_records,
    ("GET", "app.bsky.feed.getPosts"): BlueskyServer._get_posts,
}
_AUTH = {"com.atproto.server.createSession": "none", "com.atproto.server.refreshSession": "refresh",
         "com.atproto.repo.createRecord": "access", "com.atproto.repo.getRecord": "none",
         "com.atproto.repo.listRecords": "none", "app.bsky.feed.getPosts": "access"}


def _check_post(record: Any) -> tuple[str, list[dict[str, Any]] | None]:
    """The text and facets of a valid app.bsky.feed.post record; 400 InvalidRequest as the PDS words it."""
    if not isinstance(record, dict) or record.get("$type") != COLLECTION:
        raise _XrpcError(400, "InvalidRequest", f"Invalid $type: must be {COLLECTION}")
    text, created_at = record.get("text"), record.get("createdAt")
    if not isinstance(text, str):
        raise _XrpcError(400, "InvalidRequest", 'Record must have the property "text"')
    graphemes = len(_GRAPHEME.findall(text))
    if graphemes > 300:
        raise _XrpcError(400, "InvalidRequest", f"Invalid {COLLECTION} record: grapheme too big "
                                                f"(maximum 300, got {graphemes}) at $.record.text")
    data = text.encode("utf-8")
    if len(data) > 3000:
        raise _XrpcError(400, "InvalidRequest", f"Invalid {COLLECTION} record: string too big "
                                                f"(maximum 3000, got {len(data)}) at $.record.text")
    if not isinstance(created_at, str) or not re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)",
                                                           created_at):
        raise _XrpcError(400, "InvalidRequest", "createdAt must be a valid datetime at $.record.createdAt")
    try:
        datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        raise _XrpcError(400, "InvalidRequest", "createdAt must be a valid datetime at $.record.createdAt") from None
    facets = record.get("facets")
    if facets is None:
        return text, None
    if not isinstance(facets, list):
        raise _XrpcError(400, "InvalidRequest", "facets must be an array at $.record.facets")
    for number, facet in enumerate(facets):
        where = f"$.record.facets[{number}]"
        index = facet.get("index") if isinstance(facet, dict) else None
        start, end = (index.get("byteStart"), index.get("byteEnd")) if isinstance(index, dict) else (None, None)
        if not all(isinstance(value, int) and not isinstance(value, bool) for value in (start, end)):
            raise _XrpcError(400, "InvalidRequest", f"index must have integer byteStart and byteEnd at {where}")
        if not 0 <= start < end <= len(data):
            raise _XrpcError(400, "InvalidRequest", f"byte range {start}..{end} outside the text at {where}")
        if any(offset < len(data) and data[offset] & 0xC0 == 0x80 for offset in (start, end)):
            raise _XrpcError(400, "InvalidRequest", f"byte range {start}..{end} splits a character at {where}")
        features = facet.get("features")
        if not isinstance(features, list) or not features or not all(
                isinstance(feature, dict) and feature.get("$type") == "app.bsky.richtext.facet#link"
                and isinstance(feature.get("uri"), str) for feature in features):
            raise _XrpcError(400, "InvalidRequest", f"features must be link features with a uri at {where}")
    return text, facets


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

