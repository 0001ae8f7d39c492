"""What does a no-op re-run cost against a full run, on both local paths?

The 1,000-task pipelines of ``benchmarks/scale.py`` (``benchmarks/_synthetic.py``: a chain and
a fan of no-op tasks; only the last dataset is stored). For each shape and path, each sample
runs the pipeline twice in fresh child processes on a fresh data directory, timed by wall
clock (interpreter start and loading the task code included):

- full run:    the first run, which runs every task and writes the run records
               (``<data dir>/.glacier-run/<pipeline>/``);
- no-op rerun: the same command again, nothing changed: every task is ``cached`` (checked:
               the benchmark fails if one ran).

The wall clock of the executor's process is mostly ``import pipe`` (registering 1,000 tasks),
so its ``execute()`` call is also timed inside the process (the code fingerprints are read
from the module's file in the first ``execute()`` of a process, included).

Paths: ``LocalExecutor().execute(pipeline)`` after ``import pipe``, and the standalone runner
``python run_local.py`` (``glacier run pipe.py --list`` writes it first; it also keeps a
resume copy of every ephemeral dataset, so its no-op rerun checks 1,000 files). Medians, best
in parentheses, and the rerun's share of the full run. Run:
``python benchmarks/incremental.py [--tasks 1000] [--shapes chain fan] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _report import fmt, table
from _synthetic import SHAPES, scale_project

PYTHON = sys.executable
EXECUTE = (
    "import sys, time\n"
    "import pipe\n"
    "from glacier_local import LocalExecutor\n"
    "start = time.perf_counter()\n"
    "result = LocalExecutor(sys.argv[1]).execute(pipe.pipeline)\n"
    "seconds = time.perf_counter() - start\n"
    "assert result.ok, result.summary()\n"
    "print('ran', len(result.ran))\n"
    "print('execute', seconds)\n"
)


def timed(command: list[str], cwd: str) -> tuple[float, str]:
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} exited {done.returncode}:\n{done.stderr[-3000:]}")
    return elapsed, done.stdout


def ran_nothing(path: str, stdout: str) -> bool:
    if path == "LocalExecutor":
        return "ran 0" in stdout
    return " 0 succeeded, " in stdout and " 0 failed, " in stdout


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--shapes", nargs="+", choices=SHAPES, default=list(SHAPES))
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="glacier-incremental-") as root:
        for shape in args.shapes:
            folder = os.path.join(root, f"{shape}_{args.tasks}")
            scale_project(folder, shape, args.tasks)
            timed([PYTHON, "-m", "glacier_cli", "run", "pipe.py", "--list"], folder)
            runner = os.path.join(".glacier", "build", f"{shape}_{args.tasks}", "run_local.py")
            for path, command in (
                ("LocalExecutor", [PYTHON, "-c", EXECUTE]),
                ("runner", [PYTHON, runner, "--data-dir"]),
            ):
                full: list[float] = []
                rerun: list[float] = []
                inside: list[tuple[float, float]] = []
                for sample in range(args.repeats):
                    data = os.path.join(folder, f"data-{path}-{sample}")
                    first, first_out = timed([*command, data], folder)
                    full.append(first)
                    seconds, stdout = timed([*command, data], folder)
                    if path == "LocalExecutor":
                        inside.append((_execute(first_out), _execute(stdout)))
                    if not ran_nothing(path, stdout):
                        raise SystemExit(f"{path}: the no-op rerun ran tasks:\n{stdout[-2000:]}")
                    rerun.append(seconds)
                    print(f"  {shape} {path}: {full[-1]:.2f} s, rerun {seconds:.2f} s",
                          file=sys.stderr, flush=True)  # fmt: skip
                share = sorted(rerun)[len(rerun) // 2] / sorted(full)[len(full) // 2]
                label = f"{shape} {args.tasks:,}"
                rows.append([label, path, fmt(full), fmt(rerun), f"{share:.0%}"])
                if inside:
                    full_in, rerun_in = [a for a, _ in inside], [b for _, b in inside]
                    share = sorted(rerun_in)[len(inside) // 2] / sorted(full_in)[len(inside) // 2]
                    rows.append(
                        [label, "  execute() alone", fmt(full_in), fmt(rerun_in), f"{share:.0%}"]
                    )
    table(["pipeline", "path", "full run", "no-op rerun", "rerun/full"], rows)


def _execute(stdout: str) -> float:
    return float(stdout.split("execute ", 1)[1].split()[0])


if __name__ == "__main__":
    main()
