"""The generated Lambda handler, invoked in-process against moto's real S3 server.

For every example, the bundle that ``glacier build`` writes is imported from disk and each
task is invoked in dependency order, as the state machine would, with one execution name.
The oracle is a local run of the same example with ``LocalExecutor`` (in a subprocess, so
the user's modules and the bundle's sliced copies never share ``sys.modules``): every stored
dataset must hold the same bytes in S3 as in the local data directory (same format, same
serialisation), every table the same rows, and every ephemeral dataset the same value.
"""

from __future__ import annotations

import importlib
import json
import os
import pickle
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _postgres import postgres_url  # noqa: F401  (session fixture)

boto3 = pytest.importorskip("boto3")
moto_server = pytest.importorskip("moto.server")

from analyzer import analyze
from codegen.aws import emit_programs
from codegen.aws._infra import DEFAULT_ENV
from glacier.model import PipelineModel
from glacier_local import _io

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ["layer1_local.py", "layer2_environments.py", "layer3_raw_pulumi.py", "orders"]
SCRATCH = "glacier-scratch-test"

_LOCAL_RUN = r"""
import importlib, pickle, sys
sys.path.insert(0, sys.argv[1])
from glacier_local import LocalExecutor
module = importlib.import_module(sys.argv[2])
result = LocalExecutor(data_dir=sys.argv[3], max_workers=1).execute(module.pipeline)
assert result.ok, result
with open(sys.argv[4], "wb") as fh:
    pickle.dump(dict(result.outputs), fh)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    port = _free_port()
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


@pytest.fixture
def aws_env(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", s3_endpoint)
    monkeypatch.setenv("AWS_ENDPOINT_URL_SECRETS_MANAGER", s3_endpoint)  # moto serves both
    for key in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(key, raising=False)
    return boto3.client("s3", endpoint_url=s3_endpoint)


@pytest.fixture
def isolated_imports() -> Iterator[None]:
    """The bundle's modules (`orders`, `glacier_handler` ...) must not leak into other tests."""
    modules = dict(sys.modules)
    meta_path = list(sys.meta_path)
    path = list(sys.path)
    try:
        yield
    finally:
        # Forget the modules the test loaded from the bundle, and put back any it replaced.
        # Installed packages it loaded (numpy, pandas, boto3...) stay: extension modules
        # cannot be loaded twice in one process.
        installed = (sys.prefix, sys.base_prefix)
        for name, module in list(sys.modules.items()):
            if modules.get(name) is module:
                continue
            if name in modules:
                sys.modules[name] = modules[name]
            elif not (getattr(module, "__file__", None) or "").startswith(installed):
                del sys.modules[name]
        sys.meta_path[:] = meta_path
        sys.path[:] = path


def _bucket(storage: dict[str, Any]) -> str:
    return str(storage.get("bucket") or storage.get("name"))


def _write_bundle(model: PipelineModel, analysis: Any, into: Path) -> Path:
    files = emit_programs(analysis, model)
    bundle_prefix = None
    for path in files:
        if "/bundle/" in path:
            bundle_prefix = path.split("/bundle/")[0] + "/bundle/"
            break
    assert bundle_prefix is not None, "the pipeline's environment has a bundle"
    for path, data in files.items():
        if path.startswith(bundle_prefix):
            target = into / path[len(bundle_prefix) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
    return into


FORMATS_PROJECT = """
import pandas as pd

from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="formats")
pairs = Dataset(name="pairs", storage=ObjectStorage(bucket="fmt", prefix="a//b/", format="pkl"))
raw = Dataset(name="raw", storage=ObjectStorage(bucket="fmt", format="bytes"))
frame = Dataset(name="frame", storage=ObjectStorage(bucket="fmt", prefix="tables"))
rows = Dataset(name="rows", storage=ObjectStorage(bucket="fmt", format="csv"))
scratch = Dataset(name="scratch")


@pipeline.task()
def make() -> tuple[pairs, raw, scratch]:
    return ((1, 2), frozenset({3, 4})), b"\\x00\\x01binary", (1.5, "tuple goes to pickle")


@pipeline.task()
def table(p: pairs, s: scratch) -> frame:
    return pd.DataFrame({"x": [1.5, 2.5], "label": [str(p[0]), s[1]]})


@pipeline.task()
def export(p: pairs, r: raw) -> rows:
    return [{"x": float(x), "size": len(r)} for x in p[0]]
"""


def _case(example: str, tmp_path: Path) -> tuple[Path, str, Path, Path]:
    """(import directory, module, path to analyse, data to start from) of a test case."""
    if example == "formats":
        project = tmp_path / "formats-project"
        project.mkdir()
        (project / "pyproject.toml").write_text('[project]\nname = "f"\nversion = "0"\n')
        (project / "formats_pipe.py").write_text(FORMATS_PROJECT)
        (project / "data").mkdir()
        return project, "formats_pipe", project / "formats_pipe.py", project / "data"
    examples = ROOT / "examples"
    return examples, example.removesuffix(".py"), examples / example, examples / "data"


def _local_run(import_dir: Path, module: str, data_dir: Path, out: Path) -> dict[str, Any]:
    subprocess.run(
        [sys.executable, "-c", _LOCAL_RUN, str(import_dir), module, str(data_dir), str(out)],
        check=True,
        timeout=300,
        cwd=ROOT,
    )
    with open(out, "rb") as fh:
        outputs: dict[str, Any] = pickle.load(fh)
    return outputs


@pytest.mark.slow
@pytest.mark.parametrize("example", [*EXAMPLES, "formats"])
def test_handler_matches_a_local_run(
    example: str,
    tmp_path: Path,
    aws_env: Any,
    isolated_imports: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    s3 = aws_env
    import_dir, module_name, target, source_root = _case(example, tmp_path)
    analysis = analyze([str(target)])
    assert not [d for d in analysis.diagnostics if d.severity == "error"]
    (model,) = analysis.pipelines
    storages = {d.name: _io_storage(d) for d in model.datasets}

    # The local run: the example's own data directory, copied.
    local_dir = tmp_path / "local"
    shutil.copytree(source_root, local_dir)
    expected = _local_run(import_dir, module_name, local_dir, tmp_path / "outputs.pkl")

    # The cloud: one bucket per storage bucket, the example data uploaded to them.
    run_prefix = f"{model.name}-{os.getpid()}"
    names = {}
    for dataset, storage in storages.items():
        if storage is not None and not _io.is_table(storage):
            names[dataset] = f"{run_prefix}-{_bucket(storage)}"[:63].lower()
    for bucket in sorted({*names.values(), f"{run_prefix}-{SCRATCH}"[:63]}):
        s3.create_bucket(Bucket=bucket)
    for dataset, storage in storages.items():
        if dataset in model.producers() or storage is None or _io.is_table(storage):
            continue
        folder = Path(_io.directory(storage, source_root))
        for file in sorted(folder.glob(dataset + ".*")):
            key = file.relative_to(source_root / _bucket(storage)).as_posix()
            s3.upload_file(str(file), names[dataset], key)

    bundle = _write_bundle(model, analysis, tmp_path / "bundle")
    monkeypatch.setenv("GLACIER_SCRATCH_BUCKET", f"{run_prefix}-{SCRATCH}"[:63])
    monkeypatch.setenv("GLACIER_BUCKETS", json.dumps(names))
    # Tables: the program's URL secret (`glacier:databaseUrl` in Secrets Manager).
    secret = boto3.client("secretsmanager").create_secret(
        Name=f"{run_prefix}-database-url", SecretString=f"sqlite:///{tmp_path / 'cloud.sqlite'}"
    )
    monkeypatch.setenv("GLACIER_DATABASE_URL_SECRET_ARN", secret["ARN"])
    for name in [m for m in sys.modules if m.split(".")[0] in _bundle_modules(bundle)]:
        del sys.modules[name]
    sys.path.insert(0, str(bundle))
    handler = importlib.import_module("glacier_handler")
    assert Path(handler.__file__).parent == bundle

    execution = "exec-0001"
    for task in model.topological_order():
        monkeypatch.setenv("GLACIER_TASK", task)
        result = handler.handler({"execution": execution}, None)
        assert result["task"] == task
        assert set(result["outputs"]) == set(model.task(task).outputs)

    for dataset, storage in storages.items():
        if dataset not in model.producers():
            continue
        if storage is None:
            listed = s3.list_objects_v2(
                Bucket=f"{run_prefix}-{SCRATCH}"[:63], Prefix=f"{execution}/{dataset}."
            )
            (obj,) = listed["Contents"]
            got = _read_object(s3, f"{run_prefix}-{SCRATCH}"[:63], obj["Key"], tmp_path)
            assert got == expected[dataset], dataset
        elif _io.is_table(storage):
            cloud = _io.read({**storage, "url": f"sqlite:///{tmp_path / 'cloud.sqlite'}"}, dataset)
            assert cloud == _io.read(storage, dataset, local_dir), dataset
        else:
            local_file = Path(_io.location(storage, dataset, local_dir))
            key = local_file.relative_to(local_dir / _bucket(storage)).as_posix()
            body = s3.get_object(Bucket=names[dataset], Key=key)["Body"].read()
            assert body == local_file.read_bytes(), dataset


def _io_storage(dataset: Any) -> dict[str, Any] | None:
    from codegen._runner import _io_storage as convert

    return convert(dataset.storage)


def _bundle_modules(bundle: Path) -> set[str]:
    names = {"glacier_handler", "_glacier_io"}
    for entry in bundle.iterdir():
        if entry.suffix == ".py":
            names.add(entry.stem)
        elif entry.is_dir() and (entry / "__init__.py").exists():
            names.add(entry.name)
    return names


def _read_object(s3: Any, bucket: str, key: str, tmp_path: Path) -> Any:
    target = tmp_path / "download" / key
    target.parent.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, key, str(target))
    storage = {"kind": "object", "bucket": "download", "prefix": str(Path(key).parent)}
    return _io.read(storage, Path(key).name.split(".")[0], tmp_path)


def test_handler_reports_a_missing_input(
    tmp_path: Path, aws_env: Any, isolated_imports: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A source with nothing stored fails the task with the S3 location, not a KeyError."""
    s3 = aws_env
    analysis = analyze([str(ROOT / "examples" / "orders")])
    (model,) = analysis.pipelines
    bundle = _write_bundle(model, analysis, tmp_path / "bundle")
    s3.create_bucket(Bucket="empty-landing")
    s3.create_bucket(Bucket="empty-scratch")
    monkeypatch.setenv("GLACIER_SCRATCH_BUCKET", "empty-scratch")
    monkeypatch.setenv("GLACIER_BUCKETS", json.dumps({"raw_orders": "empty-landing"}))
    monkeypatch.setenv("GLACIER_TASK", "validate")
    for name in [m for m in sys.modules if m.split(".")[0] in _bundle_modules(bundle)]:
        del sys.modules[name]
    sys.path.insert(0, str(bundle))
    handler = importlib.import_module("glacier_handler")
    with pytest.raises(FileNotFoundError, match=r"s3://empty-landing/incoming/raw_orders\.\*"):
        handler.handler({"execution": "exec-x"}, None)
    with pytest.raises(KeyError, match="no task"):
        handler.run("nope", "exec-x")


def test_default_environment_holds_the_bundle_without_environments() -> None:
    analysis = analyze([str(ROOT / "examples" / "layer1_local.py")])
    (model,) = analysis.pipelines
    files = emit_programs(analysis, model)
    assert f"pulumi/{DEFAULT_ENV}/bundle/glacier_handler.py" in files


TABLES_PROJECT = """
from glacier import Database, Dataset, Pipeline
from glacier_aws import Environment

pipeline = Pipeline(name="tables")
prod = Environment(account="123456789012", region="us-east-1", name="prod")
warehouse = prod.rds("warehouse")
events = Dataset(name="events", storage={storage})
total = Dataset(name="total")


@pipeline.task()
def record() -> events:
    return [{{"kind": "sale", "amount": 12.5}}, {{"kind": "refund", "amount": -2.5}}]


@pipeline.task()
def add(rows: events) -> total:
    return sum(row["amount"] for row in rows)
"""


def _tables_handler(tmp_path: Path, storage: str, s3: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The bundle of a two-task pipeline whose `events` table is in ``storage``, imported."""
    kind = "rds" if storage == "warehouse" else "database"
    project = tmp_path / f"tables-{kind}"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "t"\nversion = "0"\n')
    (project / "tables_pipe.py").write_text(TABLES_PROJECT.format(storage=storage))
    analysis = analyze([str(project / "tables_pipe.py")])
    (model,) = analysis.pipelines
    bundle = _write_bundle(model, analysis, project / "bundle")
    scratch = f"tables-{kind}-{os.getpid()}-{tmp_path.name}"[:63].lower().replace("_", "-")
    s3.create_bucket(Bucket=scratch)
    monkeypatch.setenv("GLACIER_SCRATCH_BUCKET", scratch)
    for name in [m for m in sys.modules if m.split(".")[0] in _bundle_modules(bundle)]:
        del sys.modules[name]
    sys.path.insert(0, str(bundle))
    return importlib.import_module("glacier_handler")


def _events_in(url: str, table: str = "events") -> Any:
    return _io.read({"kind": "database", "table": table, "url": url}, "events")


def _run_tables(handler: Any, execution: str) -> dict[str, Any]:
    written = handler.run("record", execution)
    summed = handler.run("add", execution)
    return {"record": written, "add": summed}


@pytest.mark.slow
def test_handler_reads_a_table_through_the_url_secret(
    tmp_path: Path,
    aws_env: Any,
    isolated_imports: None,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,  # noqa: F811
) -> None:
    """`Database(table=...)`: the URL comes from the secret, fetched once per process."""
    handler = _tables_handler(tmp_path, 'Database(table="url_events")', aws_env, monkeypatch)
    secrets = boto3.client("secretsmanager")
    arn = secrets.create_secret(Name="tables-database-url", SecretString=postgres_url)["ARN"]
    monkeypatch.setenv("GLACIER_DATABASE_URL_SECRET_ARN", arn)
    _run_tables(handler, "exec-url-1")
    assert _events_in(postgres_url, "url_events") == [
        {"kind": "sale", "amount": 12.5},
        {"kind": "refund", "amount": -2.5},
    ]
    total = _read_object(
        aws_env, os.environ["GLACIER_SCRATCH_BUCKET"], "exec-url-1/total.json", tmp_path
    )
    assert total == 10.0
    # Once per process: with the secret gone, the process still knows the URL.
    secrets.delete_secret(SecretId=arn, ForceDeleteWithoutRecovery=True)
    handler.run("add", "exec-url-1")


@pytest.mark.slow
def test_handler_reads_a_table_through_the_rds_managed_secret(
    tmp_path: Path,
    aws_env: Any,
    isolated_imports: None,
    monkeypatch: pytest.MonkeyPatch,
    postgres_url: str,  # noqa: F811
) -> None:
    """`Environment.rds`: JSON username/password from the secret, host/port/name from env."""
    import urllib.parse

    handler = _tables_handler(tmp_path, "warehouse", aws_env, monkeypatch)
    import psycopg
    from psycopg import sql

    server = urllib.parse.urlsplit(postgres_url)
    # The master user RDS would manage, with a password that only survives when URL-quoted.
    credentials = {"username": "rds master", "password": "p@ss:w/rd?#% ok"}
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        role = sql.Identifier(credentials["username"])
        exists = conn.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", [credentials["username"]]
        ).fetchone()
        if not exists:
            conn.execute(sql.SQL("CREATE ROLE {}").format(role))
        conn.execute(
            sql.SQL("ALTER ROLE {} LOGIN PASSWORD {}").format(
                role, sql.Literal(credentials["password"])
            )
        )
        conn.execute(sql.SQL("GRANT ALL ON SCHEMA public TO {}").format(role))
        # Tables other tests' handlers made as the server's own user (`_glacier_tables` ...).
        conn.execute(sql.SQL("GRANT ALL ON ALL TABLES IN SCHEMA public TO {}").format(role))
    arn = boto3.client("secretsmanager").create_secret(
        Name="rds!db-warehouse", SecretString=json.dumps(credentials)
    )["ARN"]
    monkeypatch.setenv("GLACIER_DATABASE_SECRET_ARN", arn)
    monkeypatch.setenv("GLACIER_DATABASE_HOST", str(server.hostname))
    monkeypatch.setenv("GLACIER_DATABASE_PORT", str(server.port))
    monkeypatch.setenv("GLACIER_DATABASE_NAME", server.path.lstrip("/"))
    monkeypatch.delenv("GLACIER_DATABASE_URL_SECRET_ARN", raising=False)
    # RDS requires TLS by default; the local server has none, so the default is refused ...
    monkeypatch.delenv("GLACIER_DATABASE_SSLMODE", raising=False)
    with pytest.raises(psycopg.OperationalError, match="SSL"):
        handler.run("record", "exec-rds-0")
    # ... and a rehearsal against a local PostgreSQL turns it off.
    monkeypatch.setenv("GLACIER_DATABASE_SSLMODE", "disable")
    _run_tables(handler, "exec-rds-1")
    assert _events_in(postgres_url) == [
        {"kind": "sale", "amount": 12.5},
        {"kind": "refund", "amount": -2.5},
    ]
    total = _read_object(
        aws_env, os.environ["GLACIER_SCRATCH_BUCKET"], "exec-rds-1/total.json", tmp_path
    )
    assert total == 10.0


def test_handler_names_the_missing_database_secret(
    tmp_path: Path, aws_env: Any, isolated_imports: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("GLACIER_DATABASE_SECRET_ARN", "GLACIER_DATABASE_URL_SECRET_ARN"):
        monkeypatch.delenv(key, raising=False)
    handler = _tables_handler(tmp_path, "warehouse", aws_env, monkeypatch)
    with pytest.raises(RuntimeError, match="neither GLACIER_DATABASE_SECRET_ARN nor"):
        handler.run("record", "exec-x")
    handler = _tables_handler(tmp_path, 'Database(table="t")', aws_env, monkeypatch)
    with pytest.raises(RuntimeError, match="^GLACIER_DATABASE_URL_SECRET_ARN is not set"):
        handler.run("record", "exec-x")


SIBLINGS_PROJECT = """
from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="siblings")
report = Dataset(name="report", storage=ObjectStorage(bucket="out", prefix="daily"))


@pipeline.task()
def make() -> report:
    return {"rows": 3}
"""


def test_handler_deletes_only_siblings_that_exist(
    tmp_path: Path, aws_env: Any, isolated_imports: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On a versioned bucket a delete of a missing key leaves a delete marker: a write must
    delete only the stale siblings that exist, so repeated writes leave no marker at all."""
    s3 = aws_env
    project = tmp_path / "siblings-project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[project]\nname = "s"\nversion = "0"\n')
    (project / "siblings_pipe.py").write_text(SIBLINGS_PROJECT)
    analysis = analyze([str(project / "siblings_pipe.py")])
    (model,) = analysis.pipelines
    bundle = _write_bundle(model, analysis, tmp_path / "bundle")
    bucket = f"siblings-{os.getpid()}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.create_bucket(Bucket=f"{bucket}-scratch")
    monkeypatch.setenv("GLACIER_SCRATCH_BUCKET", f"{bucket}-scratch")
    monkeypatch.setenv("GLACIER_BUCKETS", json.dumps({"report": bucket}))
    monkeypatch.setenv("GLACIER_TASK", "make")
    for name in [m for m in sys.modules if m.split(".")[0] in _bundle_modules(bundle)]:
        del sys.modules[name]
    sys.path.insert(0, str(bundle))
    handler = importlib.import_module("glacier_handler")
    # moto (unlike S3) makes no marker for a missing key: record the handler's deletes.
    deleted: list[str] = []
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    boto3.setup_default_session()
    boto3.DEFAULT_SESSION.events.register(
        "provide-client-params.s3.DeleteObject", lambda params, **_: deleted.append(params["Key"])
    )

    def markers() -> list[str]:
        versions = s3.list_object_versions(Bucket=bucket)
        return sorted(m["Key"] for m in versions.get("DeleteMarkers", []))

    handler.handler({"execution": "exec-1"}, None)
    handler.handler({"execution": "exec-2"}, None)
    assert deleted == []  # nothing stale existed: no delete at all
    assert markers() == []
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == ["daily/report.json"]

    # A stale sibling (an earlier format) is deleted: exactly one marker, for it.
    s3.put_object(Bucket=bucket, Key="daily/report.pkl", Body=b"old")
    s3.put_object(Bucket=bucket, Key="daily/report.json.bak", Body=b"not a sibling")
    handler.handler({"execution": "exec-3"}, None)
    assert deleted == ["daily/report.pkl"]
    assert markers() == ["daily/report.pkl"]
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["daily/report.json", "daily/report.json.bak"]
