"""TorchServe's config.properties: read it, write a run's copy with overrides, and pick free ports for an
isolated run.

The format, as TorchServe's launcher reads it: `key=value` lines; a line starting with '#' is a comment.
"""

from __future__ import annotations

import socket

# TorchServe's own defaults, for a base config that leaves an address out.
_DEFAULT_ADDRESSES = {
    "inference_address": "http://127.0.0.1:8080",
    "management_address": "http://127.0.0.1:8081",
    "metrics_address": "http://127.0.0.1:8082",
}
_GRPC_PORT_KEYS = ("grpc_inference_port", "grpc_management_port")


def parse_properties(text: str) -> dict[str, str]:
    """key=value lines, as TorchServe's launcher reads them (a comment line starts with '#')."""
    properties = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#") and "=" in line:
            key, value = line.split("=", 1)
            properties[key.strip()] = value.strip()
    return properties


def merge_properties(base: str, overrides: dict[str, str], base_name: str) -> str:
    """The base text with the overridden keys' lines dropped and the overrides appended."""
    kept = [
        line
        for line in base.splitlines()
        if line.strip().startswith("#") or line.split("=", 1)[0].strip() not in overrides
    ]
    return "\n".join(
        [f"# Written by lorecast from {base_name}; edit that file, not this one.", *kept, "",
         "# This run's overrides:", *(f"{key}={value}" for key, value in overrides.items()), ""]
    )


def api_urls(properties: dict[str, str]) -> tuple[str, str, str]:
    """The inference, management and metrics URLs that parsed properties give (TorchServe's defaults where
    they leave one out), without a trailing '/'."""
    inference, management, metrics = (
        (properties.get(key) or default).rstrip("/") for key, default in _DEFAULT_ADDRESSES.items()
    )
    return inference, management, metrics


def isolated_addresses() -> dict[str, str]:
    """Overrides that put each HTTP API and gRPC port of TorchServe on its own free port of 127.0.0.1."""
    ports = _free_ports(len(_DEFAULT_ADDRESSES) + len(_GRPC_PORT_KEYS))
    overrides = {key: f"http://127.0.0.1:{port}" for key, port in zip(_DEFAULT_ADDRESSES, ports)}
    for key, port in zip(_GRPC_PORT_KEYS, ports[len(_DEFAULT_ADDRESSES):]):
        overrides[key] = str(port)
    return overrides


def _free_ports(count: int) -> list[int]:
    """Ports free on 127.0.0.1 right now; all sockets stay open until the last is picked, so they differ."""
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()
