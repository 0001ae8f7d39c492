"""glacier_local._io: the documented layout, every format's round trip, atomic writes, tables."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pytest
from _postgres import postgres_url  # noqa: F401  (session fixture)

from glacier_local import _io

IO_SOURCE = Path(_io.__file__)
SCHEDULE_SOURCE = IO_SOURCE.with_name("_schedule.py")


def obj(bucket: str = "bkt", prefix: str = "", fmt: str | None = None, kind: str = "object"):
    return {"kind": kind, "bucket": bucket, "prefix": prefix, "format": fmt}


# -- layout -----------------------------------------------------------------------------------


def test_object_layout_is_bucket_prefix_dataset(tmp_path: Path) -> None:
    path = _io.write(obj("raw-data", "in/2024"), "orders", {"n": 1}, tmp_path)
    assert Path(path) == tmp_path / "raw-data" / "in" / "2024" / "orders.json"
    assert _io.location(obj("raw-data", "in/2024"), "orders", tmp_path) == path


def test_s3_bucket_uses_the_same_layout(tmp_path: Path) -> None:
    storage = {"kind": "s3", "bucket": "prod-data", "environment": "prod", "prefix": ""}
    path = _io.write(storage, "events", [1, 2], tmp_path)
    assert Path(path) == tmp_path / "prod-data" / "events.json"


def test_raw_pulumi_resource_uses_its_resource_name_as_bucket(tmp_path: Path) -> None:
    storage = {"kind": "pulumi", "name": "my-data", "resource": "pulumi_aws.s3.Bucket"}
    path = _io.write(storage, "d", b"xyz", tmp_path)
    assert Path(path) == tmp_path / "my-data" / "d.bin"
    assert _io.read(storage, "d", tmp_path) == b"xyz"


def test_raw_rds_resource_is_a_table(tmp_path: Path) -> None:
    storage = {"kind": "pulumi", "name": "db", "resource": "pulumi_aws.rds.Instance"}
    _io.write(storage, "rows", [{"a": 1}], tmp_path)
    assert (tmp_path / "glacier.sqlite").is_file()
    assert _io.read(storage, "rows", tmp_path) == [{"a": 1}]


def test_location_before_anything_is_written_shows_a_wildcard(tmp_path: Path) -> None:
    where = _io.location(obj("b", "p"), "d", tmp_path)
    assert where == os.path.join(tmp_path, "b", "p", "d.*")
    assert not _io.exists(obj("b", "p"), "d", tmp_path)
    with pytest.raises(FileNotFoundError, match=r"dataset `d`: nothing stored at .*d\.\*"):
        _io.read(obj("b", "p"), "d", tmp_path)


def test_location_with_explicit_format_names_the_file(tmp_path: Path) -> None:
    assert _io.location(obj("b", fmt="parquet"), "d", tmp_path) == str(tmp_path / "b" / "d.parquet")


@pytest.mark.parametrize("bad", ["../escape", "a/../../b"])
def test_paths_cannot_escape_the_data_dir(tmp_path: Path, bad: str) -> None:
    with pytest.raises(ValueError, match="must not contain `..`"):
        _io.write(obj("b", prefix=bad), "d", 1, tmp_path)


def test_ephemeral_has_no_storage(tmp_path: Path) -> None:
    assert _io.location(None, "d", tmp_path) == "<memory>"
    assert not _io.exists(None, "d", tmp_path)
    assert _io.write(None, "d", 1, tmp_path) == "<memory>"
    assert list(tmp_path.iterdir()) == []


# -- formats ----------------------------------------------------------------------------------


class Point:
    def __init__(self, x: int, y: int) -> None:
        self.x, self.y = x, y

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


@pytest.mark.parametrize(
    ("value", "ext"),
    [
        ({"a": [1, 2.5, "x", None, True], "b": {"c": "ü"}}, ".json"),
        ([1, 2, 3], ".json"),
        ("text", ".json"),
        (42, ".json"),
        (None, ".json"),
        (b"\x00\x01raw", ".bin"),
        ((1, 2), ".pkl"),  # a tuple would come back from JSON as a list
        ({1: "int key"}, ".pkl"),  # and int keys as strings
        ({"when": dt.date(2024, 1, 2)}, ".pkl"),
        ({1, 2, 3}, ".pkl"),
        (Point(1, 2), ".pkl"),
    ],
)
def test_default_format_follows_the_payload_and_round_trips(
    tmp_path: Path, value: object, ext: str
) -> None:
    path = _io.write(obj(), "d", value, tmp_path)
    assert path.endswith("d" + ext)
    back = _io.read(obj(), "d", tmp_path)
    assert back == value
    assert type(back) is type(value)


def test_pandas_dataframe_goes_to_parquet_and_round_trips(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    pytest.importorskip("pyarrow")
    frame = pd.DataFrame({"id": [1, 2, 3], "price": [1.5, 2.0, None], "name": ["a", "b", "c"]})
    path = _io.write(obj(), "frame", frame, tmp_path)
    assert path.endswith("frame.parquet")
    with open(path, "rb") as fh:
        assert fh.read(4) == b"PAR1"
    pd.testing.assert_frame_equal(_io.read(obj(), "frame", tmp_path), frame)


def test_explicit_format_wins(tmp_path: Path) -> None:
    path = _io.write(obj(fmt="pickle"), "d", {"a": 1}, tmp_path)
    assert path.endswith("d.pkl")
    assert _io.read(obj(fmt="pickle"), "d", tmp_path) == {"a": 1}
    # reading with the explicit format does not probe other extensions
    _io.write(obj(), "e", {"a": 1}, tmp_path)
    assert not _io.exists(obj(fmt="pickle"), "e", tmp_path)


def test_explicit_csv_from_rows(tmp_path: Path) -> None:
    rows = [{"a": "1", "b": "x"}, {"a": "2", "b": "y"}]
    path = _io.write(obj(fmt="csv"), "d", rows, tmp_path)
    assert Path(path).read_text() == "a,b\n1,x\n2,y\n"
    back = _io.read(obj(fmt="csv"), "d", tmp_path)
    try:
        import pandas  # noqa: F401
    except ImportError:
        assert back == rows
    else:
        assert back.to_dict("records") == [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]


def test_explicit_bytes_rejects_other_payloads(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="format `bytes` needs a bytes payload"):
        _io.write(obj(fmt="bytes"), "d", {"a": 1}, tmp_path)
    assert list((tmp_path / "bkt").iterdir()) == []


def test_unknown_format_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown format `xml`"):
        _io.write(obj(fmt="xml"), "d", 1, tmp_path)


def test_changing_format_replaces_the_old_file(tmp_path: Path) -> None:
    _io.write(obj(), "d", {"a": 1}, tmp_path)
    _io.write(obj(), "d", b"now bytes", tmp_path)
    assert sorted(p.name for p in (tmp_path / "bkt").iterdir()) == ["d.bin"]
    assert _io.read(obj(), "d", tmp_path) == b"now bytes"


# -- atomic writes ----------------------------------------------------------------------------


def test_a_failing_write_leaves_the_previous_version_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    _io.atomic_write(str(path), lambda fh: fh.write(b"old") and None)

    def crash(fh):
        fh.write(b"partial new content")
        raise RuntimeError("disk on fire")

    with pytest.raises(RuntimeError, match="disk on fire"):
        _io.atomic_write(str(path), crash)
    assert path.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.bin"]


def test_unpicklable_payload_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(Exception, match="pickle"):
        _io.write(obj(), "d", (lambda: 1,), tmp_path)
    assert not _io.exists(obj(), "d", tmp_path)
    assert [p.name for p in (tmp_path / "bkt").iterdir()] == []


def test_temporaries_of_dead_processes_are_cleaned_by_the_next_write(tmp_path: Path) -> None:
    folder = tmp_path / "bkt"
    folder.mkdir()
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    stale = folder / f".d.json.{int(dead.stdout)}.0.tmp"
    stale.write_bytes(b'{"half": ')
    live = folder / f".d.json.{os.getppid()}.0.tmp"  # a live process may still be writing
    live.write_bytes(b"{")
    _io.write(obj(), "d", {"whole": True}, tmp_path)
    assert not stale.exists()
    assert live.exists()
    assert _io.read(obj(), "d", tmp_path) == {"whole": True}


# -- tables -----------------------------------------------------------------------------------

ROWS = [
    {
        "id": 1,
        "price": 9.5,
        "name": "widget",
        "active": True,
        "blob": b"\x00\xff",
        "tags": {"color": "red", "sizes": [1, 2]},
        "created": dt.datetime(2024, 5, 17, 12, 30, 1),
        "day": dt.date(2024, 5, 17),
    },
    {
        "id": 2,
        "price": None,
        "name": "gadget",
        "active": False,
        "blob": None,
        "tags": [1, "two"],
        "created": dt.datetime(2024, 5, 18, 0, 0),
        "day": dt.date(2024, 5, 18),
    },
]


def database(url: str | None = None, table: str | None = None) -> dict:
    return {"kind": "database", "table": table, "url": url}


def test_sqlite_before_the_database_file_exists(tmp_path: Path) -> None:
    data = tmp_path / "not-yet"
    assert not _io.exists(database(), "orders", data)
    with pytest.raises(FileNotFoundError, match=r"dataset `orders`: nothing stored at .*glacier"):
        _io.read(database(), "orders", data)
    assert not data.exists()  # asking created nothing
    assert _io.location(database(), "orders", data) == f"{data / 'glacier.sqlite'} table `orders`"


def test_sqlite_rows_round_trip_with_types(tmp_path: Path) -> None:
    where = _io.write(database(), "orders", ROWS, tmp_path)
    assert where == f"{tmp_path / 'glacier.sqlite'} table `orders`"
    assert _io.exists(database(), "orders", tmp_path)
    assert _io.read(database(), "orders", tmp_path) == ROWS


def test_sqlite_table_name_and_replacement(tmp_path: Path) -> None:
    _io.write(database(table="facts"), "d", [{"a": 1}, {"a": 2}], tmp_path)
    _io.write(database(table="facts"), "d", [{"b": "x", "c": 2}], tmp_path)
    import sqlite3

    with sqlite3.connect(tmp_path / "glacier.sqlite") as conn:
        assert conn.execute('SELECT b, c FROM "facts"').fetchall() == [("x", 2)]
    assert _io.read(database(table="facts"), "other-name", tmp_path) == [{"b": "x", "c": 2}]
    assert not _io.exists(database(), "d", tmp_path)


def test_sqlite_rows_with_missing_keys_and_empty_tables(tmp_path: Path) -> None:
    _io.write(database(), "d", [{"a": 1}, {"b": "x"}], tmp_path)
    assert _io.read(database(), "d", tmp_path) == [{"a": 1, "b": None}, {"a": None, "b": "x"}]
    _io.write(database(), "empty", [], tmp_path)
    assert _io.read(database(), "empty", tmp_path) == []


def test_sqlite_reads_a_table_glacier_did_not_write(tmp_path: Path) -> None:
    import sqlite3

    with sqlite3.connect(tmp_path / "glacier.sqlite") as conn:
        conn.execute("CREATE TABLE customers (id INTEGER, name TEXT)")
        conn.execute("INSERT INTO customers VALUES (1, 'ada'), (2, 'grace')")
    assert _io.exists(database(), "customers", tmp_path)
    assert _io.read(database(), "customers", tmp_path) == [
        {"id": 1, "name": "ada"},
        {"id": 2, "name": "grace"},
    ]


def test_sqlite_pandas_round_trip(tmp_path: Path) -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(
        {"id": [1, 2], "score": [0.5, 1.25], "name": ["a", "b"], "ok": [True, False]}
    )
    _io.write(database(), "frame", frame, tmp_path)
    back = _io.read(database(), "frame", tmp_path)
    pd.testing.assert_frame_equal(back, frame)


def test_table_rejects_non_rows(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="a list of dicts or a DataFrame, got `dict`"):
        _io.write(database(), "d", {"a": 1}, tmp_path)
    with pytest.raises(TypeError, match="got a list with an item of type `int`"):
        _io.write(database(), "d", [{"a": 1}, 2], tmp_path)


def test_sqlite_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'other.db'}"
    _io.write(database(url=url), "d", [{"a": 1}], tmp_path / "data")
    assert (tmp_path / "other.db").is_file()
    assert not (tmp_path / "data" / "glacier.sqlite").exists()
    assert _io.read(database(url=url), "d", tmp_path) == [{"a": 1}]


def test_unsupported_database_url(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unsupported database url `mysql://u:\\*\\*\\*@h/db`"):
        _io.write(database(url="mysql://u:secret@h/db"), "d", [{"a": 1}], tmp_path)


def test_rds_storage_is_local_sqlite(tmp_path: Path) -> None:
    storage = {"kind": "rds", "name": "warehouse", "environment": "prod"}
    _io.write(storage, "facts", [{"a": 1}], tmp_path)
    assert _io.read(storage, "facts", tmp_path) == [{"a": 1}]


@pytest.mark.slow
def test_postgres_rows_round_trip_with_types(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    storage = database(url=postgres_url, table="orders_rt")
    where = _io.write(storage, "orders", ROWS, tmp_path)
    assert where.endswith("table `orders_rt`")
    assert _io.exists(storage, "orders", tmp_path)
    assert _io.read(storage, "orders", tmp_path) == ROWS
    _io.write(storage, "orders", [{"only": "one"}], tmp_path)  # replaces, new columns
    assert _io.read(storage, "orders", tmp_path) == [{"only": "one"}]
    assert not list(tmp_path.iterdir())  # nothing local


@pytest.mark.slow
def test_postgres_pandas_round_trip(postgres_url: str, tmp_path: Path) -> None:  # noqa: F811
    pd = pytest.importorskip("pandas")
    storage = database(url=postgres_url, table="frame_rt")
    frame = pd.DataFrame({"id": [1, 2], "score": [0.5, 1.25], "name": ["a", "b"]})
    _io.write(storage, "frame", frame, tmp_path)
    pd.testing.assert_frame_equal(_io.read(storage, "frame", tmp_path), frame)


@pytest.mark.slow
def test_postgres_reads_foreign_table_and_reports_missing(
    postgres_url: str,  # noqa: F811
    tmp_path: Path,
) -> None:
    import psycopg

    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS people")
        conn.execute("CREATE TABLE people (id INT, name TEXT)")
        conn.execute("INSERT INTO people VALUES (1, 'ada')")
    assert _io.read(database(url=postgres_url), "people", tmp_path) == [{"id": 1, "name": "ada"}]
    assert not _io.exists(database(url=postgres_url), "nobody_here", tmp_path)
    with pytest.raises(FileNotFoundError, match="table `nobody_here` does not exist"):
        _io.read(database(url=postgres_url), "nobody_here", tmp_path)


# -- self-contained ---------------------------------------------------------------------------


@pytest.mark.parametrize("source", [IO_SOURCE, SCHEDULE_SOURCE], ids=["_io", "_schedule"])
def test_module_runs_without_glacier_and_imports_only_the_stdlib(
    tmp_path: Path, source: Path
) -> None:
    """The code generator embeds these files verbatim into a runner without Glacier."""
    copy = tmp_path / "embedded.py"
    copy.write_text(source.read_text())
    check = (
        "import sys, runpy\n"
        f"ns = runpy.run_path({str(copy)!r})\n"
        "heavy = {'glacier', 'glacier_local', 'pandas', 'pyarrow', 'polars', 'psycopg', 'numpy'}\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] in heavy)\n"
        "assert not loaded, loaded\n"
        "print(sorted(k for k in ns if not k.startswith('_'))[:3])\n"
    )
    # -I: isolated mode, so neither the project nor site-packages' .pth finders are involved
    done = subprocess.run(
        [sys.executable, "-I", "-S", "-c", check],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(
    ("given", "extension"),
    [
        ("json", ".json"),
        ("parquet", ".parquet"),
        ("PQ", ".parquet"),
        ("csv", ".csv"),
        ("pickle", ".pkl"),
        (".pkl", ".pkl"),
        ("bytes", ".bin"),
        ("bin", ".bin"),
        ("raw", ".bin"),
    ],
)
def test_the_format_names_the_readme_lists(tmp_path: Path, given: str, extension: str) -> None:
    """README, "The format is the explicit `format=` if given ...": names, aliases, any case,
    a leading dot."""
    assert _io.EXTENSIONS[str(_io._explicit_format({"format": given}))] == extension
