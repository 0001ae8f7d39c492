"""How fast is ``glacier check`` on the CPython standard library, against ``ruff check --select F``?

Real code no one here wrote: the ``.py`` files of this interpreter's standard library
(``sysconfig.get_paths()["stdlib"]``, ``test/`` included with its deliberately broken files)
are copied into a temporary tree holding a ``pyproject.toml`` (so the tree is the project
root). Left out of the copy: ``site-packages`` (not the standard library), ``__pycache__`` and
the directories the tools skip by default anyway (``venv``, ``build``, ``dist``, dot
directories). In the same run, each repeat measures back to back, in fresh processes, wall
time including interpreter start:

- ``ruff check --select F --no-cache TREE`` (pyflakes' rules, every file parsed and linted,
  on every core, its findings printed in ruff's default format): the baseline;
- cold ``python -m glacier_cli check --quiet TREE``, its cache (``TREE/.glacier``) deleted first.

Exit status 1 (findings) is expected from both; status 2 or an internal error (a traceback, or
glacier's "internal error") fails the benchmark. The table gives the median of ``--repeats``
runs (best in parentheses) and the ratio glacier / ruff, median of the pairs (best in
parentheses), against the goal of issue 11: at most 4x. A last ``glacier check --no-cache
--format json`` (not timed) counts what glacier reports, and how many files its summary says
it checked; issue 11 requires **zero errors** on the standard library, so any error is printed
and the benchmark exits 1 after the table.
Run: ``python benchmarks/stdlib_check.py [--repeats 5] [--subset N]`` (``--subset`` copies
only the first N files in sorted order, for a quick run).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _report import fmt, table

PYTHON = sys.executable
GOAL = 4.0
# besides site-packages: directories ruff and glacier skip by default anyway
SKIPPED_DIRS = {"site-packages", "__pycache__", "venv", "build", "dist", "node_modules"}


def stdlib_files(stdlib: str) -> list[str]:
    """The standard library's ``.py`` files (regular files), as sorted relative paths."""
    found = []
    for directory, dirs, files in os.walk(stdlib):
        dirs[:] = [d for d in dirs if d not in SKIPPED_DIRS and not d.startswith(".")]
        for name in files:
            path = os.path.join(directory, name)
            if name.endswith(".py") and os.path.isfile(path):
                found.append(os.path.relpath(path, stdlib))
    return sorted(found)


def copy_tree(stdlib: str, tree: str, subset: int | None) -> int:
    """Copy the files (the first ``subset`` of them, if given); return how many."""
    files = stdlib_files(stdlib)[:subset]
    for relative in files:
        os.makedirs(os.path.join(tree, os.path.dirname(relative)), exist_ok=True)
        shutil.copyfile(os.path.join(stdlib, relative), os.path.join(tree, relative))
    with open(os.path.join(tree, "pyproject.toml"), "w") as handle:
        handle.write('[project]\nname = "stdlib-copy"\nversion = "0"\n')
    return len(files)


# the cache goes under the tree, where each cold run deletes it
# as installed software runs: with bytecode (a sandbox may set PYTHONDONTWRITEBYTECODE)
ENV = {
    k: v for k, v in os.environ.items() if k not in ("GLACIER_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")
}


def run(command: list[str], cwd: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    """Wall time of the command; exit status 2 or an internal error fails the benchmark."""
    start = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=cwd, env=ENV, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    broken = "Traceback (most recent call last)" in done.stderr or "internal error" in done.stderr
    if done.returncode not in (0, 1) or broken:
        raise SystemExit(
            f"benchmark failed: {' '.join(command)} exited {done.returncode}\n{done.stderr[-4000:]}"
        )
    return elapsed, done


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def find_ruff() -> str:
    beside = os.path.join(os.path.dirname(PYTHON), "ruff")  # the dev venv's own ruff
    ruff = beside if os.access(beside, os.X_OK) else shutil.which("ruff")
    if ruff is None:
        raise SystemExit("ruff not found: install the dev extra (pip install -e '.[dev]')")
    return ruff


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--subset", type=int, default=None, metavar="N")
    args = parser.parse_args()
    ruff = find_ruff()
    stdlib = sysconfig.get_paths()["stdlib"]
    with tempfile.TemporaryDirectory(prefix="glacier-stdlib-") as tmp:
        tree = os.path.join(tmp, "stdlib")
        count = copy_tree(stdlib, tree, args.subset)
        ruff_command = [ruff, "check", "--select", "F", "--no-cache", tree]
        glacier = [PYTHON, "-m", "glacier_cli", "check"]
        glacier_command = [*glacier, "--quiet", tree]
        times: dict[str, list[float]] = {"ruff": [], "glacier": []}
        for _ in range(args.repeats):  # the machine may be shared: ratios are per pair
            times["ruff"].append(run(ruff_command, tmp)[0])
            shutil.rmtree(os.path.join(tree, ".glacier"), ignore_errors=True)
            times["glacier"].append(run(glacier_command, tmp)[0])
        version = run([ruff, "--version"], tmp)[1].stdout.strip()
        _, report = run([*glacier, "--no-cache", "--format", "json", tree], tmp)
    found = json.loads(report.stdout)
    summary = found["summary"]
    errors = [d for d in found["diagnostics"] if d.get("severity") == "error"]

    print(f"glacier check on the standard library of Python {sys.version.split()[0]} ({stdlib})")
    print(f"{count} files copied{'' if args.subset is None else f' (--subset {args.subset})'}")
    print(f"{version}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    print()
    pairs = [g / r for g, r in zip(times["glacier"], times["ruff"], strict=True)]
    median = statistics.median(pairs)
    table(
        ["measurement", "median (best)"],
        [
            ["`ruff check --select F --no-cache` (the baseline)", fmt(times["ruff"])],
            ["cold `glacier check --quiet` (cache deleted)", fmt(times["glacier"])],
        ],
    )
    print()
    table(
        ["ratio, median of pairs (best)", "goal", "result"],
        [
            [
                "cold glacier check / ruff check --select F",
                f"<= {GOAL:g}x",
                f"{median:5.2f}x ({min(pairs):.2f}x) {'met' if median <= GOAL else 'MISSED'}",
            ]
        ],
    )
    print()
    print(
        f"glacier check found {plural(summary['errors'], 'error')} and"
        f" {plural(summary['warnings'], 'warning')}, goal 0 errors"
        f" ({summary['files']} of the {count} files checked, by its summary's count)"
    )
    if summary["errors"] or errors:
        for diagnostic in errors[:50]:
            print(
                f"  {diagnostic['path']}:{diagnostic['line']}:{diagnostic['column']}:"
                f" {diagnostic['code']} {diagnostic['message']}"
            )
        raise SystemExit(
            f"glacier check reported {plural(summary['errors'], 'error')} on the standard library"
        )


if __name__ == "__main__":
    main()
