"""Fixtures of the k8s tests: the real tree rendered once a module, a copy of it to break, and kubernetes-validate's
schemas parsed once a module."""

from __future__ import annotations

import functools
import shutil
from pathlib import Path
from typing import Any

import pytest
from k8s_tree import K8S
from kubernetes_validate import utils as kubernetes_validate_utils

from ops.k8s_check import parse, render


@pytest.fixture(scope="module", autouse=True)
def _schemas_parsed_once():
    """kubernetes-validate opens and parses its schema files (about 0.25 s a tree) on every validation; they do not
    change during the run, so a module's in-process checks parse each one once. Validation stays as strict."""
    with pytest.MonkeyPatch.context() as patch:
        cached = functools.lru_cache(maxsize=None)(kubernetes_validate_utils.schema_contents)
        patch.setattr(kubernetes_validate_utils, "schema_contents", cached)
        yield


@pytest.fixture(scope="module")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """The documents of each overlay of the real tree."""
    overlays = {}
    for overlay in ("cpu", "gpu"):
        documents, problems = parse(render(K8S / "overlays" / overlay))
        assert problems == []
        overlays[overlay] = documents
    return overlays


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the real k8s/ tree to break."""
    return Path(shutil.copytree(K8S, tmp_path / "k8s"))
