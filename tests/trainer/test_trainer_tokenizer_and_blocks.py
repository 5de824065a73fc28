"""The from-scratch tokenizer and the packing of corpus lines into training blocks."""

from __future__ import annotations

import pytest

from trainer.blocks import IGNORED_LABEL, PackedBlocks
from trainer.tokenizer import END_OF_TEXT, train_bpe_tokenizer

LINES = ["the kernel greps the daemon.", "a wizard patches the bug.", "the bug forks."] * 20


@pytest.fixture(scope="module")
def tokenizer():
    return train_bpe_tokenizer(LINES, vocab_size=300)


def test_end_of_text_is_every_special_role(tokenizer):
    end = tokenizer.convert_tokens_to_ids(END_OF_TEXT)
    assert tokenizer.bos_token_id == tokenizer.eos_token_id == tokenizer.pad_token_id == end
    assert tokenizer.unk_token_id == end


def test_vocabulary_is_learnt_and_bounded(tokenizer):
    # 256 bytes + <|endoftext|> + merges learnt from the lines, never more than asked for.
    assert 257 < len(tokenizer) <= 300
    assert len(tokenizer("the kernel greps")["input_ids"]) < len("the kernel greps")


def test_any_text_round_trips_even_unseen_characters(tokenizer):
    text = "Ünïcode ✓ 漢字 🙂 and\ttabs"
    ids = tokenizer(text)["input_ids"]
    assert tokenizer.decode(ids) == text


def test_prompt_starts_with_one_end_of_text_token(tokenizer):
    ids = tokenizer(END_OF_TEXT + "wizard", add_special_tokens=False)["input_ids"]
    assert ids[0] == tokenizer.eos_token_id
    assert tokenizer.decode(ids[1:]) == "wizard"


def test_stream_is_end_of_text_then_line_for_each_line(tokenizer):
    blocks = PackedBlocks(["one line", "two"], tokenizer, block_size=64)
    assert tokenizer.decode(blocks.stream) == f"{END_OF_TEXT}one line{END_OF_TEXT}two"


def test_blocks_cover_the_stream_and_only_the_last_is_padded(tokenizer):
    blocks = PackedBlocks(LINES, tokenizer, block_size=16)
    total = blocks.num_tokens
    assert total % 16 != 0, "the test needs a partly filled last block"
    assert len(blocks) == total // 16 + 1

    items = [blocks[index] for index in range(len(blocks))]
    real = [item["input_ids"][item["attention_mask"] == 1] for item in items]
    assert [len(ids) for ids in real[:-1]] == [16] * (len(items) - 1)
    assert sum(len(ids) for ids in real) == total
    assert tokenizer.decode([token for ids in real for token in ids.tolist()]) == tokenizer.decode(
        blocks.stream
    )

    last = items[-1]
    filled = total % 16
    assert (last["labels"][:filled] == last["input_ids"][:filled]).all()
    assert (last["labels"][filled:] == IGNORED_LABEL).all()
    assert all(item["input_ids"].shape == (16,) for item in items)


def test_index_past_the_end_raises(tokenizer):
    blocks = PackedBlocks(["short"], tokenizer, block_size=16)
    with pytest.raises(IndexError):
        blocks[len(blocks)]
