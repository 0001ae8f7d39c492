"""The DAG of each pipeline: edges from dataset names, then the graph checks.

Tasks arrive already read from their signatures (``analyzer._tasks``); here they are connected
through the datasets they read and write, and checked as a whole: cycles, two producers,
duplicate names, sources without storage, ephemeral outputs nobody reads, empty pipelines.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from analyzer._resolve import DatasetInfo
from analyzer._summary import Pos
from analyzer._tasks import FoundTask
from analyzer._values import Key
from analyzer.diagnostics import (
    DatasetCycle,
    Diagnostic,
    DuplicateDataset,
    DuplicateProducer,
    DuplicateTask,
    EmptyPipeline,
    MissingSource,
    UnconsumedOutput,
)

__all__ = ["GraphInput", "check_graph"]


@dataclass(slots=True)
class GraphInput:
    pipeline: str
    variable: str
    pipeline_file: str
    pipeline_pos: Pos
    tasks: list[FoundTask]  # in source order
    datasets: dict[Key, DatasetInfo]
    file_of: Callable[[str], str]  # module id -> path relative to the root
    variable_of: Callable[[Key], str | None] = lambda key: None  # a dataset's variable
    # datasets named by tasks dropped for an error already reported: that no task produces or
    # reads them follows from that error (GLC102 and GLC501 would only repeat it)
    dropped: frozenset[str] = frozenset()


def check_graph(g: GraphInput) -> tuple[list[Diagnostic], list[FoundTask], list[Key]]:
    """Diagnostics, the tasks that go into the model, and its datasets (one key per name)."""
    found: list[Diagnostic] = []
    if not g.tasks:
        line, col, end_line, end_col = g.pipeline_pos
        found.append(
            EmptyPipeline.make(
                g.pipeline_file,
                line,
                col,
                end_line,
                end_col,
                pipeline=g.pipeline,
                variable=g.variable or "pipeline",
            )
        )
        return found, [], []

    def where(task: FoundTask) -> str:
        return f"{g.file_of(task.module)}:{task.pos[0]}:{task.pos[1]}"

    def at(found_task: FoundTask, rule: type, /, **values: object) -> None:
        found.append(rule.make(g.file_of(found_task.module), *found_task.pos, **values))  # type: ignore[attr-defined]

    # duplicate task names: the first one in source order wins
    tasks: list[FoundTask] = []
    by_name: dict[str, FoundTask] = {}
    for task in g.tasks:
        first = by_name.get(task.name)
        if first is not None:
            at(
                task,
                DuplicateTask,
                pipeline=g.pipeline,
                task=task.name,
                where=where(first),
                variable=g.variable or "pipeline",
            )
            continue
        by_name[task.name] = task
        tasks.append(task)

    # datasets by name: two declarations with one name are an error
    keys: dict[str, Key] = {}
    for task in tasks:
        for key in (*(k for _, k in task.inputs), *task.outputs):
            info = g.datasets[key]
            if info.name is None:
                continue
            known = keys.get(info.name)
            if known is None:
                keys[info.name] = key
            elif known != key:
                earlier, later = sorted((known, key), key=lambda k: (g.file_of(k[0]), k[1], k[2]))
                keys[info.name] = earlier
                found.append(
                    DuplicateDataset.make(
                        g.file_of(later[0]),
                        *g.datasets[later].pos,
                        pipeline=g.pipeline,
                        dataset=info.name,
                        where=f"{g.file_of(earlier[0])}:{earlier[1]}:{earlier[2]}",
                    )
                )

    def name(key: Key) -> str | None:
        return g.datasets[key].name

    # one producer per dataset
    producer: dict[str, FoundTask] = {}
    for task in tasks:
        for key in task.outputs:
            ds = name(key)
            if ds is None:
                continue
            other = producer.get(ds)
            if other is not None:
                at(
                    task,
                    DuplicateProducer,
                    dataset=ds,
                    task=task.name,
                    other=other.name,
                    where=where(other),
                )
                continue
            producer[ds] = task

    consumers: dict[str, list[FoundTask]] = {}
    for task in tasks:
        for _, key in task.inputs:
            ds = name(key)
            if ds is not None:
                consumers.setdefault(ds, []).append(task)

    found.extend(_cycles(g, tasks, producer, where))

    for ds, readers in sorted(consumers.items()):
        info = g.datasets[keys[ds]]
        if ds not in producer and info.storage is None and info.storage_ok and ds not in g.dropped:
            found.append(
                MissingSource.make(
                    g.file_of(info.key[0]),
                    *info.pos,
                    dataset=ds,
                    task=readers[0].name,
                    pipeline=g.pipeline,
                    variable=g.variable_of(info.key) or "the dataset",
                )
            )
    for ds, task in sorted(producer.items()):
        info = g.datasets[keys[ds]]
        if ds not in consumers and info.storage is None and info.storage_ok and ds not in g.dropped:
            found.append(
                UnconsumedOutput.make(
                    g.file_of(info.key[0]),
                    *info.pos,
                    dataset=ds,
                    task=task.name,
                    pipeline=g.pipeline,
                )
            )
    return found, tasks, list(keys.values())


def _cycles(
    g: GraphInput,
    tasks: list[FoundTask],
    producer: dict[str, FoundTask],
    where: Callable[[FoundTask], str],
) -> list[Diagnostic]:
    """One diagnostic per strongly connected group of tasks, naming one cycle through it."""
    index_of = {id(t): i for i, t in enumerate(tasks)}
    forward: list[list[tuple[int, Key]]] = [[] for _ in tasks]  # producer -> (consumer, dataset)
    for i, task in enumerate(tasks):
        for _, key in task.inputs:
            ds = g.datasets[key].name
            if ds is not None and ds in producer:
                forward[index_of[id(producer[ds])]].append((i, key))
    components = _strongly_connected(len(tasks), [[c for c, _ in e] for e in forward])
    found: list[Diagnostic] = []
    for component in components:
        members = set(component)
        if len(component) == 1 and not any(c == component[0] for c, _ in forward[component[0]]):
            continue
        start = min(component, key=lambda i: (g.file_of(tasks[i].module), tasks[i].pos))
        steps: list[str] = []
        for task_index, key in _cycle_path(start, forward, members):
            steps.append(f"task `{tasks[task_index].name}` ({where(tasks[task_index])})")
            info = g.datasets[key]
            steps.append(f"dataset `{info.name}` ({g.file_of(key[0])}:{key[1]}:{key[2]})")
        first = tasks[start]
        steps.append(f"task `{first.name}`")
        found.append(
            DatasetCycle.make(
                g.file_of(first.module), *first.pos, pipeline=g.pipeline, cycle=" -> ".join(steps)
            )
        )
    return found


def _cycle_path(
    start: int, forward: list[list[tuple[int, Key]]], members: set[int]
) -> list[tuple[int, Key]]:
    """The shortest cycle through ``start`` along the data flow: [(task, dataset it writes)]."""
    parent: dict[int, tuple[int, Key]] = {}
    queue = deque([start])
    seen = {start}
    while queue:
        current = queue.popleft()
        for consumer, key in forward[current]:
            if consumer not in members:
                continue
            if consumer == start:
                path = [(current, key)]
                node = current
                while node != start:
                    previous, via = parent[node]
                    path.append((previous, via))
                    node = previous
                path.reverse()
                return path
            if consumer not in seen:
                seen.add(consumer)
                parent[consumer] = (current, key)
                queue.append(consumer)
    return []  # pragma: no cover - a strongly connected component always has a cycle


def _strongly_connected(n: int, graph: list[list[int]]) -> list[list[int]]:
    """Tarjan's algorithm, iterative (deep pipelines must not exhaust the stack)."""
    index = 0
    indices = [-1] * n
    low = [0] * n
    on_stack = [False] * n
    stack: list[int] = []
    result: list[list[int]] = []
    for root in range(n):
        if indices[root] != -1:
            continue
        work = [(root, 0)]
        while work:
            node, child = work.pop()
            if child == 0:
                indices[node] = low[node] = index
                index += 1
                stack.append(node)
                on_stack[node] = True
            recurse = False
            for i in range(child, len(graph[node])):
                nxt = graph[node][i]
                if indices[nxt] == -1:
                    work.append((node, i + 1))
                    work.append((nxt, 0))
                    recurse = True
                    break
                if on_stack[nxt]:
                    low[node] = min(low[node], indices[nxt])
            if recurse:
                continue
            if low[node] == indices[node]:
                component = []
                while True:
                    w = stack.pop()
                    on_stack[w] = False
                    component.append(w)
                    if w == node:
                        break
                result.append(component)
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
    return result
