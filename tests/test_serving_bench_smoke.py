"""benchmarks/serving_bench.py runs end to end, as a user runs it, against the session's tiny model: one TorchServe,
a row per variant and client count, no failed request. Numbers are not checked: they depend on the machine."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from serve_handler.selector import Calibration, Selector, SelectorHead

BENCH = Path(__file__).resolve().parent.parent / "benchmarks" / "serving_bench.py"
VARIANTS, CLIENTS = ("batched", "single"), (1, 2)


def table_rows(out: str) -> dict[tuple[str, int], list[str]]:
    """(variant, clients) -> the row's cells, from the serving table (header line to the first blank line)."""
    lines = out.splitlines()
    start = next(index for index, line in enumerate(lines) if line.split()[:2] == ["variant", "batch"])
    rows = {}
    for line in lines[start + 1:]:
        if not line.strip():
            break
        if line.startswith(" "):  # an error listed under the table
            continue
        cells = line.split()
        rows[(cells[0], int(cells[3]))] = cells
    return rows


@pytest.mark.slow
def test_the_serving_benchmark_runs_with_tiny_settings(trained, tmp_path):
    corpus, model, _ = trained
    results = tmp_path / "results.json"
    hidden = json.loads((model / "config.json").read_text())["n_embd"]
    Selector(SelectorHead(hidden, 8), [-1], Calibration()).save(tmp_path / "selector", metrics={}, trained_on={})
    done = subprocess.run(
        [sys.executable, str(BENCH), "--model", str(model), "--corpus", str(corpus),
         "--selector", str(tmp_path / "selector"),
         "--clients", ",".join(map(str, CLIENTS)), "--seconds", "1", "--warmup", "0.5",
         # The test model's context is 32 tokens.
         "--request", '{"n": 1, "candidates": 2, "max_new_tokens": 16}',
         "--novelty-sizes", "1000", "--json", str(results)],
        capture_output=True, text=True, timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]

    rows = table_rows(done.stdout)
    assert set(rows) == {(variant, clients) for variant in VARIANTS for clients in CLIENTS}
    for (variant, _), cells in rows.items():
        requests, mean_batch, errors = int(cells[4]), float(cells[9]), int(cells[10])
        assert requests > 0 and errors == 0, cells
        if variant == "single":
            assert mean_batch == 1.0
    assert "batched / single" in done.stdout and "torchserve 0.12.0" in done.stdout
    assert "index µs" in done.stdout  # the novelty section

    share_line = next(line for line in done.stdout.splitlines() if line.startswith("ranking share"))
    assert "the selector" in share_line and all(f"{variant} " in share_line for variant in VARIANTS)

    document = json.loads(results.read_text(encoding="utf-8"))
    assert set(document["ranking_share"]) == set(VARIANTS)
    assert all(0 < share < 1 for share in document["ranking_share"].values())
    assert {(row["variant"], row["clients"]) for row in document["rows"]} == set(rows)
    assert [entry["sentences"] for entry in document["novelty"]] == [1000]
