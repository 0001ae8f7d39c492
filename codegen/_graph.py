"""``graph.mmd`` (Mermaid), DOT and JSON renderings of a pipeline's DAG.

Tasks are boxes; a *source* (read from storage, produced by no task) is a cylinder with its
own colour, a *stored* dataset a cylinder, an *ephemeral* one a rounded box.
"""

from __future__ import annotations

import json
from typing import Any

from codegen._graph_data import dataset_roles, edges, storage_dict
from codegen._names import graph_ids
from codegen._templates import render
from glacier.model import PipelineModel

__all__ = ["emit_dot", "emit_graph_json", "emit_mermaid", "mermaid_text"]

_MERMAID_SAFE = frozenset(" _-.,:/+=()")


def mermaid_text(text: str) -> str:
    """Escape a label for a quoted Mermaid string: anything not plainly safe is ``#code;``."""
    return "".join(
        ch if (ch.isalnum() and ch.isprintable()) or ch in _MERMAID_SAFE else f"#{ord(ch)};"
        for ch in text
    )


def _dot_text(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _nodes(model: PipelineModel) -> tuple[dict[str, str], dict[str, str]]:
    return (
        graph_ids("task", [t.name for t in model.tasks]),
        graph_ids("ds", [d.name for d in model.datasets]),
    )


def _edge_ids(
    model: PipelineModel, task_ids: dict[str, str], ds_ids: dict[str, str]
) -> list[tuple[str, str, str]]:
    """(source id, target id, kind) of every edge: a task writes a dataset, or reads it."""
    return [
        (task_ids[e.source], ds_ids[e.target], e.kind)
        if e.kind == "writes"
        else (ds_ids[e.source], task_ids[e.target], e.kind)
        for e in edges(model)
    ]


def _context(model: PipelineModel, quote: Any) -> dict[str, Any]:
    task_ids, ds_ids = _nodes(model)
    roles = dataset_roles(model)
    return {
        "title": quote(model.name),
        "tasks": [{"id": task_ids[t.name], "label": quote(t.name)} for t in model.tasks],
        "datasets": [
            {"id": ds_ids[d.name], "label": quote(d.name), "role": roles[d.name]}
            for d in model.datasets
        ],
        "edges": [
            {"source": source, "target": target}
            for source, target, _kind in _edge_ids(model, task_ids, ds_ids)
        ],
    }


def emit_mermaid(
    model: PipelineModel, *, source_file: str, generator: str = "glacier build"
) -> str:
    """The graph as Mermaid; its header names ``generator``, the command that wrote it."""
    return render(
        "graph.mmd.j2",
        source_file=mermaid_text(source_file),
        generator=generator,
        **_context(model, mermaid_text),
    )


def emit_dot(model: PipelineModel, *, source_file: str, generator: str = "glacier build") -> str:
    """The graph as Graphviz DOT; its header names ``generator``, the command that wrote it."""
    return render(
        "graph.dot.j2",
        source_file=_dot_text(source_file),
        generator=generator,
        **_context(model, _dot_text),
    )


def emit_graph_json(model: PipelineModel) -> str:
    task_ids, ds_ids = _nodes(model)
    roles = dataset_roles(model)
    data = {
        "pipeline": model.name,
        "nodes": [{"id": task_ids[t.name], "kind": "task", "name": t.name} for t in model.tasks]
        + [
            {
                "id": ds_ids[d.name],
                "kind": "dataset",
                "name": d.name,
                "role": roles[d.name],
                "storage": storage_dict(d.storage),
            }
            for d in model.datasets
        ],
        "edges": [
            {"from": source, "to": target, "kind": kind}
            for source, target, kind in _edge_ids(model, task_ids, ds_ids)
        ],
    }
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
