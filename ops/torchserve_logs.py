"""Reading TorchServe's console log (the launcher's and the JVM's output, worker lines included) for one-line errors.

A worker's line looks like "<time> [INFO ] W-9000-<model>_<version>-stdout MODEL_LOG - <message>": its Python
output, a traceback among it when the model fails to load. Used by local_server.py while it waits for READY.
"""

from __future__ import annotations

import re
from pathlib import Path

WORKER_DIED = "Backend worker process died."
_WORKER_LINE = re.compile(r"\] W-\d+-(?P<model>.+)_[^_\s]+-std(?:out|err) MODEL_LOG - (?P<message>.*)$")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt)\b")
_TRACEBACK_FRAME = re.compile(r'^File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<function>\S+)')
# Console lines worth quoting when TorchServe exits during start (Java exceptions, launcher complaints) ...
_PROBLEM_LINE = re.compile(r"Exception|Error|failed|not found|already running|Invalid|Missing")
# ... except the start-up probes for GPU tools, which fail on every CPU host, and the interrupt Java logs while
# it shuts down after the real error.
_NOISE_LINE = re.compile(r"nvidia-smi|xpu-smi|InterruptedException")
_LOG_PREFIX = re.compile(r"^\S+ \[\w+\s*\] \S+ ")


def first_worker_failure(console: str) -> tuple[str, str, str | None] | None:
    """(model, the first exception line of its worker's output, the traceback frame just before it) for the
    first model whose worker died, or None. The "died" line may come before the traceback it explains."""
    messages: dict[str, list[str]] = {}
    died: list[str] = []
    for line in console.splitlines():
        match = _WORKER_LINE.search(line)
        if match is None:
            continue
        model, message = match["model"], match["message"].strip()
        messages.setdefault(model, []).append(message)
        if message == WORKER_DIED and model not in died:
            died.append(model)
    if not died:
        return None
    frame = None
    for message in messages[died[0]]:
        if _TRACEBACK_FRAME.match(message):
            # Frames inside "<frozen importlib._bootstrap>" and the like say nothing about the model.
            frame = frame if message.startswith('File "<') else message
        elif _EXCEPTION_LINE.match(message):
            return died[0], message, frame
    return died[0], WORKER_DIED, None


def describe_failure(failure: tuple[str, str, str | None] | None) -> str | None:
    """A first_worker_failure result as one line, or None for None."""
    if failure is None:
        return None
    model, reason, frame = failure
    where = ""
    if frame is not None:
        parts = _TRACEBACK_FRAME.match(frame)
        where = f" (at {Path(parts['file']).name}:{parts['line']} in {parts['function']})"
    return f"TorchServe could not load model '{model}': {reason}{where}"


def problem_lines(console: str, count: int = 3) -> str:
    """The last few console lines that name a problem (or simply the last few), joined into one line."""
    lines = [_LOG_PREFIX.sub("", line).strip() for line in console.splitlines() if line.strip()]
    problems = [line for line in lines if _PROBLEM_LINE.search(line) and not _NOISE_LINE.search(line)]
    chosen = (problems or lines)[-count:]
    return " | ".join(chosen) or "no output"
