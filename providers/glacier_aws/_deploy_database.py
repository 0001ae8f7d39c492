"""Database access for deployed tasks: the network they run in and the secret they read.

No password reaches an environment variable, the program or its state in plain text: a task
gets the ARN of a Secrets Manager secret and ``secretsmanager:GetSecretValue`` on exactly that
secret, and the generated handler reads it once per process.

- ``TaskNetwork``: the pipeline's one security group for tasks that touch a database (egress
  only) and the subnets they run in. Lambda functions get it as ``vpc_config``; Fargate tasks
  in the state machine's ``AwsvpcConfiguration``.
- ``RdsAccess``: an ``Environment.rds`` instance. Its security group admits the tasks' group on
  the instance's port; tasks read the instance's managed master-user secret
  (``GLACIER_DATABASE_SECRET_ARN``, JSON ``username``/``password``) and connect to
  ``GLACIER_DATABASE_HOST``:``GLACIER_DATABASE_PORT``/``GLACIER_DATABASE_NAME``.
- ``DatabaseUrlSecret``: a ``Database(...)`` table. The stack secret ``glacier:databaseUrl`` is
  stored in a Secrets Manager secret whose ARN tasks get as ``GLACIER_DATABASE_URL_SECRET_ARN``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol

import pulumi
import pulumi_aws as aws

from glacier.storage.kinds import RDS_SECRET_ACCESS, URL_SECRET_ACCESS

__all__ = [
    "DatabaseAccess",
    "DatabaseUrlSecret",
    "RdsAccess",
    "TaskNetwork",
    "database_environment",
    "database_statements",
    "secret_statement",
    "subnet_vpc",
    "vpc_access_statements",
]


class DatabaseAccess(Protocol):
    """What a task needs to reach one database: its variables and its IAM statements."""

    @property
    def environment(self) -> Mapping[str, pulumi.Input[str]]: ...

    @property
    def statements(self) -> Sequence[dict[str, Any]]: ...


def _tags(tags: Mapping[str, str] | None) -> dict[str, str]:
    return {"managed-by": "glacier", **(tags or {})}


def _checked(name: str) -> str:
    from glacier_aws._deploy_tasks import _check_name  # it imports this module

    return _check_name(name)


def subnet_vpc(subnet: pulumi.Input[str], opts: pulumi.InvokeOutputOptions) -> pulumi.Output[str]:
    """The id of the VPC that ``subnet`` belongs to (``aws.ec2.get_subnet_output``)."""
    return aws.ec2.get_subnet_output(id=subnet, opts=opts).vpc_id


def secret_statement(sid: str, secret_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Read exactly one secret's value (its ARN, never a wildcard)."""
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": sorted({*RDS_SECRET_ACCESS.read, *URL_SECRET_ACCESS.read}),
        "Resource": [secret_arn],
    }


def vpc_access_statements(arn_in_region: pulumi.Input[str]) -> list[dict[str, Any]]:
    """What Lambda needs to attach a function to a VPC (AWSLambdaVPCAccessExecutionRole's EC2
    actions), scoped as far as AWS allows.

    ``arn_in_region`` is any ARN of the function's account and region (its log group's): the
    network-interface actions are limited to the network interfaces (and, to create one, the
    subnets and security groups) of that account and region; the two ``Describe`` actions have
    no resource-level permissions, so they need ``*``. Neither touches data.
    """
    scope = pulumi.Output.from_input(arn_in_region).apply(_ec2_scope)
    return [
        {
            "Sid": "VpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": [pulumi.Output.concat(scope, "network-interface/*")],
        },
        {
            # creating an interface also names the subnet and security groups it is put in
            "Sid": "VpcCreateNetworkInterface",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [
                pulumi.Output.concat(scope, kind, "/*")
                for kind in ("network-interface", "subnet", "security-group")
            ],
        },
        {
            "Sid": "VpcDescribe",
            "Effect": "Allow",
            "Action": ["ec2:DescribeNetworkInterfaces", "ec2:DescribeSubnets"],
            "Resource": "*",
        },
    ]


def _ec2_scope(arn: str) -> str:
    """``arn:aws:logs:eu-west-1:111122223333:...`` -> ``arn:aws:ec2:eu-west-1:111122223333:``."""
    _, partition, _, region, account = arn.split(":")[:5]
    return f"arn:{partition}:ec2:{region}:{account}:"


def database_environment(
    databases: Sequence[DatabaseAccess],
) -> dict[str, pulumi.Input[str]]:
    """The variables of every database a task touches; two that disagree are an error."""
    variables: dict[str, pulumi.Input[str]] = {}
    for database in databases:
        for key, value in database.environment.items():
            if key in variables and variables[key] is not value:
                raise ValueError(
                    f"a task can reach one database of each kind: two set {key} "
                    "(keep the task's tables in one RDS instance or one `Database` URL)"
                )
            variables[key] = value
    return variables


def database_statements(databases: Sequence[DatabaseAccess]) -> list[dict[str, Any]]:
    """The IAM statements of every database a task touches, each once."""
    seen: set[int] = set()
    statements: list[dict[str, Any]] = []
    for database in databases:
        if id(database) not in seen:
            seen.add(id(database))
            statements.extend(database.statements)
    return statements


DATABASE_TASKS = "tasks that touch a database"


class TaskNetwork(pulumi.ComponentResource):
    """Where tasks run in the VPC: ``subnets`` and one egress-only security group.

    A program has one for the tasks that touch a database (``purpose``'s default) and, if it
    has Fargate tasks that touch none, one for those: a Fargate task always runs with a group
    of its own, never the VPC's default one (Security Hub EC2.2 wants that one closed), and a
    database admits only the first.

    ``subnets`` are subnet ids (the stack's ``glacier:subnets``: private subnets with a NAT
    gateway, or VPC endpoints for S3 and Secrets Manager). The security group is in the VPC of
    the first subnet, or ``vpc_id``. It admits nothing; its one rule lets the tasks out (to
    S3, Secrets Manager and the database). Databases admit it: ``RdsAccess`` adds that rule
    for ``Environment.rds``; for other databases, admit ``security_group.id`` yourself.
    """

    security_group: aws.ec2.SecurityGroup
    egress: aws.vpc.SecurityGroupEgressRule
    subnets: list[pulumi.Input[str]]
    vpc_id: pulumi.Output[str]
    security_group_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        *,
        subnets: Sequence[pulumi.Input[str]],
        vpc_id: pulumi.Input[str] | None = None,
        purpose: str = DATABASE_TASKS,
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        if isinstance(subnets, str) or not subnets:
            raise ValueError(
                f"{purpose} need subnets: "
                "`pulumi config set --path 'glacier:subnets[0]' subnet-...`"
            )
        super().__init__("glacier:aws:TaskNetwork", _checked(name), None, opts)
        self.subnets = list(subnets)
        self.vpc_id = (
            pulumi.Output.from_input(vpc_id)
            if vpc_id is not None
            else subnet_vpc(self.subnets[0], pulumi.InvokeOutputOptions(parent=self))
        )
        self.security_group = aws.ec2.SecurityGroup(
            f"{name}-tasks",
            vpc_id=self.vpc_id,
            description=f"glacier {name}: {purpose}, egress only",
            tags=_tags(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.security_group_id = self.security_group.id
        self.egress = aws.vpc.SecurityGroupEgressRule(
            f"{name}-tasks-egress",
            security_group_id=self.security_group.id,
            ip_protocol="-1",
            cidr_ipv4="0.0.0.0/0",
            description=(
                "tasks reach S3, Secrets Manager and their database"
                if purpose == DATABASE_TASKS
                else f"{purpose} reach ECR, S3 and CloudWatch Logs"
            ),
            tags=_tags(tags),
            opts=pulumi.ResourceOptions(parent=self.security_group),
        )
        self.register_outputs({"security_group_id": self.security_group_id})


def _first_secret_arn(secrets: Any) -> str:
    if not secrets:
        raise ValueError(
            "the RDS instance has no managed master-user secret: keep "
            "`manage_master_user_password=True` (Environment.rds's default)"
        )
    first = secrets[0]
    arn = first.get("secret_arn") if isinstance(first, dict) else first.secret_arn
    return str(arn)


class RdsAccess(pulumi.ComponentResource):
    """Tasks' access to an RDS instance whose master password RDS manages in Secrets Manager.

    ``instance`` is the ``aws.rds.Instance`` (``Environment.rds(...).resource``),
    ``security_group`` the instance's group (``.resources["security_group"]``, or its id) and
    ``tasks_security_group`` the tasks' (``TaskNetwork.security_group``). Creates one ingress
    rule admitting exactly the tasks' group on the instance's port. ``environment`` and
    ``statements`` are what each task that touches the instance gets: the secret's ARN, host,
    port, database name, and ``secretsmanager:GetSecretValue`` on exactly that secret.
    """

    ingress: aws.vpc.SecurityGroupIngressRule
    secret_arn: pulumi.Output[str]
    environment: dict[str, pulumi.Input[str]]
    statements: list[dict[str, Any]]

    def __init__(
        self,
        name: str,
        *,
        instance: aws.rds.Instance,
        security_group: aws.ec2.SecurityGroup | pulumi.Input[str],
        tasks_security_group: aws.ec2.SecurityGroup | pulumi.Input[str],
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("glacier:aws:RdsAccess", _checked(name), None, opts)
        self.ingress = aws.vpc.SecurityGroupIngressRule(
            f"{name}-ingress",
            security_group_id=_group_id(security_group),
            referenced_security_group_id=_group_id(tasks_security_group),
            ip_protocol="tcp",
            from_port=instance.port,
            to_port=instance.port,
            description="glacier pipeline tasks",
            tags=_tags(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.secret_arn = instance.master_user_secrets.apply(_first_secret_arn)
        self.environment = {
            "GLACIER_DATABASE_SECRET_ARN": self.secret_arn,
            "GLACIER_DATABASE_HOST": instance.address,
            "GLACIER_DATABASE_PORT": instance.port.apply(str),
            "GLACIER_DATABASE_NAME": instance.db_name.apply(lambda db: db or "postgres"),
        }
        self.statements = [secret_statement("ReadRdsSecret", self.secret_arn)]
        self.register_outputs({"secret_arn": self.secret_arn})


def _group_id(group: aws.ec2.SecurityGroup | pulumi.Input[str]) -> pulumi.Input[str]:
    return group.id if isinstance(group, aws.ec2.SecurityGroup) else group


class DatabaseUrlSecret(pulumi.ComponentResource):
    """A database URL kept in Secrets Manager: ``aws.secretsmanager.Secret`` + ``SecretVersion``.

    ``url`` is a Pulumi secret (``pulumi.Config("glacier").require_secret("databaseUrl")``); it
    stays one in the state. Tasks get ``GLACIER_DATABASE_URL_SECRET_ARN`` and
    ``secretsmanager:GetSecretValue`` on exactly this secret.
    """

    secret: aws.secretsmanager.Secret
    version: aws.secretsmanager.SecretVersion
    arn: pulumi.Output[str]
    environment: dict[str, pulumi.Input[str]]
    statements: list[dict[str, Any]]

    def __init__(
        self,
        name: str,
        *,
        url: pulumi.Input[str],
        tags: Mapping[str, str] | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__("glacier:aws:DatabaseUrlSecret", _checked(name), None, opts)
        self.secret = aws.secretsmanager.Secret(
            f"{name}-secret",
            description=f"glacier {name}: the URL of the database its tasks' tables live in",
            tags=_tags(tags),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.version = aws.secretsmanager.SecretVersion(
            f"{name}-version",
            secret_id=self.secret.id,
            secret_string=pulumi.Output.secret(url),
            opts=pulumi.ResourceOptions(parent=self.secret),
        )
        self.arn = self.secret.arn
        self.environment = {"GLACIER_DATABASE_URL_SECRET_ARN": self.arn}
        self.statements = [secret_statement("ReadDatabaseUrlSecret", self.arn)]
        self.register_outputs({"arn": self.arn})
