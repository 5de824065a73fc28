"""Replies of the bluesky platform on the reference PDS (tests/poster/pds.py, one start for this module): a second
account posts, the bot answers through BlueskyPlatform with a Mention made from that post's uri and cid (the PDS
has no AppView, so no notifications: the stand-in covers reading them), and getRecord shows the reply refs and the
mention facet; the same draft posted again is the same record; an answer deeper in the thread keeps its root. And
the stand-in's checks of a record's shape give the PDS's verdicts and messages, case by case."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import requests
from bluesky_server import BlueskyServer
from pds import Pds, running_pds

from poster.bluesky_session import session_path
from poster.bluesky_text import LINK_FEATURE, MENTION_FEATURE
from poster.platforms.base import Draft, Mention
from poster.platforms.bluesky import COLLECTION, BlueskyPlatform
from poster.tid import tid

pytestmark = pytest.mark.slow
_clock = itertools.count(1)


class Account(NamedTuple):
    handle: str
    did: str
    token: str


@pytest.fixture(scope="module")
def real_pds() -> Iterator[Pds]:
    with running_pds() as pds:
        yield pds


@pytest.fixture(scope="module")
def alice(real_pds: Pds) -> Account:
    """A second account on the PDS, the one that writes to the bot."""
    answer = xrpc_post(real_pds.url, "com.atproto.server.createAccount",
                       {"email": "alice@test.com", "handle": "alice.test", "password": "alice-password-1"})
    assert answer.status_code == 200, answer.text
    return Account("alice.test", answer.json()["did"], answer.json()["accessJwt"])


def xrpc_post(url: str, nsid: str, body: dict[str, Any], token: str | None = None) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.post(f"{url}/xrpc/{nsid}", json=body, headers=headers, timeout=10)


def write(url: str, account: Account, text: str, reply: dict | None = None,
          facets: list | None = None) -> dict[str, str]:
    """A post by `account` (as a client writes one): its uri and cid."""
    record: dict[str, Any] = {"$type": COLLECTION, "text": text, "createdAt": now()}
    if reply is not None:
        record["reply"] = reply
    if facets is not None:
        record["facets"] = facets
    answer = xrpc_post(url, "com.atproto.repo.createRecord",
                       {"repo": account.did, "collection": COLLECTION, "record": record}, account.token)
    assert answer.status_code == 200, answer.text
    return {"uri": answer.json()["uri"], "cid": answer.json()["cid"]}


def get_record(pds: Pds, uri: str) -> dict[str, Any]:
    repo, collection, rkey = uri.removeprefix("at://").split("/")
    answer = requests.get(f"{pds.url}/xrpc/com.atproto.repo.getRecord", timeout=10,
                          params={"repo": repo, "collection": collection, "rkey": rkey})
    assert answer.status_code == 200, answer.text
    return answer.json()


def record_count(pds: Pds) -> int:
    answer = requests.get(f"{pds.url}/xrpc/com.atproto.repo.listRecords", timeout=10,
                          params={"repo": pds.did, "collection": COLLECTION, "limit": "100"})
    answer.raise_for_status()
    return len(answer.json()["records"])


def now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def bot(pds: Pds, directory: Path) -> BlueskyPlatform:
    return BlueskyPlatform(pds.url, pds.handle, pds.app_password, session_path(directory / "posts.db", pds.handle),
                           timeout=10.0)


def mention_of(author: Account, post: dict[str, str], text: str, root: dict[str, str] | None = None) -> Mention:
    """The Mention mentions() would make of `post` (a reply in the thread of `root` when given)."""
    root = root or post
    return Mention(id=post["uri"], author=author.handle, author_id=author.did, text=text,
                   created_at=datetime.now(timezone.utc), thread=root["uri"] if root is not post else None,
                   refs={"cid": post["cid"], "root_uri": root["uri"], "root_cid": root["cid"]})


def reply_draft(bsky: BlueskyPlatform, mention: Mention, answer: str) -> Draft:
    when = datetime.now(timezone.utc)
    return Draft(bsky.reply_text(mention, answer), tid(when, next(_clock)), when, reply_to=mention)


def test_a_reply_carries_its_refs_and_a_mention_facet_and_is_made_once(real_pds: Pds, alice: Account,
                                                                        tmp_path: Path) -> None:
    bsky = bot(real_pds, tmp_path)
    asked_text = f"@{real_pds.handle} what is a lorecast?"
    asked = write(real_pds.url, alice, asked_text, facets=[{
        "index": {"byteStart": 0, "byteEnd": len(real_pds.handle) + 1},
        "features": [{"$type": MENTION_FEATURE, "did": real_pds.did}]}])
    url = "https://example.com/wiki/Caf\u00e9"
    answer = reply_draft(bsky, mention_of(alice, asked, asked_text), f"a tale told twice, 👩\u200d💻 see {url}")
    uri = bsky.post(answer)
    assert uri == f"at://{real_pds.did}/{COLLECTION}/{answer.key}"

    stored = get_record(real_pds, uri)["value"]
    assert stored["text"] == answer.text and stored["text"].startswith("@alice.test ")
    assert stored["reply"] == {"root": asked, "parent": asked}
    data = stored["text"].encode("utf-8")
    by_kind = {facet["features"][0]["$type"]: facet for facet in stored["facets"]}
    mention, link = by_kind[MENTION_FEATURE], by_kind[LINK_FEATURE]
    assert mention["features"] == [{"$type": MENTION_FEATURE, "did": alice.did}]
    assert data[mention["index"]["byteStart"]:mention["index"]["byteEnd"]] == b"@alice.test"
    assert data[link["index"]["byteStart"]:link["index"]["byteEnd"]].decode("utf-8") == url

    before = record_count(real_pds)
    assert bsky.post(answer) == uri  # the PDS answers 500 to the key it has; post() looks and finds it
    assert bsky.find(answer) == uri
    assert record_count(real_pds) == before


def test_an_answer_deeper_in_the_thread_keeps_the_root(real_pds: Pds, alice: Account, tmp_path: Path) -> None:
    bsky = bot(real_pds, tmp_path)
    root = write(real_pds.url, alice, "a thread of alice's")
    first_uri = bsky.post(reply_draft(bsky, mention_of(alice, root, "a thread of alice's"), "first answer"))
    first = {"uri": first_uri, "cid": get_record(real_pds, first_uri)["cid"]}
    again = write(real_pds.url, alice, "and then?", reply={"root": root, "parent": first})
    second_uri = bsky.post(reply_draft(bsky, mention_of(alice, again, "and then?", root=root), "then this"))
    assert get_record(real_pds, second_uri)["value"]["reply"] == {"root": root, "parent": again}


# --- the stand-in against the PDS: the same verdict, the same words

GOOD = "good"  # placeholder for a strongRef to a post of the server's


def _shape_cases() -> list[tuple[str, dict[str, Any], bool]]:
    hex_cid = "bafyrei" + "0123456789abcdef" * 3 + "0123"
    mention = {"$type": MENTION_FEATURE, "did": "did:plc:aaaaaaaaaaaaaaaaaaaaaaaa"}
    return [
        ("a hex cid", {"reply": {"root": {"uri": GOOD, "cid": hex_cid}, "parent": GOOD}}, False),
        ("an https uri", {"reply": {"root": {"uri": "https://example.com/x", "cid": GOOD}, "parent": GOOD}}, False),
        ("a uri with a fragment", {"reply": {"root": {"uri": GOOD + "#frag", "cid": GOOD}, "parent": GOOD}}, False),
        ("no cid", {"reply": {"root": {"uri": GOOD}, "parent": GOOD}}, False),
        ("no parent", {"reply": {"root": GOOD}}, False),
        ("a cid that is a number", {"reply": {"root": {"uri": GOOD, "cid": 5}, "parent": GOOD}}, False),
        ("another $type", {"reply": {"root": {"$type": COLLECTION, "uri": GOOD, "cid": GOOD}, "parent": GOOD}},
         False),
        ("a typed strongRef", {"reply": {"root": {"$type": "com.atproto.repo.strongRef", "uri": GOOD, "cid": GOOD},
                                         "parent": GOOD}}, True),
        ("a ref with more keys", {"reply": {"root": {"uri": GOOD, "cid": GOOD, "note": 1}, "parent": GOOD}}, True),
        ("a mention of no DID", {"facets": [{"index": {"byteStart": 0, "byteEnd": 11},
                                             "features": [{**mention, "did": "notadid"}]}]}, False),
        ("a mention of a did:web", {"facets": [{"index": {"byteStart": 0, "byteEnd": 11},
                                                "features": [{**mention, "did": "did:web:example.com"}]}]}, True),
        ("a negative byteStart", {"facets": [{"index": {"byteStart": -1, "byteEnd": 11}, "features": [mention]}]},
         False),
        ("no byteEnd", {"facets": [{"index": {"byteStart": 0}, "features": [mention]}]}, False),
        ("a feature without $type", {"facets": [{"index": {"byteStart": 0, "byteEnd": 11},
                                                 "features": [{"did": mention["did"]}]}]}, False),
        ("a link to no URI", {"facets": [{"index": {"byteStart": 0, "byteEnd": 11},
                                          "features": [{"$type": LINK_FEATURE, "uri": "not a uri"}]}]}, False),
    ]


def _filled(value: Any, good: dict[str, str]) -> Any:
    """`value` with every GOOD replaced: a whole ref by `good`, a uri or cid by good's (a prefix kept)."""
    if isinstance(value, dict):
        return {key: (good[key] + item[len(GOOD):] if isinstance(item, str) and item.startswith(GOOD)
                      and key in good else _filled(item, good)) for key, item in value.items()}
    if isinstance(value, list):
        return [_filled(item, good) for item in value]
    return dict(good) if value == GOOD else value


@pytest.fixture(scope="module")
def standin() -> Iterator[BlueskyServer]:
    with BlueskyServer() as server:
        server.add_account("alice.test")
        yield server


@pytest.fixture(scope="module")
def bot_tokens(real_pds: Pds, standin: BlueskyServer, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    directory = tmp_path_factory.mktemp("sessions")
    return {"pds": bot(real_pds, directory / "pds").session.access_jwt(),
            "standin": BlueskyPlatform(standin.url, standin.handle, standin.app_password,
                                       session_path(directory / "standin" / "posts.db", standin.handle),
                                       timeout=5.0).session.access_jwt()}


@pytest.mark.parametrize(("case", "fields", "accepted"), _shape_cases(), ids=[case[0] for case in _shape_cases()])
def test_the_stand_in_judges_a_record_as_the_pds_does(real_pds: Pds, alice: Account, standin: BlueskyServer,
                                                      bot_tokens: dict[str, str], case: str,
                                                      fields: dict[str, Any], accepted: bool) -> None:
    uri = standin.mention("alice.test", "alice's post")
    servers = (("pds", real_pds.url, real_pds.did, write(real_pds.url, alice, "alice's post")),
               ("standin", standin.url, standin.did, {"uri": uri, "cid": standin.record(uri).cid}))
    verdicts = []
    for where, url, did, good in servers:
        record = {"$type": COLLECTION, "text": "@alice.test hi é", "createdAt": now(), **_filled(fields, good)}
        answer = xrpc_post(url, "com.atproto.repo.createRecord", {"repo": did, "collection": COLLECTION,
                                                                  "record": record}, bot_tokens[where])
        message = answer.json().get("message")
        for key in ("uri", "cid"):  # the one part that differs between the two servers
            message = message.replace(good[key], f"<{key}>") if message else message
        verdicts.append((answer.status_code, message))
    (pds_status, pds_message), (standin_status, standin_message) = verdicts
    assert pds_status == (200 if accepted else 400), pds_message  # what was measured still holds
    assert (standin_status, standin_message) == (pds_status, pds_message)
