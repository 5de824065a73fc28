"""POSIX process groups for the local TorchServe: which live processes a group holds, whether one of them is
TorchServe's, and signalling the whole group. Windows has no process groups: require_process_groups says so."""

from __future__ import annotations

import os

import psutil

from lorecast.errors import LorecastError


def require_process_groups() -> None:
    if not hasattr(os, "killpg"):
        raise LorecastError(
            "lorecast serve needs POSIX process groups, which this system (Windows) lacks: run "
            "`torchserve --start --ts-config config.properties` directly instead (see README)"
        )


def group_members(pgid: int) -> list[psutil.Process]:
    """The live processes of a process group (zombies do not count: they wait only to be reaped)."""
    members = []
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                members.append(process)
        except OSError:
            continue
    return members


def is_torchserve(process: psutil.Process) -> bool:
    """Whether `process` is TorchServe's launcher, its JVM or one of its Python workers."""
    try:
        command = " ".join(process.cmdline())
    except psutil.Error:
        return False
    return any(mark in command for mark in ("torchserve", "org.pytorch.serve.ModelServer", "model_service_worker"))


def signal_group(pgid: int, signal_number: int) -> None:
    """Send a signal to every process of the group; a group that is already gone is fine."""
    try:
        os.killpg(pgid, signal_number)
    except ProcessLookupError:
        pass
