"""A user's loop on the `orders` example: `glacier run` in a terminal (a real pseudo-terminal:
the live progress line, then the table), `glacier runs`, `glacier show`, and the graph of the
run in headless Chromium; and the same from Python (`LocalExecutor.runs/load/show`)."""

from __future__ import annotations

import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from _browser import open_page
from click.testing import CliRunner

from glacier import Dataset, ObjectStorage, Pipeline
from glacier.errors import UsageError
from glacier_cli import main
from glacier_local import LocalExecutor

ROOT = Path(__file__).resolve().parent.parent
ARTIFACTS = ROOT / ".test-artifacts"
GLACIER = str(Path(sys.executable).with_name("glacier"))


def _in_terminal(argv: list[str], cwd: Path) -> str:
    """Run ``argv`` with a pseudo-terminal as its standard output and error; all it wrote."""
    leader, follower = pty.openpty()
    env = {**os.environ, "TERM": "xterm", "COLUMNS": "120", "LINES": "40"}
    process = subprocess.Popen(argv, cwd=cwd, stdout=follower, stderr=follower, env=env)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([leader], [], [], 60)
        if not ready:
            process.kill()
            break
        try:
            data = os.read(leader, 65536)
        except OSError:  # the other end closed: the process is done
            break
        if not data:
            break
        chunks.append(data)
    os.close(leader)
    assert process.wait(60) == 0, b"".join(chunks).decode(errors="replace")
    return b"".join(chunks).decode()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, str]]:
    """A copy of the examples, their data in place, after one `glacier run` of `orders` in a
    terminal; yields the directory and what the terminal showed."""
    root = tmp_path_factory.mktemp("user")
    shutil.copytree(ROOT / "examples", root / "examples")
    shutil.copytree(ROOT / "examples" / "data", root / ".glacier" / "data")
    screen = _in_terminal([GLACIER, "run", "examples/orders"], root)
    yield root, screen


def _cli(root: Path, *args: str) -> Any:
    cwd = os.getcwd()
    os.chdir(root)
    try:
        return CliRunner().invoke(main, list(args))
    finally:
        os.chdir(cwd)


def test_glacier_run_in_a_terminal_shows_the_live_line_then_the_table(
    project: tuple[Path, str],
) -> None:
    _, screen = project
    assert "\r\x1b[2K[orders] 0/5 done, 0 running, 0 failed, 00:00" in screen
    assert re.search(r"\[orders\] 5/5 done, 0 running, 0 failed, 00:\d\d\.\d", screen)
    lines = [line.split("\r\x1b[2K")[-1] for line in screen.replace("\r\n", "\n").split("\n")]
    assert "[orders] start  validate" in lines
    table = lines.index("task                status     attempts   seconds")
    assert re.fullmatch(
        r"pipeline 'orders' \(data dir \.glacier/data, run 2\d{7}T\d{6}\.\d{3}Z-[0-9a-f]{4}\)",
        lines[table - 1],
    )
    assert lines[table + 6].startswith("run ok: 5 succeeded, 0 failed, 0 skipped in ")
    assert "\x1b" not in "".join(lines[table - 1 :])  # the table is plain text


def test_glacier_runs_lists_the_run(project: tuple[Path, str]) -> None:
    root, _ = project
    listed = _cli(root, "runs", "examples/orders")
    assert listed.exit_code == 0, listed.output
    header, row = listed.output.splitlines()
    assert header.split() == ["run", "pipeline", "status", "started", "seconds", "tasks"]
    assert re.match(r"2\d{7}T\d{6}\.\d{3}Z-[0-9a-f]{4}  orders    succeeded  20", row)
    assert row.endswith("5 succeeded")
    records = json.loads(_cli(root, "runs", "--json").output)
    assert [r["pipeline"] for r in records] == ["orders"]
    (record,) = records
    assert record["runner"] == "run_local.py" and record["status"] == "succeeded"
    assert Path(record["directory"]).name == record["id"]


def test_glacier_show_a_stored_and_a_kept_output(project: tuple[Path, str]) -> None:
    root, _ = project
    stored = _cli(root, "show", "examples/orders", "report")
    assert stored.exit_code == 0, stored.output
    lines = stored.output.splitlines()
    assert re.fullmatch(r"report  \(from task `write_report`, run 2\S+, succeeded\)", lines[0])
    report = root / ".glacier" / "data" / "orders-reports" / "daily" / "report.json"
    assert lines[1] == f"at {report}, {report.stat().st_size} bytes"
    text = json.loads(report.read_text())  # a str, stored as JSON
    assert lines[2] == f"text, {len(text)} characters:"
    assert "\n".join(lines[3:]) == text.rstrip("\n")

    kept = _cli(root, "show", "customer_ranking", "--limit", "2")  # ephemeral: the runner's copy
    assert kept.exit_code == 0, kept.output
    lines = kept.output.splitlines()
    assert ".glacier-run/orders/customer_ranking.pkl" in lines[1]
    assert re.fullmatch(r"list of \d+ rows, columns: .*customer.*", lines[2])
    assert len(lines) == 6 and lines[5].startswith("... ") and lines[5].endswith("more rows")

    table = _cli(root, "show", "rejections")  # a table in the local SQLite file
    assert table.exit_code == 0, table.output
    assert "order_id" in table.output


def test_glacier_show_says_what_there_is(project: tuple[Path, str]) -> None:
    root, _ = project
    missing = _cli(root, "show", "examples/orders", "nope")
    assert missing.exit_code == 2
    assert "no output `nope` in the latest run of `orders`" in missing.output
    unknown_run = _cli(root, "show", "--pipeline", "orders", "--run", "1999", "report")
    assert unknown_run.exit_code == 2
    assert "no run of `1999` (pipeline `orders`; newest: 2" in unknown_run.output


def test_glacier_graph_of_the_run_in_a_browser(project: tuple[Path, str]) -> None:
    root, _ = project
    result = _cli(root, "graph", "examples/orders", "--format", "html", "--run", "latest")
    assert result.exit_code == 0, result.output
    page = root / "run.html"
    page.write_text(result.output, encoding="utf-8")
    statuses = "JSON.stringify([...document.querySelectorAll('g.node.task')].map(g => [g.dataset.name, g.dataset.status, getComputedStyle(g.querySelector('rect')).fill]))"
    seen = open_page(page, [statuses, "document.querySelector('header p').textContent"])
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / "graph-orders-run.png").write_bytes(seen.screenshot)
    assert seen.requests == [] and seen.errors == []
    tasks = json.loads(seen.values[statuses])
    assert sorted(name for name, _, _ in tasks) == [
        "archive_rejections",
        "rank_customers",
        "revenue_by_day",
        "validate",
        "write_report",
    ]
    assert {(status, fill) for _, status, fill in tasks} == {("succeeded", "rgb(134, 239, 172)")}
    assert re.search(
        r"run 2\S+: succeeded$", seen.values["document.querySelector('header p').textContent"]
    )


def test_graph_run_colours_failed_and_skipped_tasks(tmp_path: Path) -> None:
    module = tmp_path / "flow.py"
    module.write_text(
        "from glacier import Dataset, Pipeline\n\n"
        'pipeline = Pipeline(name="flow")\n'
        'a = Dataset(name="a")\nb = Dataset(name="b")\nc = Dataset(name="c")\n\n\n'
        "@pipeline.task()\ndef one() -> a:\n    return 1\n\n\n"
        "@pipeline.task()\ndef two(x: a) -> b:\n    raise ValueError(x)\n\n\n"
        "@pipeline.task()\ndef three(y: b) -> c:\n    return y\n"
    )
    sys.path.insert(0, str(tmp_path))
    try:
        import flow  # type: ignore[import-not-found]

        result = LocalExecutor(tmp_path / "data").execute(flow.pipeline)
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("flow", None)
    assert result.failed == ("two",)
    svg = _cli(
        tmp_path,
        "graph",
        "flow.py",
        "--format",
        "svg",
        "--run",
        str(result.run_id)[:12],
        "--data-dir",
        "data",
    )
    assert svg.exit_code == 0, svg.output
    tree = ET.fromstring(svg.output.split("\n", 1)[1])
    ns = "{http://www.w3.org/2000/svg}"
    found = {
        g.get("data-name"): (
            g.get("data-status"),
            g.find(f"{ns}rect").get("fill"),
            g.find(f"{ns}title").text,
        )  # type: ignore[union-attr]
        for g in tree.iter(f"{ns}g")
        if g.get("data-kind") == "task"
    }
    assert found["one"][:2] == ("succeeded", "#86efac")
    assert found["two"][:2] == ("failed", "#fecaca")
    assert found["three"] == ("skipped", "#e5e7eb", "three: skipped · 0.00s")
    legend = [t.text for t in tree.iter(f"{ns}text") if t.text and t.text.startswith("task ")]
    assert legend == [
        "task succeeded",
        "task cached",
        "task failed",
        "task skipped",
        "task not run",
    ]
    mermaid = _cli(tmp_path, "graph", "flow.py", "--run", "latest", "--data-dir", "data")
    assert mermaid.exit_code == 2 and "html and svg formats only" in mermaid.output


def test_local_executor_runs_load_and_show(tmp_path: Path) -> None:
    pandas = pytest.importorskip("pandas")
    p = Pipeline("frames")
    raw = Dataset("raw")
    table = Dataset("table", storage=ObjectStorage(bucket="lake"))

    @p.task()
    def make() -> raw:
        return [{"city": "Oslo", "n": 3}, {"city": "Lima", "n": 5}]

    @p.task()
    def frame(rows: raw) -> table:
        return pandas.DataFrame(rows)

    executor = LocalExecutor(tmp_path)
    first = executor.execute(p)
    second = executor.execute(p, force=True)
    assert [r["id"] for r in executor.runs(p)] == [second.run_id, first.run_id]
    value = executor.load(p, table)
    assert value.to_dict("records") == [{"city": "Oslo", "n": 3}, {"city": "Lima", "n": 5}]
    text = executor.show("frames", "table", limit=1)
    lines = text.splitlines()
    assert lines[0] == f"table  (from task `frame`, run {second.run_id}, succeeded)"
    stored = tmp_path / "lake" / "table.parquet"
    size = stored.stat().st_size
    assert re.fullmatch(rf"at {re.escape(str(stored))}, \d+\.\d KiB \({size} bytes\)", lines[1])
    assert lines[2:6] == [
        "pandas DataFrame, 2 rows x 2 columns",
        "schema:",
        f"  city: {value.dtypes['city']}",
        "  n: int64",
    ]
    assert lines[6].split() == ["city", "n"] and lines[7].split() == ["0", "Oslo", "3"]
    assert len(lines) == 8  # the head of 1 row
    # an older run's stored output that a later write changed: shown, and said so
    pandas.DataFrame({"city": ["Bergen"] * 50, "n": range(50)}).to_parquet(stored)
    older = executor.show(p, table, run=first.run_id).splitlines()
    assert older[2] == (
        "note: the file changed since this run (a later run wrote it): this is its current value"
    )
    assert older[3] == "pandas DataFrame, 50 rows x 2 columns"
    with pytest.raises(UsageError, match="`raw` \\(from task `make`\\) was in memory only"):
        executor.load(p, "raw")
    with pytest.raises(UsageError, match="has no output `nope`; its outputs: `raw`, `table`"):
        executor.show(p, "nope")


def test_describe_keeps_big_values_short() -> None:
    from glacier_local.history import describe

    assert describe({"a": 1}) == '{\n  "a": 1\n}'
    big = describe({f"k{i}": i for i in range(100)}, limit=2)
    assert big.splitlines()[0] == "dict of 100 keys, the first 10:"
    assert json.loads("\n".join(big.splitlines()[1:])) == {f"k{i}": i for i in range(10)}
    numbers = describe(list(range(50)), limit=3)
    assert numbers.splitlines()[0] == "list of 50, the first 3:"
    lines = "\n".join(f"line {i}" for i in range(30))
    text = describe(lines, limit=1)
    assert text.splitlines()[:2] == [f"text, {len(lines)} characters:", "line 0"]
    assert text.splitlines()[-1] == "... 25 more lines"
    head = repr(b"\x00\x01" * 4)
    assert describe(b"\x00\x01" * 100, limit=1) == f"bytes, 200 long: {head}..."
    assert describe({1, 2}) == "builtins.set: {1, 2}"


def test_a_record_being_written_is_skipped_and_prefixes_must_be_unique(tmp_path: Path) -> None:
    p = Pipeline("twice")
    out = Dataset("out", storage=ObjectStorage(bucket="lake"))

    @p.task()
    def make() -> out:
        return 1

    executor = LocalExecutor(tmp_path)
    first = executor.execute(p)
    second = executor.execute(p, force=True)
    assert first.run_id is not None and second.run_id is not None
    kept = tmp_path / ".glacier-run" / "twice"
    (kept / second.run_id / "run.json").write_text('{"id": "')  # a write in progress
    assert [r["id"] for r in executor.runs(p)] == [first.run_id]
    assert executor.show(p, out).splitlines()[0].endswith(f"run {first.run_id}, succeeded)")
    shared = os.path.commonprefix([first.run_id, second.run_id])
    with pytest.raises(UsageError, match=f"several runs start with `{shared}`"):
        executor.load(p, out, run=shared)
