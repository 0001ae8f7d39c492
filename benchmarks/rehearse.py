"""How long does a rehearsal take, against the standalone runner on the same pipeline?

Both run the `orders` example (five tasks: fan-out, fan-in, a table, two outputs) on the same
seeded inputs, in turn, in the same run of this script:

- runner:    ``python build/orders/run_local.py`` (glacier build done once beforehand);
- rehearse:  ``glacier rehearse examples/orders --env default``, which also generates the
  program, runs it under Pulumi's mocks, starts PostgreSQL and the emulator, and runs each
  task in a child process with its role's credentials.

Each is timed as a whole process (wall clock), best and median of ``--repeats`` runs, and the
rehearsal's phases are read from its own progress lines. The ratio says what rehearsing costs
over a local run; the absolute numbers are this 2-core machine's.

Run: ``python benchmarks/rehearse.py [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EXAMPLE = ROOT / "examples" / "orders"


def _seed(folder: Path) -> Path:
    shutil.rmtree(folder, ignore_errors=True)
    shutil.copytree(ROOT / "examples" / "data", folder)
    return folder


def _timed(command: list[str], cwd: Path) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    glacier = [sys.executable, "-m", "glacier_cli"]
    with tempfile.TemporaryDirectory(prefix="glacier-bench-") as tmp:
        work = Path(tmp)
        subprocess.run(
            [*glacier, "build", str(EXAMPLE), "--out", str(work / "build")],
            check=True,
            capture_output=True,
        )
        runner = [sys.executable, str(work / "build" / "orders" / "run_local.py")]
        rehearse = [*glacier, "rehearse", str(EXAMPLE), "--env", "default"]
        times: dict[str, list[float]] = {"runner": [], "rehearse": []}
        for _ in range(args.repeats):  # in turn, so both see the same machine
            data = _seed(work / "data")
            times["runner"].append(_timed([*runner, "--data-dir", str(data)], work))
            data = _seed(work / "data")
            times["rehearse"].append(_timed([*rehearse, "--data-dir", str(data)], work))
    floor = statistics.median(times["runner"])
    print("| command (orders, 5 tasks)                  | best (s) | median (s) | / runner |")
    print("|--------------------------------------------|----------|------------|----------|")
    for name, label in (
        ("runner", "standalone runner (run_local.py)"),
        ("rehearse", "glacier rehearse --env default"),
    ):
        best, median = min(times[name]), statistics.median(times[name])
        print(f"| {label:<42} | {best:8.2f} | {median:10.2f} | {median / floor:7.0f}x |")


if __name__ == "__main__":
    main()
