"""``glacier_aws.deploy``: each deployment component under Pulumi mocks, and a whole wiring."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from _pulumi_mocks import RecordedResource, RecordingMocks, Run, is_taggable, run_program

from glacier.storage.kinds import OBJECT_EXTENSIONS
from glacier_aws import Environment

ACCOUNT = "111122223333"
REGION = "eu-west-1"
TAGS = {"glacier:environment": "prod", "managed-by": "glacier", "team": "data"}

ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"
FUNCTION = "aws:lambda/function:Function"
LOG_GROUP = "aws:cloudwatch/logGroup:LogGroup"
TASK_DEFINITION = "aws:ecs/taskDefinition:TaskDefinition"
STATE_MACHINE = "aws:sfn/stateMachine:StateMachine"
BUCKET = "aws:s3/bucket:Bucket"
SECURITY_GROUP = "aws:ec2/securityGroup:SecurityGroup"
INGRESS = "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
EGRESS = "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
SECRET = "aws:secretsmanager/secret:Secret"
SECRET_VERSION = "aws:secretsmanager/secretVersion:SecretVersion"

DEFINITION = {
    "Comment": "two tasks",
    "StartAt": "extract",
    "States": {
        "extract": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {
                "FunctionName": "${function:extract}",
                "Payload": {"execution.$": "$$.Execution.Name"},
            },
            "ResultPath": None,
            "Next": "transform",
        },
        "transform": {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.sync",
            "Parameters": {
                "LaunchType": "FARGATE",
                "Cluster": "${cluster}",
                "TaskDefinition": "${task_definition:transform}",
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {
                        "Subnets": "${subnets}",
                        "AssignPublicIp": "${assign_public_ip}",
                    }
                },
            },
            "ResultPath": None,
            "End": True,
        },
    },
}


def _object_keys(base: str) -> list[str]:
    """A dataset's object ARNs from ``arn:aws:s3:::<bucket>/<prefix>/<dataset>``: one per
    extension the I/O layer writes, in its order (never ``<dataset>.*``)."""
    return [base + ext for ext in OBJECT_EXTENSIONS]


def _pipeline_program(bundle: str) -> Any:
    """The wiring a generated ``__main__.py`` does, for a two-task pipeline."""

    def program() -> None:
        import pulumi
        import pulumi_aws as aws

        from glacier_aws.deploy import (
            DatasetLocation,
            FargateTask,
            LambdaTask,
            PipelineSchedule,
            PipelineStateMachine,
            ScratchBucket,
            ecs_cluster,
            export_deployment,
        )

        env = Environment(ACCOUNT, REGION, "prod", tags={"team": "data"})
        opts = pulumi.ResourceOptions(provider=env.provider)
        tags = env.default_tags
        env.s3("prod-raw")
        # A raw Pulumi bucket: its name is only known as an output.
        reports = aws.s3.Bucket("reports", bucket="prod-reports", opts=opts)
        scratch = ScratchBucket("etl-scratch", expire_days=3, tags=tags, opts=opts)
        raw = DatasetLocation("raw", bucket="prod-raw", prefix="in/")
        staged = DatasetLocation("staged")  # ephemeral
        report = DatasetLocation("report", bucket=reports.bucket, prefix="daily")
        extract = LambdaTask(
            "etl-extract",
            pipeline="etl",
            task="extract",
            code=bundle,
            reads=[raw],
            writes=[staged],
            scratch_bucket=scratch.name,
            memory_mb=1024,
            timeout_s=120,
            tags=tags,
            opts=opts,
        )
        cluster = ecs_cluster("etl-cluster", tags=tags, opts=opts)
        transform = FargateTask(
            "etl-transform",
            pipeline="etl",
            task="transform",
            image="public.ecr.aws/docker/library/python:3.12-slim",
            cpu=512,
            memory_mb=1024,
            reads=[staged],
            writes=[report],
            scratch_bucket=scratch.name,
            tags=tags,
            opts=opts,
        )
        machine = PipelineStateMachine(
            "etl",
            definition=json.dumps(DEFINITION),
            functions={"extract": extract},
            task_definitions={"transform": transform},
            cluster=cluster,
            subnets=["subnet-1", "subnet-2"],
            tags=tags,
            opts=opts,
        )
        PipelineSchedule(
            "etl",
            schedule_expression="rate(1 hour)",
            state_machine_arn=machine.arn,
            tags=tags,
            opts=opts,
        )
        export_deployment(
            state_machine_arn=machine.arn,
            buckets={"scratch": scratch.name, "raw": "prod-raw", "report": reports.bucket},
        )

    return program


@pytest.fixture(scope="module")
def deployed(tmp_path_factory: pytest.TempPathFactory) -> Run:
    bundle = tmp_path_factory.mktemp("bundle")
    (bundle / "glacier_handler.py").write_text("def handler(event, context):\n    return {}\n")
    return run_program(_pipeline_program(str(bundle)))


def _policy(run: Run, name: str) -> dict[str, Any]:
    document = json.loads(run.one(ROLE_POLICY, name).inputs["policy"])
    assert document["Version"] == "2012-10-17"
    return document


def _statements(run: Run, name: str) -> dict[str, dict[str, Any]]:
    return {s["Sid"]: s for s in _policy(run, name)["Statement"]}


def _data_statements(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        s for s in document["Statement"] if any(a.startswith("s3:") for a in _as_list(s["Action"]))
    ]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# -- task roles -----------------------------------------------------------------------------


def test_lambda_task_role_allows_exactly_its_datasets(deployed: Run) -> None:
    s = _statements(deployed, "etl-extract-policy")
    assert s["ReadInputs0"]["Action"] == ["s3:GetObject"]
    assert s["ReadInputs0"]["Resource"] == [*_object_keys("arn:aws:s3:::prod-raw/in/raw")]
    assert s["ListInputs0"]["Action"] == ["s3:ListBucket"]
    assert s["ListInputs0"]["Resource"] == ["arn:aws:s3:::prod-raw"]
    assert s["ListInputs0"]["Condition"] == {"StringLike": {"s3:prefix": ["in/raw."]}}
    # The ephemeral output: only its keys in the scratch bucket, any execution.
    scratch = deployed.one(BUCKET, "etl-scratch").outputs["bucket"]
    assert s["WriteOutputs0"]["Action"] == [
        "s3:PutObject",
        "s3:DeleteObject",
        "s3:AbortMultipartUpload",
    ]
    assert s["WriteOutputs0"]["Resource"] == [*_object_keys(f"arn:aws:s3:::{scratch}/*/staged")]
    # listed before a write, so that only stale siblings that exist are deleted
    assert s["ListOutputs0"]["Action"] == ["s3:ListBucket"]
    assert s["ListOutputs0"]["Resource"] == [f"arn:aws:s3:::{scratch}"]
    assert s["ListOutputs0"]["Condition"] == {"StringLike": {"s3:prefix": ["*/staged."]}}
    assert set(s) == {
        "ReadInputs0",
        "ListInputs0",
        "WriteOutputs0",
        "ListOutputs0",
        "OwnLogGroup",
        "XRayTracing",
    }


def test_fargate_task_role_reads_scratch_and_writes_an_output_bucket(deployed: Run) -> None:
    s = _statements(deployed, "etl-transform-policy")
    scratch = deployed.one(BUCKET, "etl-scratch").outputs["bucket"]
    assert s["ReadInputs0"]["Resource"] == [*_object_keys(f"arn:aws:s3:::{scratch}/*/staged")]
    assert s["ListInputs0"]["Resource"] == [f"arn:aws:s3:::{scratch}"]
    assert s["ListInputs0"]["Condition"] == {"StringLike": {"s3:prefix": ["*/staged."]}}
    # The bucket name came from a Pulumi output and was resolved into the ARN.
    assert s["WriteOutputs0"]["Resource"] == [
        *_object_keys("arn:aws:s3:::prod-reports/daily/report")
    ]
    assert "XRayTracing" not in s
    assert "OwnLogGroup" not in s  # ECS writes a container's logs with the execution role


def test_no_data_action_has_a_wildcard_resource(deployed: Run) -> None:
    policies = deployed.of_type(ROLE_POLICY)
    assert len(policies) >= 5
    for policy in policies:
        for statement in _data_statements(json.loads(policy.inputs["policy"])):
            for resource in _as_list(statement["Resource"]):
                assert resource != "*", (policy.name, statement)
                assert resource.startswith("arn:aws:s3:::prod-") or "etl-scratch" in resource
        for statement in json.loads(policy.inputs["policy"])["Statement"]:
            for action in _as_list(statement["Action"]):
                assert "*" not in action, (policy.name, action)


def test_each_role_writes_only_its_own_log_group(deployed: Run) -> None:
    """The Lambda task's role and the container's execution role, which writes its logs."""
    for task, policy in (
        ("etl-extract", "etl-extract"),
        ("etl-transform", "etl-transform-execution"),
    ):
        group = deployed.one(LOG_GROUP, f"{task}-logs")
        statement = _statements(deployed, f"{policy}-policy")["OwnLogGroup"]
        assert statement["Resource"] == [group.outputs["arn"] + ":*"]
        assert statement["Action"] == ["logs:CreateLogStream", "logs:PutLogEvents"]


def test_roles_use_role_policies_not_inline_policies(deployed: Run) -> None:
    roles = deployed.of_type(ROLE)
    assert len(roles) == 5  # 2 task roles, 1 execution role, state machine, schedule
    for role in roles:
        assert "inlinePolicies" not in role.inputs, role.name
        assert "managedPolicyArns" not in role.inputs, role.name
        assert [p for p in deployed.of_type(ROLE_POLICY) if p.inputs["role"] == role.id]
    trust = json.loads(deployed.one(ROLE, "etl-extract-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}


# -- Lambda, log groups, Fargate ------------------------------------------------------------


def test_lambda_function_configuration(deployed: Run) -> None:
    from glacier_aws.deploy import LAMBDA_RUNTIMES

    function = deployed.one(FUNCTION).inputs
    assert function["runtime"] in LAMBDA_RUNTIMES
    assert (function["memorySize"], function["timeout"]) == (1024, 120)
    assert function["tracingConfig"] == {"mode": "Active"}
    assert function["handler"] == "glacier_handler.handler"
    assert function["role"] == deployed.one(ROLE, "etl-extract-role").outputs["arn"]
    assert function["loggingConfig"]["logGroup"] == "/glacier/test/etl-extract-logs"
    variables = function["environment"]["variables"]
    scratch = deployed.one(BUCKET, "etl-scratch").outputs["bucket"]
    assert variables["GLACIER_TASK"] == "extract"
    assert variables["GLACIER_PIPELINE"] == "etl"
    assert variables["GLACIER_SCRATCH_BUCKET"] == scratch
    assert json.loads(variables["GLACIER_BUCKETS"]) == {"raw": "prod-raw"}


def test_no_public_lambda_permission_is_created(deployed: Run) -> None:
    assert not [r for r in deployed if r.type.startswith("aws:lambda/permission")]


def test_log_groups_have_retention(deployed: Run) -> None:
    groups = deployed.of_type(LOG_GROUP)
    assert len(groups) == 3
    for group in groups:
        # Security Hub CloudWatch.16: at least 365 days by default
        assert group.inputs["retentionInDays"] == 365
    state_logs = deployed.one(LOG_GROUP, "etl-sfn-logs")
    assert state_logs.inputs["name"].startswith("/aws/vendedlogs/states/")


def test_log_retention_is_overridable_per_component(tmp_path: Path) -> None:
    from glacier_aws.deploy import FargateTask, LambdaTask, PipelineStateMachine, log_group

    def program() -> None:
        log_group("plain", retention_days=7)
        LambdaTask("l", pipeline="p", task="t", code=str(tmp_path), log_retention_days=14)
        FargateTask("f", pipeline="p", task="t", image="img", log_retention_days=90)
        PipelineStateMachine(
            "m", definition={"StartAt": "a", "States": {}}, log_retention_days=3653
        )

    run = run_program(program)
    days = {g.name: g.inputs["retentionInDays"] for g in run.of_type(LOG_GROUP)}
    assert days == {"plain": 7, "l-logs": 14, "f-logs": 90, "m-sfn-logs": 3653}


def test_fargate_task_definition(deployed: Run) -> None:
    definition = deployed.one(TASK_DEFINITION).inputs
    assert definition["requiresCompatibilities"] == ["FARGATE"]
    assert definition["networkMode"] == "awsvpc"
    assert (definition["cpu"], definition["memory"]) == ("512", "1024")
    assert definition["taskRoleArn"] == deployed.one(ROLE, "etl-transform-role").outputs["arn"]
    assert (
        definition["executionRoleArn"]
        == deployed.one(ROLE, "etl-transform-execution-role").outputs["arn"]
    )
    assert definition["family"] == "etl-transform"
    (container,) = json.loads(definition["containerDefinitions"])
    assert container["name"] == "task"
    assert container["command"] == ["python", "-m", "glacier_handler", "transform"]
    assert container["readonlyRootFilesystem"] is True
    assert container["privileged"] is False
    assert container["user"] == "1000:1000"  # non-root (Security Hub ECS.20)
    assert container["logConfiguration"]["options"]["awslogs-group"] == (
        "/glacier/test/etl-transform-logs"
    )
    assert container["logConfiguration"]["options"]["awslogs-region"] == REGION
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["GLACIER_TASK"] == "transform"
    assert json.loads(env["GLACIER_BUCKETS"]) == {"report": "prod-reports"}
    cluster = deployed.one("aws:ecs/cluster:Cluster").inputs
    assert cluster["settings"] == [{"name": "containerInsights", "value": "enabled"}]


def test_fargate_container_user_is_overridable() -> None:
    from glacier_aws.deploy import FargateTask

    def program() -> None:
        FargateTask("own", pipeline="p", task="t", image="img", user="app")
        FargateTask("image-user", pipeline="p", task="t", image="img", user=None)

    run = run_program(program)
    containers = {
        r.name: json.loads(r.inputs["containerDefinitions"])[0]
        for r in run.of_type(TASK_DEFINITION)
    }
    assert containers["own-task"]["user"] == "app"
    assert "user" not in containers["image-user-task"]


# -- scratch bucket -------------------------------------------------------------------------


def test_scratch_bucket_has_secure_defaults_and_expires(deployed: Run) -> None:
    bucket = deployed.one(BUCKET, "etl-scratch")
    assert bucket.inputs["bucketPrefix"] == "etl-scratch-"
    assert bucket.tags == TAGS
    children = {r.type.split(":")[-1]: r for r in deployed if r.name.startswith("etl-scratch-")}
    block = children["BucketPublicAccessBlock"].inputs
    assert all(
        block[f] is True
        for f in (
            "blockPublicAcls",
            "blockPublicPolicy",
            "ignorePublicAcls",
            "restrictPublicBuckets",
        )
    )
    assert children["BucketOwnershipControls"].inputs["rule"]["objectOwnership"] == (
        "BucketOwnerEnforced"
    )
    sse = children["BucketServerSideEncryptionConfiguration"].inputs["rules"][0]
    assert sse["applyServerSideEncryptionByDefault"]["sseAlgorithm"] == "AES256"
    assert children["BucketVersioning"].inputs["versioningConfiguration"]["status"] == "Enabled"
    policy = json.loads(children["BucketPolicy"].inputs["policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    (rule,) = children["BucketLifecycleConfiguration"].inputs["rules"]
    assert rule["status"] == "Enabled"
    assert rule["expiration"] == {"days": 3}
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 1}
    assert rule["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 1}


# -- state machine, schedule, exports -------------------------------------------------------


def test_state_machine_definition_has_real_arns(deployed: Run) -> None:
    machine = deployed.one(STATE_MACHINE).inputs
    text = machine["definition"]
    assert "${" not in text
    definition = json.loads(text)
    function_arn = deployed.one(FUNCTION).outputs["arn"]
    assert definition["States"]["extract"]["Parameters"]["FunctionName"] == function_arn
    params = definition["States"]["transform"]["Parameters"]
    assert params["TaskDefinition"] == deployed.one(TASK_DEFINITION).outputs["arn"]
    assert params["Cluster"] == deployed.one("aws:ecs/cluster:Cluster").outputs["arn"]
    assert params["NetworkConfiguration"]["AwsvpcConfiguration"] == {
        "Subnets": ["subnet-1", "subnet-2"],
        "AssignPublicIp": "DISABLED",
    }


def test_state_machine_logging_and_tracing(deployed: Run) -> None:
    machine = deployed.one(STATE_MACHINE).inputs
    group = deployed.one(LOG_GROUP, "etl-sfn-logs")
    assert machine["loggingConfiguration"]["level"] == "ALL"
    assert machine["loggingConfiguration"]["logDestination"] == group.outputs["arn"] + ":*"
    assert machine["tracingConfiguration"] == {"enabled": True}
    assert machine["roleArn"] == deployed.one(ROLE, "etl-sfn-role").outputs["arn"]
    # payloads may be sensitive: not logged unless the user opts in
    assert machine["loggingConfiguration"]["includeExecutionData"] is False


def test_state_machine_logs_execution_data_only_when_asked() -> None:
    from glacier_aws.deploy import PipelineStateMachine

    def program() -> None:
        PipelineStateMachine(
            "m", definition={"StartAt": "a", "States": {}}, include_execution_data=True
        )

    machine = run_program(program).one(STATE_MACHINE).inputs
    assert machine["loggingConfiguration"]["includeExecutionData"] is True


def test_state_machine_role_invokes_exactly_the_task_functions(deployed: Run) -> None:
    s = _statements(deployed, "etl-sfn-policy")
    function_arn = deployed.one(FUNCTION).outputs["arn"]
    assert s["InvokeTaskFunctions"]["Action"] == ["lambda:InvokeFunction"]
    assert s["InvokeTaskFunctions"]["Resource"] == [function_arn, function_arn + ":*"]
    task = deployed.one(TASK_DEFINITION).outputs
    cluster_arn = deployed.one("aws:ecs/cluster:Cluster").outputs["arn"]
    assert s["RunTaskDefinitions"]["Resource"] == [task["arnWithoutRevision"] + ":*"]
    assert s["RunTaskDefinitions"]["Condition"] == {"ArnEquals": {"ecs:cluster": cluster_arn}}
    assert s["PassTaskRoles"]["Resource"] == [
        deployed.one(ROLE, "etl-transform-role").outputs["arn"],
        deployed.one(ROLE, "etl-transform-execution-role").outputs["arn"],
    ]
    # the tasks of this cluster only: their ARNs are known at run time
    cluster_name = cluster_arn.rsplit("/", 1)[1]
    assert s["WatchTasks"]["Action"] == ["ecs:StopTask", "ecs:DescribeTasks"]
    assert s["WatchTasks"]["Resource"] == [f"arn:aws:ecs:{REGION}:{ACCOUNT}:task/{cluster_name}/*"]
    assert s["SyncTaskEvents"]["Resource"] == [
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/StepFunctionsGetEventsForECSTaskRule"
    ]


def test_schedule_starts_exactly_the_state_machine(deployed: Run) -> None:
    machine_arn = deployed.one(STATE_MACHINE).outputs["arn"]
    rule = deployed.one("aws:cloudwatch/eventRule:EventRule").inputs
    assert rule["scheduleExpression"] == "rate(1 hour)"
    target = deployed.one("aws:cloudwatch/eventTarget:EventTarget").inputs
    assert target["arn"] == machine_arn
    assert target["rule"] == deployed.one("aws:cloudwatch/eventRule:EventRule").outputs["name"]
    assert target["roleArn"] == deployed.one(ROLE, "etl-schedule-role").outputs["arn"]
    assert "StartPipeline" not in _statements(deployed, "etl-sfn-policy")
    policy = deployed.one(ROLE_POLICY, "etl-schedule-policy")
    assert policy.parent_type == "glacier:aws:PipelineSchedule"
    (statement,) = json.loads(policy.inputs["policy"])["Statement"]
    assert statement["Action"] == ["states:StartExecution"]
    assert statement["Resource"] == [machine_arn]


def test_exports_state_machine_and_every_bucket(deployed: Run) -> None:
    scratch = deployed.one(BUCKET, "etl-scratch").outputs["bucket"]
    assert deployed.exports == {
        "state_machine_arn": deployed.one(STATE_MACHINE).outputs["arn"],
        "buckets": {"raw": "prod-raw", "report": "prod-reports", "scratch": scratch},
    }


# -- across the whole deployment ------------------------------------------------------------


def _task_tags(resource: Any, tags: dict[str, str], pipeline: str) -> dict[str, str]:
    """``tags``, plus the deployment tags on the resources of a task (`LambdaTask`,
    `FargateTask`): the state machine of a large pipeline is allowed what carries them."""
    if resource.parent_type in (
        "glacier:aws:LambdaTask",
        "glacier:aws:FargateTask",
        "glacier:aws:TaskRole",
    ):
        return {**tags, "glacier:pipeline": pipeline, "glacier:stack": "test"}
    return tags


def test_every_taggable_resource_is_tagged(deployed: Run) -> None:
    taggable = [r for r in deployed if r.custom and is_taggable(r.type)]
    assert {FUNCTION, ROLE, LOG_GROUP, TASK_DEFINITION, STATE_MACHINE, BUCKET} <= {
        r.type for r in taggable
    }
    for resource in taggable:
        if resource.name == "reports":  # the user's raw bucket: untouched
            continue
        assert resource.tags == _task_tags(resource, TAGS, "etl"), (resource.type, resource.name)
    function = deployed.one(FUNCTION, "etl-extract-function")
    assert function.tags["glacier:pipeline"] == "etl"  # the test above is not vacuous


def test_every_resource_uses_the_environment_provider(deployed: Run) -> None:
    provider = deployed.one("pulumi:providers:aws")
    assert provider.input("region") == REGION
    for resource in deployed:
        if resource.custom and resource.type != "pulumi:providers:aws":
            assert resource.provider_urn == provider.urn, resource.name


def test_no_deprecated_resource_types(deployed: Run) -> None:
    assert not [r for r in deployed if r.type.endswith("V2") or "bucketV2" in r.type]
    for bucket in deployed.of_type(BUCKET):
        assert "versioning" not in bucket.inputs and "acl" not in bucket.inputs


# -- components on their own, and their errors ----------------------------------------------


def test_task_role_on_its_own_groups_datasets_by_bucket() -> None:
    from glacier_aws.deploy import DatasetLocation, TaskRole

    def program() -> None:
        TaskRole(
            "solo",
            reads=[DatasetLocation("a", "b1"), DatasetLocation("b", "b1", "x//y/")],
            writes=[DatasetLocation("c", "b2", "./out")],
            log_group_arn="arn:aws:logs:us-east-1:123456789012:log-group:/g",
        )

    s = _statements(run_program(program), "solo-policy")
    assert s["ReadInputs0"]["Resource"] == [
        *_object_keys("arn:aws:s3:::b1/a"),
        *_object_keys("arn:aws:s3:::b1/x/y/b"),
    ]
    assert s["ListInputs0"]["Condition"]["StringLike"]["s3:prefix"] == ["a.", "x/y/b."]
    assert s["WriteOutputs0"]["Resource"] == [*_object_keys("arn:aws:s3:::b2/out/c")]
    assert s["OwnLogGroup"]["Resource"] == ["arn:aws:logs:us-east-1:123456789012:log-group:/g:*"]


def test_kms_statements_name_each_key_once_per_direction() -> None:
    """Plain data, no program: keys by direction, deduplicated, the region spelled out."""
    from glacier_aws.deploy import DatasetLocation, dataset_statements

    key_a = "arn:aws:kms:eu-west-1:111122223333:key/a"
    key_b = "arn:aws:kms:eu-west-1:111122223333:key/b"
    reads = [
        DatasetLocation("x", "vault", kms_key=key_a),
        DatasetLocation("y", "vault", kms_key=key_a),
        DatasetLocation("z", "plain"),
    ]
    writes = [DatasetLocation("w", "other", kms_key=key_b), DatasetLocation("e")]
    statements = {
        s["Sid"]: s for s in dataset_statements(reads, writes, "scratch", region="eu-west-1")
    }
    via = {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    assert statements["DecryptInputs"] == {
        "Sid": "DecryptInputs",
        "Effect": "Allow",
        "Action": ["kms:Decrypt"],
        "Resource": [key_a],
        "Condition": via,
    }
    assert statements["EncryptOutputs"] == {
        "Sid": "EncryptOutputs",
        "Effect": "Allow",
        "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
        "Resource": [key_b],
        "Condition": via,
    }
    # no key, no KMS statement; and a key needs the region of its condition
    plain = dataset_statements([DatasetLocation("z", "plain")], [], region="eu-west-1")
    assert all(not a.startswith("kms:") for s in plain for a in s["Action"])
    with pytest.raises(ValueError, match="region"):
        dataset_statements(reads, [])


def test_task_role_scopes_an_output_key_to_s3_of_its_own_region() -> None:
    import pulumi
    import pulumi_aws as aws

    from glacier_aws.deploy import DatasetLocation, TaskRole

    def program() -> None:
        env = Environment(ACCOUNT, "ap-southeast-2", "syd")
        opts = pulumi.ResourceOptions(provider=env.provider)
        key = aws.kms.Key("syd-key", opts=opts)
        group = aws.cloudwatch.LogGroup("syd-logs", opts=opts)
        TaskRole(
            "kms-writer",
            reads=[DatasetLocation("in", "syd-in", kms_key=key.arn)],
            writes=[DatasetLocation("out", "syd-out", kms_key=key.arn)],
            log_group_arn=group.arn,
            opts=opts,
        )

    s = _statements(run_program(program), "kms-writer-policy")
    key = f"arn:aws:kms:ap-southeast-2:{ACCOUNT}:key/syd-key"
    via = {"StringEquals": {"kms:ViaService": "s3.ap-southeast-2.amazonaws.com"}}
    assert (s["DecryptInputs"]["Resource"], s["DecryptInputs"]["Condition"]) == ([key], via)
    assert s["EncryptOutputs"]["Action"] == ["kms:GenerateDataKey", "kms:Decrypt"]
    assert (s["EncryptOutputs"]["Resource"], s["EncryptOutputs"]["Condition"]) == ([key], via)


def test_a_task_without_datasets_gets_no_data_statement() -> None:
    from glacier_aws.deploy import TaskRole

    run = run_program(lambda: TaskRole("idle", log_group_arn="arn:aws:logs:r:1:log-group:g"))
    assert _data_statements(_policy(run, "idle-policy")) == []


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (
            lambda d: d.TaskRole(
                "x", reads=[d.DatasetLocation("tmp")], log_group_arn="arn:aws:logs:r:1:log-group:g"
            ),
            "no scratch bucket",
        ),
        (
            lambda d: d.LambdaTask("x", pipeline="p", task="t", code="/tmp", runtime="python3.8"),
            "runtime",
        ),
        (
            lambda d: d.LambdaTask("x", pipeline="p", task="t", code="/tmp", timeout_s=3600),
            "timeout_s",
        ),
        (
            lambda d: d.PipelineSchedule("x", schedule_expression="hourly", state_machine_arn="a"),
            "invalid schedule",
        ),
        (
            lambda d: d.PipelineStateMachine("x", definition=DEFINITION, functions={}),
            "no function or task",
        ),
        (
            lambda d: d.PipelineStateMachine(
                "x", definition={"StartAt": "a", "States": {"a": {"X": "${nope}"}}}
            ),
            "unresolved placeholders",
        ),
        (
            lambda d: d.PipelineStateMachine(
                "x", definition={"StartAt": "a", "States": {}}, log_level="OFF"
            ),
            "StepFunctions.1",
        ),
        (lambda d: d.log_group("x", retention_days=0), "retention_days"),
        (lambda d: d.DatasetLocation("a*", "bucket"), "wildcards or variables"),
        (lambda d: d.DatasetLocation("${aws:username}", "b"), "wildcards or variables"),
        (lambda d: d.DatasetLocation("d", "b", prefix="x/?"), "wildcards or variables"),
        (lambda d: d.DatasetLocation("", "b"), "invalid dataset name"),
    ],
)
def test_component_errors(make: Any, match: str) -> None:
    import glacier_aws.deploy as d

    def program() -> None:
        make(d)

    with pytest.raises((ValueError, TypeError), match=match):
        run_program(program)


def test_scratch_bucket_prefix_is_a_valid_bucket_name_start() -> None:
    from glacier_aws.deploy import ScratchBucket

    run = run_program(lambda: ScratchBucket("Sales_Pipeline__scratch-and-more-text"))
    prefix = run.one(BUCKET).inputs["bucketPrefix"]
    assert prefix == "sales-pipeline-scratch-and-mor-"
    assert len(prefix) <= 37


def test_dataset_location_patterns() -> None:
    from glacier_aws.deploy import DatasetLocation

    extensions = [".json", ".parquet", ".bin", ".pkl", ".csv"]
    assert DatasetLocation("d", "b", "p/q").object_keys() == [f"p/q/d{e}" for e in extensions]
    assert DatasetLocation("d", "b", "p/q").list_prefix() == "p/q/d."
    assert DatasetLocation("d", "b").object_keys() == [f"d{e}" for e in extensions]
    assert DatasetLocation("d").object_keys() == [f"*/d{e}" for e in extensions]
    # `d.eu`'s objects are no keys of `d`: `d.*` would have matched them
    assert not {f"d.eu{e}" for e in extensions} & set(DatasetLocation("d", "b").object_keys())
    assert DatasetLocation("d").ephemeral and not DatasetLocation("d", "b").ephemeral


def test_recorded_resource_helpers(deployed: Run) -> None:
    function: RecordedResource = deployed.one(FUNCTION)
    assert function.parent_type == "glacier:aws:LambdaTask"
    assert Path(str(function.inputs["code"].path)).name.startswith("bundle")


def test_default_environment_wiring_without_an_environment(tmp_path: Path) -> None:
    """The `default` program: no Environment, the stack's default provider, a URL secret."""
    import pulumi

    from glacier_aws import deploy

    def program() -> None:
        tags = {"glacier:environment": "default", "managed-by": "glacier"}
        opts = pulumi.ResourceOptions(provider=None)
        scratch = deploy.ScratchBucket("sales-scratch", tags=tags, opts=opts)
        landing = deploy.secure_bucket("sales-landing", bucket="sales-landing", tags=tags)
        url = deploy.DatabaseUrlSecret(
            "sales-database-url",
            url=pulumi.Output.secret("postgresql://u:p@db/sales"),
            tags=tags,
            opts=opts,
        )
        task = deploy.LambdaTask(
            "sales-load",
            pipeline="sales",
            task="load",
            code=pulumi.FileArchive(str(tmp_path)),
            reads=[deploy.DatasetLocation("orders", bucket="sales-landing")],
            scratch_bucket=scratch.name,
            databases=[url],
            tags=tags,
            opts=opts,
        )
        machine = deploy.PipelineStateMachine(
            "sales",
            definition={
                "StartAt": "load",
                "States": {
                    "load": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::lambda:invoke",
                        "Parameters": {"FunctionName": "${function:load}"},
                        "End": True,
                    }
                },
            },
            functions={"load": task},
            tags=tags,
            opts=opts,
        )
        deploy.export_deployment(
            state_machine_arn=machine.arn,
            buckets={"glacier:scratch": scratch.name, "orders": landing["bucket"].bucket},
        )

    run = run_program(program)
    assert not run.of_type("pulumi:providers:aws")
    assert all(r.provider is None for r in run if r.custom)
    for resource in run:
        if resource.custom and is_taggable(resource.type):
            default = {"glacier:environment": "default", "managed-by": "glacier"}
            assert resource.tags == _task_tags(resource, default, "sales")
    function = run.one(FUNCTION)
    variables = function.inputs["environment"]["variables"]
    assert variables["GLACIER_DATABASE_URL_SECRET_ARN"] == run.one(SECRET).outputs["arn"]
    assert "postgresql://" not in json.dumps(variables)
    assert run.one(SECRET_VERSION).secrets == {"secretString"}  # a secret in the state
    scratch = run.one(BUCKET, "sales-scratch").outputs["bucket"]
    assert scratch.startswith("sales-scratch-") and len(scratch) == len("sales-scratch-") + 26
    assert run.exports["buckets"] == {"glacier:scratch": scratch, "orders": "sales-landing"}
    assert {r.type.split(":")[-1] for r in run if r.name.startswith("sales-landing")} >= {
        "Bucket",
        "BucketPublicAccessBlock",
        "BucketPolicy",
        "BucketVersioning",
        "BucketOwnershipControls",
        "BucketServerSideEncryptionConfiguration",
    }


def test_secret_inputs_are_recorded_unwrapped_and_marked() -> None:
    import pulumi
    import pulumi_aws as aws

    def program() -> Any:
        group = aws.cloudwatch.LogGroup("g", name=pulumi.Output.secret("hidden"))
        return group.name

    run = run_program(program)
    assert run.one(LOG_GROUP).inputs["name"] == "hidden"
    assert run.one(LOG_GROUP).secrets == {"name"}


def test_service_roles_guard_against_the_confused_deputy(deployed: Run) -> None:
    trust = json.loads(deployed.one(ROLE, "etl-sfn-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "states.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": f"arn:aws:states:*:{ACCOUNT}:stateMachine:*"},
    }
    rule_arn = deployed.one("aws:cloudwatch/eventRule:EventRule").outputs["arn"]
    trust = json.loads(deployed.one(ROLE, "etl-schedule-role").inputs["assumeRolePolicy"])
    (statement,) = trust["Statement"]
    assert statement["Principal"] == {"Service": "events.amazonaws.com"}
    assert statement["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {"aws:SourceArn": rule_arn},
    }


def test_task_roles_trust_their_service_for_their_own_account_only(deployed: Run) -> None:
    """Lambda and ECS may assume a task's roles only on behalf of the role's account; ECS,
    for a task role, only for that account's ECS resources in the task's region."""
    ecs_scope = {"ArnLike": {"aws:SourceArn": f"arn:aws:ecs:{REGION}:{ACCOUNT}:*"}}
    expected = {
        "etl-extract-role": ("lambda.amazonaws.com", {}),
        "etl-transform-role": ("ecs-tasks.amazonaws.com", ecs_scope),
        "etl-transform-execution-role": ("ecs-tasks.amazonaws.com", {}),
    }
    for role, (service, narrower) in expected.items():
        trust = json.loads(deployed.one(ROLE, role).inputs["assumeRolePolicy"])
        (statement,) = trust["Statement"]
        assert statement["Principal"] == {"Service": service}, role
        assert statement["Action"] == "sts:AssumeRole"
        assert statement["Condition"] == {
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
            **narrower,
        }, role


def test_every_role_trust_policy_names_the_source_account(deployed: Run) -> None:
    roles = deployed.of_type(ROLE)
    for role in roles:
        (statement,) = json.loads(role.inputs["assumeRolePolicy"])["Statement"]
        assert statement["Condition"]["StringEquals"] == {"aws:SourceAccount": ACCOUNT}, role.name


def test_every_test_the_docs_name_as_proof_exists() -> None:
    """docs/deploy-aws.md proves each control with a named test: the names must stay real."""
    import re

    root = Path(__file__).resolve().parent.parent
    docs = (root / "docs" / "deploy-aws.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`(test_\w+)`", docs))
    assert len(named) >= 15
    defined = set()
    modules = (
        "test_aws_environment.py",
        "test_aws_deploy.py",
        "test_aws_program.py",
        "test_handler.py",
        "test_rehearse.py",
    )
    tests_of: dict[str, set[str]] = {}
    for module in modules:
        source = (root / "tests" / module).read_text(encoding="utf-8")
        tests_of[module] = set(re.findall(r"^def (test_\w+)\(", source, re.MULTILINE))
        defined |= tests_of[module]
    assert named <= defined, sorted(named - defined)
    # "env `test_a`, `test_b`; deploy `test_c`": each in the file its abbreviation names
    files = {
        "env": "test_aws_environment.py",
        "deploy": "test_aws_deploy.py",
        "programs": "test_aws_program.py",
    }
    placed = 0
    for where, names in re.findall(r"\b(env|deploy|programs) ((?:`test_\w+`(?:, )?)+)", docs):
        for name in re.findall(r"`(test_\w+)`", names):
            assert name in tests_of[files[where]], f"{where} `{name}`"
            placed += 1
    assert placed >= 40


# -- tasks that touch a database ------------------------------------------------------------

DATABASE_URL = "postgresql://loader:s3cr3t-p%40ss@db.internal:5432/shop"
SUBNETS = ["subnet-0a1b2c3d", "subnet-4e5f6a7b"]

DATABASE_DEFINITION = {
    "StartAt": "load",
    "States": {
        "load": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${function:load}"},
            "Next": "rank",
        },
        "rank": {
            "Type": "Task",
            "Resource": "arn:aws:states:::ecs:runTask.sync",
            "Parameters": {
                "LaunchType": "FARGATE",
                "Cluster": "${cluster}",
                "TaskDefinition": "${task_definition:rank}",
                "NetworkConfiguration": {
                    "AwsvpcConfiguration": {
                        "Subnets": "${subnets}",
                        "SecurityGroups": "${security_groups}",
                        "AssignPublicIp": "${assign_public_ip}",
                    }
                },
            },
            "Next": "notify",
        },
        "notify": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "${function:notify}"},
            "End": True,
        },
    },
}


def _database_program(bundle: str) -> Any:
    """The wiring a generated program does for tables in `Environment.rds` and `Database`."""

    def program() -> None:
        import pulumi

        from glacier_aws import deploy

        env = Environment(ACCOUNT, REGION, "prod", tags={"team": "data"})
        opts = pulumi.ResourceOptions(provider=env.provider)
        tags = env.default_tags
        warehouse = env.rds("warehouse")
        subnets = pulumi.Config("glacier").require_object("subnets")
        scratch = deploy.ScratchBucket("shop-scratch", tags=tags, opts=opts)
        network = deploy.TaskNetwork("shop-network", subnets=subnets, tags=tags, opts=opts)
        rds = deploy.RdsAccess(
            "shop-db-warehouse",
            instance=warehouse.resource,
            security_group=warehouse.resources["security_group"],
            tasks_security_group=network.security_group,
            tags=tags,
            opts=opts,
        )
        url = deploy.DatabaseUrlSecret(
            "shop-database-url",
            url=pulumi.Config("glacier").require_secret("databaseUrl"),
            tags=tags,
            opts=opts,
        )
        load = deploy.LambdaTask(
            "shop-load",
            pipeline="shop",
            task="load",
            code=bundle,
            scratch_bucket=scratch.name,
            databases=[rds, url],
            network=network,
            tags=tags,
            opts=opts,
        )
        rank = deploy.FargateTask(
            "shop-rank",
            pipeline="shop",
            task="rank",
            image="python:3.12-slim",
            scratch_bucket=scratch.name,
            databases=[rds],
            tags=tags,
            opts=opts,
        )
        notify = deploy.LambdaTask(
            "shop-notify",
            pipeline="shop",
            task="notify",
            code=bundle,
            writes=[deploy.DatasetLocation("sent")],
            scratch_bucket=scratch.name,
            tags=tags,
            opts=opts,
        )
        machine = deploy.PipelineStateMachine(
            "shop",
            definition=DATABASE_DEFINITION,
            functions={"load": load, "notify": notify},
            task_definitions={"rank": rank},
            cluster=deploy.ecs_cluster("shop-cluster", tags=tags, opts=opts),
            subnets=subnets,
            security_groups=[network.security_group_id],
            tags=tags,
            opts=opts,
        )
        deploy.export_deployment(
            state_machine_arn=machine.arn,
            buckets={"glacier:scratch": scratch.name},
            task_security_group=network.security_group_id,
        )

    return program


@pytest.fixture(scope="module")
def with_databases(tmp_path_factory: pytest.TempPathFactory) -> Run:
    bundle = tmp_path_factory.mktemp("bundle")
    (bundle / "glacier_handler.py").write_text("def handler(event, context):\n    return {}\n")
    config = {"glacier:subnets": json.dumps(SUBNETS), "glacier:databaseUrl": DATABASE_URL}
    return run_program(
        _database_program(str(bundle)), config=config, secrets=["glacier:databaseUrl"]
    )


def _rds_secret_arn(run: Run) -> str:
    (secret,) = run.one("aws:rds/instance:Instance").outputs["masterUserSecrets"]
    return str(secret["secretArn"])


def test_task_network_is_one_egress_only_security_group(with_databases: Run) -> None:
    from _pulumi_mocks import VPC

    tasks = with_databases.one(SECURITY_GROUP, "shop-network-tasks")
    assert tasks.inputs["vpcId"] == VPC  # the VPC of the first subnet
    assert "ingress" not in tasks.inputs and "egress" not in tasks.inputs
    (egress,) = with_databases.of_type(EGRESS)
    assert egress.inputs["securityGroupId"] == tasks.id
    assert (egress.inputs["ipProtocol"], egress.inputs["cidrIpv4"]) == ("-1", "0.0.0.0/0")
    # Nothing admits traffic into the tasks' group.
    assert tasks.id not in [r.inputs["securityGroupId"] for r in with_databases.of_type(INGRESS)]
    assert with_databases.exports["task_security_group"] == tasks.id


def test_rds_instance_admits_only_the_task_security_group(with_databases: Run) -> None:
    tasks = with_databases.one(SECURITY_GROUP, "shop-network-tasks")
    database = with_databases.one(SECURITY_GROUP, "warehouse-db")
    instance = with_databases.one("aws:rds/instance:Instance")
    assert instance.inputs["vpcSecurityGroupIds"] == [database.id]
    (ingress,) = with_databases.of_type(INGRESS)
    assert ingress.inputs == {
        "securityGroupId": database.id,
        "referencedSecurityGroupId": tasks.id,
        "ipProtocol": "tcp",
        "fromPort": 5433,
        "toPort": 5433,
        "description": "glacier pipeline tasks",
        "tags": TAGS,
    }


def test_database_lambda_role_reads_exactly_its_secrets_and_attaches_to_the_vpc(
    with_databases: Run,
) -> None:
    url_secret = with_databases.one(SECRET, "shop-database-url-secret").outputs["arn"]
    log_group = with_databases.one(LOG_GROUP, "shop-load-logs").outputs["arn"]
    assert _policy(with_databases, "shop-load-policy")["Statement"] == [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [log_group + ":*"],
        },
        {
            "Sid": "XRayTracing",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        },
        {
            "Sid": "ReadRdsSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [_rds_secret_arn(with_databases)],
        },
        {
            "Sid": "ReadDatabaseUrlSecret",
            "Effect": "Allow",
            "Action": ["secretsmanager:GetSecretValue"],
            "Resource": [url_secret],
        },
        {
            "Sid": "VpcNetworkInterfaces",
            "Effect": "Allow",
            "Action": [
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            "Resource": [f"arn:aws:ec2:{REGION}:{ACCOUNT}:network-interface/*"],
        },
        {
            "Sid": "VpcCreateNetworkInterface",
            "Effect": "Allow",
            "Action": ["ec2:CreateNetworkInterface"],
            "Resource": [
                f"arn:aws:ec2:{REGION}:{ACCOUNT}:{kind}/*"
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


def test_database_lambda_runs_in_the_vpc_with_secret_arns_not_passwords(
    with_databases: Run,
) -> None:
    instance = with_databases.one("aws:rds/instance:Instance").outputs
    tasks = with_databases.one(SECURITY_GROUP, "shop-network-tasks")
    function = with_databases.one(FUNCTION, "shop-load-function")
    assert function.inputs["vpcConfig"] == {"subnetIds": SUBNETS, "securityGroupIds": [tasks.id]}
    variables = function.inputs["environment"]["variables"]
    scratch = with_databases.one(BUCKET, "shop-scratch").outputs["bucket"]
    assert variables == {
        "GLACIER_PIPELINE": "shop",
        "GLACIER_TASK": "load",
        "GLACIER_SCRATCH_BUCKET": scratch,
        "GLACIER_DATABASE_SECRET_ARN": _rds_secret_arn(with_databases),
        "GLACIER_DATABASE_HOST": instance["address"],
        "GLACIER_DATABASE_PORT": "5433",
        "GLACIER_DATABASE_NAME": "warehouse",
        "GLACIER_DATABASE_URL_SECRET_ARN": with_databases.one(SECRET).outputs["arn"],
    }
    assert "environment" not in function.secrets  # nothing secret in it to protect
    # The role's policy exists before Lambda checks its network-interface permissions.
    assert function.parent_type == "glacier:aws:LambdaTask"


def test_tasks_without_a_database_stay_out_of_the_vpc(with_databases: Run) -> None:
    function = with_databases.one(FUNCTION, "shop-notify-function")
    assert "vpcConfig" not in function.inputs
    assert not [k for k in function.inputs["environment"]["variables"] if "DATABASE" in k]
    actions = {
        action
        for statement in _policy(with_databases, "shop-notify-policy")["Statement"]
        for action in _as_list(statement["Action"])
    }
    assert not [a for a in actions if a.startswith(("ec2:", "secretsmanager:"))]


def test_url_secret_holds_the_stack_secret_and_stays_secret(with_databases: Run) -> None:
    secret = with_databases.one(SECRET, "shop-database-url-secret")
    version = with_databases.one(SECRET_VERSION, "shop-database-url-version")
    assert version.inputs["secretId"] == secret.id
    assert version.inputs["secretString"] == DATABASE_URL
    assert version.secrets == {"secretString"}
    # The URL is in no other resource (no environment variable, no task definition).
    for resource in with_databases:
        if resource is not version:
            assert "s3cr3t" not in json.dumps(resource.inputs, default=str), resource.name


def test_fargate_database_task_reads_the_rds_secret_in_the_task_security_group(
    with_databases: Run,
) -> None:
    definition = with_databases.one(TASK_DEFINITION).inputs
    (container,) = json.loads(definition["containerDefinitions"])
    env = {e["name"]: e["value"] for e in container["environment"]}
    assert env["GLACIER_DATABASE_SECRET_ARN"] == _rds_secret_arn(with_databases)
    assert env["GLACIER_DATABASE_PORT"] == "5433"
    assert "GLACIER_DATABASE_URL_SECRET_ARN" not in env
    s = _statements(with_databases, "shop-rank-policy")
    assert s["ReadRdsSecret"]["Resource"] == [_rds_secret_arn(with_databases)]
    assert "VpcNetworkInterfaces" not in s  # ECS attaches Fargate tasks, not the task role
    machine = json.loads(with_databases.one(STATE_MACHINE).inputs["definition"])
    network = machine["States"]["rank"]["Parameters"]["NetworkConfiguration"]
    tasks = with_databases.one(SECURITY_GROUP, "shop-network-tasks")
    assert network["AwsvpcConfiguration"] == {
        "Subnets": SUBNETS,
        "SecurityGroups": [tasks.id],
        "AssignPublicIp": "DISABLED",
    }


def test_database_resources_are_tagged_and_use_the_environment_provider(
    with_databases: Run,
) -> None:
    provider = with_databases.one("pulumi:providers:aws")
    for resource in with_databases:
        if resource.custom and resource.type != "pulumi:providers:aws":
            assert resource.provider_urn == provider.urn, resource.name
            if is_taggable(resource.type):
                assert resource.tags == _task_tags(resource, TAGS, "shop"), resource.name


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda d: d.TaskNetwork("x", subnets=[]), r"glacier:subnets\[0\]"),
        (
            lambda d: d.PipelineStateMachine(
                "x",
                definition=DATABASE_DEFINITION,
                functions={"load": "arn:f", "notify": "arn:g"},
                task_definitions={"rank": object()},
                cluster=object(),
            ),
            "need `security_groups`",
        ),
        (
            lambda d: d.PipelineStateMachine(
                "x",
                definition={
                    "StartAt": "ship",
                    "States": {
                        "ship": {
                            "Type": "Task",
                            "Resource": "arn:aws:states:::ecs:runTask.sync",
                            "Parameters": {
                                "TaskDefinition": "${task_definition:ship}",
                                "NetworkConfiguration": {
                                    "AwsvpcConfiguration": {
                                        "Subnets": "${subnets}",
                                        "SecurityGroups": "${container_security_groups}",
                                    }
                                },
                            },
                            "End": True,
                        }
                    },
                },
                task_definitions={"ship": object()},
                cluster=object(),
            ),
            "VPC's default security group",
        ),
        (
            lambda d: d.LambdaTask(
                "x",
                pipeline="p",
                task="t",
                code="/tmp",
                databases=[
                    d.DatabaseUrlSecret("one", url="postgresql://a/b"),
                    d.DatabaseUrlSecret("two", url="postgresql://c/d"),
                ],
            ),
            "one database of each kind",
        ),
    ],
)
def test_database_component_errors(make: Any, match: str) -> None:
    import glacier_aws.deploy as d

    with pytest.raises(ValueError, match=match):
        run_program(lambda: make(d))


# -- the image of Container tasks, the code of Lambda tasks ---------------------------------

REPOSITORY = "aws:ecr/repository:Repository"
IMAGE = "docker-build:index:Image"
_IMAGE_MOCKS = RecordingMocks()


@pytest.fixture(scope="module")
def imaged(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """A `ContainerImage` in an Environment, and a `FargateTask` running it."""
    context = tmp_path_factory.mktemp("context")
    (context / "Dockerfile").write_text("FROM scratch\nCOPY . /var/task\n")
    (context / "glacier_handler.py").write_text("print('hi')\n")

    def program() -> None:
        import pulumi

        from glacier_aws.deploy import ContainerImage, FargateTask

        env = Environment(ACCOUNT, REGION, "prod", tags={"team": "data"})
        opts = pulumi.ResourceOptions(provider=env.provider)
        image = ContainerImage(
            "etl-image", context=str(context), keep_images=5, tags=env.default_tags, opts=opts
        )
        FargateTask(
            "etl-transform",
            pipeline="etl",
            task="transform",
            image=image.image_uri,
            repository_arn=image.repository_arn,
            tags=env.default_tags,
            opts=opts,
        )

    return run_program(program, mocks=_IMAGE_MOCKS, stack="prod")


def test_container_image_repository_has_secure_defaults(imaged: Run) -> None:
    repository = imaged.one(REPOSITORY, "etl-image-repository")
    assert repository.inputs["name"] == "glacier/prod/etl-image"
    assert repository.inputs["imageTagMutability"] == "IMMUTABLE"
    assert repository.inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert repository.inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
    assert repository.tags == TAGS
    assert imaged.provider_of(repository).input("region") == REGION
    lifecycle = imaged.one("aws:ecr/lifecyclePolicy:LifecyclePolicy").inputs
    (rule,) = json.loads(lifecycle["policy"])["rules"]
    assert rule["selection"] == {
        "tagStatus": "any",
        "countType": "imageCountMoreThan",
        "countNumber": 5,
    }


def test_container_image_is_built_for_fargate_and_pushed_with_an_ecr_token(
    imaged: Run, tmp_path: Path
) -> None:
    from glacier_aws._deploy_image import context_digest

    repository = imaged.one(REPOSITORY)
    url = repository.outputs["repositoryUrl"]
    assert url == f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/glacier/prod/etl-image"
    image = imaged.one(IMAGE)
    assert image.inputs["push"] is True
    assert image.inputs["buildOnPreview"] is False
    assert image.inputs["platforms"] == ["linux/amd64"]
    (tag,) = image.inputs["tags"]
    digest = context_digest(image.inputs["context"]["location"])
    assert tag == f"{url}:{digest[:32]}"  # content-addressed: never pushed twice
    (registry,) = image.inputs["registries"]
    assert registry["address"] == url and registry["username"] == "AWS"
    # the token of the repository's registry, kept secret
    assert registry["password"] == "mock-ecr-password" and "registries" in image.secrets
    (call,) = [a for t, a in _IMAGE_MOCKS.calls if t.endswith("getAuthorizationToken")]
    assert call["registryId"] == ACCOUNT
    definition = imaged.one(TASK_DEFINITION).inputs
    (container,) = json.loads(definition["containerDefinitions"])
    assert container["image"] == f"{url}@{image.outputs['digest']}"
    assert definition["runtimePlatform"]["cpuArchitecture"] == "X86_64"
    # Another context, another tag.
    (tmp_path / "Dockerfile").write_text("FROM scratch\n")
    assert context_digest(str(tmp_path)) != digest


def test_execution_role_pulls_only_from_the_image_repository(imaged: Run) -> None:
    s = _statements(imaged, "etl-transform-execution-policy")
    arn = imaged.one(REPOSITORY).outputs["arn"]
    assert arn == f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/glacier/prod/etl-image"
    assert s["RegistryToken"] == {
        "Sid": "RegistryToken",
        "Effect": "Allow",
        "Action": ["ecr:GetAuthorizationToken"],
        "Resource": "*",
    }
    assert s["PullImage"]["Action"] == [
        "ecr:BatchCheckLayerAvailability",
        "ecr:GetDownloadUrlForLayer",
        "ecr:BatchGetImage",
    ]
    assert s["PullImage"]["Resource"] == [arn]


@pytest.mark.parametrize(
    ("image", "arn"),
    [
        (
            "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/etl:1.2",
            "arn:aws:ecr:eu-west-1:111122223333:repository/team/etl",
        ),
        (
            "111122223333.dkr.ecr.eu-west-1.amazonaws.com/etl@sha256:" + "a" * 64,
            "arn:aws:ecr:eu-west-1:111122223333:repository/etl",
        ),
        (
            "111122223333.dkr.ecr.cn-north-1.amazonaws.com.cn/etl",
            "arn:aws-cn:ecr:cn-north-1:111122223333:repository/etl",
        ),
        ("public.ecr.aws/docker/library/python:3.12-slim", None),
        ("python:3.12-slim", None),
    ],
)
def test_ecr_repository_of_an_image(image: str, arn: str | None) -> None:
    from glacier_aws.deploy import image_pull_statements

    statements = image_pull_statements(image)
    if arn is None:
        assert statements == []
    else:
        assert [s["Resource"] for s in statements] == ["*", [arn]]


def _bundle(folder: Path, sizes: dict[str, int]) -> Path:
    """A synthetic bundle: files of known sizes (random bytes: they do not compress)."""
    import os

    folder.mkdir(parents=True, exist_ok=True)
    for rel, size in sizes.items():
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(os.urandom(size))
    return folder


def _lambda_program(bundle: Path, limit: int | None) -> Any:
    def program() -> None:
        import pulumi

        from glacier_aws.deploy import LambdaBundle, LambdaTask

        env = Environment(ACCOUNT, REGION, "prod", tags={"team": "data"})
        opts = pulumi.ResourceOptions(provider=env.provider)
        extra = {} if limit is None else {"direct_upload_limit": limit}
        code = LambdaBundle(
            "etl-bundle", path=str(bundle), tags=env.default_tags, opts=opts, **extra
        )
        for task in ("extract", "load"):
            LambdaTask(
                f"etl-{task}",
                pipeline="etl",
                task=task,
                code=code,
                tags=env.default_tags,
                opts=opts,
            )

    return program


def test_a_small_bundle_is_uploaded_directly(tmp_path: Path) -> None:
    bundle = _bundle(tmp_path / "bundle", {"glacier_handler.py": 2000})
    run = run_program(_lambda_program(bundle, None))
    for function in run.of_type(FUNCTION):
        assert "code" in function.inputs and "s3Bucket" not in function.inputs
    assert not run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    assert not run.of_type(BUCKET)


def test_a_bundle_over_the_direct_upload_quota_goes_through_an_artifacts_bucket(
    tmp_path: Path,
) -> None:
    import base64
    import hashlib
    import zipfile

    from glacier_aws.archive import measure_bundle, write_bundle_zip

    bundle = _bundle(tmp_path / "bundle", {"glacier_handler.py": 3000, "dep/big.so": 60_000})
    size = measure_bundle(str(bundle))
    assert size.unzipped == 63_000 and size.zipped > 63_000  # random bytes do not shrink
    run = run_program(_lambda_program(bundle, 50_000))
    (obj,) = run.of_type("aws:s3/bucketObjectv2:BucketObjectv2")
    bucket = run.one(BUCKET, "etl-bundle-artifacts")
    assert obj.inputs["bucket"] == bucket.outputs["bucket"]
    assert obj.inputs["key"] == "lambda/etl-bundle.zip"
    assert bucket.inputs["bucketPrefix"] == "etl-bundle-artifacts-"
    assert bucket.tags == TAGS and obj.tags == TAGS
    # the secure defaults, and a lifecycle that never expires the current archive
    kinds = {r.type.split(":")[-1]: r for r in run if r.name.startswith("etl-bundle-artifacts-")}
    assert {
        "BucketPublicAccessBlock",
        "BucketServerSideEncryptionConfiguration",
        "BucketVersioning",
        "BucketOwnershipControls",
        "BucketPolicy",
        "BucketLifecycleConfiguration",
    } <= set(kinds)
    (rule,) = kinds["BucketLifecycleConfiguration"].inputs["rules"]
    assert "expiration" not in rule
    assert rule["noncurrentVersionExpiration"] == {"noncurrentDays": 30}
    # the uploaded archive: the bundle, and the hash each function carries
    path = _asset_path(obj.inputs["source"])
    with zipfile.ZipFile(path) as archive:
        assert sorted(archive.namelist()) == ["dep/big.so", "glacier_handler.py"]
    with open(path, "rb") as fh:
        expected = base64.b64encode(hashlib.sha256(fh.read()).digest()).decode()
    assert write_bundle_zip(str(bundle), str(tmp_path))[1] == expected  # deterministic
    functions = run.of_type(FUNCTION)
    assert len(functions) == 2
    for function in functions:
        assert "code" not in function.inputs
        assert function.inputs["s3Bucket"] == bucket.outputs["bucket"]
        assert function.inputs["s3Key"] == "lambda/etl-bundle.zip"
        assert function.inputs["sourceCodeHash"] == expected


def _asset_path(source: Any) -> str:
    """The path of a recorded ``pulumi.FileAsset`` (mocks see its serialized form)."""
    if isinstance(source, dict):
        return str(source.get("path"))
    return str(getattr(source, "path", source))


def test_a_bundle_over_lambdas_unzipped_quota_is_refused(tmp_path: Path) -> None:
    bundle = tmp_path / "bundle"
    bundle.mkdir()
    with open(bundle / "huge.so", "wb") as fh:  # sparse: 251 MB without using the disk
        fh.truncate(251 * 1024 * 1024)
    with pytest.raises(ValueError, match="over AWS Lambda's 262,144,000"):
        run_program(_lambda_program(bundle, None))


def test_a_parent_machine_starts_exactly_its_child_machines() -> None:
    """A split pipeline: the parent's definition gets the child's ARN, and its role may start,
    watch and stop that child's executions only (startExecution.sync:2)."""
    from _pulumi_mocks import ACCOUNT as MOCK_ACCOUNT
    from _pulumi_mocks import REGION as MOCK_REGION

    from codegen.aws._asl import _child_state
    from glacier_aws.deploy import PipelineStateMachine

    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:a"
    child_definition = {"StartAt": "a", "States": {"a": {**DEFINITION["States"]["extract"]}}}
    child_definition["States"]["a"]["Parameters"] = {"FunctionName": "${function:a}"}
    parent_definition = {"StartAt": "part1", "States": {"part1": _child_state("part1")}}
    parent_definition["States"]["part1"]["End"] = True

    def program() -> None:
        child = PipelineStateMachine(
            "etl-part1", definition=child_definition, functions={"a": function}
        )
        PipelineStateMachine("etl", definition=parent_definition, children={"part1": child})

    run = run_program(program)
    machines = {r.name: r for r in run.of_type(STATE_MACHINE)}
    child_arn = machines["etl-part1-state-machine"].outputs["arn"]
    parent = json.loads(machines["etl-state-machine"].inputs["definition"])
    assert parent["States"]["part1"]["Parameters"]["StateMachineArn"] == child_arn
    s = _statements(run, "etl-sfn-policy")
    assert set(s) >= {"StartChildMachines", "WatchChildExecutions", "SyncChildEvents"}
    assert s["StartChildMachines"]["Resource"] == [child_arn]
    assert s["WatchChildExecutions"]["Action"] == [
        "states:DescribeExecution",
        "states:StopExecution",
    ]
    assert s["WatchChildExecutions"]["Resource"] == [
        child_arn.replace(":stateMachine:", ":execution:") + ":*"
    ]
    rule = "rule/StepFunctionsGetEventsForStepFunctionsExecutionRule"
    assert s["SyncChildEvents"]["Resource"] == [
        f"arn:aws:events:{MOCK_REGION}:{MOCK_ACCOUNT}:{rule}"
    ]
    assert "InvokeTaskFunctions" not in s  # the parent runs no task itself
    assert "StartChildMachines" not in _statements(run, "etl-part1-sfn-policy")
    with pytest.raises(ValueError, match="unknown child machines"):
        run_program(lambda: PipelineStateMachine("x", definition=parent_definition))


def test_a_program_runs_under_mocks_after_asyncio_run_in_the_same_thread() -> None:
    """`asyncio.run` leaves the thread without an event loop; Pulumi's runtime needs one (an
    earlier test, or a user's async task run locally, must not break the mocks)."""
    import asyncio

    import pulumi_aws as aws

    async def nothing() -> int:
        return 1

    assert asyncio.run(nothing()) == 1

    def program() -> None:
        aws.s3.Bucket("after-asyncio")

    run = run_program(program)
    assert [r.name for r in run.resources] == ["after-asyncio"]
