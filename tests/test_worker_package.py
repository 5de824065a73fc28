"""The worker is exactly what the .mar holds, and it runs with only the serve runtime installed.

(a) handler.py's import closure over our packages (static, ast) is every .py of serve_handler/ and textrules/:
    no dead tooling inside the worker, nothing of ours from outside it.
(b) In a clean venv made of the serve extra's distributions alone (symlinks into .venv, minus click and psutil),
    the worker's modules import from a bare copy of serve_handler/ + textrules/, and nothing else of ours, nor
    click or psutil, is there or gets imported. handler.py itself imports TorchServe's `ts`, which needs psutil:
    it is imported in the variant that keeps psutil (click still absent).
(c) The .mar built from the session's trained model holds exactly that closure plus the worker's JSON schemas.
(d) A real TorchServe started from the clean venv (psutil kept, click dropped) serves that .mar.
"""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest
from house_tools import (
    HANDLER_MODULE,
    OUR_PACKAGES,
    ROOT,
    WORKER_PACKAGES,
    copy_worker_tree,
    extra_requirements,
    import_closure,
    make_clean_venv,
    module_files,
    package_files,
    serve_venv,
)
from serving_setup import MODEL, post

from ops.local_server import LocalTorchServe

NOT_IN_THE_WORKER = ("dataset", "trainer", "ops", "poster", "lorecast", "benchmarks", "click", "psutil")


def _relative(paths) -> set[str]:
    return {path.relative_to(ROOT).as_posix() for path in paths}


def handler_closure() -> set[str]:
    return _relative(import_closure(HANDLER_MODULE))


def worker_py_files() -> set[str]:
    return _relative(set().union(*(package_files(package, ".py") for package in WORKER_PACKAGES)))


def worker_modules() -> list[str]:
    """The dotted modules of the closure, handler.py last (it is the one that needs TorchServe)."""
    closure = handler_closure()
    names = [name for name, path in module_files().items() if path.relative_to(ROOT).as_posix() in closure]
    return sorted(names, key=lambda name: (name == HANDLER_MODULE, name))


# -- (a) -------------------------------------------------------------------------------------------------------------


def test_handler_closure_is_the_worker_packages():
    closure, files = handler_closure(), worker_py_files()
    assert "serve_handler/handler.py" in closure and "textrules/__init__.py" in closure
    assert not closure - files, f"the worker imports our code from outside serve_handler/ and textrules/: " \
                                f"{sorted(closure - files)}"
    assert not files - closure, f"files in the worker packages that handler.py never imports: " \
                                f"{sorted(files - closure)}"


# -- (b) -------------------------------------------------------------------------------------------------------------

PROBE = r"""
import importlib, json, sys
modules, forbidden = json.loads(sys.argv[1]), json.loads(sys.argv[2])
for name in modules:
    importlib.import_module(name)
report = {
    "imported": [name for name in modules if name in sys.modules],
    "files": {name: sys.modules[name].__file__ for name in modules},
    "leaked": sorted(name for name in forbidden if name in sys.modules),
    "absent": {},
    "site": [path for path in sys.path if "site-packages" in path],
    "prefix": sys.prefix,
}
for name in forbidden:
    try:
        importlib.import_module(name)
        report["absent"][name] = "importable"
    except ModuleNotFoundError as error:
        report["absent"][name] = "ModuleNotFoundError" if error.name == name else f"needs {error.name}"
print(json.dumps(report))
"""


@pytest.fixture(scope="module")
def bare_worker(tmp_path_factory) -> Path:
    """A directory holding only serve_handler/ and textrules/ (their .py and .json files)."""
    tree = copy_worker_tree(tmp_path_factory.mktemp("worker-tree"))
    assert sorted(path.name for path in tree.iterdir()) == sorted(WORKER_PACKAGES)
    return tree


@pytest.fixture(scope="module")
def runtime(tmp_path_factory):
    """The serve extra's distributions without click and psutil."""
    return serve_venv(tmp_path_factory.mktemp("serve-runtime") / "venv", scripts=False)


@pytest.fixture(scope="module")
def runtime_with_psutil(tmp_path_factory):
    """The serve extra's distributions without click (TorchServe's `ts` needs psutil), with console scripts."""
    return serve_venv(tmp_path_factory.mktemp("serve-runtime-psutil") / "venv", keep_psutil=True)


def probe(venv, tree: Path, modules: list[str], forbidden) -> dict:
    done = venv.run("-c", PROBE, json.dumps(modules), json.dumps(list(forbidden)), cwd=tree)
    assert done.returncode == 0, done.stderr[-4000:]
    return json.loads(done.stdout.splitlines()[-1])


def _assert_clean(report: dict, venv, tree: Path, modules: list[str], absent) -> None:
    assert report["prefix"] == str(venv.root)
    assert report["site"] == [str(venv.site_packages)]  # not .venv's site-packages, no user site
    assert report["imported"] == modules
    for name, file in report["files"].items():
        assert Path(file).is_relative_to(tree), (name, file)
    assert report["leaked"] == []
    assert report["absent"] == {name: "ModuleNotFoundError" for name in absent}


def test_runtime_is_the_serve_extra_without_click_and_psutil(runtime, runtime_with_psutil):
    assert {"torch", "transformers", "torchserve", "jsonschema", "rapidfuzz", "alt-profanity-check"} \
        <= set(runtime.distributions)
    assert not {"click", "psutil", "lorecast", "pytest"} & set(runtime.distributions)
    assert set(runtime_with_psutil.distributions) == set(runtime.distributions) | {"psutil"}
    linked = {path.name for path in runtime.site_packages.iterdir()}
    assert {"torch", "transformers", "ts"} <= linked
    assert not {"click", "psutil", "_pytest", "lorecast", "dataset", "poster"} & linked
    assert (runtime_with_psutil.bin / "torchserve").is_file()
    assert (runtime_with_psutil.bin / "torchserve").read_text().startswith(f"#!{runtime_with_psutil.python}\n")


def test_worker_imports_with_only_the_serve_runtime(runtime, bare_worker):
    modules = [name for name in worker_modules() if name != HANDLER_MODULE]
    assert {"serve_handler.service", "serve_handler.request", "textrules"} <= set(modules)
    report = probe(runtime, bare_worker, modules, NOT_IN_THE_WORKER)
    _assert_clean(report, runtime, bare_worker, modules, NOT_IN_THE_WORKER)


def test_handler_needs_psutil_through_torchserve_only(runtime, runtime_with_psutil, bare_worker):
    # Without psutil, handler.py fails on TorchServe's own import of it, and on nothing else.
    done = runtime.run("-c", "import serve_handler.handler", cwd=bare_worker)
    assert done.returncode != 0
    assert "No module named 'psutil'" in done.stderr and "site-packages/ts/" in done.stderr
    modules = worker_modules()
    assert modules[-1] == HANDLER_MODULE
    absent = [name for name in NOT_IN_THE_WORKER if name != "psutil"]
    report = probe(runtime_with_psutil, bare_worker, modules, absent)
    _assert_clean(report, runtime_with_psutil, bare_worker, modules, absent)


# -- (c) -------------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_mar_holds_the_closure_and_the_schemas(model_store):
    with zipfile.ZipFile(model_store / f"{MODEL}.mar") as archive:
        names = set(archive.namelist())
        handler = archive.read("handler.py")
    schemas = _relative(package_files("serve_handler", ".json"))
    assert "serve_handler/request_schema.json" in schemas
    packed = {name for name in names if name.split("/")[0] in WORKER_PACKAGES and not name.endswith("/")}
    assert packed == handler_closure() | schemas, (
        f"in the .mar, not imported by handler.py: {sorted(packed - handler_closure() - schemas)}; "
        f"imported, not in the .mar: {sorted(handler_closure() - packed)}"
    )
    # No other code of ours: the root handler.py (the same file as serve_handler/handler.py) and the packages.
    python = {name for name in names if name.endswith(".py")}
    assert python == {"handler.py"} | {name for name in packed if name.endswith(".py")}
    assert handler == (ROOT / "serve_handler" / "handler.py").read_bytes()
    assert not {name for name in names if name.split("/")[0] in OUR_PACKAGES} - packed


# -- (d) -------------------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_clean_venv_torchserve_serves_the_mar(runtime_with_psutil, model_store, tmp_path_factory):
    from ops.process_group import group_members

    run_dir = tmp_path_factory.mktemp("clean-run")
    server = LocalTorchServe(run_dir, model_store, [f"{MODEL}.mar"], isolated=True, clean_env=True,
                             python=runtime_with_psutil.python)
    with server:
        assert server.model_names == [MODEL]
        commands = [process.cmdline() for process in group_members(server.pid)]
        workers = [command for command in commands if any("model_service_worker" in part for part in command)]
        assert workers, commands
        assert all(command[0] == str(runtime_with_psutil.python) for command in workers), workers
        launcher = [command for command in commands if any(part.endswith("/torchserve") for part in command)]
        assert launcher and all(str(runtime_with_psutil.bin / "torchserve") in command for command in launcher)
        status, body, headers = post(server.predictions_url(MODEL), {"n": 3, "rng_seed": 7, "min_novelty": 0},
                                     server.inference_key)
        assert status == 200, body
        assert headers["Content-Type"].startswith("application/json")
        assert 1 <= len(body["texts"]) <= 3 and all(isinstance(text["text"], str) and text["text"]
                                                    for text in body["texts"])
        # Token auth is on: without the key, no texts.
        status, _, _ = post(server.predictions_url(MODEL), {"n": 1}, None)
        assert status == 400


# -- the worker's code outside TorchServe: `lorecast train sample` in a `train` install --------------------------


def test_a_train_install_runs_the_workers_service_and_filters(tmp_path_factory, bare_worker):
    """`train sample` builds the worker's GenerationService with its filter chain (the toxicity model too); a
    `lorecast[train]` install must hold what that imports, TorchServe aside."""
    venv = make_clean_venv(tmp_path_factory.mktemp("train-runtime") / "venv",
                           extra_requirements(None) + extra_requirements("train"), scripts=False)
    code = ("import serve_handler.service; from serve_handler.filters.toxicity import ToxicityFilter; "
            "from serve_handler.filters.base import Draft; "
            "print(ToxicityFilter(0.5)([Draft(0, 'A kind word.', -1.0, True)], [None]) != [None])")
    done = venv.run("-c", code, cwd=bare_worker)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["True"]
