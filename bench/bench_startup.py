"""How long commands take before they do any work, against importing their libraries.

The yardstick is ``python -c "import pydantic, rich"`` — interpreter start-up plus
the two libraries every command needs. ``gpuplan --help`` and
``gpuplan detect --hardware cpu --json`` should stay within 2x of it; both ratios
are printed. pydantic 2 imports lazily, so the yardstick does not include building
a model; the second line (one model built) shows what any pydantic-using command
pays before it does anything, and why detection's records are plain dataclasses
(``gpuplan.records``). The last line reads the GPU catalog too. Runs alternate
between the commands so that a busy machine slows all of them alike; the median
of each is compared.

    .venv/bin/python bench/bench_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent
COMMANDS = {
    "import pydantic, rich": [sys.executable, "-c", "import pydantic, rich"],
    "... + one pydantic model": [
        sys.executable,
        "-c",
        "import pydantic, rich\nclass A(pydantic.BaseModel):\n    x: int = 0\nA()",
    ],
    "gpuplan --help": [str(BIN / "gpuplan"), "--help"],
    "gpuplan detect --hardware cpu --json": [
        str(BIN / "gpuplan"),
        "detect",
        "--hardware",
        "cpu",
        "--json",
    ],
    "gpuplan detect --hardware '2x RTX 4090' --json": [
        str(BIN / "gpuplan"),
        "detect",
        "--hardware",
        "2x RTX 4090",
        "--json",
    ],
}


def _time(argv: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, env={**os.environ, "COLUMNS": "80"})
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    runs = parser.parse_args().runs
    for argv in COMMANDS.values():  # warm the file cache and .pyc files
        _time(argv)
    times: dict[str, list[float]] = {name: [] for name in COMMANDS}
    for _ in range(runs):
        for name, argv in COMMANDS.items():
            times[name].append(_time(argv))
    base = statistics.median(times["import pydantic, rich"])
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"{name:48s} median {median * 1000:7.1f} ms   ratio {median / base:4.2f}x")


if __name__ == "__main__":
    main()
