"""One blocklist file, the same verdicts at corpus build and at serving (the issue's shared table).

Each row is run through both sides as a user runs them: the corpus build reads the file with
`dataset.blocklist_files.read_blocklists` into its blocklist rule; the worker reads the file `lorecast archive`
packs (the same terms, one per line) into its BlocklistFilter.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from dataset.blocklist_files import read_blocklists
from dataset.rules.blocklist import Blocklist as BuildRule
from serve_handler.filters import BlocklistFilter, Draft
from textrules.blocklist import Blocklist, format_terms, read_terms

BLOCKLIST_FILE = """\
# Whole words and phrases; a comment line blocks nothing, even when it names: classic heretic
ass
Heretic  # a comment after a term is no part of it
stolen goods

"""

# (text, blocked?)
VERDICTS = [
    ("A classic passage.", False),  # "ass" inside longer words
    ("An assassin waits.", False),
    ("What an ass.", True),
    ("What an A$$!", True),  # obscured spellings, either side
    ("The heretic speaks.", True),
    ("The HÉRÉTIC speaks.", True),  # accents and case
    ("The heretics speak.", False),  # a term is a whole word: list the forms you want caught
    ("He sold stolen goods.", True),
    ("He sold stolen-goods.", True),
    ("He sold goods, stolen.", False),
    ("It names: classic heretic", True),  # the comment line's words are not terms, but "heretic" is one
    ("Nothing here.", False),
]


@pytest.fixture(scope="module")
def blocklist_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("blocklist") / "terms.txt"
    path.write_text(BLOCKLIST_FILE, encoding="utf-8")
    return path


def build_verdicts(path: Path, texts: list[str]) -> list[bool]:
    rule = BuildRule(tuple(read_blocklists([path])))
    return [rule.apply(text) is None for text in texts]


def serve_verdicts(path: Path, texts: list[str], tmp_path: Path) -> list[bool]:
    packed = tmp_path / "blocklist.txt"  # what ops/archive.py writes into the .mar
    packed.write_text(format_terms(read_blocklists([path])), encoding="utf-8")
    chain_filter = BlocklistFilter(Blocklist(read_terms(packed)))
    drafts = [Draft(0, text, -1.0, True) for text in texts]
    return [verdict is None for verdict in chain_filter(drafts, [None])]


def test_the_file_holds_three_terms_and_the_comments_none(blocklist_file: Path) -> None:
    assert read_blocklists([blocklist_file]) == ["ass", "Heretic", "stolen goods"]
    assert read_terms(blocklist_file) == ["ass", "Heretic", "stolen goods"]


def test_build_and_serve_give_the_same_verdicts(blocklist_file: Path, tmp_path: Path) -> None:
    texts = [text for text, _ in VERDICTS]
    expected = [blocked for _, blocked in VERDICTS]
    assert build_verdicts(blocklist_file, texts) == expected
    assert serve_verdicts(blocklist_file, texts, tmp_path) == expected
