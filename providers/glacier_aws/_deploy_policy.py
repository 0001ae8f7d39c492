"""Least-privilege IAM statements for a task, derived from the datasets it touches.

The key layout is the one the generated handler (``glacier_handler.py``) uses:

- a stored dataset ``D`` with ``prefix=P`` in bucket ``B`` is the object ``B/P/D<ext>``, ``<ext>``
  one of the I/O layer's extensions (``OBJECT_EXTENSIONS``: ``.json``, ``.parquet`` ...); the
  handler lists ``P/D.`` to find the extension, reads the newest, and on write uploads
  ``P/D<ext>`` and deletes the stale siblings ``P/D<other ext>``;
- an ephemeral dataset ``D`` lives in the scratch bucket ``S`` at ``S/<execution>/D<ext>``.

So a task gets ``s3:GetObject`` on exactly the keys ``arn:aws:s3:::B/P/D<ext>`` (one per
extension) of each input, ``s3:ListBucket`` on ``B`` only for the prefix ``P/D.``, and
``s3:PutObject``, ``s3:DeleteObject``, ``s3:AbortMultipartUpload`` on exactly the keys of each
output. Never ``B/P/D.*``: that also matches the keys of a dataset named ``D.eu`` in the same
place, so the producer of ``D`` could overwrite it. No data action ever has a ``*`` resource.

A bucket encrypted with a customer managed KMS key (SSE-KMS) also needs the key: S3 calls
KMS on the task's behalf, with the task's permissions. For inputs in such a bucket the task
gets ``kms:Decrypt``, for outputs ``kms:GenerateDataKey`` and ``kms:Decrypt`` (a multipart
upload decrypts the data key to add parts), on exactly those keys and only through S3 of
the task's region (``kms:ViaService``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import pulumi

from glacier.storage.kinds import BUCKET_ACCESS, OBJECT_EXTENSIONS

__all__ = [
    "KMS_READ_ACTIONS",
    "KMS_WRITE_ACTIONS",
    "READ_ACTIONS",
    "WRITE_ACTIONS",
    "DatasetLocation",
    "dataset_statements",
    "ecr_repository_arn",
    "image_pull_statements",
    "key_prefix",
    "log_statements",
    "policy_document",
    "trust_policy",
    "xray_statements",
]

# what the storage kinds' registry grants a task on the files of a dataset in a bucket
READ_ACTIONS = BUCKET_ACCESS.read
LIST_ACTIONS = BUCKET_ACCESS.listing
WRITE_ACTIONS = BUCKET_ACCESS.write
KMS_READ_ACTIONS = ("kms:Decrypt",)
KMS_WRITE_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
_IAM_SPECIAL = ("*", "?", "${")
# <account>.dkr.ecr[-fips].<region>.amazonaws.com[.cn]/<repository>[:tag][@digest]
_ECR_IMAGE = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com"
    r"(?P<china>\.cn)?/(?P<repository>[a-z0-9][a-z0-9._/-]*?)"
    r"(?::[\w.-]+)?(?:@sha256:[0-9a-f]{64})?"
)


@dataclass(frozen=True)
class DatasetLocation:
    """Where one dataset's objects live.

    ``bucket`` is the bucket *name* (a ``str`` or a Pulumi output such as
    ``bucket_resource.bucket``); ``None`` means the dataset is ephemeral and lives in the
    pipeline's scratch bucket under ``<execution>/``. ``prefix`` is the key prefix of
    ``ObjectStorage(prefix=...)``. ``kms_key`` is the ARN (``str`` or output) of the
    customer managed KMS key the bucket encrypts with (``S3Bucket.kms_key_arn``), or
    ``None``.
    """

    dataset: str
    bucket: Any = None
    prefix: str = ""
    kms_key: Any = None

    def __post_init__(self) -> None:
        # `*`, `?` and `${...}` mean wildcards and policy variables inside IAM ARNs: a name
        # holding them would widen the grant beyond this dataset.
        for what, text in (("dataset name", self.dataset), ("prefix", self.prefix)):
            if any(bad in text for bad in _IAM_SPECIAL):
                raise ValueError(
                    f"dataset {self.dataset!r}: {what} {text!r} contains one of "
                    f"{' '.join(_IAM_SPECIAL)}, which IAM reads as wildcards or variables"
                )
        if not self.dataset:
            raise ValueError("invalid dataset name '': it names the S3 object")

    @property
    def ephemeral(self) -> bool:
        return self.bucket is None

    def object_keys(self) -> list[str]:
        """The object keys this dataset can have, one per extension (in the scratch bucket,
        under any execution: ``*/``)."""
        where = "*/" if self.ephemeral else key_prefix(self.prefix)
        return [f"{where}{self.dataset}{extension}" for extension in OBJECT_EXTENSIONS]

    def list_prefix(self) -> str:
        """The ``s3:prefix`` the handler lists with (a ``StringLike`` pattern)."""
        if self.ephemeral:
            return f"*/{self.dataset}."
        return f"{key_prefix(self.prefix)}{self.dataset}."


def key_prefix(prefix: str) -> str:
    """``a//b/`` -> ``a/b/``; empty and ``.`` parts dropped, as the handler does."""
    parts = [p for p in prefix.split("/") if p and p != "."]
    return "".join(p + "/" for p in parts)


def _bucket_arn(bucket: Any, suffix: str = "") -> Any:
    if isinstance(bucket, str):
        return f"arn:aws:s3:::{bucket}{suffix}"
    return pulumi.Output.concat("arn:aws:s3:::", bucket, suffix)


def _grouped(
    locations: Iterable[DatasetLocation], scratch_bucket: Any
) -> list[tuple[Any, list[DatasetLocation]]]:
    """Locations grouped by bucket, in first-seen order (outputs compared by identity)."""
    groups: list[tuple[Any, list[DatasetLocation]]] = []
    for location in locations:
        bucket = scratch_bucket if location.ephemeral else location.bucket
        if bucket is None:
            raise ValueError(
                f"dataset {location.dataset!r} is ephemeral but no scratch bucket was given"
            )
        for known, members in groups:
            if known is bucket or (isinstance(known, str) and known == bucket):
                members.append(location)
                break
        else:
            groups.append((bucket, [location]))
    return groups


def _keys(locations: Iterable[DatasetLocation]) -> list[Any]:
    """The distinct KMS keys of these locations, in first-seen order (outputs by identity)."""
    keys: list[Any] = []
    for location in locations:
        key = location.kms_key
        if key is not None and not any(k is key or (isinstance(k, str) and k == key) for k in keys):
            keys.append(key)
    return keys


def _kms_statement(sid: str, actions: Sequence[str], keys: list[Any], region: Any) -> Any:
    via = (
        f"s3.{region}.amazonaws.com"
        if isinstance(region, str)
        else pulumi.Output.concat("s3.", region, ".amazonaws.com")
    )
    return {
        "Sid": sid,
        "Effect": "Allow",
        "Action": list(actions),
        "Resource": keys,
        # only S3 (of this region) may use the key for the task: not a direct KMS call
        "Condition": {"StringEquals": {"kms:ViaService": via}},
    }


def dataset_statements(
    reads: Sequence[DatasetLocation],
    writes: Sequence[DatasetLocation],
    scratch_bucket: Any = None,
    *,
    region: Any = None,
) -> list[dict[str, Any]]:
    """IAM statements for exactly these datasets: read and list inputs, write and list outputs.

    With locations in SSE-KMS buckets, also ``DecryptInputs`` / ``EncryptOutputs`` on their
    keys, conditioned on ``kms:ViaService`` = ``s3.<region>.amazonaws.com``: ``region``
    (``str`` or output) is then required.
    """
    statements: list[dict[str, Any]] = []
    # The handler lists an input's keys to find its object, and an output's before a write,
    # to delete only siblings that exist: a delete of a missing key leaves a delete marker on
    # a versioned bucket.
    for verb, kind, granted, locations in (
        ("Read", "Inputs", READ_ACTIONS, reads),
        ("Write", "Outputs", WRITE_ACTIONS, writes),
    ):
        for index, (bucket, members) in enumerate(_grouped(locations, scratch_bucket)):
            statements.append(
                {
                    "Sid": f"{verb}{kind}{index}",
                    "Effect": "Allow",
                    "Action": list(granted),
                    "Resource": [
                        _bucket_arn(bucket, "/" + key) for m in members for key in m.object_keys()
                    ],
                }
            )
            statements.append(
                {
                    "Sid": f"List{kind}{index}",
                    "Effect": "Allow",
                    "Action": list(LIST_ACTIONS),
                    "Resource": [_bucket_arn(bucket)],
                    "Condition": {"StringLike": {"s3:prefix": [m.list_prefix() for m in members]}},
                }
            )
    read_keys, write_keys = _keys(reads), _keys(writes)
    if (read_keys or write_keys) and region is None:
        raise ValueError("datasets in SSE-KMS buckets need the region of kms:ViaService")
    if read_keys:
        statements.append(_kms_statement("DecryptInputs", KMS_READ_ACTIONS, read_keys, region))
    if write_keys:
        statements.append(_kms_statement("EncryptOutputs", KMS_WRITE_ACTIONS, write_keys, region))
    return statements


def log_statements(log_group_arn: Any) -> list[dict[str, Any]]:
    """Write to its own log group's streams only."""
    return [
        {
            "Sid": "OwnLogGroup",
            "Effect": "Allow",
            "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
            "Resource": [pulumi.Output.concat(log_group_arn, ":*")],
        }
    ]


def xray_statements() -> list[dict[str, Any]]:
    """X-Ray has no resource-level permissions: its write actions need ``*`` (not data)."""
    return [
        {
            "Sid": "XRayTracing",
            "Effect": "Allow",
            "Action": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
            "Resource": "*",
        }
    ]


def policy_document(statements: Sequence[dict[str, Any]]) -> pulumi.Output[str]:
    """A policy document as JSON text; outputs inside the statements are resolved."""
    return pulumi.Output.json_dumps({"Version": "2012-10-17", "Statement": list(statements)})


def trust_policy(service: str, *, source_account: Any = None, source_arn: Any = None) -> Any:
    """Who may assume the role: one AWS service principal.

    With ``source_account`` / ``source_arn`` (``str`` or outputs), the service may assume
    it only on behalf of that account / resource: AWS's guard against the confused deputy.
    """
    statement: dict[str, Any] = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    condition: dict[str, Any] = {}
    if source_account is not None:
        condition["StringEquals"] = {"aws:SourceAccount": source_account}
    if source_arn is not None:
        condition["ArnLike"] = {"aws:SourceArn": source_arn}
    if condition:
        statement["Condition"] = condition
    document = {"Version": "2012-10-17", "Statement": [statement]}
    if source_account is None and source_arn is None:
        return json.dumps(document)
    return pulumi.Output.json_dumps(document)


def ecr_repository_arn(image: str) -> str | None:
    """The ARN of the private ECR repository ``image`` is pulled from; None for any other
    registry (Docker Hub, ECR Public: their public images are pulled without IAM)."""
    match = _ECR_IMAGE.fullmatch(image)
    if match is None:
        return None
    region = match["region"]
    partition = (
        "aws-cn" if match["china"] else "aws-us-gov" if region.startswith("us-gov-") else "aws"
    )
    return f"arn:{partition}:ecr:{region}:{match['account']}:repository/{match['repository']}"


def image_pull_statements(
    image: pulumi.Input[str], repository_arn: pulumi.Input[str] | None = None
) -> list[dict[str, Any]]:
    """What an ECS execution role needs to pull ``image``: the registry token, and the layer
    actions on exactly its repository (``repository_arn``, or the one a literal private ECR
    URI names). An image from another registry needs neither."""
    if repository_arn is None and isinstance(image, str):
        repository_arn = ecr_repository_arn(image)
    if repository_arn is None:
        return []
    return [
        {
            # AWS gives GetAuthorizationToken no resource-level permissions: `*` is its only
            # possible resource, and the token alone reads nothing.
            "Sid": "RegistryToken",
            "Effect": "Allow",
            "Action": ["ecr:GetAuthorizationToken"],
            "Resource": "*",
        },
        {
            "Sid": "PullImage",
            "Effect": "Allow",
            "Action": [
                "ecr:BatchCheckLayerAvailability",
                "ecr:GetDownloadUrlForLayer",
                "ecr:BatchGetImage",
            ],
            "Resource": [repository_arn],
        },
    ]
