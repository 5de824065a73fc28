"""The two scripts of the TorchServe image, run outside it: docker/torchserve-ready.py (the startup probe) against
a stand-in management API, and docker/torchserve-entrypoint.sh (config joining, stop signal passed on to java)
with a stand-in `torchserve` launcher on PATH. Neither needs Docker, Java or TorchServe."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

DOCKER_DIR = Path(__file__).resolve().parents[2] / "docker"
READY = DOCKER_DIR / "torchserve-ready.py"
ENTRYPOINT = DOCKER_DIR / "torchserve-entrypoint.sh"


# --- torchserve-ready -------------------------------------------------------------------------------------------

class ManagementApi(BaseHTTPRequestHandler):
    """Answers GET /models and GET /models/NAME like TorchServe's management API, from `self.server.workers`."""

    def do_GET(self) -> None:  # noqa: N802 (the http.server name)
        workers: dict[str, list[str]] = self.server.workers  # type: ignore[attr-defined]
        if self.path == "/models":
            body = {"models": [{"modelName": name, "modelUrl": f"{name}.mar"} for name in workers]}
        elif self.path.removeprefix("/models/") in workers:
            statuses = workers[self.path.removeprefix("/models/")]
            body = [{"modelName": self.path, "workers": [{"id": str(9000 + i), "status": status}
                                                         for i, status in enumerate(statuses)]}]
        else:
            self.send_error(404)
            return
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def management() -> Iterator[ThreadingHTTPServer]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), ManagementApi)
    server.workers = {}  # type: ignore[attr-defined]
    # A short poll interval: shutdown() waits up to one interval (0.5 s by default), and every test stops it.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def run_ready(url: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(READY), url], capture_output=True, text=True, timeout=30)


def url_of(server: ThreadingHTTPServer) -> str:
    return f"http://127.0.0.1:{server.server_address[1]}"


def test_ready_when_every_worker_of_every_model_is_ready(management):
    management.workers.update({"lorecast": ["READY", "READY"], "other": ["READY"]})
    done = run_ready(url_of(management))
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""


@pytest.mark.parametrize("workers, reason", [
    ({}, "no model registered"),
    ({"lorecast": []}, "model lorecast: no worker"),
    ({"lorecast": ["UNLOADING"]}, "model lorecast: workers UNLOADING"),  # what TorchServe shows while loading
    ({"lorecast": ["READY"], "other": ["READY", "STOPPED"]}, "model other: workers STOPPED"),
])
def test_not_ready_names_the_reason(management, workers, reason):
    management.workers.update(workers)
    done = run_ready(url_of(management))
    assert done.returncode == 1
    assert done.stderr.strip() == f"not ready: {reason}"


def test_not_ready_while_the_management_api_is_down(management):
    url = url_of(management)
    management.shutdown()
    management.server_close()
    done = run_ready(url)
    assert done.returncode == 1
    assert done.stderr.startswith(f"not ready: {url}:")
    assert "Traceback" not in done.stderr


# --- the entrypoint ---------------------------------------------------------------------------------------------

# Stands in for TorchServe's launcher: it records its arguments, starts a long-lived "java" child, writes the
# child's pid where the real launcher does, and only waits for it: like the real one, it passes no signal on.
FAKE_LAUNCHER = """#!/bin/sh
printf '%s\\n' "$@" > "$TMPDIR/launcher-args"
sleep 300 &
echo $! > "$TMPDIR/.model_server.pid"
wait $!
"""


@pytest.fixture
def image_dirs(tmp_path: Path) -> dict[str, Path]:
    bin_dir, config_dir, run_dir = tmp_path / "bin", tmp_path / "torchserve.d", tmp_path / "tmp"
    for directory in (bin_dir, config_dir, run_dir):
        directory.mkdir()
    launcher = bin_dir / "torchserve"
    launcher.write_text(FAKE_LAUNCHER)
    launcher.chmod(0o755)
    return {"bin": bin_dir, "config": config_dir, "run": run_dir}


def start_entrypoint(dirs: dict[str, Path]) -> subprocess.Popen:
    env = {"PATH": f"{dirs['bin']}:/usr/bin:/bin", "TMPDIR": str(dirs["run"]),
           "TORCHSERVE_CONFIG_DIR": str(dirs["config"])}
    return subprocess.Popen(["sh", str(ENTRYPOINT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)


def wait_for(path: Path, timeout_s: float = 10.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.is_file() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    raise AssertionError(f"{path} never appeared")


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_joins_the_config_files_in_name_order_and_stops_java_on_sigterm(image_dirs):
    # Written out of order, and the first without a final newline: the join must not glue two lines together.
    (image_dirs["config"] / "20-gpu.properties").write_text("number_of_gpu=1\n")
    (image_dirs["config"] / "10-cluster.properties").write_text("# base\nnumber_of_gpu=0")
    (image_dirs["config"] / "notes.txt").write_text("not a properties file\n")
    process = start_entrypoint(image_dirs)
    try:
        java_pid = int(wait_for(image_dirs["run"] / ".model_server.pid"))
        config = image_dirs["run"] / "config.properties"
        assert config.read_text().splitlines() == ["# base", "number_of_gpu=0", "number_of_gpu=1", ""]
        arguments = wait_for(image_dirs["run"] / "launcher-args").splitlines()
        assert arguments == ["--start", "--foreground", "--ncs", "--ts-config", str(config)]

        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)  # the launcher ends once its java child has
        assert not alive(java_pid)
    finally:  # whatever the outcome, nothing the test started outlives it
        try:
            os.killpg(process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        process.wait()
        process.stdout.close()
        process.stderr.close()


def test_refuses_to_start_without_a_config_file(image_dirs):
    process = start_entrypoint(image_dirs)
    _, stderr = process.communicate(timeout=10)
    assert process.returncode == 1
    assert stderr.strip() == f"error: no *.properties file in {image_dirs['config']}"
    assert not (image_dirs["run"] / "launcher-args").exists()  # TorchServe was never started
