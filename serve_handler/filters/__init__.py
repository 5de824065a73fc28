"""Candidate filters: what a generated text must pass before the handler may serve it.

Each filter is one class in its own module (base.py holds the `Draft` they judge and the `CandidateFilter`
interface); `default_chain` (chain.py) runs them in the handler's order and counts rejections by reason:

    sentence_end   an incomplete draft is cut after its last sentence end; none -> rejected   sentence_end.py
    length         shorter than min_chars or longer than max_chars                          length.py
    blocklist      contains a blocked term, however spelled                                 blocklist.py
    toxicity       the offline profanity model's probability >= the threshold               toxicity.py
    novelty        too close to a training sentence for the request's min_novelty           novelty.py
    duplicate      same text as an earlier kept draft of the batch                          duplicate.py
"""

from serve_handler.filters.base import CandidateFilter, Draft
from serve_handler.filters.blocklist import BlocklistFilter
from serve_handler.filters.chain import FilterChain, default_chain
from serve_handler.filters.duplicate import DuplicateFilter
from serve_handler.filters.length import LengthBounds
from serve_handler.filters.novelty import NoveltyFilter
from serve_handler.filters.sentence_end import SentenceEndCut
from serve_handler.filters.toxicity import ToxicityFilter

__all__ = [
    "BlocklistFilter",
    "CandidateFilter",
    "Draft",
    "DuplicateFilter",
    "FilterChain",
    "LengthBounds",
    "NoveltyFilter",
    "SentenceEndCut",
    "ToxicityFilter",
    "default_chain",
]
