"""Past local runs: their records, and their outputs read back.

Both local paths (``LocalExecutor`` and the standalone runner) keep a record of each run
under ``<data_dir>/.glacier-run/<pipeline>/<run id>/run.json`` (``glacier_local._runlog``
says what is in it). This module reads them: ``glacier runs`` and ``glacier show`` are thin
on top of it, and so are ``LocalExecutor.runs()``, ``load()`` and ``show()`` for notebooks.
"""

from __future__ import annotations

import calendar
import itertools
import json
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from glacier_local import _io, _runlog, _schedule

__all__ = [
    "HistoryError",
    "describe",
    "find_run",
    "format_runs",
    "list_runs",
    "load_output",
    "pipelines_with_runs",
    "show_output",
]


class HistoryError(LookupError):
    """No such run, or no such output in it; the message says what there is instead."""


def _root(data_dir: str | os.PathLike[str]) -> str:
    return os.path.join(os.fspath(data_dir), _runlog.RUNS_DIR)


def pipelines_with_runs(data_dir: str | os.PathLike[str]) -> list[str]:
    """The pipelines that have at least one run record under ``data_dir``, sorted (the
    newest record of each says its name)."""
    found = set()
    for base in _pipeline_folders(data_dir, None):
        for record in _newest(base):
            found.add(str(record.get("pipeline")))
            break
    return sorted(found)


def _pipeline_folders(data_dir: str | os.PathLike[str], pipeline: str | None) -> list[str]:
    """The directory of ``pipeline``'s runs, or of every pipeline's (``None``)."""
    if pipeline is not None:
        return [_schedule.pipeline_directory(data_dir, pipeline)]
    root = _root(data_dir)
    try:
        return [os.path.join(root, folder) for folder in sorted(os.listdir(root))]
    except OSError:
        return []


def _run_ids(base: str) -> list[str]:
    """The run directories under ``base``, newest first (run ids sort by start time)."""
    try:
        return sorted((n for n in os.listdir(base) if _runlog.is_run_id(n)), reverse=True)
    except OSError:
        return []


def _read(base: str, run_id: str) -> dict[str, Any] | None:
    """The record of run ``run_id`` under ``base`` (``None``: unreadable, or still being
    written for the first time)."""
    try:
        with open(os.path.join(base, run_id, "run.json"), encoding="utf-8") as fh:
            record = json.load(fh)
    except (OSError, ValueError):
        return None
    if not isinstance(record, dict) or record.get("id") != run_id:
        return None
    record["directory"] = os.path.join(base, run_id)
    return record


def _newest(base: str, ids: Iterable[str] | None = None) -> Iterator[dict[str, Any]]:
    """The readable records under ``base`` (of ``ids``, else all), newest first, each read
    only when asked for: a record of many tasks is big, and most questions need one."""
    for run_id in _run_ids(base) if ids is None else ids:
        record = _read(base, run_id)
        if record is not None:
            yield record


def list_runs(
    data_dir: str | os.PathLike[str], pipeline: str | None = None, limit: int | None = None
) -> list[dict[str, Any]]:
    """The run records of ``pipeline`` (``None``: every pipeline), newest first; each has
    ``directory``, where its logs are, besides what ``_runlog`` writes. Only the newest
    ``limit`` records of each pipeline are read."""
    records: list[dict[str, Any]] = []
    for base in _pipeline_folders(data_dir, pipeline):
        records += itertools.islice(_newest(base), limit)
    records.sort(key=lambda r: str(r["id"]), reverse=True)
    return records[:limit] if limit is not None else records


def find_run(
    data_dir: str | os.PathLike[str], pipeline: str, run_id: str | None = None
) -> dict[str, Any]:
    """The record of run ``run_id`` of ``pipeline`` (``None`` or ``"latest"``: the newest; a
    unique prefix of an id will do). Reads that record only."""
    base = _schedule.pipeline_directory(data_dir, pipeline)
    ids = _run_ids(base)
    if run_id is not None and run_id != "latest":
        matches = [i for i in ids if i.startswith(run_id)]
        if len(matches) == 1:
            for record in _newest(base, matches):
                return record
        if ids:
            known = ", ".join(ids[:5])
            what = "several runs start with" if len(matches) > 1 else "no run of"
            raise HistoryError(
                f"{what} `{run_id}` (pipeline `{pipeline}`; newest: {known}); see `glacier runs`"
            )
    else:
        for record in _newest(base, ids):
            return record
    raise HistoryError(
        f"pipeline `{pipeline}` has no runs recorded under "
        f"{os.path.join(os.fspath(data_dir), _runlog.RUNS_DIR)}; run it first (glacier run)"
    )


def _output_entry(record: dict[str, Any], dataset: str) -> tuple[dict[str, Any], str]:
    """The record's entry of ``dataset`` (as an output of one of its tasks) and that task."""
    for task in record.get("tasks", ()):
        outputs = task.get("outputs") or {}
        if dataset in outputs:
            return outputs[dataset], str(task["name"])
    produced = sorted(d for t in record.get("tasks", ()) for d in (t.get("outputs") or {}))
    raise HistoryError(
        f"run {record['id']} of `{record['pipeline']}` has no output `{dataset}`"
        + (f"; its outputs: {', '.join(f'`{d}`' for d in produced)}" if produced else "")
    )


def load_output(record: dict[str, Any], dataset: str) -> Any:
    """The value of ``dataset`` as the run of ``record`` left it, read from where it is
    stored or kept. An output in memory only (a ``LocalExecutor`` run's ephemeral dataset)
    cannot be read back: ``HistoryError`` says so."""
    entry, task = _output_entry(record, dataset)
    storage = entry.get("storage")
    if storage is None:
        raise HistoryError(
            f"`{dataset}` (from task `{task}`) was in memory only in run {record['id']}: give "
            "it storage to keep it, or run the standalone runner (glacier run), which keeps "
            "ephemeral outputs for --from"
        )
    return _io.read(storage, dataset, str(record["data_dir"]))


def show_output(record: dict[str, Any], dataset: str, limit: int = 10) -> str:
    """What ``glacier show`` prints: where the output is, then ``describe`` of its value."""
    entry, task = _output_entry(record, dataset)
    location, size = entry.get("location"), entry.get("bytes")
    head = f"{dataset}  (from task `{task}`, run {record['id']}, {record.get('status')})"
    lines = [head]
    if location:
        lines.append(f"at {location}" + (f", {_size(size)}" if size is not None else ""))
        changed = _changed_since(location, size, record)
        if changed:
            lines.append(f"note: {changed}")
    value = load_output(record, dataset)
    lines.append(describe(value, limit))
    return "\n".join(lines)


def _changed_since(location: str, size: Any, record: dict[str, Any]) -> str | None:
    try:
        stat = os.stat(location)
    except OSError:
        return None
    finished = record.get("finished")
    later = False
    if isinstance(finished, str):
        try:
            ended = calendar.timegm(time.strptime(finished[:19], "%Y-%m-%dT%H:%M:%S"))
        except ValueError:
            ended = None
        later = ended is not None and stat.st_mtime > ended + 1
    if (isinstance(size, int) and stat.st_size != size) or later:
        return "the file changed since this run (a later run wrote it): this is its current value"
    return None


def _size(size: int) -> str:
    """``512 bytes``, ``2.0 KiB (2086 bytes)``."""
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024 or unit == "GiB":
            break
    return f"{size} bytes" if size < 1024 else f"{value:.1f} {unit} ({size} bytes)"


def describe(value: Any, limit: int = 10) -> str:
    """A look at a value: a DataFrame's shape, schema and first ``limit`` rows; a list of
    rows' count, columns and first rows; text as it is (its first ``5 * limit`` lines);
    other JSON-able values pretty-printed (the first ``limit`` items of a long list, the
    first ``5 * limit`` keys of a big dict);
    anything else its type, size and ``repr``."""
    module = type(value).__module__.split(".")[0]
    if module == "pandas" and hasattr(value, "dtypes") and hasattr(value, "head"):
        rows, cols = value.shape
        schema = "\n".join(f"  {name}: {dtype}" for name, dtype in value.dtypes.items())
        head = value.head(limit).to_string()
        return f"pandas DataFrame, {rows} rows x {cols} columns\nschema:\n{schema}\n{head}"
    if module == "polars" and hasattr(value, "schema") and hasattr(value, "head"):
        rows, cols = value.shape
        schema = "\n".join(f"  {name}: {dtype}" for name, dtype in value.schema.items())
        return f"polars DataFrame, {rows} rows x {cols} columns\nschema:\n{schema}\n{value.head(limit)}"
    if isinstance(value, list) and value and all(isinstance(r, dict) for r in value):
        columns: dict[str, None] = {}
        for row in value:
            columns.update(dict.fromkeys(str(k) for k in row))
        shown = value[:limit]
        more = f"\n... {len(value) - limit} more rows" if len(value) > limit else ""
        return (
            f"list of {len(value)} rows, columns: {', '.join(columns)}\n"
            + "\n".join(_json(row, indent=None) or repr(row) for row in shown)
            + more
        )
    if isinstance(value, str):
        lines = value.splitlines()
        more = f"\n... {len(lines) - limit * 5} more lines" if len(lines) > limit * 5 else ""
        return f"text, {len(value)} characters:\n" + "\n".join(lines[: limit * 5]) + more
    if isinstance(value, (bytes, bytearray, memoryview)):
        data = bytes(value)
        return f"bytes, {len(data)} long: {data[: limit * 8]!r}" + (
            "..." if len(data) > limit * 8 else ""
        )
    if isinstance(value, dict) and len(value) > limit * 5:
        text = _json(dict(list(value.items())[: limit * 5]))
        if text is not None:
            return f"dict of {len(value)} keys, the first {limit * 5}:\n{text}"
    if isinstance(value, (list, tuple)) and len(value) > limit:
        text = _json(list(value[:limit]))
        if text is not None:
            return f"{type(value).__name__} of {len(value)}, the first {limit}:\n{text}"
    text = _json(value)
    if text is not None:
        return text
    written = repr(value)
    if len(written) > 2000:
        written = written[:2000] + "..."
    return f"{type(value).__module__}.{type(value).__qualname__}: {written}"


def _json(value: Any, indent: int | None = 2) -> str | None:
    try:
        return json.dumps(value, indent=indent, sort_keys=False, ensure_ascii=False)
    except (TypeError, ValueError):
        return None


def format_runs(records: Sequence[dict[str, Any]]) -> str:
    """``glacier runs``' table: id, pipeline, status, start, duration, task counts."""
    rows = [("run", "pipeline", "status", "started", "seconds", "tasks")]
    for record in records:
        counts: dict[str, int] = {}
        for task in record.get("tasks", ()):
            counts[task.get("status", "?")] = counts.get(task.get("status", "?"), 0) + 1
        tasks = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "-"
        duration = record.get("duration_s")
        rows.append(
            (
                str(record.get("id")),
                str(record.get("pipeline")),
                str(record.get("status")),
                str(record.get("started")),
                f"{duration:.3f}" if isinstance(duration, (int, float)) else "-",
                tasks,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)) + "  " + row[-1]
        for row in rows
    )
