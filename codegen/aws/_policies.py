"""The size of each task role's policy, known before any program runs (``GLC308``).

IAM refuses a role whose inline policies are over 10,240 characters (whitespace not counted),
and a task's policy grows with every stored dataset it reads or writes: each is granted its
exact keys, one per format the I/O layer can write (``glacier_aws.grants``). The data grants
are sized here with the statements the program will write; bucket names a program makes up
(the scratch bucket's) or reads from a resource are given their longest length, and the
task's fixed statements (its log group, X-Ray, a database secret, the VPC) an upper bound.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from codegen.aws._database import is_table
from codegen.aws._program import component_name
from glacier.model import DatasetModel, PipelineModel, TaskModel
from glacier.storage.kinds import OBJECT_EXTENSIONS, kind_of
from glacier_aws.grants import (
    DatasetLocation,
    bucket_prefix,
    dataset_statements,
    partition,
    policy_size,
)

__all__ = ["FIXED_STATEMENTS", "task_grants", "task_policy_size"]

FIXED_STATEMENTS = 700
"""An upper bound, in characters, of a task policy's statements other than its data grants:
its log group's streams and X-Ray (about 320 with a 64-character log group name)."""
DATABASE_STATEMENTS = 900
"""The same for a task that touches a database: the secret it reads, and a Lambda function's
network-interface statements (about 650)."""
_AWS_SUFFIX = 26
"""The characters AWS appends to a ``bucket_prefix``."""
_LONGEST_BUCKET = "b" * 63


def task_policy_size(
    model: PipelineModel,
    task: TaskModel,
    datasets: Mapping[str, DatasetModel],
    region: str | None = None,
) -> int:
    """An upper bound of the size IAM counts for ``task``'s role policy, deployed to
    ``region`` (None: the stack's, ``aws`` partition assumed)."""
    scratch = bucket_prefix(component_name(model.name, "scratch"))
    scratch += "s" * min(_AWS_SUFFIX, 63 - len(scratch))
    names = [i.dataset for i in task.inputs]
    reads = [_location(datasets[n]) for n in dict.fromkeys(names) if n in datasets]
    writes = [_location(datasets[n]) for n in task.outputs if n in datasets]
    statements = dataset_statements(
        [r for r in reads if r is not None],
        [w for w in writes if w is not None],
        scratch,
        region="us-gov-west-1",  # the longest a KMS statement names
        partition=partition(region) if region else "aws",
    )
    data = policy_size(json.dumps(statements)) if statements else 0
    tables = any(is_table(d) for d in (datasets.get(n) for n in [*names, *task.outputs]) if d)
    return data + FIXED_STATEMENTS + (DATABASE_STATEMENTS if tables else 0)


def _location(dataset: DatasetModel) -> DatasetLocation | None:
    """Where the program grants the dataset's keys; None for a table (no keys)."""
    storage = dataset.storage
    if storage is None:
        return DatasetLocation(dataset.name)  # ephemeral: the scratch bucket
    if is_table(dataset):
        return None
    kind = kind_of(storage)
    named = getattr(storage, kind.bucket_field) if kind.bucket_field else None
    bucket = named if isinstance(named, str) and named else _LONGEST_BUCKET
    return DatasetLocation(dataset.name, bucket=bucket, prefix=storage.prefix or "")


def task_grants(
    model: PipelineModel, region: str | None = None
) -> dict[str, tuple[tuple[str, str], ...]]:
    """Task name -> its data grants as ``glacier_aws.grants`` writes them, as sorted
    ``(resource, action)`` pairs (``arn:aws:s3:::bucket/prefix/sales.<format>``,
    ``s3:GetObject``), for a reader comparing two revisions: the keys of one dataset's formats
    are one resource, a bucket the program makes (the scratch bucket) or reads from a resource
    is named in angle brackets (``<scratch>``, ``<prod_bucket>``), a listing's resource carries
    its prefix, and a table is ``database <dataset> (<storage>)`` with the action ``connect``
    (its secret, its network)."""
    datasets = {d.name: d for d in model.datasets}
    found = {}
    for task in model.tasks:
        names = list(dict.fromkeys([i.dataset for i in task.inputs]))
        reads = [_named_location(datasets[n]) for n in names if n in datasets]
        writes = [_named_location(datasets[n]) for n in task.outputs if n in datasets]
        statements = dataset_statements(
            [r for r in reads if r is not None],
            [w for w in writes if w is not None],
            "<scratch>",
            partition=partition(region) if region else "aws",
        )
        pairs = {
            (f"{_collapsed(resource)}{condition}", action)
            for statement in statements
            for action in statement["Action"]
            for resource in statement["Resource"]
            for condition in _conditions(statement)
        }
        for name in [*names, *task.outputs]:
            if name in datasets and is_table(datasets[name]):
                pairs.add((f"database {name} ({_table_home(datasets[name])})", "connect"))
        found[task.name] = tuple(sorted(pairs))
    return found


def _named_location(dataset: DatasetModel) -> DatasetLocation | None:
    """``_location`` with the bucket a program reads from a resource named after it."""
    storage = dataset.storage
    if storage is None:
        return DatasetLocation(dataset.name)
    if is_table(dataset):
        return None
    kind = kind_of(storage)
    named = getattr(storage, kind.bucket_field) if kind.bucket_field else None
    if not (isinstance(named, str) and named):
        named = f"<{storage.variable or storage.resource or kind.name}>"
    return DatasetLocation(dataset.name, bucket=named, prefix=storage.prefix or "")


def _collapsed(resource: str) -> str:
    """One object key per format -> the key with ``.<format>``."""
    for extension in OBJECT_EXTENSIONS:
        if resource.endswith(extension):
            return resource[: -len(extension)] + ".<format>"
    return resource


def _conditions(statement: Mapping[str, Any]) -> list[str]:
    """A listing's prefixes, one each (so a dataset added beside another is one line)."""
    prefixes = statement.get("Condition", {}).get("StringLike", {}).get("s3:prefix", [])
    return [f" (prefix {p})" for p in prefixes] or [""]


def _table_home(dataset: DatasetModel) -> str:
    storage = dataset.storage
    assert storage is not None
    return " ".join(
        str(v) for v in (storage.kind, storage.variable or storage.name, storage.table) if v
    )
