"""What each deployable pulls in: a poster install (base + `poster` extra) must not pull torch."""

from __future__ import annotations

import re
from importlib.metadata import requires

HEAVY = {"torch", "transformers", "accelerate", "tokenizers", "safetensors", "matplotlib"}


def _requirements(extra: str | None) -> set[str]:
    """Distribution names required by the base install (extra=None) or by one extra alone."""
    names = set()
    for requirement in requires("lorecast") or []:
        spec, _, marker = requirement.partition(";")
        wanted = re.search(r"extra\s*==\s*['\"]([\w-]+)['\"]", marker)
        if (wanted.group(1) if wanted else None) == extra:
            names.add(re.match(r"[A-Za-z0-9_.-]+", spec.strip()).group(0).lower())
    return names


def test_poster_install_pulls_no_torch():
    poster_install = _requirements(None) | _requirements("poster")
    assert {"click", "requests", "requests-oauthlib"} <= poster_install
    assert not poster_install & HEAVY


def test_training_extra_has_what_training_imports():
    assert {"torch", "transformers", "accelerate", "tokenizers", "safetensors"} <= _requirements("train")
