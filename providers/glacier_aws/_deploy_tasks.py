"""Per-task compute: log group, least-privilege role, Lambda function or Fargate task.

Every component takes ``tags`` (put on each taggable child) and ``opts``; pass
``opts=pulumi.ResourceOptions(provider=env.provider)`` to deploy into an Environment.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from glacier import validate
from glacier_aws._deploy_database import (
    DatabaseAccess,
    TaskNetwork,
    database_environment,
    database_statements,
    vpc_access_statements,
)
from glacier_aws._deploy_policy import (
    DatasetLocation,
    dataset_statements,
    image_pull_statements,
    log_statements,
    policy_document,
    trust_policy,
    xray_statements,
)
from glacier_aws._resources import LOG_RETENTION_DAYS, expiry_rule, secure_bucket
from glacier_aws.grants import bucket_prefix

if TYPE_CHECKING:
    from glacier_aws._deploy_code import LambdaBundle

__all__ = [
    "CONTAINER_NAME",
    "CONTAINER_USER",
    "LAMBDA_RUNTIMES",
    "LOG_RETENTION_DAYS",
    "FargateTask",
    "LambdaTask",
    "ScratchBucket",
    "TaskRole",
    "dataset_environment",
    "ecs_cluster",
    "log_group",
    "service_trust_policy",
]

LAMBDA_RUNTIMES = ("python3.12", "python3.13")
"""Python runtimes AWS Lambda supports (Security Hub Lambda.2) that Glacier deploys."""
CONTAINER_USER = "1000:1000"
"""The non-root ``uid:gid`` a Fargate task's container runs as (Security Hub ECS.20); the
generated image makes ``/tmp`` (the task's writable volume) writable by it."""
CONTAINER_NAME = "task"
"""The container's name in every task definition (the state machine's overrides use it)."""
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,39}")


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise ValueError(
            f"invalid component name {name!r}: 1-40 letters, digits, '-' or '_' "
            "(it prefixes IAM role and function names)"
        )
    return name


PIPELINE_TAG = "glacier:pipeline"
STACK_TAG = "glacier:stack"


def deployment_tags(pipeline: str) -> dict[str, str]:
    """The tags naming the deployment a task's resources belong to: its pipeline and the
    stack. A state machine too large for exact ARNs in its role's policy is allowed the
    functions, task definitions and roles that carry both (``PipelineStateMachine``)."""
    return {PIPELINE_TAG: pipeline, STACK_TAG: pulumi.get_stack()}


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    return {"managed-by": "glacier", **(tags or {})}


def _role_with_policy(
    prefix: str,
    *,
    assume_role_policy: Any,
    description: str,
    statements: Sequence[dict[str, Any]] | pulumi.Output[str],
    tags: Mapping[str, str] | None,
    opts: pulumi.ResourceOptions,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """``<prefix>-role`` and its inline ``<prefix>-policy`` (a ``RolePolicy``, never
    ``Role.inline_policies``, so the policy can be depended on); ``statements`` may be the
    policy document itself."""
    role = aws.iam.Role(
        f"{prefix}-role",
        assume_role_policy=assume_role_policy,
        description=description,
        tags=_tags(tags),
        opts=opts,
    )
    policy = aws.iam.RolePolicy(
        f"{prefix}-policy",
        role=role.id,
        policy=(
            statements if isinstance(statements, pulumi.Output) else policy_document(statements)
        ),
        opts=opts,
    )
    return role, policy


def log_group(
    name: str,
    *,
    log_group_name: str | None = None,
    retention_days: int = LOG_RETENTION_DAYS,
    tags: Mapping[str, str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> aws.cloudwatch.LogGroup:
    """A CloudWatch log group with a retention period (logs are not kept forever)."""
    if retention_days <= 0:
        raise ValueError("retention_days must be positive: logs must expire")
    return aws.cloudwatch.LogGroup(
        name,
        name=log_group_name or f"/glacier/{pulumi.get_stack()}/{name}",
        retention_in_days=retention_days,
        tags=_tags(tags),
        opts=opts,
    )


class TaskRole(pulumi.ComponentResource):
    """One IAM role per task, allowed exactly its datasets and its own log group.

    ``reads`` / ``writes`` are the task's inputs and outputs; ephemeral ones (``bucket=None``)
    are scoped to their keys in ``scratch_bucket``. ``service`` is the principal that runs
    the task (``lambda.amazonaws.com`` or ``ecs-tasks.amazonaws.com``); it may assume the role
    only for the account of ``log_group_arn`` (and ECS only for that account's tasks in that
    region). ``writes_logs``: the task writes to its log group itself (Lambda); a container's
    logs are written by ECS with the execution role, so its task role gets no log action.
    ``extra_statements`` are appended verbatim (e.g. ``kms:Decrypt`` on a specific key).
    The policy is an ``aws.iam.RolePolicy`` (never ``Role.inline_policies``).
    """

    role: aws.iam.Role
    policy: aws.iam.RolePolicy
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        reads: Sequence[DatasetLocation] = (),
        writes: Sequence[DatasetLocation] = (),
        log_group_arn: pulumi.Input[str],
        scratch_bucket: pulumi.Input[str] | None = None,
        service: str = "lambda.amazonaws.com",
        tracing: bool = True,
        writes_logs: bool = True,
        extra_statements: Sequence[dict[str, Any]] = (),
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("glacier:aws:TaskRole", _check_name(name), None, opts)
        # The task's region, for SSE-KMS keys used through S3, and its account, for the trust
        # policy: its log group's (arn:aws:logs:<region>:<account>:...), without an invoke.
        arn = pulumi.Output.from_input(log_group_arn)
        region = arn.apply(lambda text: text.split(":")[3])
        partition = arn.apply(lambda text: text.split(":")[1])
        self.role, self.policy = _role_with_policy(
            name,
            assume_role_policy=service_trust_policy(
                service, arn, tasks_only=service == "ecs-tasks.amazonaws.com"
            ),
            description=f"glacier task {name}: its datasets and its log group, nothing else",
            statements=[
                *dataset_statements(
                    reads, writes, scratch_bucket, region=region, partition=partition
                ),
                *(log_statements(log_group_arn) if writes_logs else []),
                *(xray_statements() if tracing else []),
                *extra_statements,
            ],
            tags=tags,
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.arn = self.role.arn
        self.register_outputs({"arn": self.arn})


def service_trust_policy(
    service: str, arn_in_account: pulumi.Input[str], *, tasks_only: bool = False
) -> Any:
    """``service`` may assume the role on behalf of the account of ``arn_in_account`` only
    (``aws:SourceAccount``, AWS's confused-deputy guard). ``tasks_only`` (an ECS task role,
    for which ECS documents ``aws:SourceArn``): only for that account's ECS resources in the
    region of ``arn_in_account``."""
    parts = pulumi.Output.from_input(arn_in_account).apply(lambda text: text.split(":"))
    account = parts.apply(lambda p: p[4])
    source_arn = None
    if tasks_only:
        source_arn = parts.apply(lambda p: f"arn:{p[1]}:ecs:{p[3]}:{p[4]}:*")
    return trust_policy(service, source_account=account, source_arn=source_arn)


def dataset_environment(
    *,
    pipeline: str,
    task: str,
    locations: Sequence[DatasetLocation] = (),
    scratch_bucket: pulumi.Input[str] | None = None,
    extra: Mapping[str, pulumi.Input[str]] | None = None,
) -> dict[str, pulumi.Input[str]]:
    """The environment variables that tell the generated handler where datasets live.

    ``GLACIER_TASK`` names the task, ``GLACIER_SCRATCH_BUCKET`` the scratch bucket,
    ``GLACIER_BUCKETS`` maps each stored dataset to its bucket name (JSON).
    """
    variables: dict[str, pulumi.Input[str]] = {"GLACIER_PIPELINE": pipeline, "GLACIER_TASK": task}
    if scratch_bucket is not None:
        variables["GLACIER_SCRATCH_BUCKET"] = scratch_bucket
    buckets = {loc.dataset: loc.bucket for loc in locations if not loc.ephemeral}
    if buckets:
        variables["GLACIER_BUCKETS"] = pulumi.Output.json_dumps(dict(sorted(buckets.items())))
    variables.update(extra or {})
    return variables


class LambdaTask(pulumi.ComponentResource):
    """A task on AWS Lambda: log group, least-privilege role, function (X-Ray tracing on).

    ``code`` is the bundle: a ``LambdaBundle`` (uploaded directly or through S3, by size), a
    ``pulumi.Archive`` or a directory path; ``handler`` the generated handler. ``memory_mb`` /
    ``timeout_s`` / ``tmp_mb`` (the size of ``/tmp``; ``None``: Lambda's 512 MB) come from
    ``Serverless(...)``.
    ``environment`` adds variables to those of ``dataset_environment``.
    """

    function: aws.lambda_.Function
    role: TaskRole
    log_group: aws.cloudwatch.LogGroup
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        pipeline: str,
        task: str,
        code: LambdaBundle | pulumi.Archive | str,
        handler: str = "glacier_handler.handler",
        reads: Sequence[DatasetLocation] = (),
        writes: Sequence[DatasetLocation] = (),
        scratch_bucket: pulumi.Input[str] | None = None,
        memory_mb: int = 512,
        timeout_s: int = 300,
        tmp_mb: int | None = None,
        runtime: str = "python3.12",
        architecture: str = "x86_64",
        log_retention_days: int = LOG_RETENTION_DAYS,
        environment: Mapping[str, pulumi.Input[str]] | None = None,
        databases: Sequence[DatabaseAccess] = (),
        network: TaskNetwork | None = None,
        extra_statements: Sequence[dict[str, Any]] = (),
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if runtime not in LAMBDA_RUNTIMES:
            raise ValueError(f"runtime {runtime!r} is not one of {LAMBDA_RUNTIMES}")
        error = validate.serverless(memory_mb, timeout_s, tmp_mb)
        if error is not None:
            raise error
        super().__init__("glacier:aws:LambdaTask", _check_name(name), None, opts)
        self.deployment_tags = deployment_tags(pipeline)
        tags = {**(tags or {}), **self.deployment_tags}
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = log_group(
            f"{name}-logs", retention_days=log_retention_days, tags=tags, opts=child
        )
        self.role = TaskRole(
            name,
            reads=reads,
            writes=writes,
            log_group_arn=self.log_group.arn,
            scratch_bucket=scratch_bucket,
            service="lambda.amazonaws.com",
            extra_statements=[
                *database_statements(databases),
                *(vpc_access_statements(self.log_group.arn) if network is not None else []),
                *extra_statements,
            ],
            tags=tags,
            opts=child,
        )
        if isinstance(code, str):
            code_args: dict[str, Any] = {"code": pulumi.FileArchive(code)}
        elif isinstance(code, pulumi.Archive):
            code_args = {"code": code}
        else:
            code_args = code.function_code()
        variables = dataset_environment(
            pipeline=pipeline,
            task=task,
            locations=[*reads, *writes],
            scratch_bucket=scratch_bucket,
            extra={**database_environment(databases), **(environment or {})},
        )
        vpc: dict[str, Any] = {}
        if network is not None:
            vpc["vpc_config"] = {
                "subnet_ids": network.subnets,
                "security_group_ids": [network.security_group_id],
            }
        self.function = aws.lambda_.Function(
            f"{name}-function",
            role=self.role.arn,
            runtime=runtime,
            handler=handler,
            **code_args,
            memory_size=memory_mb,
            timeout=timeout_s,
            ephemeral_storage={"size": tmp_mb} if tmp_mb is not None else None,
            architectures=[architecture],
            tracing_config={"mode": "Active"},
            logging_config={"log_format": "Text", "log_group": self.log_group.name},
            environment={"variables": variables},
            **vpc,
            description=f"glacier pipeline {pipeline}: task {task}"[:256],
            tags=_tags(tags),
            # The role's policy must exist before the first invocation can use it.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.role.policy]),
        )
        self.arn = self.function.arn
        self.register_outputs({"arn": self.arn})


def ecs_cluster(
    name: str,
    *,
    tags: Mapping[str, str] | None = None,
    opts: pulumi.ResourceOptions | None = None,
) -> aws.ecs.Cluster:
    """The pipeline's one ECS cluster for Fargate tasks, with Container Insights."""
    return aws.ecs.Cluster(
        name,
        settings=[{"name": "containerInsights", "value": "enabled"}],
        tags=_tags(tags),
        opts=opts,
    )


class FargateTask(pulumi.ComponentResource):
    """A task on ECS Fargate: log group, task role, execution role, task definition.

    The container runs ``image`` with ``command`` (default: the bundle's entry point,
    ``python -m glacier_handler TASK``), so the image must contain the bundle
    (``ContainerImage`` builds one); its root filesystem is read-only, ``/tmp`` a writable
    task volume. The cluster is shared (``ecs_cluster``) and chosen at run time.
    ``databases`` as for ``LambdaTask``; the network (subnets, security groups) is chosen at
    run time too, by the state machine.

    The execution role may pull from exactly one private ECR repository: ``repository_arn``,
    or the one a literal ECR ``image`` URI names; other registries' public images need no
    ECR permission and get none.
    """

    task_definition: aws.ecs.TaskDefinition
    role: TaskRole
    execution_role: aws.iam.Role
    log_group: aws.cloudwatch.LogGroup
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        pipeline: str,
        task: str,
        image: pulumi.Input[str],
        repository_arn: pulumi.Input[str] | None = None,
        command: Sequence[str] | None = None,
        cpu: int = 256,
        memory_mb: int = 512,
        reads: Sequence[DatasetLocation] = (),
        writes: Sequence[DatasetLocation] = (),
        scratch_bucket: pulumi.Input[str] | None = None,
        architecture: str = "X86_64",
        log_retention_days: int = LOG_RETENTION_DAYS,
        user: str | None = CONTAINER_USER,
        environment: Mapping[str, pulumi.Input[str]] | None = None,
        databases: Sequence[DatabaseAccess] = (),
        extra_statements: Sequence[dict[str, Any]] = (),
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        error = validate.container(cpu, memory_mb)
        if error is not None:
            raise error
        super().__init__("glacier:aws:FargateTask", _check_name(name), None, opts)
        self.deployment_tags = deployment_tags(pipeline)
        tags = {**(tags or {}), **self.deployment_tags}
        child = pulumi.ResourceOptions(parent=self)
        self.log_group = log_group(
            f"{name}-logs", retention_days=log_retention_days, tags=tags, opts=child
        )
        self.role = TaskRole(
            name,
            reads=reads,
            writes=writes,
            log_group_arn=self.log_group.arn,
            scratch_bucket=scratch_bucket,
            service="ecs-tasks.amazonaws.com",
            tracing=False,
            writes_logs=False,
            extra_statements=[*database_statements(databases), *extra_statements],
            tags=tags,
            opts=child,
        )
        # The execution role is ECS's own: pull the image, write the container's logs.
        self.execution_role, execution_policy = _role_with_policy(
            f"{name}-execution",
            assume_role_policy=service_trust_policy("ecs-tasks.amazonaws.com", self.log_group.arn),
            description=f"ECS agent for glacier task {name}: image pull and its log group",
            statements=[
                *log_statements(self.log_group.arn),
                *image_pull_statements(image, repository_arn),
            ],
            tags=tags,
            opts=child,
        )
        variables = dataset_environment(
            pipeline=pipeline,
            task=task,
            locations=[*reads, *writes],
            scratch_bucket=scratch_bucket,
            extra={**database_environment(databases), **(environment or {})},
        )
        # The log group's own region (arn:aws:logs:<region>:...), without an extra invoke.
        region = self.log_group.arn.apply(lambda arn: arn.split(":")[3])
        container = {
            "name": CONTAINER_NAME,
            "image": image,
            "essential": True,
            "command": list(command or ["python", "-m", "glacier_handler", task]),
            "environment": [{"name": k, "value": v} for k, v in sorted(variables.items())],
            "readonlyRootFilesystem": True,
            "privileged": False,
            # a non-root user (Security Hub ECS.20); `user=None` runs as the image's own user
            **({"user": user} if user is not None else {}),
            "mountPoints": [{"sourceVolume": "tmp", "containerPath": "/tmp"}],
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {
                    "awslogs-group": self.log_group.name,
                    "awslogs-region": region,
                    "awslogs-stream-prefix": name,
                },
            },
        }
        self.task_definition = aws.ecs.TaskDefinition(
            f"{name}-task",
            family=name,  # a checked component name: valid as a task definition family
            requires_compatibilities=["FARGATE"],
            network_mode="awsvpc",
            cpu=str(cpu),
            memory=str(memory_mb),
            runtime_platform={
                "operating_system_family": "LINUX",
                "cpu_architecture": architecture,
            },
            task_role_arn=self.role.arn,
            execution_role_arn=self.execution_role.arn,
            volumes=[{"name": "tmp"}],
            container_definitions=pulumi.Output.json_dumps([container]),
            tags=_tags(tags),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[self.role.policy, execution_policy]
            ),
        )
        self.arn = self.task_definition.arn
        self.register_outputs({"arn": self.arn})


class ScratchBucket(pulumi.ComponentResource):
    """The pipeline's bucket for ephemeral datasets, keyed ``<execution>/<dataset>.<ext>``.

    Same secure defaults as ``Environment.s3`` (public access blocked, encryption,
    versioning, ACLs disabled, TLS-only policy) plus a lifecycle rule expiring objects
    after ``expire_days`` (and old versions a day later, and abandoned uploads).
    ``access_logs`` is the bucket its S3 server access logs go to (S3.9), if any.
    """

    bucket: aws.s3.Bucket
    resources: dict[str, pulumi.Resource]
    name: pulumi.Output[str]
    arn: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        expire_days: int = 7,
        bucket_name: str | None = None,
        force_destroy: bool = True,
        tags: Mapping[str, str] | None = None,
        access_logs: aws.s3.Bucket | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if expire_days <= 0:
            raise ValueError("expire_days must be positive")
        super().__init__("glacier:aws:ScratchBucket", _check_name(name), None, opts)
        args: dict[str, Any] = {"force_destroy": force_destroy}
        if bucket_name is not None:
            args["bucket"] = bucket_name
        else:  # globally unique: AWS adds a random suffix to the prefix
            args["bucket_prefix"] = bucket_prefix(name)
        self.resources = secure_bucket(
            name, tags=_tags(tags), parent=self, access_logs=access_logs, **args
        )
        self.bucket = self.resources["bucket"]  # type: ignore[assignment]
        rule: Any = expiry_rule("expire-ephemeral-datasets", days=expire_days, uploads_days=1)
        lifecycle = aws.s3.BucketLifecycleConfiguration(
            f"{name}-lifecycle",
            bucket=self.bucket.id,
            rules=[rule],
            opts=pulumi.ResourceOptions(
                parent=self.bucket, depends_on=[self.resources["versioning"]]
            ),
        )
        self.resources["lifecycle"] = lifecycle
        self.name = self.bucket.bucket
        self.arn = self.bucket.arn
        self.register_outputs({"name": self.name, "arn": self.arn})
