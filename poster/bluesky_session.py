"""The Bluesky session of one account, kept in a record next to the ledger so that runs do not log in each time.

    path = session_path("ledger/posts.db", "bot.bsky.social")   # ledger/bluesky-session-bot.bsky.social.json
    session = BlueskySession(server, "bot.bsky.social", app_password, path)
    session.access_jwt()     the stored access JWT; refreshed first when its exp has passed; a login when none
    session.renew(stale)     after the PDS refused `stale` (400 ExpiredToken): refresh, or log in once
    session.login()          com.atproto.server.createSession, stored (what `lorecast auth bluesky` does)
    session.did              the account's DID, from the session

The PDS gives two JWTs at createSession (identifier + app password): an access JWT (about 2 hours) for every call
and a refresh JWT (about 90 days) for com.atproto.server.refreshSession, which answers a new pair. Logins are
limited (about 30 per 5 minutes and 300 a day per account), so a run reuses the stored pair, refreshes it when the
access JWT has expired, and logs in only when the refresh JWT no longer works: at most once per run.

The record ({"service", "handle", "did", "accessJwt", "refreshJwt"}) holds secrets: it is written atomically
(a temporary file, then os.replace) with mode 0600, and is not part of the ledger. Nothing here prints a token.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from lorecast.errors import AuthRefused, LorecastError, PlatformError

# Refresh a little before the access JWT's exp: a call that leaves at exp - 1 s would arrive expired.
EXPIRY_MARGIN_S = 60.0
_UNSAFE_NAME = re.compile(r"[^A-Za-z0-9._-]")


class SessionServer(Protocol):
    """The two PDS calls a session needs (poster/platforms/bluesky.py). Both answer the PDS's session object
    {"did", "handle", "accessJwt", "refreshJwt", ...}; a refused credential raises AuthRefused, anything else
    the mapped PlatformError."""

    service_url: str

    def create_session(self, identifier: str, password: str) -> dict[str, Any]: ...

    def refresh_session(self, refresh_jwt: str) -> dict[str, Any]: ...


@dataclass(frozen=True)
class SessionRecord:
    service: str
    handle: str
    did: str
    access_jwt: str = field(repr=False)
    refresh_jwt: str = field(repr=False)

    def to_json(self) -> dict[str, str]:
        return {"service": self.service, "handle": self.handle, "did": self.did,
                "accessJwt": self.access_jwt, "refreshJwt": self.refresh_jwt}


def session_path(ledger_path: str | os.PathLike[str], handle: str) -> Path:
    """Where the session record of `handle` lives: beside the ledger file, one file per account."""
    name = _UNSAFE_NAME.sub("_", handle.lstrip("@").lower())
    return Path(ledger_path).parent / f"bluesky-session-{name}.json"


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, read without verifying it (only the PDS can, and it will); {} when it is no JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return {}
    return payload if isinstance(payload, dict) else {}


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def expired(token: str, now: float | None = None) -> bool:
    """Whether the JWT's exp has passed, or will within the margin (a tenth of its life at most, so that a
    short-lived token is not refreshed as soon as it is issued); False when it has no readable exp."""
    claims = jwt_claims(token)
    exp, iat = claims.get("exp"), claims.get("iat")
    if not _number(exp):
        return False
    margin = min(EXPIRY_MARGIN_S, (exp - iat) / 10) if _number(iat) and iat < exp else EXPIRY_MARGIN_S
    return (time.time() if now is None else now) >= exp - margin


class BlueskySession:
    """A valid access JWT for one account, with as few logins as the PDS allows."""

    def __init__(self, server: SessionServer, handle: str, app_password: str, path: Path) -> None:
        self.server = server
        self.handle = handle.lstrip("@")
        self.path = Path(path)
        self._app_password = app_password
        self._record: SessionRecord | None = None
        self._loaded = False
        self._logged_in = False  # this object's one login: a second refusal is the password's fault

    def __repr__(self) -> str:
        return f"BlueskySession({self.handle!r}, {str(self.path)!r})"

    @property
    def did(self) -> str:
        return self._current().did

    def secrets(self) -> tuple[str, ...]:
        """The app password and the tokens in use, to scrub out of any text that leaves the process."""
        held = [self._app_password]
        if self._record is not None:
            held += [self._record.access_jwt, self._record.refresh_jwt]
        return tuple(held)

    def access_jwt(self) -> str:
        record = self._current()
        if expired(record.access_jwt):
            record = self._refresh(record)
        return record.access_jwt

    def renew(self, stale: str) -> str:
        """A new access JWT after the PDS refused `stale`; another caller's renewal is reused."""
        record = self._current()
        if record.access_jwt != stale:
            return record.access_jwt
        return self._refresh(record).access_jwt

    def login(self) -> SessionRecord:
        """One createSession with the app password, stored. Refused twice in one run: AuthRefused, no third try."""
        if self._logged_in:
            raise AuthRefused(f"Bluesky refused the new session of {self.handle} right after signing in; check "
                              "that the app password is still listed (Settings > Privacy and security > App "
                              "passwords) and sign in again with `lorecast auth bluesky`")
        document = self.server.create_session(self.handle, self._app_password)
        self._logged_in = True
        return self._store(document, previous=None)

    # --- the record

    def _current(self) -> SessionRecord:
        if not self._loaded:
            self._record, self._loaded = self._read(), True
        return self._record if self._record is not None else self.login()

    def _refresh(self, record: SessionRecord) -> SessionRecord:
        if expired(record.refresh_jwt):
            return self.login()
        try:
            document = self.server.refresh_session(record.refresh_jwt)
        except AuthRefused:  # revoked, expired early, or from another PDS: the app password makes a new one
            return self.login()
        return self._store(document, previous=record)

    def _read(self) -> SessionRecord | None:
        """The stored record when it is this account's on this PDS; None otherwise (a login then replaces it)."""
        try:
            document = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        if not isinstance(document, dict):
            return None
        values = [document.get(key) for key in ("service", "handle", "did", "accessJwt", "refreshJwt")]
        if not all(isinstance(value, str) and value for value in values):
            return None
        record = SessionRecord(*values)
        if record.service != self.server.service_url or record.handle.lower() != self.handle.lower():
            return None
        return record

    def _store(self, document: dict[str, Any], previous: SessionRecord | None) -> SessionRecord:
        did = document.get("did") if isinstance(document.get("did"), str) else previous and previous.did
        values = (did, document.get("accessJwt"), document.get("refreshJwt"))
        if not all(isinstance(value, str) and value for value in values):
            # The keys' names only: the values may be tokens.
            raise PlatformError(f"Bluesky answered a session without did, accessJwt and refreshJwt "
                                f"(keys: {', '.join(sorted(document)) or 'none'})")
        self._record = SessionRecord(self.server.service_url, self.handle, *values)
        try:
            _write_private(self.path, json.dumps(self._record.to_json(), indent=2) + "\n")
        except OSError as error:  # the message names the file and the reason, never the record
            raise LorecastError(f"{self.path}: cannot write the Bluesky session record "
                                f"({error.strerror or type(error).__name__}); it lives next to the ledger, whose "
                                "directory must be writable") from None
        return self._record


def _write_private(path: Path, text: str) -> None:
    """Replace `path` with `text` in one step (a reader sees the old file or the new one), readable by us only."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(handle, 0o600)
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
