"""The generated handler's fixed code, tested as the module it is kept in
(``codegen/embedded/glacier_handler.py``): where datasets live in S3, database URLs from
secrets, one task's run, the Lambda and container entry points.

Each test fills in the pipeline the template would write (``TASKS``, ``STORAGE``...) on the
module; deployed bundles are exercised end to end in ``test_handler.py`` and ``test_rehearse.py``.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import codegen.embedded.glacier_handler as handler

STORED = {"kind": "object", "bucket": "lake", "prefix": "out/daily", "format": None}
TABLE = {"kind": "database", "table": "totals", "url": None}
RDS = {"kind": "rds", "table": "totals", "url": None, "environment": "prod"}
STORAGE: dict[str, dict[str, Any] | None] = {
    "raw": STORED,
    "rows": None,
    "totals": TABLE,
    "ledger": RDS,
}
TASKS = {
    "split": ("tiny_tasks", "split", (("source", "raw"),), ("rows", "totals")),
    "count": ("tiny_tasks", "count", (("rows", "rows"),), ("raw",)),
    "broken": ("tiny_tasks", "broken", (), ("rows", "totals")),
    "top": ("tiny_tasks", "top", (("source", "raw"),), ("rows",)),
}
PARAMETERS = {"top": (("n", "int", "1"),)}
TASK_CODE = """\
def split(source: raw) -> tuple[rows, totals]:  # the datasets are left out of the slice
    return source[:1], source[1:]


def count(rows: rows) -> raw:
    return {"count": len(rows), "file": __file__}


def broken() -> tuple[rows, totals]:
    return [1]


def top(source: raw, n: int = 1) -> rows:
    return source[:n]
"""


@pytest.fixture(scope="module", autouse=True)
def _no_finder_left_behind() -> Iterator[None]:
    """Importing the module installs its task-code finder, as a handler's import does."""
    yield
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, handler._TaskCode)]


@pytest.fixture(autouse=True)
def pipeline(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    monkeypatch.setattr(handler, "PIPELINE", "sales")
    monkeypatch.setattr(handler, "STORAGE", STORAGE)
    monkeypatch.setattr(handler, "TASKS", TASKS)
    monkeypatch.setattr(handler, "PARAMETERS", PARAMETERS)
    monkeypatch.setattr(handler, "HERE", str(tmp_path))
    monkeypatch.setattr(handler, "MODULES", {"tiny_tasks": ("tiny_tasks.py", False)})
    monkeypatch.setattr(handler, "_SECRETS", {})
    (tmp_path / "tiny_tasks.py").write_text(TASK_CODE)
    for name in [n for n in os.environ if n.startswith("GLACIER_")]:
        monkeypatch.delenv(name)
    yield
    sys.modules.pop("tiny_tasks", None)


# -- where datasets live -----------------------------------------------------------------------


def test_an_ephemeral_dataset_lives_in_the_scratch_bucket_under_its_execution(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GLACIER_SCRATCH_BUCKET", "scratch-123")
    where = handler._where("rows", "exec-9")
    assert where == {"kind": "object", "bucket": "scratch-123", "prefix": "exec-9"}


def test_a_bucket_named_at_deploy_time_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    assert handler._where("raw", "e")["bucket"] == "lake"
    monkeypatch.setenv("GLACIER_BUCKETS", json.dumps({"raw": "lake-a1b2c3"}))
    assert handler._where("raw", "e") == {**STORED, "bucket": "lake-a1b2c3"}


def test_a_pulumi_bucket_is_found_by_its_resource_name(monkeypatch: pytest.MonkeyPatch) -> None:
    pulumi = {"kind": "pulumi", "name": "raw-bucket", "prefix": None, "format": None}
    monkeypatch.setattr(handler, "STORAGE", {"raw": pulumi})
    assert handler._where("raw", "e") == {**pulumi, "kind": "object", "bucket": "raw-bucket"}


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [(None, ""), ("", ""), ("out", "out/"), ("./out//daily/", "out/daily/")],
)
def test_key_prefix_is_the_prefix_as_s3_folders(prefix: str | None, expected: str) -> None:
    assert handler._key_prefix({"prefix": prefix}) == expected


# -- tables: URLs from secrets, never from the environment ---------------------------------------


def test_a_url_written_in_the_pipeline_is_used_as_is() -> None:
    storage = {**TABLE, "url": "sqlite:///totals.db"}
    assert handler._table(storage) is storage


def test_an_rds_url_comes_from_the_managed_secret_quoted_and_with_tls(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    secret = json.dumps({"username": "glacier", "password": "p@ss/w:rd"})
    monkeypatch.setitem(handler._SECRETS, "arn:master", secret)  # fetched once per process
    monkeypatch.setenv("GLACIER_DATABASE_SECRET_ARN", "arn:master")
    monkeypatch.setenv("GLACIER_DATABASE_HOST", "db.internal")
    monkeypatch.setenv("GLACIER_DATABASE_NAME", "sales db")
    assert handler._table(RDS)["url"] == (
        "postgresql://glacier:p%40ss%2Fw%3Ard@db.internal:5432/sales%20db?sslmode=require"
    )
    monkeypatch.setenv("GLACIER_DATABASE_SSLMODE", "")  # left to the driver
    monkeypatch.setenv("GLACIER_DATABASE_PORT", "6543")
    assert (
        handler._table(RDS)["url"]
        == "postgresql://glacier:p%40ss%2Fw%3Ard@db.internal:6543/sales%20db"
    )


def test_a_database_url_comes_from_its_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(handler._SECRETS, "arn:url", "postgresql://u:p@h/d")
    monkeypatch.setenv("GLACIER_DATABASE_URL_SECRET_ARN", "arn:url")
    assert handler._table(TABLE) == {**TABLE, "url": "postgresql://u:p@h/d"}
    assert handler._table(RDS)["url"] == "postgresql://u:p@h/d"  # no managed secret: the URL's


@pytest.mark.parametrize(
    ("storage", "missing"),
    [
        (TABLE, "GLACIER_DATABASE_URL_SECRET_ARN is not set"),
        (RDS, "neither GLACIER_DATABASE_SECRET_ARN nor GLACIER_DATABASE_URL_SECRET_ARN is set"),
    ],
)
def test_a_table_without_its_secret_says_which_variable_is_missing(
    storage: dict[str, Any], missing: str
) -> None:
    with pytest.raises(RuntimeError, match=f"^{missing}: this task's dataset is a table"):
        handler._table(storage)


# -- running one task --------------------------------------------------------------------------


@pytest.fixture
def stored(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """``read`` and ``write`` over a dict; records the scratch directories they were given."""
    values: dict[str, Any] = {"raw": [1, 2, 3]}
    data_dirs: list[str] = []

    def read(dataset: str, execution: str, data_dir: str) -> Any:
        data_dirs.append(data_dir)
        assert os.path.isdir(data_dir)
        return values[dataset]

    def write(dataset: str, value: Any, execution: str, data_dir: str) -> str:
        values[dataset] = value
        return f"s3://somewhere/{execution}/{dataset}"

    monkeypatch.setattr(handler, "read", read)
    monkeypatch.setattr(handler, "write", write)
    values["data dirs"] = data_dirs
    return values


def test_run_reads_the_inputs_calls_the_task_and_writes_each_output(stored) -> None:
    assert handler.run("split", "exec-1") == {
        "task": "split",
        "execution": "exec-1",
        "outputs": {"rows": "s3://somewhere/exec-1/rows", "totals": "s3://somewhere/exec-1/totals"},
    }
    assert (stored["rows"], stored["totals"]) == ([1], [2, 3])
    (data_dir,) = stored["data dirs"]
    assert not os.path.exists(data_dir)  # the scratch directory is removed


def test_the_task_code_is_imported_from_the_bundle_with_its_own_file_name(
    stored, tmp_path: Path
) -> None:
    stored["rows"] = [1, 2]
    handler.run("count", "e")
    assert stored["raw"] == {"count": 2, "file": str(tmp_path / "tiny_tasks.py")}


def test_a_task_with_several_outputs_must_return_as_many(stored) -> None:
    with pytest.raises(TypeError, match="task 'broken' must return a tuple of 2 values"):
        handler.run("broken", "e")


def test_an_unknown_task_is_a_key_error() -> None:
    with pytest.raises(KeyError, match="pipeline 'sales' has no task 'nope'"):
        handler.run("nope", "e")


def test_the_lambda_handler_takes_the_task_from_its_environment(
    stored, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLACIER_TASK", "split")
    assert handler.handler({"execution": 42}, None)["execution"] == "42"


def test_the_container_command_prints_the_result_as_json(
    stored, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("GLACIER_EXECUTION", "exec-7")
    assert handler.main(["split"]) == 0
    assert json.loads(capsys.readouterr().out)["outputs"]["rows"] == "s3://somewhere/exec-7/rows"
    assert handler.main([]) == 2
    assert capsys.readouterr().err == "usage: python -m glacier_handler TASK\n"


def test_run_parameters_come_from_the_execution_input(
    stored, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from glacier.params import ParameterError

    monkeypatch.setenv("GLACIER_TASK", "top")
    handler.handler({"execution": "e"}, None)  # no input: the function's default
    assert stored["rows"] == [1]
    handler.handler({"execution": "e", "input": {"params": {"n": "2"}}}, None)
    assert stored["rows"] == [1, 2]
    child = {"AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "x", "glacier_parent": {"params": {}}}
    child["glacier_parent"] = {
        "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID": "y",
        "glacier_parent": {"params": {"n": 5, "top.n": 3}},
    }
    handler.handler({"execution": "e", "input": child}, None)  # a grandchild machine's task
    assert stored["rows"] == [1, 2, 3]
    monkeypatch.setenv("GLACIER_EXECUTION", "e")
    monkeypatch.setenv("GLACIER_INPUT", json.dumps({"params": {"top.n": 2}}))
    assert handler.main(["top"]) == 0
    capsys.readouterr()
    assert stored["rows"] == [1, 2]
    handler.handler({"execution": "e", "input": {"params": {"n": 3}}}, None)  # split has no n
    with pytest.raises(ParameterError, match="no task has a parameter `split.n`"):
        handler.handler({"execution": "e", "input": {"params": {"split.n": 3}}}, None)
    with pytest.raises(ParameterError, match="task `top` parameter `n` \\(int\\): cannot use"):
        handler.handler({"execution": "e", "input": {"params": {"n": "all"}}}, None)
    with pytest.raises(ParameterError, match="`params` must be an object"):
        handler.handler({"execution": "e", "input": {"params": ["n"]}}, None)


# -- S3 round trip, on moto ----------------------------------------------------------------------


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    moto = pytest.importorskip("moto")
    import boto3

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with moto.mock_aws():
        client = boto3.client("s3")
        for bucket in ("lake", "scratch"):
            client.create_bucket(Bucket=bucket)
        yield client


def test_write_uploads_in_the_local_format_and_read_brings_it_back(
    s3: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GLACIER_SCRATCH_BUCKET", "scratch")
    assert handler.write("raw", {"n": 1}, "e", str(tmp_path / "a")) == (
        "s3://lake/out/daily/raw.json"
    )
    assert handler.write("rows", b"\x00", "e", str(tmp_path / "a")) == "s3://scratch/e/rows.bin"
    assert handler.read("raw", "e", str(tmp_path / "b")) == {"n": 1}
    assert handler.read("rows", "e", str(tmp_path / "b")) == b"\x00"


def test_a_new_format_replaces_the_stale_sibling(s3: Any, tmp_path: Path) -> None:
    handler.write("raw", {"n": 1}, "e", str(tmp_path / "a"))
    handler.write("raw", {1, 2}, "e", str(tmp_path / "b"))  # a set is pickled
    listed = s3.list_objects_v2(Bucket="lake", Prefix="out/daily/")
    assert [o["Key"] for o in listed["Contents"]] == ["out/daily/raw.pkl"]
    assert handler.read("raw", "e", str(tmp_path / "c")) == {1, 2}


def test_reading_what_was_never_written_names_the_s3_location(s3: Any, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nothing stored at s3://lake/out/daily/raw\.\*"):
        handler.read("raw", "e", str(tmp_path))


# -- retries: the error name the state machine's retrier matches --------------------------------


def test_an_exception_of_a_subclass_is_raised_again_under_the_retry_on_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(handler, "RETRY_ON", {"split": ("TimeoutError", "ConnectionError")})

    def refused(task: str, execution: str, params: object = None) -> dict[str, Any]:
        raise ConnectionRefusedError(111, "refused")

    monkeypatch.setattr(handler, "run", refused)
    monkeypatch.setenv("GLACIER_TASK", "split")
    with pytest.raises(ConnectionRefusedError) as info:
        handler.handler({"execution": "e"}, None)
    # what AWS Lambda reports as the errorType, and Step Functions matches in ErrorEquals
    assert type(info.value).__name__ == "ConnectionError"
    assert (info.value.errno, info.value.strerror) == (111, "refused")
    assert isinstance(info.value.__cause__, ConnectionRefusedError)

    exact = ConnectionError("listed itself")
    assert handler.retried_as("split", exact) is exact
    other = ValueError("not listed")
    assert handler.retried_as("split", other) is other
    assert handler.retried_as("count", ConnectionRefusedError()).__class__ is ConnectionRefusedError
