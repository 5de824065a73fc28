"""Answering what someone said to the bot (the request's `reply_to`): the text cleaned, and the two ways a
generation is conditioned on it (service.py picks one per archive).

    said = spoken_text("@bot@mastodon.social what is a  Kernel? https://x.y")   -> "what is a Kernel?"
    conversation_prompt(said)   -> "<|sor|>what is a Kernel?<|eor|><|sor|>"   the tags of the Reddit source
    answer_of(continuation)     -> the model's answer: the continuation up to the first tag it writes
    mention_words(said)         -> ["Kernel"]   the words a seed may come from, as said: letters only, at least 3
                                   of them, common function words left out, in the order said

Tags in what was said (`<|eor|>`, ...) are dropped with the mentions, so a mention cannot close its own turn and
write the model's prompt.

A corpus built with `--conversation-tags` was trained on `<|sor|>parent<|eor|><|sor|>reply<|eor|>` (see
dataset/sources/reddit.py), so a mention given as the parent asks the model for the reply, in context.
"""

from __future__ import annotations

import re

MAX_SAID_CHARS = 1000
TURN_START, TURN_END = "<|sor|>", "<|eor|>"
_TAG = re.compile(r"<\|[a-z]+\|>")

# @user, @user@host and @handle.bsky.social; then URLs. Both say nothing a model trained on a corpus knows.
_MENTION = re.compile(r"(?<![\w@])@[\w.-]+(?:@[\w.-]+)?")
_URL = re.compile(r"\bhttps?://\S+", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{3,}")
_FUNCTION_WORDS = frozenset("""
    about above after again against all also and any are aren because been before being below between both but can
    cannot could did does doing don down during each even ever few for from further had has have having her here
    hers herself him himself his how into its itself just let like more most much must myself nor not now off once
    only other ought our ours ourselves out over own same she should some such than that the their theirs them
    themselves then there these they this those through too under until upon very was way were what when where
    which while who whom why will with would yes yet you your yours yourself yourselves tell know think really
    please thanks thank hey hello hi
""".split())


def spoken_text(reply_to: str) -> str:
    """What was said, without @-mentions, links and conversation tags, whitespace runs collapsed to one space,
    stripped."""
    return " ".join(_TAG.sub(" ", _URL.sub(" ", _MENTION.sub(" ", reply_to))).split())


def conversation_prompt(said: str) -> str:
    return f"{TURN_START}{said}{TURN_END}{TURN_START}"


def answer_of(continuation: str) -> tuple[str, bool]:
    """The answer in a continuation of conversation_prompt, and whether the model ended it (wrote a tag)."""
    tag = _TAG.search(continuation)
    return (continuation, False) if tag is None else (continuation[:tag.start()], True)


def mention_words(said: str) -> list[str]:
    return [word for word in (match.group() for match in _WORD.finditer(said)) if word.lower() not in _FUNCTION_WORDS]
