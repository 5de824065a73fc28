"""Throughput and latency of the handler inside a real TorchServe: TorchServe's batching against none.

    .venv/bin/python benchmarks/serving_bench.py [--model demo-out/model --corpus demo-out/corpus]
        [--selector demo-out/selector] [--clients 1,8,32] [--seconds 15] [--batch-sweep 4:25,16:50,32:100]
        [--json results.json]

What runs: two or more .mar built from the same model and corpus go into a temp model store, and one TorchServe
serves them all (started by LocalTorchServe: isolated temp dir, free ports on 127.0.0.1, token auth on):
    batched          the handler as shipped: batchSize --batch-size, maxBatchDelay --max-batch-delay
    single           batchSize 1, maxBatchDelay 0: the same handler generates for one request at a time
    batched-bB-dD    one more per --batch-sweep entry B:D (batchSize B, maxBatchDelay D ms)
Each model has one worker; the models are measured one after another, never at the same time.

How: for each model and each client count C in --clients, C threads act as closed-loop clients (each sends its
next request as soon as the previous answer came back) for --warmup seconds, whose answers are thrown away, and
then --seconds seconds, whose answers are counted. Every request is the --request body plus a distinct rng_seed
(the same sequence 0, 1, 2, ... for every cell, so every model gets the same work).

How to read the table, one row per model and client count:
    requests     answers that came back inside the measured window (in-flight ones at its end are not counted)
    req/s        requests / --seconds;  texts/s: texts returned / --seconds (filters may return fewer than n)
    p50/p99 ms   latency of those requests as the client saw it (queueing in TorchServe included)
    mean batch   the mean of the batch_size each answer reports: the batch as a request saw it
    errors       answers that were not HTTP 200 with a JSON body, or no answer at all; each kind is listed
                 below the table, and the run exits 1 when there were any
The ratios compare each batched model with `single` at the same client count: above 1 for req/s and texts/s
means batching serves more; above 1 for p50 means batching made the median request slower (at one client that
is about maxBatchDelay: a lone request waits that long for company).

With --selector every model ranks its candidates with that selector, and the line under the ratios gives, per
model, the share of the handler's batch time spent ranking (the selector's forward pass over the candidates),
from the handler's LorecastRankingSeconds / LorecastBatchSeconds counters. Without it the share is that of the
log-probability ranking, i.e. next to nothing.

The clients run on the same machine as TorchServe and take some of its CPU; compare numbers only between runs on
the same machine (the facts printed with them). The last section is the novelty check's cost per candidate by
corpus size, measured as benchmarks/novelty_bench.py does (see there), without TorchServe running.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import platform
import re
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import novelty_bench

from lorecast.errors import LorecastError
from ops.archive import ServingOptions, build_archive
from ops.local_server import LocalTorchServe
from serve_handler.request import RequestError, parse_request

REPO = Path(__file__).resolve().parent.parent
DEFAULT_REQUEST = {"n": 1, "candidates": 4, "max_new_tokens": 48}
NOVELTY_CANDIDATES = 200
REQUEST_TIMEOUT_S = 300
HEADER = (
    f"{'variant':<18} {'batch':>5} {'delay ms':>8} {'clients':>7} {'requests':>8} {'req/s':>7} {'texts/s':>7}"
    f" {'p50 ms':>7} {'p99 ms':>7} {'mean batch':>10} {'errors':>6}"
)
# The handler's time counters on TorchServe's Prometheus endpoint: name, model, value.
METRIC_LINE = re.compile(r'^(LorecastRankingSeconds|LorecastBatchSeconds)\{ModelName="([^"]+)",[^}]*\} (\S+)$', re.M)
RATIO_HEADER = f"{'batched / single':<18} {'clients':>7} {'req/s':>7} {'texts/s':>7} {'p50 ms':>7}"


@dataclass(frozen=True)
class Variant:
    """One model in the store: a name for TorchServe and its batch settings."""

    name: str
    batch_size: int
    max_batch_delay: int  # milliseconds


@dataclass(frozen=True)
class Sample:
    """One request as a client saw it."""

    finished: float  # time.perf_counter() when the answer was read
    latency: float  # seconds
    texts: int
    batch_size: int
    error: str  # "" for a 200 with a JSON body; otherwise what came back, in one line


@dataclass(frozen=True)
class Row:
    variant: str
    batch_size: int
    max_batch_delay: int
    clients: int
    requests: int
    req_per_s: float
    texts_per_s: float
    p50_ms: float | None  # None when no request finished inside the window
    p99_ms: float | None
    mean_batch_size: float | None
    errors: int
    error_kinds: dict[str, int]


# ------------------------------------------------------------------------------------------------ clients


class Client:
    """One closed-loop client: a kept-alive HTTP/1.1 connection to TorchServe that reconnects after a failure."""

    def __init__(self, url: str, key: str) -> None:
        parts = urlsplit(url)
        self.host, self.port, self.path = parts.hostname, parts.port, parts.path
        self.headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
        self.connection: http.client.HTTPConnection | None = None

    def send(self, body: dict[str, Any]) -> Sample:
        data = json.dumps(body).encode("utf-8")
        started = time.perf_counter()
        try:
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT_S)
            self.connection.request("POST", self.path, data, self.headers)
            response = self.connection.getresponse()
            status, raw = response.status, response.read()
        except (OSError, http.client.HTTPException) as error:
            self.close()
            finished = time.perf_counter()
            return Sample(finished, finished - started, 0, 0, f"no answer: {type(error).__name__}: {error}")
        finished = time.perf_counter()
        return _sample(finished, finished - started, status, raw)

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def _sample(finished: float, latency: float, status: int, raw: bytes) -> Sample:
    try:
        answer = json.loads(raw)
    except ValueError:
        answer = None
    if status != 200 or not isinstance(answer, dict):
        said = " ".join(raw.decode("utf-8", "replace").split())[:200]
        return Sample(finished, latency, 0, 0, f"HTTP {status}: {said}")
    return Sample(finished, latency, len(answer.get("texts", [])), answer.get("batch_size", 0), "")


class SeedCounter:
    """0, 1, 2, ... shared by the clients of one cell, so no two requests share an rng_seed."""

    def __init__(self) -> None:
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int:
        with self._lock:
            seed, self._next = self._next, self._next + 1
            return seed


def run_cell(url: str, key: str, request: dict[str, Any], clients: int, warmup: float,
             seconds: float) -> list[Sample]:
    """The samples of `clients` closed-loop clients that finished inside [warm-up end, warm-up end + seconds]."""
    seeds = SeedCounter()
    measured: list[Sample] = []
    measure_from = time.perf_counter() + warmup
    stop_at = measure_from + seconds

    def loop() -> None:
        client = Client(url, key)
        try:
            while time.perf_counter() < stop_at:
                sample = client.send({**request, "rng_seed": seeds.take()})
                if measure_from <= sample.finished <= stop_at:
                    measured.append(sample)  # list.append is atomic
        finally:
            client.close()

    threads = [threading.Thread(target=loop, daemon=True) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return measured


# ------------------------------------------------------------------------------------------------ numbers


def percentile(values: list[float], percent: float) -> float | None:
    """Nearest-rank percentile: the smallest value with at least `percent`% of the values at or below it."""
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(percent / 100 * len(ordered)) - 1)]


def summarize(variant: Variant, clients: int, samples: list[Sample], seconds: float) -> Row:
    good = [sample for sample in samples if not sample.error]
    latencies_ms = [sample.latency * 1000 for sample in good]
    return Row(
        variant=variant.name,
        batch_size=variant.batch_size,
        max_batch_delay=variant.max_batch_delay,
        clients=clients,
        requests=len(good),
        req_per_s=len(good) / seconds,
        texts_per_s=sum(sample.texts for sample in good) / seconds,
        p50_ms=percentile(latencies_ms, 50),
        p99_ms=percentile(latencies_ms, 99),
        mean_batch_size=sum(sample.batch_size for sample in good) / len(good) if good else None,
        errors=len(samples) - len(good),
        error_kinds=dict(Counter(sample.error for sample in samples if sample.error)),
    )


def ratios(rows: list[Row]) -> list[dict[str, Any]]:
    """Each batched row over the `single` row with the same client count (None where single measured zero)."""
    single = {row.clients: row for row in rows if row.variant == "single"}
    out = []
    for row in rows:
        base = single.get(row.clients)
        if row.variant == "single" or base is None:
            continue
        out.append({
            "variant": row.variant,
            "clients": row.clients,
            "req_per_s": _ratio(row.req_per_s, base.req_per_s),
            "texts_per_s": _ratio(row.texts_per_s, base.texts_per_s),
            "p50_ms": _ratio(row.p50_ms, base.p50_ms),
        })
    return out


def _ratio(value: float | None, base: float | None) -> float | None:
    return value / base if value is not None and base else None


# ------------------------------------------------------------------------------------------------ printing


def format_row(row: Row) -> str:
    return (
        f"{row.variant:<18} {row.batch_size:>5} {row.max_batch_delay:>8} {row.clients:>7} {row.requests:>8}"
        f" {row.req_per_s:>7.2f} {row.texts_per_s:>7.2f} {_number(row.p50_ms, 7, 0)} {_number(row.p99_ms, 7, 0)}"
        f" {_number(row.mean_batch_size, 10, 2)} {row.errors:>6}"
    )


def format_ratio(ratio: dict[str, Any]) -> str:
    cells = " ".join(
        f"{ratio[key]:>6.2f}x" if ratio[key] is not None else f"{'-':>7}"
        for key in ("req_per_s", "texts_per_s", "p50_ms")
    )
    return f"{ratio['variant']:<18} {ratio['clients']:>7} {cells}"


def _number(value: float | None, width: int, decimals: int) -> str:
    return f"{'-':>{width}}" if value is None else f"{value:>{width}.{decimals}f}"


def machine_facts() -> dict[str, Any]:
    import torch  # only for its version and thread count; the clients do not need it

    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return {
        "cpu_count": os.cpu_count(),
        "cpus_usable": usable,
        "torch_threads": torch.get_num_threads(),
        "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": metadata.version("transformers"),
        "torchserve": metadata.version("torchserve"),
        "platform": platform.platform(),
        "processor": platform.processor() or platform.machine(),
    }


def format_machine(facts: dict[str, Any]) -> str:
    return (
        f"machine: {facts['cpu_count']} CPUs ({facts['cpus_usable']} usable), {facts['processor']}, "
        f"{facts['platform']}\n"
        f"         torch threads {facts['torch_threads']} (OMP_NUM_THREADS={facts['omp_num_threads'] or 'unset'}; "
        "the workers inherit this environment)\n"
        f"         Python {facts['python']}, torch {facts['torch']}, transformers {facts['transformers']}, "
        f"torchserve {facts['torchserve']}"
    )


def progress(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------------------ the run


def build_store(model: Path, corpus: Path, selector: Path | None, store: Path, variants: list[Variant]) -> list[str]:
    """One .mar per variant in `store`, default handler settings; returns their file names."""
    files = []
    for variant in variants:
        progress(f"building {variant.name}.mar (batchSize {variant.batch_size}, "
                 f"maxBatchDelay {variant.max_batch_delay} ms)")
        options = ServingOptions(batch_size=variant.batch_size, max_batch_delay=variant.max_batch_delay)
        files.append(build_archive(model, corpus, store / f"{variant.name}.mar", selector_dir=selector,
                                   options=options).name)
    return files


def ranking_shares(metrics_url: str) -> dict[str, float]:
    """Per model, the share of the handler's batch time spent ranking (the selector's forward pass), from the
    handler's own counters on TorchServe's Prometheus endpoint."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(f"{metrics_url}/metrics", timeout=10) as response:
        text = response.read().decode()
    totals: dict[str, dict[str, float]] = {}
    for name, model, value in METRIC_LINE.findall(text):
        totals.setdefault(model, {})[name] = float(value)
    return {model: seconds.get("LorecastRankingSeconds", 0.0) / seconds["LorecastBatchSeconds"]
            for model, seconds in totals.items() if seconds.get("LorecastBatchSeconds")}


def measure_serving(args: argparse.Namespace, variants: list[Variant]) -> tuple[list[Row], dict[str, float]]:
    rows = []
    with tempfile.TemporaryDirectory(prefix="lorecast-bench-") as work:
        store, run_dir = Path(work) / "store", Path(work) / "run"
        store.mkdir()
        files = build_store(args.model, args.corpus, args.selector, store, variants)
        progress(f"starting TorchServe with {len(files)} models")
        with LocalTorchServe(run_dir, store, files, isolated=True, timeout=600) as server:
            for variant in variants:
                for clients in args.clients:
                    progress(f"{variant.name}: {clients} client(s), {args.warmup:g} s warm-up + {args.seconds:g} s")
                    samples = run_cell(server.predictions_url(variant.name), server.inference_key, args.request,
                                       clients, args.warmup, args.seconds)
                    rows.append(summarize(variant, clients, samples, args.seconds))
            shares = ranking_shares(server.metrics_url)
            progress("stopping TorchServe")
    return rows, shares


def measure_novelty(sizes: list[int]) -> list[dict[str, Any]]:
    progress(f"novelty check at {', '.join(map(str, sizes))} sentences")
    return [{"sentences": size, **result}
            for size, result in novelty_bench.run(sizes, NOVELTY_CANDIDATES, seed=0)]


def report_serving(args: argparse.Namespace, rows: list[Row], shares: dict[str, float],
                   facts: dict[str, Any]) -> None:
    print(f"model {args.model}, corpus {args.corpus}; request {json.dumps(args.request)} + a distinct rng_seed; "
          f"{args.warmup:g} s warm-up + {args.seconds:g} s measured per row")
    print(HEADER)
    for row in rows:
        print(format_row(row))
    for row in rows:
        for kind, count in row.error_kinds.items():
            print(f"  errors, {row.variant} at {row.clients} client(s): {count} x {kind}")
    print()
    print(RATIO_HEADER)
    for ratio in ratios(rows):
        print(format_ratio(ratio))
    print()
    ranker = f"the selector {args.selector}" if args.selector else "log-probability (no --selector)"
    print(f"ranking share of the handler's batch time, ranked by {ranker}: "
          + ", ".join(f"{model} {share:.1%}" for model, share in sorted(shares.items())))
    print()
    print(format_machine(facts), flush=True)


def report_novelty(novelty: list[dict[str, Any]]) -> None:
    print()
    print(f"novelty check per candidate ({NOVELTY_CANDIDATES} candidates per size; see benchmarks/novelty_bench.py)")
    print(novelty_bench.HEADER)
    for result in novelty:
        print(novelty_bench.format_row(result["sentences"], result))


def write_json(path: Path, args: argparse.Namespace, rows: list[Row], shares: dict[str, float],
               facts: dict[str, Any], novelty: list[dict[str, Any]]) -> None:
    document = {
        "model": str(args.model),
        "corpus": str(args.corpus),
        "selector": None if args.selector is None else str(args.selector),
        "ranking_share": shares,
        "request": args.request,
        "warmup_s": args.warmup,
        "seconds": args.seconds,
        "machine": facts,
        "rows": [asdict(row) for row in rows],
        "ratios": ratios(rows),
        "novelty": novelty,
    }
    path.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


# ------------------------------------------------------------------------------------------------ arguments


def positive_ints(text: str, option: str) -> list[int]:
    try:
        values = [int(value) for value in text.split(",") if value.strip()]
    except ValueError:
        raise LorecastError(f"{option}: {text!r} is not a comma-separated list of whole numbers") from None
    if not values or min(values) < 1:
        raise LorecastError(f"{option}: {text!r}: give one or more numbers, each at least 1")
    return values


def sweep_variants(text: str) -> list[Variant]:
    """'B:D,...' -> one batched Variant per entry (batchSize B >= 1, maxBatchDelay D >= 0 ms)."""
    variants = []
    for entry in filter(None, (part.strip() for part in text.split(","))):
        size, _, delay = entry.partition(":")
        try:
            batch_size, max_batch_delay = int(size), int(delay)
        except ValueError:
            raise LorecastError(f"--batch-sweep: {entry!r} is not batchSize:maxBatchDelay, e.g. 16:50") from None
        if batch_size < 1 or max_batch_delay < 0:
            raise LorecastError(f"--batch-sweep: {entry!r}: batchSize must be at least 1, maxBatchDelay at least 0")
        variants.append(Variant(f"batched-b{batch_size}-d{max_batch_delay}", batch_size, max_batch_delay))
    return variants


def all_variants(args: argparse.Namespace) -> list[Variant]:
    """batched, single, then the sweep; a sweep entry with the settings of an earlier variant is dropped."""
    variants = [Variant("batched", args.batch_size, args.max_batch_delay), Variant("single", 1, 0)]
    for variant in sweep_variants(args.batch_sweep):
        if all((variant.batch_size, variant.max_batch_delay) != (seen.batch_size, seen.max_batch_delay)
               for seen in variants):
            variants.append(variant)
    return variants


def request_body(text: str) -> dict[str, Any]:
    """The --request JSON, checked against the handler's request schema before anything starts."""
    try:
        body = json.loads(text)
    except ValueError as error:
        raise LorecastError(f"--request: not JSON ({error})") from None
    if isinstance(body, dict) and "rng_seed" in body:
        raise LorecastError("--request: leave rng_seed out; every request gets its own")
    try:
        parse_request(text, "application/json")
    except RequestError as error:
        raise LorecastError(f"--request: {error}") from None
    return body


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, default=REPO / "demo-out" / "model",
                        help="model dir to serve (default: make demo's, %(default)s)")
    parser.add_argument("--corpus", type=Path, default=REPO / "demo-out" / "corpus",
                        help="corpus dir for the seed words and the novelty index (default: %(default)s)")
    parser.add_argument("--selector", type=Path, default=None,
                        help="selector dir to pack into every variant (e.g. demo-out/selector); the run then "
                             "reports the selector's share of the handler's time")
    parser.add_argument("--clients", default="1,8,32",
                        help="closed-loop client counts, comma-separated (default: %(default)s)")
    parser.add_argument("--seconds", type=float, default=15.0,
                        help="measured seconds per variant and client count (default: %(default)s)")
    parser.add_argument("--warmup", type=float, default=3.0,
                        help="seconds of load before each measured window, whose answers are not counted "
                             "(default: %(default)s)")
    parser.add_argument("--batch-size", type=int, default=8,
                        help="batchSize of the `batched` variant (default: %(default)s)")
    parser.add_argument("--max-batch-delay", type=int, default=50,
                        help="maxBatchDelay (ms) of the `batched` variant (default: %(default)s)")
    parser.add_argument("--batch-sweep", default="",
                        help="more batched variants, batchSize:maxBatchDelay comma-separated, e.g. 4:25,16:50,32:100")
    parser.add_argument("--request", default=json.dumps(DEFAULT_REQUEST),
                        help="JSON body of every request, without rng_seed (default: %(default)s)")
    parser.add_argument("--novelty-sizes", default="1000,10000,100000",
                        help="corpus sizes for the novelty check's cost, comma-separated; '' skips it "
                             "(default: %(default)s)")
    parser.add_argument("--json", type=Path, help="also write every number to this JSON file")
    args = parser.parse_args(argv)
    for name in ("model", "corpus"):
        if not getattr(args, name).is_dir():
            raise LorecastError(f"{getattr(args, name)}: no {name} dir; run `make demo` first or pass --model/--corpus")
    if args.json is not None and not args.json.parent.is_dir():
        raise LorecastError(f"{args.json}: --json: no directory {args.json.parent}")
    if args.seconds <= 0 or args.warmup < 0:
        raise LorecastError("--seconds must be above 0 and --warmup at least 0")
    if args.batch_size < 1 or args.max_batch_delay < 0:
        raise LorecastError("--batch-size must be at least 1 and --max-batch-delay at least 0")
    args.clients = positive_ints(args.clients, "--clients")
    args.novelty_sizes = positive_ints(args.novelty_sizes, "--novelty-sizes") if args.novelty_sizes.strip() else []
    args.request = request_body(args.request)
    return args


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
        variants = all_variants(args)
        facts = machine_facts()
        rows, shares = measure_serving(args, variants)
    except LorecastError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    report_serving(args, rows, shares, facts)
    novelty = measure_novelty(args.novelty_sizes) if args.novelty_sizes else []
    if novelty:
        report_novelty(novelty)
    if args.json is not None:
        write_json(args.json, args, rows, shares, facts, novelty)
    failed = sum(row.errors for row in rows)
    if failed:
        print(f"error: {failed} request(s) failed; see the errors column and the list under the table",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
