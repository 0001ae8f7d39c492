"""One rule, one wording: the runtime, the analyzer and the mypy plugin say the same words.

Each case below is a module that breaks one rule of ``glacier.messages``. It is run on every
path that reports the rule: executed (the runtime's exception is ``<where>: <message>;
<hint>``), analysed (the diagnostic's message and hint) and type-checked by a real mypy run
with the plugin (the error and its note). Each path must give exactly the catalogue's text.
"""

from __future__ import annotations

import contextlib
import runpy
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from mypy import api

from analyzer import analyze
from glacier import messages
from glacier.errors import DefinitionError

ROOT = Path(__file__).resolve().parent.parent

HEADER = """\
from glacier import Dataset, Pipeline

pipeline = Pipeline(name="p")
raw = Dataset[int](name="raw")
clean = Dataset[int](name="clean")

"""
HEADER_LINES = HEADER.count("\n")

MYPY_CONFIG = f"""\
[mypy]
plugins = glacier.mypy
mypy_path = {ROOT}

[mypy-glacier.*]
follow_imports = silent
"""


@dataclass(frozen=True)
class Case:
    """A module breaking one rule: the rule, its analyzer code, and the fields of its words."""

    name: str
    body: str
    message: messages.Message
    code: str
    fields: dict[str, Any]
    mypy: bool = True  # the plugin reports it too
    # fields that are a location, as ``file:line:column`` of a line of ``body`` (1-based)
    at_line: dict[str, int] = field(default_factory=dict)
    # a dataset nested in a type: only a string annotation tells the runtime how it is written
    future: bool = False

    def source(self) -> str:
        future = "from __future__ import annotations\n" if self.future else ""
        return future + HEADER + self.body

    def words(self) -> dict[str, Any]:
        located = {
            key: f"{self.name}.py:{HEADER_LINES + line}:{_column(self.body, line)}"
            for key, line in self.at_line.items()
        }
        return {**self.fields, **located}

    def text(self) -> str:
        return self.message.text(**self.words())

    def hint(self) -> str:
        return self.message.hint_text(**self.words())


def _column(body: str, line: int) -> int:
    text = body.splitlines()[line - 1]
    return len(text) - len(text.lstrip()) + 1


def _task(signature: str) -> str:
    return f"@pipeline.task()\ndef {signature}:\n    raise NotImplementedError\n"


CASES = [
    Case(
        "missing_annotation",
        _task("t(data, limit: int = 1) -> clean"),
        messages.MISSING_ANNOTATION,
        "GLC201",
        {"param": "data", "task": "t"},
    ),
    Case(
        "missing_return",
        _task("t(data: raw)"),
        messages.MISSING_RETURN_ANNOTATION,
        "GLC202",
        {"task": "t"},
    ),
    Case(
        "parameter_not_a_dataset",
        _task("t(data: int) -> clean"),
        messages.NOT_A_DATASET,
        "GLC203",
        {
            "what": messages.parameter_annotation("data"),
            "task": "t",
            "annotation": "int",
            "advice": messages.PARAMETER_ADVICE,
        },
    ),
    Case(
        "return_not_a_dataset",
        _task("t(data: raw) -> int"),
        messages.NOT_A_DATASET,
        "GLC203",
        {
            "what": messages.RETURN_ANNOTATION,
            "task": "t",
            "annotation": "int",
            "advice": messages.RETURN_ADVICE,
        },
    ),
    Case(
        "tuple_of_one",
        _task("t(data: raw) -> tuple[clean]"),
        messages.NOT_A_DATASET,
        "GLC203",
        {
            "what": messages.RETURN_ANNOTATION,
            "task": "t",
            "annotation": "tuple[clean]",
            "advice": messages.ONE_OUTPUT_ADVICE.format(item="clean"),
        },
    ),
    Case(
        "dataset_class",
        _task("t(data: Dataset) -> clean"),
        messages.DATASET_CLASS,
        "GLC205",
        {"what": messages.parameter_annotation("data"), "task": "t"},
    ),
    Case(
        "duplicate_output",
        _task("t(data: raw) -> tuple[clean, clean]"),
        messages.DUPLICATE_OUTPUT,
        "GLC206",
        {"dataset": "clean", "task": "t"},
    ),
    Case(
        "duplicate_producer",
        _task("first(data: raw) -> clean") + "\n\n" + _task("second(data: raw) -> clean"),
        messages.DUPLICATE_PRODUCER,
        "GLC103",
        {"dataset": "clean", "task": "second", "other": "first"},
        at_line={"where": 2},
    ),
    # the rules below need a whole pipeline, or (a nested dataset) the mypy plugin reports a
    # wider rule at every annotation, before it knows whether the annotation is a task's
    Case(
        "nested_dataset",
        "from typing import Optional\n\n" + _task("t(data: Optional[raw]) -> clean"),
        messages.NESTED_DATASET,
        "GLC204",
        {
            "what": messages.parameter_annotation("data"),
            "task": "t",
            "dataset": "raw",
            "annotation": "Optional[raw]",
        },
        mypy=False,
        future=True,
    ),
    Case(
        "duplicate_task",
        _task("first(data: raw) -> clean") + '\n\n@pipeline.task(name="first")\n'
        "def second(data: clean) -> None:\n    raise NotImplementedError\n",
        messages.DUPLICATE_TASK,
        "GLC104",
        {"pipeline": "p", "task": "first", "variable": "pipeline"},
        mypy=False,
        at_line={"where": 2},
    ),
    Case(
        "duplicate_dataset",
        'twin = Dataset[int](name="raw")\n\n\n'
        + _task("first(data: raw) -> clean")
        + "\n\n"
        + _task("second(data: twin) -> None"),
        messages.DUPLICATE_DATASET,
        "GLC105",
        # the other one: `raw` of the header, where the runtime registers it first too
        {"pipeline": "p", "dataset": "raw", "where": "duplicate_dataset.py:4:7"},
        mypy=False,
    ),
]


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Every case as a module of one project (a ``pyproject.toml`` marks its root)."""
    root = tmp_path_factory.mktemp("messages")
    (root / "pyproject.toml").write_text("")
    for case in CASES:
        (root / f"{case.name}.py").write_text(case.source())
    return root


@pytest.fixture(scope="module")
def mypy_output(project: Path) -> Iterator[str]:
    """One mypy run over every case that the plugin reports."""
    (project / "mypy.ini").write_text(MYPY_CONFIG)
    files = [f"{case.name}.py" for case in CASES if case.mypy]
    with contextlib.chdir(project):
        stdout, stderr, _ = api.run(["--config-file", "mypy.ini", "--no-incremental", *files])
    assert stderr == ""
    yield stdout


def _ids(cases: list[Case]) -> list[str]:
    return [case.name for case in cases]


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_runtime_raises_the_catalogue_words(project: Path, case: Case) -> None:
    with pytest.raises(DefinitionError) as raised:
        runpy.run_path(str(project / f"{case.name}.py"))
    # `function `t`: <message>; <hint>`
    assert str(raised.value).split(": ", 1)[1] == f"{case.text()}; {case.hint()}"


@pytest.mark.parametrize("case", CASES, ids=_ids(CASES))
def test_analyzer_reports_the_catalogue_words(project: Path, case: Case) -> None:
    analysis = analyze([project / f"{case.name}.py"], root=str(project))
    found = [(d.code, d.message, d.hint) for d in analysis.diagnostics if d.code == case.code]
    assert found == [(case.code, case.text(), case.hint())]


MYPY_CASES = [case for case in CASES if case.mypy]


@pytest.mark.parametrize("case", MYPY_CASES, ids=_ids(MYPY_CASES))
def test_mypy_plugin_reports_the_catalogue_words(mypy_output: str, case: Case) -> None:
    mine = [line for line in mypy_output.splitlines() if line.startswith(f"{case.name}.py:")]
    errors = [line.split(": error: ", 1)[1] for line in mine if ": error: " in line]
    notes = [line.split(": note: ", 1)[1] for line in mine if ": note: " in line]
    code = "glacier-edge" if case.code in ("GLC103", "GLC206") else "glacier-dataset"
    assert f"{case.text()}  [{code}]" in errors
    assert case.hint() in notes
