"""``statemachine.asl.json``: the pipeline's DAG as an AWS Step Functions state machine.

Shape: ASL composes states in sequence and in ``Parallel`` branches, so the DAG is split
into those two compositions, recursively (a series-parallel decomposition):

- tasks with no path between their groups run side by side: a ``Parallel`` state, one
  branch per weakly connected group;
- a connected group is cut at the first task (in topological order) that every other task of
  the group is either upstream or downstream of: upstream, then that task, then downstream;
- a connected group without such a task (the DAG is not series-parallel there, e.g. ``a->c``,
  ``b->c``, ``b->d``) is cut once, at a *level* (longest chain of producers before a task, in
  the whole DAG): the tasks below it, then the others, each part planned again by these
  rules. The level chosen adds the fewest orderings the DAG does not ask for (``_Graph.cut``).

The first two rules add no waiting the DAG does not ask for; only the cut makes a task wait
for tasks before the cut it does not depend on (``d`` waits for ``a`` above). It never waits
longer than running the group level by level would (each cut is a level boundary), and
``benchmarks/asl_wait.py`` measures what it costs on random DAGs. Every producer is in an
earlier part of the sequence than each of its consumers under all three, so it has finished
before they start. The result nests at most as deep as the DAG is long and reads like the
graph.

Nothing waits forever and a failure keeps its reason: every Fargate state has a
``TimeoutSeconds`` and the machine one bounding its longest path; the services' own transient
errors (``LAMBDA_TRANSIENT``, ``ECS_TRANSIENT``) have a retrier of their own before the task's
``retries``; top-level states catch into ``$.error`` and the ``Fail`` state's
``ErrorPath``/``CausePath`` make the failing task's error and cause the execution's
(docs/deploy-aws.md, "Timeouts, retries and failures").

A pipeline too large for one machine (Step Functions' 1 MB definition and 25,000-event
history quotas) is split into a parent and child machines, each started by a
``startExecution.sync:2`` state and waited for (``state_machines``, docs/deploy-aws.md).

Values that only exist at deploy time (function and task-definition ARNs, the cluster,
subnets, the security group of tasks that touch a database, child machines) are placeholders,
``"${kind:name}"`` strings, which the Pulumi program replaces in the parsed JSON (never by
text substitution). The execution's name is passed to every task:
it keys the scratch prefix of ephemeral datasets. So is the execution's input, whose
``params`` are the run's parameters (``glacier.params``): a Lambda function's payload has it
as ``input``, a container's ``GLACIER_INPUT`` as JSON, and a child machine's input has its
parent's as ``glacier_parent``.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Iterable
from typing import Any

from codegen.aws._database import is_table
from glacier.model import RETRY_BACKOFF, RETRY_DELAY_S, PipelineModel, TaskModel

__all__ = [
    "CONTAINER_TIMEOUT_S",
    "ECS_STARTUP_S",
    "ECS_TRANSIENT",
    "FAIL_STATE",
    "LAMBDA_TRANSIENT",
    "MAX_DEFINITION_BYTES",
    "MAX_EXECUTION_S",
    "MAX_HISTORY_EVENTS",
    "MAX_NESTING",
    "PLACEHOLDER_BYTES",
    "SPLIT_MARGIN",
    "START_CHILD",
    "StateMachines",
    "TooDeep",
    "TooLarge",
    "definition_bytes_bound",
    "definition_problem",
    "execution_events",
    "function_timeout_s",
    "history_events_bound",
    "levels",
    "machine_file",
    "machine_timeout_s",
    "machines_json",
    "placeholder",
    "started_children",
    "state_machine",
    "state_machine_json",
    "state_machines",
    "tasks_run",
]

FAIL_STATE = "PipelineFailed"
MAX_DEFINITION_BYTES = 1024 * 1024
"""Step Functions' hard quota on the size of a state machine definition (1 MB)."""
MAX_HISTORY_EVENTS = 25_000
"""Step Functions' hard quota on the events in one execution's history."""
MAX_NESTING = 100
"""Parallel states nested deeper than this are not written (Glacier's bound, not AWS's): the
definition grows with the square of the depth, and writing it would recurse that deep."""
CONTAINER_TIMEOUT_S = 3600
"""How long a `Container` task may run when neither its `timeout` nor its compute gives one."""
ECS_STARTUP_S = 300
"""Added to a `Container` task's timeout in its state: the state's clock also runs while
Fargate provisions the task, pulls the image and stops it, which the task's own code does not
see."""
STATE_ALLOWANCE_S = 60
"""Per task on the longest path, in the machine-level timeout: Step Functions' own time to
schedule the state and see its result."""
MAX_EXECUTION_S = 365 * 24 * 3600
"""The longest a Standard workflow execution may run (one year)."""
_CUT_CANDIDATES = 16
"""Level boundaries ``_Graph.cut`` weighs at most, so planning stays near-linear."""
CLUSTER = "${cluster}"
SUBNETS = "${subnets}"
SECURITY_GROUPS = "${security_groups}"
CONTAINER_SECURITY_GROUPS = "${container_security_groups}"
ASSIGN_PUBLIC_IP = "${assign_public_ip}"
CONTAINER = "task"
"""The container's name in every task definition (the overrides address it by name)."""
# Retry intervals: 2 s, 4 s, 8 s ... (AWS's recommended exponential backoff for Lambda); a
# task's own `retry_delay_s` and `backoff` default to the same.
_INTERVAL_S = round(RETRY_DELAY_S)
_BACKOFF = RETRY_BACKOFF


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


# Errors of ECS itself when the state calls RunTask: a throttled or failed request, and no
# Fargate capacity ("Capacity is unavailable at this time", which Step Functions reports as
# ECS.AmazonECSException). Capacity comes back in minutes, not seconds: longer intervals.
# The retrier is the first of the state's, so these errors never count against `retries`.
ECS_TRANSIENT = ["ECS.AmazonECSException", "ECS.ServerException"]
_ECS_INTERVAL_S = 10
_ECS_ATTEMPTS = 5


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
    else:
        rules.append(
            {
                "ErrorEquals": list(ECS_TRANSIENT),
                "IntervalSeconds": _ECS_INTERVAL_S,
                "MaxAttempts": _ECS_ATTEMPTS,
                "BackoffRate": _BACKOFF,
            }
        )
    if task.retries > 0:
        rules.append(
            {
                "ErrorEquals": _task_errors(task, lambda_invoke=lambda_invoke),
                "IntervalSeconds": retry_interval_s(task),
                "MaxAttempts": task.retries,
                "BackoffRate": task.backoff,
            }
        )
    return rules


def retry_interval_s(task: TaskModel) -> int:
    """The task's `retry_delay_s` as Step Functions takes it: whole seconds, at least 1."""
    return max(1, round(task.retry_delay_s))


def _task_errors(task: TaskModel, *, lambda_invoke: bool) -> list[str]:
    """The errors the task's own retrier matches: its `retry_on` class names, which is the
    error name a Lambda function's uncaught exception gets; every error when it has none.
    A Fargate task's failure reaches Step Functions only as an exit code (`States.TaskFailed`),
    without the exception's name: a container task retries every failure."""
    if task.retry_on and lambda_invoke:
        return list(task.retry_on)
    return ["States.ALL"]


def _is_container(task: TaskModel) -> bool:
    return task.compute is not None and task.compute.kind == "container"


def function_timeout_s(task: TaskModel) -> int:
    """The Lambda function's own timeout: its `Serverless` compute's (300 s by default),
    shortened to the task's `timeout`."""
    compute = task.compute
    timeout = compute.timeout_s if compute is not None and compute.timeout_s else 300
    if task.timeout is not None:
        timeout = min(timeout, max(1, round(task.timeout)))
    return timeout


def _timeout(task: TaskModel) -> int | None:
    """The state's `TimeoutSeconds`: every container state has one (a Fargate task that hangs
    would otherwise hold the execution for a year); a Lambda state has the task's, when it has
    one (the function's own timeout bounds it anyway)."""
    if _is_container(task):
        compute = task.compute
        assert compute is not None
        if task.timeout is not None:
            run = max(1, round(task.timeout))
        else:
            run = compute.timeout_s or CONTAINER_TIMEOUT_S
        return run + ECS_STARTUP_S
    if task.timeout is not None:
        return max(1, round(task.timeout))
    return None


def _worst_case_s(task: TaskModel, state: dict[str, Any]) -> float:
    """An upper bound of the time ``state`` (``task``'s) can take: every attempt its retriers
    allow running to the state's timeout, plus every retry interval."""
    timeout = state.get("TimeoutSeconds") or function_timeout_s(task)
    attempts, waits = 1, 0.0
    for rule in state.get("Retry", []):
        attempts += rule["MaxAttempts"]
        waits += sum(
            rule["IntervalSeconds"] * rule["BackoffRate"] ** k for k in range(rule["MaxAttempts"])
        )
    return attempts * timeout + waits + STATE_ALLOWANCE_S


def _task_state(task: TaskModel, *, database: bool) -> dict[str, Any]:
    execution = {"Name": "GLACIER_EXECUTION", "Value.$": "$$.Execution.Name"}
    run_input = {"Name": "GLACIER_INPUT", "Value.$": "States.JsonToString($$.Execution.Input)"}
    state: dict[str, Any] = {"Type": "Task", "Comment": f"task `{task.name}`"}
    container = _is_container(task)
    if container:
        state["Resource"] = "arn:aws:states:::ecs:runTask.sync"
        state["Parameters"] = {
            "LaunchType": "FARGATE",
            "Cluster": CLUSTER,
            "TaskDefinition": placeholder("task_definition", task.name),
            "NetworkConfiguration": {"AwsvpcConfiguration": _network(database)},
            "Overrides": {
                "ContainerOverrides": [{"Name": CONTAINER, "Environment": [execution, run_input]}]
            },
        }
    else:
        state["Resource"] = "arn:aws:states:::lambda:invoke"
        state["Parameters"] = {
            "FunctionName": placeholder("function", task.name),
            "Payload": {"execution.$": "$$.Execution.Name", "input.$": "$$.Execution.Input"},
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
    """A task that touches a database runs with the tasks' security group, which the database
    admits; any other with the containers' group. Never without one: ECS would use the VPC's
    default security group, which an account following Security Hub EC2.2 keeps closed."""
    return {
        "Subnets": SUBNETS,
        "SecurityGroups": SECURITY_GROUPS if database else CONTAINER_SECURITY_GROUPS,
        "AssignPublicIp": ASSIGN_PUBLIC_IP,
    }


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


Flow = tuple[Any, ...]
"""("task", name) | ("seq", [flow, ...]) | ("par", [flow, ...]) | ("child", machine): the
last only in a split pipeline (``state_machines``), a child machine started and waited for."""


class _Graph:
    """The DAG once, for planning any convex part of it (every part the flow splits off is).

    ``ancestors[t]`` and ``descendants[t]`` are bit sets over the tasks' topological positions
    (Python integers), computed in one pass each: a part's ancestors of ``t`` are
    ``ancestors[t] & part``, because a path between two tasks of a convex part stays in it.
    """

    def __init__(self, upstream: dict[str, set[str]], order: dict[str, int]) -> None:
        self.upstream = upstream
        self.order = order
        self.downstream: dict[str, set[str]] = {t: set() for t in upstream}
        for task, ups in upstream.items():
            for up in ups:
                self.downstream[up].add(task)
        by_order = sorted(upstream, key=order.__getitem__)
        self.ancestors: dict[str, int] = {}
        for task in by_order:
            bits = 0
            for up in upstream[task]:
                bits |= self.ancestors[up] | (1 << order[up])
            self.ancestors[task] = bits
        self.descendants: dict[str, int] = {}
        for task in reversed(by_order):
            bits = 0
            for down in self.downstream[task]:
                bits |= self.descendants[down] | (1 << order[down])
            self.descendants[task] = bits
        self.level: dict[str, int] = {}
        """Longest chain of producers before a task, in the whole DAG."""
        for task in by_order:
            self.level[task] = 1 + max((self.level[u] for u in upstream[task]), default=-1)

    def mask(self, tasks: Iterable[str]) -> int:
        bits = bytearray(len(self.order) // 8 + 1)
        for task in tasks:
            position = self.order[task]
            bits[position >> 3] |= 1 << (position & 7)
        return int.from_bytes(bits, "little")

    def cut(self, tasks: set[str]) -> tuple[set[str], set[str]]:
        """``tasks`` (connected, at least two levels) in two: the tasks below a level, then the
        others. Every task's ancestors in ``tasks`` are below its level, so the first part has
        them all and the parts run in sequence. The level chosen adds the fewest orderings the
        DAG does not ask for (a task after the cut waits for each task before it it does not
        depend on), the middle one on a tie; past ``_CUT_CANDIDATES`` levels, evenly spaced
        ones are tried."""
        levels = sorted({self.level[t] for t in tasks})[1:]
        if len(levels) > _CUT_CANDIDATES:
            step = len(levels) / _CUT_CANDIDATES
            levels = [levels[int(i * step)] for i in range(_CUT_CANDIDATES)]
        middle = (levels[0] + levels[-1]) / 2
        best: tuple[int, float, int] | None = None
        for level in levels:
            before = [t for t in tasks if self.level[t] < level]
            mask = self.mask(before)
            added = sum(
                len(before) - (self.ancestors[t] & mask).bit_count()
                for t in tasks
                if self.level[t] >= level
            )
            key = (added, abs(level - middle), level)
            if best is None or key < best:
                best = key
        assert best is not None
        chosen = best[2]
        before_set = {t for t in tasks if self.level[t] < chosen}
        return before_set, tasks - before_set

    def pivots(self, tasks: set[str]) -> list[str]:
        """The tasks every other task of ``tasks`` is upstream or downstream of, in order."""
        part = self.mask(tasks)
        size = len(tasks) - 1
        return [
            t
            for t in sorted(tasks, key=self.order.__getitem__)
            if (self.ancestors[t] & part).bit_count() + (self.descendants[t] & part).bit_count()
            == size
        ]


class TooDeep(ValueError):
    """The flow would nest more than ``MAX_NESTING`` Parallel states."""


def _flow(
    tasks: set[str],
    upstream: dict[str, set[str]],
    order: dict[str, int],
    max_nesting: int = MAX_NESTING,
) -> Flow:
    """The series-parallel flow of ``tasks`` (see the module docstring).

    The rules apply to the parts they split off until every part is one task; parts wait on a
    stack, not in recursive calls. A connected part is cut at every pivot at once: cutting at
    the first and planning what is downstream finds the next pivot there, and so on, giving
    the same sequence. Raises ``TooDeep`` as soon as Parallel states nest deeper than
    ``max_nesting``, so a pathological DAG costs no more than a writable one.
    """
    graph = _Graph(upstream, order)
    # postfix program: ("part", (tasks, depth)) is planned, ("value", flow) pushed as is,
    # ("par" | "seq", n) combines the last n results
    program: list[tuple[str, Any]] = [("part", (tasks, 0))]
    results: list[Flow] = []
    while program:
        op, arg = program.pop()
        if op == "value":
            results.append(arg)
        elif op in ("par", "seq"):
            parts = results[len(results) - arg :]
            del results[len(results) - arg :]
            results.append(("par", parts) if op == "par" else _flat_seq(parts))
        else:
            part, depth = arg
            steps = _split(part, graph)
            if _opens_parallel(steps[-1]):
                depth += 1
                if depth > max_nesting:
                    raise TooDeep(f"Parallel states nest more than {max_nesting} levels deep")
            program.extend(
                (op, (arg, depth)) if op == "part" else (op, arg) for op, arg in reversed(steps)
            )
    (flow,) = results
    return flow


def _opens_parallel(step: tuple[str, Any]) -> bool:
    """Whether the last step of ``_split`` puts its parts in a Parallel state."""
    return step[0] == "par"


def _split(tasks: set[str], graph: _Graph) -> list[tuple[str, Any]]:
    """One step of ``_flow`` on ``tasks``, in its postfix program, in execution order."""
    if len(tasks) == 1:
        return [("value", ("task", next(iter(tasks))))]
    order = graph.order
    groups = _components(tasks, graph.upstream)
    if len(groups) > 1:
        first = sorted(groups, key=lambda g: min(order[t] for t in g))
        return [*(("part", g) for g in first), ("par", len(first))]
    pivots = graph.pivots(tasks)
    if not pivots:  # not series-parallel here: cut once, by level, and plan each side again
        before, after = graph.cut(tasks)
        return [("part", before), ("part", after), ("seq", 2)]
    # between two pivots (and before the first, after the last) lie the tasks downstream of
    # the one and upstream of the other: in topological order, exactly those in between
    steps: list[tuple[str, Any]] = []
    segment: set[str] = set()
    is_pivot = set(pivots)
    for task in sorted(tasks, key=order.__getitem__):
        if task not in is_pivot:
            segment.add(task)
            continue
        if segment:
            steps.append(("part", segment))
            segment = set()
        steps.append(("value", ("task", task)))
    if segment:
        steps.append(("part", segment))
    return [*steps, ("seq", len(steps))]


def _flat_seq(parts: list[Flow]) -> Flow:
    flat: list[Flow] = []
    for part in parts:
        flat.extend(part[1] if part[0] == "seq" else [part])
    return flat[0] if len(flat) == 1 else ("seq", flat)


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
    """Turns a flow into ASL states with unique names."""

    def __init__(self, model: PipelineModel) -> None:
        self.model = model
        self.tasks = {t.name: t for t in model.tasks}
        # datasets in a database, for all tasks at once
        self.tables = {d.name for d in model.datasets if is_table(d)}
        self.taken = {t.name for t in model.tasks}
        self.fail = _unique(FAIL_STATE, self.taken)
        self.parallels = 0
        self.worst_case_s: dict[str, float] = {}
        """Per task, an upper bound of its state's time (``_worst_case_s``)."""

    def chain(self, flow: Flow, *, top: bool) -> tuple[str, dict[str, Any]]:
        """(first state's name, states) of a flow run in sequence, ending the chain."""
        parts = flow[1] if flow[0] == "seq" else [flow]
        named = [self.state(part) for part in parts]
        states: dict[str, Any] = {}
        for index, (name, state) in enumerate(named):
            if top:
                state["Catch"] = _catch(self.fail)
            if state.get("Resource") == START_CHILD:
                failure = self.child_failure(name, top=top)
                state["Catch"] = _catch(next(iter(failure)))
            if index + 1 < len(named):
                state["Next"] = named[index + 1][0]
            else:
                state["End"] = True
            states[name] = state
            if state.get("Resource") == START_CHILD:
                states.update(failure)
        return named[0][0], states

    def child_failure(self, start: str, *, top: bool) -> dict[str, Any]:
        """The states a failed child start (state ``start``) is caught into: the error a
        child machine fails with (its task's, by its own Fail state) is the state's error
        when the child ran and failed, in place of Step Functions' ``States.TaskFailed``."""
        choice = _unique(f"{start}_failed", self.taken)
        merge = _unique(f"{start}_error", self.taken)
        fail = self.fail if top else _unique(f"{start}_fail", self.taken)
        states = _child_failure_states(choice, merge, fail)
        if not top:
            states[fail] = _fail_state(self.model.name)
        return states

    def state(self, flow: Flow) -> tuple[str, dict[str, Any]]:
        if flow[0] == "child":
            return flow[1], _child_state(flow[1])
        if flow[0] == "task":
            task = self.tasks[flow[1]]
            database = any(
                d in self.tables for d in (*(i.dataset for i in task.inputs), *task.outputs)
            )
            state = _task_state(task, database=database)
            self.worst_case_s[task.name] = _worst_case_s(task, state)
            return flow[1], state  # named after its task
        self.parallels += 1
        name = _unique(f"Parallel{self.parallels}", self.taken)
        branches = []
        tasks: list[str] = []
        for branch in flow[1]:
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


def _tasks_of(flow: Flow) -> list[str]:
    if flow[0] in ("task", "child"):
        return [flow[1]]
    return [t for part in flow[1] for t in _tasks_of(part)]


def _flow_worst_case_s(flow: Flow, worst_case_s: dict[str, float]) -> float:
    """The longest the flow can take: a sequence its parts' sum, a Parallel its slowest branch."""
    if flow[0] in ("task", "child"):
        return worst_case_s[flow[1]]
    parts = [_flow_worst_case_s(part, worst_case_s) for part in flow[1]]
    return sum(parts) if flow[0] == "seq" else max(parts)


def machine_timeout_s(flow: Flow, worst_case_s: dict[str, float]) -> int:
    """The machine-level ``TimeoutSeconds``: the flow's worst case (every state bounded by its
    own timeout and retries), within the year a Standard execution may last. It is a backstop:
    a state that is never scheduled, or a Parallel state that never closes, still ends."""
    return min(MAX_EXECUTION_S, math.ceil(_flow_worst_case_s(flow, worst_case_s)))


def levels(model: PipelineModel) -> list[list[str]]:
    """Tasks by level (longest producer chain before them), each level sorted by name."""
    upstream = {name: set(ups) for name, ups in model.upstream().items()}
    order = {name: i for i, name in enumerate(model.topological_order())}
    return _levels(set(upstream), upstream, order)


def _whole_flow(model: PipelineModel) -> Flow:
    upstream = {name: set(ups) for name, ups in model.upstream().items()}
    order = {name: i for i, name in enumerate(model.topological_order())}
    return _flow(set(upstream), upstream, order)


def definition_problem(model: PipelineModel) -> str | None:
    """Why the pipeline's state machines cannot be deployed, or ``None`` when they can.

    A pipeline too large for one machine is split into child machines (``state_machines``);
    only a split that cannot fit, or Parallel states nested too deep, is a problem.
    """
    if not model.tasks:
        return None
    try:
        state_machines(model)
    except TooDeep:
        return (
            f"its DAG nests `Parallel` states more than {MAX_NESTING} levels deep, which "
            "Glacier does not write"
        )
    except TooLarge as error:
        return f"even split into child state machines, {error}"
    return None


def state_machine(model: PipelineModel) -> dict[str, Any]:
    """The state machine definition as plain data (placeholders still in)."""
    if not model.tasks:  # a pipeline without tasks: nothing to run
        return {
            "Comment": f"Glacier pipeline `{model.name}`",
            "StartAt": "Done",
            "States": {"Done": {"Type": "Succeed"}},
        }
    builder = _Builder(model)
    # raises TooDeep past MAX_NESTING (`glacier build` stops at GLC307 first): building and
    # writing the states recurses once per level
    flow = _whole_flow(model)
    return _definition(builder, flow, f"Glacier pipeline `{model.name}`")


def _definition(builder: _Builder, flow: Flow, comment: str) -> dict[str, Any]:
    """A whole machine running ``flow``: its states, the Fail state, its timeout."""
    start, states = builder.chain(flow, top=True)
    # every top-level state catches into `$.error` ({"Error", "Cause"}); a Parallel state fails
    # with the error of the branch that failed, so this is the failing task's own error
    states[builder.fail] = _fail_state(builder.model.name)
    return {
        "Comment": comment,
        "StartAt": start,
        "TimeoutSeconds": machine_timeout_s(flow, builder.worst_case_s),
        "States": states,
    }


def _fail_state(pipeline: str) -> dict[str, Any]:
    return {
        "Type": "Fail",
        "Comment": f"a task of pipeline `{pipeline}` failed: its error and cause",
        "ErrorPath": "$.error.Error",
        "CausePath": "$.error.Cause",
    }


def execution_events(definition: dict[str, Any]) -> int:
    """The events in the history of a successful execution of ``definition`` without retries
    (Step Functions keeps at most ``MAX_HISTORY_EVENTS``): the execution's start and end; per
    Task state entered, scheduled, started, succeeded, exited, and submitted for a ``.sync``
    job; per Parallel state entered, started, succeeded, exited. A retried attempt adds three
    (scheduled, started, failed). Counted as moto's interpreter records them
    (``tests/test_rehearse.py``)."""
    events = 2
    pending = [definition["States"]]
    while pending:
        for state in pending.pop().values():
            if state["Type"] == "Task":
                events += 6 if str(state["Resource"]).endswith((".sync", ".sync:2")) else 5
            elif state["Type"] == "Parallel":
                events += 4
                pending.extend(branch["States"] for branch in state["Branches"])
    return events


def state_machine_json(model: PipelineModel) -> str:
    """``statemachine.asl.json``: stable key order as built, two-space indent, final newline."""
    return _json_text(state_machine(model))


# -- a pipeline too large for one machine: a parent and child machines -----------------------

SPLIT_MARGIN = 0.9
"""Each machine of a split pipeline stays within this share of both quotas, bounded as
``definition_bytes_bound`` and ``history_events_bound`` measure them."""
PLACEHOLDER_BYTES = {
    "function": 160,
    "state_machine": 160,
    "cluster": 330,
    "task_definition": 330,
    "subnets": 512,
    "security_groups": 512,
    "container_security_groups": 512,
    "assign_public_ip": 10,
}
"""What a placeholder of each kind may weigh, quoted, once the program replaced it: an ARN
(a function's name is at most 64 characters, a machine's 80, a cluster's or task definition
family's 255), a list of subnets or security groups, ``"DISABLED"``."""
START_CHILD = "arn:aws:states:::states:startExecution.sync:2"
_PLACEHOLDER_TEXT = re.compile(r'"\$\{([a-z_]+)(?::[^}"]*)?\}"')
_MACHINE_BYTES = 600
"""A machine's own bytes besides its states: comment, start, timeout, the Fail state."""
_MACHINE_EVENTS = 8
"""A machine's own events besides its states: start, end, and the path to its Fail state."""


class TooLarge(ValueError):
    """Even split into child machines, one machine would cross a Step Functions quota."""


class StateMachines:
    """A pipeline's machines: ``parent`` is the one the schedule starts; ``children`` (name to
    definition, each before any machine that starts it) are started by
    ``${state_machine:<name>}`` states and waited for. No children when one machine fits."""

    def __init__(self, parent: dict[str, Any], children: dict[str, dict[str, Any]]) -> None:
        self.parent = parent
        self.children = children

    def all(self) -> dict[str, dict[str, Any]]:
        """Every definition by name, the parent last under ``""``."""
        return {**self.children, "": self.parent}


def definition_bytes_bound(definition: Any) -> int:
    """An upper bound of the deployed definition's size: its compact JSON, each placeholder
    counted as what its value may weigh (``PLACEHOLDER_BYTES``), never less than itself."""
    text = json.dumps(definition, ensure_ascii=False)
    size = len(text.encode())
    for match in _PLACEHOLDER_TEXT.finditer(text):
        written = len(match.group(0).encode())
        size += max(0, PLACEHOLDER_BYTES.get(match.group(1), 512) - written)
    return size


def history_events_bound(definition: dict[str, Any]) -> int:
    """An upper bound of one execution's history: ``execution_events`` plus three events for
    every attempt every retrier allows (each task retried to the last)."""
    return execution_events(definition) + 3 * _retry_attempts(definition["States"])


def _retry_attempts(states: dict[str, Any]) -> int:
    attempts = 0
    pending = [states]
    while pending:
        for state in pending.pop().values():
            attempts += sum(rule["MaxAttempts"] for rule in state.get("Retry", []))
            pending.extend(branch["States"] for branch in state.get("Branches", []))
    return attempts


def _child_state(machine: str) -> dict[str, Any]:
    """Starts child machine ``machine`` and waits for it. The child execution takes the
    parent's name (names are unique per machine, and a run starts each child once), so
    ``$$.Execution.Name``, the scratch prefix of ephemeral datasets, is the run's in every
    machine; its input carries the parent's as ``glacier_parent`` (the run's parameters). A child that fails fails this state with ``States.TaskFailed``, the child's
    execution (its ``Error`` and ``Cause`` among it) as JSON in the cause: the states of
    ``_child_failure_states`` make those the state's error and cause."""
    return {
        "Type": "Task",
        "Comment": f"child machine `{machine}`",
        "Resource": START_CHILD,
        "Parameters": {
            "StateMachineArn": placeholder("state_machine", machine),
            "Name.$": "$$.Execution.Name",
            "Input": {
                "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id",
                "glacier_parent.$": "$$.Execution.Input",
            },
        },
        "ResultPath": None,
    }


def _child_failure_states(choice: str, merge: str, fail: str) -> dict[str, Any]:
    """``choice`` (where a child start catches ``$.error``): when the child ran and failed
    (``States.TaskFailed``, whose cause is the child's execution as JSON), ``merge`` puts the
    child's ``Error`` and ``Cause`` over it; any other error (the start denied, a timeout)
    stays as it is. Both go on to ``fail``. A child aborted by hand has no ``Error``: the
    merge keeps ``States.TaskFailed`` then."""
    return {
        choice: {
            "Type": "Choice",
            "Comment": "did the child machine fail? then its error is the one to report",
            "Choices": [
                {"Variable": "$.error.Error", "StringEquals": "States.TaskFailed", "Next": merge}
            ],
            "Default": fail,
        },
        merge: {
            "Type": "Pass",
            "Comment": "the child's error and cause over Step Functions' States.TaskFailed",
            "Parameters": {
                "error.$": "States.JsonMerge($.error, States.StringToJson($.error.Cause), false)"
            },
            "Next": fail,
        },
    }


_CHILD_FAILURE_BYTES = 60 + definition_bytes_bound(
    {**_child_failure_states("a", "b", "c"), "c": _fail_state("")}
)
"""What the states a child start is caught into may weigh besides their names (a suffix of up
to 10 bytes on the start's name, six times) and the pipeline's."""

Cost = tuple[int, int]
"""(bytes, events) bounds of a flow's states."""


class _Planner:
    """Moves sub-flows into child machines until every machine fits the budgets.

    Bottom-up: a part of a sequence or a Parallel state is fitted first; when the parts
    together do not fit, consecutive parts are packed into as few child machines as fit (a
    run of a sequence, a group of branches in a Parallel state of its own), each replaced by
    one state that starts it. Packing the starts again when there are too many nests
    machines. Order is kept: a sequence stays a sequence, branches stay side by side.
    """

    def __init__(self, builder: _Builder, max_bytes: float, max_events: float) -> None:
        self.builder = builder
        self.max_bytes = max_bytes - _MACHINE_BYTES - 2 * len(builder.model.name.encode())
        self.max_events = max_events - _MACHINE_EVENTS
        self.children: list[tuple[str, Flow]] = []

    def fits(self, cost: Cost) -> bool:
        return cost[0] <= self.max_bytes and cost[1] <= self.max_events

    def state_cost(self, name: str, state: dict[str, Any]) -> Cost:
        # the state's name twice (its key and a Next), its Catch
        extra = 2 * len(json.dumps(name, ensure_ascii=False).encode()) + 120
        if state.get("Resource") == START_CHILD:  # and the states its failure is caught into
            extra += _CHILD_FAILURE_BYTES + 6 * len(name.encode()) + len(self.builder.model.name)
        events = history_events_bound({"States": {name: state}}) - 2
        return definition_bytes_bound(state) + extra, events

    def share(self, kind: str, part: tuple[Flow, Cost]) -> Cost:
        """What ``part`` adds to a sequence or a Parallel state: its states, and in a
        Parallel state its branch and its tasks' names in the state's comment."""
        (flow, (size, events)) = part
        if kind == "par":
            names = _tasks_of(flow)
            size += 60 + sum(len(json.dumps(t, ensure_ascii=False).encode()) + 4 for t in names)
        return size, events

    def fit(self, flow: Flow) -> tuple[Flow, Cost]:
        if flow[0] in ("task", "child"):
            name, state = self.builder.state(flow)
            cost = self.state_cost(name, state)
            if not self.fits(cost):
                raise TooLarge(f"the state of `{name}` alone crosses a Step Functions quota")
            return flow, cost
        kind = flow[0]
        own: Cost = (300, 4) if kind == "par" else (0, 0)  # the Parallel state itself
        parts = [self.fit(part) for part in flow[1]]
        while True:
            shares = [self.share(kind, part) for part in parts]
            cost = (own[0] + sum(c[0] for c in shares), own[1] + sum(c[1] for c in shares))
            if self.fits(cost):
                flows = [f for f, _ in parts]
                return (_flat_seq(flows) if kind == "seq" else ("par", flows)), cost
            chunks: list[list[tuple[Flow, Cost]]] = [[]]
            total = own
            for part, (size, events) in zip(parts, shares, strict=True):
                total = (total[0] + size, total[1] + events)
                if chunks[-1] and not self.fits(total):
                    chunks.append([])
                    total = (own[0] + size, own[1] + events)
                chunks[-1].append(part)
            if all(len(chunk) == 1 for chunk in chunks):
                raise TooLarge("starting the child machines alone crosses a quota")
            parts = [self.move(kind, chunk) for chunk in chunks]

    def move(self, kind: str, chunk: list[tuple[Flow, Cost]]) -> tuple[Flow, Cost]:
        """One state starting a child machine that runs ``chunk`` (a child already, as is)."""
        if len(chunk) == 1 and chunk[0][0][0] == "child":
            return chunk[0]
        flows = [f for f, _ in chunk]
        if len(flows) == 1:
            inner = flows[0]
        else:
            inner = _flat_seq(flows) if kind == "seq" else ("par", flows)
        name = _unique(f"part{len(self.children) + 1}", self.builder.taken)
        self.children.append((name, inner))
        start = ("child", name)
        return start, self.state_cost(name, _child_state(name))


def _within(definition: dict[str, Any], share: float) -> bool:
    return (
        definition_bytes_bound(definition) <= MAX_DEFINITION_BYTES * share
        and history_events_bound(definition) <= MAX_HISTORY_EVENTS * share
    )


@functools.lru_cache(maxsize=8)
def state_machines(model: PipelineModel) -> StateMachines:
    """The pipeline's machines: ``state_machine(model)`` alone when it fits within
    ``SPLIT_MARGIN`` of both quotas, else a parent and child machines that each do. Every
    machine is measured once built; a plan whose estimate was short is made again with smaller
    budgets. Raises ``TooDeep`` as ``state_machine`` does, ``TooLarge`` when no split fits.

    Cached by model: a build asks three times (the GLC307 check, the definition files, the
    program), and planning 10,000 tasks takes most of a second. The result is shared: read it,
    never edit it."""
    if not model.tasks:
        return StateMachines(state_machine(model), {})
    flow = _whole_flow(model)  # planned once: the planner builds new flows, never edits it
    whole = _definition(_Builder(model), flow, f"Glacier pipeline `{model.name}`")
    if _within(whole, SPLIT_MARGIN):
        return StateMachines(whole, {})
    scale = SPLIT_MARGIN
    for _ in range(4):
        builder = _Builder(model)
        planner = _Planner(builder, MAX_DEFINITION_BYTES * scale, MAX_HISTORY_EVENTS * scale)
        top, _cost = planner.fit(flow)
        children: dict[str, dict[str, Any]] = {}
        for name, part in planner.children:  # each child before the machine that starts it
            comment = f"Glacier pipeline `{model.name}`: child machine `{name}`"
            children[name] = definition = _definition(builder, part, comment)
            builder.worst_case_s[name] = definition["TimeoutSeconds"] + STATE_ALLOWANCE_S
        parent = _definition(builder, top, f"Glacier pipeline `{model.name}`")
        machines = StateMachines(parent, children)
        if all(_within(d, SPLIT_MARGIN) for d in machines.all().values()):
            return machines
        scale *= 0.8
    raise TooLarge("no plan of child machines fits both quotas")


def machine_file(child: str | None = None) -> str:
    """The file of a machine's definition: ``statemachine.asl.json`` for the one the
    schedule starts, ``statemachine.<child>.asl.json`` for a child machine."""
    return "statemachine.asl.json" if child is None else f"statemachine.{child}.asl.json"


def machines_json(machines: StateMachines) -> dict[str, str]:
    """Every machine's definition file (``machine_file``), as ``state_machine_json`` writes."""
    files = {machine_file(n): _json_text(d) for n, d in machines.children.items()}
    files[machine_file()] = _json_text(machines.parent)
    return files


def started_children(definition: dict[str, Any]) -> list[str]:
    """The child machines ``definition`` starts, in the order their states appear."""
    text = json.dumps(definition, ensure_ascii=False)
    return [m.group(2) for m in _CHILD_TEXT.finditer(text)]


def tasks_run(definition: dict[str, Any]) -> set[str]:
    """The tasks ``definition`` runs itself (not in the child machines it starts)."""
    text = json.dumps(definition, ensure_ascii=False)
    return {m.group(2) for m in _TASK_TEXT.finditer(text)}


_CHILD_TEXT = re.compile(r'"\$\{(state_machine):([^}"]*)\}"')
_TASK_TEXT = re.compile(r'"\$\{(function|task_definition):([^}"]*)\}"')


def _json_text(definition: dict[str, Any]) -> str:
    return json.dumps(definition, indent=2, ensure_ascii=False) + "\n"
