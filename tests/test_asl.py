"""``statemachine.asl.json``: valid ASL (the real asl-validator) that runs the DAG correctly.

The DAG check walks the definition as Step Functions would: states in sequence, the branches
of a Parallel state side by side, the next state only once every branch ended. It records
when each task starts and ends and asserts that every producer ended before each consumer
started, and that every task of the pipeline appears exactly once.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from codegen.aws._asl import (
    CONTAINER_TIMEOUT_S,
    ECS_STARTUP_S,
    ECS_TRANSIENT,
    LAMBDA_TRANSIENT,
    MAX_EXECUTION_S,
    START_CHILD,
    STATE_ALLOWANCE_S,
    levels,
    state_machine,
    state_machine_json,
)
from glacier.model import ComputeModel, InputModel, PipelineModel, Span, TaskModel
from glacier_aws.deploy import CONTAINER_NAME

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["layer1_local.py", "layer2_environments.py", "layer3_raw_pulumi.py", "orders"]
VALIDATOR = ROOT / "node_modules" / ".bin" / "asl-validator"


@pytest.fixture(scope="session")
def asl_validator() -> Path:
    """The real asl-validator, installed from package-lock.json with `npm ci` when missing.

    Test workers (pytest-xdist) share the checkout: a lock lets one install while the others
    wait for it.
    """
    import fcntl
    import hashlib
    import tempfile

    if VALIDATOR.exists():
        return VALIDATOR
    npm = shutil.which("npm")
    if npm is None:
        pytest.skip("npm is not installed: cannot install asl-validator (package.json)")
    key = hashlib.sha1(str(ROOT).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"glacier-npm-{key}.lock"
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not VALIDATOR.exists():
                subprocess.run(
                    [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                    cwd=ROOT,
                    check=True,
                    timeout=600,
                )
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return VALIDATOR


def _model(tasks: list[tuple[str, list[str], list[str]]], **extra: Any) -> PipelineModel:
    """A pipeline from (task, inputs, outputs) triples."""
    from glacier.model import DatasetModel

    span = Span("p.py", 1, 1)
    names = sorted({d for _, ins, outs in tasks for d in [*ins, *outs]})
    datasets = [DatasetModel(n, "p", n, None, None, span) for n in names]
    models = [
        TaskModel(
            name,
            name,
            "p",
            tuple(InputModel(f"p{i}", d) for i, d in enumerate(ins)),
            tuple(outs),
            extra.get("compute", {}).get(name),
            extra.get("retries", {}).get(name, 0),
            extra.get("timeout", {}).get(name),
            span,
            *extra.get("retry", {}).get(name, ()),
        )
        for name, ins, outs in tasks
    ]
    return PipelineModel.create(
        name="p",
        module="p",
        variable="pipeline",
        schedule=None,
        description=None,
        span=span,
        datasets=datasets,
        tasks=models,
    )


def _example_models() -> Iterator[tuple[str, PipelineModel]]:
    from analyzer import analyze

    for example in EXAMPLES:
        analysis = analyze([str(ROOT / "examples" / example)])
        for model in analysis.pipelines:
            yield example, model


CORPUS: dict[str, PipelineModel] = {
    "chain": _model([("a", [], ["x"]), ("b", ["x"], ["y"]), ("c", ["y"], [])]),
    "diamond": _model(
        [("a", [], ["x"]), ("b", ["x"], ["y"]), ("c", ["x"], ["z"]), ("d", ["y", "z"], [])]
    ),
    "skewed": _model(  # `late` depends on a long chain and on a root: levels must hold
        [
            ("r1", [], ["a"]),
            ("r2", [], ["b"]),
            ("m", ["a"], ["c"]),
            ("n", ["c"], ["d"]),
            ("late", ["d", "b"], []),
        ]
    ),
    "independent": _model([("a", [], ["x"]), ("b", [], ["y"]), ("c", [], [])]),
    "not series-parallel": _model(  # the N shape: `d` waits for `a` only in the fallback
        [("a", [], ["x"]), ("b", [], ["y"]), ("c", ["x", "y"], []), ("d", ["y"], [])]
    ),
    "nested": _model(  # a fan-out whose branches fan out and join again
        [
            ("s", [], ["x"]),
            ("p", ["x"], ["p1"]),
            ("q", ["x"], ["q1"]),
            ("p2", ["p1"], ["pa"]),
            ("p3", ["p1"], ["pb"]),
            ("pj", ["pa", "pb"], ["pz"]),
            ("end", ["pz", "q1"], []),
        ]
    ),
    "state names": _model(  # task names that collide with the generated state names
        [("Parallel1", [], ["x"]), ("PipelineFailed", [], ["y"]), ("z", ["x", "y"], [])],
        retries={"z": 3},
        compute={"PipelineFailed": ComputeModel("container", 1024, None, "img", 256)},
    ),
    "retry options": _model(  # a task's own delay, backoff and errors; a container's
        [("fetch", [], ["x"]), ("box", ["x"], ["y"]), ("quick", ["y"], [])],
        retries={"fetch": 4, "box": 1, "quick": 2},
        retry={
            "fetch": (0.5, 3.0, ("TimeoutError", "ConnectionError")),
            "box": (30.0, 1.0, ("TimeoutError",)),
            "quick": (0.0, 1.5, ()),
        },
        compute={"box": ComputeModel("container", 1024, None, "img", 256)},
    ),
    "empty": _model([]),
}


# -- a small interpreter of the definition's control flow ---------------------------------------


def _duration(task: str) -> int:
    """Tasks take different times (1..5), so waiting for an unrelated task shows."""
    return 1 + sum(task.encode()) % 5


def _run(
    states: dict[str, Any],
    start: str,
    clock: list[int],
    seen: dict[str, tuple[int, int]],
    children: dict[str, dict[str, Any]] | None = None,
) -> None:
    """Run states from ``start``; a state starting a child machine (one of ``children``) runs
    the child's states and ends when they end, as ``startExecution.sync:2`` does."""
    name: str | None = start
    steps = 0
    while name is not None:
        steps += 1
        assert steps < 10_000, "the definition loops"
        state = states[name]
        kind = state["Type"]
        if kind == "Task" and state["Resource"] == START_CHILD:
            ref = state["Parameters"]["StateMachineArn"]
            child = (children or {})[ref.removeprefix("${state_machine:").removesuffix("}")]
            _run(child["States"], child["StartAt"], clock, seen, children)
        elif kind == "Task":
            task = _task_of(state)
            assert task not in seen, f"task {task!r} runs twice"
            begin = clock[0]
            clock[0] += _duration(task)
            seen[task] = (begin, clock[0])
        elif kind == "Parallel":
            # Branches run concurrently: each starts when the Parallel state starts.
            start_time = clock[0]
            ends = []
            for branch in state["Branches"]:
                branch_clock = [start_time]
                _run(branch["States"], branch["StartAt"], branch_clock, seen, children)
                ends.append(branch_clock[0])
            clock[0] = max(ends, default=start_time)
        elif kind in ("Succeed", "Fail"):
            return
        if state.get("End"):
            return
        name = state.get("Next")
        assert name is not None, f"state {name!r} neither ends nor has a Next"


def _task_of(state: dict[str, Any]) -> str:
    params = state["Parameters"]
    ref = params.get("FunctionName") or params.get("TaskDefinition")
    assert isinstance(ref, str) and ref.startswith("${") and ref.endswith("}")
    return ref[2:-1].split(":", 1)[1]


def _schedule(model: PipelineModel) -> dict[str, tuple[int, int]]:
    definition = state_machine(model)
    seen: dict[str, tuple[int, int]] = {}
    _run(definition["States"], definition["StartAt"], [0], seen)
    return seen


def _assert_runs_dag(model: PipelineModel, *, exact: bool = True) -> None:
    seen = _schedule(model)
    assert sorted(seen) == sorted(t.name for t in model.tasks)
    for task, ups in model.upstream().items():
        for up in ups:
            assert seen[up][1] <= seen[task][0], f"{up} must end before {task} starts"
        if exact:  # and it starts as soon as its producers are done, not later
            assert seen[task][0] == max((seen[u][1] for u in ups), default=0), task


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_corpus_runs_every_task_once_after_its_producers(name: str) -> None:
    _assert_runs_dag(CORPUS[name], exact=name != "not series-parallel")


def test_a_dag_that_is_not_series_parallel_runs_by_levels() -> None:
    """The fallback: correct, and `d` waits for `a` (which it does not need)."""
    seen = _schedule(CORPUS["not series-parallel"])
    assert seen["d"][0] >= max(seen["a"][1], seen["b"][1])  # the whole first level
    states = state_machine(CORPUS["not series-parallel"])["States"]
    assert [s["Type"] for s in states.values()] == ["Parallel", "Parallel", "Fail"]


def test_examples_run_every_task_once_after_its_producers() -> None:
    found = list(_example_models())
    assert {example for example, _ in found} == set(EXAMPLES)
    for _, model in found:
        _assert_runs_dag(model)


def test_independent_tasks_run_in_parallel() -> None:
    seen = _schedule(CORPUS["diamond"])
    (b_start, b_end), (c_start, c_end) = seen["b"], seen["c"]
    assert b_start < c_end and c_start < b_end  # overlapping intervals
    assert levels(CORPUS["skewed"]) == [["r1", "r2"], ["m"], ["n"], ["late"]]


def test_retries_timeouts_and_failures() -> None:
    definition = state_machine(CORPUS["state names"])
    states = definition["States"]
    fail = [n for n, s in states.items() if s["Type"] == "Fail"]
    assert len(fail) == 1 and fail[0] not in ("Parallel1", "PipelineFailed")
    top = [s for s in states.values() if s["Type"] != "Fail"]
    assert all(s["Catch"][0]["Next"] == fail[0] for s in top)
    transient, own = states["z"]["Retry"]
    assert own == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 2,
        "MaxAttempts": 3,
        "BackoffRate": 2.0,
    }
    assert transient["ErrorEquals"] == LAMBDA_TRANSIENT
    branch_states = {
        name: state
        for s in top
        if s["Type"] == "Parallel"
        for b in s["Branches"]
        for name, state in b["States"].items()
    }
    container = branch_states["PipelineFailed"]
    assert container["Resource"] == "arn:aws:states:::ecs:runTask.sync"
    assert container["Parameters"]["TaskDefinition"] == "${task_definition:PipelineFailed}"
    (override,) = container["Parameters"]["Overrides"]["ContainerOverrides"]
    assert override["Name"] == CONTAINER_NAME  # the container FargateTask defines
    assert override["Environment"] == [
        {"Name": "GLACIER_EXECUTION", "Value.$": "$$.Execution.Name"},
        {"Name": "GLACIER_INPUT", "Value.$": "States.JsonToString($$.Execution.Input)"},
    ]
    lam = branch_states["Parallel1"]
    assert lam["Resource"] == "arn:aws:states:::lambda:invoke"
    assert lam["Parameters"]["Payload"] == {
        "execution.$": "$$.Execution.Name",
        "input.$": "$$.Execution.Input",  # the run parameters are its `params`
    }
    assert [r["ErrorEquals"] for r in lam["Retry"]] == [LAMBDA_TRANSIENT]  # no retries of its own
    assert [r["ErrorEquals"] for r in container["Retry"]] == [ECS_TRANSIENT]  # ECS's own only


def test_example_task_settings_reach_the_definition() -> None:
    models = dict(_example_models())
    orders = state_machine(models["orders"])["States"]
    assert orders["validate"]["Retry"][-1]["MaxAttempts"] == 2
    # validate, then side by side: archive_rejections | (rank_customers | revenue_by_day) -> report
    assert list(orders) == ["validate", "Parallel1", "PipelineFailed"]
    first, second = orders["Parallel1"]["Branches"]
    assert list(first["States"]) == ["archive_rejections"]
    assert second["StartAt"] == "Parallel2"
    inner = second["States"]["Parallel2"]
    assert [b["StartAt"] for b in inner["Branches"]] == ["rank_customers", "revenue_by_day"]
    assert inner["Next"] == "write_report"
    assert second["States"]["write_report"]["TimeoutSeconds"] == 120


def _validate(validator: Path, *paths: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(validator), *(arg for p in paths for arg in ("--json-path", str(p)))],
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_asl_validator_accepts_every_definition(asl_validator: Path, tmp_path: Path) -> None:
    definitions = {f"example-{e}": m for e, m in _example_models()}
    definitions.update({f"corpus-{k}": m for k, m in CORPUS.items()})
    paths = []
    for name, model in definitions.items():
        path = tmp_path / (name.replace("/", "_").replace(" ", "_") + ".asl.json")
        path.write_text(state_machine_json(model), encoding="utf-8")
        paths.append(path)
    result = _validate(asl_validator, *paths)  # one node process for all of them
    assert result.returncode == 0, result.stdout + result.stderr
    valid = [line for line in result.stdout.splitlines() if "is valid" in line]
    assert len(valid) == len(paths) == len(definitions)


def test_asl_validator_rejects_a_broken_definition(asl_validator: Path, tmp_path: Path) -> None:
    """The validator is real: a definition whose Next points nowhere fails."""
    definition = json.loads(state_machine_json(CORPUS["chain"]))
    definition["States"]["a"]["Next"] = "nowhere"
    path = tmp_path / "broken.asl.json"
    path.write_text(json.dumps(definition), encoding="utf-8")
    result = _validate(asl_validator, path)
    assert result.returncode != 0
    assert "nowhere" in result.stdout + result.stderr


def test_definition_is_deterministic_json() -> None:
    for _, model in _example_models():
        text = state_machine_json(model)
        assert text == state_machine_json(model)
        assert text.endswith("\n") and json.loads(text)["StartAt"]


def test_the_dag_check_catches_a_consumer_started_too_early() -> None:
    """The checker is not vacuous: `b` and `a` of a chain in one Parallel state fail it."""
    definition = state_machine(CORPUS["independent"])
    states = definition["States"]
    seen: dict[str, tuple[int, int]] = {}
    _run(states, definition["StartAt"], [0], seen)
    chain = CORPUS["chain"]
    wrong = {"a": seen["a"], "b": seen["b"], "c": seen["c"]}  # all three overlap
    with pytest.raises(AssertionError):
        for task, ups in chain.upstream().items():
            for up in ups:
                assert wrong[up][1] <= wrong[task][0]


def test_container_tasks_get_the_task_or_the_container_security_group() -> None:
    """Fargate's network is chosen at run time: a task that touches a table gets the group
    its database admits (``${security_groups}``); every other Fargate task the containers'
    group (``${container_security_groups}``)."""
    import dataclasses

    from glacier.model import StorageModel

    box = ComputeModel(kind="container", image="python:3.12-slim", cpu=256)
    model = _model(
        [
            ("load", [], ["rows"]),  # Lambda, writes the table
            ("rank", ["rows"], ["ranked"]),  # Fargate, reads the table
            ("ship", ["ranked"], []),  # Fargate, no table
        ],
        compute={"rank": box, "ship": box},
    )
    table = StorageModel(kind="database", table="rows")
    datasets = [
        dataclasses.replace(d, storage=table) if d.name == "rows" else d for d in model.datasets
    ]
    model = dataclasses.replace(model, datasets=tuple(datasets))
    states = state_machine(model)["States"]

    def network(task: str) -> Any:
        return states[task]["Parameters"].get("NetworkConfiguration")

    assert network("rank") == {
        "AwsvpcConfiguration": {
            "Subnets": "${subnets}",
            "SecurityGroups": "${security_groups}",
            "AssignPublicIp": "${assign_public_ip}",
        }
    }
    # never without a group: ECS would use the VPC's default one (closed under EC2.2)
    assert network("ship") == {
        "AwsvpcConfiguration": {
            "Subnets": "${subnets}",
            "SecurityGroups": "${container_security_groups}",
            "AssignPublicIp": "${assign_public_ip}",
        }
    }
    assert network("load") is None  # Lambda's network is the function's own (vpc_config)


# -- states that do not hang or hide errors -----------------------------------------------------

BOX = ComputeModel(kind="container", memory_mb=512, timeout_s=None, image="img", cpu=256)


def _task_states(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every Task state, at any depth, by name."""
    found: dict[str, dict[str, Any]] = {}
    pending = [definition["States"]]
    while pending:
        for name, state in pending.pop().items():
            if state["Type"] == "Task":
                found[name] = state
            for branch in state.get("Branches", []):
                pending.append(branch["States"])
    return found


def test_every_container_state_has_a_timeout() -> None:
    """The task's `timeout`, else the documented default, plus Fargate's start-up time; a
    Lambda state keeps the task's `timeout` (the function's own bounds it otherwise)."""
    model = _model(
        [("a", [], ["x"]), ("b", ["x"], ["y"]), ("c", ["y"], ["z"]), ("d", ["z"], [])],
        compute={"a": BOX, "b": BOX},
        timeout={"b": 90.4, "d": 30},
    )
    states = _task_states(state_machine(model))
    assert states["a"]["TimeoutSeconds"] == CONTAINER_TIMEOUT_S + ECS_STARTUP_S
    assert states["b"]["TimeoutSeconds"] == 90 + ECS_STARTUP_S
    assert "TimeoutSeconds" not in states["c"]
    assert states["d"]["TimeoutSeconds"] == 30
    assert not any("HeartbeatSeconds" in s for s in states.values())  # nothing sends heartbeats


def test_ecs_transient_errors_are_retried_before_and_apart_from_the_tasks_retries() -> None:
    """Step Functions uses the first retrier whose ErrorEquals matches, each with its own
    count: ECS's errors (capacity included) never use up `retries`; States.ALL comes last."""
    model = _model([("a", [], ["x"]), ("b", ["x"], [])], compute={"a": BOX}, retries={"a": 2})
    transient, own = _task_states(state_machine(model))["a"]["Retry"]
    assert transient["ErrorEquals"] == ECS_TRANSIENT
    assert ECS_TRANSIENT == ["ECS.AmazonECSException", "ECS.ServerException"]
    assert transient["MaxAttempts"] == 5 and transient["IntervalSeconds"] == 10
    assert own == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 2,
        "MaxAttempts": 2,
        "BackoffRate": 2.0,
    }


def test_a_tasks_retry_options_reach_its_own_retrier() -> None:
    """`retry_on` names the errors (a Lambda error is its exception's class name),
    `retry_delay_s` the first interval in whole seconds (at least 1), `backoff` the rate; a
    container's failure has no exception name, so it retries every error."""
    states = _task_states(state_machine(CORPUS["retry options"]))
    own = {name: state["Retry"][-1] for name, state in states.items()}
    assert own["fetch"] == {
        "ErrorEquals": ["TimeoutError", "ConnectionError"],
        "IntervalSeconds": 1,
        "MaxAttempts": 4,
        "BackoffRate": 3.0,
    }
    assert own["box"] == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 30,
        "MaxAttempts": 1,
        "BackoffRate": 1.0,
    }
    assert own["quick"] == {
        "ErrorEquals": ["States.ALL"],
        "IntervalSeconds": 1,
        "MaxAttempts": 2,
        "BackoffRate": 1.5,
    }
    assert states["fetch"]["Retry"][0]["ErrorEquals"] == LAMBDA_TRANSIENT  # still first


def test_the_machine_times_out_after_its_longest_path_can_take() -> None:
    """Sequence: the sum of its states' bounds; Parallel: its slowest branch. A Lambda state
    without a timeout is bounded by its function's (300 s by default)."""
    lambda_bound = 4 * 300 + (2 + 4 + 8) + STATE_ALLOWANCE_S  # 3 transient retries
    chain = state_machine(CORPUS["chain"])
    assert chain["TimeoutSeconds"] == 3 * lambda_bound
    diamond = _model(
        [("a", [], ["x"]), ("b", ["x"], ["y"]), ("c", ["x"], ["z"]), ("d", ["y", "z"], [])],
        compute={"c": BOX},
        retries={"c": 1},
    )
    c_timeout = CONTAINER_TIMEOUT_S + ECS_STARTUP_S
    c_bound = (1 + 5 + 1) * c_timeout + (10 + 20 + 40 + 80 + 160) + 2 + STATE_ALLOWANCE_S
    assert state_machine(diamond)["TimeoutSeconds"] == 2 * lambda_bound + c_bound  # c, not b
    long = _model(
        [(f"t{i}", [f"d{i}"] if i else [], [f"d{i + 1}"]) for i in range(3000)],
        compute={f"t{i}": BOX for i in range(3000)},
    )
    assert state_machine(long)["TimeoutSeconds"] == MAX_EXECUTION_S  # a year at most


def test_the_fail_state_carries_the_failing_tasks_error_and_cause() -> None:
    definition = state_machine(CORPUS["nested"])
    states = definition["States"]
    (fail,) = [s for s in states.values() if s["Type"] == "Fail"]
    assert fail["ErrorPath"] == "$.error.Error" and fail["CausePath"] == "$.error.Cause"
    assert "Error" not in fail and "Cause" not in fail  # no fixed string in their place
    for state in states.values():
        if state["Type"] != "Fail":  # where every top-level state puts what it caught
            assert state["Catch"] == [
                {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "PipelineFailed"}
            ]


def _wait_benchmark() -> Any:
    import importlib.util
    import sys

    path = ROOT / "benchmarks" / "asl_wait.py"
    spec = importlib.util.spec_from_file_location("_glacier_asl_wait", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def test_the_documented_extra_wait_is_what_the_plan_and_the_benchmark_give() -> None:
    """docs/deploy-aws.md, "What a task waits for": cut below level 1, `d` waits 9 minutes
    for `a`, the run takes 21 minutes for a critical path of 12."""
    bench = _wait_benchmark()
    dag = {"a": [], "b": [], "c": ["a", "b"], "d": ["b"], "e": ["d"]}
    duration = {"a": 10.0, "b": 1.0, "c": 1.0, "d": 1.0, "e": 10.0}
    states = state_machine(bench.model_of(dag))["States"]
    first, second = (s for s in states.values() if s["Type"] == "Parallel")
    assert [b["StartAt"] for b in first["Branches"]] == ["a", "b"]
    assert [list(b["States"]) for b in second["Branches"]] == [["c"], ["d", "e"]]
    best, actual, waits = bench.measure(dag, duration)
    assert (best, actual) == (12.0, 21.0)
    assert dict(zip(dag, waits, strict=True)) == {"a": 0, "b": 0, "c": 0, "d": 9, "e": 9}
    assert bench.measure(dict(_diamond_dag()), duration | {"d": 1.0})[2] == [0, 0, 0, 0]


def _diamond_dag() -> dict[str, list[str]]:
    return {"a": [], "b": ["a"], "c": ["a"], "d": ["b", "c"]}


def test_the_wait_benchmark_runs_and_prints_its_table(capsys: pytest.CaptureFixture[str]) -> None:
    _wait_benchmark().main(["--sizes", "12", "--dags", "5"])
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("| ") and "family" not in line]
    assert [row.split("|")[1].strip() for row in rows] == ["chainy", "local", "wide"]


def test_the_per_task_cost_against_the_step_functions_limits() -> None:
    """What a task costs in definition bytes and history events, for 3,000 tasks in a chain
    and in a fan, Lambda and Fargate: the two quotas a large pipeline crosses (such a pipeline is then
    split into child state machines: the tests below)."""
    import json

    from codegen.aws._asl import MAX_DEFINITION_BYTES, MAX_HISTORY_EVENTS, execution_events

    n = 3000
    chain = [(f"t{i}", [f"d{i - 1}"] if i else [], [f"d{i}"]) for i in range(n)]
    fan = [("t0", [], ["d0"]), *((f"t{i}", ["d0"], [f"d{i}"]) for i in range(1, n))]
    costs = {}
    for shape, tasks in (("chain", chain), ("fan", fan)):
        for kind, compute in (("lambda", {}), ("fargate", {t: BOX for t, _, _ in tasks})):
            definition = state_machine(_model(tasks, compute=compute))
            size = len(json.dumps(definition, ensure_ascii=False).encode())
            costs[shape, kind] = (size / n, execution_events(definition))
    for (shape, kind), (per_task, events) in costs.items():
        assert 300 < per_task < 1100, (shape, kind, per_task)
        assert per_task * n > MAX_DEFINITION_BYTES  # 3,000 tasks: over 1 MB in every shape
        assert events < MAX_HISTORY_EVENTS  # but not over 25,000 events without retries
    assert costs["chain", "lambda"][1] == 2 + 5 * n
    assert costs["fan", "fargate"][1] == 2 + 6 * n + 4  # one Parallel state
    # the event quota is crossed first by retries: one failed attempt per task adds 3 each
    assert costs["chain", "fargate"][1] + 3 * n > MAX_HISTORY_EVENTS


# -- a pipeline too large for one machine: a parent and child machines ------------------------

SPLIT_N = 3000


def _big(shape: str) -> PipelineModel:
    """3,000 tasks: a chain of Lambda tasks, a fan of Fargate tasks, or a DAG that is not
    series-parallel (each task reads two earlier ones, Lambda and Fargate alternating)."""
    n = SPLIT_N
    if shape == "chain":
        return _model([(f"t{i}", [f"d{i - 1}"] if i else [], [f"d{i}"]) for i in range(n)])
    if shape == "fan":
        fan = [("t0", [], ["d0"]), *((f"t{i}", ["d0"], [f"d{i}"]) for i in range(1, n))]
        return _model(fan, compute={t: BOX for t, _, _ in fan})
    tasks = []
    for i in range(n):
        ups = sorted({i - 1 - (i * 7) % 13, i - 1 - (i * 11) % 29} - {j for j in range(-40, 0)})
        tasks.append((f"t{i}", [f"d{j}" for j in ups], [f"d{i}"]))
    return _model(tasks, compute={t: BOX for t, _, _ in tasks[::2]}, retries={"t5": 2})


@pytest.mark.parametrize("shape", ["chain", "fan", "mesh"])
def test_a_3000_task_pipeline_is_split_into_machines_within_both_quotas(
    shape: str, asl_validator: Path, tmp_path: Path
) -> None:
    from codegen.aws._asl import (
        MAX_DEFINITION_BYTES,
        MAX_HISTORY_EVENTS,
        definition_bytes_bound,
        execution_events,
        history_events_bound,
        state_machines,
    )

    model = _big(shape)
    whole = state_machine(model)
    assert len(json.dumps(whole).encode()) > MAX_DEFINITION_BYTES  # one machine cannot do
    machines = state_machines(model)
    assert len(machines.children) >= 2
    paths = []
    for name, definition in machines.all().items():
        compact = json.dumps(definition, ensure_ascii=False).encode()
        assert len(compact) < definition_bytes_bound(definition) <= 0.9 * MAX_DEFINITION_BYTES
        assert execution_events(definition) <= history_events_bound(definition)
        assert history_events_bound(definition) <= 0.9 * MAX_HISTORY_EVENTS
        path = tmp_path / f"{name or 'parent'}.asl.json"
        path.write_text(json.dumps(definition, indent=2), encoding="utf-8")
        paths.append(path)
    result = _validate(asl_validator, *paths)
    assert result.returncode == 0, result.stdout + result.stderr
    assert sum("is valid" in line for line in result.stdout.splitlines()) == len(paths)
    # every child is started by exactly one state, in a machine written after it
    started = [
        ref
        for definition in machines.all().values()
        for ref in re.findall(r'"\$\{state_machine:([^}]*)\}"', json.dumps(definition))
    ]
    assert sorted(started) == sorted(machines.children)
    order = list(machines.all())
    for parent_name, definition in machines.all().items():
        for child in re.findall(r'"\$\{state_machine:([^}]*)\}"', json.dumps(definition)):
            assert order.index(child) < order.index(parent_name)
    # run as Step Functions would: every task exactly once, after its producers
    seen: dict[str, tuple[int, int]] = {}
    parent = machines.parent
    _run(parent["States"], parent["StartAt"], [0], seen, machines.children)
    assert sorted(seen) == sorted(t.name for t in model.tasks)
    for task, ups in model.upstream().items():
        for up in ups:
            assert seen[up][1] <= seen[task][0], f"{up} must end before {task} starts"
    if shape != "mesh":  # series-parallel: splitting adds no wait the DAG does not ask for
        assert seen == _schedule(model)


def test_a_child_machine_runs_under_the_parents_execution_name_and_fails_it() -> None:
    from codegen.aws._asl import FAIL_STATE, state_machines

    machines = state_machines(_big("chain"))
    states = machines.parent["States"]
    starts = {n: s for n, s in states.items() if s.get("Resource") == START_CHILD}
    assert list(starts) == list(machines.children)  # a chain: the parts in order
    for state in starts.values():
        assert state["Resource"] == "arn:aws:states:::states:startExecution.sync:2"
        assert state["Parameters"]["Name.$"] == "$$.Execution.Name"  # the scratch prefix
        # the run parameters: the child's tasks find the parent's input's `params`
        assert state["Parameters"]["Input"]["glacier_parent.$"] == "$$.Execution.Input"
        (catch,) = state["Catch"]
        assert catch["ErrorEquals"] == ["States.ALL"] and catch["ResultPath"] == "$.error"
        _assert_child_failure_reported(states, catch["Next"], FAIL_STATE)
    assert states[FAIL_STATE]["CausePath"] == "$.error.Cause"
    for child in machines.children.values():  # a failing task fails its child machine
        assert child["States"][FAIL_STATE]["ErrorPath"] == "$.error.Error"
        assert all("Catch" in s for n, s in child["States"].items() if n != FAIL_STATE)
    # the parent's timeout bounds its children's, each plus Step Functions' allowance
    bound = sum(c["TimeoutSeconds"] + STATE_ALLOWANCE_S for c in machines.children.values())
    assert machines.parent["TimeoutSeconds"] == min(MAX_EXECUTION_S, bound)


def _assert_child_failure_reported(states: dict[str, Any], caught: str, fail: str) -> None:
    """From ``caught`` (where a child start catches its error): a child that ran and failed
    (``States.TaskFailed``, the child's execution as JSON in the cause) has its own error and
    cause merged over Step Functions'; any other error goes to ``fail`` as it is."""
    choice = states[caught]
    assert choice["Type"] == "Choice" and choice["Default"] == fail
    (rule,) = choice["Choices"]
    assert rule["Variable"] == "$.error.Error" and rule["StringEquals"] == "States.TaskFailed"
    merge = states[rule["Next"]]
    assert merge["Type"] == "Pass" and merge["Next"] == fail
    assert merge["Parameters"] == {
        "error.$": "States.JsonMerge($.error, States.StringToJson($.error.Cause), false)"
    }
    assert states[fail]["Type"] == "Fail"
    assert (states[fail]["ErrorPath"], states[fail]["CausePath"]) == (
        "$.error.Error",
        "$.error.Cause",
    )


def test_a_child_started_in_a_parallel_branch_fails_the_branch_with_the_childs_error() -> None:
    from codegen.aws._asl import state_machines

    machines = state_machines(_big("fan"))
    found = 0
    pending = [
        b["States"] for s in machines.parent["States"].values() for b in s.get("Branches", [])
    ]
    while pending:
        states = pending.pop()
        for name, state in states.items():
            pending.extend(b["States"] for b in state.get("Branches", []))
            if state.get("Resource") == START_CHILD:
                (catch,) = state["Catch"]
                _assert_child_failure_reported(states, catch["Next"], f"{name}_fail")
                found += 1
    assert found >= 2


def test_a_pipeline_that_fits_one_machine_is_not_split() -> None:
    from codegen.aws._asl import state_machines

    models = [m for _, m in _example_models()] + list(CORPUS.values())
    models.append(_model([(f"t{i}", [], [f"d{i}"]) for i in range(1000)]))
    for model in models:
        machines = state_machines(model)
        assert machines.children == {}
        assert machines.parent == state_machine(model)


def test_a_child_start_state_counts_as_a_sync_task_in_the_history() -> None:
    from codegen.aws._asl import execution_events, state_machines

    machines = state_machines(_big("chain"))
    n = len(machines.children)
    # start and end, a .sync task per child (6 events each)
    assert execution_events(machines.parent) == 2 + 6 * n


def test_the_program_of_a_split_pipeline_creates_each_child_before_its_parent() -> None:
    """One ``PipelineStateMachine`` per machine, from its own file, given only the tasks it
    runs and the children it starts, each child created before the machine that starts it."""
    import ast

    from codegen.aws._asl import machines_json, state_machines
    from codegen.aws._bundle import HANDLER
    from codegen.aws._program import program_text

    model = _big("mesh")
    machines = state_machines(model)
    files = machines_json(machines)
    assert set(files) == {"statemachine.asl.json"} | {
        f"statemachine.{child}.asl.json" for child in machines.children
    }
    assert json.loads(files["statemachine.asl.json"]) == machines.parent
    text = program_text(model, "default", [], deploys=True, source_file="p.py", handler=HANDLER)
    calls = {}
    for node in ast.parse(text).body:
        if isinstance(node, ast.Assign) and "PipelineStateMachine" in ast.unparse(node.value):
            assert isinstance(node.value, ast.Call)
            calls[ast.unparse(node.targets[0])] = {k.arg: k.value for k in node.value.keywords}
    variables = [
        *(f"glacier_state_machine_{c}" for c in machines.children),
        "glacier_state_machine",
    ]
    assert list(calls) == variables  # the children first, in the order they are started
    tasks = []
    for (child, definition), variable in zip(machines.all().items(), variables, strict=True):
        args = calls[variable]
        file = f"statemachine.{child}.asl.json" if child else "statemachine.asl.json"
        assert file in ast.unparse(args["definition"])
        started = re.findall(r'"\$\{state_machine:([^}]*)\}"', json.dumps(definition))
        if started:
            children = args["children"]
            assert isinstance(children, ast.Dict)
            assert [ast.literal_eval(k) for k in children.keys if k] == started
            assert [ast.unparse(v) for v in children.values] == [
                f"glacier_state_machine_{c}" for c in started
            ]
        for keyword in ("functions", "task_definitions"):
            if keyword in args:
                tasks += [ast.literal_eval(k) for k in args[keyword].keys]  # type: ignore[attr-defined]
    assert sorted(tasks) == sorted(t.name for t in model.tasks)  # each given to one machine
