"""English function words and the most common verbs: words that say nothing about a corpus.

One list for the seed words (`dataset.seed_words`) and the inspect report's top words
(`dataset.report.stats`). Lower-case; contractions are listed with a plain apostrophe.
"""

STOPWORDS = frozenset(
    """
    a about above after again against all also although am among an and another any anyone
    anything are aren't around as at be because been before being below between both but by can
    can't cannot could couldn't did didn't do does doesn't doing don't down during each either
    else etc even ever every few for from further get gets got had hadn't has hasn't have
    haven't having he her here hers herself him himself his how however i i'd i'll i'm i've if
    in into is isn't it it's its itself just let like made make many may me might more most much
    must mustn't my myself neither never no nor not now of off on once one only onto or other
    others our ours ourselves out over own per quite rather same see seen shall she she'd she'll
    should shouldn't since so some something such than that that's the their theirs them
    themselves then there these they they'd they'll they're they've this those though through
    thus to too two under until up upon use used using very via was wasn't way we we'd we'll
    we're we've well were weren't what when where which while who whom whose why will with
    within without won't would wouldn't yet you you'd you'll you're you've your yours yourself
    yourselves
    """.split()
)
