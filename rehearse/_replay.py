"""Create in the emulator what the environment's program declares.

The program has already run under Pulumi's mocks (``codegen.aws._preview``), which recorded
every resource with its inputs as the engine would send them to AWS. Each resource type the
rehearsal needs is created through the emulator's AWS API with those inputs; names stay the
ones the mocks gave, so most ARNs in policies and in the state machine already match. Values
AWS chooses itself (a secret's ARN suffix, a key id) differ: they are recorded as aliases and
replaced wherever the program used the mocked value. Types a rehearsal does not exercise (log
groups, schedules, alarms ...) are listed as not emulated.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Deployment", "FunctionSpec", "MachineSpec", "replay"]

Resource = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """A Lambda function as the program declared it."""

    name: str
    arn: str
    role: str
    handler: str
    code: str
    """The directory its archive was made from."""
    timeout_s: int
    memory_mb: int
    environment: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MachineSpec:
    """A state machine as created: its definition once the rehearsal rewrote it."""

    name: str
    arn: str
    role: str
    """The name of its role."""
    definition: dict[str, Any]


@dataclass
class Deployment:
    """What the replay created, and what the rehearsal needs to run it."""

    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    state_machine_arn: str | None = None
    """The machine to execute: the only one, or the parent of a split pipeline's."""
    state_machine_role: str | None = None
    definition: dict[str, Any] = field(default_factory=dict)
    machines: dict[str, MachineSpec] = field(default_factory=dict)
    """Every state machine by ARN, children before the machines that start them."""
    roles: dict[str, str] = field(default_factory=dict)
    """role ARN -> role name"""
    buckets: set[str] = field(default_factory=set)
    databases: list[Resource] = field(default_factory=list)
    """``aws:rds/instance:Instance`` resources: a local PostgreSQL stands in for them."""
    skipped: dict[str, int] = field(default_factory=dict)
    """resource type -> how many were not emulated"""
    aliases: dict[str, str] = field(default_factory=dict)
    unenforced: list[str] = field(default_factory=list)
    """Parts of the program the emulator holds but cannot enforce, said in the output."""

    def machine_naming(self, value: str) -> MachineSpec | None:
        """The state machine whose definition names ``value`` (a function's ARN, a child
        machine's) as a whole string: the one that invokes or starts it."""
        for machine in self.machines.values():
            if _names(machine.definition, value):
                return machine
        return None

    def alias(self, value: Any) -> Any:
        """``value`` with every mocked value the emulator replaced by its own: ARNs wherever
        they occur in a string (policies hold them inside JSON text, with ``:*`` or ``/*``
        after them), other values (an id, a host name) only as a whole string."""
        if not self.aliases:
            return value
        arns = sorted((k for k in self.aliases if k.startswith("arn:")), key=len, reverse=True)
        pattern = (
            re.compile("|".join(re.escape(k) for k in arns) + r"(?![A-Za-z0-9_.!-])")
            if arns
            else None
        )

        def walk(node: Any) -> Any:
            if isinstance(node, str):
                if node in self.aliases:
                    return self.aliases[node]
                if pattern is None:
                    return node
                return pattern.sub(lambda m: self.aliases[m.group(0)], node)
            if isinstance(node, dict):
                return {k: walk(v) for k, v in node.items()}
            if isinstance(node, list):
                return [walk(v) for v in node]
            return node

        return walk(value)


def _names(node: Any, value: str) -> bool:
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
        elif item == value:
            return True
    return False


def _physical(resource: Resource) -> str:
    outputs = resource.get("outputs") or {}
    return str(outputs.get("name") or outputs.get("id") or resource["name"])


def _json_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _archive_path(code: Any, program_dir: str) -> str:
    """The directory of a ``pulumi.FileArchive`` as the mocks recorded it."""
    path = code.get("path") if isinstance(code, dict) else None
    return os.path.normpath(os.path.join(program_dir, str(path or "bundle")))


# resource type -> the _Creators method that creates it, in the order they are created
_CREATORS = {
    "aws:kms/key:Key": "kms_key",
    "aws:kms/alias:Alias": "kms_alias",
    "aws:s3/bucket:Bucket": "bucket",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "bucket_encryption"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "bucket_versioning",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "bucket_public_access_block",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "bucket_ownership",
    "aws:s3/bucketPolicy:BucketPolicy": "bucket_policy",
    "aws:secretsmanager/secret:Secret": "secret",
    "aws:secretsmanager/secretVersion:SecretVersion": "secret_version",
    "aws:rds/instance:Instance": "database",
    "aws:iam/role:Role": "role",
    "aws:iam/rolePolicy:RolePolicy": "role_policy",
    "aws:lambda/function:Function": "function",
    "aws:ecs/cluster:Cluster": "cluster",
    "aws:ecs/taskDefinition:TaskDefinition": "task_definition",
    "aws:sfn/stateMachine:StateMachine": "state_machine",
}


def replay(
    resources: list[Resource],
    emulator: Any,
    program_dir: str,
    *,
    database: Callable[[Resource, Deployment], None] | None = None,
    definition: Callable[[dict[str, Any], Deployment], dict[str, Any]] | None = None,
) -> Deployment:
    """Create every emulated resource, in dependency order; return the deployment.

    ``database`` is called for each RDS instance, before anything that uses it is created,
    to put a stand-in in place (its secret, its address) and register aliases. ``definition``
    may rewrite the state machine's definition before it is created.
    """
    deployment = Deployment()
    by_type: dict[str, list[Resource]] = {}
    for resource in resources:
        if not resource.get("custom") or resource["type"].startswith("pulumi:providers:"):
            continue
        if resource["type"] in _CREATORS:
            by_type.setdefault(resource["type"], []).append(resource)
        else:
            deployment.skipped[resource["type"]] = deployment.skipped.get(resource["type"], 0) + 1
    machines = by_type.get("aws:sfn/stateMachine:StateMachine")
    if machines:
        by_type["aws:sfn/stateMachine:StateMachine"] = _started_first(machines)
    creators = _Creators(emulator, deployment, program_dir, database, definition)
    for token in _CREATORS:
        for resource in by_type.get(token, []):
            creators.create(token, resource)
    return deployment


def _started_first(machines: list[Resource]) -> list[Resource]:
    """State machines in an order that creates each before any machine whose definition
    starts it (its ARN in the definition, as ``PipelineStateMachine(children=...)`` puts it);
    the one no other machine starts last. The program declares them so already; this does
    not rely on it."""

    def arn(machine: Resource) -> str:
        return str((machine.get("outputs") or {}).get("arn") or "")

    def text(machine: Resource) -> str:
        return _json_text((machine.get("inputs") or {}).get("definition") or "")

    pending, ordered = list(machines), []
    while pending:
        ready = [
            m
            for m in pending
            if not any(arn(o) and arn(o) in text(m) for o in pending if o is not m)
        ]
        if not ready:  # a cycle cannot be deployed either; keep the program's order
            ready = pending[:1]
        ordered.extend(ready)
        pending = [m for m in pending if all(m is not r for r in ready)]
    return ordered


class _Creators:
    def __init__(
        self,
        emulator: Any,
        deployment: Deployment,
        program_dir: str,
        database: Callable[[Resource, Deployment], None] | None,
        definition: Callable[[dict[str, Any], Deployment], dict[str, Any]] | None,
    ) -> None:
        self.emulator = emulator
        self.deployment = deployment
        self.program_dir = program_dir
        self.database = database
        self.rewrite = definition
        self._clients: dict[str, Any] = {}

    def client(self, service: str) -> Any:
        if service not in self._clients:
            self._clients[service] = self.emulator.client(service)
        return self._clients[service]

    def create(self, token: str, resource: Resource) -> None:
        inputs = self.deployment.alias(resource.get("inputs") or {})
        getattr(self, "_" + _CREATORS[token])(resource, inputs)

    # -- KMS and S3 ---------------------------------------------------------------------------

    def _kms_key(self, resource: Resource, inputs: dict[str, Any]) -> None:
        created = self.client("kms").create_key(
            Description=str(inputs.get("description") or resource["name"]),
            KeyUsage="ENCRYPT_DECRYPT",
        )["KeyMetadata"]
        outputs = resource.get("outputs") or {}
        for mocked, real in (
            (outputs.get("arn"), created["Arn"]),
            (outputs.get("id"), created["KeyId"]),
        ):
            if mocked and mocked != real:
                self.deployment.aliases[str(mocked)] = real

    def _kms_alias(self, resource: Resource, inputs: dict[str, Any]) -> None:
        self.client("kms").create_alias(
            AliasName=str(inputs.get("name") or f"alias/{resource['name']}"),
            TargetKeyId=str(inputs["targetKeyId"]),
        )

    def _bucket(self, resource: Resource, inputs: dict[str, Any]) -> None:
        name = _physical(resource)
        args: dict[str, Any] = {"Bucket": name}
        if self.emulator.region != "us-east-1":
            args["CreateBucketConfiguration"] = {"LocationConstraint": self.emulator.region}
        self.client("s3").create_bucket(**args)
        self.deployment.buckets.add(name)

    def _bucket_encryption(self, resource: Resource, inputs: dict[str, Any]) -> None:
        rules = []
        for rule in inputs.get("rules") or []:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            by_default = {"SSEAlgorithm": default.get("sseAlgorithm", "AES256")}
            if default.get("kmsMasterKeyId"):
                by_default["KMSMasterKeyID"] = default["kmsMasterKeyId"]
            entry: dict[str, Any] = {"ApplyServerSideEncryptionByDefault": by_default}
            if rule.get("bucketKeyEnabled") is not None:
                entry["BucketKeyEnabled"] = bool(rule["bucketKeyEnabled"])
            rules.append(entry)
        self.client("s3").put_bucket_encryption(
            Bucket=inputs["bucket"], ServerSideEncryptionConfiguration={"Rules": rules}
        )

    def _bucket_versioning(self, resource: Resource, inputs: dict[str, Any]) -> None:
        status = (inputs.get("versioningConfiguration") or {}).get("status", "Enabled")
        self.client("s3").put_bucket_versioning(
            Bucket=inputs["bucket"], VersioningConfiguration={"Status": status}
        )

    def _bucket_public_access_block(self, resource: Resource, inputs: dict[str, Any]) -> None:
        keys = ("blockPublicAcls", "ignorePublicAcls", "blockPublicPolicy", "restrictPublicBuckets")
        self.client("s3").put_public_access_block(
            Bucket=inputs["bucket"],
            PublicAccessBlockConfiguration={
                k[0].upper() + k[1:]: bool(inputs.get(k)) for k in keys
            },
        )

    def _bucket_ownership(self, resource: Resource, inputs: dict[str, Any]) -> None:
        ownership = (inputs.get("rule") or {}).get("objectOwnership", "BucketOwnerEnforced")
        self.client("s3").put_bucket_ownership_controls(
            Bucket=inputs["bucket"],
            OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]},
        )

    def _bucket_policy(self, resource: Resource, inputs: dict[str, Any]) -> None:
        policy = inputs["policy"]
        document = json.loads(policy) if isinstance(policy, str) else dict(policy)
        statements = document.get("Statement") or []
        if isinstance(statements, dict):
            statements = [statements]
        # moto applies a bucket policy's Deny statements but not their conditions: the
        # TLS-only statement (Deny unless aws:SecureTransport) would deny every request.
        kept = [s for s in statements if not (s.get("Effect") == "Deny" and s.get("Condition"))]
        for dropped in statements:
            if dropped not in kept:
                self.deployment.unenforced.append(
                    f"bucket {inputs['bucket']}: statement {dropped.get('Sid') or '(no Sid)'} "
                    "(a conditional Deny; moto cannot evaluate its condition)"
                )
        if kept:
            self.client("s3").put_bucket_policy(
                Bucket=inputs["bucket"], Policy=json.dumps({**document, "Statement": kept})
            )

    # -- secrets and databases --------------------------------------------------------------

    def _secret(self, resource: Resource, inputs: dict[str, Any]) -> None:
        name = str(inputs.get("name") or _physical(resource))
        created = self.client("secretsmanager").create_secret(Name=name)
        outputs = resource.get("outputs") or {}
        for mocked in (outputs.get("arn"), outputs.get("id")):
            if mocked and mocked != created["ARN"]:
                self.deployment.aliases[str(mocked)] = created["ARN"]

    def _secret_version(self, resource: Resource, inputs: dict[str, Any]) -> None:
        self.client("secretsmanager").put_secret_value(
            SecretId=str(inputs["secretId"]), SecretString=str(inputs.get("secretString") or "")
        )

    def _database(self, resource: Resource, inputs: dict[str, Any]) -> None:
        self.deployment.databases.append(resource)
        if self.database is not None:
            self.database(resource, self.deployment)

    # -- IAM ----------------------------------------------------------------------------------

    def _role(self, resource: Resource, inputs: dict[str, Any]) -> None:
        name = _physical(resource)
        role = self.client("iam").create_role(
            RoleName=name,
            AssumeRolePolicyDocument=_json_text(inputs.get("assumeRolePolicy") or "{}"),
            Description=str(inputs.get("description") or "")[:1000],
        )["Role"]
        self.deployment.roles[role["Arn"]] = name
        mocked = (resource.get("outputs") or {}).get("arn")
        if mocked and mocked != role["Arn"]:
            self.deployment.aliases[str(mocked)] = role["Arn"]

    def _role_policy(self, resource: Resource, inputs: dict[str, Any]) -> None:
        self.client("iam").put_role_policy(
            RoleName=str(inputs["role"]),
            PolicyName=str(inputs.get("name") or _physical(resource)),
            PolicyDocument=_json_text(inputs["policy"]),
        )

    # -- compute and orchestration ------------------------------------------------------------

    def _function(self, resource: Resource, inputs: dict[str, Any]) -> None:
        name = _physical(resource)
        variables = {
            str(k): str(v)
            for k, v in ((inputs.get("environment") or {}).get("variables") or {}).items()
        }
        created = self.client("lambda").create_function(
            FunctionName=name,
            Runtime=str(inputs.get("runtime") or "python3.12"),
            Role=str(inputs["role"]),
            Handler=str(inputs.get("handler") or "glacier_handler.handler"),
            Code={"ZipFile": _EMPTY_ZIP},
            Timeout=int(inputs.get("timeout") or 3),
            MemorySize=int(inputs.get("memorySize") or 128),
            Environment={"Variables": variables},
            Tags=_tags(inputs),
        )
        mocked = (resource.get("outputs") or {}).get("arn")
        if mocked and mocked != created["FunctionArn"]:
            self.deployment.aliases[str(mocked)] = created["FunctionArn"]
        self.deployment.functions[name] = FunctionSpec(
            name=name,
            arn=created["FunctionArn"],
            role=str(inputs["role"]),
            handler=str(inputs.get("handler") or "glacier_handler.handler"),
            code=_archive_path(inputs.get("code"), self.program_dir),
            timeout_s=int(inputs.get("timeout") or 3),
            memory_mb=int(inputs.get("memorySize") or 128),
            environment=variables,
            tags=_tags(inputs),
        )

    def _cluster(self, resource: Resource, inputs: dict[str, Any]) -> None:
        self.client("ecs").create_cluster(clusterName=_physical(resource))

    def _task_definition(self, resource: Resource, inputs: dict[str, Any]) -> None:
        definitions = inputs.get("containerDefinitions")
        if isinstance(definitions, str):
            definitions = json.loads(definitions)
        self.client("ecs").register_task_definition(
            family=str(inputs.get("family") or _physical(resource)),
            containerDefinitions=definitions,
            taskRoleArn=str(inputs.get("taskRoleArn") or ""),
            executionRoleArn=str(inputs.get("executionRoleArn") or ""),
            networkMode=str(inputs.get("networkMode") or "awsvpc"),
            requiresCompatibilities=list(inputs.get("requiresCompatibilities") or ["FARGATE"]),
            cpu=str(inputs.get("cpu") or "256"),
            memory=str(inputs.get("memory") or "512"),
            tags=[{"key": k, "value": v} for k, v in _tags(inputs).items()],
        )

    def _state_machine(self, resource: Resource, inputs: dict[str, Any]) -> None:
        parsed = inputs["definition"]
        parsed = json.loads(parsed) if isinstance(parsed, str) else parsed
        if self.rewrite is not None:
            parsed = self.rewrite(parsed, self.deployment)
        definition = json.dumps(parsed)
        created = self.client("stepfunctions").create_state_machine(
            name=_physical(resource),
            definition=definition,
            roleArn=str(inputs["roleArn"]),
            type=str(inputs.get("type") or "STANDARD"),
        )
        mocked = (resource.get("outputs") or {}).get("arn")
        if mocked and mocked != created["stateMachineArn"]:
            self.deployment.aliases[str(mocked)] = created["stateMachineArn"]
        machine = MachineSpec(
            name=_physical(resource),
            arn=created["stateMachineArn"],
            role=str(inputs["roleArn"]).rsplit("/", 1)[-1],
            definition=json.loads(definition),
        )
        self.deployment.machines[machine.arn] = machine
        # created last: the machine no other starts (each child is created before its parent)
        self.deployment.state_machine_arn = machine.arn
        self.deployment.state_machine_role = machine.role
        self.deployment.definition = machine.definition


def _empty_zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("README", "the rehearsal runs the bundle from the program's directory\n")
    return buffer.getvalue()


_EMPTY_ZIP = _empty_zip()


def _tags(inputs: dict[str, Any]) -> dict[str, str]:
    """The tags a resource is created with (the provider's default tags are not in its
    inputs; Glacier's resources name theirs)."""
    return {str(k): str(v) for k, v in (inputs.get("tags") or {}).items()}
