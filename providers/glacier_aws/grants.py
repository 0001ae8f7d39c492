"""The data grants of a task's role: exactly the keys of its datasets, as IAM statements.

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

This module does not import Pulumi: ``glacier build`` sizes the grants of each task with it
(``GLC308``) before any program runs. Bucket names and keys may be Pulumi outputs inside a
program; only then is Pulumi imported, to join them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from glacier.storage.kinds import BUCKET_ACCESS, OBJECT_EXTENSIONS

__all__ = [
    "KMS_READ_ACTIONS",
    "KMS_WRITE_ACTIONS",
    "LIST_ACTIONS",
    "READ_ACTIONS",
    "ROLE_POLICY_LIMIT",
    "WRITE_ACTIONS",
    "DatasetLocation",
    "bucket_prefix",
    "dataset_statements",
    "key_prefix",
    "partition",
    "policy_size",
]

ROLE_POLICY_LIMIT = 10_240
"""IAM's quota on the inline policies of one role, in characters, whitespace not counted."""


def policy_size(document: str) -> int:
    """The size of a policy document as IAM counts it against its quotas: no whitespace."""
    return len(re.sub(r"\s", "", document))


def bucket_prefix(name: str) -> str:
    """An S3 ``bucket_prefix`` from a component name: lowercase letters, digits, hyphens (AWS
    appends a unique suffix of 26 characters)."""
    text = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:30].rstrip("-")
    return f"{text or 'glacier'}-"


def partition(region: str) -> str:
    """The ARN partition of an AWS region."""
    if region.startswith("cn-"):
        return "aws-cn"
    return "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _concat(*parts: Any) -> Any:
    """The parts joined: a ``str``, or a Pulumi output when one of them is an output."""
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)
    import pulumi

    return pulumi.Output.concat(*parts)


# what the storage kinds' registry grants a task on the files of a dataset in a bucket
READ_ACTIONS = BUCKET_ACCESS.read
LIST_ACTIONS = BUCKET_ACCESS.listing
WRITE_ACTIONS = BUCKET_ACCESS.write
KMS_READ_ACTIONS = ("kms:Decrypt",)
KMS_WRITE_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")
_IAM_SPECIAL = ("*", "?", "${")


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


def _bucket_arn(bucket: Any, suffix: str = "", partition: Any = "aws") -> Any:
    return _concat("arn:", partition, ":s3:::", bucket, suffix)


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
    via = _concat("s3.", region, ".amazonaws.com")
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
    partition: Any = "aws",
) -> list[dict[str, Any]]:
    """IAM statements for exactly these datasets: read and list inputs, write and list outputs.

    ``partition`` (``str`` or output) is the ARN partition of the buckets: ``aws``, or
    ``aws-cn`` / ``aws-us-gov`` in the China and GovCloud regions.

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
                        _bucket_arn(bucket, "/" + key, partition)
                        for m in members
                        for key in m.object_keys()
                    ],
                }
            )
            statements.append(
                {
                    "Sid": f"List{kind}{index}",
                    "Effect": "Allow",
                    "Action": list(LIST_ACTIONS),
                    "Resource": [_bucket_arn(bucket, "", partition)],
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
