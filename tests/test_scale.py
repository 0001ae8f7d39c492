"""10,000-task pipelines go through every path: no recursion limit, nothing quadratic enough to
stall a test. Speed is measured by ``benchmarks/scale.py``; these tests only assert behaviour.

The pipelines are the benchmark's own (``benchmarks/_synthetic.py``, ``scale_project``): a
chain of no-op tasks, and a fan-out/fan-in (one task, 9,998 readers, one task reading all).
"""

from __future__ import annotations

import importlib.util
import json
import random
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from _asl_reference import _plan as reference_plan
from click.testing import CliRunner

from codegen._graph import emit_dot, emit_graph_json, emit_mermaid
from codegen._manifest import emit_manifest
from codegen.aws._asl import (
    MAX_DEFINITION_BYTES,
    MAX_HISTORY_EVENTS,
    MAX_NESTING,
    TooDeep,
    _flow,
    definition_bytes_bound,
    definition_problem,
    history_events_bound,
    state_machine,
    state_machines,
)
from glacier import Dataset, Pipeline
from glacier.errors import CycleError
from glacier.model import DatasetModel, InputModel, PipelineModel, Span, TaskModel
from glacier_cli import main
from glacier_local import LocalExecutor

ROOT = Path(__file__).resolve().parent.parent
TASKS = 10_000


def _synthetic() -> ModuleType:
    path = ROOT / "benchmarks" / "_synthetic.py"
    spec = importlib.util.spec_from_file_location("_glacier_synthetic_scale", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synthetic = _synthetic()


def _import(path: Path, name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _model(tasks: list[tuple[str, list[str], list[str]]]) -> PipelineModel:
    """A pipeline model from (task, inputs, outputs) triples."""
    span = Span("p.py", 1, 1)
    names = sorted({d for _, ins, outs in tasks for d in [*ins, *outs]})
    return PipelineModel.create(
        name="p",
        module="p",
        variable="pipeline",
        schedule=None,
        description=None,
        span=span,
        datasets=[DatasetModel(n, "p", n, None, None, span) for n in names],
        tasks=[
            TaskModel(
                name,
                name,
                "p",
                tuple(InputModel(f"p{i}", d) for i, d in enumerate(ins)),
                tuple(outs),
                None,
                0,
                None,
                span,
            )
            for name, ins, outs in tasks
        ],
    )


def _chain(n: int) -> PipelineModel:
    return _model([(f"t{i:05d}", [f"d{i - 1:05d}"] if i else [], [f"d{i:05d}"]) for i in range(n)])


def _fan(n: int) -> PipelineModel:
    middle = range(1, n - 1)
    return _model(
        [
            ("t00000", [], ["d00000"]),
            *((f"t{i:05d}", ["d00000"], [f"d{i:05d}"]) for i in middle),
            (f"t{n - 1:05d}", [f"d{i:05d}" for i in middle], [f"d{n - 1:05d}"]),
        ]
    )


# -- runtime: registration, to_model(), LocalExecutor -----------------------------------------


@pytest.mark.parametrize("shape", synthetic.SHAPES)
def test_a_module_of_10000_tasks_registers_models_and_runs_in_process(
    shape: str, tmp_path: Path
) -> None:
    path = synthetic.scale_project(str(tmp_path), shape, TASKS)
    module = _import(Path(path), f"scale_{shape}")
    pipeline = module.pipeline
    assert len(pipeline.tasks) == TASKS
    model = pipeline.to_model()
    assert len(model.tasks) == len(model.datasets) == TASKS
    assert model.dataset("d00001").variable == "d00001"
    assert model.dataset("d00001").payload == "int"
    result = LocalExecutor(data_dir=tmp_path / "data").execute(pipeline)
    assert result.ok
    assert len(result.tasks) == TASKS
    stored = tmp_path / "data" / "scale" / f"{shape}_{TASKS}" / f"d{TASKS - 1:05d}.json"
    expected = TASKS - 1 if shape == "chain" else 0
    assert json.loads(stored.read_text()) == expected


def test_a_cycle_through_10000_tasks_is_named_not_a_recursion_error() -> None:
    pipeline = Pipeline("ring")
    datasets = [Dataset(f"d{i}") for i in range(TASKS)]

    def step(i: int) -> Any:
        def function(x: datasets[i - 1]) -> datasets[i]:  # type: ignore[valid-type]
            return x

        return function

    # consumers first: every registration but the first has a registered reader
    for i in reversed(range(1, TASKS)):
        pipeline.task(name=f"t{i}")(step(i))

    def first(x: datasets[-1]) -> datasets[0]:  # type: ignore[valid-type]
        return x

    with pytest.raises(CycleError) as caught:
        pipeline.task(name="t0")(first)  # reads d9999, writes d0: closes the ring
    names = caught.value.cycle
    assert names[0] == names[-1] == "t0"
    assert names[1:4] == ("d0", "t1", "d1")
    assert len(names) == 2 * TASKS + 1


# -- model consumers: graph renderers, manifest, ASL ------------------------------------------


@pytest.mark.parametrize("make", [_chain, _fan], ids=["chain", "fan"])
def test_the_graph_renderers_and_the_manifest_take_10000_tasks(make: Any) -> None:
    model = make(TASKS)
    assert len(model.topological_order()) == TASKS
    assert emit_mermaid(model, source_file="p.py").count(" --> ") == 2 * TASKS - 1 + (
        TASKS - 3 if make is _fan else 0
    )
    assert "digraph" in emit_dot(model, source_file="p.py")
    assert len(json.loads(emit_graph_json(model))["nodes"]) == 2 * TASKS
    assert json.loads(emit_manifest(model, version="0"))["order"][-1] == f"t{TASKS - 1:05d}"


@pytest.mark.parametrize("make", [_chain, _fan], ids=["chain", "fan"])
def test_the_state_machine_of_10000_tasks_is_planned_and_split_into_child_machines(
    make: Any,
) -> None:
    model = make(TASKS)
    definition = state_machine(model)
    states = definition["States"]
    if make is _chain:  # one flat sequence
        assert len(states) == TASKS + 1  # and PipelineFailed
        assert states["t00000"]["Next"] == "t00001"
    else:  # first task, one Parallel state of 9,998 branches, last task
        assert [s["Type"] for s in states.values()] == ["Task", "Parallel", "Task", "Fail"]
        assert len(states["Parallel1"]["Branches"]) == TASKS - 2
    assert len(json.dumps(definition).encode()) > MAX_DEFINITION_BYTES  # too large as one
    assert definition_problem(model) is None  # but split into child machines
    machines = state_machines(model)
    assert len(machines.children) >= 5
    for machine in machines.all().values():
        assert definition_bytes_bound(machine) <= MAX_DEFINITION_BYTES
        assert history_events_bound(machine) <= MAX_HISTORY_EVENTS


def _nested(depth: int) -> PipelineModel:
    """``a_k -> (x_k | S_{k-1}) -> b_k``: each level one Parallel state inside the last."""
    tasks: list[tuple[str, list[str], list[str]]] = [("c", ["a1"], ["c"])]
    for k in range(1, depth + 1):
        tasks.append((f"a{k}", [f"a{k + 1}"] if k < depth else [], [f"a{k}"]))
        tasks.append((f"x{k}", [f"a{k}"], [f"x{k}"]))
        tasks.append((f"b{k}", [f"x{k}", f"b{k - 1}" if k > 1 else "c"], [f"b{k}"]))
    return _model(tasks)


def test_a_state_machine_nested_deeper_than_glacier_writes_is_a_diagnostic() -> None:
    deepest = _nested(MAX_NESTING)
    assert definition_problem(deepest) is None
    assert json.dumps(state_machine(deepest)).count('"Type": "Parallel"') == MAX_NESTING
    for too_deep in (_nested(MAX_NESTING + 1), _nested(1_000)):
        problem = definition_problem(too_deep)
        assert problem is not None
        assert f"nests `Parallel` states more than {MAX_NESTING} levels deep" in problem
        with pytest.raises(TooDeep):
            state_machine(too_deep)


def _flow_times(flow: Any, duration: dict[str, int], start: int, times: dict[str, int]) -> int:
    """Run a flow as Step Functions runs its states; record each task's start; return the end."""
    if flow[0] == "task":
        times[flow[1]] = start
        return start + duration[flow[1]]
    if flow[0] == "par":
        return max(_flow_times(part, duration, start, times) for part in flow[1])
    for part in flow[1]:
        start = _flow_times(part, duration, start, times)
    return start


def test_the_linear_planner_plans_what_the_previous_one_did_or_better(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Where the previous planner needed no level fallback (the DAG is series-parallel there),
    the plans are equal; where it did, the cut-once fallback starts no task later than running
    by levels did, for any durations, and still after its producers."""
    import _asl_reference

    fallbacks: list[int] = []
    levels = _asl_reference._levels
    monkeypatch.setattr(_asl_reference, "_levels", lambda *a: fallbacks.append(1) or levels(*a))
    rng = random.Random(11)
    compared = 0
    for _ in range(1_500):
        n = rng.randint(1, 12)
        density = rng.choice([0.1, 0.25, 0.4, 0.6])
        tasks = [
            (f"t{rng.randint(0, 30)}_{i}", [f"d{j}" for j in range(i) if rng.random() < density],
             [f"d{i}"])
            for i in range(n)
        ]  # fmt: skip
        model = _model(tasks)
        upstream = {name: set(ups) for name, ups in model.upstream().items()}
        order = {name: i for i, name in enumerate(model.topological_order())}
        fallbacks.clear()
        previous = reference_plan(set(upstream), upstream, order)
        plan = _flow(set(upstream), upstream, order)
        if not fallbacks:
            assert plan == previous, tasks
            continue
        compared += 1
        for _ in range(5):
            duration = {t: rng.randint(1, 10) for t in upstream}
            now: dict[str, int] = {}
            before: dict[str, int] = {}
            _flow_times(plan, duration, 0, now)
            _flow_times(previous, duration, 0, before)
            assert all(now[t] <= before[t] for t in upstream), tasks
            assert all(now[u] + duration[u] <= now[t] for t in upstream for u in upstream[t])
    assert compared > 100  # the fallback was exercised


# -- the static path and the runner, through the CLI ------------------------------------------


@pytest.fixture(params=synthetic.SHAPES)
def project(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A project of one 10,000-task pipeline (its shape is the parameter), as the directory."""
    shape: str = request.param
    synthetic.scale_project(str(tmp_path), shape, TASKS)
    monkeypatch.chdir(tmp_path)
    return shape


@pytest.mark.slow
def test_check_takes_10000_tasks(project: str) -> None:
    checked = CliRunner().invoke(main, ["check", "--no-cache", "pipe.py"])
    assert checked.exit_code == 0, checked.output
    assert "No problems found (1 pipeline in 1 file checked)" in checked.output


@pytest.mark.slow
def test_inspect_takes_10000_tasks(project: str) -> None:
    inspected = CliRunner().invoke(main, ["inspect", "pipe.py"])
    assert inspected.exit_code == 0, inspected.output
    (model,) = json.loads(inspected.stdout)["pipelines"]
    assert len(model["tasks"]) == len(model["datasets"]) == TASKS


@pytest.mark.slow
def test_build_of_10000_tasks_writes_a_parent_and_child_state_machines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synthetic.scale_project(str(tmp_path), "chain", TASKS)
    monkeypatch.chdir(tmp_path)
    built = CliRunner().invoke(main, ["build", "pipe.py"])
    assert built.exit_code == 0, built.output
    (program,) = Path("build").glob("*/pulumi/*/__main__.py")
    machines = sorted(p.name for p in program.parent.glob("statemachine*.asl.json"))
    assert "statemachine.asl.json" in machines and "statemachine.part1.asl.json" in machines
    for machine in machines:
        definition = json.loads((program.parent / machine).read_text(encoding="utf-8"))
        assert definition_bytes_bound(definition) <= MAX_DEFINITION_BYTES
        assert history_events_bound(definition) <= MAX_HISTORY_EVENTS
    assert program.read_text(encoding="utf-8").count("PipelineStateMachine(") == len(machines)


@pytest.mark.slow
def test_build_refuses_a_fan_in_no_iam_role_can_hold(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fan's last task reads 9,998 datasets: its exact grants cannot fit one IAM role, so
    the build stops there (GLC308) and nowhere else; the fan's machines are planned and split
    in the model-level test above."""
    synthetic.scale_project(str(tmp_path), "fan", TASKS)
    monkeypatch.chdir(tmp_path)
    built = CliRunner().invoke(main, ["build", "pipe.py"])
    assert built.exit_code == 1
    findings = [line for line in built.output.splitlines() if ": GLC" in line]
    assert len(findings) == 1, built.output
    assert f"GLC308 task `t{TASKS - 1:05d}` reads and writes {TASKS - 1} datasets" in findings[0]
    assert not Path("build").exists()


@pytest.mark.slow
def test_the_runner_of_10000_tasks_plans_them_all(project: str) -> None:
    # `glacier run` writes the local runner (manifest, graph, run_local.py: what build writes
    # besides the Pulumi programs) and runs it in a subprocess: it plans every task, runs none
    ran = subprocess.run(
        [sys.executable, "-m", "glacier_cli", "run", "pipe.py", "--dry-run"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert f"{TASKS} of {TASKS} tasks would run" in ran.stdout
    assert f"{TASKS}. t{TASKS - 1:05d}" in ran.stdout
