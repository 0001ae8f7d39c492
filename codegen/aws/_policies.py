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

from codegen.aws._database import is_table
from codegen.aws._program import component_name
from glacier.model import DatasetModel, PipelineModel, TaskModel
from glacier.storage.kinds import kind_of
from glacier_aws.grants import (
    DatasetLocation,
    bucket_prefix,
    dataset_statements,
    partition,
    policy_size,
)

__all__ = ["FIXED_STATEMENTS", "task_policy_size"]

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
