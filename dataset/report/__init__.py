"""The HTML report of `lorecast dataset inspect`.

    stats.py    the numbers, pure Python (no matplotlib), usable on their own
    charts.py   the PNG charts (the only module that imports matplotlib)
    page.py     the self-contained HTML page
    writer.py   write_report(): the report dir, tying the three together

This package init stays empty so that importing `dataset.report.stats` never loads matplotlib.
"""
