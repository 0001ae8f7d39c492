"""How fast is ``glacier check`` on a big project, against parsing it and against importing it?

A synthetic project (``benchmarks/_synthetic.py``: N modules of ~150 lines, 10 tasks each,
datasets imported across modules) is generated twice: plain, and with every module importing
``pandas`` and ``pulumi_aws`` at top level as real pipeline modules do. For each, in the same
run:

- ``libcst.parse_module`` of every module, in this process, on one core (the texts are read
  before the clock starts): the floor of the analyzer's front end, libcst's bare parse;
- ``ast.parse`` of the same texts, likewise: for reference only (no goal is set against it);
- cold ``glacier check`` (a fresh ``python -m glacier_cli check``, the cache deleted first);
- importing every module in a fresh interpreter, without and with ``.pyc`` files: what the
  runtime path (``glacier inspect --runtime``) and import-based tools pay;
- ``python -c "import click"``: the start of a bare click program, the re-checks' baseline;
- ``glacier check`` again with nothing changed (answered from the cache);
- ``glacier check`` after one module changed (a comment appended to a different module each
  time).

Every subprocess time is wall time including interpreter start; each figure is the median of
``--repeats`` runs (best in parentheses). The machine may be shared, so each goal is a ratio of
pairs measured back to back: each cold check right after the two parses, each re-check right
after an ``import click`` start. The goals (issue 11): cold check at most 1.5x libcst's parse,
re-check with nothing changed at most 2x the ``import click`` start, after one file changed
at most 5x; the second table gives each ratio's median over the pairs (best in parentheses)
against its goal. Run:
``python benchmarks/analyzer_check.py [--modules 1000] [--repeats 5]`` (libcst parses 1,000
modules in about 15 s per repeat; ``--modules 100 --repeats 2`` is a quick run).
"""

from __future__ import annotations

import argparse
import ast
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable

import libcst

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _report import fmt, table
from _synthetic import generate, module_path

PYTHON = sys.executable
CLICK = [PYTHON, "-c", "import click"]


def timed(command: list[str], cwd: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def repeat(measure: Callable[[], float], times: int) -> list[float]:
    return [measure() for _ in range(times)]


def parse_all(parse: Callable[[str], object], texts: list[str]) -> float:
    """Seconds to parse every text, in this process; the trees are dropped as they come."""
    start = time.perf_counter()
    for text in texts:
        parse(text)
    return time.perf_counter() - start


def measure(root: str, modules: int, heavy: bool, repeats: int) -> dict[str, list[float]]:
    files = generate(root, modules, heavy=heavy)
    texts = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            texts.append(handle.read())
    # as installed software runs: with bytecode (a sandbox may set PYTHONDONTWRITEBYTECODE)
    dropped = ("GLACIER_CACHE_DIR", "PYTHONDONTWRITEBYTECODE")
    env = {k: v for k, v in os.environ.items() if k not in dropped}
    check = [PYTHON, "-m", "glacier_cli", "check", "--quiet", "synth"]
    cache = os.path.join(root, ".glacier")
    results: dict[str, list[float]] = {"libcst": [], "ast": [], "cold": []}
    # the machine may be shared: each cold check is paired with the floors measured just before
    for _ in range(repeats):
        results["ast"].append(parse_all(ast.parse, texts))
        results["libcst"].append(parse_all(libcst.parse_module, texts))
        shutil.rmtree(cache, ignore_errors=True)
        results["cold"].append(timed(check, root, env))
    names = ", ".join(f"synth.m{i:04d}" for i in range(modules))
    importing = [PYTHON, "-c", f"import {names}"]
    no_pyc = {**env, "PYTHONDONTWRITEBYTECODE": "1"}

    def import_cold() -> float:
        shutil.rmtree(os.path.join(root, "synth", "__pycache__"), ignore_errors=True)
        return timed(importing, root, no_pyc)

    results["import"] = repeat(import_cold, max(2, repeats // 2))
    timed(importing, root, env)  # writes the .pyc files
    results["import_pyc"] = repeat(lambda: timed(importing, root, env), max(2, repeats // 2))
    shutil.rmtree(os.path.join(root, "synth", "__pycache__"), ignore_errors=True)

    timed(check, root, env)  # warm: a cache entry whose file states are settled
    results["click_unchanged"], results["unchanged"] = [], []
    for _ in range(repeats):  # each re-check paired with a click start just before it
        results["click_unchanged"].append(timed(CLICK, root, env))
        results["unchanged"].append(timed(check, root, env))
    results["click_changed"], results["changed"] = [], []
    for i in range(repeats):
        with open(module_path(root, (i * 37 + 11) % modules), "a") as handle:
            handle.write(f"# edit {i}\n")
        results["click_changed"].append(timed(CLICK, root, env))
        results["changed"].append(timed(check, root, env))
    results["click"] = results["click_unchanged"] + results["click_changed"]
    return results


ROWS = [
    ("libcst.parse_module of every module, in-process (the floor)", "libcst"),
    ("ast.parse of every module, in-process (for reference)", "ast"),
    ("cold `glacier check` (cache deleted)", "cold"),
    ("import every module (runtime path), no .pyc", "import"),
    ("import every module (runtime path), .pyc present", "import_pyc"),
    ('`python -c "import click"` (the re-checks\' baseline)', "click"),
    ("re-check, nothing changed", "unchanged"),
    ("re-check after one module changed", "changed"),
]

# (label, numerator, denominator, goal: at most this ratio, or None for information only)
RATIOS = [
    ("cold check / libcst parse", "cold", "libcst", 1.5),
    ("cold check / ast.parse", "cold", "ast", None),
    ("re-check, nothing changed / import click", "unchanged", "click_unchanged", 2.0),
    ("re-check, one module changed / import click", "changed", "click_changed", 5.0),
]


def ratio_cell(result: dict[str, list[float]], top: str, bottom: str, goal: float | None) -> str:
    pairs = [t / b for t, b in zip(result[top], result[bottom], strict=True)]
    median = statistics.median(pairs)
    verdict = "" if goal is None else (" met" if median <= goal else " MISSED")
    return f"{median:5.2f}x ({min(pairs):.2f}x){verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = repeat(lambda: timed([PYTHON, "-c", "pass"], os.getcwd()), args.repeats)
    with tempfile.TemporaryDirectory(prefix="glacier-bench-") as tmp:
        plain = measure(os.path.join(tmp, "plain"), args.modules, False, args.repeats)
        heavy = measure(os.path.join(tmp, "heavy"), args.modules, True, args.repeats)
    n = args.modules
    print(f"glacier check on a synthetic project of {n} modules (~150 lines, 10 tasks each)")
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}")
    print(f"interpreter start (python -c pass): {fmt(start)}")
    print()
    corpora = ["plain", "pandas + pulumi_aws"]
    table(
        ["measurement", *corpora],
        [[label, fmt(plain[key]), fmt(heavy[key])] for label, key in ROWS],
    )
    print()
    table(
        ["ratio, median of pairs (best)", "goal", *corpora],
        [
            [
                label,
                "-" if goal is None else f"<= {goal:g}x",
                ratio_cell(plain, top, bottom, goal),
                ratio_cell(heavy, top, bottom, goal),
            ]
            for label, top, bottom, goal in RATIOS
        ],
    )


if __name__ == "__main__":
    main()
