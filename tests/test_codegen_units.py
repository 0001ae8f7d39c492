"""Unit tests of codegen's small parts: names, literals, slicing, the writer."""

from __future__ import annotations

import ast
import os
from dataclasses import dataclass

import pytest

from codegen._build import PipelineArtifacts
from codegen._names import dir_name, graph_ids
from codegen._slice import slice_source
from codegen._templates import _py, _pystr
from codegen._writer import compare_tree, write_tree


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("etl", "etl"),
        ("../x", "x"),
        ("a/b", "a_b"),
        ("a\\b", "a_b"),
        ("..", "pipeline"),
        (".hidden", "hidden"),
        ("-rf", "rf"),
        ("", "pipeline"),
        ("   ", "pipeline"),
        ("café au lait", "cafe_au_lait"),
        ("日本", "pipeline"),
        ("con", "_con"),
        ("NUL.txt", "_NUL.txt"),
        ("a" * 200, "a" * 80),
        ("orders-v2.daily", "orders-v2.daily"),
    ],
)
def test_dir_name_is_safe(name: str, expected: str) -> None:
    result = dir_name(name)
    assert result == expected
    assert "/" not in result and "\\" not in result
    assert result not in ("", ".", "..") and not result.startswith((".", "-"))


def test_graph_ids_are_unique_and_plain() -> None:
    ids = graph_ids("task", ["a b", "a_b", "A_B", "end", "", "é"])
    assert len({v.lower() for v in ids.values()}) == 6
    assert all(v.replace("_", "").isalnum() and v.isascii() for v in ids.values())


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "it's",
        'say "hi"',
        "both ' and \"",
        "back\\slash",
        "new\nline\r\n",
        "{{ x }} {% if %}",
        "\x00\x0c\u2028é日本",
        '"""',
        "'''",
        ("a",),
        [1, 2.5, None, True],
        {"k": ("v", None)},
        float("inf"),
    ],
)
def test_py_literals_round_trip(value: object) -> None:
    text = _py(value)
    if isinstance(value, float):
        assert eval(text) == value
    else:
        assert ast.literal_eval(text) == value


@pytest.mark.parametrize("value", ["", "one line", "a\nb\n", "x\r\ny\rz\x0cw\u2028v\n\n"])
def test_pystr_round_trips(value: str) -> None:
    assert ast.literal_eval(_pystr(value, 4)) == value


@dataclass
class StatementSummary:
    kind: str
    start_line: int
    end_line: int
    defines: tuple[str, ...] = ()
    drop_names: tuple[str, ...] = ()
    task_decorators: tuple[tuple[int, int], ...] = ()


SOURCE = '''\
"""Doc."""
from glacier import Dataset, Pipeline
from .helpers import raw, helper as h
import pulumi_aws as aws
pipeline = Pipeline(name="p")
raw2 = Dataset(
    name="raw2",
)
bucket = aws.s3.Bucket("b")


@pipeline.task(
    retries=1,
)
@other
def extract() -> raw2:
    return h()
'''


def test_slice_keeps_lines_and_drops_declarations() -> None:
    statements = [
        StatementSummary("task", 1, 1),
        StatementSummary("glacier", 2, 2),
        StatementSummary("task", 3, 3, drop_names=("raw",)),
        StatementSummary("infrastructure", 4, 4),
        StatementSummary("glacier", 5, 5),
        StatementSummary("glacier", 6, 8),
        StatementSummary("infrastructure", 9, 9),
        StatementSummary("task", 12, 17, task_decorators=((12, 14),)),
    ]
    sliced = slice_source(SOURCE, statements)
    lines = sliced.splitlines()
    assert len(lines) == len(SOURCE.splitlines())
    assert lines[0] == '"""Doc."""'
    assert lines[1] == "# glacier build: glacier statement left out"
    assert lines[2].startswith("from .helpers import helper as h  # glacier build: left out raw")
    assert lines[3] == "# glacier build: infrastructure statement left out"
    assert lines[6:8] == ["", ""]
    assert lines[11] == "# glacier build: task decorator left out"
    assert lines[12:14] == ["", ""]
    assert lines[14] == "@other"
    assert lines[15] == "def extract() -> raw2:"
    tree = ast.parse(sliced)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)}
    assert "Pipeline" not in names and "aws" not in names and "pipeline" not in names


def test_slice_drops_an_import_whose_names_all_go() -> None:
    sliced = slice_source(
        "from x import a, b\n", [StatementSummary("task", 1, 1, drop_names=("a", "b"))]
    )
    assert sliced == "# glacier build: left out a, b\n"


def test_slice_normalises_line_endings_without_moving_lines() -> None:
    source = "a = 1\r\nb = 2\rc = 3\n"
    sliced = slice_source(
        source,
        [
            StatementSummary("task", 1, 1),
            StatementSummary("glacier", 2, 2),
            StatementSummary("task", 3, 3),
        ],
    )
    assert sliced == "a = 1\n# glacier build: glacier statement left out\nc = 3\n"


def _artifacts(**files: bytes) -> list[PipelineArtifacts]:
    return [
        PipelineArtifacts("p", "p", "src/p.py", {k.replace("__", "/"): v for k, v in files.items()})
    ]


def test_writer_writes_only_changes_and_check_sees_everything(tmp_path) -> None:
    out = str(tmp_path / "build")
    first = write_tree(out, _artifacts(a=b"1", sub__b=b"2"))
    assert first.missing == ["p/a", "p/sub/b"]
    mtime = os.stat(os.path.join(out, "p", "a")).st_mtime_ns
    second = write_tree(out, _artifacts(a=b"1", sub__b=b"3"))
    assert second.stale == ["p/sub/b"] and second.unchanged == ["p/a"]
    assert os.stat(os.path.join(out, "p", "a")).st_mtime_ns == mtime
    # an extra file, e.g. a program directory a later build no longer produces
    os.makedirs(os.path.join(out, "p", "pulumi", "dev"))
    with open(os.path.join(out, "p", "pulumi", "dev", "__main__.py"), "w") as fh:
        fh.write("x")
    diff = compare_tree(out, _artifacts(a=b"1", sub__b=b"3"))
    assert diff.extra == ["p/pulumi/dev/__main__.py"] and not diff.clean
    write_tree(out, _artifacts(a=b"1", sub__b=b"3"))
    assert not os.path.exists(os.path.join(out, "p", "pulumi"))
    assert compare_tree(out, _artifacts(a=b"1", sub__b=b"3")).clean


def test_writer_finds_the_directory_of_a_renamed_pipeline(tmp_path) -> None:
    out = tmp_path / "build"
    (out / "old").mkdir(parents=True)
    (out / "old" / "manifest.json").write_text(
        '{"pipeline": {"span": {"file": "src/p.py", "line": 1, "column": 1}}}'
    )
    (out / "unrelated").mkdir()
    (out / "unrelated" / "manifest.json").write_text(
        '{"pipeline": {"span": {"file": "elsewhere.py", "line": 1, "column": 1}}}'
    )
    diff = compare_tree(str(out), _artifacts(a=b"1"), sources={"src/p.py"})
    assert diff.extra == ["old/manifest.json"]
    assert diff.missing == ["p/a"]
    # a directory being built covers every file under it, existing or deleted
    assert compare_tree(str(out), _artifacts(a=b"1"), sources={"src/"}).extra == [
        "old/manifest.json"
    ]
    assert compare_tree(str(out), _artifacts(a=b"1"), sources={"sr/", "src"}).extra == []
    assert compare_tree(str(out), _artifacts(a=b"1"), sources={"./"}).extra == [
        "old/manifest.json",
        "unrelated/manifest.json",
    ]


def test_slice_keeps_the_layout_and_comments_of_a_mixed_import() -> None:
    source = (
        "from .datasets import (  # what the tasks need\n"
        "    raw,\n"
        "    helper,  # a plain function\n"
        "    clean,\n"
        ")\n"
        "x = helper()\n"
    )
    sliced = slice_source(
        source,
        [
            StatementSummary("task", 1, 5, drop_names=("raw", "clean")),
            StatementSummary("task", 6, 6),
        ],
    )
    assert sliced.splitlines() == [
        "from .datasets import (  # what the tasks need  # glacier build: left out clean, raw",
        "    helper,  # a plain function",
        "    )",  # the indentation that stood before the dropped last name
        "",
        "",
        "x = helper()",
    ]
    ast.parse(sliced)
