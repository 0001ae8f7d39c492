"""Arbitrary names and storage strings: a diagnostic, or artifacts that parse and carry them.

Fixture modules are written as source text (the names as string literals) into a temporary
project and go through the static path: analyze, then codegen. Nothing is imported.
"""

from __future__ import annotations

import ast
import json
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import glacier
from analyzer import analyze
from codegen import build as build_artifacts
from codegen import emit_dot, emit_graph_json

NASTY = st.sampled_from(
    ['"', "'", "\\", "\n", "\r", "{{", "}}", "{%", "%}", "#", "`", "é", "日", "\u2028", "\x00"]
    + ["class", "None", "import", "..", "/", "%%", "-->", "<br>", "&amp;"]
)
TEXT = st.lists(st.one_of(NASTY, st.text(max_size=4)), min_size=1, max_size=6).map("".join)


def _module(
    pipeline: str, task: str, source: str, output: str, bucket: str, prefix: str, table: str
) -> str:
    return f"""\
from glacier import Database, Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name={pipeline!r}, description={prefix!r})
src = Dataset(name={source!r}, storage=ObjectStorage(bucket={bucket!r}, prefix={prefix!r}))
out = Dataset(name={output!r}, storage=Database(table={table!r}))


@pipeline.task(name={task!r})
def work(values: src) -> out:
    return values
"""


def _literal(tree: ast.Module, name: str) -> object:
    for node in tree.body:
        target = node.target if isinstance(node, ast.AnnAssign) else None
        if isinstance(node, ast.Assign):
            target = node.targets[0]
        if isinstance(target, ast.Name) and target.id == name:
            return ast.literal_eval(node.value)
    raise AssertionError(f"{name} not found")


def _dot_labels(text: str) -> tuple[str, list[str]]:
    """The graph's quoted name and every node ``label``, unescaped (``\\n`` is a newline)."""
    quoted = r'"((?:[^"\\]|\\.)*)"'
    (title,) = re.findall(r"^digraph " + quoted + " {$", text, flags=re.MULTILINE | re.DOTALL)
    labels = re.findall(r"\[label=" + quoted + ", ", text, flags=re.DOTALL)

    def unescape(value: str) -> str:
        return re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value, flags=re.DOTALL)

    return unescape(title), [unescape(label) for label in labels]


def _mermaid_labels(text: str) -> set[str]:
    labels = re.findall(r'^\s+\w+(?:\[\(|\[|\()"([^"]*)"', text, flags=re.MULTILINE)
    return {re.sub(r"#(\d+);", lambda m: chr(int(m.group(1))), label) for label in labels}


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    pipeline=TEXT,
    task=TEXT,
    source=TEXT,
    output=TEXT,
    bucket=TEXT,
    prefix=TEXT,
    table=TEXT,
)
def test_names_and_storage_strings_reach_artifacts_exactly(
    pipeline: str, task: str, source: str, output: str, bucket: str, prefix: str, table: str
) -> None:
    _check(pipeline, task, source, output, bucket, prefix, table, must_build=False)


def test_hostile_names_that_are_valid_are_built_exactly() -> None:
    """Not vacuous: these names are all legal, so artifacts must come out and carry them."""
    _check(
        pipeline="p\"'\\\n{{ x }}{% if %}#%%-->",
        task="class",
        source="src\r\n\u2028日本 é",
        output='"""; import os  # {{',
        bucket="b\\'\"}}",
        prefix="<br>&amp;\x00",
        table='t"; DROP TABLE x; --',
        must_build=True,
    )


def _check(
    pipeline: str,
    task: str,
    source: str,
    output: str,
    bucket: str,
    prefix: str,
    table: str,
    *,
    must_build: bool,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "pyproject.toml").write_text("[project]\nname = 'x'\n")
        module = root / "fixture.py"
        module.write_text(_module(pipeline, task, source, output, bucket, prefix, table))
        analysis = analyze([str(module)])
        errors = [d for d in analysis.diagnostics if d.severity == "error"]
        if errors and not must_build:
            return  # a diagnostic is an acceptable answer
        assert not errors
        assert len(analysis.pipelines) == 1
        artifacts, clashes = build_artifacts(
            analysis.pipelines,
            analysis.modules,
            out_dir=str(root / "build"),
            version=glacier.__version__,
            targets=(),
        )
        assert not clashes
        (art,) = artifacts
        assert "/" not in art.dir_name and art.dir_name not in ("", ".", "..")
        files = {k: v.decode("utf-8") for k, v in art.files.items()}

        manifest = json.loads(files["manifest.json"])
        assert manifest["pipeline"]["name"] == pipeline
        assert manifest["pipeline"]["description"] == prefix
        assert [t["name"] for t in manifest["tasks"]] == [task]
        datasets = {d["name"]: d for d in manifest["datasets"]}
        assert set(datasets) == {source, output}
        assert datasets[source]["storage"]["bucket"] == bucket
        assert datasets[source]["storage"].get("prefix", "") == prefix
        assert datasets[output]["storage"]["table"] == table

        runner = ast.parse(files["run_local.py"])
        compile(runner, "run_local.py", "exec")
        assert _literal(runner, "PIPELINE") == pipeline
        (spec,) = _literal(runner, "TASKS")
        assert spec["name"] == task
        assert spec["inputs"] == [("values", source)]
        assert spec["outputs"] == [output]
        storages = _literal(runner, "DATASETS")
        assert storages[output] == {"kind": "database", "table": table}
        assert storages[source]["bucket"] == bucket
        assert storages[source].get("prefix", "") == prefix
        # the header comment cannot be broken out of
        for line in files["run_local.py"].splitlines()[:3]:
            assert line.startswith("#")

        graph = files["graph.mmd"]
        assert _mermaid_labels(graph) == {task, source, output}
        assert all(line.startswith(("%%", "flowchart", "    ")) for line in graph.splitlines())

        # `glacier graph`'s other formats carry the exact names too
        (model,) = analysis.pipelines
        dot = emit_dot(model, source_file=model.span.file)
        assert dot.startswith("// Generated by `glacier build` from ")
        assert dot.split("\n", 1)[0].count("\n") == 0  # the header comment stays one line
        title, labels = _dot_labels(dot)
        assert title == pipeline
        assert sorted(labels) == sorted([task, source, output])
        data = json.loads(emit_graph_json(model))
        assert {n["name"] for n in data["nodes"]} == {task, source, output}
