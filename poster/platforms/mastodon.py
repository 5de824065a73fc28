"""Mastodon's REST API with a user's Bearer token: the `mastodon` platform, on any instance.

    m = MastodonPlatform("https://mastodon.example", token)   # visibility="unlisted"
    m.account           GET /api/v1/accounts/verify_credentials  -> {"id", "username", "acct", ...}, once;
    m.own_id            the account's id from the same answer
    m.fits(text)        None, or "501 characters, mastodon.example allows 500": the instance's own limit from
                        GET /api/v2/instance -> {"configuration": {"statuses": {"max_characters",
                        "characters_reserved_per_url"}}}, once (500 and 23 when it does not say)
    m.post(draft)       POST /api/v1/statuses {"status", "visibility"} with Idempotency-Key: lorecast-<draft.key>
                        -> {"id", "content", ...}: a retry with the same key within the hour the instance keeps
                        keys answers with the first status, so idempotent_create is True. A reply (draft.reply_to)
                        adds "in_reply_to_id": the mention's status id, and goes out no wider than the mention:
                        the narrower of m.visibility and the mention's (public > unlisted > private > direct),
                        as Mastodon itself lets a reply be wider than what it answers
    m.find(draft)       GET /api/v1/accounts/:id/statuses?limit=40&max_id=... newest first (replies included),
                        back to a little before draft.created_at; `content` is HTML (<p>, <br>, links, mention
                        h-cards), read back into plain text; a reply must also answer the mention's status
    m.mentions(after)   GET /api/v1/notifications?types[]=mention&limit=40&since_id=<after>, newest first, then
                        the Link header's rel="next" (older pages: max_id=, and since_id dropped, so the ids say
                        when `after` is reached), at most MENTION_PAGES pages; after=None: the newest page only.
                        The cursor is the newest notification id (notifications are numbered apart from
                        statuses); each Mention is its status: id, account.acct / .id, content as text,
                        in_reply_to_id, refs {"visibility"}. The instance leaves out mentions by accounts the
                        account blocks or mutes and never notifies one of its own, so `muted` stays False
    m.engagement(ids)   GET /api/v1/statuses?id[]=1&id[]=2 (Mastodon 4.3 and later, 20 ids a request), or
                        GET /api/v1/statuses/:id one by one where the instance has no multi-get (it answers 404)
                        -> {"favourites_count", "reblogs_count", "replies_count"}; a 404 leaves the id out
    m.rate_limit        RateLimit(limit, remaining, reset_at) of the last answer's X-RateLimit-* headers
                        (Reset is an ISO 8601 timestamp; 300 requests per 5 minutes per account by default)

Errors, from Mastodon's error bodies {"error": "..."} (OAuth errors add "error_description"):
    401, 403 (an invalid or revoked token, a scope missing)  -> AuthRefused
    429                                                       -> RateLimited(reset_at = X-RateLimit-Reset)
    5xx, timeouts, dropped connections                        -> PlatformError(transient=True)
    other 4xx (422: the text too long, a bad visibility)      -> PlatformError(transient=False)

The token needs the scopes `read` (or read:accounts, read:statuses and read:notifications) and `write:statuses`;
`lorecast auth mastodon` gets one. No retries here: the run decides (poster/run.py).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import datetime, timedelta
from html.parser import HTMLParser
from typing import Any
from urllib.parse import urlsplit

import requests

from lorecast.errors import AuthRefused, PlatformError, RateLimited
from poster.credentials import one_line
from poster.platforms.base import MENTION_PAGES, Draft, Engagement, Mention, MentionPage, Platform
from poster.platforms.http import RateLimit, answer, header_number, resets
from poster.responses import count, excerpt, json_body, shape, string_field, timestamp
from textrules.forms import platform_form

VISIBILITIES = ("public", "unlisted", "private", "direct")
DEFAULT_MAX_CHARACTERS = 500  # Mastodon's own default, for an instance that does not say
DEFAULT_URL_CHARACTERS = 23
PAGE_SIZE = 40  # statuses per page of an account's statuses: Mastodon's maximum
MAX_PAGES = 25  # find() gives up (and says it cannot tell) after this many pages
CLOCK_MARGIN = timedelta(minutes=10)  # the instance's clock against ours: find() looks this much further back
ENGAGEMENT_BATCH = 20  # ids per GET /api/v1/statuses: Mastodon refuses more (DEFAULT_STATUSES_LIMIT)
NOTIFICATION_PAGE = 40  # notifications per page: Mastodon's default (at most 80)
AUTH_HINT = ("check the access token and its scopes (read write:statuses); `lorecast auth mastodon` gets a new "
             "one")


class MastodonPlatform(Platform):
    name = "mastodon"
    idempotent_create = True
    replies = True

    def __init__(self, instance_url: str, access_token: str, visibility: str = "unlisted",
                 timeout: float = 30.0) -> None:
        if visibility not in VISIBILITIES:
            raise ValueError(f"visibility must be one of {', '.join(VISIBILITIES)}")
        if timeout <= 0:
            raise ValueError("timeout must be positive")
        self.instance_url = instance_url.rstrip("/")
        self.visibility = visibility
        self.timeout = timeout
        self.rate_limit: RateLimit | None = None
        self._token = access_token
        self._session = requests.Session()
        self._session.headers["Authorization"] = f"Bearer {access_token}"
        self._account: tuple[str, str] | None = None  # (id, acct)
        self._limits: tuple[int, int] | None = None  # (max_characters, characters_reserved_per_url)
        self._multi_get = True  # until the instance answers 404 to it (before Mastodon 4.3)

    def __repr__(self) -> str:
        return f"MastodonPlatform({self.instance_url!r})"

    @property
    def account(self) -> str:
        return self._me()[1]

    @property
    def own_id(self) -> str:
        return self._me()[0]

    @property
    def host(self) -> str:
        return urlsplit(self.instance_url).netloc or self.instance_url

    def fits(self, text: str) -> str | None:
        if not text.strip():
            return "empty text"
        max_characters, url_characters = self._instance_limits()
        length = status_length(text, url_characters)
        if length > max_characters:
            return f"{length} characters, {self.host} allows {max_characters}"
        return None

    def post(self, draft: Draft) -> str:
        body = {"status": draft.text, "visibility": self.visibility}
        if draft.reply_to is not None:
            body.update(in_reply_to_id=draft.reply_to.id,
                        visibility=narrower(self.visibility, draft.reply_to.refs.get("visibility")))
        document = self._call("POST", "/api/v1/statuses", json=body,
                              headers={"Idempotency-Key": idempotency_key(draft)})
        status_id = string_field(document, "id")
        if status_id is None:
            # The instance took the request but does not say as what: the status may be out, so the run must look.
            raise self._error(f"{self.host} answered POST /api/v1/statuses without a status id", transient=True)
        return status_id

    def find(self, draft: Draft) -> str | None:
        account_id = self._me()[0]
        wanted = {platform_form(form) for form in as_rendered(draft.text)}
        oldest = draft.created_at - CLOCK_MARGIN
        params: dict[str, Any] = {"limit": PAGE_SIZE, "exclude_reblogs": "true"}
        for _ in range(MAX_PAGES):
            page = self._call_list("GET", f"/api/v1/accounts/{account_id}/statuses", params=params)
            for status in page:
                content = status.get("content")
                answers = draft.reply_to is None or string_field(status, "in_reply_to_id") == draft.reply_to.id
                if answers and isinstance(content, str) and platform_form(html_to_text(content)) in wanted:
                    return string_field(status, "id")
            created = [_created_at(status) for status in page]
            if not page or any(when is not None and when < oldest for when in created):
                return None  # reached statuses older than the draft: it is not there
            last_id = string_field(page[-1], "id")
            if last_id is None:
                break
            params = {**params, "max_id": last_id}
        raise self._error(f"looked through {MAX_PAGES * PAGE_SIZE} statuses of @{self.account} on {self.host} "
                          f"without reaching {draft.created_at.isoformat()}: cannot tell whether the post is there")

    def mentions(self, after: str | None) -> MentionPage:
        floor = None if after is None else _cursor_number(after)
        if after is not None and floor is None:
            raise self._error(f"{after!r} is not a Mastodon notification id: cannot read mentions after it")
        params: dict[str, Any] | None = {"types[]": "mention", "limit": NOTIFICATION_PAGE,
                                         **({"since_id": after} if after is not None else {})}
        path = "/api/v1/notifications"
        found: dict[int, Mention] = {}
        newest: tuple[int, str] | None = None
        complete = False
        for _ in range(MENTION_PAGES):
            page, next_url = self._notifications(path, params)
            reached = False
            for notification in page:
                number, notification_id = self._notification_id(notification)
                if floor is not None and number <= floor:
                    reached = True  # past since_id's first page: the next link does not keep since_id
                    continue
                if newest is None or number > newest[0]:
                    newest = (number, notification_id)
                mention = self._mention(notification)
                if mention is not None:
                    found[number] = mention
            if reached or after is None or not page or next_url is None:  # after=None: the newest page only
                complete = True
                break
            path, params = self._same_instance(next_url), None
        return MentionPage([found[number] for number in sorted(found)],
                           newest[1] if newest is not None else after, complete=complete)

    def engagement(self, ids: Sequence[str]) -> dict[str, Engagement]:
        counts: dict[str, Engagement] = {}
        unique = list(dict.fromkeys(ids))
        for start in range(0, len(unique), ENGAGEMENT_BATCH):
            batch = unique[start:start + ENGAGEMENT_BATCH]
            for status in self._statuses(batch):
                status_id = string_field(status, "id")
                if status_id in batch:
                    counts[status_id] = _engagement(status)
        return counts

    def close(self) -> None:
        self._session.close()

    # --- the instance's facts, fetched once

    def _me(self) -> tuple[str, str]:
        if self._account is None:
            document = self._call("GET", "/api/v1/accounts/verify_credentials")
            account_id, acct = string_field(document, "id"), string_field(document, "acct")
            if account_id is None or acct is None:
                raise self._error(f"{self.host} answered GET /api/v1/accounts/verify_credentials without the "
                                  "account's id and acct")
            self._account = (account_id, acct)
        return self._account

    def _instance_limits(self) -> tuple[int, int]:
        if self._limits is None:
            # Before Mastodon 4.0 there is only v1, which has the same configuration from 3.4 on.
            document = self._call("GET", "/api/v2/instance", missing_ok=True)
            if document is None:
                document = self._call("GET", "/api/v1/instance")
            configuration = document.get("configuration")
            statuses = configuration.get("statuses") if isinstance(configuration, dict) else None
            statuses = statuses if isinstance(statuses, dict) else {}
            self._limits = (count(statuses.get("max_characters")) or count(document.get("max_toot_chars"))
                            or DEFAULT_MAX_CHARACTERS,
                            count(statuses.get("characters_reserved_per_url")) or DEFAULT_URL_CHARACTERS)
        return self._limits

    # --- mentions

    def _notifications(self, path: str, params: dict[str, Any] | None) -> tuple[list[dict[str, Any]], str | None]:
        """One page of notifications and the URL of the next (older) one, None when there is none."""
        response, document = self._exchange("GET", path, False, params=params)
        if not isinstance(document, list):
            raise self._error(f"{self.host} answered GET /api/v1/notifications with {shape(document)}, not a JSON "
                              "list")
        next_url = response.links.get("next", {}).get("url")
        return [item for item in document if isinstance(item, dict)], next_url

    def _same_instance(self, url: str) -> str:
        """The path and query of a Link URL on this instance: the token goes nowhere else."""
        if not url.startswith(self.instance_url + "/"):
            raise self._error(f"{self.host} linked the next page of notifications to another site, "
                              f"{urlsplit(url).netloc or url[:80]!r}")
        return url[len(self.instance_url):]

    def _notification_id(self, notification: dict[str, Any]) -> tuple[int, str]:
        notification_id = string_field(notification, "id")
        number = _cursor_number(notification_id) if notification_id is not None else None
        if notification_id is None or number is None:
            raise self._error(f"{self.host} answered GET /api/v1/notifications with a notification without a "
                              "numeric id")
        return number, notification_id

    def _mention(self, notification: dict[str, Any]) -> Mention | None:
        """The Mention of a `mention` notification; None for another type or one without its status."""
        status = notification.get("status")
        if notification.get("type") != "mention" or not isinstance(status, dict):
            return None
        account = notification.get("account")
        account = account if isinstance(account, dict) else status.get("account")
        account = account if isinstance(account, dict) else {}
        status_id, author, author_id = (string_field(status, "id"), string_field(account, "acct"),
                                        string_field(account, "id"))
        created_at = _created_at(status) or _created_at(notification)
        content = status.get("content")
        if status_id is None or author is None or author_id is None or created_at is None:
            raise self._error(f"{self.host} answered GET /api/v1/notifications with a mention without its "
                              "status id, author or time")
        visibility = string_field(status, "visibility")
        return Mention(id=status_id, author=author, author_id=author_id,
                       text=html_to_text(content) if isinstance(content, str) else "", created_at=created_at,
                       parent=string_field(status, "in_reply_to_id"),
                       refs={"visibility": visibility} if visibility is not None else {})

    def _statuses(self, batch: list[str]) -> list[dict[str, Any]]:
        if self._multi_get:
            statuses = self._call_list("GET", "/api/v1/statuses", params={"id[]": batch}, missing_ok=True)
            if statuses is not None:
                return statuses
            self._multi_get = False  # an instance before 4.3: one status a request from now on
        # A status deleted, or no longer visible, answers 404: left out.
        found = (self._call("GET", f"/api/v1/statuses/{status_id}", missing_ok=True) for status_id in batch)
        return [status for status in found if status is not None]

    # --- one request

    def _call_list(self, method: str, path: str, missing_ok: bool = False, **kwargs: Any) -> list[dict[str, Any]]:
        document = self._send(method, path, missing_ok, **kwargs)
        if document is None:
            return None  # type: ignore[return-value]  # 404 with missing_ok
        if not isinstance(document, list):
            raise self._error(f"{self.host} answered {method} {path} with {shape(document)}, not a JSON list")
        return [item for item in document if isinstance(item, dict)]

    def _call(self, method: str, path: str, missing_ok: bool = False, **kwargs: Any) -> dict[str, Any]:
        document = self._send(method, path, missing_ok, **kwargs)
        if document is None:
            return None  # type: ignore[return-value]  # 404 with missing_ok
        if not isinstance(document, dict):
            raise self._error(f"{self.host} answered {method} {path} with {shape(document)}, not a JSON object",
                              transient=method == "POST")  # a status may be out: let the run look
        return document

    def _send(self, method: str, path: str, missing_ok: bool, **kwargs: Any) -> Any:
        """The JSON body of a 2xx answer; None for a 404 when `missing_ok`; the mapped PlatformError otherwise."""
        return self._exchange(method, path, missing_ok, **kwargs)[1]

    def _exchange(self, method: str, path: str, missing_ok: bool, **kwargs: Any) -> tuple[requests.Response, Any]:
        """The answer and its JSON body, as _send; `path` may carry a query (a Link URL's)."""
        where = f"{method} {path.partition('?')[0]}"
        response = answer(self._session, method, self.instance_url + path, self.timeout, f"{self.host}: {where}",
                          self._error, **kwargs)
        self._note_rate_limit(response)
        document = json_body(response)
        status = response.status_code
        if 200 <= status < 300:
            if document is None:
                raise self._error(f"{self.host} answered {where} with {excerpt(response)}, not JSON",
                                  transient=method == "POST")
            return response, document
        detail = error_reason(document) or excerpt(response)
        if status == 429:
            reset_at = reset_time(response)
            raise self._error(f"{self.host} rate limit reached on {where}{resets(reset_at)}: {detail}", RateLimited,
                              reset_at=reset_at)
        if status in (401, 403):
            raise self._error(f"{self.host} refused {where} (HTTP {status}): {detail}; {AUTH_HINT}", AuthRefused)
        if status == 404 and missing_ok:
            return response, None
        raise self._error(f"{self.host} answered HTTP {status} to {where}: {detail}", transient=status >= 500)

    def _note_rate_limit(self, response: requests.Response) -> None:
        limit = header_number(response, "X-RateLimit-Limit")
        remaining = header_number(response, "X-RateLimit-Remaining")
        reset_at = reset_time(response)
        if limit is not None and remaining is not None and reset_at is not None:
            self.rate_limit = RateLimit(int(limit), int(remaining), reset_at)

    def _error(self, message: str, kind: type[PlatformError] = PlatformError, **kwargs: Any) -> PlatformError:
        return kind(one_line(message, (self._token,)), **kwargs)


def idempotency_key(draft: Draft) -> str:
    """The Idempotency-Key of a draft: its ledger row's key, so every retry of the row sends the same one."""
    return f"lorecast-{draft.key}"


def narrower(configured: str, mention: str | None) -> str:
    """The visibility of a reply: the narrower of the configured one and the mention's; "direct" when the
    mention's is unknown, as a reply must never reach further than what it answers."""
    if mention not in VISIBILITIES:
        return "direct"
    return max(configured, mention, key=VISIBILITIES.index)


def reset_time(response: requests.Response) -> float | None:
    """X-RateLimit-Reset in unix seconds: Mastodon sends an ISO 8601 timestamp (some servers a number)."""
    number = header_number(response, "X-RateLimit-Reset")
    if number is not None:
        return number
    when = timestamp(response.headers.get("X-RateLimit-Reset"))
    return when.timestamp() if when is not None else None


# --- how Mastodon counts a status -------------------------------------------------------------------------------

# A link Mastodon gives the URL allowance to: with its scheme (Mastodon extracts links with protocol only),
# trailing punctuation left out as in "see https://example.org."
_URL = re.compile(r"(?<![\w@/])https?://[^\s<>\"]+?(?=[.,;:!?'\")\]]*(?:\s|$))", re.IGNORECASE)
# A mention of an account on another instance counts only as "@username".
_REMOTE_MENTION = re.compile(r"(?<![\w/])@(\w+(?:[.-]+\w+)*)@[\w-]+(?:\.[\w-]+)+", re.ASCII)
_REGIONAL_INDICATOR = re.compile("[\U0001f1e6-\U0001f1ff]")
_ZWJ = "\u200d"


def status_length(text: str, url_characters: int = DEFAULT_URL_CHARACTERS) -> int:
    """The length Mastodon checks against max_characters: grapheme clusters (what a reader sees as one
    character), each link counted as `url_characters`, a remote mention as its local part.

    Grapheme clusters are approximated with the rules that matter in posts: combining marks, variation selectors,
    skin tones, zero-width-joined emoji and flag pairs join the character before them. Where the approximation
    errs it counts more, never fewer, than Mastodon (it joins nothing that Unicode's rules keep apart)."""
    countable = _URL.sub("x" * url_characters, text.replace("\r\n", "\n"))
    countable = _REMOTE_MENTION.sub(lambda match: "@" + match.group(1), countable)
    length, previous, regional_run = 0, "", 0
    for char in countable:
        regional = bool(_REGIONAL_INDICATOR.match(char))
        joins = length > 0 and (
            _extends(char)
            or (previous == _ZWJ and _pictographic(char))
            or (regional and regional_run % 2 == 1)
        )
        regional_run = regional_run + 1 if regional else 0
        if not joins:
            length += 1
        previous = char
    return length


def _extends(char: str) -> bool:
    """Unicode's Extend and ZWJ classes, as far as posts need them: marks, joiners, variation selectors,
    emoji skin tones and tag characters."""
    return (unicodedata.category(char) in ("Mn", "Me") or char in (_ZWJ, "\u200c")
            or "\U0001f3fb" <= char <= "\U0001f3ff" or "\U000e0020" <= char <= "\U000e007f")


def _pictographic(char: str) -> bool:
    return char >= "\U0001f000" or ("\u2600" <= char <= "\u27bf") or ("\u2b00" <= char <= "\u2bff")


def as_rendered(text: str) -> set[str]:
    """The forms Mastodon may give the text back in: line breaks kept, three or more in a row one blank line (a
    paragraph break); a remote mention @user@host shown as @user when the instance resolved the account, as it is
    when it did not."""
    text = re.sub(r"\n{3,}", "\n\n", text.replace("\r\n", "\n").replace("\r", "\n"))
    return {text, _REMOTE_MENTION.sub(lambda match: "@" + match.group(1), text)}


# --- reading a status's content back -----------------------------------------------------------------------------


class _PlainText(HTMLParser):
    """Mastodon's HTML of a status (paragraphs, <br>, links with their text split over spans) as the plain text
    it was made from; entities decoded."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._paragraphs = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br":
            self.parts.append("\n")
        elif tag == "p":
            if self._paragraphs:
                self.parts.append("\n\n")
            self._paragraphs += 1

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.handle_starttag(tag, attrs)

    def handle_data(self, data: str) -> None:
        self.parts.append(data)


def html_to_text(content: str) -> str:
    """A status's `content` back into plain text: <p> paragraphs apart by a blank line, <br> a line break, a
    link its full text (the hidden "https://" and the cut-off tail included), entities decoded."""
    parser = _PlainText()
    parser.feed(content)
    parser.close()
    return "".join(parser.parts)


# --- fields of an answer ------------------------------------------------------------------------------------------


def error_reason(document: Any) -> str | None:
    """The reason in a Mastodon error body: {"error": "..."}, with Doorkeeper's "error_description" when there
    is one (the OAuth endpoints)."""
    if not isinstance(document, dict):
        return None
    parts = [part for part in (document.get("error"), document.get("error_description"))
             if isinstance(part, str) and part]
    return ": ".join(parts) or None


def _engagement(status: dict[str, Any]) -> Engagement:
    return Engagement(likes=count(status.get("favourites_count")) or 0,
                      reposts=count(status.get("reblogs_count")) or 0,
                      replies=count(status.get("replies_count")) or 0)


def _cursor_number(notification_id: str) -> int | None:
    """A notification id as the number Mastodon orders by (ids are decimal strings); None when it is none."""
    return int(notification_id) if notification_id.isascii() and notification_id.isdigit() else None


def _created_at(status: dict[str, Any]) -> datetime | None:
    return timestamp(status.get("created_at"))
