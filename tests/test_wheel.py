"""lorecast installs as a wheel: built from the source tree, installed into a clean venv holding only the base
install's and the serve extra's distributions (symlinks into .venv), it serves a .mar from outside the repository.

Everything is offline: the wheel is built without build isolation (setuptools from .venv) and installed with
--no-index --no-deps by the new venv's own python (pip linked in from .venv, so that the `lorecast` script gets
the new venv's python as its shebang, as a real install would).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from house_tools import ROOT, extra_requirements, make_clean_venv
from serving_setup import MODEL, post

from ops.torchserve_config import isolated_addresses, merge_properties

pytestmark = pytest.mark.slow


def copy_source_tree(target: Path) -> Path:
    """The working tree as git sees it (tracked and untracked-but-not-ignored files, symlinks kept), so that the
    build's build/ and egg-info land in a temp dir and not in the shared checkout."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                            check=True, capture_output=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = ROOT / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree
        destination = target / name
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_symlink():
            destination.symlink_to(os.readlink(source))
        else:
            shutil.copy2(source, destination)
    return target


def _env(tmp: Path) -> dict[str, str]:
    # No PYTHONPATH, no repo on the path; a private temp dir for TorchServe's pid file and worker sockets.
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": str(tmp), "TMPDIR": str(tmp), "TEMP": str(tmp),
            "PYTHONNOUSERSITE": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, bytes]:
    """(the built wheel, the config.properties it was built from)."""
    source = copy_source_tree(tmp_path_factory.mktemp("source"))
    config = (source / "config.properties").read_bytes()
    out = tmp_path_factory.mktemp("wheels")
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", ".", "--no-deps", "--no-build-isolation", "--no-index",
         "--no-cache-dir", "-w", str(out)],
        cwd=source, capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (built,) = out.glob("lorecast-*.whl")
    return built, config


@pytest.fixture(scope="module")
def installed(wheel, tmp_path_factory):
    built, _ = wheel
    home = tmp_path_factory.mktemp("wheel-home")
    venv = make_clean_venv(tmp_path_factory.mktemp("wheel-venv") / "venv",
                           [*extra_requirements(None), *extra_requirements("serve"), "pip"])
    done = subprocess.run(
        [str(venv.python), "-m", "pip", "install", "--no-deps", "--no-index", "--no-cache-dir", str(built)],
        cwd=home, env=_env(home), capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return venv, home


def test_the_wheel_carries_the_packages_and_a_real_config(wheel):
    built, config = wheel
    with zipfile.ZipFile(built) as archive:
        names = set(archive.namelist())
        packed_config = archive.read("ops/config.properties")
    for package in ("lorecast", "dataset", "textrules", "trainer", "serve_handler", "ops", "poster"):
        assert f"{package}/__init__.py" in names
    assert "serve_handler/request_schema.json" in names and "ops/TORCHSERVE.md" in names
    assert packed_config == config
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/"))]


def test_installed_package_is_the_wheels(installed, wheel):
    venv, home = installed
    _, config = wheel
    probe = ("import json, pathlib, ops, lorecast.cli; p = pathlib.Path(ops.__file__).parent / 'config.properties';"
             "print(json.dumps({'ops': ops.__file__, 'cli': lorecast.cli.__file__, 'config': str(p),"
             " 'link': p.is_symlink(), 'file': p.is_file()}))")
    done = subprocess.run([str(venv.python), "-c", probe], cwd=home, env=_env(home), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    found = json.loads(done.stdout)
    for key in ("ops", "cli", "config"):
        path = Path(found[key])
        assert path.is_relative_to(venv.site_packages) and not path.resolve().is_relative_to(ROOT), found
    assert found["file"] and not found["link"]
    assert Path(found["config"]).read_bytes() == config
    script = venv.bin / "lorecast"
    assert script.read_text().splitlines()[0] == f"#!{venv.python}"


def test_installed_lorecast_serves_a_mar(installed, model_store, tmp_path_factory):
    venv, home = installed
    lorecast = str(venv.bin / "lorecast")
    env = _env(home)

    def run(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run([lorecast, *args], cwd=home, env=env, capture_output=True, text=True, timeout=timeout)

    helped = run("serve", "start", "--help")
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("Usage: lorecast serve start")

    # The packaged config with free ports, so that this run collides with no other TorchServe on 8080-8082.
    packaged = (venv.site_packages / "ops" / "config.properties").read_text(encoding="utf-8")
    config = home / "free-ports.properties"
    config.write_text(merge_properties(packaged, isolated_addresses(), "the wheel's ops/config.properties"))
    run_dir = tmp_path_factory.mktemp("wheel-run")
    record = run_dir / "lorecast-serve.json"
    try:
        started = run("serve", "start", "--model-store", str(model_store), "--models", f"{MODEL}.mar",
                      "--run-dir", str(run_dir), "--config", str(config), "--timeout", "120", timeout=180)
        assert started.returncode == 0, started.stdout + started.stderr
        assert "TorchServe is ready after" in started.stdout
        state = json.loads(record.read_text(encoding="utf-8"))
        assert state["model_names"] == [MODEL]
        workers = _worker_pythons(state["pid"])
        assert workers and set(workers) == {str(venv.python)}
        key = json.loads((run_dir / "key_file.json").read_text())["inference"]["key"]
        status, body, _ = post(f"{state['inference_url']}/predictions/{MODEL}", {"n": 1, "min_novelty": 0}, key)
        assert status == 200 and isinstance(body["texts"], list), body
    finally:
        stopped = run("serve", "stop", "--run-dir", str(run_dir), timeout=90)
        leftover = json.loads(record.read_text()) if record.exists() else None
        if leftover is not None:  # the stop failed: do not leave a TorchServe behind
            try:
                os.killpg(leftover["pid"], signal.SIGKILL)
            except ProcessLookupError:
                pass
    assert stopped.returncode == 0, stopped.stdout + stopped.stderr
    assert "Stopped TorchServe" in stopped.stdout
    assert leftover is None
    assert _group_gone(state["pid"])


def _worker_pythons(pgid: int) -> list[str]:
    import psutil

    pythons = []
    for process in psutil.process_iter(["cmdline"]):
        try:
            if os.getpgid(process.pid) == pgid and any("model_service_worker" in p for p in process.info["cmdline"]):
                pythons.append(process.info["cmdline"][0])
        except (OSError, psutil.Error):
            continue
    return pythons


def _group_gone(pgid: int, timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.2)
    return False
