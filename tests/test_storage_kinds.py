"""The storage kinds' registry (``glacier.storage.kinds``) and every layer's agreement with it.

Adding a kind: a record in the registry, an entry in ``EXAMPLES`` below (what the user writes,
the model both paths give), and the user-facing class that declares it. The tests here then
hold the model, both paths, local I/O, the code generators and the deploy permissions to it.
"""

from __future__ import annotations

import dataclasses
import importlib
import sys
from pathlib import Path
from typing import Any

import pytest

from glacier.model import DatasetModel, PipelineModel, Span, StorageModel
from glacier.storage import kinds
from glacier.storage.kinds import KINDS, LOCAL_FIELDS, StorageKind, kind_named
from glacier_local import _io

# kind -> (the storage expression a user writes, the StorageModel both paths give for it)
EXAMPLES: dict[str, tuple[str, StorageModel]] = {
    "object": (
        'ObjectStorage("raw-data", "in", existing=True)',
        StorageModel("object", bucket="raw-data", prefix="in", existing=True),
    ),
    "database": ('Database("orders")', StorageModel("database", table="orders")),
    "s3": ('prod.s3("prod-data")', StorageModel("s3", bucket="prod-data", environment="prod")),
    "rds": ('prod.rds("warehouse")', StorageModel("rds", name="warehouse", environment="prod")),
    "pulumi": (
        'aws.s3.Bucket("landing")',
        StorageModel("pulumi", name="landing", resource="pulumi_aws.s3.Bucket"),
    ),
}
RAW_TABLE = StorageModel("pulumi", name="db", resource="pulumi_aws.rds.Instance")
"""A raw resource that holds tables (the kind's ``table_resources``)."""

EVERY_STORAGE = [example for _, example in EXAMPLES.values()] + [RAW_TABLE]
MODEL_FIELDS = {f.name for f in dataclasses.fields(StorageModel)}


def _description(storage: StorageModel) -> dict[str, Any]:
    return {name: getattr(storage, name) for name in LOCAL_FIELDS}


# -- the registry's invariants ----------------------------------------------------------------


def test_every_kind_has_an_example() -> None:
    assert set(EXAMPLES) == set(KINDS)


@pytest.mark.parametrize("kind", KINDS.values(), ids=list(KINDS))
def test_a_kind_is_consistent(kind: StorageKind) -> None:
    assert KINDS[kind.name] is kind_named(kind.name)
    assert set(kind.fields) <= MODEL_FIELDS - {"kind", "variable", "module"}
    assert len(set(kind.fields)) == len(kind.fields)
    arguments = [name for name, _ in kind.arguments]
    assert arguments == [f for f in kind.fields if f in arguments]  # fields, in their order
    # the fields local I/O reads are carried; `existing` only matters to a deployment
    assert set(kind.fields) - {"existing"} <= set(LOCAL_FIELDS)
    assert kind.infrastructure == (kind.placement != "pipeline")
    assert (kind.placement == "environment") == ("environment" in kind.fields)
    assert (kind.environment_method is not None) == (kind.placement == "environment")
    if not kind.table:
        assert kind.bucket_field in kind.fields
    assert not (kind.table and kind.table_resources)


def test_kinds_are_declared_by_distinct_apis() -> None:
    declared = [k.declared_by for k in KINDS.values()]
    assert len(set(declared)) == len(declared)
    assert kinds.declared_by("glacier.ObjectStorage") is kinds.OBJECT
    assert kinds.declared_by("glacier.Serverless") is None
    assert kinds.environment_methods() == {"s3", "rds"}
    assert kinds.environment_kind("rds") is kinds.RDS
    with pytest.raises(ValueError, match="declares no storage"):
        kinds.environment_kind("provider")


def test_local_fields_are_model_fields_in_model_order() -> None:
    order = [f.name for f in dataclasses.fields(StorageModel)]
    assert list(LOCAL_FIELDS) == [f for f in order if f in LOCAL_FIELDS]


def test_the_model_refuses_an_unknown_kind_naming_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown storage kind 'ftp'; known: object, database"):
        StorageModel("ftp")


@pytest.mark.parametrize("storage", EVERY_STORAGE, ids=lambda s: f"{s.kind}-{s.resource}")
def test_the_model_round_trips_every_kind(storage: StorageModel) -> None:
    span = Span("p.py", 1, 1)
    model = PipelineModel.create(
        name="p",
        module="p",
        variable=None,
        schedule=None,
        description=None,
        span=span,
        datasets=[DatasetModel("d", "p", None, None, storage, span)],
        tasks=[],
    )
    assert PipelineModel.from_json(model.to_json()) == model


# -- is this a table: one answer --------------------------------------------------------------


@pytest.mark.parametrize("storage", EVERY_STORAGE, ids=lambda s: f"{s.kind}-{s.resource}")
def test_every_layer_agrees_on_what_is_a_table(storage: StorageModel) -> None:
    from codegen._runner import _io_storage
    from codegen.aws._database import is_table as program_is_table

    expected = kind_named(storage.kind).is_table(storage.resource)
    assert expected == (storage.kind in ("database", "rds") or storage is RAW_TABLE)
    assert kinds.is_table(storage) is expected
    assert kinds.is_table(_description(storage)) is expected
    # glacier_local._io is embedded verbatim in runners and bundles and keeps its own check
    assert _io.is_table(_description(storage)) is expected
    assert _io.is_table(_io_storage(storage)) is expected
    span = Span("p.py", 1, 1)
    assert program_is_table(DatasetModel("d", "p", None, None, storage, span)) is expected


@pytest.mark.parametrize(
    "storage", [s for s in EVERY_STORAGE if kinds.is_table(s)], ids=lambda s: s.kind
)
def test_the_deployed_handler_reaches_a_table_as_the_registry_grants(
    storage: StorageModel, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The handler is embedded verbatim (standard library only) and names the kind whose
    tables it reaches through the RDS instance's own secret: the registry grants exactly that
    kind the RDS secret, every other table kind the URL secret."""
    from codegen.embedded import glacier_handler

    monkeypatch.delenv("GLACIER_DATABASE_SECRET_ARN", raising=False)
    monkeypatch.delenv("GLACIER_DATABASE_URL_SECRET_ARN", raising=False)
    with pytest.raises(RuntimeError) as refused:
        glacier_handler._table(_description(storage))
    reaches_rds_secret = "GLACIER_DATABASE_SECRET_ARN" in str(refused.value)
    access = kind_named(storage.kind).access(storage.resource, storage.url)
    assert reaches_rds_secret == (access is kinds.RDS_SECRET_ACCESS)


def test_the_io_layer_writes_the_extensions_the_registry_grants() -> None:
    """A deployed task may touch exactly ``<dataset><extension>`` for these extensions: one the
    I/O layer could write and the registry did not list would be denied at run time."""
    assert tuple(_io.EXTENSIONS.values()) == kinds.OBJECT_EXTENSIONS


def test_ephemeral_is_no_table() -> None:
    assert not kinds.is_table(None) and not _io.is_table(None)


# -- local I/O --------------------------------------------------------------------------------


@pytest.mark.parametrize("storage", EVERY_STORAGE, ids=lambda s: f"{s.kind}-{s.resource}")
def test_every_kind_has_local_io(storage: StorageModel, tmp_path: Path) -> None:
    """Written and read back, by the executor's description and by the runner's."""
    from codegen._runner import _io_storage

    value: Any = [{"id": 1, "name": "a"}] if kinds.is_table(storage) else {"n": 1}
    written = _io.write(_description(storage), "d", value, tmp_path)
    runner = _io_storage(storage)
    assert _io.exists(runner, "d", tmp_path)
    assert _io.location(runner, "d", tmp_path) == written
    assert _io.read(runner, "d", tmp_path) == value
    if kinds.is_table(storage):
        assert written.startswith(str(tmp_path / _io.SQLITE_FILE))
    else:
        bucket = getattr(storage, str(kind_named(storage.kind).bucket_field))
        assert Path(written).parent == tmp_path.joinpath(bucket, storage.prefix)


# -- deploy permissions -----------------------------------------------------------------------


@pytest.mark.parametrize("storage", EVERY_STORAGE, ids=lambda s: f"{s.kind}-{s.resource}")
def test_every_kind_has_deploy_permissions(storage: StorageModel) -> None:
    kind = kind_named(storage.kind)
    access = kind.access(storage.resource, storage.url)
    if kind.is_table(storage.resource):
        assert access is kind.table_access
        assert access.read == access.write == ("secretsmanager:GetSecretValue",)
        assert kind.access(storage.resource, "postgresql://h/db") is kinds.LITERAL_URL_ACCESS
    else:
        assert access is kinds.BUCKET_ACCESS
        assert access.read and access.listing and access.write


def test_glacier_aws_grants_what_the_registry_says() -> None:
    pytest.importorskip("pulumi")
    from glacier_aws import _deploy_database, grants

    bucket = kinds.BUCKET_ACCESS
    assert grants.READ_ACTIONS == bucket.read == ("s3:GetObject",)
    assert grants.LIST_ACTIONS == bucket.listing == ("s3:ListBucket",)
    assert grants.WRITE_ACTIONS == bucket.write
    assert set(bucket.write) == {"s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"}
    statement = _deploy_database.secret_statement("S", "arn:aws:secretsmanager:r:1:secret:x")
    assert statement["Action"] == list(kinds.RDS_SECRET_ACCESS.read)
    assert statement["Action"] == list(kinds.URL_SECRET_ACCESS.read)


def test_program_access_of_tables_follows_the_registry() -> None:
    from codegen.aws._database import access_of

    span = Span("p.py", 1, 1)

    def access(storage: StorageModel) -> str:
        return access_of(DatasetModel("d", "p", None, None, storage, span))

    assert access(EXAMPLES["rds"][1]) == "rds"
    assert access(EXAMPLES["database"][1]) == "url"
    assert access(StorageModel("database", url="postgresql://h/db")) == "literal"
    assert access(RAW_TABLE) == "url"


# -- both paths -------------------------------------------------------------------------------


def _module_source(kinds: list[str]) -> str:
    lines = [
        "import pulumi_aws as aws",
        "from glacier import Database, Dataset, ObjectStorage, Pipeline",
        "from glacier_aws import Environment",
        "",
        'pipeline = Pipeline(name="kinds")',
        'prod = Environment("123456789012", "eu-west-1", "prod")',
    ]
    for kind in kinds:
        lines.append(f"storage_{kind} = {EXAMPLES[kind][0]}")
        lines.append(f'd_{kind} = Dataset(name="d_{kind}", storage=storage_{kind})')
    params = ", ".join(f"in_{kind}: d_{kind}" for kind in kinds)
    lines += ["", "", "@pipeline.task()", f"def read_all({params}) -> None:", "    pass", ""]
    return "\n".join(lines)


def _static_storages(folder: Path, name: str) -> dict[str, StorageModel | None]:
    from analyzer import analyze

    result = analyze([folder / f"{name}.py"], root=str(folder))
    assert not result.errors, result.errors
    (model,) = result.pipelines
    return {d.name: d.storage for d in model.datasets}


def test_the_static_path_reads_every_kind(tmp_path: Path) -> None:
    (tmp_path / "kinds_static.py").write_text(_module_source(list(EXAMPLES)), encoding="utf-8")
    storages = _static_storages(tmp_path, "kinds_static")
    assert storages == {
        f"d_{kind}": dataclasses.replace(
            expected, variable=f"storage_{kind}", module="kinds_static"
        )
        for kind, (_, expected) in EXAMPLES.items()
    }


def test_both_paths_give_the_same_storage(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every kind a module can declare outside a Pulumi program (a raw resource needs one; the
    examples' comparison under Pulumi mocks covers it, see test_inspect)."""
    kinds = [k for k in EXAMPLES if KINDS[k].placement != "resource"]
    source = _module_source(kinds).replace("import pulumi_aws as aws\n", "")
    (tmp_path / "kinds_runtime.py").write_text(source, encoding="utf-8")
    static = _static_storages(tmp_path, "kinds_runtime")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    try:
        module = importlib.import_module("kinds_runtime")
        runtime = {d.name: d.storage for d in module.pipeline.to_model().datasets}
    finally:
        sys.modules.pop("kinds_runtime", None)
    assert runtime == static
    assert {s.kind for s in runtime.values() if s is not None} == set(kinds)
