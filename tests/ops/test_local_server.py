"""LocalTorchServe and `lorecast serve`, against real TorchServe instances on free ports of 127.0.0.1.

The models are throwaway .mar files built here from the handlers in tests/fixtures/serving/ (no weights): one
echoes each request, one fails to load. One isolated server is shared by the module; the CLI round trip and
the failing model start their own. Every test that starts one is `slow` (tests/conftest.py: `server` and
`model_store` by fixture, the failing model by its mark).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
from cli_harness import lorecast

from lorecast.errors import LorecastError
from ops.local_server import DEFAULT_CONFIG, STATE_FILE, LocalTorchServe

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "serving"
# Requests go to 127.0.0.1 only; a proxy from the environment must not see them.
HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def build_mar(handler: str, name: str, store: Path) -> Path:
    archiver = Path(sys.executable).parent / "torch-model-archiver"
    subprocess.run(
        [str(archiver), "--model-name", name, "--version", "1.0", "--handler", str(FIXTURES / handler),
         "--export-path", str(store), "-f"],
        check=True, capture_output=True,
    )
    return store / f"{name}.mar"


def post(url: str, payload: object, key: str | None = None) -> tuple[int, dict]:
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(url, data=json.dumps(payload).encode(), headers=headers)
    try:
        with HTTP.open(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.load(error)


def live_group(pgid: int) -> list[psutil.Process]:
    """Processes of the group that still run (zombies only wait to be reaped)."""
    live = []
    for process in psutil.process_iter(["status"]):
        try:
            if process.info["status"] != psutil.STATUS_ZOMBIE and os.getpgid(process.pid) == pgid:
                live.append(process)
        except OSError:
            continue
    return live


def free_ports(count: int) -> list[int]:
    """Distinct ports free on 127.0.0.1: every socket stays bound until the last one is picked."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@pytest.fixture(scope="module")
def model_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    store = tmp_path_factory.mktemp("store")
    build_mar("echo_handler.py", "echo", store)
    return store


@pytest.fixture(scope="module")
def server(model_store: Path, tmp_path_factory: pytest.TempPathFactory):
    with LocalTorchServe(
        tmp_path_factory.mktemp("run"), model_store, ["echo.mar"], isolated=True, clean_env=True, timeout=90
    ) as running:
        yield running


def test_inference_with_the_inference_key_answers_200(server: LocalTorchServe):
    status, body = post(server.predictions_url("echo"), {"n": 3, "seed": "kernel"}, server.inference_key)
    assert status == 200
    # config.properties turns TorchServe's JSON decoding off: the handler gets the body as it was sent.
    assert body == {"echo": json.dumps({"n": 3, "seed": "kernel"}), "batch": 1}


def test_inference_without_a_valid_key_answers_400(server: LocalTorchServe):
    for key in (None, server.management_key, "wrong-key"):
        status, body = post(server.predictions_url("echo"), {"n": 1}, key)
        assert (status, body["type"]) == (400, "InvalidKeyException")


def test_ping_metrics_and_model_workers(server: LocalTorchServe):
    assert server.ping() == "Healthy"
    assert server.model_workers() == {"echo": ["READY"]}
    # Prometheus text, and no key needed for it.
    with HTTP.open(f"{server.metrics_url}/metrics", timeout=10) as response:
        assert response.status == 200
        assert "# TYPE " in response.read().decode()


def test_run_dir_config_overrides_the_base_and_isolates_temp_files(server: LocalTorchServe, model_store: Path):
    config = dict(
        line.split("=", 1) for line in (server.run_dir / "config.properties").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert config["model_store"] == str(model_store)
    assert config["load_models"] == "echo.mar"
    assert config["inference_address"] == server.inference_url != "http://127.0.0.1:8080"
    assert config["metrics_mode"] == "prometheus"  # kept from the root config
    assert len({config[key] for key in ("grpc_inference_port", "grpc_management_port")}) == 2
    assert "7070" not in (config["grpc_inference_port"], config["grpc_management_port"])
    # TMPDIR/TEMP point into the run dir: the pid file and the extracted archive live there.
    assert (server.run_dir / ".model_server.pid").is_file()
    assert any((server.run_dir / "models").iterdir())
    assert (server.run_dir / "key_file.json").is_file()


def test_clean_env_gives_torchserve_only_path_and_temp_dirs(server: LocalTorchServe):
    # The launcher's environment as it was handed over (Python itself then adds LC_CTYPE in a C locale).
    launcher = psutil.Process(server.pid)
    assert "torchserve" in " ".join(launcher.cmdline())
    assert set(launcher.environ()) == {"PATH", "TMPDIR", "TEMP"}
    assert launcher.environ()["TEMP"] == str(server.run_dir)


def test_attach_finds_the_running_server_from_its_run_dir(server: LocalTorchServe):
    attached = LocalTorchServe.attach(server.run_dir)
    assert attached is not None and attached.running
    assert (attached.pid, attached.inference_url, attached.management_url, attached.metrics_url) == (
        server.pid, server.inference_url, server.management_url, server.metrics_url,
    )
    assert attached.model_names == ["echo"]
    assert attached.inference_key == server.inference_key
    assert LocalTorchServe.attach(server.run_dir.parent / "elsewhere") is None


def test_a_second_start_in_the_same_run_dir_is_refused(server: LocalTorchServe, model_store: Path):
    second = LocalTorchServe(server.run_dir, model_store, isolated=True)
    with pytest.raises(LorecastError, match="already runs"):
        second.start()
    assert second.pid is None
    result = lorecast("serve", "start", "--run-dir", server.run_dir, "--model-store", model_store)
    assert isinstance(result.exception, LorecastError) and "already runs" in str(result.exception)
    assert server.ping() == "Healthy"


def test_serve_cli_start_status_stop_round_trip(tmp_path: Path, model_store: Path):
    names = ("inference", "management", "metrics", "grpc_inference", "grpc_management")
    ports = dict(zip(names, free_ports(len(names))))
    # The root config with other ports: for TorchServe, as for Java properties, the last value of a key wins.
    addresses = [f"{api}_address=http://127.0.0.1:{ports[api]}" for api in ("inference", "management", "metrics")]
    grpc = [f"{api}_port={ports[api]}" for api in ("grpc_inference", "grpc_management")]
    config_text = DEFAULT_CONFIG.read_text() + "\n".join(["", *addresses, *grpc, ""])
    config = tmp_path / "config.properties"
    config.write_text(config_text)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    # Not isolated: the CLI takes its ports from the config and leaves TMPDIR/TEMP to the environment.
    env = {"TMPDIR": str(run_dir), "TEMP": str(run_dir)}
    args = ["--run-dir", str(run_dir)]

    started = lorecast("serve", "start", "--model-store", model_store, "--config", config, "--timeout", "90", *args,
                       env=env)
    assert started.exit_code == 0, started.output or started.exception
    predictions = f"http://127.0.0.1:{ports['inference']}/predictions/echo"
    assert predictions in started.output
    assert f"lorecast generate --endpoint {predictions} --key-file {run_dir / 'key_file.json'}" in started.output
    keys = json.loads((run_dir / "key_file.json").read_text())
    assert keys["inference"]["key"] not in started.output
    pid = json.loads((run_dir / STATE_FILE).read_text())["pid"]
    assert live_group(pid)
    assert post(predictions, {"n": 1}, keys["inference"]["key"])[0] == 200

    shown = lorecast("serve", "status", *args, env=env)
    assert shown.exit_code == 0
    assert f"pid {pid}" in shown.output and "Healthy" in shown.output
    assert "echo: 1/1 workers READY" in shown.output
    assert keys["management"]["key"] not in shown.output and keys["inference"]["key"] not in shown.output

    stopped = lorecast("serve", "stop", *args, env=env)
    assert stopped.exit_code == 0 and f"Stopped TorchServe (pid {pid})" in stopped.output
    assert live_group(pid) == []
    assert not (run_dir / STATE_FILE).exists() and not (run_dir / "key_file.json").exists()

    after = lorecast("serve", "status", *args, env=env)
    assert after.exit_code == 1 and "not running" in after.output
    assert "nothing to stop" in lorecast("serve", "stop", *args, env=env).output


def test_serve_cli_start_refuses_a_model_store_without_a_mar(tmp_path: Path):
    (tmp_path / "store").mkdir()
    result = lorecast("serve", "start", "--model-store", tmp_path / "store", "--run-dir", tmp_path / "run")
    assert isinstance(result.exception, LorecastError)
    assert "no .mar" in str(result.exception) and str(tmp_path / "store") in str(result.exception)
    assert not (tmp_path / "run").exists()


@pytest.mark.slow  # starts a TorchServe of its own
def test_a_model_that_fails_to_load_gives_one_line_and_leaves_nothing_running(tmp_path: Path):
    store = tmp_path / "store"
    store.mkdir()
    build_mar("failing_handler.py", "failing", store)
    server = LocalTorchServe(tmp_path / "run", store, ["failing.mar"], isolated=True)
    server.start()
    pid = server.pid
    with pytest.raises(LorecastError) as raised:
        server.wait_ready(timeout=60)
    message = str(raised.value)
    assert "\n" not in message
    assert "'failing'" in message and "RuntimeError: fixture model refuses to load" in message
    assert "failing_handler.py:" in message
    assert live_group(pid) == []
    assert server.pid is None and not (tmp_path / "run" / STATE_FILE).exists()


def test_an_unknown_model_is_named_before_anything_starts(tmp_path: Path, model_store: Path):
    server = LocalTorchServe(tmp_path / "run", model_store, ["nope.mar"], isolated=True)
    with pytest.raises(LorecastError, match=r"nope\.mar: not in the model store \(it holds echo\.mar\)"):
        server.start()
    assert server.pid is None


def test_without_process_groups_the_error_says_to_run_torchserve_directly(
    tmp_path: Path, model_store: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.delattr(os, "killpg")
    with pytest.raises(LorecastError, match=r"torchserve --start"):
        LocalTorchServe(tmp_path / "run", model_store).start()
    assert not (tmp_path / "run").exists()
