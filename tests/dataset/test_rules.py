"""Cleaning rules: each rule on its own, the counting chain, and `--rules` parsing."""

import pytest

from dataset.rules import RULE_NAMES, RuleSettings, make_rules, parse_rule_selection
from dataset.rules.blocklist import Blocklist
from dataset.rules.chain import RuleChain
from dataset.rules.entities import Entities
from dataset.rules.labels import DEFAULT_LABELS, Labels
from dataset.rules.length import Length
from dataset.rules.placeholders import Placeholders
from dataset.rules.quotes import Quotes
from dataset.rules.text_art import TextArt
from dataset.rules.upgrade_suffix import UpgradeSuffix
from dataset.rules.whitespace import Whitespace
from lorecast.errors import LorecastError


@pytest.mark.parametrize("text", ["%null%", "  %NULL%\n", "no_text", "NO_TEXT", "", "   \t\n"])
def test_placeholders_drop_placeholder_and_blank_texts(text):
    assert Placeholders().apply(text) is None


@pytest.mark.parametrize("text", ["%null% appears here", "no text", "[ph]", "A dagger."])
def test_placeholders_keep_everything_else_unchanged(text):
    assert Placeholders().apply(text) == text


def test_entities_decode_named_and_numeric_references_once():
    assert Entities().apply("Fish &amp; chips&#x2019; &eacute;t&#233;") == "Fish & chips\u2019 \u00e9t\u00e9"
    assert Entities().apply("&amp;amp;") == "&amp;"


def test_labels_strip_default_labels_at_text_and_line_starts_only():
    text = "Weapon type: Straight Sword\n  skill :Square Off\nThe Skill: stays mid-line."
    assert Labels(DEFAULT_LABELS).apply(text) == "Straight Sword\nSquare Off\nThe Skill: stays mid-line."


def test_labels_need_the_colon_and_accept_user_labels_with_or_without_one():
    rule = Labels(DEFAULT_LABELS + ("Rarity:", "FP cost"))
    assert rule.apply("Skill is what you make of it") == "Skill is what you make of it"
    assert rule.apply("Rarity: Legendary\nFP cost: 12") == "Legendary\n12"


def test_labels_from_settings_keeps_the_defaults():
    rule = Labels.from_settings(RuleSettings(extra_labels=("Lore",)))
    assert rule.apply("Lore: old\nSkill: new") == "old\nnew"


def test_whitespace_collapses_breaks_tabs_and_odd_spaces_and_drops_invisibles():
    text = "  Lights\tthe\u00a0way\u200b through\r\n\ndark\u2028halls\u00ad. \ufeff"
    assert Whitespace().apply(text) == "Lights the way through dark halls."


def test_whitespace_keeps_zero_width_joiners_of_emoji_sequences():
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert Whitespace().apply(f"a  {family}") == f"a {family}"


def test_quotes_become_ascii_and_dashes_plain():
    text = "\u201cDon\u2019t,\u201d she said \u2014 1990\u20131995 \u2212 \u00abnon\u00bb \u2018x\u2019"
    assert Quotes().apply(text) == "\"Don't,\" she said -- 1990-1995 - \"non\" 'x'"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Longsword +2", "Longsword"),
        ("Uchigatana +10 ", "Uchigatana"),
        ("Longsword+2", "Longsword+2"),
        ("+2 Longsword", "+2 Longsword"),
        ("Grade C+", "Grade C+"),
        ("Ring +1 of Favor", "Ring +1 of Favor"),
    ],
)
def test_upgrade_suffix_strips_only_a_trailing_space_plus_number(text, expected):
    assert UpgradeSuffix().apply(text) == expected


def test_length_bounds_are_inclusive():
    rule = Length(min_chars=3, max_chars=5)
    assert [rule.apply(t) for t in ["ab", "abc", "abcde", "abcdef"]] == [None, "abc", "abcde", None]


def test_blocklist_matches_whole_words_ignoring_case_and_ignores_empty_terms():
    rule = Blocklist(("heretics", "", "STRASSE", "ass"))
    assert rule.apply("Worn by HERETICS.") is None
    assert rule.apply("An old stra\u00dfe.") is None  # casefold: ß matches ss
    assert rule.apply("A holy relic.") == "A holy relic."
    assert rule.apply("A classic heretical passage.") == "A classic heretical passage."  # no word is blocked
    assert Blocklist(()).apply("anything") == "anything"


def test_text_art_drops_flattened_tables_and_keeps_plain_dashes():
    rule = TextArt()
    assert rule.apply("Common: bang \u2502 \u2502 Rare: factorial \u251c\u2500\u2500\u253c") is None
    assert rule.apply("A \u2588\u2588 block") is None
    plain = "A plain -- dash, an em\u2014dash and a | pipe."
    assert rule.apply(plain) == plain


def _chain(*names: str, **settings) -> RuleChain:
    return RuleChain(make_rules(names, RuleSettings(**settings)))


def test_chain_counts_a_record_once_when_text_and_title_both_change():
    chain = _chain("upgrade_suffix", "whitespace")
    assert chain.clean_passage("A  sword +1", "Longsword +2") == ("A sword", "Longsword")
    assert chain.counts["upgrade_suffix"].changed == 1
    assert chain.counts["whitespace"].changed == 1
    assert chain.clean_passage("Plain.", "Name") == ("Plain.", "Name")
    assert chain.counts["whitespace"].changed == 1  # unchanged record not counted


def test_chain_drops_a_title_without_dropping_the_record():
    chain = _chain("placeholders")
    assert chain.clean_passage("A blade.", "%null%") == ("A blade.", "")
    assert (chain.counts["placeholders"].dropped, chain.counts["placeholders"].changed) == (0, 1)
    assert chain.clean_passage("%null%", "Name") is None
    assert (chain.counts["placeholders"].dropped, chain.counts["placeholders"].changed) == (1, 1)


def test_chain_counts_a_rule_that_leaves_only_whitespace_as_a_drop():
    chain = _chain("labels", "whitespace")
    assert chain.clean_passage("Skill:  \n", "") is None
    assert chain.counts["labels"].dropped == 1
    assert chain.counts["whitespace"].dropped == 0


def test_chain_stops_at_the_first_drop_and_later_rules_never_see_the_text():
    chain = _chain("placeholders", "entities")
    chain.clean_passage("no_text", "")
    assert chain.counts["entities"].dropped == chain.counts["entities"].changed == 0


def test_chain_applies_example_rules_only_in_clean_example():
    chain = _chain("whitespace", "length", "blocklist", min_chars=5, max_chars=50, block=("troll",))
    assert chain.clean_passage("ab", "") == ("ab", "")  # length is not a passage rule
    assert chain.clean_example("ab") is None
    assert chain.clean_example("a troll here") is None
    assert chain.clean_example("a knight here") == "a knight here"
    assert (chain.counts["length"].dropped, chain.counts["blocklist"].dropped) == (1, 1)


def test_rule_selection_default_is_every_rule_in_application_order():
    assert parse_rule_selection("default") == RULE_NAMES
    assert RULE_NAMES == (
        "placeholders",
        "entities",
        "labels",
        "whitespace",
        "quotes",
        "upgrade_suffix",
        "length",
        "text_art",
        "blocklist",
    )


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("default,-labels", tuple(n for n in RULE_NAMES if n != "labels")),
        ("-labels, -quotes", tuple(n for n in RULE_NAMES if n not in ("labels", "quotes"))),
        ("whitespace,placeholders", ("placeholders", "whitespace")),
        ("length,-length,entities", ("entities",)),
        ("default,-default", ()),
    ],
)
def test_rule_selection_adds_and_removes_left_to_right(spec, expected):
    assert parse_rule_selection(spec) == expected


@pytest.mark.parametrize("spec", ["placeholder", "default,-nope", "whitespace,,Labels"])
def test_rule_selection_names_the_unknown_rule_and_lists_the_known_ones(spec):
    with pytest.raises(LorecastError) as error:
        parse_rule_selection(spec)
    message = str(error.value)
    assert "unknown rule" in message
    assert all(name in message for name in RULE_NAMES)
    assert "\n" not in message


def test_rule_selection_rejects_an_empty_value():
    with pytest.raises(LorecastError, match="empty"):
        parse_rule_selection(" , ")


def test_make_rules_configures_rules_and_rejects_unknown_names():
    rules = make_rules(("length", "placeholders"), RuleSettings(min_chars=2, max_chars=4))
    assert [rule.name for rule in rules] == ["placeholders", "length"]
    assert rules[1].apply("abcde") is None
    with pytest.raises(LorecastError, match="bogus"):
        make_rules(("bogus",), RuleSettings())
