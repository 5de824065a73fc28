"""A poster run's footprint: wall time, peak memory, and whether torch or transformers got imported.

    lorecast serve start                                    # a TorchServe with the .mar, e.g. after `make demo`
    .venv/bin/python benchmarks/poster_footprint.py [--endpoint URL] [--key-file .lorecast/serve/key_file.json]

Runs `lorecast post stdout` (the whole run: lock, ledger, inference request, publish to stdout) in a fresh Python
process against that TorchServe, with a throw-away ledger, `--runs` times, and prints each run's wall time and
peak resident memory (Linux VmHWM, which starts afresh at exec), next to `lorecast --help` and a bare Python for
scale. The poster image has no torch: each run also lists the heavy modules it imported (there must be none).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROBE = """
import re, sys
try:
    if sys.argv[1:]:
        from lorecast.cli import main
        main()
finally:
    heavy = sorted(name for name in ("torch", "transformers", "numpy", "sklearn") if name in sys.modules)
    with open("/proc/self/status") as status:
        peak = re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1)
    print("FOOTPRINT", ",".join(heavy) or "none", peak, file=sys.stderr)
"""


def measure(name: str, args: list[str]) -> dict:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", PROBE, *args], capture_output=True, text=True)
    wall = time.perf_counter() - started
    lines = done.stderr.strip().splitlines()
    if done.returncode != 0 or not lines or not lines[-1].startswith("FOOTPRINT "):
        raise SystemExit(f"error: {name} failed:\n" + "\n".join(lines[-3:]))
    _, heavy, peak_kib = lines[-1].split()
    return {"command": name, "wall_s": round(wall, 2), "peak_mib": round(int(peak_kib) / 1024, 1),
            "heavy_imports": heavy}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--endpoint", default="http://127.0.0.1:8080/predictions/lorecast")
    parser.add_argument("--key-file", default=".lorecast/serve/key_file.json")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    print(json.dumps(measure("python (nothing imported)", [])))
    print(json.dumps(measure("lorecast --help", ["--help"])))
    with tempfile.TemporaryDirectory() as work:
        post = ["post", "stdout", "--endpoint", args.endpoint, "--key-file", args.key_file,
                "--ledger", str(Path(work) / "posts.db")]
        for _ in range(args.runs):
            print(json.dumps(measure("lorecast post stdout", post)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
