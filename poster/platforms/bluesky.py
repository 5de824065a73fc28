"""Bluesky through the account's PDS (AT Protocol XRPC over HTTPS, JSON): the `bluesky` platform.

    bsky = BlueskyPlatform("https://bsky.social", "bot.bsky.social", app_password, session_file)
    bsky.account          the handle, as given (without "@")
    bsky.fits(text)       None, or why not (empty; over 300 graphemes or 3000 bytes: poster.bluesky_text)
    bsky.post(draft)      POST /xrpc/com.atproto.repo.createRecord {"repo": did, "collection": "app.bsky.feed.post",
                          "rkey": draft.key, "record": {"$type", "text", "createdAt", "facets"?}}
                          -> {"uri": "at://did/app.bsky.feed.post/RKEY", "cid"}; the uri is the remote id
    bsky.find(draft)      GET /xrpc/com.atproto.repo.getRecord?repo=did&collection=…&rkey=draft.key
                          -> {"uri", "cid", "value": record}, or 400 {"error": "RecordNotFound"}
    bsky.engagement(uris) GET /xrpc/app.bsky.feed.getPosts?uris=…&uris=… (25 a request, the lexicon's maximum)
                          -> {"posts": [{"uri", "likeCount", "repostCount", "replyCount", "quoteCount"}]}
    bsky.own_id           the account's DID (from the session)
    bsky.mentions(after)  GET /xrpc/app.bsky.notification.listNotifications?limit=50&reasons=mention&reasons=reply
                          &cursor=… -> {"notifications": [{"uri", "cid", "author": {"did", "handle", "viewer"},
                          "reason", "record", "indexedAt"}], "cursor"?}, newest first, page after page back to
                          `after` (at most MENTION_PAGES pages); Mention(id=uri, author=handle, author_id=did,
                          refs={"cid", "root_uri", "root_cid"}, thread=record.reply.root.uri, parent=…parent.uri)
    bsky.post(draft)      with draft.reply_to: the record also carries "reply": {"root": {"uri", "cid"}, "parent":
                          {"uri": mention.id, "cid"}} (the root is the mention itself when it starts no thread yet),
                          and a mention facet (the author's DID) over the "@handle" that reply_text() put first

Mentions: the AppView sorts notifications by one time, `indexedAt` (the earlier of when it indexed the post and
the post's own createdAt, which its client chose), to the millisecond, and pages with `cursor` strictly older
than the last one given. The cursor mentions() returns is ours (MentionCursor, poster/bluesky_notifications.py): the
newest mention's time and the uris of all mentions of that instant, so that two posts of one millisecond are
neither answered twice nor missed. The AppView honours `reasons` (likes, follows and quotes are left out; they
are left out here too, should another AppView not) and leaves out the posts of accounts the bot mutes or blocks
or is blocked by; `muted` reads author.viewer all the same, for an AppView that lists them.

The record key is the ledger row's TID (draft.key): a create is idempotent and a lookup exact. The reference PDS
answers a second create with the same key with 500 InternalServerError, not a clean conflict, so post() takes a
5xx, a timeout or a dropped connection as "maybe created" and looks with getRecord once before it raises.

Sessions (poster/bluesky_session.py): every call but getRecord carries `Authorization: Bearer <access JWT>`.
When the PDS answers 400 {"error": "ExpiredToken"} (or InvalidToken, or 401) the session is renewed (refresh, or
one login) and that call is sent once more: it was refused before the PDS did anything, so this is not a retry of
a failure. Whether to retry a failure is the run's decision (poster/run.py).

AppView reads: the PDS forwards app.bsky.* calls to the AppView it is configured with; Bluesky's docs say the
`atproto-proxy: did:web:api.bsky.app#bsky_appview` header is not needed for Bluesky's own AppView, so none is
sent. `appview_url` (e.g. https://public.api.bsky.app) sends getPosts straight there instead, without the
session's token: getPosts is a public read, and the PDS's JWT must not travel to another host. listNotifications
always goes through the PDS with the token: the AppView learns from it whose notifications to list.

Errors, from XRPC error bodies {"error", "message"}:
    401, 400 ExpiredToken/InvalidToken/AuthenticationRequired (after a renewal), 403 -> AuthRefused
    429                                     -> RateLimited(reset_at = ratelimit-reset, unix seconds)
    5xx, timeouts, dropped connections      -> PlatformError(transient=True)
    other 4xx, a success body not the PDS's -> PlatformError(transient=False)
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import requests

from lorecast.errors import AuthRefused, PlatformError, RateLimited
from poster.bluesky_notifications import MENTION_REASONS, MentionCursor, next_cursor, notification
from poster.bluesky_session import BlueskySession
from poster.bluesky_text import link_facets, mention_facet, too_long
from poster.credentials import one_line
from poster.platforms.base import MENTION_PAGES, Draft, Engagement, Mention, MentionPage, Platform
from poster.platforms.http import answer, header_number, resets
from poster.responses import count, excerpt, json_body, shape

COLLECTION = "app.bsky.feed.post"
ENGAGEMENT_BATCH = 25  # uris per getPosts: the lexicon's maximum
NOTIFICATIONS = "app.bsky.notification.listNotifications"
NOTIFICATION_PAGE = 50  # notifications per page (the lexicon's default; 100 at most)
# XRPC error names that mean "this token is not (or no longer) good": renew the session.
TOKEN_ERRORS = frozenset({"ExpiredToken", "InvalidToken", "AuthenticationRequired", "AuthMissing"})
AUTH_HINT = ("check the handle and the app password (Settings > Privacy and security > App passwords), then sign "
             "in with `lorecast auth bluesky`")


class Xrpc:
    """HTTP to one PDS: requests with their network failures mapped to PlatformError, answers to documents or
    mapped errors, every message on one line without a secret."""

    def __init__(self, service_url: str, timeout: float, secrets: Callable[[], tuple[str, ...]] = tuple) -> None:
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.service_url = service_url.rstrip("/")
        self.timeout = timeout
        self.secrets = secrets  # asked at each error: the tokens change with every refresh
        self._http = requests.Session()

    def __repr__(self) -> str:
        return f"Xrpc({self.service_url!r})"

    def send(self, method: str, nsid: str, *, token: str | None = None, base: str | None = None,
             **kwargs: Any) -> requests.Response:
        """The answer to `method /xrpc/nsid`, whatever its status; PlatformError(transient=True) when none came."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        url = f"{(base or self.service_url).rstrip('/')}/xrpc/{nsid}"
        return answer(self._http, method, url, self.timeout, f"Bluesky: {nsid} at {url}", self.error, headers=headers,
                      **kwargs)

    def document(self, response: requests.Response, nsid: str) -> dict[str, Any]:
        """The JSON object of a 2xx answer; the mapped PlatformError for anything else."""
        document = json_body(response)
        status = response.status_code
        if 200 <= status < 300:
            if not isinstance(document, dict):
                raise self.error(f"Bluesky answered {nsid} with {excerpt(response)}, not a JSON object",
                                 transient=response.request.method == "POST")  # a record may be out: look
            return document
        name, detail = xrpc_error(document)
        reason = f"{name}: {detail}" if name and detail else name or detail or excerpt(response)
        if status == 429:
            reset_at = header_number(response, "ratelimit-reset")
            raise self.error(f"Bluesky rate limit reached on {nsid}{resets(reset_at)}: {reason}", RateLimited,
                             reset_at=reset_at)
        if status in (401, 403) or (status == 400 and name in TOKEN_ERRORS):
            raise self.error(f"Bluesky refused {nsid} (HTTP {status}, {reason}); {AUTH_HINT}", AuthRefused)
        raise self.error(f"Bluesky answered HTTP {status} to {nsid}: {reason}", transient=status >= 500)

    def error(self, message: str, kind: type[PlatformError] = PlatformError, **kwargs: Any) -> PlatformError:
        """`kind(message)` on one line, cut to a readable length, with the password and tokens replaced by ***."""
        return kind(one_line(message, self.secrets()), **kwargs)

    # --- the session calls (poster.bluesky_session.SessionServer)

    def create_session(self, identifier: str, password: str) -> dict[str, Any]:
        nsid = "com.atproto.server.createSession"
        response = self.send("POST", nsid, json={"identifier": identifier, "password": password})
        return self.document(response, nsid)

    def refresh_session(self, refresh_jwt: str) -> dict[str, Any]:
        # No body at all: the PDS answers 400 "A request body was provided when none was expected" to one.
        nsid = "com.atproto.server.refreshSession"
        return self.document(self.send("POST", nsid, token=refresh_jwt), nsid)

    def close(self) -> None:
        self._http.close()


class BlueskyPlatform(Platform):
    name = "bluesky"
    idempotent_create = True
    replies = True

    def __init__(self, service_url: str, handle: str, app_password: str, session_file: Path, timeout: float = 30.0,
                 appview_url: str | None = None) -> None:
        self.service_url = service_url.rstrip("/")
        self.appview_url = appview_url.rstrip("/") if appview_url else None
        self._xrpc = Xrpc(self.service_url, timeout, secrets=lambda: self.session.secrets())
        self.session = BlueskySession(self._xrpc, handle, app_password, Path(session_file))

    def __repr__(self) -> str:
        return f"BlueskyPlatform({self.service_url!r}, {self.account!r})"

    @property
    def account(self) -> str:
        return self.session.handle

    def fits(self, text: str) -> str | None:
        if not text.strip():
            return "empty text"
        return too_long(text)

    @property
    def own_id(self) -> str:
        return self.session.did

    def post(self, draft: Draft) -> str:
        record: dict[str, Any] = {"$type": COLLECTION, "text": draft.text, "createdAt": _iso(draft)}
        facets = link_facets(draft.text)
        if draft.reply_to is not None:
            record["reply"] = self._reply_refs(draft.reply_to)
            mention = mention_facet(draft.text, draft.reply_to.author, draft.reply_to.author_id)
            if mention is not None:
                facets = sorted([mention, *facets], key=lambda facet: facet["index"]["byteStart"])
        if facets:
            record["facets"] = facets
        body = {"repo": self.session.did, "collection": COLLECTION, "rkey": draft.key, "record": record}
        try:
            document = self._call("POST", "com.atproto.repo.createRecord", json=body)
        except RateLimited:
            raise
        except PlatformError as error:
            if not error.transient:
                raise
            # A 500 is also how the PDS answers a key it already has: our earlier try may have gone through.
            found = self._look(draft)
            if found is None:
                raise
            return found
        uri = document.get("uri")
        if not isinstance(uri, str) or not uri.startswith("at://"):
            # The PDS took the request but does not say as what: the record may be there, so the run must look.
            raise self._xrpc.error(f"Bluesky answered createRecord without the record's at:// uri "
                                   f"(keys: {', '.join(sorted(document)) or 'none'})", transient=True)
        return uri

    def find(self, draft: Draft) -> str | None:
        document = self._record(draft.key)
        if document is None:
            return None
        return self._ours(draft, document)

    def mentions(self, after: str | None) -> MentionPage:
        since = MentionCursor.parse(after) if after is not None else None
        found: dict[str, tuple[datetime, Mention]] = {}
        page_cursor: str | None = None
        complete = True
        for _ in range(MENTION_PAGES):
            params = [("limit", str(NOTIFICATION_PAGE)), *(("reasons", reason) for reason in MENTION_REASONS)]
            if page_cursor is not None:
                params.append(("cursor", page_cursor))
            document = self._call("GET", NOTIFICATIONS, params=params)
            items = document.get("notifications")
            if not isinstance(items, list):
                raise self._xrpc.error(f"Bluesky answered {NOTIFICATIONS} without a notifications list "
                                       f"({shape(document)})")
            reached = since is None  # a first call reads the newest page only
            for item in items:
                read = notification(item)
                if read is None:
                    continue
                when, uri, mention = read
                if since is not None and not since.precedes(when, uri):
                    reached = True  # newest first: what follows is older still
                elif mention is not None:
                    found.setdefault(uri, (when, mention))
            following = document.get("cursor")
            if reached or not isinstance(following, str) or not following or following == page_cursor:
                break
            page_cursor = following
        else:
            complete = False  # MENTION_PAGES pages and still newer than `after`: the older ones are left out
        ordered = sorted(found.values(), key=lambda pair: (pair[0], pair[1].id))
        return MentionPage([mention for _, mention in ordered], next_cursor(after, since, ordered), complete)

    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]:
        counts: dict[str, Engagement] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), ENGAGEMENT_BATCH):
            params = [("uris", uri) for uri in unique[start:start + ENGAGEMENT_BATCH]]
            if self.appview_url:
                nsid = "app.bsky.feed.getPosts"
                document = self._xrpc.document(self._xrpc.send("GET", nsid, base=self.appview_url, params=params),
                                               nsid)
            else:
                document = self._call("GET", "app.bsky.feed.getPosts", params=params)
            posts = document.get("posts")
            for view in posts if isinstance(posts, list) else []:  # uris the AppView does not have: left out
                if isinstance(view, dict) and isinstance(view.get("uri"), str):
                    counts[view["uri"]] = _engagement(view)
        return counts

    def close(self) -> None:
        self._xrpc.close()

    # --- calls

    def _call(self, method: str, nsid: str, **kwargs: Any) -> dict[str, Any]:
        """An authenticated call; a refused access JWT is renewed and the call sent once more."""
        token = self.session.access_jwt()
        response = self._xrpc.send(method, nsid, token=token, **kwargs)
        if _token_refused(response):
            response = self._xrpc.send(method, nsid, token=self.session.renew(token), **kwargs)
        return self._xrpc.document(response, nsid)

    def _record(self, rkey: str) -> dict[str, Any] | None:
        """getRecord of our post `rkey` (a public read: no token); None on RecordNotFound."""
        nsid = "com.atproto.repo.getRecord"
        params = {"repo": self.session.did, "collection": COLLECTION, "rkey": rkey}
        response = self._xrpc.send("GET", nsid, params=params)
        if response.status_code == 400 and xrpc_error(json_body(response))[0] == "RecordNotFound":
            return None
        return self._xrpc.document(response, nsid)

    def _look(self, draft: Draft) -> str | None:
        """After a create with no clear answer: the uri when the record is there with our text, else None."""
        try:
            document = self._record(draft.key)
        except PlatformError:
            return None  # cannot tell now: the create's own error stands, and the run resolves the row later
        return self._ours(draft, document) if document is not None else None

    def _reply_refs(self, mention: Mention) -> dict[str, dict[str, str]]:
        """The record's reply refs: the thread's root and the mention itself, each as uri and cid."""
        cid, root_uri, root_cid = (mention.refs.get(key) for key in ("cid", "root_uri", "root_cid"))
        if not all(isinstance(value, str) and value for value in (cid, root_uri, root_cid)):
            raise self._xrpc.error(f"the Bluesky mention {mention.id} lacks the cid, root_uri and root_cid that a "
                                   f"reply in its thread needs (refs: {', '.join(sorted(mention.refs)) or 'none'})")
        return {"root": {"uri": root_uri, "cid": root_cid}, "parent": {"uri": mention.id, "cid": cid}}

    def _ours(self, draft: Draft, document: dict[str, Any]) -> str:
        value, uri = document.get("value"), document.get("uri")
        if not isinstance(uri, str) or not isinstance(value, dict):
            raise self._xrpc.error(f"Bluesky answered getRecord for {draft.key} without its uri and value")
        if value.get("text") != draft.text:
            # Keys are the ledger's TIDs, one per row: another text here is not a retry, and never will be ours.
            raise self._xrpc.error(f"the Bluesky record {uri} holds another text than the ledger row with key "
                                   f"{draft.key}")
        return uri


def xrpc_error(document: Any) -> tuple[str | None, str | None]:
    """(error, message) of an XRPC error body; None for what it lacks."""
    if not isinstance(document, dict):
        return None, None
    name, message = document.get("error"), document.get("message")
    return (name if isinstance(name, str) else None), (message if isinstance(message, str) else None)


def _token_refused(response: requests.Response) -> bool:
    if response.status_code not in (400, 401):
        return False
    name = xrpc_error(json_body(response))[0]
    return name in TOKEN_ERRORS or (response.status_code == 401 and name is None)


def _iso(draft: Draft) -> str:
    """The record's createdAt: when the ledger row was written, the same on every retry, in UTC with a Z."""
    when = draft.created_at.astimezone(timezone.utc)
    return when.strftime("%Y-%m-%dT%H:%M:%S.") + f"{when.microsecond // 1000:03d}Z"


def _engagement(view: dict[str, Any]) -> Engagement:
    def number(key: str) -> int:
        return count(view.get(key)) or 0

    return Engagement(likes=number("likeCount"), reposts=number("repostCount"), replies=number("replyCount"),
                      quotes=number("quoteCount"))
