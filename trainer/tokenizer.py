"""The from-scratch tokenizer: GPT-2 style byte-level BPE learnt on train.txt.

`<|endoftext|>` is the only special token and serves as bos, eos, pad and unk, as in GPT-2: it
separates corpus lines, so a prompt of `<|endoftext|>` + a word starts a new line.
"""

from __future__ import annotations

from transformers import PreTrainedTokenizerFast

END_OF_TEXT = "<|endoftext|>"


def train_bpe_tokenizer(lines: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """Learn a byte-level BPE of at most `vocab_size` tokens from `lines`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tokenizer = Tokenizer(models.BPE())
    # No prefix space, like GPT-2: a line's first word is tokenized as it follows `<|endoftext|>`.
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tokenizer.decoder = decoders.ByteLevel()
    tokenizer.post_processor = processors.ByteLevel(trim_offsets=False)
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=[END_OF_TEXT],
        # Every byte is in the vocabulary, so any text encodes and nothing needs an unk token.
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tokenizer.train_from_iterator(lines, trainer=trainer, length=len(lines))
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        bos_token=END_OF_TEXT,
        eos_token=END_OF_TEXT,
        unk_token=END_OF_TEXT,
        pad_token=END_OF_TEXT,
    )
