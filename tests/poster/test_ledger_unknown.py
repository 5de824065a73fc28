"""The ledger's `unknown` state, its settling by hand, the billed calls, the migration from schema 1, SQLite
failures as one line, and the lock's liveness check on Windows (poster/ledger.py, poster/process_alive.py,
poster/commands/ledger.py)."""

from __future__ import annotations

import socket
import sqlite3
from datetime import datetime, timedelta, timezone

import pytest
from cli_harness import lorecast

from lorecast.errors import DuplicateText, LedgerError
from poster import process_alive
from poster.ledger import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION, Ledger

UTC = timezone.utc


@pytest.fixture
def path(tmp_path, monkeypatch):
    monkeypatch.delenv("LORECAST_LEDGER", raising=False)
    return tmp_path / "posts.db"


def begin(ledger: Ledger, text: str) -> int:
    return ledger.begin("twitter", "bot", text, score=0.5, ranked_by="logprob", rng_seed=1)


def test_an_unknown_post_keeps_its_text_claimed_until_it_is_settled(path):
    with Ledger(path) as ledger:
        post_id = begin(ledger, "Was it sent?")
        ledger.mark_unknown(post_id, "no answer within 30 s")
        assert ledger.has_text("twitter", "bot", "was it  SENT?")
        with pytest.raises(DuplicateText, match=f"unknown post {post_id}"):
            begin(ledger, "Was it sent?")
        assert [row.id for row in ledger.unresolved("twitter", "bot")] == [post_id]
        ledger.mark_failed(post_id, "not on the platform")
        assert not ledger.has_text("twitter", "bot", "Was it sent?")
        assert ledger.unresolved("twitter", "bot") == []


def test_settle_records_what_a_person_found_out(path):
    with Ledger(path) as ledger:
        lost, found, done = (begin(ledger, text) for text in ("Lost one.", "Found one.", "Done one."))
        for post_id in (lost, found):
            ledger.mark_unknown(post_id, "lookup refused")
        ledger.mark_posted(done, "77")
    assert lorecast("ledger", "settle", "--ledger", path, found, "--posted", "1234")[0] == 0
    assert lorecast("ledger", "settle", "--ledger", path, lost, "--failed")[0] == 0
    code, _, err = lorecast("ledger", "settle", "--ledger", path, done, "--failed")
    assert code == 1 and "is posted: only an unknown or pending post can be settled" in err
    code, _, err = lorecast("ledger", "settle", "--ledger", path, lost, "--failed", "--posted", "9")
    assert code == 2 and "exactly one of --posted REMOTE_ID and --failed" in err
    with Ledger(path) as ledger:
        rows = {row.id: row for row in ledger.posts()}
    assert (rows[found].state, rows[found].remote_id, rows[found].reason) == ("posted", "1234", None)
    assert rows[lost].state == "failed" and "by hand" in rows[lost].reason


def test_a_pending_post_is_not_settled_while_a_run_holds_its_lock(path):
    with Ledger(path) as ledger:
        post_id = begin(ledger, "In flight.")
        with ledger.lock("twitter", "bot", holder="somehost:1:abc", stale_after_s=600):
            code, _, err = lorecast("ledger", "settle", "--ledger", path, post_id, "--failed")
            assert code == 1 and "a run holds the lock" in err
        assert lorecast("ledger", "settle", "--ledger", path, post_id, "--failed")[0] == 0


def test_list_shows_unknown_posts_first_and_says_what_to_do(path):
    with Ledger(path) as ledger:
        unknown = begin(ledger, "Oldest, unknown.")
        ledger.mark_unknown(unknown, "lookup refused")
        for number in range(3):
            ledger.mark_posted(begin(ledger, f"Newer {number}."), str(number))
    code, out, err = lorecast("ledger", "list", "--ledger", path, "--limit", "2")
    assert code == 0
    lines = out.splitlines()
    assert lines[1].split()[:2] == [str(unknown), "unknown"] and len(lines) == 4  # header, unknown, newest 2
    assert "ledger settle ID --posted REMOTE_ID" in err


def test_costs_sum_the_billed_calls_by_month_account_and_kind(path):
    with Ledger(path) as ledger:
        november = datetime(2026, 11, 30, 23, 59, tzinfo=UTC)
        ledger.record_call("twitter", "bot", "post", 1, 0.015, at=november)
        ledger.record_call("twitter", "bot", "post", 1, 0.015)
        ledger.record_call("twitter", "bot", "read", 37, 0.037)
        ledger.record_call("twitter", "other", "post_with_link", 1, 0.20)
        this_month = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
        assert ledger.spent("twitter", this_month) == pytest.approx(0.252)
        assert ledger.spent("twitter", november - timedelta(days=1)) == pytest.approx(0.267)
        assert ledger.spent("tumblr", november) == 0
    code, out, _ = lorecast("ledger", "costs", "--ledger", path)
    assert code == 0
    rows = [line.split() for line in out.splitlines()]
    month = f"{datetime.now(UTC):%Y-%m}"
    assert ["2026-11", "twitter", "bot", "post", "1", "1", "0.015"] in rows
    assert [month, "twitter", "bot", "read", "1", "37", "0.037"] in rows
    assert [month, "twitter", "all", "total", "0.252"] in rows


def test_a_schema_1_ledger_is_migrated_with_its_rows(path):
    raw = sqlite3.connect(path, isolation_level=None)
    for statement in MIGRATIONS[0]:
        raw.execute(statement)
    raw.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    raw.execute("PRAGMA user_version = 1")
    now = datetime.now(UTC).isoformat(timespec="microseconds")
    raw.execute("INSERT INTO posts (platform, account, text, text_key, state, remote_id, created_at, updated_at, "
                "posted_at) VALUES ('twitter', 'bot', 'Old.', 'k', 'posted', '5', ?, ?, ?)", (now, now, now))
    raw.execute("INSERT INTO metrics VALUES (1, ?, 1, 0, 0, 0, NULL, 1)", (now,))
    raw.close()
    with Ledger(path) as ledger:
        [row] = ledger.posts()
        assert (row.text, row.remote_id) == ("Old.", "5") and ledger.latest_metrics()[1].total == 1
        post_id = begin(ledger, "New.")
        ledger.mark_unknown(post_id, "timeout")  # the new state is allowed
        ledger.record_call("twitter", "bot", "post", 1, 0.015)
    raw = sqlite3.connect(path)
    assert raw.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 4
    assert raw.execute("PRAGMA foreign_key_check").fetchall() == []
    raw.close()


def test_a_damaged_ledger_is_one_line_naming_the_file_and_what_to_do(path):
    with Ledger(path) as ledger:
        for number in range(300):  # enough rows for several pages
            ledger.mark_posted(begin(ledger, f"Text number {number} " + "x" * 200), str(number))
    data = bytearray(path.read_bytes())
    data[4096 * 2:4096 * 6] = b"\xff" * (4096 * 4)  # pages past the header, in the posts table's tree
    path.write_bytes(bytes(data))
    code, _, err = lorecast("ledger", "list", "--ledger", path, "--limit", "0")
    assert code == 1 and err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith(f"error: {path}: ") and "damaged" in err and ".recover" in err


def test_windows_liveness_reads_the_exit_code_and_never_signals(monkeypatch):
    def no_kill(*args):
        raise AssertionError("os.kill must not be called on Windows")

    monkeypatch.setattr(process_alive.os, "kill", no_kill)

    class Kernel32:
        def __init__(self, handle: int, last_error: int = 0, exit_code: int = process_alive._STILL_ACTIVE):
            self.handle, self.last_error, self.exit_code, self.closed = handle, last_error, exit_code, []

        def OpenProcess(self, access, inherit, pid):  # noqa: N802 - the Win32 names
            assert access == process_alive._PROCESS_QUERY_LIMITED_INFORMATION
            return self.handle

        def GetLastError(self):  # noqa: N802
            return self.last_error

        def GetExitCodeProcess(self, handle, pointer):  # noqa: N802
            pointer._obj.value = self.exit_code
            return 1

        def CloseHandle(self, handle):  # noqa: N802
            self.closed.append(handle)

    running, ended = Kernel32(handle=7), Kernel32(handle=8, exit_code=0)
    assert process_alive.windows_pid_alive(42, running) and running.closed == [7]
    assert not process_alive.windows_pid_alive(42, ended) and ended.closed == [8]
    assert not process_alive.windows_pid_alive(42, Kernel32(handle=0, last_error=87))  # no such process
    assert process_alive.windows_pid_alive(42, Kernel32(handle=0, last_error=5))  # another user's
    monkeypatch.setattr(process_alive.sys, "platform", "win32")
    monkeypatch.setattr(process_alive, "windows_pid_alive", lambda pid, kernel32: pid == 1)
    monkeypatch.setattr(process_alive.ctypes, "windll", type("W", (), {"kernel32": None}), raising=False)
    assert process_alive.pid_alive(1) and not process_alive.pid_alive(2)


def test_a_ledger_failure_names_the_file(path):
    path.mkdir()  # a directory where the file should be
    with pytest.raises(LedgerError, match=f"^{path}: "):
        Ledger(path)


def test_settle_refuses_an_empty_remote_id_and_ignores_a_dead_runs_lock(path):
    with Ledger(path) as ledger:
        post_id = begin(ledger, "Left by a killed run.")
        dead = f"{socket.gethostname()}:{2**22 + 12345}:abc"  # a pid above Linux's pid_max: no such process
        with ledger.lock("twitter", "bot", holder=dead, stale_after_s=600):
            code, _, err = lorecast("ledger", "settle", "--ledger", path, post_id, "--posted", " ")
            assert code == 2 and "--posted needs the post's remote id" in err
            assert lorecast("ledger", "settle", "--ledger", path, post_id, "--posted", "42")[0] == 0
