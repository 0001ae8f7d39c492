"""Does every path stay near-linear from 1,000 to 10,000 tasks, and under 1 GiB?

Two shapes of one pipeline in one module (``benchmarks/_synthetic.py``, ``scale_project``):

- chain: ``t00000 -> t00001 -> ... ``, each task reading the previous one's dataset;
- fan:   one task feeding N - 2 independent tasks, all read by one last task.

The tasks are no-ops (``return x + 1``); only the last dataset is stored. For each shape and
size, every path runs in a fresh child process, timed by wall clock (interpreter start
included), its peak memory the child's maximum resident set size (``os.wait4``):

- import:          ``import pipe`` (each ``@pipeline.task()`` registers a task) and
                   ``LocalExecutor().execute(pipeline)``, in-process;
- check (cold):    ``glacier check --no-cache pipe.py``;
- inspect:         ``glacier inspect pipe.py`` (static: the model as JSON);
- build:           ``glacier build pipe.py`` (no ``--package``); past ~1,800 tasks the
                   state machine is split into child machines (over 1 MB as one). The fan's
                   build stops with GLC308 after planning them: its last task's role could
                   not hold the grants of all its inputs, so nothing is written;
- run --list:      ``glacier run pipe.py --list``: writes the local runner, manifest and
                   graph under ``.glacier/build/`` (what ``build`` writes besides Pulumi);
- runner dry-run:  ``python run_local.py --dry-run``;
- runner run:      ``python run_local.py``: the whole pipeline, with a resume copy of every
                   ephemeral dataset written and fsync'ed (its cost is disk-bound).

The table gives time and peak memory per size (the best of ``--repeats`` runs: the machine
may be shared) and the 10k/1k ratio of the times (linear would be 10). Run:
``python benchmarks/scale.py [--sizes 1000 10000] [--shapes chain fan] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _synthetic import SHAPES, scale_project

PYTHON = sys.executable
GLACIER = [PYTHON, "-m", "glacier_cli"]
IMPORT = (
    "import pipe\n"
    "from glacier_local import LocalExecutor\n"
    "result = LocalExecutor().execute(pipe.pipeline)\n"
    "assert result.ok, result.summary()\n"
)


def paths(shape: str, tasks: int) -> list[tuple[str, list[str], tuple[int, ...]]]:
    """(path, command, accepted exit codes) in the order they run: run --list makes the runner."""
    runner = os.path.join(".glacier", "build", f"{shape}_{tasks}", "run_local.py")
    return [
        ("import + LocalExecutor", [PYTHON, "-c", IMPORT], (0,)),
        ("check (cold)", [*GLACIER, "check", "--no-cache", "pipe.py"], (0,)),
        ("inspect", [*GLACIER, "inspect", "pipe.py"], (0,)),
        # 1: GLC307 (no split fits) or GLC308 (the fan's last task: no IAM role holds the
        # grants of 9,998 datasets), found after planning the machines, before writing
        ("build", [*GLACIER, "build", "pipe.py"], (0, 1)),
        ("run --list (writes runner)", [*GLACIER, "run", "pipe.py", "--list"], (0,)),
        ("runner --dry-run", [PYTHON, runner, "--dry-run"], (0,)),
        ("runner run", [PYTHON, runner], (0,)),
    ]


def measure(command: list[str], cwd: str, accepted: tuple[int, ...]) -> tuple[float, float, int]:
    """(seconds, peak MiB, exit code) of one child process."""
    with tempfile.TemporaryFile() as output:
        start = time.perf_counter()
        child = subprocess.Popen(command, cwd=cwd, stdout=output, stderr=subprocess.STDOUT)
        _, status, usage = os.wait4(child.pid, 0)
        elapsed = time.perf_counter() - start
        child.returncode = code = os.waitstatus_to_exitcode(status)
        if code not in accepted:
            output.seek(0)
            tail = output.read()[-3000:].decode(errors="replace")
            raise SystemExit(f"{' '.join(command)} exited {code} in {cwd}:\n{tail}")
    return elapsed, usage.ru_maxrss / 1024, code  # ru_maxrss is in KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--repeats", type=int, default=2, help="best of N runs of each path")
    args = parser.parse_args()
    small, large = min(args.sizes), max(args.sizes)
    rows: dict[tuple[str, str], dict[int, tuple[float, float, int]]] = {}
    with tempfile.TemporaryDirectory(prefix="glacier-scale-") as root:
        for shape in args.shapes:
            for tasks in args.sizes:
                folder = os.path.join(root, f"{shape}_{tasks}")
                scale_project(folder, shape, tasks)
                for name, command, accepted in paths(shape, tasks):
                    runs = [measure(command, folder, accepted) for _ in range(args.repeats)]
                    result = min(runs)
                    print(f"  {shape} {tasks:>6} {name:<28} {result[0]:8.2f} s {result[1]:7.0f} MiB",
                          file=sys.stderr, flush=True)  # fmt: skip
                    rows.setdefault((shape, name), {})[tasks] = result
    print_table(rows, small, large)


def print_table(
    rows: dict[tuple[str, str], dict[int, tuple[float, float, int]]], small: int, large: int
) -> None:
    sizes = sorted({size for by_size in rows.values() for size in by_size})
    header = ["shape", "path", *(f"{size:,} tasks" for size in sizes)]
    if small != large:
        header.append(f"{large / 1000:g}k/{small / 1000:g}k time")
    lines = [header]
    for (shape, name), by_size in rows.items():
        cells = [shape, name]
        for size in sizes:
            seconds, mib, code = by_size[size]
            note = " (GLC307)" if code == 1 else ""
            cells.append(f"{seconds:.2f} s, {mib:.0f} MiB{note}")
        if small != large:
            cells.append(f"{by_size[large][0] / by_size[small][0]:.1f}")
        lines.append(cells)
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    for number, line in enumerate(lines):
        print("| " + " | ".join(cell.ljust(width) for cell, width in zip(line, widths)) + " |")
        if number == 0:
            print("|" + "|".join("-" * (width + 2) for width in widths) + "|")


if __name__ == "__main__":
    main()
