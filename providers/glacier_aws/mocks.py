"""Run Pulumi programs under ``pulumi.runtime.set_mocks`` and record every resource.

For tests and for previews without credentials (``glacier plan``): neither the Pulumi CLI
nor AWS is needed, the cloud is the one thing mocked. The helper makes mocked runs
trustworthy:

- every registration is recorded (type token, logical name, inputs, provider, parent,
  ``protect`` and ``retain_on_delete``);
- the mocks return computed outputs (``id``, ``arn``, ``name``, ``bucket`` ...) the way AWS
  would, so code that builds policies from ``bucket.arn`` sees real-looking values, and
  answer the lookups a program makes (``getCallerIdentity``, ``getRegion``,
  ``getPartition``, ``s3/getBucket``);
- ``run_program`` returns only after ALL registrations and applies finished (the same wait
  ``pulumi up`` does), then restores the "no program running" state.

Usage::

    from glacier_aws.mocks import run_program

    def program():
        Environment("123456789012", "eu-west-1", "prod").s3("prod-data")

    run = run_program(program)
    bucket = run.one("aws:s3/bucket:Bucket")
    assert bucket.inputs["bucket"] == "prod-data"
    assert run.provider_of(bucket).input("region") == "eu-west-1"

Under mocks, inputs arrive as the engine sees them: camelCase keys (``blockPublicAcls``),
and a provider's object inputs (``defaultTags``, ``allowedAccountIds``) as JSON text;
``RecordedResource.input`` decodes the latter. Secret inputs are recorded unwrapped, their
keys listed in ``RecordedResource.secrets``.

This module imports pulumi; ``import glacier_aws`` does not import it.
"""

from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import keyword
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import config as _config
from pulumi.runtime import settings as _settings
from pulumi.runtime.stack import run_pulumi_func
from pulumi.runtime.sync_await import _sync_await

from glacier_aws.grants import partition

__all__ = [
    "ACCOUNT",
    "REGION",
    "VPC",
    "RecordedResource",
    "RecordingMocks",
    "Run",
    "computed_outputs",
    "is_taggable",
    "run_program",
]

# How the engine marks a secret value in a property map (pulumi.runtime.rpc's constants).
_SIG_KEY = "4dabf18193072939515e22adb298388d"
_SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"

ACCOUNT = "123456789012"
REGION = "us-east-1"
VPC = "vpc-0123456789abcdef0"
"""The VPC every subnet is in (``aws.ec2.get_subnet``)."""

# type token -> (service, ARN resource part; ``{name}`` is the physical name)
_ARNS: dict[str, tuple[str, str]] = {
    "aws:iam/role:Role": ("iam", "role/{name}"),
    "aws:iam/policy:Policy": ("iam", "policy/{name}"),
    "aws:lambda/function:Function": ("lambda", "function:{name}"),
    "aws:cloudwatch/logGroup:LogGroup": ("logs", "log-group:{name}"),
    "aws:sfn/stateMachine:StateMachine": ("states", "stateMachine:{name}"),
    "aws:cloudwatch/eventRule:EventRule": ("events", "rule/{name}"),
    "aws:ecs/cluster:Cluster": ("ecs", "cluster/{name}"),
    "aws:ecs/taskDefinition:TaskDefinition": ("ecs", "task-definition/{name}:1"),
    "aws:rds/instance:Instance": ("rds", "db:{name}"),
    "aws:sqs/queue:Queue": ("sqs", "{name}"),
    "aws:sns/topic:Topic": ("sns", "{name}"),
    "aws:kms/key:Key": ("kms", "key/{name}"),
    "aws:ecr/repository:Repository": ("ecr", "repository/{name}"),
    "aws:secretsmanager/secret:Secret": ("secretsmanager", "secret:{name}"),
    "aws:ec2/securityGroup:SecurityGroup": ("ec2", "security-group/{name}"),
}
_GLOBAL = {"iam"}  # services whose ARNs have no region


@dataclass
class RecordedResource:
    """One registration seen by the mocks."""

    type: str
    name: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    id: str
    urn: str
    provider: str | None
    """The provider reference ``<provider urn>::<provider id>``, or None for the default."""
    custom: bool
    secrets: frozenset[str] = frozenset()
    """Top-level input keys whose value was (or contained) a secret; ``inputs`` holds them
    unwrapped."""
    protect: bool = False
    """The ``protect`` resource option (set, or inherited from the parent)."""
    retain_on_delete: bool = False
    """The ``retain_on_delete`` resource option."""

    @property
    def provider_urn(self) -> str | None:
        return self.provider.rsplit("::", 1)[0] if self.provider else None

    @property
    def parent_type(self) -> str | None:
        """The parent's type token, from the URN's type chain (``parent$child``)."""
        chain = self.urn.split("::")[2].split("$")
        return chain[-2] if len(chain) > 1 else None

    def input(self, key: str, default: Any = None) -> Any:
        """An input, with JSON-text values (provider inputs under mocks) decoded."""
        value = self.inputs.get(key, default)
        if isinstance(value, str) and value[:1] in "[{":
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value

    @property
    def tags(self) -> dict[str, str] | None:
        return self.inputs.get("tags")


@dataclass
class Run:
    """What a mocked program did: every resource, in registration order, and its exports."""

    resources: list[RecordedResource]
    exports: dict[str, Any]
    result: Any = None

    def __iter__(self) -> Iterator[RecordedResource]:
        return iter(self.resources)

    def __len__(self) -> int:
        return len(self.resources)

    def of_type(self, token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == token]

    def one(self, token: str, name: str | None = None) -> RecordedResource:
        found = [r for r in self.of_type(token) if name is None or r.name == name]
        if len(found) != 1:
            names = [r.name for r in found]
            raise AssertionError(f"expected one {token} named {name!r}, found {names}")
        return found[0]

    def named(self, name: str) -> RecordedResource:
        found = [r for r in self.resources if r.name == name]
        if len(found) != 1:
            raise AssertionError(f"expected one resource named {name!r}, found {len(found)}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for r in self.resources:
            if r.urn == urn:
                return r
        raise KeyError(urn)

    def provider_of(self, resource: RecordedResource) -> RecordedResource:
        if resource.provider_urn is None:
            raise AssertionError(f"{resource.type} {resource.name} uses the default provider")
        return self.by_urn(resource.provider_urn)

    @property
    def types(self) -> set[str]:
        return {r.type for r in self.resources}


@dataclass
class RecordingMocks(pulumi.runtime.Mocks):
    """Mocks that record every resource and answer like AWS with computed outputs.

    Providers' ``region`` and first allowed account are used in the ARNs of the resources
    created with them; the default provider uses ``REGION`` / ``ACCOUNT``.

    ``aws.s3.get_bucket`` finds every bucket unless ``buckets`` names the ones that exist:
    then looking up another fails, as it does on AWS.
    """

    account: str = ACCOUNT
    region: str = REGION
    buckets: frozenset[str] | None = None
    resources: list[RecordedResource] = field(default_factory=list)
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _providers: dict[str, tuple[str, str]] = field(default_factory=dict)

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        inputs, secrets = _unwrap_secrets(dict(args.inputs))
        urn = getattr(_CURRENT, "urn", "")
        if not args.custom:  # a component: nothing computed by a cloud
            outputs: dict[str, Any] = {}
            id_ = ""
        elif args.typ.startswith("pulumi:providers:"):
            region = inputs.get("region") or self.region
            accounts = _json(inputs.get("allowedAccountIds")) or [self.account]
            self._providers[urn] = (region, accounts[0])
            outputs = {}
            id_ = f"{args.name}-id"
        else:
            region, account = self._where(args.provider)
            outputs = computed_outputs(args.typ, args.name, inputs, region, account)
            id_ = outputs["id"]
        state = {**inputs, **outputs}  # what the tests read: secrets unwrapped
        engine_state = {**args.inputs, **outputs}  # what the program sees: secrets kept
        self.resources.append(
            RecordedResource(
                type=args.typ,
                name=args.name,
                inputs=inputs,
                outputs=state,
                id=id_,
                urn=urn,
                provider=args.provider or None,
                custom=bool(args.custom),
                secrets=frozenset(secrets),
                protect=getattr(_CURRENT, "protect", False),
                retain_on_delete=getattr(_CURRENT, "retain_on_delete", False),
            )
        )
        return id_, engine_state

    def call(
        self, args: pulumi.runtime.MockCallArgs
    ) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        self.calls.append((args.token, dict(args.args)))
        region, account = self._where(args.provider)
        if args.token == "aws:index/getCallerIdentity:getCallerIdentity":
            arn = f"arn:{partition(region)}:iam::{account}:user/test"
            return {"accountId": account, "arn": arn, "userId": "AIDTEST", "id": account}, []
        if args.token == "aws:index/getRegion:getRegion":
            return {"name": region, "region": region, "id": region}, []
        if args.token == "aws:index/getPartition:getPartition":
            name = partition(region)
            return {"partition": name, "dnsSuffix": "amazonaws.com", "id": name}, []
        if args.token == "aws:ecr/getAuthorizationToken:getAuthorizationToken":
            registry = args.args.get("registryId") or account
            return (
                {
                    "authorizationToken": "QVdTOm1vY2stZWNyLXBhc3N3b3Jk",  # base64 "AWS:mock-ecr-password"
                    "userName": "AWS",
                    "password": "mock-ecr-password",
                    "proxyEndpoint": f"https://{registry}.dkr.ecr.{region}.amazonaws.com",
                    "expiresAt": "2030-01-01T00:00:00Z",
                    "id": region,
                },
                [],
            )
        if args.token == "aws:ec2/getSubnet:getSubnet":
            subnet = str(args.args.get("id") or "subnet-0mock")
            arn = f"arn:{partition(region)}:ec2:{region}:{account}:subnet/{subnet}"
            return {"id": subnet, "vpcId": VPC, "arn": arn, "ownerId": account}, []
        if args.token == "aws:s3/getBucket:getBucket":
            return self._bucket(str(args.args["bucket"]), args.args.get("region") or region), []
        return {}, []

    def _bucket(self, name: str, region: str) -> dict[str, Any]:
        """What ``aws.s3.get_bucket`` answers for an existing bucket (in the lookup's region)."""
        if self.buckets is not None and name not in self.buckets:
            raise LookupError(f"reading S3 Bucket ({name}): couldn't find resource")
        return {
            "id": name,
            "bucket": name,
            "arn": f"arn:{partition(region)}:s3:::{name}",
            "region": region,
            "bucketRegion": region,
            "bucketDomainName": f"{name}.s3.amazonaws.com",
            "bucketRegionalDomainName": f"{name}.s3.{region}.amazonaws.com",
        }

    def _where(self, provider: str | None) -> tuple[str, str]:
        if provider:
            found = self._providers.get(provider.rsplit("::", 1)[0])
            if found is not None:
                return found
        return self.region, self.account


def computed_outputs(
    token: str, name: str, inputs: dict[str, Any], region: str, account: str
) -> dict[str, Any]:
    """The outputs AWS would compute: ``id``, ``arn``, ``name`` and type-specific ones."""
    prefix = inputs.get("bucketPrefix")
    if isinstance(prefix, str) and not inputs.get("bucket"):
        # AWS appends 26 characters to a bucket prefix (a timestamp and a counter); a hash
        # here, so names are as long as AWS's and stable from run to run
        inputs = {**inputs, "bucket": prefix + hashlib.sha256(prefix.encode()).hexdigest()[:26]}
    physical = (
        inputs.get("name")
        or inputs.get("bucket")
        or inputs.get("identifier")
        or inputs.get("family")
        or name
    )
    if not isinstance(physical, str):  # e.g. a bucket reference on a companion resource
        physical = name
    if token == "docker-build:index:Image":
        return _image_outputs(inputs)
    out: dict[str, Any] = {"id": physical, "name": physical}
    if token == "aws:s3/bucket:Bucket":
        out.update(
            bucket=physical,
            arn=f"arn:{partition(region)}:s3:::{physical}",
            bucketDomainName=f"{physical}.s3.amazonaws.com",
            bucketRegionalDomainName=f"{physical}.s3.{region}.amazonaws.com",
            region=region,
        )
        return out
    if token == "aws:s3/bucketObjectv2:BucketObjectv2":
        out.update(id=inputs.get("key") or name, versionId="mock-version-1")
        return out
    if token.startswith("aws:s3/"):
        out["id"] = inputs.get("bucket") if isinstance(inputs.get("bucket"), str) else name
        return out
    service, pattern = _ARNS.get(token, (_service_of(token), _kind_of(token) + "/{name}"))
    where = "" if service in _GLOBAL else region
    arn = f"arn:{partition(region)}:{service}:{where}:{account}"
    out["arn"] = f"{arn}:{pattern.format(name=physical)}"
    if token == "aws:lambda/function:Function":
        out["invokeArn"] = (
            f"arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{out['arn']}/invocations"
        )
        out["qualifiedArn"] = f"{out['arn']}:$LATEST"
    if token == "aws:rds/instance:Instance":
        out["address"] = f"{physical}.abc123.{region}.rds.amazonaws.com"
        out["endpoint"] = f"{out['address']}:5432"
        out["port"] = inputs.get("port", 5432)
        out["masterUserSecrets"] = [
            {
                "secretArn": f"arn:{partition(region)}:secretsmanager:{region}:{account}:secret:rds!{physical}"
            }
        ]
    if token == "aws:iam/role:Role":
        out["uniqueId"] = f"AROA{physical.upper()[:12]}"
    if token == "aws:ecs/taskDefinition:TaskDefinition":
        out["revision"] = 1
        out["arnWithoutRevision"] = out["arn"].rsplit(":", 1)[0]
    if token == "aws:ecr/repository:Repository":
        out["registryId"] = account
        out["repositoryUrl"] = f"{account}.dkr.ecr.{region}.amazonaws.com/{physical}"
    return out


def _image_outputs(inputs: dict[str, Any]) -> dict[str, Any]:
    """A pushed ``pulumi_docker_build.Image``: a digest derived from what was built, and
    ``ref``, its first tag pinned to that digest (``<repository>:<tag>@sha256:...``)."""
    built = {k: inputs.get(k) for k in ("context", "dockerfile", "platforms", "tags")}
    digest = "sha256:" + hashlib.sha256(json.dumps(built, sort_keys=True).encode()).hexdigest()
    tags = inputs.get("tags") or []
    ref = f"{tags[0]}@{digest}" if inputs.get("push") and tags else ""
    return {"id": digest, "digest": digest, "ref": ref, "contextHash": digest[7:]}


def _unwrap_secrets(inputs: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """Inputs with secret markers removed, and the top-level keys that held a secret."""
    secrets: set[str] = set()

    def unwrap(value: Any, key: str) -> Any:
        if isinstance(value, dict):
            if value.get(_SIG_KEY) == _SECRET_SIG:
                secrets.add(key)
                return unwrap(value.get("value"), key)
            return {k: unwrap(v, key) for k, v in value.items()}
        if isinstance(value, list):
            return [unwrap(v, key) for v in value]
        return value

    return {k: unwrap(v, k) for k, v in inputs.items()}, secrets


def _service_of(token: str) -> str:
    return token.split(":")[1].split("/")[0]


def _kind_of(token: str) -> str:
    return token.rsplit(":", 1)[-1].lower()


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


_CURRENT = threading.local()


class _RecordingMonitor(pulumi.runtime.mocks.MockMonitor):
    """A MockMonitor that tells the mocks each registration's URN (new_resource lacks it)."""

    def RegisterResource(self, request: Any) -> Any:
        _CURRENT.urn = self.make_urn(request.parent, request.type, request.name)
        _CURRENT.protect = bool(request.protect)
        _CURRENT.retain_on_delete = bool(request.retainOnDelete)
        try:
            return super().RegisterResource(request)  # type: ignore[no-untyped-call]
        finally:
            _CURRENT.urn = ""
            _CURRENT.protect = _CURRENT.retain_on_delete = False


def _ensure_event_loop() -> None:
    """Pulumi's runtime makes its futures on the thread's current event loop; after an
    ``asyncio.run`` in this thread (a test, an async task run locally) there is none, and
    ``asyncio.get_event_loop`` raises: give the thread a new one."""
    import asyncio

    policy = asyncio.get_event_loop_policy()
    try:
        loop = policy.get_event_loop()
    except RuntimeError:
        loop = None
    if loop is None or loop.is_closed():
        policy.set_event_loop(policy.new_event_loop())


def run_program(
    program: Callable[[], Any],
    *,
    mocks: RecordingMocks | None = None,
    project: str = "glacier-test",
    stack: str = "test",
    preview: bool = False,
    config: Mapping[str, str] | None = None,
    secrets: Sequence[str] = (),
) -> Run:
    """Run ``program`` as a Pulumi program under mocks; return after everything registered.

    ``config`` is the stack's configuration for this run (``{"glacier:subnets": '["subnet-a"]'}``,
    values as ``pulumi config`` stores them: text, objects as JSON), ``secrets`` the keys that
    are secrets; without it the configuration already set is used. Exceptions raised by the
    program or by a registration propagate. Afterwards the Pulumi runtime is reset, so code
    run later in the same process sees no program running, and the configuration restored.
    """
    mocks = mocks if mocks is not None else RecordingMocks()
    _ensure_event_loop()
    previous = (dict(_config.CONFIG.get()), list(_config._SECRET_KEYS.get()))
    if config is not None:
        pulumi.runtime.set_all_config(dict(config), list(secrets))
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=preview, monitor=_RecordingMonitor(mocks)
    )
    holder: dict[str, Any] = {}
    try:
        _settings.SETTINGS.rpc_manager.clear()
        _settings.SETTINGS.outputs.clear()

        def body() -> None:
            holder["result"] = program()

        # The same wait `pulumi up` does: every outstanding registration and apply.
        _sync_await(run_pulumi_func(body))
        root = _settings.get_root_resource()
        raw = dict(getattr(root, "outputs", {}) or {})
        exports = {
            key: _sync_await(pulumi.Output.from_input(value).future()) for key, value in raw.items()
        }
    finally:
        _settings.reset_options(project=project, stack=stack)
        if config is not None:
            pulumi.runtime.set_all_config(*previous)
    return Run(list(mocks.resources), exports, holder.get("result"))


def is_taggable(token: str) -> bool:
    """Whether a pulumi_aws resource type accepts ``tags``, read from its class signature."""
    package, rest = token.split(":", 1)
    if package != "aws":
        return False
    module_part, class_name = rest.split(":")
    module = module_part.split("/")[0]
    if module == "index":
        python_module = "pulumi_aws"
    elif keyword.iskeyword(module):  # aws:lambda/... lives in pulumi_aws.lambda_
        python_module = f"pulumi_aws.{module}_"
    else:
        python_module = f"pulumi_aws.{module}"
    cls = getattr(importlib.import_module(python_module), class_name)
    return "tags" in inspect.signature(cls._internal_init).parameters
