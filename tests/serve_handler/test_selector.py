"""The selector's features, head and dir (contract 3), on the model the suite trains."""

from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from serve_handler.selector import CONFIG_FILE, WEIGHTS_FILE, Calibration, Selector, SelectorHead, text_features


@pytest.fixture(scope="module")
def generator(trained):
    _, model_dir, _ = trained
    return AutoModelForCausalLM.from_pretrained(model_dir).eval(), AutoTokenizer.from_pretrained(model_dir)


def test_features_of_a_text_do_not_depend_on_its_batch(generator):
    model, tokenizer = generator
    texts = ["the old kernel.", "a much longer text about the sleepy daemon that forks the packet.", "bug."]
    together = text_features(model, tokenizer, texts, [-1, 0])
    alone = torch.cat([text_features(model, tokenizer, [text], [-1, 0]) for text in texts])
    assert together.shape == (3, 2 * model.config.n_embd)
    assert torch.allclose(together, alone, atol=1e-5)
    assert not torch.allclose(together[0], together[1])


def test_a_selector_dir_round_trips(generator, tmp_path):
    model, tokenizer = generator
    torch.manual_seed(1)
    selector = Selector(SelectorHead(model.config.n_embd, 8), [-1], Calibration(1.5, 0.25))
    selector.save(tmp_path, metrics={"roc_auc": 0.9}, trained_on={"corpus": "x"})
    assert sorted(path.name for path in tmp_path.iterdir()) == [CONFIG_FILE, WEIGHTS_FILE]
    loaded = Selector.load(tmp_path)
    texts = ["the shiny bug reboots.", "wizard"]
    assert loaded.probabilities(model, tokenizer, texts) == pytest.approx(
        selector.probabilities(model, tokenizer, texts)
    )
    assert loaded.info["metrics"] == {"roc_auc": 0.9}


def test_calibration_maps_logits_to_probabilities():
    probabilities = Calibration(2.0, -1.0).probability(torch.tensor([-10.0, 0.5, 10.0]))
    assert probabilities.tolist() == pytest.approx([torch.sigmoid(torch.tensor(-21.0)).item(), 0.5, 1.0], abs=1e-6)


def test_an_unknown_format_is_refused(tmp_path):
    Selector(SelectorHead(4, 2), [-1], Calibration()).save(tmp_path, metrics={}, trained_on={})
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text(json.dumps({**config, "format": 99}))
    with pytest.raises(ValueError, match="format 99"):
        Selector.load(tmp_path)
