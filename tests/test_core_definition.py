"""Definition-time behaviour of the core API: the DAG from annotations, and its errors."""

from __future__ import annotations

import re
import textwrap
from pathlib import Path
from typing import Any

import pytest

from glacier import Container, Dataset, Pipeline, Serverless
from glacier.errors import (
    CycleError,
    DuplicateDatasetError,
    DuplicateProducerError,
    DuplicateTaskError,
    MissingAnnotationError,
    NotADatasetError,
    UsageError,
)

raw = Dataset(name="raw")
clean = Dataset[list[int]](name="clean")
extra = Dataset(name="extra")


def test_inputs_outputs_and_sinks() -> None:
    p = Pipeline(name="p")

    @p.task()
    def extract() -> raw:
        return [1]

    @p.task(name="split")
    def transform(data: raw, factor: int = 2) -> tuple[clean, extra]:
        return data, factor

    @p.task()
    def sink(a: clean, b: extra) -> None:
        pass

    assert [t.name for t in p.tasks] == ["extract", "split", "sink"]
    split = p.tasks[1]
    assert split.inputs == (("data", raw),)
    assert split.outputs == (clean, extra)
    assert split.returns_tuple
    assert p.tasks[2].outputs == ()
    assert p.producer(clean) is split
    assert p.producer("raw") is p.tasks[0]
    assert p.sources() == ()
    # the decorator returns the function unchanged
    assert transform([3], 1) == ([3], 1)


def test_task_options_are_kept() -> None:
    p = Pipeline(name="p", schedule="rate(1 hour)", description="d")

    @p.task(retries=3, timeout=5, compute=Container(image="x", cpu=512, memory_mb=1024))
    def one() -> raw:
        return 1

    task = p.tasks[0]
    assert (task.retries, task.timeout, task.compute) == (3, 5, Container("x", 512, 1024))
    assert (p.schedule, p.description) == ("rate(1 hour)", "d")


def _define(tmp_path: Path, source: str) -> dict[str, Any]:
    """Execute a fixture module the way Python would, returning its namespace."""
    path = tmp_path / "mod.py"
    path.write_text(textwrap.dedent(source))
    namespace: dict[str, Any] = {"__name__": "mod", "__file__": str(path)}
    exec(compile(path.read_text(), str(path), "exec"), namespace)  # noqa: S102 - the runtime path
    return namespace


def test_future_annotations_resolve_in_function_globals(tmp_path: Path) -> None:
    ns = _define(
        tmp_path,
        """
        from __future__ import annotations
        from glacier import Dataset, Pipeline
        pipeline = Pipeline(name="p")
        raw = Dataset[dict[str, int]](name="raw")
        out = Dataset(name="out")

        @pipeline.task()
        def t(data: raw) -> out:
            return data
        """,
    )
    (task,) = ns["pipeline"].tasks
    assert task.inputs == (("data", ns["raw"]),)
    assert task.outputs == (ns["out"],)


@pytest.mark.parametrize(
    ("body", "error", "message"),
    [
        (
            "def t(data) -> raw: ...",
            MissingAnnotationError,
            (
                "function `t`: parameter `data` of task `t` has no dataset annotation; annotate it with "
                "the dataset it reads (`data: raw`) or give it a default"
            ),
        ),
        (
            "def t(data: int) -> raw: ...",
            NotADatasetError,
            (
                "function `t`: the annotation of parameter `data` of task `t` is `int`, which is "
                "not a dataset; annotate it with the dataset it reads, or give it a default if "
                "it is not an input"
            ),
        ),
        (
            "def t() -> int: ...",
            NotADatasetError,
            "function `t`: the return annotation of task `t` is `int`, which is not a dataset",
        ),
        (
            "def t(): ...",
            MissingAnnotationError,
            "function `t`: task `t` has no return annotation; write `-> dataset`",
        ),
        (
            "def t(data: list[raw]) -> None: ...",
            NotADatasetError,
            (
                "parameter `data` of task `t` puts dataset `raw` inside `list[raw]`; annotate with the "
                "dataset itself (`raw`)"
            ),
        ),
        (
            "def t(data: Optional[raw]) -> None: ...",
            NotADatasetError,
            "parameter `data` of task `t` puts dataset `raw` inside `Optional[raw]`",
        ),
        (
            "def t(data: Dataset) -> None: ...",
            NotADatasetError,
            "parameter `data` of task `t` is the `Dataset` class, not a dataset",
        ),
        (
            "def t(data: undefined_name) -> None: ...",
            NotADatasetError,
            "parameter `data` names `undefined_name`, which is not defined",
        ),
        (
            "def t() -> tuple[raw]: ...",
            NotADatasetError,
            (
                "function `t`: the return annotation of task `t` is `tuple[raw]`, which is not a "
                "dataset; a task with one output returns it directly: write `-> raw`"
            ),
        ),
        (
            "def t(data: raw) -> raw: ...",
            CycleError,
            "the tasks of pipeline `p` form a cycle: `t` -> `raw` -> `t`",
        ),
    ],
)
def test_definition_errors(tmp_path: Path, body: str, error: type[Exception], message: str) -> None:
    source = (
        "from __future__ import annotations\n"
        "from typing import Optional\n"
        "from glacier import Dataset, Pipeline\n"
        "pipeline = Pipeline(name='p')\n"
        "raw = Dataset(name='raw')\n"
        "@pipeline.task()\n" + body + "\n"
    )
    with pytest.raises(error, match=re.escape(message)):
        _define(tmp_path, source)


def test_default_makes_a_plain_parameter_fine() -> None:
    p = Pipeline(name="p")

    @p.task()
    def t(data: raw, limit: int = 3, other=None) -> None:  # type: ignore[no-untyped-def]
        pass

    assert p.tasks[0].inputs == (("data", raw),)


def test_dataset_produced_by_two_tasks() -> None:
    p = Pipeline(name="p")

    @p.task()
    def first() -> raw: ...

    with pytest.raises(
        DuplicateProducerError,
        match=re.escape(
            "function `test_dataset_produced_by_two_tasks.<locals>.second`: dataset `raw` is "
            "produced by task `second` and by task `first` (tests/test_core_definition.py:"
        ),
    ):

        @p.task()
        def second() -> raw: ...


def test_duplicate_task_name() -> None:
    p = Pipeline(name="p")

    @p.task(name="same")
    def a() -> raw: ...

    with pytest.raises(DuplicateTaskError, match="already has a task named `same`"):

        @p.task(name="same")
        def b() -> clean: ...


def test_two_datasets_with_one_name() -> None:
    p = Pipeline(name="p")
    twin = Dataset(name="raw")

    @p.task()
    def a() -> raw: ...

    with pytest.raises(DuplicateDatasetError, match="two different datasets .* named `raw`"):

        @p.task()
        def b(x: twin) -> None: ...


def test_cycle_lists_every_task_and_dataset() -> None:
    p = Pipeline(name="p")
    a_out, b_out, c_out = Dataset(name="a_out"), Dataset(name="b_out"), Dataset(name="c_out")

    @p.task()
    def a(x: c_out) -> a_out: ...

    @p.task()
    def b(x: a_out) -> b_out: ...

    with pytest.raises(CycleError) as info:

        @p.task()
        def c(x: b_out) -> c_out: ...

    assert info.value.cycle == ("c", "c_out", "a", "a_out", "b", "b_out", "c")
    assert "`c` -> `c_out` -> `a` -> `a_out` -> `b` -> `b_out` -> `c`" in str(info.value)
    assert [t.name for t in p.tasks] == ["a", "b"]  # the failing task was not registered


def test_usage_errors() -> None:
    p = Pipeline(name="p")
    with pytest.raises(UsageError, match="parentheses"):
        p.task(lambda: None)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="retries"):
        p.task(retries=-1)
    with pytest.raises(UsageError, match="retries must be a non-negative integer, got True"):
        p.task(retries=True)
    for timeout in (0, -1.5, "5", float("nan"), True):
        with pytest.raises(UsageError, match="timeout must be a positive number of seconds"):
            p.task(timeout=timeout)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="compute"):
        p.task(compute="lambda")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="copy must be True or False, got 0"):
        Dataset(name="d", copy=0)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="check_payloads must be True or False, got 'no'"):
        Pipeline(name="q", check_payloads="no")  # type: ignore[arg-type]
    for delay in (-1, "2", True, float("nan")):
        with pytest.raises(UsageError, match="retry_delay_s must be a non-negative number"):
            p.task(retries=1, retry_delay_s=delay)  # type: ignore[arg-type]
    for backoff in (0.5, 0, "2", False):
        with pytest.raises(UsageError, match="backoff must be a number of at least 1"):
            p.task(retries=1, backoff=backoff)  # type: ignore[arg-type]
    for retry_on in ((), ("TimeoutError",), (TimeoutError, 3), [TimeoutError], KeyboardInterrupt):
        with pytest.raises(UsageError, match="retry_on must be an exception class or a tuple"):
            p.task(retries=1, retry_on=retry_on)  # type: ignore[arg-type]


def test_retry_options_reach_the_task_and_the_model() -> None:
    p = Pipeline(name="p")
    out, other = Dataset("out"), Dataset("other")

    @p.task(retries=3, retry_delay_s=0.5, backoff=3, retry_on=(TimeoutError, ConnectionError))
    def fetch() -> out:
        return 1

    @p.task(retries=1, retry_on=OSError)
    def plain() -> other:
        return 2

    tasks = {t.name: t for t in p.tasks}
    assert (tasks["fetch"].retry_delay_s, tasks["fetch"].backoff) == (0.5, 3.0)
    assert tasks["fetch"].retry_on == (TimeoutError, ConnectionError)
    model = {t.name: t for t in p.to_model().tasks}
    assert (model["fetch"].retry_delay_s, model["fetch"].backoff) == (0.5, 3.0)
    assert model["fetch"].retry_on == ("TimeoutError", "ConnectionError")
    # defaults: the deployed state machine's IntervalSeconds and BackoffRate
    assert (model["plain"].retry_delay_s, model["plain"].backoff) == (2.0, 2.0)
    assert model["plain"].retry_on == ("OSError",)
    with pytest.raises(TypeError, match="Dataset name"):
        Dataset(name="")
    with pytest.raises(ValueError, match=r"128\.\.10240 MB"):
        Serverless(memory_mb=0)
