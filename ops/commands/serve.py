"""`lorecast serve start|stop|status`: a local TorchServe in the background, found again through its run dir.

The run dir (default .lorecast/serve under the current directory) holds the instance's config, logs, key file
and pid record; ops/local_server.py describes it. Token authorization stays on: clients send the
inference key from the run dir's key_file.json. Keys are never printed.
"""

from __future__ import annotations

import shlex
import time
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import click

from lorecast.errors import LorecastError

if TYPE_CHECKING:
    from ops.local_server import LocalTorchServe

DEFAULT_RUN_DIR = Path(".lorecast") / "serve"

_run_dir_option = click.option(
    "--run-dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=DEFAULT_RUN_DIR,
    show_default=True,
    help="The instance's directory: its config.properties, logs/, key_file.json and pid record. "
    "One TorchServe per run dir.",
)


def _local_server() -> ModuleType:
    # Imported here: it needs psutil, which comes with the serve extra, not with every lorecast install.
    try:
        from ops import local_server
    except ModuleNotFoundError as error:
        raise LorecastError(
            f"lorecast serve needs the serve extra (pip install 'lorecast[serve]'): {error}"
        ) from None
    return local_server


def _split_models(values: tuple[str, ...]) -> list[str] | str:
    names = [name.strip() for value in values for name in value.split(",") if name.strip()]
    return names or "all"


@click.group("serve")
def serve_group() -> None:
    """Run TorchServe locally in the background: start it, check on it, stop it."""


@serve_group.command("start")
@click.option(
    "--model-store",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("model_store"),
    show_default=True,
    help="Directory holding the .mar files to serve.",
)
@click.option(
    "--models",
    multiple=True,
    metavar="NAME.mar",
    help="A .mar in the model store to load (repeatable, or comma-separated). Default: every .mar there.",
)
@click.option(
    "--config",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Base TorchServe config.properties (addresses, token auth, request limits, metrics, JVM heap). Default: "
    "lorecast's own (the repository's config.properties, shipped in the package). Its model_store and load_models "
    "are replaced by the options above.",
)
@click.option(
    "--enable-model-api",
    is_flag=True,
    help="Let the management API register and unregister models (TorchServe's enable_model_api, off in the "
    "config), so that `lorecast retrain --management` can roll out a new version without a restart. The "
    "management API stays where the config puts it (127.0.0.1) and needs its key.",
)
@_run_dir_option
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=120.0,
    show_default=True,
    help="Seconds to wait for every model's workers to be READY; past that, the server is stopped again.",
)
def start(model_store: Path, models: tuple[str, ...], config: Path | None, enable_model_api: bool, run_dir: Path,
          timeout: float) -> None:
    """Start TorchServe in the background; wait until READY.

    Returns once every model's workers are READY, and prints the addresses, where the key file is, and a
    `lorecast generate` line to paste. Refuses when one already runs from the run dir, or when the model
    store holds no .mar.
    """
    server = _local_server().LocalTorchServe(
        run_dir, model_store, _split_models(models), config=config, timeout=timeout, model_api=enable_model_api
    )
    started = time.monotonic()
    server.start()
    server.wait_ready()
    click.echo(
        f"TorchServe is ready after {time.monotonic() - started:.1f} s (pid {server.pid}), "
        f"run dir {server.run_dir}"
    )
    _echo_addresses(server)
    for name in server.model_names:
        click.echo(f"  predictions:    {server.predictions_url(name)}")
    click.echo("Generate texts with:")
    for name in server.model_names:
        click.echo(
            f"  lorecast generate --endpoint {server.predictions_url(name)} "
            f"--key-file {shlex.quote(str(server.key_file))}"
        )
    click.echo(f"Stop it with:\n  lorecast serve stop --run-dir {shlex.quote(str(run_dir))}")


@serve_group.command("stop")
@_run_dir_option
def stop(run_dir: Path) -> None:
    """Stop the run dir's TorchServe.

    Sends SIGTERM to its process group and waits until every process is gone (SIGKILL after 30 s).
    """
    server = _local_server().LocalTorchServe.attach(run_dir)
    if server is None:
        click.echo(f"No TorchServe started by lorecast is recorded in {run_dir}; nothing to stop.")
        return
    pid, was_running = server.pid, server.running
    started = time.monotonic()
    server.stop()
    if was_running:
        click.echo(f"Stopped TorchServe (pid {pid}) in {time.monotonic() - started:.1f} s.")
    else:
        click.echo(f"TorchServe (pid {pid}) was no longer running; removed its record from {run_dir}.")


@serve_group.command("status")
@_run_dir_option
@click.pass_context
def status(ctx: click.Context, run_dir: Path) -> None:
    """Show the run dir's TorchServe: pid, ping, models.

    Prints its addresses, where the key file is, the ping answer and each model's READY workers. Exit
    status 1 when it does not run.
    """
    server = _local_server().LocalTorchServe.attach(run_dir)
    if server is None or not server.running:
        recorded = "" if server is None else f" (its record names pid {server.pid}, which is gone)"
        click.echo(f"TorchServe is not running from {run_dir}{recorded}.")
        ctx.exit(1)
    click.echo(f"TorchServe is running (pid {server.pid}), run dir {server.run_dir}")
    _echo_addresses(server)
    try:
        click.echo(f"  ping:           {server.ping()}")
        workers = server.model_workers()
    except (LorecastError, OSError, ValueError) as error:
        click.echo(f"  ping:           failed ({error})")
        return
    click.echo("  models:" if workers else "  models:         none registered")
    for name, statuses in workers.items():
        ready = statuses.count("READY")
        click.echo(f"    {name}: {ready}/{len(statuses)} workers READY  {server.predictions_url(name)}")


def _echo_addresses(server: LocalTorchServe) -> None:
    click.echo(f"  inference API:  {server.inference_url}")
    click.echo(f"  management API: {server.management_url}")
    click.echo(f"  metrics:        {server.metrics_url}/metrics")
    click.echo(f"  key file:       {server.key_file} (Authorization: Bearer <inference key>)")
    click.echo(f"  logs:           {server.run_dir / 'logs'}")
