"""The HTML report of `lorecast ledger report`: the bot's record, read from the poster's ledger.

    stats.py       the numbers, pure Python (no matplotlib), read through the Ledger's public methods
    charts.py      the PNG charts (the only module that imports matplotlib: the `inspect` extra)
    page.py        the self-contained index.html
    writer.py      write_report(): the report dir, tying them together

It follows dataset/report/ (the house's other HTML report) without importing it: poster must not import dataset.
This package init stays empty so that `lorecast ledger --help` never loads matplotlib.
"""
