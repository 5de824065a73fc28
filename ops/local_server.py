"""A local TorchServe that lorecast starts, waits for and stops: for `lorecast serve`, the tests and the benchmark.

Not imported inside the TorchServe worker. POSIX only: TorchServe runs as `torchserve --start --foreground` in
a session of its own, so the launcher, the JVM and the Python workers share one process group, and stop()
signals that group as a whole (SIGTERM, then SIGKILL after a timeout). Windows has no process groups; there
users run `torchserve --start` themselves. The pieces it uses: torchserve_config.py (the run's config.properties,
free ports), torchserve_logs.py (one-line errors from the console log) and process_group.py.

One instance per run dir, which holds all of it:

    config.properties    the base config (default: the packaged config.properties) with this run's overrides:
                         the absolute model_store, load_models, free ports when isolated, and
                         enable_model_api=true when asked for
    torchserve.log       the launcher's and the JVM's console output: ts_log and model_log lines together
    logs/                TorchServe's own logs (ts_log.log, model_log.log, access_log.log, ...)
    key_file.json        the Bearer keys TorchServe writes at start (token authorization stays on)
    lorecast-serve.json  {"pid", "run_dir", "inference_url", "management_url", "metrics_url", "model_store",
                         "models", "model_files", "model_names"}: how a later process (`lorecast serve
                         stop|status`) finds it; written at launch, model_names filled in once READY
    .model_server.pid, .ts.sock.*, models/
                         TorchServe's temp files (pid file, worker sockets, extracted .mar), here only when
                         isolated; otherwise in the system temp dir, so only one such instance runs at a time
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from lorecast.errors import LorecastError
from ops.process_group import group_members, is_torchserve, require_process_groups, signal_group
from ops.torchserve_config import api_urls, isolated_addresses, merge_properties, parse_properties
from ops.torchserve_logs import WORKER_DIED, describe_failure, first_worker_failure, problem_lines

# The repository root's config.properties, which ops/config.properties links to so that a wheel carries it too.
DEFAULT_CONFIG = Path(__file__).resolve().parent / "config.properties"
RUN_CONFIG = "config.properties"
CONSOLE_LOG = "torchserve.log"
KEY_FILE = "key_file.json"
STATE_FILE = "lorecast-serve.json"

# Every call goes to 127.0.0.1: an http_proxy in the environment must not capture it.
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class LocalTorchServe:
    """One TorchServe instance in a run dir: a context manager, or start() / wait_ready() / stop().

    `models` are file names in the model store ("lorecast.mar"), or "all" for every .mar there. `isolated`
    picks free ports on 127.0.0.1 and keeps TorchServe's temp files in the run dir (TMPDIR/TEMP), so several
    instances run side by side; otherwise the addresses come from the config. `clean_env` gives TorchServe
    only PATH (plus TMPDIR/TEMP when isolated) instead of this process's whole environment. `model_api` lets
    the management API register and unregister models (what `lorecast retrain --management` does), which the
    config turns off.
    """

    def __init__(
        self,
        run_dir: str | os.PathLike[str],
        model_store: str | os.PathLike[str],
        models: Sequence[str] | str = "all",
        *,
        config: str | os.PathLike[str] | None = None,
        isolated: bool = False,
        clean_env: bool = False,
        timeout: float = 120.0,
        python: str | os.PathLike[str] | None = None,
        model_api: bool = False,
    ) -> None:
        self.run_dir = Path(run_dir).resolve()
        self.model_store = Path(model_store).resolve()
        if isinstance(models, str) and models != "all":
            models = [models]
        self.models: list[str] | str = models if models == "all" else list(models)
        self.config = Path(config) if config is not None else DEFAULT_CONFIG
        self.isolated = isolated
        self.clean_env = clean_env
        self.model_api = model_api
        self.timeout = timeout
        # The Python whose venv has the `torchserve` launcher (default: this one); the workers run on it too.
        self.python = Path(python) if python is not None else Path(sys.executable)
        self.pid: int | None = None
        self.inference_url = self.management_url = self.metrics_url = ""
        self.model_names: list[str] = []
        self._process: subprocess.Popen[bytes] | None = None
        self._model_files: list[str] = []

    # -- paths and keys ---------------------------------------------------------------------------------------

    @property
    def key_file(self) -> Path:
        return self.run_dir / KEY_FILE

    @property
    def console_log(self) -> Path:
        return self.run_dir / CONSOLE_LOG

    @property
    def inference_key(self) -> str:
        return self._keys()["inference"]["key"]

    @property
    def management_key(self) -> str:
        return self._keys()["management"]["key"]

    def predictions_url(self, model_name: str) -> str:
        return f"{self.inference_url}/predictions/{model_name}"

    def _keys(self) -> dict[str, Any]:
        try:
            return json.loads(self.key_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LorecastError(f"{self.key_file}: no key file (TorchServe writes it when it starts)") from None
        except (OSError, ValueError) as error:
            raise LorecastError(f"{self.key_file}: unreadable key file: {error}") from None

    # -- lifecycle --------------------------------------------------------------------------------------------

    def __enter__(self) -> LocalTorchServe:
        self.start()
        self.wait_ready()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> None:
        """Write the run dir's config and launch TorchServe; returns at once (see wait_ready)."""
        require_process_groups()
        if self.pid is not None:
            raise LorecastError(f"{self.run_dir}: this TorchServe was already started (pid {self.pid})")
        earlier = LocalTorchServe.attach(self.run_dir)
        if earlier is not None and earlier.running:
            raise LorecastError(
                f"{self.run_dir}: a TorchServe started by lorecast already runs from here (pid {earlier.pid}); "
                "stop it first (lorecast serve stop)"
            )
        self._model_files = self._check_model_store()
        if not self.config.is_file():
            raise LorecastError(f"{self.config}: TorchServe config file not found (give one with --config)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if self.isolated:
            _check_socket_path(self.run_dir)
        properties = self._write_run_config()
        self.inference_url, self.management_url, self.metrics_url = api_urls(properties)
        # A key file left by an earlier run would pass for this run's.
        self.key_file.unlink(missing_ok=True)
        self._process = self._launch()
        self.pid = self._process.pid
        self._write_state()

    def wait_ready(self, timeout: float | None = None) -> None:
        """Wait until the key file exists and every model's workers are READY.

        On a worker that died loading its model, TorchServe exiting, a timeout (or Ctrl-C), stop what was
        started and raise a one-line LorecastError quoting the relevant log lines.
        """
        limit = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + limit
        try:
            while True:
                if not self._alive():
                    raise LorecastError(
                        f"TorchServe exited during start: {problem_lines(self._console_text())} "
                        f"(log: {self.console_log})"
                    )
                failure = self._worker_failure()
                if failure:
                    raise LorecastError(f"{failure} (log: {self.run_dir / 'logs' / 'model_log.log'})")
                try:
                    pending = self._pending_models()
                except (LorecastError, OSError, ValueError) as not_yet:
                    pending = [str(not_yet)]
                if not pending:
                    self._write_state()
                    return
                if time.monotonic() > deadline:
                    raise LorecastError(
                        f"TorchServe not ready after {limit:g} s: "
                        f"{'; '.join(pending)} (log: {self.console_log})"
                    )
                time.sleep(0.2)
        except BaseException:
            self.stop()
            raise

    def stop(self, timeout: float = 30.0) -> None:
        """SIGTERM the process group and wait until it is gone (the JVM takes about 4 s); SIGKILL after
        `timeout`. Removes the run dir's record and key file. Does nothing when nothing was started."""
        if self.pid is None:
            return
        require_process_groups()
        if self.running:
            signal_group(self.pid, signal.SIGTERM)
            if not self._wait_group_gone(timeout):
                signal_group(self.pid, signal.SIGKILL)
                self._wait_group_gone(10.0)
        (self.run_dir / STATE_FILE).unlink(missing_ok=True)
        self.key_file.unlink(missing_ok=True)
        self.pid = None

    @property
    def running(self) -> bool:
        """Whether the recorded process group still holds a live TorchServe process (a reused pid does not
        count: the group must contain the launcher, the JVM or a worker)."""
        if self.pid is None:
            return False
        if self._process is not None:
            self._process.poll()  # reap the launcher, so that it does not linger as a zombie group member
        return any(is_torchserve(process) for process in group_members(self.pid))

    @classmethod
    def attach(cls, run_dir: str | os.PathLike[str]) -> LocalTorchServe | None:
        """The instance recorded in `run_dir` (running or not), or None when the run dir records none."""
        path = Path(run_dir).resolve() / STATE_FILE
        try:
            state = json.loads(path.read_text(encoding="utf-8"))
            server = cls(state["run_dir"], state["model_store"], state["models"])
            server.pid = int(state["pid"])
            server.inference_url = state["inference_url"]
            server.management_url = state["management_url"]
            server.metrics_url = state["metrics_url"]
            server._model_files = list(state["model_files"])
            server.model_names = list(state["model_names"])
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise LorecastError(f"{path}: unreadable lorecast serve record: {error!r}") from None
        return server

    # -- the APIs ---------------------------------------------------------------------------------------------

    def ping(self) -> str:
        """TorchServe's health status ("Healthy"), from GET /ping with the inference key."""
        return str(_get_json(f"{self.inference_url}/ping", self.inference_key)["status"])

    def model_workers(self) -> dict[str, list[str]]:
        """Each registered model's name and the statuses of its workers ("READY", ...), from the management API."""
        key = self.management_key
        return {
            entry["modelName"]: self._worker_statuses(entry["modelName"], key)
            for entry in self._registered_models(key)
        }

    # -- internals --------------------------------------------------------------------------------------------

    def _check_model_store(self) -> list[str]:
        if not self.model_store.is_dir():
            raise LorecastError(f"{self.model_store}: model store not found")
        if self.models == "all":
            files = sorted(path.name for path in self.model_store.glob("*.mar"))
            if not files:
                raise LorecastError(
                    f"{self.model_store}: no .mar in the model store (build one with lorecast archive)"
                )
            return files
        if not self.models:
            raise LorecastError("no models to load: name at least one .mar in the model store, or 'all'")
        for name in self.models:
            if not (self.model_store / name).exists():
                held = ", ".join(sorted(path.name for path in self.model_store.glob("*.mar"))) or "no .mar"
                raise LorecastError(f"{self.model_store / name}: not in the model store (it holds {held})")
        return list(self.models)

    def _write_run_config(self) -> dict[str, str]:
        overrides = {
            "model_store": str(self.model_store),
            "load_models": "ALL" if self.models == "all" else ",".join(self._model_files),
        }
        if self.isolated:
            overrides.update(isolated_addresses())
        if self.model_api:
            overrides["enable_model_api"] = "true"
        base = self.config.read_text(encoding="utf-8")
        text = merge_properties(base, overrides, f"{self.config.resolve()}")
        (self.run_dir / RUN_CONFIG).write_text(text, encoding="utf-8")
        return parse_properties(text)

    def _launch(self) -> subprocess.Popen[bytes]:
        # The venv's own launcher: it runs the workers with that venv's Python.
        script = self.python.parent / "torchserve"
        if not script.is_file():
            raise LorecastError(
                f"{script}: torchserve is not installed next to this Python; install the serve extra "
                "(pip install 'lorecast[serve]')"
            )
        with open(self.console_log, "wb") as log:
            return subprocess.Popen(
                # --ncs: no config snapshots in logs/config/; the run dir's config.properties is the record.
                [str(script), "--start", "--foreground", "--ncs", "--ts-config", RUN_CONFIG],
                cwd=self.run_dir,
                env=self._child_env(),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def _child_env(self) -> dict[str, str]:
        if self.clean_env:
            env = {"PATH": os.environ.get("PATH", os.defpath)}
        else:
            env = dict(os.environ)
            # It would take precedence over --ts-config, and with it over this run's overrides.
            env.pop("TS_CONFIG_FILE", None)
        if self.isolated:
            # TMPDIR: the launcher's pid file; TEMP: java.io.tmpdir (worker sockets, extracted archives).
            env["TMPDIR"] = env["TEMP"] = str(self.run_dir)
        return env

    def _write_state(self) -> None:
        state = {
            "pid": self.pid,
            "run_dir": str(self.run_dir),
            "inference_url": self.inference_url,
            "management_url": self.management_url,
            "metrics_url": self.metrics_url,
            "model_store": str(self.model_store),
            "models": self.models,
            "model_files": self._model_files,
            "model_names": self.model_names,
        }
        (self.run_dir / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")

    def _alive(self) -> bool:
        if self._process is not None:
            return self._process.poll() is None
        return self.running

    def _console_text(self) -> str:
        try:
            return self.console_log.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return ""

    def _pending_models(self) -> list[str]:
        """What still keeps the models from being READY; empty when all are."""
        key = self.management_key
        names_by_file = {entry["modelUrl"]: entry["modelName"] for entry in self._registered_models(key)}
        pending, names = [], []
        for file_name in self._model_files:
            name = names_by_file.get(file_name)
            if name is None:
                pending.append(f"{file_name} not registered")
                continue
            names.append(name)
            statuses = self._worker_statuses(name, key)
            ready = statuses.count("READY")
            if not statuses or ready < len(statuses):
                pending.append(f"{name}: {ready}/{len(statuses)} workers READY")
        self.model_names = names
        return pending

    def _registered_models(self, key: str) -> list[dict[str, Any]]:
        """The registered models as the management API lists them ({"modelName", "modelUrl"} each)."""
        return _get_json(f"{self.management_url}/models?limit=1000", key)["models"]

    def _worker_statuses(self, model_name: str, key: str) -> list[str]:
        """The statuses of the model's workers ("READY", ...), over all its versions."""
        return [
            worker["status"]
            for version in _get_json(f"{self.management_url}/models/{model_name}", key)
            for worker in version["workers"]
        ]

    def _worker_failure(self) -> str | None:
        """A one-line account of the first worker that died, from the console log; None while none has."""
        failure = first_worker_failure(self._console_text())
        if failure is None or failure[1] != WORKER_DIED:
            return describe_failure(failure)
        # The traceback may land just after the "died" line; give it a moment.
        time.sleep(0.5)
        return describe_failure(first_worker_failure(self._console_text()))

    def _wait_group_gone(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None:
                self._process.poll()
            if not group_members(self.pid):
                return True
            time.sleep(0.1)
        return False


def _check_socket_path(run_dir: Path) -> None:
    # An isolated run puts the workers' Unix sockets in the run dir; a socket path holds at most 103 bytes on
    # macOS (107 on Linux), and TorchServe's own error for a longer one is obscure.
    longest = run_dir / ".ts.sock.65535"
    if len(os.fsencode(longest)) > 103:
        raise LorecastError(
            f"{run_dir}: path too long for TorchServe's worker sockets ({len(os.fsencode(longest))} bytes with "
            "'/.ts.sock.NNNNN', at most 103); use a shorter run dir"
        )


def _get_json(url: str, key: str, timeout: float = 5.0) -> Any:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {key}"})
    with _HTTP.open(request, timeout=timeout) as response:
        return json.load(response)
