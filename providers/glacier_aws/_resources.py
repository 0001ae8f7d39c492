"""The pulumi_aws resources behind ``Environment``; imported only inside a Pulumi program.

Every default here has a reason written next to it and an entry in ``docs/deploy-aws.md``.
The user's overrides are applied last, so they win over every default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pulumi
import pulumi_aws as aws

from glacier_aws.grants import bucket_prefix, partition

if TYPE_CHECKING:
    from glacier_aws._environment import Environment

__all__ = [
    "LOG_RETENTION_DAYS",
    "access_log_bucket",
    "create_bucket",
    "create_database",
    "create_provider",
    "data_bucket",
    "data_lifecycle_rules",
    "existing_bucket",
    "expiry_rule",
    "secure_bucket",
    "tls_only_statement",
]

# Keys of ``Environment.s3(**overrides)`` that configure companion resources, not the Bucket.
COMPANION_KEYS = frozenset(
    {
        "public_access_block",
        "encryption",
        "versioning",
        "ownership",
        "policy",
        "policy_statements",
        "lifecycle",
        "access_logs",
    }
)

LOG_RETENTION_DAYS = 365
"""Default retention of every log group Glacier makes (and of S3 server access logs): the
minimum Security Hub's CloudWatch.16 expects by default. Each component takes
``log_retention_days`` to override it."""

LOG_DELIVERY_SERVICE = "logging.s3.amazonaws.com"
"""The service principal that writes S3 server access logs into the target bucket."""

NONCURRENT_VERSION_DAYS = 90
"""Days a data bucket keeps an object's superseded versions (the time to notice and undo an
overwrite or a delete) before its lifecycle rule removes them."""


def data_lifecycle_rules(noncurrent_days: int = NONCURRENT_VERSION_DAYS) -> list[dict[str, Any]]:
    """The lifecycle rule of a data bucket: never touches current objects (their lifetime is
    the user's), removes superseded versions after ``noncurrent_days``, delete markers left
    with no version behind them, and abandoned multipart uploads (S3.13; storage does not
    grow forever on a versioned bucket)."""
    return [
        {
            "id": "glacier-noncurrent-versions",
            "status": "Enabled",
            "filter": {"prefix": ""},
            "noncurrent_version_expiration": {"noncurrent_days": noncurrent_days},
            "expiration": {"expired_object_delete_marker": True},
            "abort_incomplete_multipart_upload": {"days_after_initiation": 7},
        }
    ]


def expiry_rule(rule_id: str, *, days: int, uploads_days: int) -> dict[str, Any]:
    """A lifecycle rule expiring every object of the bucket ``days`` after it was written,
    its superseded versions a day after, and uploads abandoned for ``uploads_days``."""
    return {
        "id": rule_id,
        "status": "Enabled",
        "filter": {"prefix": ""},
        "expiration": {"days": days},
        "noncurrent_version_expiration": {"noncurrent_days": 1},
        "abort_incomplete_multipart_upload": {"days_after_initiation": uploads_days},
    }


def create_provider(env: Environment) -> aws.Provider:
    """One provider per environment: pinned to its account and region, tagging by default."""
    return aws.Provider(
        f"aws-{env.name}",
        region=env.region,
        # Refuses to touch any other account, whatever credentials the deployer holds.
        allowed_account_ids=[env.account],
        default_tags={"tags": env.default_tags},
    )


def access_log_bucket(env: Environment) -> dict[str, pulumi.Resource]:
    """The environment's bucket for S3 server access logs (S3.9), keyed like ``secure_bucket``.

    Same secure defaults as a data bucket, kept on delete (logs are audit records), with an
    autonamed bucket (``<env>-access-logs-`` plus AWS's suffix). Its policy lets S3's log
    delivery write objects, only on behalf of buckets of the environment's account; logs
    expire after ``LOG_RETENTION_DAYS``. It does not log its own accesses (a bucket logging
    into itself logs its own log writes, endlessly).
    """
    name = f"{env.name}-access-logs"
    return secure_bucket(
        name,
        tags=env.default_tags,
        provider=env.provider,
        keep=True,
        own_statements=lambda arn: [_log_delivery_statement(env, arn)],
        lifecycle_rules=[
            expiry_rule("glacier-expire-access-logs", days=LOG_RETENTION_DAYS, uploads_days=7)
        ],
        bucket_prefix=bucket_prefix(name),
    )


def _log_delivery_statement(env: Environment, bucket_arn: pulumi.Output[str]) -> dict[str, Any]:
    """S3's log delivery may put objects, for this account's buckets only (AWS's documented
    grant for a bucket whose ACLs are disabled, with its confused-deputy conditions)."""
    return {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": LOG_DELIVERY_SERVICE},
        "Action": "s3:PutObject",
        "Resource": pulumi.Output.concat(bucket_arn, "/*"),
        "Condition": {
            "StringEquals": {"aws:SourceAccount": env.account},
            "ArnLike": {"aws:SourceArn": f"arn:{partition(env.region)}:s3:::*"},
        },
    }


def _options(provider: aws.Provider, extra: Any = None, **kwargs: Any) -> pulumi.ResourceOptions:
    base = pulumi.ResourceOptions(provider=provider, **kwargs)
    return pulumi.ResourceOptions.merge(base, extra) if extra is not None else base


def tls_only_statement(bucket_arn: pulumi.Input[str]) -> dict[str, Any]:
    """Deny every request on the bucket and its objects that does not use TLS (S3.5)."""
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [bucket_arn, pulumi.Output.concat(bucket_arn, "/*")],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }


def create_bucket(
    env: Environment, bucket: str, tags: dict[str, str], overrides: dict[str, Any]
) -> dict[str, pulumi.Resource]:
    """``Environment.s3``: an ``aws.s3.Bucket`` and its secure-default companions."""
    return data_bucket(
        bucket,
        tags=tags,
        provider=env.provider,
        overrides=overrides,
        # an ``access_logs`` override replaces the log bucket: none is made for it
        access_logs=None if "access_logs" in overrides else env.access_logs,
    )


def data_bucket(
    bucket: str,
    *,
    tags: dict[str, str],
    provider: aws.Provider | None = None,
    overrides: dict[str, Any] | None = None,
    access_logs: aws.s3.Bucket | None = None,
) -> dict[str, pulumi.Resource]:
    """A bucket that holds the user's data (``Environment.s3``, ``ObjectStorage``).

    ``secure_bucket`` named ``bucket``, kept: ``pulumi destroy`` must never delete data, so
    the bucket is protected, and it and its companions are retained on delete (a retained
    bucket keeps its public access block, encryption and TLS-only policy). An ``opts``
    override wins (``protect=False`` for a throwaway environment).
    """
    return secure_bucket(
        bucket,
        bucket=bucket,
        tags=tags,
        provider=provider,
        overrides=overrides,
        keep=True,
        lifecycle_rules=data_lifecycle_rules(),
        access_logs=access_logs,
    )


def existing_bucket(
    bucket: str, *, provider: aws.Provider | None = None
) -> pulumi.Output[aws.s3.GetBucketResult]:
    """A bucket another system owns (``existing=True``), looked up and never created.

    The lookup runs at preview as well as at deploy time, so a missing bucket (or one the
    deployer cannot see) fails the preview instead of the first task run.
    """
    return aws.s3.get_bucket_output(
        bucket=bucket, opts=pulumi.InvokeOutputOptions(provider=provider)
    )


def secure_bucket(
    resource_name: str,
    *,
    tags: dict[str, str],
    provider: aws.Provider | None = None,
    overrides: dict[str, Any] | None = None,
    parent: pulumi.Resource | None = None,
    keep: bool = False,
    lifecycle_rules: list[dict[str, Any]] | None = None,
    access_logs: aws.s3.Bucket | None = None,
    own_statements: Callable[[pulumi.Output[str]], list[dict[str, Any]]] | None = None,
    **bucket_args: Any,
) -> dict[str, pulumi.Resource]:
    """A bucket with the secure defaults, its companions parented to it, keyed by role.

    Shared by ``Environment.s3``, ``ObjectStorage`` buckets and the deployment's scratch
    bucket. ``overrides`` is the user's ``**overrides`` of ``Environment.s3`` (see its
    docstring). ``keep`` protects the bucket and retains it and its companions on delete.
    ``lifecycle_rules`` are the default rules of a lifecycle configuration (none by default);
    the ``lifecycle`` override replaces them (a list of rules) or omits it (``None``).
    ``access_logs`` is the bucket S3 server access logs go to (S3.9), under the prefix
    ``<resource_name>/``; the ``access_logs`` override replaces it (a dict of
    ``target_bucket`` and ``target_prefix``) or omits it (``None``). ``own_statements`` adds
    statements to the default bucket policy, given the bucket's ARN.
    """
    overrides = dict(overrides or {})
    companions = {key: overrides.pop(key) for key in COMPANION_KEYS if key in overrides}
    extra_opts = overrides.pop("opts", None)
    overrides.pop("tags", None)  # already merged into ``tags`` by the caller
    args: dict[str, Any] = {**bucket_args, "tags": tags, **overrides}
    kept: dict[str, Any] = {"protect": True, "retain_on_delete": True} if keep else {}
    opts = (
        _options(provider, extra_opts, parent=parent, **kept)
        if provider
        else pulumi.ResourceOptions.merge(pulumi.ResourceOptions(parent=parent, **kept), extra_opts)
    )
    main = aws.s3.Bucket(resource_name, opts=opts, **args)
    child = pulumi.ResourceOptions(
        parent=main, provider=provider, retain_on_delete=True if keep else None
    )
    created: dict[str, pulumi.Resource] = {"bucket": main}

    block = _merged(
        {
            "block_public_acls": True,
            "block_public_policy": True,
            "ignore_public_acls": True,
            "restrict_public_buckets": True,
        },
        companions.get("public_access_block", {}),
    )
    if block is not None:
        created["public_access_block"] = aws.s3.BucketPublicAccessBlock(
            f"{resource_name}-public-access-block", bucket=main.id, opts=child, **block
        )

    # SSE-S3 (AES256), not SSE-KMS: same at-rest protection without per-request KMS cost or
    # key policies every task role would need kms:Decrypt on; pass
    # encryption={"sse_algorithm": "aws:kms", "kms_master_key_id": ...} to use KMS.
    encryption = _merged({"sse_algorithm": "AES256"}, companions.get("encryption", {}))
    if encryption is not None:
        bucket_key = encryption.pop("bucket_key_enabled", None)
        rule: Any = {"apply_server_side_encryption_by_default": encryption}
        if bucket_key is not None:
            rule["bucket_key_enabled"] = bucket_key
        created["encryption"] = aws.s3.BucketServerSideEncryptionConfiguration(
            f"{resource_name}-encryption", bucket=main.id, rules=[rule], opts=child
        )

    status = companions.get("versioning", "Enabled")
    if status is not None:
        configuration: Any = status if isinstance(status, dict) else {"status": status}
        created["versioning"] = aws.s3.BucketVersioning(
            f"{resource_name}-versioning",
            bucket=main.id,
            versioning_configuration=configuration,
            opts=child,
        )

    ownership = companions.get("ownership", "BucketOwnerEnforced")
    if ownership is not None:
        # BucketOwnerEnforced disables ACLs: access is decided by policies alone (S3.12).
        created["ownership"] = aws.s3.BucketOwnershipControls(
            f"{resource_name}-ownership",
            bucket=main.id,
            rule={"object_ownership": ownership},
            opts=child,
        )

    rules = companions.get("lifecycle", lifecycle_rules)
    if rules is not None:
        if not isinstance(rules, list):
            raise TypeError(f"expected a list of lifecycle rules or None, got {rules!r}")
        # After versioning: a noncurrent-version rule needs the bucket's versioning in place.
        after_versioning = [created["versioning"]] if "versioning" in created else []
        created["lifecycle"] = aws.s3.BucketLifecycleConfiguration(
            f"{resource_name}-lifecycle",
            bucket=main.id,
            rules=rules,
            opts=pulumi.ResourceOptions.merge(
                child, pulumi.ResourceOptions(depends_on=after_versioning)
            ),
        )

    logging = companions.get("access_logs", _DEFAULT)
    if logging is _DEFAULT:
        logging = (
            None
            if access_logs is None
            else {"target_bucket": access_logs.id, "target_prefix": f"{resource_name}/"}
        )
    if logging is not None:
        if not isinstance(logging, dict):
            raise TypeError(
                "expected access_logs to be a dict of target_bucket and target_prefix, or "
                f"None, got {logging!r}"
            )
        created["access_logs"] = aws.s3.BucketLogging(
            f"{resource_name}-access-logging", bucket=main.id, opts=child, **logging
        )

    policy = companions.get("policy", _DEFAULT)
    if policy is not None:
        if policy is _DEFAULT:
            statements = [
                tls_only_statement(main.arn),
                *(own_statements(main.arn) if own_statements else []),
                *companions.get("policy_statements", []),
            ]
            policy = {"Version": "2012-10-17", "Statement": statements}
        document = policy if isinstance(policy, str) else pulumi.Output.json_dumps(policy)
        # After the public access block: S3 rejects concurrent bucket configuration calls.
        after = [created["public_access_block"]] if "public_access_block" in created else []
        created["policy"] = aws.s3.BucketPolicy(
            f"{resource_name}-policy",
            bucket=main.id,
            policy=document,
            opts=pulumi.ResourceOptions.merge(child, pulumi.ResourceOptions(depends_on=after)),
        )
    return created


_DEFAULT: Any = object()


def _merged(defaults: dict[str, Any], override: Any) -> dict[str, Any] | None:
    if override is None:
        return None
    if not isinstance(override, dict):
        raise TypeError(f"expected a dict of arguments or None, got {override!r}")
    return {**defaults, **override}


def create_database(
    env: Environment, name: str, tags: dict[str, str], overrides: dict[str, Any]
) -> dict[str, pulumi.Resource]:
    """``Environment.rds``: an encrypted, private, backed-up PostgreSQL instance, in the
    stack's subnets (``glacier:subnets``) with a security group of its own, keyed by role:
    ``instance``, ``subnet_group``, ``security_group``, and the defaults' ``parameter_group``
    (query logging), ``monitoring_role`` (Enhanced Monitoring, RDS.6) and one
    ``<export>_log_group`` per exported log (retained ``log_retention_days``, CloudWatch.16).

    The security group admits nothing by itself; the deployment adds one rule admitting the
    pipeline's task security group (``glacier_aws.deploy.RdsAccess``). The VPC is the first
    subnet's.
    """
    from glacier_aws._deploy_database import subnet_vpc

    overrides = dict(overrides)
    extra_opts = overrides.pop("opts", None)
    overrides.pop("tags", None)  # already merged into ``tags`` by the caller
    # The user's security groups are kept, Glacier's (the tasks' way in) added to them.
    extra_groups = overrides.pop("vpc_security_group_ids", None) or []
    log_retention_days = overrides.pop("log_retention_days", LOG_RETENTION_DAYS)
    subnets = _subnets(name)
    opts = _options(env.provider, extra_opts)
    subnet_group = aws.rds.SubnetGroup(
        f"{name}-subnets",
        name=f"{name.lower()}-subnets",
        subnet_ids=subnets,
        description=f"glacier: subnets of RDS instance {name}",
        tags=tags,
        opts=opts,
    )
    security_group = aws.ec2.SecurityGroup(
        f"{name}-db",
        vpc_id=subnet_vpc(subnets[0], pulumi.InvokeOutputOptions(provider=env.provider)),
        description=f"glacier: RDS instance {name}, admits only the pipeline tasks",
        tags=tags,
        opts=opts,
    )
    production = not env.is_dev
    args: dict[str, Any] = {
        "identifier": name.lower(),
        "engine": "postgres",
        "engine_version": "16",
        "instance_class": "db.t4g.micro",
        "allocated_storage": 20,
        "max_allocated_storage": 100,
        "storage_type": "gp3",
        "db_name": name.replace("-", "_"),
        "username": "glacier_admin",
        # The password lives in Secrets Manager, rotated by RDS; never in Pulumi state.
        "manage_master_user_password": True,
        "storage_encrypted": True,  # RDS.3
        "publicly_accessible": False,  # RDS.2
        "db_subnet_group_name": subnet_group.name,
        "vpc_security_group_ids": [security_group.id, *extra_groups],
        "port": DATABASE_PORT,  # RDS.23: not the engine's default 5432
        "performance_insights_enabled": True,
        "performance_insights_retention_period": 7,  # days; the free tier
        "monitoring_interval": MONITORING_INTERVAL_S,  # RDS.6: enhanced monitoring
        "backup_retention_period": 7,  # RDS.11
        "copy_tags_to_snapshot": True,  # RDS.17
        "auto_minor_version_upgrade": True,  # RDS.13
        "iam_database_authentication_enabled": True,  # RDS.10
        "enabled_cloudwatch_logs_exports": ["postgresql", "upgrade"],  # RDS.9
        "deletion_protection": production,  # RDS.8
        "multi_az": production,  # RDS.5
        "skip_final_snapshot": not production,
        "tags": tags,
        **({"final_snapshot_identifier": f"{name.lower()}-final"} if production else {}),
        **overrides,
    }
    created: dict[str, pulumi.Resource] = {}
    if "parameter_group_name" not in overrides:
        parameters = _query_logging_parameters(name, args, tags, opts)
        created["parameter_group"] = parameters
        args["parameter_group_name"] = parameters.name
    before: list[pulumi.Resource] = []
    if args.get("monitoring_interval") and "monitoring_role_arn" not in args:
        role, role_policy = _monitoring_role(env, name, str(args["identifier"]), tags, opts)
        created["monitoring_role"] = role
        before.append(role_policy)
        args["monitoring_role_arn"] = role.arn
    # RDS makes the log group of each export itself, with no retention (CloudWatch.16): made
    # here first, with one, RDS writes into it.
    for export in args.get("enabled_cloudwatch_logs_exports") or []:
        group = aws.cloudwatch.LogGroup(
            f"{name}-{export}-log",
            name=f"/aws/rds/instance/{args['identifier']}/{export}",
            retention_in_days=log_retention_days,
            tags=tags,
            opts=opts,
        )
        created[f"{export}_log_group"] = group
        before.append(group)
    instance = aws.rds.Instance(
        name,
        opts=pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(depends_on=before)),
        **args,
    )
    return {
        "instance": instance,
        "subnet_group": subnet_group,
        "security_group": security_group,
        **created,
    }


DATABASE_PORT = 5433
"""The port of an ``Environment.rds`` instance: not PostgreSQL's default 5432 (RDS.23); tasks
get the instance's port, whatever it is, and its security group admits them on it."""

MONITORING_INTERVAL_S = 60
"""Seconds between Enhanced Monitoring samples of an ``Environment.rds`` instance (RDS.6);
``monitoring_interval=0`` turns it off."""

MONITORING_SERVICE = "monitoring.rds.amazonaws.com"


def _monitoring_role(
    env: Environment,
    name: str,
    identifier: str,
    tags: dict[str, str],
    opts: pulumi.ResourceOptions,
) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
    """The role RDS Enhanced Monitoring assumes to publish the instance's OS metrics to the
    ``RDSOSMetrics`` log group (RDS makes it, with a 30-day retention): what AWS's managed
    ``AmazonRDSEnhancedMonitoringRole`` grants, narrowed to that log group in the
    environment's account and region, and trusted only for this instance."""
    from glacier_aws._deploy_policy import policy_document, trust_policy

    arn = f"arn:{partition(env.region)}"
    group = f"{arn}:logs:{env.region}:{env.account}:log-group:RDSOSMetrics"
    role = aws.iam.Role(
        f"{name}-monitoring-role",
        description=f"glacier: Enhanced Monitoring of RDS instance {name}",
        assume_role_policy=trust_policy(
            MONITORING_SERVICE,
            source_account=env.account,
            source_arn=f"{arn}:rds:{env.region}:{env.account}:db:{identifier}",
        ),
        tags=tags,
        opts=opts,
    )
    policy = aws.iam.RolePolicy(
        f"{name}-monitoring-policy",
        role=role.id,
        policy=policy_document(
            [
                {
                    "Sid": "MetricsLogGroup",
                    "Effect": "Allow",
                    "Action": ["logs:CreateLogGroup", "logs:PutRetentionPolicy"],
                    "Resource": [group, f"{group}:*"],
                },
                {
                    "Sid": "MetricsLogStreams",
                    "Effect": "Allow",
                    "Action": [
                        "logs:CreateLogStream",
                        "logs:PutLogEvents",
                        "logs:DescribeLogStreams",
                        "logs:GetLogEvents",
                    ],
                    "Resource": f"{group}:log-stream:*",
                },
            ]
        ),
        opts=opts,
    )
    return role, policy


SLOW_QUERY_MS = 1000
"""Statements running this long or longer are logged (with their text, which may hold
literal values) to the ``postgresql`` log RDS exports to CloudWatch Logs."""


def _query_logging_parameters(
    name: str, args: dict[str, Any], tags: dict[str, str], opts: pulumi.ResourceOptions
) -> aws.rds.ParameterGroup:
    """A DB parameter group of the instance's major version logging slow statements, DDL,
    connections and lock waits: what an audit or an incident needs, without logging every
    statement's data."""
    major = str(args["engine_version"]).split(".")[0]
    parameters = {
        "log_min_duration_statement": str(SLOW_QUERY_MS),
        "log_statement": "ddl",
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
    }
    return aws.rds.ParameterGroup(
        f"{name}-parameters",
        name=f"{name.lower()}-parameters",
        family=f"postgres{major}",
        description=f"glacier: query logging of RDS instance {name}",
        parameters=[{"name": k, "value": v} for k, v in parameters.items()],
        tags=tags,
        opts=opts,
    )


def _subnets(name: str) -> list[str]:
    subnets = pulumi.Config("glacier").get_object("subnets")
    if not isinstance(subnets, list) or not subnets:
        raise ValueError(
            f"RDS instance {name!r} needs the stack's subnets (private ones, in two or more "
            "Availability Zones): `pulumi config set --path 'glacier:subnets[0]' subnet-...`"
        )
    return [str(s) for s in subnets]
