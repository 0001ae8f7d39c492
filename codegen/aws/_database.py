"""Datasets stored in a database, and how a deployed task reaches them.

Shared by the program (``_program``: secrets, network, variables) and the state machine
(``_asl``: the security group of a Fargate task that touches a database).

- ``rds``: ``Environment.rds(...)``; tasks read the instance's managed master-user secret.
- ``url``: ``Database(table=...)`` and raw ``pulumi_aws.rds.*`` resources; tasks read the URL
  from a secret the program creates from the stack secret ``glacier:databaseUrl``.
- ``literal``: ``Database(url=...)``; the handler uses the user's own URL as written.

Every task that touches any of them runs in the VPC.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from glacier.model import DatasetModel, TaskModel
from glacier.storage import kinds

__all__ = ["access_of", "is_table", "task_tables"]

Access = Literal["rds", "url", "literal"]


def is_table(dataset: DatasetModel) -> bool:
    """Whether the dataset is a table in a database (its storage kind decides)."""
    return kinds.is_table(dataset.storage)


def access_of(dataset: DatasetModel) -> Access:
    """How a task reaches the database of a table dataset."""
    storage = dataset.storage
    assert storage is not None and is_table(dataset)
    access = kinds.kind_of(storage).access(storage.resource, storage.url).name
    assert access != "bucket"
    return access


def task_tables(task: TaskModel, datasets: Mapping[str, DatasetModel]) -> list[DatasetModel]:
    """The task's inputs and outputs that are tables, in order, each once (``datasets``: the
    model's datasets by name, built once per program)."""
    names = [*(i.dataset for i in task.inputs), *task.outputs]
    found = [datasets[n] for n in dict.fromkeys(names) if n in datasets]
    return [d for d in found if is_table(d)]
