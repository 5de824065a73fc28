"""The bluesky platform against the reference PDS (tests/poster/pds.py, one start per session): record keys,
idempotent creates, exact lookups, one login across runs with the app password, the grapheme limit as the PDS
counts it, and link facets whose byte offsets slice the URL out of the stored text."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest
import requests
from pds import Pds, running_pds

from lorecast.errors import PlatformError
from poster.bluesky_session import jwt_claims, session_path
from poster.platforms.base import Draft
from poster.platforms.bluesky import COLLECTION, BlueskyPlatform
from poster.tid import tid

pytestmark = pytest.mark.slow
_clock = itertools.count(1)
# 300 graphemes in 2200 bytes (the lexicon also caps the text at 3000 bytes): ZWJ, skin tone, combining accent.
HEAVY = ("👩\u200d💻" + "👍🏽" + "e\u0301") * 100


@pytest.fixture(scope="session")
def real_pds() -> Iterator[Pds]:
    with running_pds() as pds:
        yield pds


def draft(text: str) -> Draft:
    now = datetime.now(timezone.utc)
    return Draft(text=text, key=tid(now, next(_clock)), created_at=now)


def platform(pds: Pds, directory: Path) -> BlueskyPlatform:
    return BlueskyPlatform(pds.url, pds.handle, pds.app_password, session_path(directory / "posts.db", pds.handle),
                           timeout=10.0)


def xrpc(pds: Pds, nsid: str, **params: str) -> requests.Response:
    return requests.get(f"{pds.url}/xrpc/{nsid}", params=params, timeout=10)


def record_count(pds: Pds) -> int:
    response = xrpc(pds, "com.atproto.repo.listRecords", repo=pds.did, collection=COLLECTION, limit="100")
    response.raise_for_status()
    return len(response.json()["records"])


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The XRPC methods our client sends (a spy that passes every request on to the PDS unchanged)."""
    sent: list[str] = []
    original = requests.Session.request

    def spy(self: requests.Session, method: str, url: str, *args, **kwargs):
        sent.append(url.rsplit("/xrpc/", 1)[-1])
        return original(self, method, url, *args, **kwargs)

    monkeypatch.setattr(requests.Session, "request", spy)
    return sent


def test_post_with_a_chosen_key_reads_back_and_the_app_password_is_used(real_pds: Pds, tmp_path: Path) -> None:
    bsky = platform(real_pds, tmp_path)
    first = draft("hello from lorecast's tests")
    uri = bsky.post(first)
    assert uri == f"at://{real_pds.did}/{COLLECTION}/{first.key}"
    response = xrpc(real_pds, "com.atproto.repo.getRecord", repo=real_pds.did, collection=COLLECTION,
                    rkey=first.key)
    assert response.status_code == 200
    value = response.json()["value"]
    assert (value["text"], value["$type"]) == (first.text, COLLECTION)
    assert datetime.fromisoformat(value["createdAt"].replace("Z", "+00:00")) == first.created_at.replace(
        microsecond=first.created_at.microsecond // 1000 * 1000)
    stored = session_path(tmp_path / "posts.db", real_pds.handle).read_text()
    assert real_pds.app_password not in stored and real_pds.password not in stored
    assert jwt_claims(bsky.session.access_jwt())["scope"] == "com.atproto.appPass"  # an app password session


def test_posting_the_same_draft_again_returns_the_same_uri_and_creates_nothing(real_pds: Pds,
                                                                               tmp_path: Path) -> None:
    bsky = platform(real_pds, tmp_path)
    again = draft("posted twice, stored once")
    uri = bsky.post(again)
    before = record_count(real_pds)
    assert bsky.post(again) == uri  # the PDS answers 500 to the repeated key; post() looks and finds it
    assert record_count(real_pds) == before


def test_find_is_exact_by_key(real_pds: Pds, tmp_path: Path) -> None:
    bsky = platform(real_pds, tmp_path)
    posted = draft("find me by my key")
    uri = bsky.post(posted)
    assert bsky.find(posted) == uri
    assert bsky.find(draft("find me by my key")) is None  # same text, a key never used


def test_two_runs_share_one_login(real_pds: Pds, tmp_path: Path, calls: list[str]) -> None:
    for text in ("first run", "second run"):
        bsky = platform(real_pds, tmp_path)
        bsky.post(draft(text))
        bsky.close()
    assert calls.count("com.atproto.server.createSession") == 1
    assert "com.atproto.server.refreshSession" not in calls


def test_300_heavy_graphemes_pass_and_301_are_refused_by_fits_and_by_the_pds(real_pds: Pds,
                                                                            tmp_path: Path) -> None:
    bsky = platform(real_pds, tmp_path)
    assert len(HEAVY) == 700 and len(HEAVY.encode("utf-8")) == 2200
    assert bsky.fits(HEAVY) is None
    assert bsky.post(draft(HEAVY)).startswith("at://")
    longer = HEAVY + "e\u0301"
    assert bsky.fits(longer) == "301 graphemes, Bluesky allows 300"
    with pytest.raises(PlatformError, match="grapheme too big") as caught:
        bsky.post(draft(longer))  # fits() skipped: the PDS counts the same way
    assert not caught.value.transient
    families = "👨\u200d👩\u200d👧\u200d👦" * 150  # 150 graphemes, 3750 bytes: over the lexicon's 3000 bytes
    assert bsky.fits(families) == "3750 bytes of UTF-8, Bluesky allows 3000"
    with pytest.raises(PlatformError, match="string too big") as caught:
        bsky.post(draft(families))
    assert not caught.value.transient


def test_a_link_facet_slices_the_url_out_of_the_stored_text(real_pds: Pds, tmp_path: Path) -> None:
    bsky = platform(real_pds, tmp_path)
    url = "https://example.com/wiki/Caf\u00e9_(bar)?q=\u00fc"
    posted = draft(f"👩\u200d💻 e\u0301 read ({url}).")
    bsky.post(posted)
    value = xrpc(real_pds, "com.atproto.repo.getRecord", repo=real_pds.did, collection=COLLECTION,
                 rkey=posted.key).json()["value"]
    [facet] = value["facets"]
    index = facet["index"]
    assert value["text"].encode("utf-8")[index["byteStart"]:index["byteEnd"]].decode("utf-8") == url
    assert facet["features"] == [{"$type": "app.bsky.richtext.facet#link", "uri": url}]


def test_engagement_without_an_appview_is_a_transient_error(real_pds: Pds, tmp_path: Path) -> None:
    # This PDS has no AppView (502 UpstreamFailure): the stand-in covers the counts; here, the error's kind.
    bsky = platform(real_pds, tmp_path)
    uri = bsky.post(draft("counted elsewhere"))
    with pytest.raises(PlatformError, match="UpstreamFailure") as caught:
        bsky.engagement([uri])
    assert caught.value.transient


def test_lorecast_auth_post_and_crash_recovery_against_the_real_pds(real_pds: Pds, standin, tmp_path: Path) -> None:
    """The commands a user runs, end to end on the real PDS: sign in once, post, and settle a post whose record
    went out while its run died before recording it (the row left pending), by the exact getRecord of its key."""
    from cli_harness import lorecast

    from poster.ledger import Ledger
    from poster.run import draft_of

    ledger_path = tmp_path / "ledger" / "posts.db"
    env = {"LORECAST_LEDGER": str(ledger_path), "LORECAST_ENDPOINT": standin.endpoint,
           "LORECAST_INFERENCE_KEY": standin.key, "LORECAST_BLUESKY_SERVICE": real_pds.url,
           "LORECAST_BLUESKY_HANDLE": real_pds.handle, "LORECAST_BLUESKY_APP_PASSWORD": real_pds.app_password}
    before = record_count(real_pds)
    code, out, err = lorecast("auth", "bluesky", env=env, cwd=tmp_path)
    assert code == 0, err
    assert f"LORECAST_BLUESKY_HANDLE={real_pds.handle}" in out.splitlines()
    assert session_path(ledger_path, real_pds.handle).is_file()

    code, published, err = lorecast("post", "bluesky", env=env, cwd=tmp_path)
    assert code == 0, err
    with Ledger(ledger_path) as ledger:
        [row] = ledger.posts()
        # A crashed run: the row was written, the record created on the PDS, and then the process died.
        crashed = ledger.begin("bluesky", real_pds.handle, "A record whose run died before recording it.",
                               score=None, ranked_by=None, rng_seed=None)
        uri = platform(real_pds, ledger_path.parent).post(draft_of(ledger.post(crashed)))
    assert row.state == "posted" and row.remote_id.startswith(f"at://{real_pds.did}/{COLLECTION}/")
    assert xrpc(real_pds, "com.atproto.repo.getRecord", repo=real_pds.did, collection=COLLECTION,
                rkey=row.remote_id.rsplit("/", 1)[1]).json()["value"]["text"] == published.strip() == row.text

    code, _, err = lorecast("post", "bluesky", env=env, cwd=tmp_path)
    assert code == 0, err
    assert f"resolved post {crashed} of an earlier run: it is on bluesky as {uri}" in err
    with Ledger(ledger_path) as ledger:
        rows = ledger.posts()
    assert [r.state for r in rows] == ["posted"] * 3 and len({r.remote_id for r in rows}) == 3
    assert record_count(real_pds) == before + 3  # nothing posted twice
    for secret in (real_pds.app_password, real_pds.password):
        assert secret not in err + published and secret.encode() not in ledger_path.read_bytes()
