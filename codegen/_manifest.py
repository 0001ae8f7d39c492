"""``manifest.json``: everything the build knows about a pipeline, as versioned JSON.

JSON is data, so it is written with ``json.dumps`` (sorted, indented, no timestamps) rather
than through a template: there is nothing to lay out by hand and nothing to escape.
"""

from __future__ import annotations

import json
from typing import Any

from codegen._graph_data import dataset_role, span_dict, storage_dict
from glacier.model import ComputeModel, PipelineModel

__all__ = ["MANIFEST_SCHEMA", "emit_manifest", "manifest_data"]

MANIFEST_SCHEMA = 1


def _compute(compute: ComputeModel | None) -> dict[str, Any] | None:
    if compute is None:
        return None
    data: dict[str, Any] = {"kind": compute.kind, "memory_mb": compute.memory_mb}
    if compute.kind == "serverless":
        data["timeout_s"] = compute.timeout_s
        if compute.tmp_mb is not None:
            data["tmp_mb"] = compute.tmp_mb
    else:
        data["image"] = compute.image
        data["cpu"] = compute.cpu
    return data


def manifest_data(model: PipelineModel, *, version: str) -> dict[str, Any]:
    producers = model.producers()
    consumers = model.consumers()
    upstream = model.upstream()
    return {
        "schema": MANIFEST_SCHEMA,
        "glacier": version,
        "pipeline": {
            "name": model.name,
            "module": model.module,
            "variable": model.variable,
            "schedule": model.schedule,
            "description": model.description,
            "span": span_dict(model.span),
        },
        "datasets": [
            {
                "name": d.name,
                "role": dataset_role(d, producers),
                "type": d.payload if d.payload is not None else "Any",
                "storage": storage_dict(d.storage),
                "producer": producers.get(d.name),
                "consumers": list(consumers.get(d.name, ())),
                "module": d.module,
                "variable": d.variable,
                "span": span_dict(d.span),
            }
            for d in model.datasets
        ],
        "tasks": [
            {
                "name": t.name,
                "function": t.function,
                "module": t.module,
                "inputs": [{"param": i.param, "dataset": i.dataset} for i in t.inputs],
                "outputs": list(t.outputs),
                "returns_tuple": t.returns_tuple,
                "upstream": list(upstream[t.name]),
                "compute": _compute(t.compute),
                "retries": t.retries,
                "timeout": t.timeout,
                "span": span_dict(t.span),
            }
            for t in model.tasks
        ],
        "edges": [
            {"dataset": d.name, "from": producers.get(d.name), "to": consumer}
            for d in model.datasets
            for consumer in (consumers.get(d.name) or (None,))
        ],
        "order": list(model.topological_order()),
        "environments": [
            {
                "name": e.name,
                "account": e.account,
                "region": e.region,
                "tags": {k: v for k, v in e.tags},
                "module": e.module,
                "variable": e.variable,
                "span": span_dict(e.span),
            }
            for e in model.environments
        ],
    }


def emit_manifest(model: PipelineModel, *, version: str) -> str:
    return json.dumps(manifest_data(model, version=version), indent=2, ensure_ascii=False) + "\n"
