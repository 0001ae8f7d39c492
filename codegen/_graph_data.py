"""The graph of a pipeline as plain data: nodes and edges shared by manifest and graph formats."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from typing import Any

from glacier.model import DatasetModel, PipelineModel, Span, StorageModel, TaskModel

__all__ = [
    "DatasetRole",
    "dataset_role",
    "dataset_roles",
    "edges",
    "span_dict",
    "storage_dict",
    "tasks_in_order",
]

DatasetRole = str  # "source" | "stored" | "ephemeral"


def dataset_roles(model: PipelineModel) -> dict[str, DatasetRole]:
    """Each dataset's ``dataset_role``, by name."""
    producers = model.producers()
    return {d.name: dataset_role(d, producers) for d in model.datasets}


def dataset_role(dataset: DatasetModel, producers: Container[str]) -> DatasetRole:
    """``source`` (no producer, read from storage), ``stored`` or ``ephemeral``.

    ``producers``: the names of the datasets a task produces (``model.producers()``).
    """
    if dataset.name not in producers:
        return "source"
    return "stored" if dataset.storage is not None else "ephemeral"


def tasks_in_order(model: PipelineModel) -> list[TaskModel]:
    """The tasks, every producer before its consumers (``model.topological_order()``)."""
    order = {name: i for i, name in enumerate(model.topological_order())}
    return sorted(model.tasks, key=lambda t: order[t.name])


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    kind: str  # "writes" (task -> dataset) or "reads" (dataset -> task)
    param: str | None = None


def edges(model: PipelineModel) -> list[Edge]:
    """Task → dataset (writes) and dataset → task (reads) edges, in a stable order."""
    found: list[Edge] = []
    for task in model.tasks:
        for out in task.outputs:
            found.append(Edge(task.name, out, "writes"))
    for task in model.tasks:
        for inp in task.inputs:
            found.append(Edge(inp.dataset, task.name, "reads", inp.param))
    return found


def span_dict(span: Span) -> dict[str, Any]:
    return {"file": span.file, "line": span.line, "column": span.column}


def storage_dict(storage: StorageModel | None) -> dict[str, Any] | None:
    """Only the fields that are set (``prefix`` defaults to ``""``, ``existing`` to false),
    so diffs stay small."""
    if storage is None:
        return None
    full = {
        "kind": storage.kind,
        "bucket": storage.bucket,
        "name": storage.name,
        "prefix": storage.prefix,
        "format": storage.format,
        "table": storage.table,
        "url": storage.url,
        "environment": storage.environment,
        "resource": storage.resource,
        "variable": storage.variable,
        "module": storage.module,
        "existing": True if storage.existing else None,
    }
    return {k: v for k, v in full.items() if v is not None and not (k == "prefix" and v == "")}
