"""The selector's features, head and dir (contract 3), on the model the suite trains."""

from __future__ import annotations

import json
import math

import pytest
import torch
from safetensors.torch import save_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from serve_handler.selector import (
    CONFIG_FILE,
    TOKEN_STATS,
    WEIGHTS_FILE,
    Calibration,
    Selector,
    SelectorHead,
    text_features,
)


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


def test_token_statistics_match_a_direct_reading_and_do_not_depend_on_the_batch(generator):
    model, tokenizer = generator
    texts = ["the old kernel crashes the terminal.", "bug.", "a clever wizard greps the shiny packet again."]
    stats = list(TOKEN_STATS)
    together = text_features(model, tokenizer, texts, [-1], token_stats=stats)
    alone = torch.cat([text_features(model, tokenizer, [text], [-1], token_stats=stats) for text in texts])
    assert together.shape == (3, model.config.n_embd + len(stats))
    assert torch.allclose(together, alone, atol=1e-4)
    for row, text in zip(together, texts):
        ids = [tokenizer.bos_token_id, *tokenizer(text, add_special_tokens=False)["input_ids"]]
        with torch.no_grad():
            logits = model(torch.tensor([ids])).logits[0, :-1]
        targets = torch.tensor(ids[1:])
        log_probs = logits.log_softmax(-1).gather(-1, targets[:, None]).squeeze(-1)
        got = dict(zip(stats, row[model.config.n_embd:].tolist()))
        assert got["mean_logprob"] == pytest.approx(log_probs.mean().item(), abs=1e-4)
        assert got["min_logprob"] == pytest.approx(log_probs.min().item(), abs=1e-4)
        assert got["top1_share"] == pytest.approx((logits.argmax(-1) == targets).float().mean().item())
        assert got["log_tokens"] == pytest.approx(math.log(len(targets)))


def test_a_selector_with_token_statistics_round_trips_and_a_format_1_dir_still_serves(generator, tmp_path):
    model, tokenizer = generator
    torch.manual_seed(2)
    stats = ["mean_logprob", "top10_share", "mean_entropy"]
    head = SelectorHead(model.config.n_embd + len(stats), 8, stat_count=len(stats))
    head.standardize_like(text_features(model, tokenizer, ["the bug.", "the old daemon forks.", "the wizard."], [-1],
                                        token_stats=stats), pooled=True)
    with_stats = Selector(head, [-1], Calibration(), token_stats=stats)
    with_stats.save(tmp_path / "v2", metrics={}, trained_on={})
    texts = ["the shiny bug reboots.", "wizard"]
    assert Selector.load(tmp_path / "v2").probabilities(model, tokenizer, texts) == pytest.approx(
        with_stats.probabilities(model, tokenizer, texts))

    # A format 1 dir as lorecast wrote them before token statistics: net.0 the LayerNorm, net.1 and net.3 Linears.
    pooled_only = Selector(SelectorHead(model.config.n_embd, 8), [-1], Calibration(1.2, 0.1))
    old = tmp_path / "v1"
    old.mkdir()
    names = {"norm.": "net.0.", "mlp.0.": "net.1.", "mlp.2.": "net.3."}
    save_file({names[prefix] + name[len(prefix):]: tensor.contiguous()
               for name, tensor in pooled_only.head.state_dict().items()
               for prefix in names if name.startswith(prefix)}, old / WEIGHTS_FILE)
    (old / CONFIG_FILE).write_text(json.dumps({"format": 1, "layers": [-1], "feature_size": model.config.n_embd,
                                               "hidden_size": 8, "calibration": {"a": 1.2, "b": 0.1}}))
    loaded = Selector.load(old)
    assert loaded.token_stats == []
    assert loaded.probabilities(model, tokenizer, texts) == pytest.approx(
        pooled_only.probabilities(model, tokenizer, texts))


def test_unknown_token_statistics_are_refused(generator, tmp_path):
    model, tokenizer = generator
    with pytest.raises(ValueError, match="unknown token statistics perplexity"):
        text_features(model, tokenizer, ["bug."], [-1], token_stats=["perplexity"])
    Selector(SelectorHead(5, 2, stat_count=1), [-1], Calibration(), token_stats=["mean_logprob"]).save(
        tmp_path, metrics={}, trained_on={})
    config = json.loads((tmp_path / CONFIG_FILE).read_text())
    (tmp_path / CONFIG_FILE).write_text(json.dumps({**config, "token_stats": ["perplexity"]}))
    with pytest.raises(ValueError, match="unknown token statistics perplexity"):
        Selector.load(tmp_path)
