"""Corpus lines packed into fixed-size training blocks, GPT-2 style.

The lines become one token stream, `<eos>line<eos>line...`, cut into blocks of `block_size`
tokens. Blocks cross line boundaries on purpose: the model learns that after `<eos>` a new line
starts, which is what a prompt of `<eos>` + a seed word asks of it. The last, shorter block is
padded; padding is masked out of attention and its labels are -100, so no text is dropped and
padding never counts in the loss.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedTokenizerBase

IGNORED_LABEL = -100  # the label value Hugging Face losses skip


class PackedBlocks(torch.utils.data.Dataset):
    """Blocks of `input_ids`, `attention_mask` and `labels` (the Trainer shifts labels itself)."""

    def __init__(self, lines: list[str], tokenizer: PreTrainedTokenizerBase, block_size: int):
        eos = tokenizer.eos_token_id
        stream: list[int] = []
        for ids in tokenizer(lines, add_special_tokens=False)["input_ids"]:
            stream.append(eos)
            stream.extend(ids)
        self.block_size = block_size
        self.stream = torch.tensor(stream, dtype=torch.long)
        self.pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else eos

    @property
    def num_tokens(self) -> int:
        return len(self.stream)

    def __len__(self) -> int:
        return -(-len(self.stream) // self.block_size)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(index)
        block = self.stream[index * self.block_size : (index + 1) * self.block_size]
        filled = len(block)
        padding = self.block_size - filled
        input_ids = torch.cat([block, torch.full((padding,), self.pad_id, dtype=torch.long)])
        attention_mask = torch.zeros(self.block_size, dtype=torch.long)
        attention_mask[:filled] = 1
        labels = input_ids.clone()
        labels[filled:] = IGNORED_LABEL
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
