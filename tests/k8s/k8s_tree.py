"""The k8s/ tree for the tests of tests/k8s: where it is, how to find an object in its rendered output, and how to
break a copy of it in one place (a kustomize patch added to an overlay, or a file added to the base)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "k8s"
# The platforms with a reply CronJob: Tumblr's API does not let a blog read or answer its asks.
REPLY_PLATFORMS = ("twitter", "mastodon", "bluesky")
PLATFORMS = ("twitter", "tumblr", "mastodon", "bluesky")
POD_SPEC = {"Deployment": "/spec/template/spec", "CronJob": "/spec/jobTemplate/spec/template/spec"}


def find_kind(documents: list[dict[str, Any]], kind: str, component: str) -> dict[str, Any]:
    """The first `kind` whose pods (or, for a Service, selector) carry app.kubernetes.io/component=component."""
    for document in documents:
        if document["kind"] != kind:
            continue
        if kind == "Service":
            labels = document["spec"].get("selector") or {}
        elif kind == "CronJob":
            labels = document["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"]
        else:
            labels = document["spec"]["template"]["metadata"]["labels"]
        if labels.get("app.kubernetes.io/component") == component:
            return document
    raise AssertionError(f"no {kind} of the {component} in the rendered tree")


def find_named(documents: list[dict[str, Any]], kind: str, name: str) -> dict[str, Any]:
    for document in documents:
        if document["kind"] == kind and document["metadata"]["name"] == name:
            return document
    raise AssertionError(f"no {kind}/{name} in the rendered tree")


def poster_cronjobs(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [document for document in documents if document["kind"] == "CronJob"
            and document["spec"]["jobTemplate"]["spec"]["template"]["metadata"]["labels"].get(
                "app.kubernetes.io/component") == "poster"]


def pod_spec_of(document: dict[str, Any]) -> dict[str, Any]:
    node = document
    for key in POD_SPEC[document["kind"]].strip("/").split("/"):
        node = node[key]
    return node


def patch_overlay(root: Path, document: dict[str, Any], operations: list[dict[str, Any]],
                  overlay: str = "cpu") -> None:
    """Add a JSON 6902 patch of `document` to the overlay's kustomization."""
    path = root / "overlays" / overlay / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text(encoding="utf-8"))
    target = {"kind": document["kind"], "name": document["metadata"]["name"]}
    kustomization.setdefault("patches", []).append({"target": target, "patch": yaml.safe_dump(operations)})
    path.write_text(yaml.safe_dump(kustomization, sort_keys=False), encoding="utf-8")


def add_to_base(root: Path, file_name: str, documents: list[dict[str, Any]]) -> None:
    (root / "base" / file_name).write_text(yaml.safe_dump_all(documents), encoding="utf-8")
    path = root / "base" / "kustomization.yaml"
    kustomization = yaml.safe_load(path.read_text(encoding="utf-8"))
    kustomization["resources"].append(file_name)
    path.write_text(yaml.safe_dump(kustomization, sort_keys=False), encoding="utf-8")


def name_of(document: dict[str, Any]) -> str:
    return f"{document['kind']}/{document['metadata']['name']}"
