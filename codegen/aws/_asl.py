"""``statemachine.asl.json``: the pipeline's DAG as an AWS Step Functions state machine.

Shape: ASL composes states in sequence and in ``Parallel`` branches, so the DAG is split
into those two compositions, recursively (a series-parallel decomposition):

- tasks with no path between their groups run side by side: a ``Parallel`` state, one
  branch per weakly connected group;
- a connected group is cut at the first task (in topological order) that every other task of
  the group is either upstream or downstream of: upstream, then that task, then downstream;
- a connected group without such a task (the DAG is not series-parallel there, e.g. ``a->c``,
  ``b->c``, ``b->d``) runs by *level* (longest chain of producers before a task): levels in
  sequence, the tasks of a level in parallel.

The first two rules add no waiting the DAG does not ask for; only the fallback makes a task
wait for its whole previous level. Every producer is in an earlier part of the sequence than
each of its consumers under all three, so it has finished before they start. The result
nests at most as deep as the DAG is long and reads like the graph.

Values that only exist at deploy time (function and task-definition ARNs, the cluster,
subnets, the security group of tasks that touch a database) are placeholders,
``"${kind:name}"`` strings, which the Pulumi program replaces in the parsed JSON (never by
text substitution). The execution's name is passed to every task:
it keys the scratch prefix of ephemeral datasets.
"""

from __future__ import annotations

import json
from typing import Any

from codegen.aws._database import touches_database
from glacier.model import PipelineModel, TaskModel

__all__ = [
    "FAIL_STATE",
    "levels",
    "placeholder",
    "state_machine",
    "state_machine_json",
]

FAIL_STATE = "PipelineFailed"
CLUSTER = "${cluster}"
SUBNETS = "${subnets}"
SECURITY_GROUPS = "${security_groups}"
ASSIGN_PUBLIC_IP = "${assign_public_ip}"
CONTAINER = "task"
"""The container's name in every task definition (the overrides address it by name)."""
# Retry intervals: 2 s, 4 s, 8 s ... (AWS's recommended exponential backoff for Lambda).
_INTERVAL_S = 2
_BACKOFF = 2.0


def placeholder(kind: str, name: str) -> str:
    """The placeholder the program replaces: ``${function:extract}``."""
    return f"${{{kind}:{name}}}"


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


def _task_state(task: TaskModel, *, database: bool) -> dict[str, Any]:
    execution = {"Name": "GLACIER_EXECUTION", "Value.$": "$$.Execution.Name"}
    state: dict[str, Any] = {"Type": "Task", "Comment": f"task `{task.name}`"}
    container = task.compute is not None and task.compute.kind == "container"
    if container:
        state["Resource"] = "arn:aws:states:::ecs:runTask.sync"
        state["Parameters"] = {
            "LaunchType": "FARGATE",
            "Cluster": CLUSTER,
            "TaskDefinition": placeholder("task_definition", task.name),
            "NetworkConfiguration": {"AwsvpcConfiguration": _network(database)},
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
    retry = _retry(task, lambda_invoke=not container)
    if retry:
        state["Retry"] = retry
    return state


def _network(database: bool) -> dict[str, Any]:
    """A task that touches a database runs with the tasks' security group, which it admits."""
    network: dict[str, Any] = {"Subnets": SUBNETS}
    if database:
        network["SecurityGroups"] = SECURITY_GROUPS
    network["AssignPublicIp"] = ASSIGN_PUBLIC_IP
    return network


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


Plan = tuple[Any, ...]
"""("task", name) | ("seq", [plan, ...]) | ("par", [plan, ...])."""


def _plan(tasks: set[str], upstream: dict[str, set[str]], order: dict[str, int]) -> Plan:
    """The series-parallel plan of ``tasks`` (see the module docstring)."""
    if len(tasks) == 1:
        return ("task", next(iter(tasks)))
    groups = _components(tasks, upstream)
    if len(groups) > 1:
        first = sorted(groups, key=lambda g: min(order[t] for t in g))
        return ("par", [_plan(g, upstream, order) for g in first])
    ancestors = {t: _closure_of(t, upstream, tasks) for t in tasks}
    downstream: dict[str, set[str]] = {t: set() for t in tasks}
    for task, ups in ancestors.items():
        for up in ups:
            downstream[up].add(task)
    for pivot in sorted(tasks, key=order.__getitem__):
        if ancestors[pivot] | downstream[pivot] | {pivot} == tasks:
            parts: list[Plan] = []
            if ancestors[pivot]:
                parts.append(_plan(ancestors[pivot], upstream, order))
            parts.append(("task", pivot))
            if downstream[pivot]:
                parts.append(_plan(downstream[pivot], upstream, order))
            return _flat_seq(parts)
    return _flat_seq([_plan_level(level) for level in _levels(tasks, upstream, order)])


def _plan_level(level: list[str]) -> Plan:
    return ("task", level[0]) if len(level) == 1 else ("par", [("task", t) for t in level])


def _flat_seq(parts: list[Plan]) -> Plan:
    flat: list[Plan] = []
    for part in parts:
        flat.extend(part[1] if part[0] == "seq" else [part])
    return flat[0] if len(flat) == 1 else ("seq", flat)


def _closure_of(task: str, upstream: dict[str, set[str]], within: set[str]) -> set[str]:
    found: set[str] = set()
    pending = [u for u in upstream[task] if u in within]
    while pending:
        up = pending.pop()
        if up not in found:
            found.add(up)
            pending.extend(u for u in upstream[up] if u in within)
    return found


def _components(tasks: set[str], upstream: dict[str, set[str]]) -> list[set[str]]:
    neighbours: dict[str, set[str]] = {t: set() for t in tasks}
    for task in tasks:
        for up in upstream[task] & tasks:
            neighbours[task].add(up)
            neighbours[up].add(task)
    groups: list[set[str]] = []
    seen: set[str] = set()
    for start in sorted(tasks):
        if start in seen:
            continue
        group, pending = set(), [start]
        while pending:
            task = pending.pop()
            if task not in group:
                group.add(task)
                pending.extend(neighbours[task] - group)
        seen |= group
        groups.append(group)
    return groups


def _levels(
    tasks: set[str], upstream: dict[str, set[str]], order: dict[str, int]
) -> list[list[str]]:
    level: dict[str, int] = {}
    for task in sorted(tasks, key=order.__getitem__):
        level[task] = 1 + max((level[u] for u in upstream[task] & tasks), default=-1)
    grouped: dict[int, list[str]] = {}
    for task, lvl in level.items():
        grouped.setdefault(lvl, []).append(task)
    return [sorted(grouped[k]) for k in sorted(grouped)]


class _Builder:
    """Turns a plan into ASL states with unique names."""

    def __init__(self, model: PipelineModel) -> None:
        self.model = model
        self.taken = {t.name for t in model.tasks}
        self.fail = _unique(FAIL_STATE, self.taken)
        self.parallels = 0

    def chain(self, plan: Plan, *, top: bool) -> tuple[str, dict[str, Any]]:
        """(first state's name, states) of a plan run in sequence, ending the chain."""
        parts = plan[1] if plan[0] == "seq" else [plan]
        named = [self.state(part) for part in parts]
        states: dict[str, Any] = {}
        for index, (name, state) in enumerate(named):
            if top:
                state["Catch"] = _catch(self.fail)
            if index + 1 < len(named):
                state["Next"] = named[index + 1][0]
            else:
                state["End"] = True
            states[name] = state
        return named[0][0], states

    def state(self, plan: Plan) -> tuple[str, dict[str, Any]]:
        if plan[0] == "task":
            task = self.model.task(plan[1])
            database = touches_database(self.model, task)
            return plan[1], _task_state(task, database=database)  # named after its task
        self.parallels += 1
        name = _unique(f"Parallel{self.parallels}", self.taken)
        branches = []
        tasks: list[str] = []
        for branch in plan[1]:
            start, states = self.chain(branch, top=False)
            branches.append({"StartAt": start, "States": states})
            tasks += _tasks_of(branch)
        state = {
            "Type": "Parallel",
            "Comment": "independent: " + ", ".join(f"`{t}`" for t in tasks),
            "Branches": branches,
            "ResultPath": None,
        }
        return name, state


def _tasks_of(plan: Plan) -> list[str]:
    if plan[0] == "task":
        return [plan[1]]
    return [t for part in plan[1] for t in _tasks_of(part)]


def levels(model: PipelineModel) -> list[list[str]]:
    """Tasks by level (longest producer chain before them), each level sorted by name."""
    upstream = {name: set(ups) for name, ups in model.upstream().items()}
    order = {name: i for i, name in enumerate(model.topological_order())}
    return _levels(set(upstream), upstream, order)


def state_machine(model: PipelineModel) -> dict[str, Any]:
    """The state machine definition as plain data (placeholders still in)."""
    if not model.tasks:  # a pipeline without tasks: nothing to run
        return {
            "Comment": f"Glacier pipeline `{model.name}`",
            "StartAt": "Done",
            "States": {"Done": {"Type": "Succeed"}},
        }
    upstream = {name: set(ups) for name, ups in model.upstream().items()}
    order = {name: i for i, name in enumerate(model.topological_order())}
    builder = _Builder(model)
    start, states = builder.chain(_plan(set(upstream), upstream, order), top=True)
    states[builder.fail] = {
        "Type": "Fail",
        "Error": "GlacierTaskFailed",
        "Cause": f"a task of pipeline `{model.name}` failed; see the execution's events",
    }
    return {"Comment": f"Glacier pipeline `{model.name}`", "StartAt": start, "States": states}


def state_machine_json(model: PipelineModel) -> str:
    """``statemachine.asl.json``: stable key order as built, two-space indent, final newline."""
    return json.dumps(state_machine(model), indent=2, ensure_ascii=False) + "\n"
