"""How much longer does the state machine take than the DAG asks, on random DAGs?

``statemachine.asl.json`` composes states in sequence and in ``Parallel`` branches
(``codegen/aws/_asl.py``). Where the DAG is series-parallel that adds no waiting; where it is
not, the connected part without a pivot runs by *levels*, and a task waits for its whole
previous level (docs/deploy-aws.md, "What a task waits for"). This measures that cost.

For each random DAG, every task gets a random duration, then:

- **critical path** (the baseline): each task starts the moment its last producer ends, with
  unlimited parallelism; the run ends with the longest weighted path. No plan can beat it.
- **state machine**: the generated definition executed as Step Functions does (the states of a
  sequence one after the other, a ``Parallel`` state's branches side by side, its next state
  only once every branch ended), the same durations, no service latency.

The table gives, per family of DAGs, the share of DAGs that get slower at all, and the added
time of the whole run over the critical path (median, 90th percentile, worst, in % of the
critical path), and how long a task waits past its earliest possible start (mean over tasks,
and the worst, in units of the mean task duration).

DAG families (tasks in topological order, each reading 0..``fan_in`` earlier tasks' outputs):

- ``chainy``: producers among the 3 previous tasks (long, narrow pipelines);
- ``local``: producers among the 10 previous tasks;
- ``wide``: producers anywhere before (short, wide, much crossing).

Durations are whole minutes, uniform in 1..10. Run:
``python benchmarks/asl_wait.py [--sizes 10 30 100 300] [--dags 200] [--seed 1]``.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
from typing import Any

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _report import table

from codegen.aws._asl import state_machine
from glacier.model import DatasetModel, InputModel, PipelineModel, Span, TaskModel

__all__ = ["FAMILIES", "critical_path", "model_of", "random_dag", "state_machine_schedule"]

FAMILIES = {"chainy": 3, "local": 10, "wide": None}
"""Family name -> how far back a task's producers may be (``None``: anywhere)."""

Dag = dict[str, list[str]]
"""Task -> its producers, in topological order (insertion order)."""


def random_dag(rng: random.Random, tasks: int, window: int | None, fan_in: int = 3) -> Dag:
    dag: Dag = {}
    names = [f"t{i:04d}" for i in range(tasks)]
    for index, name in enumerate(names):
        earlier = names[max(0, index - window) : index] if window else names[:index]
        dag[name] = sorted(rng.sample(earlier, min(len(earlier), rng.randint(0, fan_in))))
    return dag


def model_of(dag: Dag) -> PipelineModel:
    """A pipeline whose task ``t`` writes dataset ``t`` and reads its producers'."""
    span = Span("bench.py", 1, 1)
    datasets = [DatasetModel(t, "bench", t, None, None, span) for t in dag]
    tasks = [
        TaskModel(
            t,
            t,
            "bench",
            tuple(InputModel(f"p{i}", u) for i, u in enumerate(ups)),
            (t,),
            None,
            0,
            None,
            span,
        )
        for t, ups in dag.items()
    ]
    return PipelineModel.create(
        name="bench",
        module="bench",
        variable="pipeline",
        schedule=None,
        description=None,
        span=span,
        datasets=datasets,
        tasks=tasks,
    )


def critical_path(dag: Dag, duration: dict[str, float]) -> dict[str, tuple[float, float]]:
    """(start, end) of every task started as soon as its producers ended."""
    times: dict[str, tuple[float, float]] = {}
    for task, ups in dag.items():
        start = max((times[u][1] for u in ups), default=0.0)
        times[task] = (start, start + duration[task])
    return times


def state_machine_schedule(
    definition: dict[str, Any], duration: dict[str, float]
) -> dict[str, tuple[float, float]]:
    """(start, end) of every task when the definition runs, as Step Functions runs it."""
    times: dict[str, tuple[float, float]] = {}

    def run(states: dict[str, Any], name: str | None, clock: float) -> float:
        while name is not None:
            state = states[name]
            if state["Type"] == "Task":
                task = _task_of(state)
                times[task] = (clock, clock + duration[task])
                clock += duration[task]
            elif state["Type"] == "Parallel":
                clock = max(
                    (run(b["States"], b["StartAt"], clock) for b in state["Branches"]),
                    default=clock,
                )
            else:
                return clock
            name = None if state.get("End") else state["Next"]
        return clock

    run(definition["States"], definition["StartAt"], 0.0)
    return times


def _task_of(state: dict[str, Any]) -> str:
    parameters = state["Parameters"]
    ref = parameters.get("FunctionName") or parameters.get("TaskDefinition")
    return str(ref)[2:-1].split(":", 1)[1]  # "${function:<task>}"


def measure(dag: Dag, duration: dict[str, float]) -> tuple[float, float, list[float]]:
    """(critical path, state machine's makespan, each task's wait past its earliest start)."""
    best = critical_path(dag, duration)
    actual = state_machine_schedule(state_machine(model_of(dag)), duration)
    assert sorted(actual) == sorted(best), "every task runs once"
    for task, ups in dag.items():  # the definition never starts a consumer early
        assert all(actual[u][1] <= actual[task][0] for u in ups), task
    waits = [actual[t][0] - best[t][0] for t in dag]
    return max(e for _, e in best.values()), max(e for _, e in actual.values()), waits


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 30, 100, 300])
    parser.add_argument("--dags", type=int, default=200, help="random DAGs per family and size")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    rows = []
    for family, window in FAMILIES.items():
        for size in args.sizes:
            added, waits, worst_wait, slower = [], [], 0.0, 0
            for _ in range(args.dags):
                dag = random_dag(rng, size, window)
                duration = {t: float(rng.randint(1, 10)) for t in dag}
                mean = statistics.fmean(duration.values())
                best, actual, task_waits = measure(dag, duration)
                added.append(100 * (actual - best) / best)
                slower += actual > best
                waits.append(statistics.fmean(task_waits) / mean)
                worst_wait = max(worst_wait, max(task_waits) / mean)
            cuts = statistics.quantiles(added, n=10, method="inclusive")
            rows.append(
                [
                    family,
                    str(size),
                    f"{100 * slower / args.dags:.0f} %",
                    f"{statistics.median(added):.1f} %",
                    f"{cuts[-1]:.1f} %",
                    f"{max(added):.1f} %",
                    f"{statistics.fmean(waits):.2f}",
                    f"{worst_wait:.1f}",
                ]
            )
    print(
        f"{args.dags} random DAGs per row, durations 1..10 min, seed {args.seed}; added time over "
        "the critical path (the baseline: every task starts when its producers end)\n"
    )
    table(
        [
            "family",
            "tasks",
            "slower",
            "added (median)",
            "added (p90)",
            "added (worst)",
            "task wait (mean)",
            "task wait (worst)",
        ],
        rows,
    )


if __name__ == "__main__":
    main()
