"""The poster's ledger (contract 6): one SQLite file that remembers every post attempt and its engagement.

    with Ledger("ledger/posts.db") as ledger, ledger.lock("twitter", "@bot", holder=holder_id(), stale_after_s=3600):
        if not ledger.has_text("twitter", "@bot", text):
            post_id = ledger.begin("twitter", "@bot", text, score=0.91, ranked_by="selector", rng_seed=7)
            ledger.mark_posted(post_id, remote_id)   # or mark_failed(post_id, reason), mark_unknown(post_id, reason)

Tables (schema version in PRAGMA user_version, the file marked as ours by PRAGMA application_id):
    posts      id, platform, account, text, text_key, state 'pending' | 'posted' | 'failed' | 'unknown', remote_id,
               score, ranked_by, rng_seed, reason (why it failed, or why its outcome is unknown), created_at,
               updated_at, posted_at, reply_to (the mention answered: poster/ledger_mentions.py), exploratory
    metrics    post_id, fetched_at, likes, reposts, replies, quotes, impressions (NULL when unknown), total: one
               snapshot per feedback run, none replaced (poster/ledger_engagement.py reads them at a fixed age)
    run_locks  platform, account, holder ("host:pid:token"), since: at most one run per account at a time
    calls      platform, account, kind, units, cost_usd, at: every billed platform call (poster/costs.py)
    generations platform, account, kind 'post' | 'reply', at, candidates, texts, rejected (JSON, by filter),
               ranked_by: every generation a run asked TorchServe for (poster/ledger_engagement.py)
Timestamps are UTC ISO 8601 text with microseconds ("2025-01-31T12:00:00.000000+00:00"), so text order is time
order.

The guarantees live in the database, not in the callers:
- A post is `pending` before it is sent and `posted` (with the remote id) after; a row still pending when a run
  starts was left by a crashed run, which must resolve it (the platform's lookup) instead of posting again.
- `unknown`: a run could not tell whether the post went out (the answer timed out or the lookup was refused).
  Its text stays claimed; later runs look again, and `lorecast ledger settle` lets a person decide.
- The same text is never posted twice to the same account: a partial UNIQUE index on (platform, account,
  text_key) over the pending, posted and unknown rows. `text_key` is the sha256 of the text normalized (NFKC, casefold,
  whitespace runs collapsed, stripped), so case and spacing cannot slip a repeat through. A failed row holds no
  claim on its text: it may be tried again.
- Two processes may share the file: WAL mode, a busy timeout, and every read-modify-write in BEGIN IMMEDIATE.
- Every SQLite failure (a read-only file or volume, a corrupt file, a full disk) is a LedgerError: one line that
  names the file and what to do.

The ledger never holds a secret: nothing in its API takes one.
"""

from __future__ import annotations

import hashlib
import logging
import os
import socket
import sqlite3
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lorecast.errors import DuplicateText, LedgerBusy, LedgerError
from poster.ledger_engagement import EngagementLedger, MetricsRow
from poster.ledger_mentions import MentionLedger
from poster.ledger_sql import filters as _filters
from poster.ledger_sql import from_iso as _time
from poster.ledger_sql import iso as _iso
from poster.process_alive import pid_alive
from textrules.forms import ledger_form

log = logging.getLogger(__name__)

APPLICATION_ID = int.from_bytes(b"LcLg", "big")  # marks the SQLite file as a lorecast ledger
BUSY_TIMEOUT_S = 30.0  # how long a write waits for another process's write to finish
STATES = ("pending", "posted", "failed", "unknown")
LIVE_STATES = ("pending", "posted", "unknown")  # the states that claim their text

# MIGRATIONS[n] takes a ledger from schema version n to n + 1, one statement at a time (sqlite3's executescript
# would commit on its own, outside the migration's transaction).
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        """CREATE TABLE posts (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            account TEXT NOT NULL,
            text TEXT NOT NULL,
            text_key TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'posted', 'failed')),
            remote_id TEXT,
            score REAL,
            ranked_by TEXT,
            rng_seed INTEGER,
            reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            posted_at TEXT,
            CHECK ((state = 'posted') = (remote_id IS NOT NULL AND posted_at IS NOT NULL))
        )""",
        """CREATE UNIQUE INDEX posts_live_text ON posts (platform, account, text_key)
            WHERE state IN ('pending', 'posted')""",
        "CREATE INDEX posts_by_account ON posts (platform, account, state)",
        """CREATE TABLE metrics (
            post_id INTEGER NOT NULL REFERENCES posts (id),
            fetched_at TEXT NOT NULL,
            likes INTEGER NOT NULL,
            reposts INTEGER NOT NULL,
            replies INTEGER NOT NULL,
            quotes INTEGER NOT NULL,
            impressions INTEGER,
            total INTEGER NOT NULL
        )""",
        "CREATE INDEX metrics_by_post ON metrics (post_id, fetched_at)",
        """CREATE TABLE run_locks (
            platform TEXT NOT NULL,
            account TEXT NOT NULL,
            holder TEXT NOT NULL,
            since TEXT NOT NULL,
            PRIMARY KEY (platform, account)
        )""",
    ),
    (  # 2: the `unknown` state (SQLite cannot change a CHECK: the table is rebuilt) and the billed calls
        """CREATE TABLE posts_v2 (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            account TEXT NOT NULL,
            text TEXT NOT NULL,
            text_key TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('pending', 'posted', 'failed', 'unknown')),
            remote_id TEXT,
            score REAL,
            ranked_by TEXT,
            rng_seed INTEGER,
            reason TEXT,
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            posted_at TEXT,
            CHECK ((state = 'posted') = (remote_id IS NOT NULL AND posted_at IS NOT NULL))
        )""",
        "INSERT INTO posts_v2 SELECT * FROM posts",
        "DROP TABLE posts",
        "ALTER TABLE posts_v2 RENAME TO posts",
        """CREATE UNIQUE INDEX posts_live_text ON posts (platform, account, text_key)
            WHERE state IN ('pending', 'posted', 'unknown')""",
        "CREATE INDEX posts_by_account ON posts (platform, account, state)",
        """CREATE TABLE calls (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            account TEXT NOT NULL,
            kind TEXT NOT NULL,
            units INTEGER NOT NULL CHECK (units >= 0),
            cost_usd REAL NOT NULL CHECK (cost_usd >= 0),
            at TEXT NOT NULL
        )""",
        "CREATE INDEX calls_by_month ON calls (platform, at)",
    ),
    (  # 3: replies: the mentions read, the cursors they were read up to, and each reply's link to its mention
        """CREATE TABLE mentions (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            account TEXT NOT NULL,
            mention_id TEXT NOT NULL,
            author TEXT NOT NULL,
            author_id TEXT NOT NULL,
            text TEXT NOT NULL,
            thread TEXT NOT NULL,
            parent TEXT,
            refs TEXT NOT NULL,
            muted INTEGER NOT NULL,
            mentioned_at TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('new', 'answered', 'skipped', 'failed')),
            reason TEXT,
            seen_at TEXT NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        "CREATE UNIQUE INDEX mentions_once ON mentions (platform, account, mention_id)",
        "CREATE INDEX mentions_by_state ON mentions (platform, account, state, mentioned_at)",
        "CREATE INDEX mentions_by_thread ON mentions (platform, account, thread)",
        """CREATE TABLE cursors (
            platform TEXT NOT NULL,
            account TEXT NOT NULL,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (platform, account, kind)
        )""",
        "ALTER TABLE posts ADD COLUMN reply_to INTEGER REFERENCES mentions (id)",
        # Two live replies to one mention are impossible, whatever the runs do.
        """CREATE UNIQUE INDEX posts_one_reply ON posts (reply_to)
            WHERE reply_to IS NOT NULL AND state IN ('pending', 'posted', 'unknown')""",
        "CREATE INDEX posts_by_remote_id ON posts (platform, account, remote_id)",
    ),
    (  # 4: how posts were chosen: explored or not, and what every generation of a run returned and rejected
        "ALTER TABLE posts ADD COLUMN exploratory INTEGER",
        """CREATE TABLE generations (
            id INTEGER PRIMARY KEY,
            platform TEXT NOT NULL,
            account TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('post', 'reply')),
            at TEXT NOT NULL,
            candidates INTEGER NOT NULL,
            texts INTEGER NOT NULL,
            rejected TEXT NOT NULL,
            ranked_by TEXT NOT NULL
        )""",
        "CREATE INDEX generations_by_time ON generations (platform, account, at)",
    ),
)
SCHEMA_VERSION = len(MIGRATIONS)


@dataclass(frozen=True)
class PostRow:
    id: int
    platform: str
    account: str
    text: str
    text_key: str
    state: str  # 'pending' | 'posted' | 'failed' | 'unknown'
    remote_id: str | None
    score: float | None
    ranked_by: str | None
    rng_seed: int | None
    reason: str | None  # why it failed, or why its outcome is unknown
    created_at: datetime
    updated_at: datetime
    posted_at: datetime | None
    reply_to: int | None = None  # the mention (its ledger row id) this post answers; None for a post of its own
    exploratory: bool | None = None  # picked at random from lower-ranked candidates; None: not recorded (schema < 4)


def text_key(text: str) -> str:
    return hashlib.sha256(ledger_form(text).encode("utf-8")).hexdigest()


def holder_id() -> str:
    """A lock holder name for this process, "host:pid:token": the pid lets a later run on this host see it died."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:12]}"


class Ledger(MentionLedger, EngagementLedger):
    """One connection to one ledger file; a context manager that closes it. Every write is its own transaction.

    `create=False` opens only an existing ledger (for reading it: `lorecast ledger list`); the default creates the
    file, its parent directory and the schema when they are missing. Either way an older schema is migrated.
    """

    def __init__(self, path: str | os.PathLike[str], *, create: bool = True) -> None:
        self.path = Path(path)
        if not create and not self.path.is_file():
            raise LedgerError(f"{self.path}: no ledger there (a `lorecast post` run creates it)")
        if create:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise LedgerError(f"{self.path}: cannot create its directory: {error.strerror or error}") from None
        try:
            # isolation_level=None: no implicit transactions; _write() opens each one explicitly.
            self._db = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None)
        except sqlite3.Error as error:
            raise LedgerError(f"{self.path}: cannot open the ledger: {error}") from None
        try:
            with self._sqlite_errors():
                self._prepare(create)
        except BaseException:
            self._db.close()
            raise

    def __repr__(self) -> str:
        return f"Ledger({str(self.path)!r})"

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._db.close()

    def _stamp(self) -> str:
        return _iso(_now())

    # -- opening -------------------------------------------------------------------------------------------------

    def _prepare(self, create: bool) -> None:
        version, application_id, tables = self._header()
        if version == 0 and tables:
            raise LedgerError(f"{self.path}: not a lorecast ledger (a SQLite file with other tables)")
        if version == 0 and not create:
            raise LedgerError(f"{self.path}: not a lorecast ledger (an empty SQLite file)")
        if version > 0 and application_id != APPLICATION_ID:
            raise LedgerError(f"{self.path}: not a lorecast ledger (a SQLite file of another application)")
        if version > SCHEMA_VERSION:
            raise LedgerError(
                f"{self.path}: the ledger has schema version {version}, written by a newer lorecast; "
                f"this one knows versions up to {SCHEMA_VERSION}"
            )
        self._use_wal()
        if version < SCHEMA_VERSION:
            self._migrate()
        # After migrating: a migration rebuilds `posts`, which the foreign key of `metrics` would refuse.
        self._db.execute("PRAGMA foreign_keys = ON")

    def _header(self) -> tuple[int, int, int]:
        """Schema version, application id and number of schema objects, read in one transaction: another run
        may be creating the schema right now."""
        self._db.execute("BEGIN")
        try:
            return self._read_header()
        finally:
            self._db.execute("COMMIT")

    def _read_header(self) -> tuple[int, int, int]:
        return (self._db.execute("PRAGMA user_version").fetchone()[0],
                self._db.execute("PRAGMA application_id").fetchone()[0],
                self._db.execute("SELECT count(*) FROM sqlite_master").fetchone()[0])

    def _use_wal(self) -> None:
        # Switching a new file to WAL needs it to itself. When two runs switch at the same moment, SQLite answers
        # one of them "locked" at once, without the busy timeout (waiting could deadlock), so that one tries again.
        deadline = time.monotonic() + BUSY_TIMEOUT_S
        while True:
            try:
                mode = self._db.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as error:
                if "locked" not in str(error) or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if mode != "wal":
            raise LedgerError(f"{self.path}: SQLite cannot keep this ledger in WAL mode (it stays in {mode} mode)")

    def _migrate(self) -> None:
        with self._write():
            version, _, _ = self._read_header()  # again, inside the lock: another run may have migrated meanwhile
            for statements in MIGRATIONS[version:]:
                for statement in statements:
                    self._db.execute(statement)
            self._db.execute(f"PRAGMA application_id = {APPLICATION_ID}")
            self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    @contextmanager
    def _write(self) -> Iterator[None]:
        """One transaction that holds the write lock from its start, so what it reads stays true until it commits."""
        with self._sqlite_errors():
            try:
                self._db.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                if "locked" in str(error) or "busy" in str(error):
                    raise LedgerError(
                        f"{self.path}: another process kept the ledger locked for over {BUSY_TIMEOUT_S:g} s"
                    ) from None
                raise
            try:
                yield
                self._db.execute("COMMIT")
            except BaseException:
                if self._db.in_transaction:
                    self._db.execute("ROLLBACK")
                raise

    def _query(self, sql: str, parameters: tuple[Any, ...] | list[Any] = ()) -> list[tuple[Any, ...]]:
        """The rows of one read."""
        with self._sqlite_errors():
            return self._db.execute(sql, parameters).fetchall()

    @contextmanager
    def _sqlite_errors(self) -> Iterator[None]:
        """SQLite's failures as one LedgerError line that names the file and what to do."""
        try:
            yield
        except sqlite3.DatabaseError as error:
            raise LedgerError(f"{self.path}: {_advice(error)}") from None

    # -- the run lock --------------------------------------------------------------------------------------------

    @contextmanager
    def lock(self, platform: str, account: str, *, holder: str, stale_after_s: float) -> Iterator[None]:
        """Hold the one run lock of this platform account for the `with` block.

        A lock older than `stale_after_s`, or held by a process of this host that is gone, is taken over (and
        logged); a live one raises LedgerBusy. A run that lasts longer than `stale_after_s` can lose its lock
        to the next run, so pick it above the longest run (the job's deadline).
        """
        with self._write():
            row = self._db.execute(
                "SELECT holder, since FROM run_locks WHERE platform = ? AND account = ?", (platform, account)
            ).fetchone()
            now = _now()
            if row is not None:
                other, since = row[0], _time(row[1])
                age = (now - since).total_seconds()
                if age <= stale_after_s and not _gone(other):
                    raise LedgerBusy(
                        f"{platform} account {account!r} is busy: run {other} has held its lock since "
                        f"{since.isoformat(timespec='seconds')} (taken over after {stale_after_s:g} s, or "
                        f"as soon as that process is gone)"
                    )
                log.warning("%s account %r: taking over the lock of run %s (since %s, %s)", platform, account,
                            other, row[1], "stale" if age > stale_after_s else "its process is gone")
            self._db.execute(
                "INSERT OR REPLACE INTO run_locks (platform, account, holder, since) VALUES (?, ?, ?, ?)",
                (platform, account, holder, _iso(now)),
            )
        try:
            yield
        finally:
            with self._write():
                # Only our own row: after a takeover the lock belongs to the run that took it.
                self._db.execute(
                    "DELETE FROM run_locks WHERE platform = ? AND account = ? AND holder = ?",
                    (platform, account, holder),
                )

    def lock_holder(self, platform: str, account: str) -> str | None:
        """The run holding the account's lock, if any; None when the holder was a process of this host that is
        gone (a run of another host counts as holding it: only the lock's age can tell there)."""
        rows = self._query("SELECT holder FROM run_locks WHERE platform = ? AND account = ?", (platform, account))
        return rows[0][0] if rows and not _gone(rows[0][0]) else None

    # -- posts ---------------------------------------------------------------------------------------------------

    def has_text(self, platform: str, account: str, text: str) -> bool:
        """Whether this account has the text (normalized) pending, posted or unknown."""
        rows = self._query(
            "SELECT 1 FROM posts WHERE platform = ? AND account = ? AND text_key = ? "
            "AND state IN ('pending', 'posted', 'unknown')",
            (platform, account, text_key(text)),
        )
        return bool(rows)

    def begin(self, platform: str, account: str, text: str, *, score: float | None, ranked_by: str | None,
              rng_seed: int | None, reply_to: int | None = None, exploratory: bool | None = None) -> int:
        """Record `text` as pending before it is sent (a reply to the mention row `reply_to`, if given); its row id.
        DuplicateText when the account has the text already, or the mention has a reply pending, posted or
        unknown."""
        if not ledger_form(text):
            raise ValueError("a post's text must not be blank")
        key = text_key(text)
        now = _iso(_now())
        with self._write():
            try:
                cursor = self._db.execute(
                    "INSERT INTO posts (platform, account, text, text_key, state, score, ranked_by, rng_seed, "
                    "created_at, updated_at, reply_to, exploratory) "
                    "VALUES (?, ?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?)",
                    (platform, account, text, key, score, ranked_by, rng_seed, now, now, reply_to,
                     None if exploratory is None else int(exploratory)),
                )
            except sqlite3.IntegrityError:
                raise self._duplicate(platform, account, key, reply_to) from None
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    def _duplicate(self, platform: str, account: str, key: str, reply_to: int | None) -> DuplicateText:
        live = "state IN ('pending', 'posted', 'unknown')"
        row = self._db.execute(f"SELECT id, state FROM posts WHERE platform = ? AND account = ? AND text_key = ? "
                               f"AND {live}", (platform, account, key)).fetchone()
        if row is not None:
            return DuplicateText(f"{platform} account {account!r} already has this text ({row[1]} post {row[0]})")
        row = self._db.execute(f"SELECT id, state FROM posts WHERE reply_to = ? AND {live}", (reply_to,)).fetchone()
        return DuplicateText(f"mention {reply_to} already has a reply ({row[1]} post {row[0]})")

    def mark_posted(self, post_id: int, remote_id: str) -> None:
        """The pending (or unknown) post went out as `remote_id`; a reply's mention is answered by it."""
        if not remote_id:
            raise ValueError("a posted post needs its remote id")
        now = _iso(_now())
        self._finish(post_id, "UPDATE posts SET state = 'posted', remote_id = ?, posted_at = ?, updated_at = ?, "
                              "reason = NULL WHERE id = ? AND state IN ('pending', 'unknown')",
                     (remote_id, now, now, post_id),
                     then=("UPDATE mentions SET state = 'answered', reason = NULL, updated_at = ? "
                           "WHERE id = (SELECT reply_to FROM posts WHERE id = ?)", (now, post_id)))

    def mark_failed(self, post_id: int, reason: str) -> None:
        """The pending (or unknown) post did not go out, for `reason` (one line, no secrets); its text is free for a
        later try."""
        self._finish(post_id, "UPDATE posts SET state = 'failed', reason = ?, updated_at = ? "
                              "WHERE id = ? AND state IN ('pending', 'unknown')", (reason, _iso(_now()), post_id))

    def mark_unknown(self, post_id: int, reason: str) -> None:
        """Nobody can tell yet whether the post went out, for `reason`: its text stays claimed, later runs look
        again, and `lorecast ledger settle` lets a person decide."""
        self._finish(post_id, "UPDATE posts SET state = 'unknown', reason = ?, updated_at = ? "
                              "WHERE id = ? AND state IN ('pending', 'unknown')", (reason, _iso(_now()), post_id))

    def _finish(self, post_id: int, update: str, parameters: tuple[Any, ...],
                then: tuple[str, tuple[Any, ...]] | None = None) -> None:
        """`update` the post (and run `then` in the same transaction); LedgerError when the post is not there or
        not pending or unknown."""
        with self._write():
            if self._db.execute(update, parameters).rowcount == 1:
                if then is not None:
                    self._db.execute(*then)
                return
            row = self._db.execute("SELECT state FROM posts WHERE id = ?", (post_id,)).fetchone()
        if row is None:
            raise LedgerError(f"{self.path}: no post {post_id}")
        raise LedgerError(f"{self.path}: post {post_id} is {row[0]}, not pending or unknown")

    def unresolved(self, platform: str, account: str) -> list[PostRow]:
        """The account's posts whose outcome no run recorded: pending (left by a crashed run, unless a run is under
        way) or unknown, oldest first."""
        return self._posts("WHERE platform = ? AND account = ? AND state IN ('pending', 'unknown') ORDER BY id",
                           (platform, account))

    def posts(self, *, platform: str | None = None, account: str | None = None, state: str | None = None,
              limit: int | None = None) -> list[PostRow]:
        """Posts matching every filter given, newest first; at most `limit` of them."""
        if state is not None and state not in STATES:
            raise ValueError(f"state must be one of {', '.join(STATES)}, got {state!r}")
        conditions, parameters = _filters(platform=platform, account=account, state=state)
        clause = f"{conditions} ORDER BY id DESC"
        if limit is not None:
            clause += " LIMIT ?"
            parameters.append(limit)
        return self._posts(clause, tuple(parameters))

    def posted_since(self, platform: str, account: str, since: datetime) -> list[PostRow]:
        """The account's posted posts from `since` (an aware datetime) on, oldest first: what feedback asks about."""
        return self._posts("WHERE platform = ? AND account = ? AND state = 'posted' AND posted_at >= ? "
                           "ORDER BY posted_at, id", (platform, account, _iso(since)))

    def post(self, post_id: int) -> PostRow:
        rows = self._posts("WHERE id = ?", (post_id,))
        if not rows:
            raise LedgerError(f"{self.path}: no post {post_id}")
        return rows[0]

    def _posts(self, clause: str, parameters: tuple[Any, ...]) -> list[PostRow]:
        rows = self._query(f"SELECT {_POST_COLUMNS} FROM posts {clause}", parameters)
        return [_post_row(row) for row in rows]

    # -- billed calls --------------------------------------------------------------------------------------------

    def record_call(self, platform: str, account: str, kind: str, units: int, cost_usd: float,
                    at: datetime | None = None) -> None:
        """One billed platform call (`units` of `kind`, e.g. 1 "post" or 37 "read"), priced when it was made."""
        with self._write():
            self._db.execute("INSERT INTO calls (platform, account, kind, units, cost_usd, at) "
                             "VALUES (?, ?, ?, ?, ?, ?)",
                             (platform, account, kind, units, cost_usd, _iso(at or _now())))

    def spent(self, platform: str, since: datetime) -> float:
        """US dollars of the platform's billed calls from `since` on, every account of this ledger together."""
        rows = self._query("SELECT coalesce(sum(cost_usd), 0) FROM calls WHERE platform = ? AND at >= ?",
                           (platform, _iso(since)))
        return float(rows[0][0])

    def costs(self, platform: str | None = None) -> list[tuple[str, str, str, str, int, int, float]]:
        """(platform, account, month "YYYY-MM", kind, calls, units, US dollars) of every billed call, by month."""
        conditions, parameters = _filters(platform=platform)
        return [tuple(row) for row in self._query(
            f"SELECT platform, account, substr(at, 1, 7) AS month, kind, count(*), sum(units), sum(cost_usd) "
            f"FROM calls {conditions} GROUP BY platform, account, month, kind ORDER BY month, platform, account, kind",
            parameters,
        )]


def _advice(error: sqlite3.DatabaseError) -> str:
    """What SQLite's error means for the ledger, and what to do about it."""
    message = str(error)
    if "readonly" in message or "read-only" in message:
        return (f"the ledger cannot be written ({message}): give the poster's user write access to the file and "
                "its directory, or mount the volume read-write")
    # A new, empty ledger would forget what was posted (and post it again): the advice keeps the old one.
    recover = ("move it aside and put back your last copy of it, or save what SQLite can still read with "
               "`sqlite3 OLD.db .recover > saved.sql`")
    if "malformed" in message:
        return f"the ledger file is damaged ({message}): {recover}"
    if "not a database" in message:
        return (f"not a readable lorecast ledger ({message}): is this the ledger's path? If the ledger is damaged, "
                f"{recover}")
    if "disk is full" in message or "disk I/O" in message:
        return f"the ledger's disk failed ({message}): free space on its volume or check the disk, and run again"
    if "unable to open" in message:
        return f"cannot open the ledger ({message}): check that its directory exists and is writable"
    return f"the ledger failed: {message}"


_POST_COLUMNS = ("id, platform, account, text, text_key, state, remote_id, score, ranked_by, rng_seed, reason, "
                 "created_at, updated_at, posted_at, reply_to, exploratory")


def _post_row(row: tuple[Any, ...]) -> PostRow:
    *fields, created_at, updated_at, posted_at, reply_to, exploratory = row
    return PostRow(*fields, created_at=_time(created_at), updated_at=_time(updated_at),
                   posted_at=_time(posted_at) if posted_at is not None else None, reply_to=reply_to,
                   exploratory=None if exploratory is None else bool(exploratory))


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _gone(holder: str) -> bool:
    """Whether the holder ("host:pid:token") was a process of this host that no longer exists."""
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False  # another host's process: only the age of its lock can tell
    return not pid_alive(int(pid_text))


__all__ = ["Ledger", "MetricsRow", "PostRow", "holder_id", "text_key"]
