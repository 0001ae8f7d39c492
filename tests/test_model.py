"""The intermediate model from the runtime path: content, order, spans and JSON round trip."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest

from glacier.model import (
    ComputeModel,
    InputModel,
    PipelineModel,
    Span,
    StorageModel,
)

FIXTURES = Path(__file__).parent / "fixtures" / "runtime"


@pytest.fixture(scope="module")
def typed_model() -> PipelineModel:
    spec = importlib.util.spec_from_file_location("typed_pipeline", FIXTURES / "typed_pipeline.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules["typed_pipeline"] = module
    spec.loader.exec_module(module)
    return module.pipeline.to_model()  # type: ignore[no-any-return]


def test_pipeline_fields(typed_model: PipelineModel) -> None:
    m = typed_model
    assert (m.name, m.module, m.variable) == ("typed", "typed_pipeline", "pipeline")
    assert (m.schedule, m.description) == ("rate(1 hour)", "spans and payloads")
    assert m.span == Span("tests/fixtures/runtime/typed_pipeline.py", 5, 12)


def test_datasets_sorted_with_payload_storage_and_span(typed_model: PipelineModel) -> None:
    assert [d.name for d in typed_model.datasets] == ["raw", "scores", "table"]
    raw, scores, table = typed_model.datasets
    assert raw.payload == "list[dict[str, int]]"
    assert raw.variable == "raw"  # the defining name, not the later alias
    assert raw.storage == StorageModel(
        "object",
        bucket="landing",
        prefix="in",
        format="json",
        variable="landing",
        module="typed_pipeline",
    )
    assert raw.span == Span("tests/fixtures/runtime/typed_pipeline.py", 8, 7)
    # an annotated assignment carries the payload; spelling is normalised
    assert scores.payload == "dict[str, float]"
    assert scores.span.line == 9
    assert table.payload is None
    assert table.storage == StorageModel("database", table="t")


def test_tasks(typed_model: PipelineModel) -> None:
    score, store = typed_model.tasks
    assert score.name == "score" and score.function == "score"
    assert score.inputs == (InputModel("rows", "raw"),)
    assert score.outputs == ("scores",)
    assert score.compute == ComputeModel("serverless", 1024, 60)
    assert score.retries == 1 and score.timeout is None
    assert score.span == Span("tests/fixtures/runtime/typed_pipeline.py", 15, 1)
    assert store.function == "save"
    assert store.inputs == (InputModel("s", "scores"),)
    assert store.compute == ComputeModel("container", 2048, None, "img:1", 1024)
    assert store.timeout == 30.0
    assert store.span.line == 22  # the `async def` line, after a multi-line decorator


def test_graph_queries(typed_model: PipelineModel) -> None:
    assert typed_model.topological_order() == ("score", "store")
    assert typed_model.sources() == ("raw",)
    assert typed_model.producers() == {"scores": "score", "table": "store"}
    assert typed_model.consumers()["scores"] == ("store",)


def test_json_round_trip_is_exact(typed_model: PipelineModel) -> None:
    text = typed_model.to_json()
    again = PipelineModel.from_json(text)
    assert again == typed_model
    assert again.to_json() == text
    assert json.loads(text)["schema"] == 1


def test_topological_order_is_deterministic_and_detects_cycles() -> None:
    span = Span("f.py", 1, 1)

    def task(name: str, ins: tuple[str, ...], outs: tuple[str, ...]):  # type: ignore[no-untyped-def]
        from glacier.model import TaskModel

        return TaskModel(
            name, name, "m", tuple(InputModel(i, i) for i in ins), outs, None, 0, None, span
        )

    base = {
        "name": "p",
        "module": "m",
        "variable": None,
        "schedule": None,
        "description": None,
        "span": span,
    }
    fan = PipelineModel.create(
        **base,
        datasets=(),
        tasks=[task("z", (), ("a",)), task("b", ("a",), ()), task("a", ("a",), ())],
    )
    assert fan.topological_order() == ("z", "a", "b")
    cyclic = PipelineModel.create(
        **base, datasets=(), tasks=[task("x", ("q",), ("r",)), task("y", ("r",), ("q",))]
    )
    with pytest.raises(ValueError, match="cycle"):
        cyclic.topological_order()
