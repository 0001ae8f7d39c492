"""What a name or expression denotes, as far as the static path can tell.

Values are created by ``analyzer._resolve.Resolver`` when it follows names through imports.
A declaration (a ``Pipeline(...)``, ``Dataset(...)``, ``Environment(...)`` call, a storage or
compute config, a Pulumi resource) is identified by ``Key``: the module and position of its
call, so the same declaration reached through two imports is the same value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from analyzer._summary import Call, Expr, Pos
from glacier.storage.kinds import kind_named

__all__ = [
    "BoundMethod",
    "ComputeV",
    "DatasetClass",
    "DatasetV",
    "EnvV",
    "Ext",
    "FunctionRef",
    "Key",
    "Lit",
    "ModuleV",
    "Opaque",
    "PipelineV",
    "PulumiRes",
    "StorageV",
    "TaskDeco",
    "Unknown",
    "Value",
]

Key = tuple[str, int, int]  # module, line, column of the declaring call

GLACIER_PACKAGES = frozenset({"glacier", "glacier_aws", "glacier_local"})

# The glacier API the analyzer understands, by the name it is exported under.
API = {
    "Dataset": "glacier.Dataset",
    "Pipeline": "glacier.Pipeline",
    "ObjectStorage": "glacier.ObjectStorage",
    "Database": "glacier.Database",
    "Serverless": "glacier.Serverless",
    "Container": "glacier.Container",
    "Environment": "glacier_aws.Environment",
    "LocalExecutor": "glacier_local.LocalExecutor",
}


def package_category(module: str) -> Literal["glacier", "pulumi", "other"]:
    top = module.split(".", 1)[0]
    if top in GLACIER_PACKAGES:
        return "glacier"
    if top == "pulumi" or top.startswith("pulumi_"):
        return "pulumi"
    return "other"


@dataclass(frozen=True, slots=True)
class ModuleV:
    """A module the analyzer reads (one of the project's)."""

    name: str


@dataclass(frozen=True, slots=True)
class Ext:
    """Something from a module the analyzer does not read: glacier's API, pulumi, a library."""

    qualname: str
    category: Literal["glacier", "pulumi", "other"]
    missing: str | None = None  # set when the module looked like the project's own but is absent

    @property
    def api(self) -> str | None:
        """``glacier.Dataset`` etc. when this is a known part of glacier's API."""
        if self.category != "glacier":
            return None
        return API.get(self.qualname.rsplit(".", 1)[-1])


@dataclass(frozen=True, slots=True)
class Lit:
    value: str | int | float | bool | None | dict[str, object]


@dataclass(frozen=True, slots=True)
class DatasetClass:
    """``Dataset`` itself, or ``Dataset[T]`` (then ``payload`` is T's source text)."""

    payload: str | None


@dataclass(frozen=True, slots=True)
class PipelineV:
    key: Key


@dataclass(frozen=True, slots=True)
class DatasetV:
    key: Key


@dataclass(frozen=True, slots=True)
class EnvV:
    key: Key


@dataclass(frozen=True, slots=True)
class StorageV:
    key: Key
    kind: str
    """A ``StorageModel.kind`` (``glacier.storage.kinds``)."""
    fields: tuple[tuple[str, object], ...]

    @property
    def infrastructure(self) -> bool:
        return kind_named(self.kind).infrastructure


@dataclass(frozen=True, slots=True)
class ComputeV:
    fields: tuple[tuple[str, object], ...]


@dataclass(frozen=True, slots=True)
class PulumiRes:
    """A raw Pulumi resource construction: ``aws.s3.Bucket("name", ...)``."""

    key: Key
    resource: str
    name: str | None


@dataclass(frozen=True, slots=True)
class BoundMethod:
    owner: PipelineV | EnvV
    attr: str


@dataclass(frozen=True, slots=True)
class TaskDeco:
    """``pipeline.task(...)``: the decorator call, to be read where it is applied."""

    pipeline: PipelineV
    call: Call
    module: str
    at: int


@dataclass(frozen=True, slots=True)
class FunctionRef:
    module: str
    name: str


@dataclass(frozen=True, slots=True)
class Opaque:
    """A value of the user's program the analyzer has no reason to follow (a list, a call).

    ``dynamic`` says where it comes from when it might be anything (the result of a call):
    used as an annotation, it is something the analyzer cannot follow rather than "not a
    dataset".
    """

    infrastructure: bool = False
    dynamic: str | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    """A name the analyzer could not follow; ``why`` says what happened."""

    why: str
    expr: Expr | None = None
    pos: Pos | None = None


Value = (
    ModuleV
    | Ext
    | Lit
    | DatasetClass
    | PipelineV
    | DatasetV
    | EnvV
    | StorageV
    | ComputeV
    | PulumiRes
    | BoundMethod
    | TaskDeco
    | FunctionRef
    | Opaque
    | Unknown
)


def is_infrastructure(value: Value) -> bool:
    if isinstance(value, (EnvV, PulumiRes)):
        return True
    if isinstance(value, StorageV):
        return value.infrastructure
    if isinstance(value, Ext):
        return value.category == "pulumi"
    if isinstance(value, BoundMethod):
        return isinstance(value.owner, EnvV)
    if isinstance(value, Opaque):
        return value.infrastructure
    return False
