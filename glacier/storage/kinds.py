"""The storage kinds: one record per ``StorageModel.kind``, consulted by every layer.

A kind says what the user writes to declare it, which ``StorageModel`` fields it sets, where it
belongs (with the pipeline, or to an environment's infrastructure), whether its datasets are
tables in a database or files in a bucket, and how a deployed task reaches it (the IAM actions
that grants). The runtime model, the analyzer, the code generators and the providers look kinds
up here instead of comparing kind strings, so adding a kind is a record below plus its tests
(and the user-facing class that declares it).

One exception, on purpose: ``glacier_local._io`` is embedded verbatim into generated runners
and task bundles and imports nothing but the standard library, so it keeps its own table
check (``_io.is_table``); ``tests/test_storage_kinds.py`` proves it agrees with this registry.

Standard library only: ``glacier.model`` imports this module.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

__all__ = [
    "BUCKET_ACCESS",
    "DATABASE",
    "KINDS",
    "LITERAL_URL_ACCESS",
    "LOCAL_FIELDS",
    "OBJECT",
    "OBJECT_EXTENSIONS",
    "RAW_RESOURCE",
    "RDS",
    "RDS_SECRET_ACCESS",
    "S3",
    "URL_SECRET_ACCESS",
    "DeployAccess",
    "StorageKind",
    "declared_by",
    "environment_kind",
    "environment_methods",
    "is_table",
    "kind_named",
    "kind_of",
]

Placement = Literal["pipeline", "environment", "resource"]


@dataclass(frozen=True, slots=True)
class DeployAccess:
    """How a deployed task reaches a dataset, and the IAM actions that takes.

    ``read``/``listing``/``write``: the actions a task that reads (lists) or writes the dataset
    is granted, each on exactly the dataset's resource (its keys, its bucket's prefix, or the
    one secret holding the database's credentials). ``glacier_aws`` builds its policy
    statements from these.
    """

    name: Literal["bucket", "rds", "url", "literal"]
    read: tuple[str, ...]
    listing: tuple[str, ...]
    write: tuple[str, ...]


BUCKET_ACCESS = DeployAccess(
    "bucket",
    read=("s3:GetObject",),
    listing=("s3:ListBucket",),
    write=("s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"),
)
"""Files in an S3 bucket: the dataset's keys ``<bucket>/<prefix>/<dataset><extension>``."""

OBJECT_EXTENSIONS = (".json", ".parquet", ".bin", ".pkl", ".csv")
"""The file extensions the I/O layer writes a dataset's object with, one per format: a deployed
task is granted exactly ``<prefix>/<dataset><extension>`` for each, never ``<dataset>.*`` (which
would also match another dataset named ``<dataset>.<more>``). ``glacier_local._io.EXTENSIONS``
keeps its own copy (it is embedded and imports nothing); ``tests/test_storage_kinds.py`` holds
the two equal."""

_SECRET = ("secretsmanager:GetSecretValue",)

RDS_SECRET_ACCESS = DeployAccess("rds", read=_SECRET, listing=(), write=_SECRET)
"""A table in an ``Environment.rds`` instance: its managed master-user secret."""

URL_SECRET_ACCESS = DeployAccess("url", read=_SECRET, listing=(), write=_SECRET)
"""A table whose database URL is the stack secret ``glacier:databaseUrl``."""

LITERAL_URL_ACCESS = DeployAccess("literal", read=(), listing=(), write=())
"""A table in the database of the user's own ``url=``: the handler uses it as written."""


@dataclass(frozen=True, slots=True)
class StorageKind:
    """One kind of storage, as ``StorageModel.kind`` names it."""

    name: str
    declared_by: str
    """What the user writes: a glacier API (``glacier.ObjectStorage``), an ``Environment``
    method (``glacier_aws.Environment.s3``), or ``pulumi`` for any raw Pulumi resource."""
    fields: tuple[str, ...]
    """The ``StorageModel`` fields this kind sets, besides ``kind``, ``variable`` and
    ``module``."""
    arguments: tuple[tuple[str, str | None], ...]
    """The constructor's leading arguments (positional or by keyword) and their defaults, in
    order: what the static path reads from the call. ``existing=`` (keyword-only) is read when
    ``existing`` is one of the ``fields``."""
    placement: Placement
    """Where it is deployed: ``pipeline`` (provider-agnostic, it goes where the pipeline
    goes), ``environment`` (the ``Environment`` named by its ``environment`` field) or
    ``resource`` (a raw resource: the environment whose program holds its variable)."""
    table: bool = False
    """Its datasets are tables in a database (otherwise files in a bucket)."""
    table_resources: tuple[str, ...] = ()
    """For a raw resource kind: resource classes (by prefix) whose datasets are tables."""
    bucket_field: str | None = "bucket"
    """The field naming its bucket, for datasets that are files."""
    table_access: DeployAccess = URL_SECRET_ACCESS
    """How a deployed task reaches its tables (``LITERAL_URL_ACCESS`` when ``url`` is set)."""

    @property
    def infrastructure(self) -> bool:
        """Declared by infrastructure code: it must not run outside a Pulumi program."""
        return self.placement != "pipeline"

    @property
    def environment_method(self) -> str | None:
        """``s3`` for ``Environment.s3``: the ``Environment`` method that declares it."""
        owner, _, method = self.declared_by.rpartition(".")
        return method if owner == "glacier_aws.Environment" else None

    @property
    def pipeline_bucket(self) -> bool:
        """Its datasets are files in a bucket the pipeline's program creates (or, with
        ``existing``, looks up) by the name the user wrote."""
        return self.placement == "pipeline" and not self.table and self.bucket_field is not None

    def is_table(self, resource: str | None = None) -> bool:
        """Whether a dataset of this kind (``resource``: its raw resource class) is a table."""
        return self.table or (
            bool(self.table_resources) and str(resource or "").startswith(self.table_resources)
        )

    def describe(self, config: Any) -> dict[str, Any]:
        """The ``StorageModel`` fields of a config object whose attributes are the kind's
        ``fields`` (``ObjectStorage``, ``Database``)."""
        return {"kind": self.name, **{name: getattr(config, name) for name in self.fields}}

    def access(self, resource: str | None = None, url: str | None = None) -> DeployAccess:
        """How a deployed task reaches a dataset of this kind."""
        if not self.is_table(resource):
            return BUCKET_ACCESS
        return LITERAL_URL_ACCESS if url else self.table_access


OBJECT = StorageKind(
    "object",
    declared_by="glacier.ObjectStorage",
    fields=("bucket", "prefix", "format", "existing"),
    arguments=(("bucket", None), ("prefix", ""), ("format", None)),
    placement="pipeline",
)
"""``ObjectStorage(bucket, prefix, format, existing=)``: files in a bucket."""

DATABASE = StorageKind(
    "database",
    declared_by="glacier.Database",
    fields=("table", "url"),
    arguments=(("table", None), ("url", None)),
    placement="pipeline",
    table=True,
    bucket_field=None,
)
"""``Database(table, url)``: a table in a database."""

S3 = StorageKind(
    "s3",
    declared_by="glacier_aws.Environment.s3",
    fields=("bucket", "environment", "existing"),
    arguments=(("bucket", None),),
    placement="environment",
)
"""``Environment.s3(bucket, existing=)``: files in a bucket; ``environment`` names the
Environment."""

RDS = StorageKind(
    "rds",
    declared_by="glacier_aws.Environment.rds",
    fields=("name", "environment"),
    arguments=(("name", None),),
    placement="environment",
    table=True,
    bucket_field=None,
    table_access=RDS_SECRET_ACCESS,
)
"""``Environment.rds(name)``: tables in an RDS instance; ``environment`` names the
Environment."""

RAW_RESOURCE = StorageKind(
    "pulumi",
    declared_by="pulumi",
    fields=("name", "resource"),
    arguments=(),
    placement="resource",
    table_resources=("pulumi_aws.rds.",),
    bucket_field="name",
)
"""A raw Pulumi resource: ``name`` is its Pulumi resource name (the first argument),
``resource`` its class (``pulumi_aws.s3.Bucket``); an RDS resource holds tables."""

KINDS: Mapping[str, StorageKind] = {k.name: k for k in (OBJECT, DATABASE, S3, RDS, RAW_RESOURCE)}
"""Every storage kind by ``StorageModel.kind``, in the order the model documents them."""

LOCAL_FIELDS = (
    "kind",
    "bucket",
    "name",
    "prefix",
    "format",
    "table",
    "url",
    "environment",
    "resource",
)
"""The ``StorageModel`` fields a storage description for ``glacier_local._io`` carries (the
local executor and the generated runner pass the same ones)."""


def kind_named(name: str) -> StorageKind:
    """The kind ``StorageModel.kind`` names; ``ValueError`` for an unknown one."""
    kind = KINDS.get(name)
    if kind is None:
        raise ValueError(f"unknown storage kind {name!r}; known: {', '.join(KINDS)}")
    return kind


def _field(storage: Any, name: str) -> Any:
    return storage.get(name) if isinstance(storage, Mapping) else getattr(storage, name)


def kind_of(storage: Any) -> StorageKind:
    """The kind of a ``StorageModel`` or of a storage description (a dict with ``kind``)."""
    return kind_named(_field(storage, "kind"))


def is_table(storage: Any) -> bool:
    """Whether a ``StorageModel`` or storage description (``None``: ephemeral) is a table."""
    if storage is None:
        return False
    return kind_of(storage).is_table(_field(storage, "resource"))


def declared_by(api: str) -> StorageKind | None:
    """The kind a glacier API (``glacier.ObjectStorage``) declares, if it declares one."""
    for kind in KINDS.values():
        if kind.declared_by == api:
            return kind
    return None


def environment_methods() -> frozenset[str]:
    """The ``Environment`` methods that declare storage (``s3``, ``rds``)."""
    return frozenset(k.environment_method for k in KINDS.values() if k.environment_method)


def environment_kind(method: str) -> StorageKind:
    """The kind ``Environment.<method>()`` declares."""
    for kind in KINDS.values():
        if kind.environment_method == method:
            return kind
    raise ValueError(f"`Environment.{method}` declares no storage")
