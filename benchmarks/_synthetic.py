"""A synthetic Glacier project for the analyzer benchmarks: N modules of ~150 lines, ~10 tasks each.

The project is a package ``synth`` under a directory holding a ``pyproject.toml``:

- ``synth/pipelines.py`` declares one ``Pipeline`` per group of 25 modules;
- ``synth/mNNNN.py`` declares 10 datasets and 10 tasks chained through them, plus helpers. The
  first task of a module reads the last dataset of the previous module of its group, imported
  from that module (alternately ``from synth.mNNNN import out`` and ``from synth import mNNNN``
  then ``mNNNN.out``), so every DAG crosses 25 modules.

``heavy=True`` is the variant whose modules also import ``pandas`` and ``pulumi_aws`` at top
level, as real pipeline modules do (the payloads become ``pd.DataFrame``).

``scale_project`` writes the other kind, for ``benchmarks/scale.py``: one module ``pipe.py``
holding a single pipeline of N no-op tasks, shaped as a ``chain`` (``t00000 -> t00001 -> ...``)
or a ``fan`` (one task feeding N - 2 independent tasks, all read by one last task).

Run ``python benchmarks/_synthetic.py DIR [--modules N] [--heavy]`` to write one by hand.
"""

from __future__ import annotations

import argparse
import os

__all__ = ["GROUP", "SHAPES", "TASKS", "generate", "module_path", "scale_project"]

GROUP = 25  # modules per pipeline
TASKS = 10  # tasks (and datasets) per module


def module_path(root: str, index: int) -> str:
    return os.path.join(root, "synth", f"m{index:04d}.py")


def generate(root: str, modules: int, *, heavy: bool = False) -> list[str]:
    """Write the project under ``root`` (created if missing); return the module files."""
    package = os.path.join(root, "synth")
    os.makedirs(package, exist_ok=True)
    with open(os.path.join(root, "pyproject.toml"), "w") as handle:
        handle.write('[project]\nname = "synth"\nversion = "0"\n')
    with open(os.path.join(package, "__init__.py"), "w") as handle:
        handle.write('"""A synthetic Glacier project (benchmarks/_synthetic.py)."""\n')
    groups = (modules + GROUP - 1) // GROUP
    with open(os.path.join(package, "pipelines.py"), "w") as handle:
        handle.write('"""One pipeline per group of modules."""\n\nfrom glacier import Pipeline\n\n')
        handle.writelines(
            f'pipeline_{g:02d} = Pipeline(name="synth_{g:02d}", schedule="rate(1 day)")\n'
            for g in range(groups)
        )
    files = []
    for index in range(modules):
        path = module_path(root, index)
        with open(path, "w") as handle:
            handle.write(module_text(index, modules, heavy=heavy))
        files.append(path)
    return files


def module_text(index: int, modules: int, *, heavy: bool = False) -> str:
    group = index // GROUP
    first = index % GROUP == 0
    last = index % GROUP == GROUP - 1 or index == modules - 1
    previous = f"m{index - 1:04d}"
    me = f"{index:04d}"
    payload = "pd.DataFrame" if heavy else "list[dict[str, Any]]"
    lines = [
        f'"""Synthetic module {me}: {TASKS} steps of pipeline synth_{group:02d}."""',
        "",
        "import json",
        "import math",
        "from typing import Any",
        "",
    ]
    if heavy:
        lines += ["import pandas as pd", "import pulumi_aws as aws", ""]
    lines += [
        "from glacier import Dataset, ObjectStorage, Serverless",
        f"from synth.pipelines import pipeline_{group:02d} as pipeline",
    ]
    if first:
        upstream = None
    elif index % 2:
        lines.append(f"from synth.{previous} import out_{index - 1:04d}")
        upstream = f"out_{index - 1:04d}"
    else:
        lines.append(f"from synth import {previous}")
        upstream = f"{previous}.out_{index - 1:04d}"
    lines += ["", f"THRESHOLD = {index % 7 + 1}", f'PREFIX = "m{me}"', ""]
    if first:
        lines += [
            f"source_{me} = Dataset[{payload}](",
            f'    name="source_{me}",',
            f'    storage=ObjectStorage(bucket="synth-landing", prefix="m{me}", format="json"),',
            ")",
        ]
        upstream = f"source_{me}"
    for step in range(TASKS - 1):
        lines.append(f'd_{me}_{step} = Dataset[{payload}](name="d_{me}_{step}")')
    storage = f', storage=ObjectStorage(bucket="synth-out", prefix="m{me}")' if last else ""
    lines += [f'out_{me} = Dataset[{payload}](name="out_{me}"{storage})', ""]
    lines += _helpers(heavy)
    for step in range(TASKS):
        source = upstream if step == 0 else f"d_{me}_{step - 1}"
        target = f"out_{me}" if step == TASKS - 1 else f"d_{me}_{step}"
        lines += _task(me, step, source, target, heavy)
    return "\n".join(lines) + "\n"


def _helpers(heavy: bool) -> list[str]:
    return [
        "",
        "def score(row: dict[str, Any]) -> float:",
        '    """A deterministic score of a row."""',
        '    value = float(row.get("value", 0))',
        "    return math.log1p(abs(value)) * THRESHOLD",
        "",
        "",
        "def label(row: dict[str, Any]) -> str:",
        '    return f"{PREFIX}-{json.dumps(row, sort_keys=True)[:16]}"',
        "",
    ]


def _task(me: str, step: int, source: str, target: str, heavy: bool) -> list[str]:
    options = "retries=2, compute=Serverless(memory_mb=256)" if step % 3 == 0 else ""
    if heavy:
        body = [
            "    frame = rows.copy()",
            '    frame["score"] = [score(r) for r in frame.to_dict("records")]',
            '    frame = frame[frame["score"] >= 0]',
            '    frame["label"] = [label(r) for r in frame.to_dict("records")]',
            "    return frame",
        ]
    else:
        body = [
            "    kept = []",
            "    for row in rows:",
            "        if score(row) >= 0:",
            '            kept.append({**row, "label": label(row)})',
            "    return kept",
        ]
    return [
        "",
        f"@pipeline.task({options})",
        f"def step_{me}_{step}(rows: {source}) -> {target}:",
        f'    """Step {step}: score and label every row."""',
        *body,
        "",
    ]


# -- one module, one big pipeline (benchmarks/scale.py) --------------------------------------

SHAPES = ("chain", "fan")


def scale_project(root: str, shape: str, tasks: int) -> str:
    """Write ``pyproject.toml`` and ``pipe.py`` (a ``shape`` of ``tasks`` tasks); return the module."""
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "pyproject.toml"), "w") as handle:
        handle.write('[project]\nname = "scale"\nversion = "0"\n')
    path = os.path.join(root, "pipe.py")
    with open(path, "w") as handle:
        handle.write(scale_module_text(shape, tasks))
    return path


def scale_module_text(shape: str, tasks: int) -> str:
    """A pipeline ``{shape}_{tasks}`` of no-op tasks, each writing one dataset ``dNNNNN``; the
    last one is stored, the others are ephemeral."""
    if shape not in SHAPES or tasks < 3:
        raise ValueError(f"shape must be one of {SHAPES} and tasks at least 3")
    lines = [
        f'"""Synthetic pipeline: a {shape} of {tasks} no-op tasks (benchmarks/_synthetic.py)."""',
        "",
        "from glacier import Dataset, ObjectStorage, Pipeline",
        "",
        f'pipeline = Pipeline(name="{shape}_{tasks}")',
        "",
    ]
    lines += [f'd{i:05d} = Dataset[int](name="d{i:05d}")' for i in range(tasks - 1)]
    storage = f'ObjectStorage(bucket="scale", prefix="{shape}_{tasks}")'
    lines.append(f'd{tasks - 1:05d} = Dataset[int](name="d{tasks - 1:05d}", storage={storage})')
    lines += ["", "", "@pipeline.task()", "def t00000() -> d00000:", "    return 0"]
    last = tasks - 1
    for i in range(1, last if shape == "fan" else tasks):
        source = f"d{i - 1:05d}" if shape == "chain" else "d00000"
        lines += ["", "", "@pipeline.task()", f"def t{i:05d}(x: {source}) -> d{i:05d}:"]
        lines.append("    return x + 1")
    if shape == "fan":
        lines += ["", "", "@pipeline.task()", f"def t{last:05d}("]
        lines += [f"    x{i:05d}: d{i:05d}," for i in range(1, last)]
        lines += [f") -> d{last:05d}:", "    return 0"]
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("directory")
    parser.add_argument("--modules", type=int, default=1000)
    parser.add_argument("--heavy", action="store_true", help="import pandas and pulumi_aws")
    args = parser.parse_args()
    files = generate(args.directory, args.modules, heavy=args.heavy)
    print(f"wrote {len(files)} modules under {args.directory}")


if __name__ == "__main__":
    main()
