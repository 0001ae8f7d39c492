"""``statemachine.asl.json``: the pipeline's DAG as an AWS Step Functions state machine.

Shape: the tasks are grouped by *level* (the length of the longest chain of producers before
them). Levels run one after another; the tasks of one level run side by side in a
``Parallel`` state (one branch each), a level of one task is a plain ``Task`` state. Every
producer is on an earlier level than each of its consumers, so it has finished before they
start. The price is over-synchronisation: a task waits for its whole previous level, not only
for its own producers. An exact encoding of an arbitrary DAG in ASL needs ``Map``/polling
tricks that are much harder to review; a level is easy to read off the graph.

Values that only exist at deploy time (function and task-definition ARNs, the cluster,
subnets) are placeholders, ``"${kind:name}"`` strings, which the Pulumi program replaces in
the parsed JSON (never by text substitution). The execution's name is passed to every task:
it keys the scratch prefix of ephemeral datasets.
"""

from __future__ import annotations

import json
from typing import Any

from glacier.model import PipelineModel, TaskModel

__all__ = [
    "FAIL_STATE",
    "levels",
    "placeholder",
    "state_machine",
    "state_machine_json",
    "task_state_name",
]

FAIL_STATE = "PipelineFailed"
CLUSTER = "${cluster}"
SUBNETS = "${subnets}"
ASSIGN_PUBLIC_IP = "${assign_public_ip}"
CONTAINER = "task"
"""The container's name in every task definition (the overrides address it by name)."""
# Retry intervals: 2 s, 4 s, 8 s ... (AWS's recommended exponential backoff for Lambda).
_INTERVAL_S = 2
_BACKOFF = 2.0


def placeholder(kind: str, name: str) -> str:
    """The placeholder the program replaces: ``${function:extract}``."""
    return f"${{{kind}:{name}}}"


def task_state_name(task: str) -> str:
    return task


def levels(model: PipelineModel) -> list[list[str]]:
    """Tasks by level (longest producer chain before them), each level sorted by name."""
    upstream = model.upstream()
    level: dict[str, int] = {}
    for name in model.topological_order():
        level[name] = 1 + max((level[u] for u in upstream[name]), default=-1)
    grouped: dict[int, list[str]] = {}
    for name, lvl in level.items():
        grouped.setdefault(lvl, []).append(name)
    return [sorted(grouped[k]) for k in sorted(grouped)]


# Errors of the Lambda service itself (throttling, a failed invocation request), not of the
# task: AWS recommends retrying them on every lambda:invoke state. They are not task failures,
# so they do not use up the task's own `retries`.
LAMBDA_TRANSIENT = [
    "Lambda.ServiceException",
    "Lambda.AWSLambdaException",
    "Lambda.SdkClientException",
    "Lambda.TooManyRequestsException",
]


def _retry(task: TaskModel, *, lambda_invoke: bool) -> list[dict[str, Any]]:
    rules: list[dict[str, Any]] = []
    if lambda_invoke:
        rules.append(
            {
                "ErrorEquals": list(LAMBDA_TRANSIENT),
                "IntervalSeconds": _INTERVAL_S,
                "MaxAttempts": 3,
                "BackoffRate": _BACKOFF,
            }
        )
    if task.retries > 0:
        rules.append(
            {
                "ErrorEquals": ["States.ALL"],
                "IntervalSeconds": _INTERVAL_S,
                "MaxAttempts": task.retries,
                "BackoffRate": _BACKOFF,
            }
        )
    return rules


def _timeout(task: TaskModel) -> int | None:
    if task.timeout is not None:
        return max(1, round(task.timeout))
    compute = task.compute
    if compute is not None and compute.kind == "container" and compute.timeout_s:
        return compute.timeout_s
    return None


def _task_state(task: TaskModel) -> dict[str, Any]:
    execution = {"Name": "GLACIER_EXECUTION", "Value.$": "$$.Execution.Name"}
    state: dict[str, Any] = {"Type": "Task", "Comment": f"task `{task.name}`"}
    if task.compute is not None and task.compute.kind == "container":
        state["Resource"] = "arn:aws:states:::ecs:runTask.sync"
        state["Parameters"] = {
            "LaunchType": "FARGATE",
            "Cluster": CLUSTER,
            "TaskDefinition": placeholder("task_definition", task.name),
            "NetworkConfiguration": {
                "AwsvpcConfiguration": {"Subnets": SUBNETS, "AssignPublicIp": ASSIGN_PUBLIC_IP}
            },
            "Overrides": {"ContainerOverrides": [{"Name": CONTAINER, "Environment": [execution]}]},
        }
    else:
        state["Resource"] = "arn:aws:states:::lambda:invoke"
        state["Parameters"] = {
            "FunctionName": placeholder("function", task.name),
            "Payload": {"execution.$": "$$.Execution.Name"},
        }
    timeout = _timeout(task)
    if timeout is not None:
        state["TimeoutSeconds"] = timeout
    # Outputs go to storage; the state passes its input on unchanged.
    state["ResultPath"] = None
    retry = _retry(task, lambda_invoke=state["Resource"] == "arn:aws:states:::lambda:invoke")
    if retry:
        state["Retry"] = retry
    return state


def _catch(fail: str) -> list[dict[str, Any]]:
    return [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": fail}]


def _unique(name: str, taken: set[str]) -> str:
    """``name``, or ``name_2`` ... when a task already has it; remembered in ``taken``."""
    candidate, n = name, 1
    while candidate in taken:
        n += 1
        candidate = f"{name}_{n}"
    taken.add(candidate)
    return candidate


def state_machine(model: PipelineModel) -> dict[str, Any]:
    """The state machine definition as plain data (placeholders still in)."""
    states: dict[str, Any] = {}
    order = levels(model)
    taken = {t.name for t in model.tasks}
    fail = _unique(FAIL_STATE, taken)
    names: list[str] = []
    for index, level in enumerate(order):
        if len(level) == 1:
            names.append(task_state_name(level[0]))
        else:
            names.append(_unique(f"Level{index + 1}", taken))
    for index, level in enumerate(order):
        following = names[index + 1] if index + 1 < len(names) else None
        if len(level) == 1:
            state = _task_state(model.task(level[0]))
        else:
            state = {
                "Type": "Parallel",
                "Comment": "independent tasks: " + ", ".join(f"`{t}`" for t in level),
                "Branches": [
                    {
                        "StartAt": task_state_name(t),
                        "States": {task_state_name(t): {**_task_state(model.task(t)), "End": True}},
                    }
                    for t in level
                ],
                "ResultPath": None,
            }
        state["Catch"] = _catch(fail)
        if following is None:
            state["End"] = True
        else:
            state["Next"] = following
        states[names[index]] = state
    states[fail] = {
        "Type": "Fail",
        "Error": "GlacierTaskFailed",
        "Cause": f"a task of pipeline `{model.name}` failed; see the execution's events",
    }
    if not names:  # a pipeline without tasks: nothing to run
        states = {"Done": {"Type": "Succeed"}}
        names = ["Done"]
    return {
        "Comment": f"Glacier pipeline `{model.name}`",
        "StartAt": names[0],
        "States": states,
    }


def state_machine_json(model: PipelineModel) -> str:
    """``statemachine.asl.json``: stable key order as built, two-space indent, final newline."""
    return json.dumps(state_machine(model), indent=2, ensure_ascii=False) + "\n"
