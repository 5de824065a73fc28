"""Scripts run from the repository root (`python scripts/NAME.py`); a package so that the tests can import them."""
