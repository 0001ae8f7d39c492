"""Orchestration: the Step Functions state machine, its schedule, the stack's exports."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

import pulumi
import pulumi_aws as aws

from glacier import validate
from glacier_aws._deploy_policy import (
    ROLE_POLICY_LIMIT,
    policy_document,
    policy_size,
    trust_policy,
)
from glacier_aws._deploy_tasks import (
    LOG_RETENTION_DAYS,
    FargateTask,
    _check_name,
    _role_with_policy,
    _tags,
    log_group,
)

__all__ = [
    "PipelineSchedule",
    "PipelineStateMachine",
    "export_deployment",
    "placeholders_in",
    "substitute",
]

_PLACEHOLDER = re.compile(r"\$\{([a-z_]+)(?::([^}]*))?\}")


def placeholders_in(definition: Any) -> list[tuple[str, str | None]]:
    """Every ``"${kind:name}"`` / ``"${kind}"`` string value of a parsed ASL definition."""
    found: list[tuple[str, str | None]] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
        elif isinstance(node, str):
            match = _PLACEHOLDER.fullmatch(node)
            if match:
                found.append((match.group(1), match.group(2)))

    walk(definition)
    return found


def substitute(definition: Any, values: Mapping[str, Any]) -> Any:
    """Replace each placeholder string by ``values[placeholder]`` in the parsed definition.

    Replacement is structural (a whole JSON value, which may be a list or an output), never
    textual, so no name can break the JSON. Unknown placeholders are an error.
    """
    missing = sorted(
        {f"${{{k}{':' + n if n is not None else ''}}}" for k, n in placeholders_in(definition)}
        - set(values)
    )
    if missing:
        raise ValueError(f"state machine definition has unresolved placeholders: {missing}")

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value) for value in node]
        if isinstance(node, str) and node in values:
            return values[node]
        return node

    return walk(definition)


def _arn_of(value: Any) -> Any:
    return getattr(value, "arn", value)


class PipelineStateMachine(pulumi.ComponentResource):
    """The pipeline as an AWS Step Functions state machine, logging and tracing on.

    ``definition`` is the ASL document (JSON text or parsed) with placeholders
    ``${function:<task>}``, ``${task_definition:<task>}``, ``${cluster}``, ``${subnets}``,
    ``${security_groups}`` (Fargate tasks that touch a database: ``TaskNetwork``'s group),
    ``${container_security_groups}`` (the other Fargate tasks: another ``TaskNetwork``'s),
    ``${assign_public_ip}``. ``functions`` maps task names to Lambda ARNs (or ``LambdaTask``s),
    ``task_definitions`` to ``FargateTask``s. The role may invoke exactly the functions and
    run exactly the task definitions the definition names.

    A pipeline too large for one machine (``codegen.aws._asl.state_machines``) also has
    ``${state_machine:<child>}`` placeholders: ``children`` maps those names to the child
    machines (``PipelineStateMachine``s or ARNs), which the role may then start, watch and
    stop (``startExecution.sync:2``, with the EventBridge rule Step Functions manages for it).
    """

    state_machine: aws.sfn.StateMachine
    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    log_group: aws.cloudwatch.LogGroup
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        definition: str | Mapping[str, Any],
        functions: Mapping[str, Any] | None = None,
        task_definitions: Mapping[str, FargateTask] | None = None,
        children: Mapping[str, Any] | None = None,
        cluster: aws.ecs.Cluster | None = None,
        subnets: Sequence[pulumi.Input[str]] = (),
        security_groups: Sequence[pulumi.Input[str]] = (),
        container_security_groups: Sequence[pulumi.Input[str]] = (),
        assign_public_ip: bool = False,
        log_retention_days: int = LOG_RETENTION_DAYS,
        log_level: str = "ALL",
        include_execution_data: bool = False,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if log_level == "OFF":
            raise ValueError("state machine logging cannot be OFF (Security Hub StepFunctions.1)")
        parsed = json.loads(definition) if isinstance(definition, str) else dict(definition)
        functions = dict(functions or {})
        task_definitions = dict(task_definitions or {})
        used = placeholders_in(parsed)
        used_functions = sorted({n for k, n in used if k == "function" and n is not None})
        used_tasks = sorted({n for k, n in used if k == "task_definition" and n is not None})
        unknown = [n for n in used_functions if n not in functions] + [
            n for n in used_tasks if n not in task_definitions
        ]
        if unknown:
            raise ValueError(f"the definition names tasks with no function or task: {unknown}")
        children = dict(children or {})
        used_children = sorted({n for k, n in used if k == "state_machine" and n is not None})
        missing_children = [n for n in used_children if n not in children]
        if missing_children:
            raise ValueError(f"the definition starts unknown child machines: {missing_children}")
        if used_tasks and cluster is None:
            raise ValueError("container tasks need the shared `cluster`")
        if ("security_groups", None) in used and not security_groups:
            raise ValueError("container tasks that touch a database need `security_groups`")
        if ("container_security_groups", None) in used and not container_security_groups:
            raise ValueError(
                "container tasks that touch no database need `container_security_groups` "
                "(without one ECS would use the VPC's default security group)"
            )
        super().__init__("glacier:aws:PipelineStateMachine", _check_name(name), None, opts)
        child = pulumi.ResourceOptions(parent=self)

        values: dict[str, Any] = {
            f"${{function:{n}}}": _arn_of(functions[n]) for n in used_functions
        }
        values.update({f"${{task_definition:{n}}}": task_definitions[n].arn for n in used_tasks})
        values.update({f"${{state_machine:{n}}}": _arn_of(children[n]) for n in used_children})
        if cluster is not None:
            values["${cluster}"] = cluster.arn
        values["${subnets}"] = list(subnets)
        if security_groups:
            values["${security_groups}"] = list(security_groups)
        if container_security_groups:
            values["${container_security_groups}"] = list(container_security_groups)
        values["${assign_public_ip}"] = "ENABLED" if assign_public_ip else "DISABLED"
        document = substitute(parsed, values)

        # Vended-logs prefix: keeps CloudWatch Logs' resource policy small (AWS guidance).
        self.log_group = log_group(
            f"{name}-sfn-logs",
            log_group_name=f"/aws/vendedlogs/states/glacier-{pulumi.get_stack()}-{name}",
            retention_days=log_retention_days,
            tags=tags,
            opts=child,
        )
        account = aws.get_caller_identity_output(
            opts=pulumi.InvokeOutputOptions(parent=self)
        ).account_id
        partition = aws.get_partition_output(opts=pulumi.InvokeOutputOptions(parent=self)).partition
        statements: list[dict[str, Any]] = []
        if used_functions:
            arns = [_arn_of(functions[n]) for n in used_functions]
            statements.append(
                {
                    "Sid": "InvokeTaskFunctions",
                    "Effect": "Allow",
                    "Action": ["lambda:InvokeFunction"],
                    "Resource": [r for arn in arns for r in (arn, pulumi.Output.concat(arn, ":*"))],
                }
            )
        if used_tasks:
            assert cluster is not None
            statements.extend(_ecs_statements(cluster, [task_definitions[n] for n in used_tasks]))
        if used_children:
            statements.extend(_child_statements([_arn_of(children[n]) for n in used_children]))
        statements.extend(_logging_and_tracing_statements())
        components = [functions[n] for n in used_functions]
        components += [task_definitions[n] for n in used_tasks]
        self.role, self.policy = _role_with_policy(
            f"{name}-sfn",
            assume_role_policy=trust_policy(
                "states.amazonaws.com",
                source_account=account,
                source_arn=pulumi.Output.concat(
                    "arn:", partition, ":states:*:", account, ":stateMachine:*"
                ),
            ),
            description=f"Step Functions for glacier pipeline {name}: run its tasks only",
            statements=_fitting_policy(name, statements, components),
            tags=tags,
            opts=child,
        )
        self.state_machine = aws.sfn.StateMachine(
            f"{name}-state-machine",
            role_arn=self.role.arn,
            definition=pulumi.Output.json_dumps(document),
            type="STANDARD",
            logging_configuration={
                "log_destination": pulumi.Output.concat(self.log_group.arn, ":*"),
                "include_execution_data": include_execution_data,
                "level": log_level,
            },
            tracing_configuration={"enabled": True},
            tags=_tags(tags),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.policy]),
        )
        self.arn = self.state_machine.arn
        self.register_outputs({"arn": self.arn})


def _fitting_policy(
    name: str, statements: list[dict[str, Any]], components: Sequence[Any]
) -> pulumi.Output[str]:
    """The role's policy: exactly the functions, task definitions and roles it runs, or, when
    that would be over IAM's quota for a role (a machine of more than about 60 tasks), the
    ones that carry the tasks' deployment tags (``glacier:pipeline``, ``glacier:stack``):
    attribute-based access, the same set of resources (docs/deploy-aws.md)."""
    exact = policy_document(statements)
    tag_sets = {tuple(sorted(getattr(c, "deployment_tags", {}).items())) for c in components}
    if len(tag_sets) != 1 or not next(iter(tag_sets)):  # plain ARNs: no tags to rely on
        return exact
    condition = {f"aws:ResourceTag/{key}": value for key, value in next(iter(tag_sets))}
    tagged = policy_document([_by_tag(s, condition) for s in statements])

    def choose(documents: list[str]) -> str:
        for document in documents:
            if policy_size(document) <= ROLE_POLICY_LIMIT:
                return document
        raise ValueError(
            f"the policy of state machine {name!r} is {policy_size(documents[-1]):,} characters "
            f"even by tags, over IAM's {ROLE_POLICY_LIMIT:,} for a role"
        )

    return pulumi.Output.all(exact, tagged).apply(choose)


_WILDCARDS = {
    "InvokeTaskFunctions": ":function:",
    "RunTaskDefinitions": ":task-definition/",
    "PassTaskRoles": ":role/",
}


def _by_tag(statement: dict[str, Any], condition: dict[str, str]) -> dict[str, Any]:
    """``statement`` on every resource of its kind in the account that carries the tags of
    ``condition``, if it is one of the statements listing the tasks' resources."""
    marker = _WILDCARDS.get(statement["Sid"])
    if marker is None:
        return statement
    first = pulumi.Output.from_input(statement["Resource"][0])
    merged = {**statement.get("Condition", {})}
    merged["StringEquals"] = {**merged.get("StringEquals", {}), **condition}
    return {
        **statement,
        "Resource": [first.apply(lambda arn: arn.split(marker)[0] + marker + "*")],
        "Condition": merged,
    }


def _ecs_statements(cluster: aws.ecs.Cluster, tasks: Sequence[FargateTask]) -> list[dict[str, Any]]:
    on_cluster = {"ArnEquals": {"ecs:cluster": cluster.arn}}
    # `.sync` integration: Step Functions manages this one EventBridge rule in the account.
    rule = cluster.arn.apply(
        lambda arn: "arn:{}:events:{}:{}:rule/StepFunctionsGetEventsForECSTaskRule".format(
            arn.split(":")[1], *arn.split(":")[3:5]
        )
    )
    return [
        {
            "Sid": "RunTaskDefinitions",
            "Effect": "Allow",
            "Action": ["ecs:RunTask"],
            "Resource": [
                pulumi.Output.concat(t.task_definition.arn_without_revision, ":*") for t in tasks
            ],
            "Condition": on_cluster,
        },
        {
            # Task ARNs are only known at run time: any task of this cluster, none of another.
            "Sid": "WatchTasks",
            "Effect": "Allow",
            "Action": ["ecs:StopTask", "ecs:DescribeTasks"],
            "Resource": [cluster.arn.apply(_tasks_of_cluster)],
            "Condition": on_cluster,
        },
        {
            "Sid": "PassTaskRoles",
            "Effect": "Allow",
            "Action": ["iam:PassRole"],
            "Resource": [arn for t in tasks for arn in (t.role.arn, t.execution_role.arn)],
            "Condition": {"StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}},
        },
        {
            "Sid": "SyncTaskEvents",
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": [rule],
        },
    ]


def _child_statements(arns: Sequence[Any]) -> list[dict[str, Any]]:
    """Start, watch and stop exactly the child machines' executions (AWS's documented policy
    for ``states:startExecution.sync``)."""
    first = pulumi.Output.from_input(arns[0])
    rule = first.apply(
        lambda arn: (
            "arn:{}:events:{}:{}:rule/StepFunctionsGetEventsForStepFunctionsExecutionRule".format(
                arn.split(":")[1], *arn.split(":")[3:5]
            )
        )
    )
    return [
        {
            "Sid": "StartChildMachines",
            "Effect": "Allow",
            "Action": ["states:StartExecution"],
            "Resource": list(arns),
        },
        {
            "Sid": "WatchChildExecutions",
            "Effect": "Allow",
            "Action": ["states:DescribeExecution", "states:StopExecution"],
            "Resource": [pulumi.Output.from_input(a).apply(_executions_of) for a in arns],
        },
        {
            "Sid": "SyncChildEvents",
            "Effect": "Allow",
            "Action": ["events:PutTargets", "events:PutRule", "events:DescribeRule"],
            "Resource": [rule],
        },
    ]


def _executions_of(machine_arn: str) -> str:
    """``arn:...:stateMachine:<name>`` -> ``arn:...:execution:<name>:*``."""
    return machine_arn.replace(":stateMachine:", ":execution:", 1) + ":*"


def _tasks_of_cluster(cluster_arn: str) -> str:
    """``arn:<partition>:ecs:<region>:<account>:cluster/<name>`` -> ``...:task/<name>/*``."""
    head, _, name = cluster_arn.partition(":cluster/")
    return f"{head}:task/{name}/*"


def _logging_and_tracing_statements() -> list[dict[str, Any]]:
    # CloudWatch Logs delivery and X-Ray actions have no resource-level permissions
    # (AWS's documented policy for Step Functions logging uses "*"); neither touches data.
    return [
        {
            "Sid": "LogDelivery",
            "Effect": "Allow",
            "Action": [
                "logs:CreateLogDelivery",
                "logs:GetLogDelivery",
                "logs:UpdateLogDelivery",
                "logs:DeleteLogDelivery",
                "logs:ListLogDeliveries",
                "logs:PutResourcePolicy",
                "logs:DescribeResourcePolicies",
                "logs:DescribeLogGroups",
            ],
            "Resource": "*",
        },
        {
            "Sid": "XRayTracing",
            "Effect": "Allow",
            "Action": [
                "xray:PutTraceSegments",
                "xray:PutTelemetryRecords",
                "xray:GetSamplingRules",
                "xray:GetSamplingTargets",
            ],
            "Resource": "*",
        },
    ]


class PipelineSchedule(pulumi.ComponentResource):
    """``Pipeline(schedule=...)``: an EventBridge rule starting the state machine.

    ``schedule_expression`` is ``rate(...)`` or ``cron(...)`` (EventBridge syntax). The rule's
    role may start exactly this state machine.
    """

    rule: aws.cloudwatch.EventRule
    target: aws.cloudwatch.EventTarget
    role: aws.iam.Role

    def __init__(
        self,
        name: str,
        *,
        schedule_expression: str,
        state_machine_arn: pulumi.Input[str],
        input: Mapping[str, Any] | None = None,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        error = validate.schedule(schedule_expression)
        if error is not None:
            raise error
        super().__init__("glacier:aws:PipelineSchedule", _check_name(name), None, opts)
        child = pulumi.ResourceOptions(parent=self)
        self.rule = aws.cloudwatch.EventRule(
            f"{name}-schedule",
            schedule_expression=schedule_expression.strip(),
            description=f"runs glacier pipeline {name}",
            tags=_tags(tags),
            opts=child,
        )
        self.role, policy = _role_with_policy(
            f"{name}-schedule",
            # Only this rule, in this account, may use the role (confused-deputy guard).
            assume_role_policy=trust_policy(
                "events.amazonaws.com",
                source_account=self.rule.arn.apply(lambda arn: arn.split(":")[4]),
                source_arn=self.rule.arn,
            ),
            description=f"EventBridge schedule of glacier pipeline {name}",
            statements=[
                {
                    "Sid": "StartPipeline",
                    "Effect": "Allow",
                    "Action": ["states:StartExecution"],
                    "Resource": [state_machine_arn],
                }
            ],
            tags=tags,
            opts=child,
        )
        self.target = aws.cloudwatch.EventTarget(
            f"{name}-schedule-target",
            rule=self.rule.name,
            arn=state_machine_arn,
            role_arn=self.role.arn,
            input=json.dumps(dict(input or {}), sort_keys=True),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[policy]),
        )
        self.register_outputs({"rule": self.rule.name})


def export_deployment(
    *,
    state_machine_arn: pulumi.Input[str],
    buckets: Mapping[str, pulumi.Input[str]],
    task_security_group: pulumi.Input[str] | None = None,
) -> None:
    """Stack outputs: ``state_machine_arn`` and ``buckets`` (role or dataset -> bucket name);
    ``task_security_group`` (``TaskNetwork``'s group id), for databases a deployer admits."""
    pulumi.export("state_machine_arn", state_machine_arn)
    pulumi.export("buckets", dict(sorted(buckets.items())))
    if task_security_group is not None:
        pulumi.export("task_security_group", task_security_group)
