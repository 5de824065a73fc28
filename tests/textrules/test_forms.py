"""The normal forms differ on purpose: each pair below is the same text for one purpose and not for another."""

from __future__ import annotations

import pytest

from textrules.forms import blocklist_form, ledger_form, novelty_form, platform_form

FORMS = {"novelty": novelty_form, "blocklist": blocklist_form, "ledger": ledger_form, "platform": platform_form}


@pytest.mark.parametrize(
    ("first", "second", "same_for"),
    [
        # a cut generation vs its training line: a copy to the novelty check, two posts to the ledger
        ("It works.", "it works", {"novelty"}),
        # case and spacing: one text to a reader (ledger), kept by the platform
        ("Hello   World", "hello world", {"novelty", "ledger"}),
        # accents: only the blocklist reads through them
        ("bád", "bad", {"blocklist"}),
        # fullwidth letters: compatibility forms fold for novelty and the ledger, and the blocklist's NFKD
        ("ｂａｄ", "bad", {"novelty", "ledger", "blocklist"}),
        # long runs: cut to three for the matcher only
        ("baaaaad", "baaad", {"blocklist"}),
        # composed vs decomposed é: the same stored text on the platform, and everywhere else
        ("caf\u00e9 ", "cafe\u0301", {"novelty", "ledger", "platform"}),
    ],
)
def test_which_forms_call_two_texts_the_same(first: str, second: str, same_for: set[str]) -> None:
    same = {name for name, form in FORMS.items() if form(first) == form(second)}
    assert same == same_for
