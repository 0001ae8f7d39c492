"""How fast is ``glacier check`` on a big project, against parsing it and against importing it?

A synthetic project (``benchmarks/_synthetic.py``: N modules of ~150 lines, 10 tasks each,
datasets imported across modules) is generated twice: plain, and with every module importing
``pandas`` and ``pulumi_aws`` at top level as real pipeline modules do. For each, in the same
run:

- ``ast.parse`` of every module, in this process: the floor of any static reading;
- cold ``glacier check`` (a fresh ``python -m glacier check``, the cache deleted first);
- importing every module in a fresh interpreter, without and with ``.pyc`` files: what the
  runtime path (``glacier inspect --runtime``) and import-based tools pay;
- ``glacier check`` again with nothing changed (answered from the cache);
- ``glacier check`` after one module changed (a comment appended to a different module each
  time).

Every subprocess time is wall time including interpreter start; each figure is the median of
``--repeats`` runs (best in parentheses); each cold check is measured right after a floor, and
their ratio is given per pair (the machine may be shared). Run:
``python benchmarks/analyzer_check.py [--modules 1000] [--repeats 5]``.
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

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _synthetic import generate, module_path

PYTHON = sys.executable


def timed(command: list[str], cwd: str, env: dict[str, str] | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run(command, check=False, cwd=cwd, env=env, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{command} failed ({done.returncode}):\n{done.stderr}")
    return elapsed


def repeat(measure: Callable[[], float], times: int) -> list[float]:
    return [measure() for _ in range(times)]


def fmt(samples: list[float]) -> str:
    return f"{statistics.median(samples):7.3f} s ({min(samples):.3f})"


def parse_floor(files: list[str]) -> Callable[[], float]:
    texts = []
    for path in files:
        with open(path, encoding="utf-8") as handle:
            texts.append(handle.read())

    def once() -> float:
        start = time.perf_counter()
        for text in texts:
            ast.parse(text)
        return time.perf_counter() - start

    return once


def measure(root: str, modules: int, heavy: bool, repeats: int) -> dict[str, list[float]]:
    files = generate(root, modules, heavy=heavy)
    env = {k: v for k, v in os.environ.items() if k != "GLACIER_CACHE_DIR"}
    check = [PYTHON, "-m", "glacier", "check", "--quiet", "synth"]
    cache = os.path.join(root, ".glacier")
    results: dict[str, list[float]] = {"floor": [], "cold": []}
    floor = parse_floor(files)
    # the machine may be shared: each cold check is paired with a floor measured just before
    for _ in range(repeats):
        results["floor"].append(floor())
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
    results["unchanged"] = repeat(lambda: timed(check, root, env), repeats)
    edits = iter(range(10**6))

    def one_changed() -> float:
        i = next(edits)
        with open(module_path(root, (i * 37 + 11) % modules), "a") as handle:
            handle.write(f"# edit {i}\n")
        return timed(check, root, env)

    results["changed"] = repeat(one_changed, repeats)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modules", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    start = repeat(lambda: timed([PYTHON, "-c", "pass"], os.getcwd()), args.repeats)
    with tempfile.TemporaryDirectory(prefix="glacier-bench-") as tmp:
        plain = measure(os.path.join(tmp, "plain"), args.modules, False, args.repeats)
        heavy = measure(os.path.join(tmp, "heavy"), args.modules, True, args.repeats)
    rows = [
        ("ast.parse of every module, in-process (the floor)", "floor"),
        ("cold `glacier check` (cache deleted)", "cold"),
        ("import every module (runtime path), no .pyc", "import"),
        ("import every module (runtime path), .pyc present", "import_pyc"),
        ("re-check, nothing changed", "unchanged"),
        ("re-check after one module changed", "changed"),
    ]
    n = args.modules
    print(f"glacier check on a synthetic project of {n} modules (~150 lines, 10 tasks each)")
    print(f"{os.cpu_count()} CPUs, Python {sys.version.split()[0]}, load {os.getloadavg()[0]:.1f}")
    print(f"interpreter start (python -c pass): {fmt(start)}")
    print()
    width = max(len(label) for label, _ in rows)
    print(f"| {'measurement':<{width}} | {'plain':>19} | {'pandas + pulumi_aws':>19} |")
    print(f"|{'-' * (width + 2)}|{'-' * 21}|{'-' * 21}|")
    for label, key in rows:
        print(f"| {label:<{width}} | {fmt(plain[key]):>19} | {fmt(heavy[key]):>19} |")
    for name, result in (("plain", plain), ("pandas + pulumi_aws", heavy)):
        ratios = [c / f for c, f in zip(result["cold"], result["floor"], strict=True)]
        print(
            f"cold check / ast.parse floor ({name}): median {statistics.median(ratios):.1f}x"
            f" (best {min(ratios):.1f}x) of pairs measured back to back"
        )


if __name__ == "__main__":
    main()
