"""``glacier_aws.Environment``: secure resources under Pulumi mocks, descriptions outside."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from _pulumi_mocks import (
    VPC,
    RecordedResource,
    RecordingMocks,
    Run,
    is_taggable,
    run_program,
)

from glacier import Dataset, Pipeline
from glacier_aws import Environment, RdsDatabase, S3Bucket, pulumi_program_running

ACCOUNT = "111122223333"
BUCKET = "aws:s3/bucket:Bucket"
INSTANCE = "aws:rds/instance:Instance"
PROVIDER = "pulumi:providers:aws"
SUBNET_GROUP = "aws:rds/subnetGroup:SubnetGroup"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
SUBNETS = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]
CONFIG = {"glacier:subnets": json.dumps(SUBNETS)}
"""What a deployer sets with `pulumi config set --path 'glacier:subnets[0]' ...`."""


def _prod_program() -> dict[str, Any]:
    env = Environment(ACCOUNT, "eu-west-1", "prod", tags={"team": "data"})
    return {"env": env, "bucket": env.s3("prod-data"), "db": env.rds("warehouse")}


@pytest.fixture(scope="module")
def prod() -> Run:
    return run_program(_prod_program, config=CONFIG)


def _expected_tags(name: str = "prod") -> dict[str, str]:
    return {"glacier:environment": name, "managed-by": "glacier", "team": "data"}


# -- the recorder itself ------------------------------------------------------------------


def test_recorder_waits_for_every_registration() -> None:
    """Resources registered late (inside an apply) are recorded, with computed outputs."""
    import pulumi_aws as aws

    def program() -> None:
        first = aws.s3.Bucket("first", bucket="first-bucket")
        first.arn.apply(lambda arn: aws.s3.Bucket("second", bucket=arn.rsplit(":", 1)[-1] + "-2"))

    run = run_program(program)
    assert [r.name for r in run] == ["first", "second"]
    assert run.one(BUCKET, "first").outputs["arn"] == "arn:aws:s3:::first-bucket"
    assert run.one(BUCKET, "second").inputs["bucket"] == "first-bucket-2"


def test_runtime_is_reset_after_a_mocked_run(prod: Run) -> None:
    assert len(prod) > 0
    assert not pulumi_program_running()
    described = Environment(ACCOUNT, "eu-west-1", "prod").s3("prod-data")
    assert not described.created


def test_errors_in_the_program_propagate() -> None:
    def program() -> None:
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        run_program(program)
    assert not pulumi_program_running()


# -- S3 -------------------------------------------------------------------------------------


def _companion(run: Run, kind: str, bucket: str = "prod-data") -> RecordedResource:
    """The ``kind`` companion of ``bucket`` (``prod`` also has its access log bucket)."""
    (found,) = [
        r for r in run if r.type.startswith(f"aws:s3/{kind}:") and r.name.startswith(f"{bucket}-")
    ]
    return found


def test_bucket_is_the_v7_bucket_not_bucket_v2(prod: Run) -> None:
    bucket = prod.one(BUCKET, "prod-data")
    assert bucket.inputs["bucket"] == "prod-data"
    assert not [r for r in prod if "bucketV2" in r.type or r.type.endswith("V2")]
    # No deprecated inline configuration on the bucket itself.
    for inline in ("versioning", "acl", "serverSideEncryptionConfiguration", "policy"):
        assert inline not in bucket.inputs


def test_public_access_block_sets_all_four_flags(prod: Run) -> None:
    block = _companion(prod, "bucketPublicAccessBlock")
    assert block.inputs["bucket"] == "prod-data"
    for flag in (
        "blockPublicAcls",
        "blockPublicPolicy",
        "ignorePublicAcls",
        "restrictPublicBuckets",
    ):
        assert block.inputs[flag] is True, flag


def test_server_side_encryption(prod: Run) -> None:
    sse = _companion(prod, "bucketServerSideEncryptionConfiguration")
    assert sse.inputs["bucket"] == "prod-data"
    (rule,) = sse.inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {"sseAlgorithm": "AES256"}


def test_versioning_enabled(prod: Run) -> None:
    versioning = _companion(prod, "bucketVersioning")
    assert versioning.inputs["bucket"] == "prod-data"
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"


def test_ownership_controls_disable_acls(prod: Run) -> None:
    ownership = _companion(prod, "bucketOwnershipControls")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}


def test_bucket_policy_denies_non_tls_requests(prod: Run) -> None:
    policy = _companion(prod, "bucketPolicy")
    assert policy.inputs["bucket"] == "prod-data"
    document = json.loads(policy.inputs["policy"])
    (statement,) = document["Statement"]
    assert statement["Effect"] == "Deny"
    assert statement["Principal"] == "*"
    assert statement["Action"] == "s3:*"
    assert statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    # The ARNs come from the bucket's computed output: proves outputs flowed through.
    assert statement["Resource"] == ["arn:aws:s3:::prod-data", "arn:aws:s3:::prod-data/*"]


def test_data_bucket_lifecycle_expires_noncurrent_versions_and_delete_markers(prod: Run) -> None:
    lifecycle = _companion(prod, "bucketLifecycleConfiguration")
    assert lifecycle.name == "prod-data-lifecycle"
    assert lifecycle.inputs["bucket"] == "prod-data"
    (rule,) = lifecycle.inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["filter"] == {"prefix": ""}  # the whole bucket
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert rule["expiration"] == {"expiredObjectDeleteMarker": True}
    # current objects are never expired: their lifetime is the user's
    assert set(rule["expiration"]) == {"expiredObjectDeleteMarker"}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_data_bucket_lifecycle_can_be_replaced_or_omitted() -> None:
    own = [{"id": "mine", "status": "Enabled", "expiration": {"days": 400}}]

    def program() -> None:
        env = Environment(ACCOUNT, "eu-west-1", "prod")
        env.s3("prod-own", lifecycle=own)
        env.s3("prod-none", lifecycle=None)

    run = run_program(program, config={"glacier:accessLogs": "false"})
    lifecycle = "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration"
    assert [r.name for r in run.of_type(lifecycle)] == ["prod-own-lifecycle"]
    assert run.one(lifecycle).inputs["rules"] == [
        {"id": "mine", "status": "Enabled", "expiration": {"days": 400}}
    ]
    with pytest.raises(TypeError, match="lifecycle rules"):
        run_program(lambda: Environment(ACCOUNT, "eu-west-1", "prod").s3("p-x", lifecycle={}))


# -- S3 server access logs (S3.9) ------------------------------------------------------------

LOGGING = "aws:s3/bucketLogging:BucketLogging"


def test_data_buckets_log_their_accesses_to_the_environments_log_bucket(prod: Run) -> None:
    logs = prod.one(BUCKET, "prod-access-logs")
    assert logs.inputs["bucketPrefix"] == "prod-access-logs-"  # AWS adds a unique suffix
    (logging,) = prod.of_type(LOGGING)  # the log bucket does not log into itself
    assert logging.name == "prod-data-access-logging"
    assert logging.inputs["bucket"] == "prod-data"
    assert logging.inputs["targetBucket"] == logs.id
    assert logging.inputs["targetPrefix"] == "prod-data/"


def test_the_log_bucket_is_secure_kept_and_expires_logs_after_a_year(prod: Run) -> None:
    logs = prod.one(BUCKET, "prod-access-logs")
    assert (logs.protect, logs.retain_on_delete) == (True, True)  # audit records
    block = _companion(prod, "bucketPublicAccessBlock", "prod-access-logs")
    assert all(block.inputs[flag] is True for flag in ("blockPublicAcls", "blockPublicPolicy"))
    sse = _companion(prod, "bucketServerSideEncryptionConfiguration", "prod-access-logs")
    # S3 delivers access logs only to a bucket encrypted with SSE-S3
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "AES256"
    }
    ownership = _companion(prod, "bucketOwnershipControls", "prod-access-logs")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    (rule,) = _companion(prod, "bucketLifecycleConfiguration", "prod-access-logs").inputs["rules"]
    assert rule["expiration"] == {"days": 365}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 1}


def test_only_s3_log_delivery_for_the_accounts_buckets_may_write_the_logs(prod: Run) -> None:
    """ACLs are disabled (BucketOwnerEnforced), so the log delivery is granted by the bucket
    policy: AWS's documented statement, with its confused-deputy conditions."""
    policy = _companion(prod, "bucketPolicy", "prod-access-logs")
    arn = prod.one(BUCKET, "prod-access-logs").outputs["arn"]
    deny, delivery = json.loads(policy.inputs["policy"])["Statement"]
    assert deny["Sid"] == "DenyInsecureTransport" and deny["Resource"] == [arn, f"{arn}/*"]
    assert delivery == {
        "Sid": "S3ServerAccessLogDelivery",
        "Effect": "Allow",
        "Principal": {"Service": "logging.s3.amazonaws.com"},
        "Action": "s3:PutObject",
        "Resource": f"{arn}/*",
        "Condition": {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            "ArnLike": {"aws:SourceArn": "arn:aws:s3:::*"},
        },
    }


def test_one_log_bucket_per_environment_in_its_partition() -> None:
    def program() -> None:
        env = Environment(ACCOUNT, "cn-north-1", "china")
        env.s3("china-a")
        env.s3("china-b")

    run = run_program(program)
    assert [b.name for b in run.of_type(BUCKET)] == ["china-access-logs", "china-a", "china-b"]
    # (registered as the buckets' names resolve: in no fixed order)
    assert sorted((r.inputs["bucket"], r.inputs["targetPrefix"]) for r in run.of_type(LOGGING)) == [
        ("china-a", "china-a/"),
        ("china-b", "china-b/"),
    ]
    policy = _companion(run, "bucketPolicy", "china-access-logs")
    delivery = json.loads(policy.inputs["policy"])["Statement"][1]
    assert delivery["Condition"]["ArnLike"] == {"aws:SourceArn": "arn:aws-cn:s3:::*"}


@pytest.mark.parametrize(
    ("name", "config", "logged"),
    [
        ("dev", {}, False),  # off by default in dev only
        ("dev", {"glacier:accessLogs": "true"}, True),
        ("staging", {}, True),
        ("prod", {"glacier:accessLogs": "false"}, False),
    ],
)
def test_access_logging_is_on_except_in_dev_and_the_stack_config_decides(
    name: str, config: dict[str, str], logged: bool
) -> None:
    run = run_program(
        lambda: Environment(ACCOUNT, "eu-west-1", name).s3(f"{name}-x"), config=config
    )
    assert bool(run.of_type(LOGGING)) is logged
    assert [b.name for b in run.of_type(BUCKET)] == (
        [f"{name}-access-logs", f"{name}-x"] if logged else [f"{name}-x"]
    )


def test_a_bucket_can_log_elsewhere_or_not_at_all() -> None:
    def program() -> None:
        env = Environment(ACCOUNT, "eu-west-1", "prod")
        env.s3("prod-quiet", access_logs=None)
        env.s3("prod-own", access_logs={"target_bucket": "my-logs", "target_prefix": "own/"})

    run = run_program(program)
    assert [b.name for b in run.of_type(BUCKET)] == ["prod-quiet", "prod-own"]  # no log bucket
    (logging,) = run.of_type(LOGGING)
    assert (logging.inputs["bucket"], logging.inputs["targetBucket"]) == ("prod-own", "my-logs")
    with pytest.raises(TypeError, match="target_bucket and target_prefix"):
        run_program(lambda: Environment(ACCOUNT, "eu-west-1", "prod").s3("p-x", access_logs="x"))


def test_the_log_bucket_exists_only_inside_a_program() -> None:
    with pytest.raises(RuntimeError, match="outside a Pulumi program"):
        Environment(ACCOUNT, "eu-west-1", "prod").access_logs  # noqa: B018


# -- provider and tags ----------------------------------------------------------------------


def test_one_provider_for_the_environment_account_and_region(prod: Run) -> None:
    provider = prod.one(PROVIDER)
    assert provider.name == "aws-prod"
    assert provider.input("region") == "eu-west-1"
    assert provider.input("allowedAccountIds") == [ACCOUNT]
    assert provider.input("defaultTags") == {"tags": _expected_tags()}
    for resource in prod:
        if resource.type != PROVIDER:
            assert resource.provider_urn == provider.urn, resource.name


def test_every_taggable_resource_carries_the_environment_tags(prod: Run) -> None:
    taggable = [r for r in prod if is_taggable(r.type)]
    assert {r.type for r in taggable} == {
        BUCKET,
        INSTANCE,
        SUBNET_GROUP,
        SECURITY_GROUP,
        "aws:rds/parameterGroup:ParameterGroup",
        "aws:cloudwatch/logGroup:LogGroup",
        "aws:iam/role:Role",
    }
    for resource in taggable:
        assert resource.tags == _expected_tags(), resource.name


def test_provider_is_created_once_and_lazily() -> None:
    def program() -> None:
        env = Environment(ACCOUNT, "us-east-2", "staging")
        env.s3("staging-a")
        env.s3("staging-b")
        env.rds("db-one")
        Environment(ACCOUNT, "us-east-2", "unused")  # never creates a provider

    run = run_program(program, config=CONFIG)
    assert [p.name for p in run.of_type(PROVIDER)] == ["aws-staging"]


# -- RDS ------------------------------------------------------------------------------------


def test_rds_postgres_secure_defaults(prod: Run) -> None:
    db = prod.one(INSTANCE).inputs
    assert db["engine"] == "postgres"
    assert db["identifier"] == "warehouse"
    assert db["storageEncrypted"] is True
    assert db["publiclyAccessible"] is False
    assert db["manageMasterUserPassword"] is True
    assert "password" not in db
    assert db["backupRetentionPeriod"] >= 7
    assert db["deletionProtection"] is True
    assert db["multiAz"] is True
    assert db["autoMinorVersionUpgrade"] is True
    assert db["copyTagsToSnapshot"] is True
    assert db["iamDatabaseAuthenticationEnabled"] is True
    assert db["enabledCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    assert db["skipFinalSnapshot"] is False
    assert db["finalSnapshotIdentifier"] == "warehouse-final"
    assert db["port"] == 5433  # RDS.23: not PostgreSQL's default port
    assert db["performanceInsightsEnabled"] is True
    assert db["performanceInsightsRetentionPeriod"] == 7


def test_rds_logs_slow_queries_ddl_and_connections(prod: Run) -> None:
    db = prod.one(INSTANCE).inputs
    group = prod.one("aws:rds/parameterGroup:ParameterGroup", "warehouse-parameters")
    assert db["parameterGroupName"] == group.outputs["name"] == "warehouse-parameters"
    assert group.inputs["family"] == "postgres16"  # the instance's engine version
    parameters = {p["name"]: p["value"] for p in group.inputs["parameters"]}
    assert parameters == {
        "log_min_duration_statement": "1000",
        "log_statement": "ddl",
        "log_connections": "1",
        "log_disconnections": "1",
        "log_lock_waits": "1",
    }
    assert group.tags == _expected_tags()


def test_rds_parameter_group_follows_the_engine_version_or_is_the_users() -> None:
    def program() -> None:
        env = Environment(ACCOUNT, "eu-west-1", "prod")
        env.rds("newer", engine_version="17.2", port=6000)
        env.rds("own", parameter_group_name="my-params")

    run = run_program(program, config=CONFIG)
    groups = run.of_type("aws:rds/parameterGroup:ParameterGroup")
    assert [(g.name, g.inputs["family"]) for g in groups] == [("newer-parameters", "postgres17")]
    instances = {r.name: r.inputs for r in run.of_type(INSTANCE)}
    assert instances["newer"]["port"] == 6000
    assert instances["own"]["parameterGroupName"] == "my-params"


def test_rds_is_placed_in_the_stack_subnets_behind_its_own_security_group(prod: Run) -> None:
    db = prod.one(INSTANCE)
    group = prod.one(SUBNET_GROUP, "warehouse-subnets")
    assert group.inputs["subnetIds"] == SUBNETS
    assert db.inputs["dbSubnetGroupName"] == group.outputs["name"] == "warehouse-subnets"
    security = prod.one(SECURITY_GROUP, "warehouse-db")
    assert security.inputs["vpcId"] == VPC  # the first subnet's VPC (see below)
    assert db.inputs["vpcSecurityGroupIds"] == [security.id]
    # The group admits nothing by itself (the deployment admits the pipeline's tasks).
    assert "ingress" not in security.inputs and "egress" not in security.inputs
    assert not prod.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
    for resource in (group, security):
        assert resource.provider_urn == prod.one(PROVIDER).urn


def test_rds_security_group_is_in_the_vpc_of_the_first_subnet() -> None:
    mocks = RecordingMocks()
    run_program(
        lambda: Environment(ACCOUNT, "eu-west-1", "prod").rds("warehouse"),
        mocks=mocks,
        config=CONFIG,
    )
    lookups = [args for token, args in mocks.calls if token == "aws:ec2/getSubnet:getSubnet"]
    assert [args["id"] for args in lookups] == [SUBNETS[0]]


def test_rds_needs_the_stack_subnets() -> None:
    with pytest.raises(ValueError, match=r"glacier:subnets\[0\]"):
        run_program(lambda: Environment(ACCOUNT, "eu-west-1", "prod").rds("warehouse"), config={})


def test_rds_in_dev_has_no_deletion_protection() -> None:
    run = run_program(
        lambda: Environment(ACCOUNT, "us-west-2", "dev").rds("scratch-db"), config=CONFIG
    )
    db = run.one(INSTANCE).inputs
    assert db["deletionProtection"] is False
    assert db["multiAz"] is False
    assert db["skipFinalSnapshot"] is True
    assert db["storageEncrypted"] is True and db["publiclyAccessible"] is False


def test_rds_has_enhanced_monitoring_with_a_role_for_this_instance_only(prod: Run) -> None:
    """RDS.6: OS metrics every 60 s, published by a role RDS's monitoring service may assume
    only for this instance, allowed only the ``RDSOSMetrics`` log group of the account."""
    db = prod.one(INSTANCE).inputs
    role = prod.one("aws:iam/role:Role", "warehouse-monitoring-role")
    assert db["monitoringInterval"] == 60
    assert db["monitoringRoleArn"] == role.outputs["arn"]
    (trust,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
    assert trust["Principal"] == {"Service": "monitoring.rds.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:rds:eu-west-1:{ACCOUNT}:db:warehouse"},
    }
    policy = prod.one("aws:iam/rolePolicy:RolePolicy", "warehouse-monitoring-policy")
    assert policy.inputs["role"] == role.id
    group = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:RDSOSMetrics"
    statements = json.loads(policy.inputs["policy"])["Statement"]
    assert [(s["Action"], s["Resource"]) for s in statements] == [
        (["logs:CreateLogGroup", "logs:PutRetentionPolicy"], [group, f"{group}:*"]),
        (
            [
                "logs:CreateLogStream",
                "logs:PutLogEvents",
                "logs:DescribeLogStreams",
                "logs:GetLogEvents",
            ],
            f"{group}:log-stream:*",
        ),
    ]


def test_rds_monitoring_can_be_off_or_use_the_users_role() -> None:
    def program() -> None:
        env = Environment(ACCOUNT, "eu-west-1", "prod")
        env.rds("quiet", monitoring_interval=0)
        env.rds("own", monitoring_role_arn="arn:aws:iam::111122223333:role/mine")

    run = run_program(program, config=CONFIG)
    assert not run.of_type("aws:iam/role:Role")
    instances = {r.name: r.inputs for r in run.of_type(INSTANCE)}
    assert instances["quiet"]["monitoringInterval"] == 0
    assert "monitoringRoleArn" not in instances["quiet"]
    assert instances["own"]["monitoringRoleArn"] == "arn:aws:iam::111122223333:role/mine"


def test_rds_exported_logs_go_to_log_groups_that_expire(prod: Run) -> None:
    """RDS would make ``/aws/rds/instance/<id>/<log>`` itself, kept forever (CloudWatch.16):
    Glacier makes each one first, with a retention, before the instance."""
    groups = prod.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert [(g.name, g.inputs["name"], g.inputs["retentionInDays"]) for g in groups] == [
        ("warehouse-postgresql-log", "/aws/rds/instance/warehouse/postgresql", 365),
        ("warehouse-upgrade-log", "/aws/rds/instance/warehouse/upgrade", 365),
    ]
    order = [r.name for r in prod]
    assert max(order.index(g.name) for g in groups) < order.index("warehouse")


def test_rds_log_groups_follow_the_exports_identifier_and_retention() -> None:
    def program() -> None:
        Environment(ACCOUNT, "eu-west-1", "prod").rds(
            "Main",
            identifier="main-db",
            enabled_cloudwatch_logs_exports=["postgresql"],
            log_retention_days=30,
        )

    run = run_program(program, config=CONFIG)
    (group,) = run.of_type("aws:cloudwatch/logGroup:LogGroup")
    assert group.inputs["name"] == "/aws/rds/instance/main-db/postgresql"
    assert group.inputs["retentionInDays"] == 30
    assert "logRetentionDays" not in run.one(INSTANCE).inputs
    role = run.one("aws:iam/role:Role")
    condition = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]["Condition"]
    assert condition["ArnLike"]["aws:SourceArn"].endswith(":db:main-db")


# -- overrides win --------------------------------------------------------------------------


def test_overrides_win_over_every_default() -> None:
    key = "arn:aws:kms:eu-west-1:111122223333:key/abc"

    def program() -> None:
        env = Environment(ACCOUNT, "eu-west-1", "prod", tags={"team": "data"})
        env.s3(
            "prod-logs",
            force_destroy=True,
            tags={"team": "ops", "cost-center": "42"},
            public_access_block={"block_public_policy": False},
            encryption={"sse_algorithm": "aws:kms", "kms_master_key_id": key},
            versioning="Suspended",
            ownership="BucketOwnerPreferred",
            policy_statements=[{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject"}],
        )
        env.s3("prod-raw", policy=None, versioning=None)
        env.rds(
            "warehouse",
            instance_class="db.r6g.large",
            deletion_protection=False,
            backup_retention_period=30,
            engine_version="17",
            vpc_security_group_ids=["sg-0bastion"],
        )

    run = run_program(program, config=CONFIG)
    logs = run.one(BUCKET, "prod-logs")
    assert logs.inputs["forceDestroy"] is True
    assert logs.tags == {**_expected_tags(), "team": "ops", "cost-center": "42"}
    block = run.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "prod-logs-public-access-block"
    )
    assert block.inputs["blockPublicPolicy"] is False and block.inputs["blockPublicAcls"] is True
    sse = run.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "prod-logs-encryption",
    )
    assert sse.inputs["rules"][0]["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key,
    }
    versioning = run.one("aws:s3/bucketVersioning:BucketVersioning", "prod-logs-versioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Suspended"
    ownership = run.one(
        "aws:s3/bucketOwnershipControls:BucketOwnershipControls", "prod-logs-ownership"
    )
    assert ownership.inputs["rule"]["objectOwnership"] == "BucketOwnerPreferred"
    statements = json.loads(
        run.one("aws:s3/bucketPolicy:BucketPolicy", "prod-logs-policy").inputs["policy"]
    )["Statement"]
    assert [s["Effect"] for s in statements] == ["Deny", "Allow"]
    # `None` omits a companion entirely.
    assert not [r for r in run if r.name in ("prod-raw-policy", "prod-raw-versioning")]
    db = run.one(INSTANCE).inputs
    assert db["instanceClass"] == "db.r6g.large"
    assert db["deletionProtection"] is False
    assert db["backupRetentionPeriod"] == 30
    assert db["engineVersion"] == "17"
    assert db["storageEncrypted"] is True  # untouched defaults stay
    # The user's security groups are added to Glacier's, which the tasks come in through.
    assert db["vpcSecurityGroupIds"] == [run.one(SECURITY_GROUP).id, "sg-0bastion"]


# -- the description, inside and outside ----------------------------------------------------


def test_inside_a_program_the_description_forwards_to_the_resource() -> None:
    import pulumi

    def program() -> S3Bucket:
        bucket = Environment(ACCOUNT, "eu-west-1", "prod").s3("prod-data")
        pulumi.export("arn", bucket.arn)
        pulumi.export("id", bucket.id)
        return bucket

    run = run_program(program)
    bucket = run.result
    assert isinstance(bucket, S3Bucket) and bucket.created
    assert type(bucket.resource).__name__ == "Bucket"
    assert set(bucket.resources) == {
        "bucket",
        "public_access_block",
        "encryption",
        "versioning",
        "ownership",
        "lifecycle",
        "access_logs",
        "policy",
    }
    assert run.exports == {"arn": "arn:aws:s3:::prod-data", "id": "prod-data"}
    assert bucket.__glacier_storage__() == {
        "kind": "s3",
        "bucket": "prod-data",
        "environment": "prod",
        "existing": False,
    }


def test_outside_a_program_s3_and_rds_return_descriptions() -> None:
    env = Environment(ACCOUNT, "eu-west-1", "prod", tags={"team": "data"})
    bucket = env.s3("prod-data", force_destroy=True)
    db = env.rds("warehouse")
    assert isinstance(bucket, S3Bucket) and isinstance(db, RdsDatabase)
    assert not bucket.created and bucket.resource is None and dict(bucket.resources) == {}
    assert bucket.environment is env
    assert dict(bucket.tags) == _expected_tags()
    assert dict(bucket.overrides) == {"force_destroy": True}
    assert bucket.__glacier_storage__() == {
        "kind": "s3",
        "bucket": "prod-data",
        "environment": "prod",
        "existing": False,
    }
    assert db.__glacier_storage__() == {"kind": "rds", "name": "warehouse", "environment": "prod"}
    with pytest.raises(AttributeError, match="outside a Pulumi program"):
        bucket.arn  # noqa: B018
    with pytest.raises(AttributeError):
        bucket.bucket = "other"  # type: ignore[misc]


def test_import_and_use_outside_a_program_do_not_import_pulumi(tmp_path: Path) -> None:
    script = textwrap.dedent(
        """
        import sys
        import glacier_aws
        env = glacier_aws.Environment("123456", "us-east-1", "prod")
        bucket = env.s3("prod-data")
        db = env.rds("warehouse")
        assert not bucket.created and not db.created
        loaded = sorted(m for m in sys.modules if m.split(".")[0] in ("pulumi", "pulumi_aws"))
        print(loaded)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert out.stdout.strip() == "[]"


# -- registration with the model ------------------------------------------------------------


def test_environment_and_its_storage_appear_in_the_model() -> None:
    pipeline = Pipeline(name="aws-model")
    env = Environment("123456", "us-east-1", "prod", tags={"team": "data"})  # the line below -1
    line = sys._getframe().f_lineno - 1
    data = Dataset(name="data", storage=env.s3("prod-data"))

    @pipeline.task()
    def produce() -> data:  # type: ignore[valid-type]
        return 1

    model = pipeline.to_model()
    (environment,) = [e for e in model.environments if e.name == "prod" and e.account == "123456"]
    assert environment.region == "us-east-1"
    assert environment.tags == (("team", "data"),)
    assert environment.span.file == "tests/test_aws_environment.py"
    assert environment.span.line == line
    storage = model.dataset("data").storage
    assert storage is not None
    assert (storage.kind, storage.bucket, storage.environment) == ("s3", "prod-data", "prod")


# -- validation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((123456789012, "us-east-1", "prod"), TypeError, "leading zeros"),
        (("12ab", "us-east-1", "prod"), ValueError, "invalid account"),
        (("", "us-east-1", "prod"), ValueError, "invalid account"),
        (("1234567890123", "us-east-1", "prod"), ValueError, "12 digits"),
        (("123456", "useast1", "prod"), ValueError, "invalid region"),
        (("123456", "us-east-1", "prod env"), ValueError, "invalid environment name"),
        (("123456", "us-east-1", ""), ValueError, "invalid environment name"),
    ],
)
def test_environment_arguments_are_validated(
    args: tuple[Any, ...], error: type[Exception], match: str
) -> None:
    with pytest.raises(error, match=match):
        Environment(*args)


def test_tags_bucket_and_rds_names_are_validated() -> None:
    with pytest.raises(TypeError, match="tags"):
        Environment("123456", "us-east-1", "prod", tags={"team": 1})  # type: ignore[dict-item]
    env = Environment("123456", "us-east-1", "prod")
    for bad in ("Prod-Data", "ab", "-data", "data_set", "a" * 64):
        with pytest.raises(ValueError, match="invalid bucket"):
            env.s3(bad)
    for bad in ("1db", "db--x", "db-", "db_x"):
        with pytest.raises(ValueError, match="invalid RDS name"):
            env.rds(bad)


def test_mocked_invokes_answer_with_the_provider_account_and_region() -> None:
    import pulumi
    import pulumi_aws as aws

    def program() -> None:
        env = Environment(ACCOUNT, "ap-southeast-2", "syd")
        opts = pulumi.InvokeOutputOptions(provider=env.provider)
        pulumi.export("account", aws.get_caller_identity_output(opts=opts).account_id)
        pulumi.export("region", aws.get_region_output(opts=opts).region)
        pulumi.export("default_account", aws.get_caller_identity_output().account_id)

    run = run_program(program)
    assert run.exports == {
        "account": ACCOUNT,
        "region": "ap-southeast-2",
        "default_account": "123456789012",
    }


# -- data buckets are kept; existing buckets are looked up ------------------------------------


def test_data_buckets_are_protected_and_retained(prod: Run) -> None:
    """`pulumi destroy` must not delete data: the bucket is protected (so are its companions,
    by inheritance) and everything is retained on delete, so a retained bucket stays secure."""
    s3 = [r for r in prod if r.type.startswith("aws:s3/")]
    # the data bucket and its seven companions, the access log bucket and its six
    assert len(s3) == 8 + 7
    for resource in s3:
        assert (resource.protect, resource.retain_on_delete) == (True, True), resource.name
    for resource in prod:
        if not resource.type.startswith("aws:s3/"):  # the provider, the database
            assert not resource.retain_on_delete, resource.name


def test_the_user_can_unprotect_a_data_bucket() -> None:
    import pulumi

    def program() -> None:
        env = Environment(ACCOUNT, "eu-west-1", "dev")
        env.s3("dev-data", opts=pulumi.ResourceOptions(protect=False))

    bucket = run_program(program).one(BUCKET)
    assert (bucket.protect, bucket.retain_on_delete) == (False, True)


def test_an_existing_bucket_is_looked_up_not_created() -> None:
    import pulumi

    def program() -> S3Bucket:
        landing = Environment(ACCOUNT, "eu-west-1", "prod").s3("partner-landing", existing=True)
        pulumi.export("arn", landing.arn)
        pulumi.export("bucket", landing.resource.bucket)
        pulumi.export("region", landing.resource.region)
        return landing

    mocks = RecordingMocks()
    run = run_program(program, mocks=mocks)
    assert [r.type for r in run] == [PROVIDER]  # nothing but the environment's provider
    (call,) = [(token, args) for token, args in mocks.calls if token != "pulumi:pulumi:getResource"]
    assert call == ("aws:s3/getBucket:getBucket", {"bucket": "partner-landing"})
    assert run.exports == {
        "arn": "arn:aws:s3:::partner-landing",
        "bucket": "partner-landing",
        "region": "eu-west-1",  # the lookup used the environment's provider
    }
    landing = run.result
    assert landing.existing and not landing.created and dict(landing.resources) == {}
    assert landing.bucket == "partner-landing"
    assert landing.__glacier_storage__() == {
        "kind": "s3",
        "bucket": "partner-landing",
        "environment": "prod",
        "existing": True,
    }
    assert repr(landing) == "S3Bucket(environment='prod', bucket='partner-landing', existing)"


def test_a_missing_existing_bucket_fails_the_program() -> None:
    def program() -> None:
        Environment(ACCOUNT, "eu-west-1", "prod").s3("partner-landing", existing=True)

    with pytest.raises(Exception, match=r"partner-landing.*couldn't find"):
        run_program(program, mocks=RecordingMocks(buckets=frozenset({"another-bucket"})))
    assert not pulumi_program_running()


def test_an_existing_bucket_takes_no_overrides_but_its_encryption() -> None:
    env = Environment(ACCOUNT, "eu-west-1", "prod")
    for overrides in ({"versioning": None}, {"force_destroy": True}, {"tags": {"a": "b"}}):
        with pytest.raises(TypeError, match="existing=True"):
            env.s3("partner-landing", existing=True, **overrides)
    with pytest.raises(TypeError, match="existing must be True or False"):
        env.s3("partner-landing", existing="yes")  # type: ignore[arg-type]
    key = "arn:aws:kms:eu-west-1:111122223333:key/partner"
    described = env.s3(
        "partner-landing",
        existing=True,
        encryption={"sse_algorithm": "aws:kms", "kms_master_key_id": key},
    )
    assert described.kms_key_arn == key


def test_kms_key_arn_is_the_key_of_an_sse_kms_override() -> None:
    env = Environment(ACCOUNT, "eu-west-1", "prod")
    key = "arn:aws:kms:eu-west-1:111122223333:key/data"
    assert env.s3("plain-data").kms_key_arn is None
    assert env.s3("s3-data", encryption={"sse_algorithm": "AES256"}).kms_key_arn is None
    # the AWS managed key (aws/s3) needs no grant in the task's policy
    assert env.s3("managed-data", encryption={"sse_algorithm": "aws:kms"}).kms_key_arn is None
    for algorithm in ("aws:kms", "aws:kms:dsse"):
        encryption = {"sse_algorithm": algorithm, "kms_master_key_id": key}
        assert env.s3("kms-data", encryption=encryption).kms_key_arn == key


def test_mocked_get_bucket_answers_like_aws() -> None:
    import pulumi
    import pulumi_aws as aws

    def program() -> None:
        env = Environment(ACCOUNT, "ap-southeast-2", "syd")
        opts = pulumi.InvokeOutputOptions(provider=env.provider)
        found = aws.s3.get_bucket_output(bucket="syd-data", opts=opts)
        pulumi.export("found", found.apply(lambda r: {k: v for k, v in vars(r).items()}))

    found = run_program(program).exports["found"]
    assert found == {
        "arn": "arn:aws:s3:::syd-data",
        "bucket": "syd-data",
        "bucket_domain_name": "syd-data.s3.amazonaws.com",
        "bucket_region": "ap-southeast-2",
        "bucket_regional_domain_name": "syd-data.s3.ap-southeast-2.amazonaws.com",
        "hosted_zone_id": None,
        "id": "syd-data",
        "region": "ap-southeast-2",
        "website_domain": None,
        "website_endpoint": None,
    }
