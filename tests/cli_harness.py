"""The one way the tests run the `lorecast` command: `from cli_harness import lorecast`.

    result = lorecast("dataset", "build", src, "-o", out)            # in-process, through lorecast.cli.main()
    code, out, err = lorecast("generate", "-n", "1", env={...})      # a result unpacks as (exit_code, stdout, stderr)
    result = lorecast("--help", process=True, watch=("torch",))      # a real `lorecast` process
    run = start_lorecast("post", "twitter", env=...)                 # a running process (subprocess.Popen)

In-process is the default: `main()` is what the console script runs, so a LorecastError becomes its one
`error: ...` line on stderr and exit status 1, exactly as a user sees it, and `result.exception` still holds the
error (the LorecastError or click exception that `main()` turned into that line; None when there was none). Any
other exception is a bug and propagates into the test. Arguments go through `str()`; `env` overrides variables
for the run (None removes one); `input` is stdin; `cwd` is the working directory during the run. click's
CliRunner isolation swaps the standard streams, so the width of help texts is 80 columns, as in a pipe.

`process=True` runs the installed console script in a new process with the same arguments: for what only a
separate process shows (which modules a command imports, a run killed halfway, two runs at once, an interactive
prompt answered from outside). `watch=(module, ...)` runs `main()` under a small probe instead of the console
script, which reports on exit which of those modules were imported (`result.imported`) and the process's peak
resident memory (`result.peak_rss_kib`); the report line is taken off stderr. A process result has no
`exception`, and its `output` is stdout followed by stderr.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner

LORECAST = Path(sys.executable).with_name("lorecast")
PROCESS_TIMEOUT_S = 120
_REPORT = "LORECAST-TEST-PROBE "
# Runs the console entry as the script does and, however it ends, reports on the watched modules and the peak
# memory (VmHWM: unlike ru_maxrss it starts afresh at exec, so the parent's size does not leak into it).
_PROBE = f"""
import json, re, sys
from lorecast.cli import main
watched = json.loads(sys.argv.pop(1))
sys.argv[0] = "lorecast"
try:
    main()
finally:
    with open("/proc/self/status") as status:
        peak = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
    imported = sorted(name for name in watched if name in sys.modules)
    print({_REPORT!r} + json.dumps({{"imported": imported, "peak_rss_kib": peak}}), file=sys.stderr)
"""


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str
    output: str  # in-process: stdout and stderr interleaved as written; a process: stdout, then stderr
    exception: BaseException | None = None  # in-process only: the error main() turned into a message
    imported: list[str] | None = None  # with watch=: the watched modules the process imported
    peak_rss_kib: int | None = None  # with watch=: the process's peak resident memory

    def __iter__(self) -> Iterator[Any]:
        return iter((self.exit_code, self.stdout, self.stderr))

    def __getitem__(self, index: int) -> Any:
        return (self.exit_code, self.stdout, self.stderr)[index]


def lorecast(
    *args: object,
    env: Mapping[str, str | None] | None = None,
    input: str | None = None,
    cwd: str | os.PathLike[str] | None = None,
    process: bool = False,
    watch: tuple[str, ...] | None = None,
    timeout: float = PROCESS_TIMEOUT_S,
) -> CliResult:
    """`lorecast ARGS...`: in-process by default, in a new process with `process=True` or `watch=`."""
    arguments = [str(arg) for arg in args]
    if process or watch is not None:
        return _in_a_process(arguments, env, input, cwd, watch, timeout)
    return _in_process(arguments, env, input, cwd)


def start_lorecast(
    *args: object,
    env: Mapping[str, str | None] | None = None,
    cwd: str | os.PathLike[str] | None = None,
    stdin: bool = False,
) -> subprocess.Popen[str]:
    """A running `lorecast ARGS...` process (text mode; stdout and stderr piped, stdin too when `stdin`): for a
    run killed halfway, runs side by side, or a prompt answered from outside. The test ends it (communicate(),
    or kill() and wait())."""
    return subprocess.Popen(
        [str(LORECAST), *(str(arg) for arg in args)], env=_environment(env), cwd=cwd, text=True,
        stdin=subprocess.PIPE if stdin else subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _in_process(
    arguments: list[str], env: Mapping[str, str | None] | None, input: str | None,
    cwd: str | os.PathLike[str] | None,
) -> CliResult:
    from lorecast import cli as cli_module

    group = cli_module.cli
    handled: list[BaseException] = []
    real_main = group.main

    def recording_main(*main_args: Any, **kwargs: Any) -> Any:
        # The program name as the console script has it, whatever runs pytest (`python -m pytest` would give
        # click's guess "python -m pytest").
        kwargs.setdefault("prog_name", "lorecast")
        try:
            return real_main(*main_args, **kwargs)
        except (click.exceptions.Exit, SystemExit):
            raise
        except BaseException as error:  # noqa: BLE001 - recorded, and main() decides what becomes of it
            handled.append(error)
            raise

    code = 0
    with contextlib.ExitStack() as stack:
        streams = stack.enter_context(CliRunner().isolation(input=input, env=env))
        stack.enter_context(_attribute(sys, "argv", ["lorecast", *arguments]))
        stack.enter_context(_attribute(group, "main", recording_main))
        if cwd is not None:
            stack.enter_context(_working_directory(cwd))
        try:
            cli_module.main()
        except SystemExit as done:
            code = _exit_code(done.code)
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        stdout, stderr, output = (stream.getvalue().decode("utf-8", errors="replace") for stream in streams)
    # main() turns these into a message and an exit status; anything else propagated out of it above.
    exception = handled[-1] if handled else None
    return CliResult(code, stdout, stderr, output, exception)


def _in_a_process(
    arguments: list[str], env: Mapping[str, str | None] | None, input: str | None,
    cwd: str | os.PathLike[str] | None, watch: tuple[str, ...] | None, timeout: float,
) -> CliResult:
    if watch is None:
        command = [str(LORECAST), *arguments]
    else:
        command = [sys.executable, "-c", _PROBE, json.dumps(list(watch)), *arguments]
    done = subprocess.run(command, env=_environment(env), input=input, cwd=cwd, capture_output=True, text=True,
                          timeout=timeout)
    stderr, report = done.stderr, None
    if watch is not None:
        kept = []
        for line in stderr.splitlines(keepends=True):
            if line.startswith(_REPORT):
                report = json.loads(line.removeprefix(_REPORT))
            else:
                kept.append(line)
        assert report is not None, f"the probe did not report (exit status {done.returncode}): {stderr}"
        stderr = "".join(kept)
    return CliResult(
        done.returncode, done.stdout, stderr, done.stdout + stderr,
        imported=report["imported"] if report else None, peak_rss_kib=report["peak_rss_kib"] if report else None,
    )


def _environment(env: Mapping[str, str | None] | None) -> dict[str, str]:
    """os.environ with the overrides of `env` (None removes a variable), as CliRunner applies them."""
    merged = dict(os.environ)
    for name, value in (env or {}).items():
        if value is None:
            merged.pop(name, None)
        else:
            merged[name] = value
    return merged


def _exit_code(code: object) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    print(code, file=sys.stderr)  # sys.exit("message"), as the interpreter would show it
    return 1


@contextlib.contextmanager
def _working_directory(path: str | os.PathLike[str]) -> Iterator[None]:
    before = os.getcwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(before)


@contextlib.contextmanager
def _attribute(owner: object, name: str, value: object) -> Iterator[None]:
    had = name in vars(owner)
    saved = vars(owner).get(name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        if had:
            setattr(owner, name, saved)
        else:
            delattr(owner, name)


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    """Return once `condition()` is true; fail the test after `timeout` seconds (a helper for runs in the
    background, never a timing assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)
