"""Local storage for datasets: where a dataset lives on this machine, and how it is (de)serialised.

This module is self-contained on purpose: it imports only the standard library at import time
(pandas, polars, pyarrow and psycopg are imported inside the functions that need them) and never
imports ``glacier``. The code generator embeds its source verbatim into the standalone runner,
which runs without Glacier installed, so the runtime and the runner cannot drift apart.

It works on plain storage descriptions: a dict with the keys of ``glacier.model.StorageModel``
(``kind``: object | database | s3 | rds | pulumi, ``bucket``, ``name``, ``prefix``, ``format``,
``table``, ``url``, ``environment``, ``resource``), or ``None`` for an ephemeral dataset, which
has no storage and lives only in memory.

Layout under ``data_dir``
-------------------------
- ``ObjectStorage(bucket=B, prefix=P)`` and ``Environment.s3(bucket=B)``: dataset ``D`` is the
  file ``<data_dir>/<B>/<P>/<D>.<ext>``. A raw Pulumi resource uses its resource name as ``B``,
  except RDS resources (``pulumi_aws.rds.*``), which are databases.
- ``Database(table=T)``, ``Environment.rds(...)``: the table ``T`` (default: the dataset name) in
  the embedded SQLite file ``<data_dir>/glacier.sqlite``. With ``url`` (``postgresql://...``,
  via psycopg 3, or ``sqlite:///path``) the table lives in that database instead.

Formats of object storage
-------------------------
An explicit ``format`` wins. Otherwise the payload decides: JSON (``.json``) for plain JSON data
(dicts with string keys, lists, str, int, float, bool, None, nested; tuples and other containers
are not JSON and go to pickle so they round-trip), Parquet (``.parquet``) for pandas or polars
DataFrames when pyarrow is installed, raw bytes (``.bin``) for bytes, pickle (``.pkl``)
otherwise. ``csv`` (``.csv``) is available explicitly; it reads back as a pandas DataFrame when
pandas is installed, else as a list of dicts of strings. Reading a dataset whose format is not
explicit finds whichever known extension exists (the newest, should there be several; a write
removes the siblings it supersedes).

Tables
------
A table holds rows: a list of dicts (the columns are the union of the keys, in first-seen
order; a missing key is NULL) or a pandas/polars DataFrame. Reading gives back what was
written: a list of dicts, or a DataFrame of the same library; a table Glacier did not write
reads as a list of dicts. Column types follow the values: bool, int, float, str, bytes,
datetime, date; any other value (a dict, a list) is stored as JSON text (JSONB on PostgreSQL)
and decoded on read. What was written is recorded in the table ``_glacier_tables``.

Atomicity
---------
A file is written to a temporary file in the same directory (``.<D>.<ext>.<pid>.<n>.tmp``),
flushed, fsynced and renamed over the target with ``os.replace``: a crash mid-write leaves the
previous version (or nothing), never a partial file. Temporary files left by a killed process
are removed by the next write of the same dataset. A table is replaced in one transaction.
"""

from __future__ import annotations

import datetime as _dt
import io
import itertools
import json
import math
import os
import threading
from collections.abc import Callable, Mapping
from typing import Any, BinaryIO, Self

__all__ = [
    "EXTENSIONS",
    "SQLITE_FILE",
    "Store",
    "exists",
    "location",
    "read",
    "write",
]

EXTENSIONS: dict[str, str] = {
    "json": ".json",
    "parquet": ".parquet",
    "bytes": ".bin",
    "pickle": ".pkl",
    "csv": ".csv",
}
"""Format → file extension. Probe order for reading follows this order."""

SQLITE_FILE = "glacier.sqlite"
META_TABLE = "_glacier_tables"

StorageDescription = Mapping[str, Any] | None

_counter = itertools.count()


# -- where ------------------------------------------------------------------------------------


def is_table(storage: StorageDescription) -> bool:
    """Whether the dataset lives in a database table (rather than a file)."""
    if storage is None:
        return False
    kind = storage.get("kind")
    if kind in ("database", "rds"):
        return True
    return kind == "pulumi" and str(storage.get("resource") or "").startswith("pulumi_aws.rds.")


def _safe_parts(text: str, what: str) -> list[str]:
    parts = [p for p in str(text).replace("\\", "/").split("/") if p and p != "."]
    if any(p == ".." for p in parts):
        raise ValueError(f"{what} `{text}` must not contain `..`")
    return parts


def directory(storage: Mapping[str, Any], data_dir: str | os.PathLike[str]) -> str:
    """The directory holding an object-stored dataset: ``<data_dir>/<bucket>/<prefix>``."""
    bucket = storage.get("bucket") or storage.get("name")
    if not bucket:
        raise ValueError(f"object storage without a bucket or resource name: {dict(storage)!r}")
    parts = _safe_parts(bucket, "bucket") + _safe_parts(storage.get("prefix") or "", "prefix")
    return os.path.join(os.fspath(data_dir), *parts)


def _file_name(dataset: str) -> str:
    parts = _safe_parts(dataset, "dataset name")
    if len(parts) != 1:
        raise ValueError(f"dataset name `{dataset}` cannot be a file name")
    return parts[0]


def _explicit_format(storage: Mapping[str, Any]) -> str | None:
    fmt = storage.get("format")
    if fmt is None:
        return None
    fmt = str(fmt).lower().lstrip(".")
    fmt = {"pkl": "pickle", "bin": "bytes", "raw": "bytes", "pq": "parquet"}.get(fmt, fmt)
    if fmt not in EXTENSIONS:
        raise ValueError(f"unknown format `{storage.get('format')}`; use one of {list(EXTENSIONS)}")
    return fmt


def _existing_file(folder: str, name: str) -> str | None:
    found = []
    for ext in EXTENSIONS.values():
        path = os.path.join(folder, name + ext)
        try:
            found.append((os.stat(path).st_mtime_ns, path))
        except OSError:
            continue
    if not found:
        return None
    return max(found)[1] if len(found) > 1 else found[0][1]


def table_name(storage: Mapping[str, Any], dataset: str) -> str:
    return str(storage.get("table") or dataset)


def database_url(storage: Mapping[str, Any], data_dir: str | os.PathLike[str]) -> str:
    url = storage.get("url")
    if url:
        return str(url)
    return "sqlite:///" + os.path.join(os.fspath(data_dir), SQLITE_FILE)


def _missing_sqlite_file(url: str) -> bool:
    """Connecting would create the file: ask the file system first."""
    return url.startswith("sqlite:///") and not os.path.isfile(url[len("sqlite:///") :])


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    creds, at, host = rest.rpartition("@")
    if at and ":" in creds:
        return f"{scheme}{sep}{creds.split(':', 1)[0]}:***@{host}"
    return url


def location(
    storage: StorageDescription, dataset: str, data_dir: str | os.PathLike[str] = ".glacier/data"
) -> str:
    """Where ``dataset`` lives, for messages: a file path, ``<dir>/<D>.*`` when the format is
    not yet known, or ``<database> table `T```; ``<memory>`` for an ephemeral dataset."""
    if storage is None:
        return "<memory>"
    if is_table(storage):
        url = database_url(storage, data_dir)
        where = url[len("sqlite:///") :] if url.startswith("sqlite:///") else _redact(url)
        return f"{where} table `{table_name(storage, dataset)}`"
    folder, name = directory(storage, data_dir), _file_name(dataset)
    fmt = _explicit_format(storage)
    if fmt is not None:
        return os.path.join(folder, name + EXTENSIONS[fmt])
    return _existing_file(folder, name) or os.path.join(folder, name + ".*")


def exists(
    storage: StorageDescription, dataset: str, data_dir: str | os.PathLike[str] = ".glacier/data"
) -> bool:
    """Whether something is stored for ``dataset`` (always ``False`` when ephemeral)."""
    if storage is None:
        return False
    if is_table(storage):
        url = database_url(storage, data_dir)
        if _missing_sqlite_file(url):
            return False
        with _Database(url) as db:
            return db.has_table(table_name(storage, dataset))
    folder, name = directory(storage, data_dir), _file_name(dataset)
    fmt = _explicit_format(storage)
    if fmt is not None:
        return os.path.isfile(os.path.join(folder, name + EXTENSIONS[fmt]))
    return _existing_file(folder, name) is not None


# -- read and write ---------------------------------------------------------------------------


def read(
    storage: StorageDescription, dataset: str, data_dir: str | os.PathLike[str] = ".glacier/data"
) -> Any:
    """Load a stored dataset. Raises ``FileNotFoundError`` naming the location when absent."""
    if storage is None:
        raise ValueError(f"dataset `{dataset}` is ephemeral: it has no storage to read from")
    if is_table(storage):
        url = database_url(storage, data_dir)
        if _missing_sqlite_file(url):
            raise FileNotFoundError(
                f"dataset `{dataset}`: nothing stored at {url[len('sqlite:///') :]}"
            )
        with _Database(url) as db:
            return db.read(table_name(storage, dataset))
    folder, name = directory(storage, data_dir), _file_name(dataset)
    fmt = _explicit_format(storage)
    if fmt is not None:
        path: str | None = os.path.join(folder, name + EXTENSIONS[fmt])
    else:
        path = _existing_file(folder, name)
    if path is None or not os.path.isfile(path):
        where = path or os.path.join(folder, name + ".*")
        raise FileNotFoundError(f"dataset `{dataset}`: nothing stored at {where}")
    if fmt is None:
        fmt = next(f for f, ext in EXTENSIONS.items() if path.endswith(ext))
    return _READERS[fmt](path)


def write(
    storage: StorageDescription,
    dataset: str,
    value: Any,
    data_dir: str | os.PathLike[str] = ".glacier/data",
) -> str:
    """Store ``value`` atomically; returns the location written. Ephemeral: nothing to do."""
    if storage is None:
        return "<memory>"
    if is_table(storage):
        table = table_name(storage, dataset)
        url = database_url(storage, data_dir)
        if url.startswith("sqlite:///"):
            os.makedirs(os.path.dirname(url[len("sqlite:///") :]) or ".", exist_ok=True)
        with _Database(url) as db:
            db.write(table, value)
        return location(storage, dataset, data_dir)
    folder, name = directory(storage, data_dir), _file_name(dataset)
    fmt = _explicit_format(storage) or choose_format(value)
    path = os.path.join(folder, name + EXTENSIONS[fmt])
    os.makedirs(folder, exist_ok=True)
    _remove_stale_temporaries(folder)
    atomic_write(path, _WRITERS[fmt](value))
    if storage.get("format") is None:
        for ext in EXTENSIONS.values():  # the old format's file would shadow nothing, but confuse
            if ext != EXTENSIONS[fmt]:
                try:
                    os.unlink(os.path.join(folder, name + ext))
                except FileNotFoundError:
                    pass
    return path


def choose_format(value: Any) -> str:
    """The format used when none is given: see the module docstring."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if _is_dataframe(value) and _has_module("pyarrow"):
        return "parquet"
    if _plain_json(value, 0):
        return "json"
    return "pickle"


def _plain_json(value: Any, depth: int) -> bool:
    """True when ``json.loads(json.dumps(value)) == value`` holds (types, not NaN)."""
    if value is None or type(value) in (str, int, float, bool):
        return True
    if depth > 200:
        return False
    if type(value) is list:
        return all(_plain_json(v, depth + 1) for v in value)
    if type(value) is dict:
        return all(type(k) is str and _plain_json(v, depth + 1) for k, v in value.items())
    return False


def _is_dataframe(value: Any) -> bool:
    module = type(value).__module__
    return type(value).__name__ == "DataFrame" and (module.startswith(("pandas", "polars")))


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# -- files ------------------------------------------------------------------------------------


def atomic_write(path: str, produce: Callable[[BinaryIO], None]) -> None:
    """Write via ``produce(file)`` into a temporary sibling, fsync, then rename over ``path``."""
    folder, name = os.path.split(path)
    tmp = os.path.join(folder or ".", f".{name}.{os.getpid()}.{next(_counter)}.tmp")
    try:
        with open(tmp, "xb") as fh:
            produce(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    _fsync_dir(folder or ".")


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_SWEPT: set[str] = set()
"""Folders whose stale temporaries this process removed already."""


def _remove_stale_temporaries(folder: str) -> None:
    """Remove the ``.<file>.<pid>.<n>.tmp`` files of ``folder`` whose writing process is gone.

    Once per folder and process: listing a folder of 10,000 datasets at every write would make
    a run quadratic. A writer that dies later leaves its temporary to the next run.
    """
    key = os.path.abspath(folder)
    if key in _SWEPT:
        return
    try:
        entries = [e for e in os.listdir(folder) if e.startswith(".") and e.endswith(".tmp")]
    except OSError:
        return
    _SWEPT.add(key)
    for entry in entries:
        parts = entry[: -len(".tmp")].rsplit(".", 2)
        try:
            pid = int(parts[1])
            int(parts[2])
        except (IndexError, ValueError):
            continue
        if pid == os.getpid() or _alive(pid):
            continue
        try:
            os.unlink(os.path.join(folder, entry))
        except OSError:
            pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _bytes_writer(data: bytes | bytearray | memoryview) -> Callable[[BinaryIO], None]:
    def produce(fh: BinaryIO) -> None:
        fh.write(data)

    return produce


def _write_json(value: Any) -> Callable[[BinaryIO], None]:
    return _bytes_writer(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def _write_bytes(value: Any) -> Callable[[BinaryIO], None]:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"format `bytes` needs a bytes payload, got {type(value).__name__}")
    return _bytes_writer(value)


def _write_pickle(value: Any) -> Callable[[BinaryIO], None]:
    import pickle

    return _bytes_writer(pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))


def _write_parquet(value: Any) -> Callable[[BinaryIO], None]:
    import pyarrow as pa
    import pyarrow.parquet as pq

    module = type(value).__module__
    if module.startswith("polars"):
        table = value.to_arrow()
    elif module.startswith("pandas"):
        table = pa.Table.from_pandas(value)
    elif isinstance(value, pa.Table):
        table = value
    else:
        raise TypeError(f"format `parquet` needs a DataFrame, got {type(value).__name__}")
    return lambda fh: pq.write_table(table, fh)


def _write_csv(value: Any) -> Callable[[BinaryIO], None]:
    module = type(value).__module__
    if module.startswith("pandas"):
        text = value.to_csv(index=False)
    elif module.startswith("polars"):
        text = value.write_csv()
    else:
        import csv

        rows, columns = _rows_and_columns(value)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    return _bytes_writer(text.encode("utf-8"))


def _read_json(path: str) -> Any:
    with open(path, "rb") as fh:
        return json.loads(fh.read())


def _read_bytes(path: str) -> bytes:
    with open(path, "rb") as fh:
        return fh.read()


def _read_pickle(path: str) -> Any:
    import pickle

    with open(path, "rb") as fh:
        return pickle.load(fh)


def _read_parquet(path: str) -> Any:
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    metadata = table.schema.metadata or {}
    if b"pandas" not in metadata and _has_module("polars"):
        import polars

        return polars.from_arrow(table)
    return table.to_pandas()


def _read_csv(path: str) -> Any:
    if _has_module("pandas"):
        import pandas

        return pandas.read_csv(path)
    import csv

    with open(path, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


_WRITERS: dict[str, Callable[[Any], Callable[[BinaryIO], None]]] = {
    "json": _write_json,
    "parquet": _write_parquet,
    "bytes": _write_bytes,
    "pickle": _write_pickle,
    "csv": _write_csv,
}
_READERS: dict[str, Callable[[str], Any]] = {
    "json": _read_json,
    "parquet": _read_parquet,
    "bytes": _read_bytes,
    "pickle": _read_pickle,
    "csv": _read_csv,
}


# -- tables -----------------------------------------------------------------------------------

# column type → (SQLite declared type, PostgreSQL type)
_COLUMN_TYPES = {
    "bool": ("BOOLEAN", "BOOLEAN"),
    "int": ("INTEGER", "BIGINT"),
    "float": ("REAL", "DOUBLE PRECISION"),
    "str": ("TEXT", "TEXT"),
    "bytes": ("BLOB", "BYTEA"),
    "datetime": ("TIMESTAMP", "TIMESTAMP"),
    "datetimetz": ("TIMESTAMPTZ", "TIMESTAMPTZ"),
    "date": ("DATE", "DATE"),
    "json": ("JSON", "JSONB"),
}


def _column_type(values: list[Any]) -> str:
    kinds = set()
    for v in values:
        if v is None or (isinstance(v, float) and math.isnan(v)):
            continue
        if isinstance(v, bool):
            kinds.add("bool")
        elif isinstance(v, int):
            kinds.add("int")
        elif isinstance(v, float):
            kinds.add("float")
        elif isinstance(v, str):
            kinds.add("str")
        elif isinstance(v, (bytes, bytearray, memoryview)):
            kinds.add("bytes")
        elif isinstance(v, _dt.datetime):
            kinds.add("datetimetz" if v.tzinfo is not None else "datetime")
        elif isinstance(v, _dt.date):
            kinds.add("date")
        else:
            kinds.add("json")
    if kinds == {"int", "float"}:
        return "float"
    if len(kinds) == 1:
        return kinds.pop()
    return "json" if kinds else "str"


def _rows_and_columns(value: Any) -> tuple[list[dict[str, Any]], list[str]]:
    if not isinstance(value, list) or not all(isinstance(r, Mapping) for r in value):
        if isinstance(value, list):
            item = next(r for r in value if not isinstance(r, Mapping))
            got = f"a list with an item of type `{type(item).__name__}`"
        else:
            got = f"`{type(value).__name__}`"
        raise TypeError(f"a table holds rows: a list of dicts or a DataFrame, got {got}")
    columns: dict[str, None] = {}
    for row in value:
        for key in row:
            if not isinstance(key, str):
                raise TypeError(f"column names must be strings, got {key!r}")
            columns.setdefault(key, None)
    return [dict(r) for r in value], list(columns)


def _frame_rows(value: Any) -> tuple[str, list[dict[str, Any]], list[str]]:
    """(representation, rows, columns) for a table payload."""
    module = type(value).__module__
    if _is_dataframe(value) and module.startswith("pandas"):
        import pandas

        columns = [str(c) for c in value.columns]
        frame = value.astype(object).where(pandas.notna(value), None)
        rows = [
            {c: _native(v) for c, v in zip(columns, record, strict=True)}
            for record in frame.itertuples(index=False, name=None)
        ]
        return "pandas", rows, columns
    if _is_dataframe(value) and module.startswith("polars"):
        return "polars", value.to_dicts(), [str(c) for c in value.columns]
    rows, columns = _rows_and_columns(value)
    return "rows", rows, columns


def _native(value: Any) -> Any:
    """numpy/pandas scalars → Python values the database drivers understand."""
    if type(value).__module__ in ("numpy", "pandas._libs.tslibs.timestamps"):
        if hasattr(value, "to_pydatetime"):
            return value.to_pydatetime()
        if hasattr(value, "item"):
            return value.item()
    return value


def _rebuild(representation: str, rows: list[dict[str, Any]], columns: list[str]) -> Any:
    if representation == "pandas":
        import pandas

        return pandas.DataFrame.from_records(rows, columns=columns)
    if representation == "polars":
        import polars

        return polars.DataFrame(rows, schema=columns) if rows else polars.DataFrame(schema=columns)
    return rows


class _Database:
    """One connection to SQLite or PostgreSQL, used for a single read or write."""

    _sqlite_lock = threading.Lock()

    def __init__(self, url: str) -> None:
        self.url = url
        if url.startswith("sqlite:///"):
            self.kind = "sqlite"
        elif url.startswith(("postgresql://", "postgres://")):
            self.kind = "postgres"
        else:
            raise ValueError(
                f"unsupported database url `{_redact(url)}`: use postgresql://... or sqlite:///..."
            )

    def __enter__(self) -> Self:
        if self.kind == "sqlite":
            import sqlite3

            path = self.url[len("sqlite:///") :]
            self.conn: Any = sqlite3.connect(path, timeout=60, isolation_level=None)
        else:
            import psycopg

            self.conn = psycopg.connect(self.url, autocommit=True)
        return self

    def __exit__(self, *exc: object) -> None:
        self.conn.close()

    # identifiers are always quoted: table names come from user code
    def _ident(self, name: str) -> str:
        if self.kind == "postgres" and "." in name:
            return ".".join(self._ident(part) for part in name.split(".", 1))
        return '"' + name.replace('"', '""') + '"'

    def _ph(self) -> str:
        return "?" if self.kind == "sqlite" else "%s"

    def has_table(self, table: str) -> bool:
        if self.kind == "sqlite":
            cur = self.conn.execute(
                "SELECT 1 FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?",
                (table,),
            )
            return cur.fetchone() is not None
        row = self.conn.execute("SELECT to_regclass(%s)", (self._ident(table),)).fetchone()
        return row is not None and row[0] is not None

    def _meta(self, table: str) -> tuple[str, list[str], dict[str, str]] | None:
        if not self.has_table(META_TABLE):
            return None
        row = self.conn.execute(
            f"SELECT representation, columns FROM {self._ident(META_TABLE)} "
            f"WHERE name = {self._ph()}",
            (table,),
        ).fetchone()
        if row is None:
            return None
        spec = json.loads(row[1])
        return row[0], [c for c, _ in spec], dict(spec)

    def read(self, table: str) -> Any:
        if not self.has_table(table):
            raise FileNotFoundError(f"table `{table}` does not exist in {_redact(self.url)}")
        meta = self._meta(table)
        cur = self.conn.execute(f"SELECT * FROM {self._ident(table)}")
        names = [d[0] for d in cur.description]
        records = cur.fetchall()
        if meta is None:
            return [dict(zip(names, r, strict=True)) for r in records]
        representation, columns, types = meta
        decoders = {c: d for c in columns if (d := self._decoder(types.get(c, "str"))) is not None}
        rows = []
        for record in records:
            row = dict(zip(names, record, strict=True))
            for c, decode in decoders.items():
                if row.get(c) is not None:
                    row[c] = decode(row[c])
            rows.append({c: row.get(c) for c in columns})
        return _rebuild(representation, rows, columns)

    def _decoder(self, kind: str) -> Callable[[Any], Any] | None:
        if self.kind == "postgres":
            return None  # psycopg returns Python values for every type we create
        decoders: dict[str, Callable[[Any], Any]] = {
            "bool": bool,
            "json": json.loads,
            "datetime": _dt.datetime.fromisoformat,
            "datetimetz": _dt.datetime.fromisoformat,
            "date": _dt.date.fromisoformat,
        }
        return decoders.get(kind)

    def _encoder(self, kind: str) -> Callable[[Any], Any] | None:
        if kind == "json":
            if self.kind == "postgres":
                from psycopg.types.json import Jsonb

                return Jsonb
            return lambda v: json.dumps(v, ensure_ascii=False)
        if self.kind == "sqlite" and kind in ("datetime", "datetimetz", "date"):
            return lambda v: v.isoformat()
        if kind == "bytes":
            return bytes
        return None

    def write(self, table: str, value: Any) -> None:
        representation, rows, columns = _frame_rows(value)
        types = {c: _column_type([r.get(c) for r in rows]) for c in columns}
        which = 0 if self.kind == "sqlite" else 1
        ident = self._ident(table)
        column_sql = (
            ", ".join(f"{self._ident(c)} {_COLUMN_TYPES[types[c]][which]}" for c in columns)
            or f"{self._ident('_glacier_empty')} INTEGER"
        )
        encoders = {c: e for c in columns if (e := self._encoder(types[c])) is not None}
        params = [
            tuple(
                (encoders[c](v) if c in encoders and v is not None else v)
                for c in columns
                for v in (_nan_to_none(row.get(c)),)
            )
            for row in rows
        ]
        spec = json.dumps([[c, types[c]] for c in columns])
        ph = self._ph()
        meta = self._ident(META_TABLE)
        begin = "BEGIN IMMEDIATE" if self.kind == "sqlite" else "BEGIN"
        lock = self._sqlite_lock if self.kind == "sqlite" else _NoLock()
        with lock:
            self.conn.execute(begin)
            try:
                self.conn.execute(
                    f"CREATE TABLE IF NOT EXISTS {meta} "
                    "(name TEXT PRIMARY KEY, representation TEXT NOT NULL, columns TEXT NOT NULL)"
                )
                self.conn.execute(f"DROP TABLE IF EXISTS {ident}")
                self.conn.execute(f"CREATE TABLE {ident} ({column_sql})")
                if columns and params:
                    insert = (
                        f"INSERT INTO {ident} ({', '.join(self._ident(c) for c in columns)}) "
                        f"VALUES ({', '.join([ph] * len(columns))})"
                    )
                    if self.kind == "sqlite":
                        self.conn.executemany(insert, params)
                    else:
                        with self.conn.cursor() as cur:
                            cur.executemany(insert, params)
                self.conn.execute(f"DELETE FROM {meta} WHERE name = {ph}", (table,))
                self.conn.execute(
                    f"INSERT INTO {meta} (name, representation, columns) VALUES ({ph}, {ph}, {ph})",
                    (table, representation, spec),
                )
                self.conn.execute("COMMIT")
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise


def _nan_to_none(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


class _NoLock:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


# -- a pipeline's datasets --------------------------------------------------------------------


class Store:
    """The storage of every dataset of one run: what the scheduler reads and writes through.

    ``storages`` maps each dataset name to its storage description (``None``: ephemeral).
    """

    __slots__ = ("data_dir", "storages")

    def __init__(
        self, storages: Mapping[str, StorageDescription], data_dir: str | os.PathLike[str]
    ) -> None:
        self.storages = dict(storages)
        self.data_dir = os.fspath(data_dir)

    def persistent(self, dataset: str) -> bool:
        return self.storages.get(dataset) is not None

    def description(self, dataset: str) -> StorageDescription:
        return self.storages.get(dataset)

    def exists(self, dataset: str) -> bool:
        return exists(self.storages.get(dataset), dataset, self.data_dir)

    def location(self, dataset: str) -> str:
        return location(self.storages.get(dataset), dataset, self.data_dir)

    def read(self, dataset: str) -> Any:
        return read(self.storages.get(dataset), dataset, self.data_dir)

    def write(self, dataset: str, value: Any) -> str:
        return write(self.storages.get(dataset), dataset, value, self.data_dir)
