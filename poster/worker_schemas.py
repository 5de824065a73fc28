"""The worker's JSON Schemas (contract 5), read as data: serve_handler/request_schema.json and
response_schema.json, the one source of truth for the inference API.

find_spec locates the worker package without running it: the files are the only thing the poster takes from
serve_handler, whose modules need torch. They ship in every install (package data of the distribution).
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any


def worker_schema(name: str) -> dict[str, Any]:
    """One of the worker's schema files, e.g. "request_schema.json"."""
    spec = importlib.util.find_spec("serve_handler")
    return json.loads((Path(spec.origin).parent / name).read_text(encoding="utf-8"))
