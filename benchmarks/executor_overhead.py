"""How much does LocalExecutor add per task, and how long does ``import glacier`` take?

Two DAGs of 200 trivial tasks (each adds one to its input):

- chain:   t0 -> t1 -> ... -> t199
- fan:     one source -> 198 independent tasks -> one task reading all 198

Each DAG is run, in the same process and run, by:

- plain loop:     the functions called in a precomputed order, values in a dict (the floor)
- graphlib loop:  ``graphlib.TopologicalSorter`` ordering, then the same loop (a minimal runner)
- LocalExecutor(max_workers=1): sequential, in the calling thread
- LocalExecutor(): the default, a thread pool where the DAG allows parallel tasks
- both again with ``history=False``: no run record, no logs (``glacier_local._runlog``), so
  the difference is what keeping them costs per run (two small files, one directory, and
  removing the oldest run once 100 are kept), spread over the tasks

Each timing is the whole ``execute()`` call divided by the number of tasks, best and median of
several repeats. ``import glacier`` is timed in fresh interpreters: ``python -c "import
glacier"`` minus ``python -c pass``.

Run: ``python benchmarks/executor_overhead.py [--tasks 200] [--repeats 30]``.
"""

import argparse
import graphlib
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

from glacier import Dataset, Pipeline
from glacier_local import LocalExecutor

Runner = Callable[[], Any]


# -- the DAGs ---------------------------------------------------------------------------------


def chain(n: int) -> Pipeline:
    pipeline = Pipeline("chain")
    datasets = [Dataset(f"d{i}") for i in range(n)]

    def make(i: int) -> Callable[..., Any]:
        if i == 0:

            def first() -> datasets[0]:  # type: ignore[valid-type]
                return 0

            return first

        def step(x: datasets[i - 1]) -> datasets[i]:  # type: ignore[valid-type]
            return x + 1

        step.__name__ = f"t{i}"
        return step

    for i in range(n):
        pipeline.task(name=f"t{i}")(make(i))
    return pipeline


def fan(n: int) -> Pipeline:
    """One source task, ``n - 2`` independent tasks, one task that reads them all."""
    pipeline = Pipeline("fan")
    source = Dataset("source")
    middle = [Dataset(f"m{i}") for i in range(n - 2)]
    total = Dataset("total")

    def start() -> source:  # type: ignore[valid-type]
        return 1

    pipeline.task(name="start")(start)

    def make(i: int) -> Callable[..., Any]:
        def step(x: source) -> middle[i]:  # type: ignore[valid-type]
            return x + 1

        return step

    for i in range(n - 2):
        pipeline.task(name=f"m{i}")(make(i))
    params = ", ".join(f"p{i}: middle[{i}]" for i in range(n - 2))
    namespace: dict[str, Any] = {"middle": middle, "total": total}
    exec(f"def gather({params}) -> total:\n    return sum(locals().values())\n", namespace)  # noqa: S102
    pipeline.task(name="gather")(namespace["gather"])
    return pipeline


# -- the baselines ----------------------------------------------------------------------------


def plain_loop(pipeline: Pipeline) -> Runner:
    """The floor: the same calls in a fixed order, nothing else."""
    order = [
        (task.function, tuple((p, d.name) for p, d in task.inputs), task.outputs[0].name)
        for task in _ordered(pipeline)
    ]

    def run() -> dict[str, Any]:
        values: dict[str, Any] = {}
        for function, inputs, output in order:
            values[output] = function(**{p: values[d] for p, d in inputs})
        return values

    return run


def graphlib_loop(pipeline: Pipeline) -> Runner:
    """A minimal runner: order the graph with graphlib on every run, then call."""
    tasks = {t.name: t for t in pipeline.tasks}

    def run() -> dict[str, Any]:
        graph = {
            t.name: {p.name for _, d in t.inputs if (p := pipeline.producer(d)) is not None}
            for t in tasks.values()
        }
        values: dict[str, Any] = {}
        for name in graphlib.TopologicalSorter(graph).static_order():
            task = tasks[name]
            values[task.outputs[0].name] = task.function(
                **{p: values[d.name] for p, d in task.inputs}
            )
        return values

    return run


def executor(pipeline: Pipeline, **options: Any) -> Runner:
    runner = LocalExecutor(**options)

    def run() -> Any:
        result = runner.execute(pipeline)
        if not result.ok:
            raise RuntimeError(result.summary())
        return result

    return run


def _ordered(pipeline: Pipeline) -> list[Any]:
    graph = {
        t.name: {p.name for _, d in t.inputs if (p := pipeline.producer(d)) is not None}
        for t in pipeline.tasks
    }
    tasks = {t.name: t for t in pipeline.tasks}
    return [tasks[n] for n in graphlib.TopologicalSorter(graph).static_order()]


# -- measuring --------------------------------------------------------------------------------


def timings(run: Runner, repeats: int) -> list[float]:
    run()  # warm up: caches, lazily created objects
    found = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        found.append(time.perf_counter() - start)
    return found


def import_time(statement: str, repeats: int) -> list[float]:
    """Seconds for ``python -c statement`` minus ``python -c pass``, per repeat."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON")}

    def once(code: str) -> float:
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        return time.perf_counter() - start

    once(statement)  # warm the file system cache and the bytecode cache
    found = []
    for _ in range(repeats):
        empty = once("pass")
        found.append(once(statement) - empty)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    n = args.tasks

    dags = {"chain": chain(n), "fan-out/fan-in": fan(n)}
    runners: dict[str, Callable[[Pipeline], Runner]] = {
        "plain loop": plain_loop,
        "graphlib loop": graphlib_loop,
        "LocalExecutor(max_workers=1)": lambda p: executor(p, max_workers=1),
        "LocalExecutor() (threads)": executor,
        "  the same, history=False": lambda p: executor(p, history=False),
        "  max_workers=1, history=False": lambda p: executor(p, max_workers=1, history=False),
    }
    results: dict[tuple[str, str], list[float]] = {}
    for dag_name, pipeline in dags.items():
        for runner_name, make in runners.items():
            results[runner_name, dag_name] = timings(make(pipeline), args.repeats)

    print(
        f"Per-task time on {n} trivial tasks, µs per task "
        f"(best / median of {args.repeats}; overhead = best minus the plain loop's best)"
    )
    print(f"Python {sys.version.split()[0]} on {sys.platform}, {os.cpu_count()} CPUs")
    print()
    header = f"| {'runner':<30} |" + "".join(
        f" {dag + ' best/median':>27} | {'overhead':>8} |" for dag in dags
    )
    print(header)
    print("|" + "-" * 32 + "|" + ("-" * 29 + "|" + "-" * 10 + "|") * len(dags))
    for runner_name in runners:
        row = f"| {runner_name:<30} |"
        for dag_name in dags:
            found = results[runner_name, dag_name]
            floor = min(results["plain loop", dag_name]) / n * 1e6
            best, median = min(found) / n * 1e6, statistics.median(found) / n * 1e6
            cell = f"{best:.2f} / {median:.2f}"
            row += f" {cell:>27} | {best - floor:>8.2f} |"
        print(row)

    print()
    repeats = max(5, args.repeats // 3)
    print(f"Import time in a fresh interpreter, ms (best / median of {repeats}, minus `pass`)")
    print()
    print(f"| {'statement':<38} | {'best':>7} | {'median':>7} |")
    print("|" + "-" * 40 + "|" + "-" * 9 + "|" + "-" * 9 + "|")
    for statement in ("import glacier", "import glacier, glacier_local"):
        found = import_time(statement, repeats)
        print(
            f"| {statement:<38} | {min(found) * 1e3:>7.1f} | "
            f"{statistics.median(found) * 1e3:>7.1f} |"
        )
    print()
    print("Goals: <= 10 µs per task sequentially; `import glacier` < 50 ms.")


if __name__ == "__main__":
    main()
