"""Text rules that more than one package must apply alike: above all the corpus build (dataset/) and the
TorchServe worker (serve_handler/), and the posters' ledger (forms.py).

Standard library only, and nothing of ours: `lorecast archive` packs this package beside serve_handler/ in every
.mar, and dataset/ imports it without reaching into the worker.

    blocklist.py      the blocklist file format and the one matcher (whole words, obscured spellings)
    sentences.py      the abbreviations after which a full stop ends no sentence
    forms.py          the normal forms texts are compared in, one per purpose (novelty, blocklist, ledger,
                      platform)
"""
