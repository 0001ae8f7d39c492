"""The static path on fixture modules: name resolution, the model, diagnostics, statement kinds."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from analyzer import Analysis, ModuleInfo, analyze

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures" / "analyzer"
VALID = FIXTURES / "valid"
INVALID = FIXTURES / "invalid"
EXAMPLES = ROOT / "examples"


def codes(analysis: Analysis) -> list[str]:
    return [d.code for d in analysis.diagnostics]


def kinds(module: ModuleInfo) -> dict[str, str]:
    """Statement kind by the first name each statement defines (or its first line)."""
    return {
        (s.defines[0] if s.defines else f"line {s.start_line}"): s.kind for s in module.statements
    }


# -- name resolution and the model --------------------------------------------------------------


def test_aliases_resolve_through_every_spelling() -> None:
    analysis = analyze([VALID / "aliases.py"])
    assert codes(analysis) == []
    (model,) = analysis.pipelines
    assert (model.name, model.schedule, model.description) == (
        "aliases",
        "rate(1 hour)",
        "names through aliases",
    )
    assert model.variable == "pipeline"
    raw = model.dataset("raw")
    assert raw.payload == "list[dict[str, int]]"
    assert raw.variable == "raw"  # `alias = raw` comes later: the first name wins
    assert raw.storage is not None
    assert (raw.storage.kind, raw.storage.bucket, raw.storage.prefix, raw.storage.format) == (
        "object",
        "alias-data",
        "in",
        "json",
    )
    assert (raw.storage.variable, raw.storage.module) == ("landing", "aliases")
    assert model.dataset("scores").payload == "dict[str, float]"  # from `x: Dataset[T] = ...`
    assert model.dataset("left").payload is None
    split = model.task("split_scores")
    assert split.function == "split"
    assert [i.param for i in split.inputs] == ["s"]  # defaults and *args/**kwargs are not inputs
    assert split.outputs == ("left", "right")
    assert split.compute is not None and split.compute.kind == "container"
    assert split.timeout == 30.0
    assert model.task("score").compute.memory_mb == 256  # type: ignore[union-attr]
    assert model.task("sink").outputs == ()
    table = model.dataset("table").storage
    assert table is not None and (table.kind, table.table) == ("database", "scores_table")


def test_multi_module_package_with_relative_imports_and_reexports() -> None:
    analysis = analyze([VALID / "shop"])
    assert codes(analysis) == []
    (model,) = analysis.pipelines
    assert model.module == "shop.pipeline"
    assert {t.name: t.module for t in model.tasks} == {
        "validate": "shop.tasks",
        "total": "shop.tasks",
        "write_report": "shop.reports",
    }
    assert model.task("validate").inputs[0].dataset == "orders"  # `datasets.orders`
    assert model.task("total").outputs == ("totals",)  # `from .datasets import totals as T`
    assert {i.dataset for i in model.task("write_report").inputs} == {"totals", "orders"}
    assert model.sources() == ("orders",)
    assert set(analysis.modules) == {
        "shop",
        "shop.datasets",
        "shop.pipeline",
        "shop.tasks",
        "shop.reports",
    }


def test_one_module_of_a_package_brings_in_the_package() -> None:
    """Python imports parent packages first; so does the analyzer (the tasks live elsewhere)."""
    analysis = analyze([VALID / "shop" / "pipeline.py"])
    assert codes(analysis) == []
    assert {t.name for t in analysis.pipelines[0].tasks} == {"validate", "total", "write_report"}


def test_environments_and_their_storage() -> None:
    analysis = analyze([VALID / "envs.py"])
    assert codes(analysis) == []
    (model,) = analysis.pipelines
    assert [e.name for e in model.environments] == ["dev", "prod", "unused"]
    prod = model.environments[1]
    assert prod.tags == (("cost", "42"), ("team", "data"))
    assert (prod.account, prod.region, prod.variable) == ("123456789012", "eu-west-1", "prod")
    events = model.dataset("events").storage
    assert events is not None
    assert (events.kind, events.bucket, events.environment, events.variable) == (
        "s3",
        "prod-lake",
        "prod",
        "lake",  # `also_lake = lake`: the first name bound to the same object
    )
    facts = model.dataset("facts").storage
    assert facts is not None and (facts.kind, facts.name) == ("rds", "prod-warehouse")


def test_existing_storage_is_read_from_the_literal_keyword() -> None:
    analysis = analyze([VALID / "existing.py"])
    assert codes(analysis) == []
    (model,) = analysis.pipelines
    storages = {d.name: d.storage for d in model.datasets}
    found = {name: (s.kind, s.bucket, s.existing) for name, s in storages.items() if s}
    assert found == {
        "drops": ("object", "partner-landing", True),
        "history": ("s3", "partner-archive", True),  # through the constant `OWNED_ELSEWHERE`
        "merged": ("s3", "prod-lake", False),
        "published": ("object", "prod-published", False),
    }


def test_raw_pulumi_resources_as_storage() -> None:
    analysis = analyze([VALID / "pulumi_storage.py"])
    assert codes(analysis) == []
    storages = {d.name: d.storage for d in analysis.pipelines[0].datasets}
    assert {k: (s.kind, s.resource, s.name) for k, s in storages.items() if s} == {
        "a": ("pulumi", "pulumi_aws.s3.Bucket", "first-bucket"),
        "b": ("pulumi", "pulumi_aws.s3.Bucket", "second-bucket"),
        "c": ("pulumi", "pulumi_aws.s3.Bucket", "third-bucket"),
    }


def test_examples_are_clean_apart_from_documented_warnings() -> None:
    analysis = analyze([EXAMPLES])
    assert [d for d in analysis.diagnostics if d.severity == "error"] == []
    assert {p.name for p in analysis.pipelines} >= {"etl", "sales", "archive", "orders"}


# -- nothing is executed ------------------------------------------------------------------------


def test_analysis_never_executes_the_module(tmp_path: Path) -> None:
    module = VALID / "writes_file.py"
    marker = module.with_name("EXECUTED.txt")
    marker.unlink(missing_ok=True)
    before = set(sys.modules)
    analysis = analyze([module])
    assert not marker.exists()
    assert "writes_file" not in sys.modules
    assert analysis.pipelines[0].name == "side_effects"
    assert not any(name.startswith(("pulumi", "libcst")) for name in set(sys.modules) - before)


# -- diagnostics on fixtures --------------------------------------------------------------------


def test_cycle_across_modules_names_every_task_and_dataset_with_locations() -> None:
    analysis = analyze([INVALID / "loop"])
    (cycle,) = analysis.diagnostics
    assert cycle.code == "GLC101"
    assert cycle.path == "tests/fixtures/analyzer/invalid/loop/stage_a.py"
    base = "tests/fixtures/analyzer/invalid/loop"
    for part in (
        f"task `start` ({base}/stage_a.py:6:1)",
        f"dataset `x` ({base}/datasets.py:3:5)",
        f"task `middle` ({base}/stage_b.py:6:1)",
        f"dataset `y` ({base}/datasets.py:4:5)",
        f"task `finish` ({base}/stage_b.py:11:1)",
        f"dataset `z` ({base}/datasets.py:5:5)",
    ):
        assert part in cycle.message


def test_circular_imports_between_modules_are_followed() -> None:
    analysis = analyze([INVALID / "circular" / "a.py", INVALID / "circular" / "b.py"])
    assert codes(analysis) == []
    assert analysis.pipelines[0].task("copy").inputs[0].dataset == "raw"


def test_missing_project_module_is_reported_where_it_is_imported() -> None:
    analysis = analyze([INVALID / "missing_mod"])
    assert [(d.code, d.line) for d in analysis.diagnostics] == [("GLC003", 3)]
    assert "`missing_mod.nowhere`" in analysis.diagnostics[0].message


def test_third_party_imports_are_not_reported(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text(
        "import pandas as pd\nfrom somewhere.deep import thing\n"
        "from glacier import Dataset, Pipeline, ObjectStorage\n"
        "p = Pipeline(name='p')\nraw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"
        "@p.task()\ndef t(d: raw, n: pd.DataFrame = None) -> None: ...\n"
    )
    assert codes(analyze([tmp_path / "m.py"])) == []


def test_datasets_the_analyzer_cannot_follow_say_so(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text(
        "from glacier import Dataset, Pipeline\n"
        "p = Pipeline(name='p')\n"
        "def make(name):\n    return Dataset(name=name)\n"
        "made = make('made')\n"
        "pair = (Dataset(name='a'), Dataset(name='b'))\n"
        "first, second = pair\n"
        "count: int\n"
        "@p.task()\ndef t(x: made, y: first, z: count) -> None: ...\n"
    )
    found = [(d.code, d.column) for d in analyze([tmp_path]).diagnostics]
    assert found == [("GLC005", 10), ("GLC005", 19), ("GLC203", 29)]


def test_the_hint_for_an_annotation_that_is_a_call_is_valid_python(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text(
        "from glacier import Dataset, ObjectStorage, Pipeline\np = Pipeline(name='p')\n"
        "raw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"
        "@p.task()\ndef t(x: raw) -> type(None): ...\n"
    )
    (diagnostic,) = analyze([tmp_path]).diagnostics
    assert diagnostic.code == "GLC005"
    assert diagnostic.hint is not None and "type(None) =" not in diagnostic.hint
    assert diagnostic.hint.endswith('`raw = Dataset(name="raw")`, then `raw`')


def test_a_tuple_of_one_dataset_is_not_an_output(tmp_path: Path) -> None:
    """As on the runtime path: one output is returned directly, not in a 1-tuple."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text(
        "from glacier import Dataset, Pipeline\np = Pipeline(name='p')\n"
        "a = Dataset(name='a')\n"
        "@p.task()\ndef t() -> tuple[a]: ...\n"
    )
    (diagnostic,) = analyze([tmp_path]).diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("GLC203", 5, 12)
    assert diagnostic.hint == "a task with one output returns it directly: write `-> a`"


def test_an_annotation_from_outside_the_project_cannot_be_followed(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text(
        "import pandas as pd\nfrom defs import raw\nfrom glacier import Pipeline\n"
        "p = Pipeline(name='p')\n"
        "@p.task()\ndef t(x: raw, frame: pd.DataFrame = None) -> None: ...\n"
    )
    (diagnostic,) = analyze([tmp_path]).diagnostics
    assert (diagnostic.code, diagnostic.line, diagnostic.column) == ("GLC005", 6, 10)
    assert "imported from `defs`, which is not a module of the project" in diagnostic.message


def test_many_problems_sorted_by_location() -> None:
    analysis = analyze([INVALID / "many.py"])
    found = [(d.line, d.code) for d in analysis.diagnostics]
    assert found == sorted(found)
    assert found == [
        (8, "GLC502"),
        (13, "GLC102"),
        (14, "GLC501"),
        (16, "GLC004"),
        (20, "GLC101"),
        (30, "GLC201"),
        (30, "GLC204"),
    ]  # line 15's GLC501 is suppressed by `# glacier: ignore[GLC501]`


def test_suppression_only_silences_the_named_codes(tmp_path: Path) -> None:
    source = (INVALID / "many.py").read_text().replace("ignore[GLC501]", "ignore[GLC101]")
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "many.py").write_text(source)
    assert ("GLC501", 15) in [(d.code, d.line) for d in analyze([tmp_path]).diagnostics]


def test_syntax_error_and_empty_files(tmp_path: Path) -> None:
    analysis = analyze([INVALID / "broken_syntax.py", INVALID / "empty.py"])
    assert [(d.code, d.line) for d in analysis.diagnostics] == [("GLC001", 5)]
    assert analysis.modules["broken_syntax"].statements == ()


def test_infrastructure_in_task_bodies() -> None:
    analysis = analyze([INVALID / "infra_task.py"])
    found = [(d.code, d.line, d.message) for d in analysis.diagnostics]
    assert [(c, line) for c, line, _ in found] == [("GLC401", 31), ("GLC401", 32)]
    assert "`prod`" in found[0][2] and "an `Environment`" in found[0][2]
    assert "`LOG_ARN`" in found[1][2]


INFRA_HEADER = (
    "import pulumi_aws as aws\n"
    "from glacier import Dataset, ObjectStorage, Pipeline\n"
    "bucket = aws.s3.Bucket('b')\n"
    "p = Pipeline(name='p')\n"
    "raw = Dataset(name='raw', storage=ObjectStorage(bucket='landing'))\n"
)


def test_infrastructure_hidden_by_a_nested_scope_is_still_found(tmp_path: Path) -> None:
    """A name bound in a comprehension, a nested def or a lambda is local there only."""
    (tmp_path / "pyproject.toml").write_text("")
    tasks = (
        "@p.task()\n"
        "def hidden(data: raw) -> None:\n"  # line 7
        "    print([bucket for bucket in data], lambda bucket: bucket)\n"
        "    def helper(bucket):\n"
        "        return bucket\n"
        "    print(bucket.arn)\n"  # line 11: the module's resource
        "@p.task()\n"
        "def local(data: raw) -> None:\n"
        "    print([bucket for bucket in data], lambda bucket: bucket)\n"
        "    class Holder:\n"
        "        bucket = 1\n"
        "    try:\n"
        "        pass\n"
        "    except ValueError as bucket:\n"
        "        print(bucket)\n"
        "    def inner():\n"
        "        nonlocal_use = [aws for aws in data]\n"
        "        return nonlocal_use\n"
        "    print(inner(), Holder)\n"
    )
    (tmp_path / "m.py").write_text(INFRA_HEADER + tasks)
    found = [(d.code, d.line, d.column) for d in analyze([tmp_path]).diagnostics]
    assert found == [("GLC401", 11, 11)]


def test_infrastructure_in_a_task_definition_is_found(tmp_path: Path) -> None:
    """Defaults, decorators and (unless postponed) annotations run when the `def` runs."""
    (tmp_path / "pyproject.toml").write_text("")
    tasks = (
        "@p.task()\n"
        "def default(data: raw, target=bucket) -> None: ...\n"  # line 7
        "@p.task()\n"
        "def annotated(data: raw, client: aws.s3.Bucket = None) -> None: ...\n"  # line 9
        "@p.task()\n"
        "def nested(data: raw) -> None:\n"
        "    def helper(b=bucket):\n"  # line 12: the default runs in the task
        "        return b\n"
        "    print(helper())\n"
    )
    (tmp_path / "m.py").write_text(INFRA_HEADER + tasks)
    found = [(d.code, d.line, d.column) for d in analyze([tmp_path]).diagnostics]
    assert found == [("GLC401", 7, 31), ("GLC401", 9, 34), ("GLC401", 12, 18)]
    postponed = "from __future__ import annotations\n" + (tmp_path / "m.py").read_text()
    (tmp_path / "m.py").write_text(postponed)
    found = [(d.code, d.line) for d in analyze([tmp_path]).diagnostics]
    assert found == [("GLC401", 8), ("GLC401", 13)]  # the annotation is never evaluated


# -- statement kinds (what code generation keeps, moves or drops) -------------------------------


def test_statement_kinds_of_the_infrastructure_fixture() -> None:
    module = analyze([INVALID / "infra_task.py"]).modules["infra_task"]
    assert kinds(module) == {
        "line 1": "task",  # the docstring
        "json": "task",
        "pulumi": "infrastructure",
        "aws": "infrastructure",
        "Dataset": "glacier",
        "Environment": "glacier",
        "prod": "infrastructure",
        "bucket": "infrastructure",
        "logs": "infrastructure",
        "LOG_ARN": "infrastructure",  # uses an infrastructure name
        "policy": "task",
        "bucket_arn": "infrastructure",  # a helper whose body uses one
        "line 22": "infrastructure",  # pulumi.export(...)
        "pipeline": "glacier",
        "raw": "glacier",
        "out": "glacier",
        "leak": "task",
        "fine": "task",
    }
    leak = next(s for s in module.statements if s.defines == ("leak",))
    assert (leak.start_line, leak.end_line, leak.task_decorators) == (29, 32, ((29, 29),))


def test_statement_kinds_across_modules_and_mixed_imports(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    pkg = tmp_path / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "infra.py").write_text(
        "from glacier_aws import Environment\n"
        "env = Environment(account='1', region='us-east-1', name='prod')\n"
        "bucket = env.s3(bucket='prod-bucket')\n"
        "REGION = 'us-east-1'\n"
    )
    (pkg / "datasets.py").write_text(
        "from glacier import Dataset\nfrom .infra import bucket\n"
        "raw = Dataset(name='raw', storage=bucket)\nout = Dataset(name='out', storage=bucket)\n"
    )
    (pkg / "flow.py").write_text(
        "# the pipeline\n"
        "from glacier import Pipeline\n"
        "from .datasets import raw, out\n"
        "from .infra import REGION, env\n"
        "from . import datasets\n"
        "\n"
        "pipeline = Pipeline(name='flow')\n"
        "\n"
        "# a task, with a comment attached\n"
        "@pipeline.task(\n"
        "    retries=1,\n"
        ")\n"
        "@staticmethod\n"
        "def copy(data: raw) -> datasets.out:\n"
        "    return data\n"
        "\n"
        "if __name__ == '__main__':\n"
        "    print(pipeline)\n"
    )
    analysis = analyze([pkg / "flow.py"])
    assert codes(analysis) == []
    flow = analysis.modules["pkg.flow"]
    statements = flow.statements
    assert [(s.kind, s.defines, s.drop_names) for s in statements] == [
        ("glacier", ("Pipeline",), ()),
        ("glacier", ("raw", "out"), ()),  # every name is a glacier declaration elsewhere
        ("task", ("REGION", "env"), ("env",)),  # a kept constant and an infrastructure name
        ("task", ("datasets",), ()),
        ("glacier", ("pipeline",), ()),
        ("task", ("copy",), ()),
        ("glacier", (), ()),  # uses the pipeline: dropped with it
    ]
    assert (statements[0].start_line, statements[0].end_line) == (1, 2)  # comment attached
    task = statements[5]
    assert (task.start_line, task.end_line, task.task_decorators) == (9, 15, ((10, 12),))
    infra = analysis.modules["pkg.infra"]
    assert [s.kind for s in infra.statements] == [
        "glacier",
        "infrastructure",
        "infrastructure",
        "task",
    ]
    assert analysis.pipelines[0].environments[0].name == "prod"  # referenced by storage


# -- discovery ----------------------------------------------------------------------------------


def test_tool_glacier_pipelines_and_exclude(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.glacier]\npipelines = ["flows"]\nexclude = ["flows/skip_*.py"]\n'
    )
    flows = tmp_path / "flows"
    flows.mkdir()
    good = "from glacier import Pipeline\np = Pipeline(name='{}')\n"
    (flows / "keep.py").write_text(good.format("keep"))
    (flows / "skip_me.py").write_text("this is not python(\n# glacier")
    (tmp_path / "elsewhere.py").write_text(good.format("elsewhere"))
    analysis = analyze([], root=str(tmp_path))
    assert [p.name for p in analysis.pipelines] == ["keep"]
    assert codes(analysis) == ["GLC502"]


def test_the_root_is_the_nearest_directory_with_pyproject_or_git(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    flows = tmp_path / "flows"
    flows.mkdir()
    (flows / "flow.py").write_text("from glacier import Pipeline\np = Pipeline(name='p')\n")
    analysis = analyze([flows / "flow.py"])
    assert analysis.root == str(tmp_path)
    assert [(d.code, d.path) for d in analysis.diagnostics] == [("GLC502", "flows/flow.py")]
    (flows / "pyproject.toml").write_text("")  # a nearer project inside the repository
    analysis = analyze([flows / "flow.py"])
    assert analysis.root == str(flows)
    assert [d.path for d in analysis.diagnostics] == ["flow.py"]


def test_files_that_do_not_mention_glacier_are_not_read(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "other.py").write_text("def broken(:\n")
    analysis = analyze([tmp_path])
    assert analysis.diagnostics == () and dict(analysis.modules) == {}


def test_a_task_module_that_never_spells_glacier_is_read(tmp_path: Path) -> None:
    """`@p.task` without the call (GLC207) in a module importing everything from the project."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "defs.py").write_text(
        "from glacier import Dataset, ObjectStorage, Pipeline\np = Pipeline(name='p')\n"
        "raw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"
    )
    (tmp_path / "tasks.py").write_text(
        "from defs import p, raw\n@p.task\ndef t(x: raw) -> None: ...\n"
    )
    (tmp_path / "other.py").write_text("from app.tasks import job\ndef broken(:\n")
    for paths in ([tmp_path], [tmp_path / "tasks.py"], [tmp_path / "defs.py"]):
        found = [(d.code, d.path) for d in analyze(paths).diagnostics]
        assert found == [("GLC502", "defs.py"), ("GLC207", "tasks.py")], paths


def test_a_changed_task_module_is_checked_with_its_whole_pipeline(tmp_path: Path) -> None:
    """What pre-commit passes: one file. Its pipeline's other modules are found and read."""
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "defs.py").write_text(
        "from glacier import Dataset, Pipeline, ObjectStorage\n"
        "p = Pipeline(name='p')\n"
        "a = Dataset(name='a', storage=ObjectStorage(bucket='x'))\n"
        "b = Dataset(name='b')\nc = Dataset(name='c', storage=ObjectStorage(bucket='x'))\n"
    )
    (tmp_path / "first.py").write_text(
        "from defs import p, a, b\n@p.task()\ndef one(x: a) -> b:\n    return x\n"
    )
    (tmp_path / "second.py").write_text(
        "from defs import p, b, c\n@p.task()\ndef two(x: b) -> c:\n    return x\n"
    )
    analysis = analyze([tmp_path / "second.py"])
    assert codes(analysis) == []  # `b` is produced in first.py: no GLC102
    assert {t.name for t in analysis.pipelines[0].tasks} == {"one", "two"}
    # a changed helper that does not mention glacier still brings in the pipelines using it
    (tmp_path / "names.py").write_text("B = 'b'\n")
    (tmp_path / "third.py").write_text(
        "from names import B\nfrom glacier import Dataset, Pipeline\n"
        "q = Pipeline(name='q')\nx = Dataset(name=B)\n@q.task()\ndef uses(d: x) -> None: ...\n"
    )
    analysis = analyze([tmp_path / "names.py"])
    assert [p.name for p in analysis.pipelines] == ["q"]
    assert codes(analysis) == ["GLC102"]


@pytest.mark.parametrize("ext", ["py"])
def test_module_info_paths(ext: str) -> None:
    analysis = analyze([VALID / f"aliases.{ext}"])
    info = analysis.modules["aliases"]
    assert info.file == "tests/fixtures/analyzer/valid/aliases.py"
    assert info.path == str(VALID / "aliases.py")
    assert info.source == (VALID / "aliases.py").read_text()
    assert analysis.root == str(ROOT)


def test_retry_options_are_read_and_checked(tmp_path: Path) -> None:
    (tmp_path / "errors.py").write_text("class Flaky(Exception):\n    pass\n")
    source = (
        "import socket\n"
        "from errors import Flaky as Renamed\n"
        "from glacier import Dataset, ObjectStorage, Pipeline\n"
        "p = Pipeline(name='p')\n"
        "s = ObjectStorage(bucket='b')\n"
        "a = Dataset(name='a', storage=s)\n"
        "b = Dataset(name='b', storage=s)\n"
        "c = Dataset(name='c', storage=s)\n"
        "TRANSIENT = (TimeoutError, OSError)\n"
        "@p.task(retries=2, retry_delay_s=0.5, backoff=3, retry_on=(socket.timeout, Renamed))\n"
        "def one() -> a: ...\n"
        "@p.task(retries=2, retry_delay_s=-1, backoff=0.5, retry_on=TRANSIENT)\n"  # line 12
        "def two() -> b: ...\n"
        "@p.task(retries=2, retry_on=[TimeoutError])\n"  # line 14
        "def three() -> c: ...\n"
    )
    (tmp_path / "flow.py").write_text(source)
    analysis = analyze([tmp_path / "flow.py"])
    found = sorted((d.code, d.line, d.message.split("`")[1]) for d in analysis.diagnostics)
    assert found == [
        ("GLC208", 12, "backoff"),
        ("GLC208", 12, "retry_delay_s"),
        ("GLC208", 12, "retry_on"),  # a variable holding a tuple is not followed
        ("GLC208", 14, "retry_on"),  # a list
    ]
    hints = {d.hint for d in analysis.diagnostics}
    assert "name the classes in the decorator: `retry_on=(TimeoutError, ConnectionError)`" in hints


def test_retry_options_of_a_valid_task_reach_the_model(tmp_path: Path) -> None:
    (tmp_path / "errors.py").write_text("class Flaky(Exception):\n    pass\n")
    (tmp_path / "flow.py").write_text(
        "import socket\n"
        "from errors import Flaky as Renamed\n"
        "from glacier import Dataset, ObjectStorage, Pipeline\n"
        "p = Pipeline(name='p')\n"
        "a = Dataset(name='a', storage=ObjectStorage(bucket='b'))\n"
        "@p.task(retries=2, retry_delay_s=0.5, backoff=3, retry_on=(socket.gaierror, Renamed))\n"
        "def one() -> a: ...\n"
    )
    analysis = analyze([tmp_path / "flow.py"])
    assert codes(analysis) == []
    (task,) = analysis.pipelines[0].tasks
    # library classes by their own name, project classes through the import chain
    assert (task.retry_delay_s, task.backoff, task.retry_on) == (0.5, 3.0, ("gaierror", "Flaky"))


def test_check_payloads_of_a_pipeline_is_read_and_checked(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from glacier import Dataset, Pipeline\n"
        "FLAG = False\n"
        "p = Pipeline(name='p', check_payloads=False)\n"
        "q = Pipeline(name='q', check_payloads=FLAG)\n"
        "r = Pipeline(name='r', check_payloads='no')\n"  # line 5
        "s = Pipeline(name='s', check_payloads=bool(FLAG))\n"  # line 6
        "a, b, c, d = Dataset(name='a'), Dataset(name='b'), Dataset(name='c'), Dataset(name='d')\n"
        "@p.task()\ndef one() -> a: ...\n"
        "@q.task()\ndef two() -> b: ...\n"
        "@r.task()\ndef three() -> c: ...\n"
        "@s.task()\ndef four() -> d: ...\n"
    )
    analysis = analyze([flow])
    checks = {m.name: m.check_payloads for m in analysis.pipelines}
    assert checks == {"p": False, "q": False, "r": True, "s": True}
    found = {(d.code, d.line) for d in analysis.diagnostics if d.code != "GLC501"}
    assert found == {("GLC402", 5), ("GLC005", 6)}


def test_copy_of_a_dataset_is_read_and_checked(tmp_path: Path) -> None:
    flow = tmp_path / "flow.py"
    flow.write_text(
        "from glacier import Dataset, Pipeline\n"
        "SHARE = False\n"
        "p = Pipeline(name='p')\n"
        "a = Dataset(name='a', copy=False)\n"
        "b = Dataset(name='b', copy=SHARE)\n"
        "c = Dataset(name='c', copy=0)\n"  # line 6
        "d = Dataset(name='d', copy=not SHARE)\n"  # line 7
        "e = Dataset(name='e')\n"
        "@p.task()\ndef make() -> tuple[a, b, c, d, e]: ...\n"
        "@p.task()\ndef use(x: a, y: b, z: c, w: d, v: e) -> None: ...\n"
    )
    analysis = analyze([flow])
    (model,) = analysis.pipelines
    assert {d.name: d.copy for d in model.datasets} == {
        "a": False,
        "b": False,
        "c": True,
        "d": True,
        "e": True,
    }
    assert {(d.code, d.line) for d in analysis.diagnostics} == {("GLC402", 6), ("GLC005", 7)}


# -- registrations by a call, and what the static path cannot follow ------------------------------


def test_tasks_registered_by_a_call_are_read_like_decorated_ones() -> None:
    """`pipeline.task(name=...)(fn)` at module level, also on a function from another module."""
    analysis = analyze([VALID / "registered"])
    assert codes(analysis) == []
    (model,) = analysis.pipelines
    assert model.description == "Registered by calls and under wrappers."  # `__doc__`
    tasks = {t.name: (t.function, t.module, t.retries, t.span.line) for t in model.tasks}
    assert tasks == {
        "clean": ("clean", "registered.helpers", 1, 5),
        "count": ("count", "registered.flow", 0, 28),
        "summarize": ("summarize", "registered.flow", 0, 22),
    }
    flow = kinds(analysis.modules["registered.flow"])
    assert (flow["summarize"], flow["line 32"], flow["line 33"]) == ("task", "glacier", "glacier")
    assert kinds(analysis.modules["registered.helpers"])["clean"] == "task"


def test_registrations_the_static_path_cannot_follow_are_errors_naming_the_construct() -> None:
    analysis = analyze([INVALID / "registrations.py"])
    found = [(d.code, d.line, d.severity) for d in analysis.diagnostics]
    lines = [17, 20, 22, 26, 30, 37, 38]
    assert found == [("GLC007", line, "error") for line in lines]
    messages = [d.message for d in analysis.diagnostics]
    for line, construct in zip(
        lines,
        [
            "inside a `for` loop",
            "inside a `while` loop",
            "inside a comprehension",
            "inside the body of function `setup`",
            "inside the body of function `factory`",
            "on `lambda rows: None` (not a `def` in a module of the project)",
            "on `print` (a function from outside the project)",
        ],
        strict=True,
    ):
        assert construct in messages[lines.index(line)], messages
    assert all("`@pipeline.task()`" in (d.hint or "") for d in analysis.diagnostics)
    assert analysis.pipelines == ()  # no smaller model, and no GLC502 on top


def test_a_dataset_variable_rebound_by_a_task_def_says_so() -> None:
    analysis = analyze([INVALID / "shadowed.py"])
    (diagnostic,) = analysis.diagnostics  # GLC501 for `summary` follows from it: left out
    assert (diagnostic.code, diagnostic.line) == ("GLC209", 16)
    assert "function `summary` (line 11)" in diagnostic.message
    assert "dataset variable `summary` (line 7)" in diagnostic.message
    assert diagnostic.hint is not None and '`@pipeline.task(name="summary")`' in diagnostic.hint


def test_findings_lead_with_the_cause_and_omit_its_consequences() -> None:
    analysis = analyze([INVALID / "dropped.py"])
    assert [(d.code, d.line) for d in analysis.diagnostics] == [("GLC201", 17), ("GLC203", 17)]


def test_on_one_line_a_cause_sorts_before_a_consequence() -> None:
    from analyzer.diagnostics import MissingAnnotation, MissingSource

    at = {"path": "m.py", "line": 3, "end_line": 3}
    graph = MissingSource.make(column=1, end_column=1, dataset="d", task="t", pipeline="p",
                               variable="d", **at)  # fmt: skip
    signature = MissingAnnotation.make(column=9, end_column=9, param="x", task="t", **at)
    assert sorted([graph, signature], key=lambda d: d.sort_key()) == [signature, graph]


@pytest.mark.parametrize(
    ("description", "expected"),
    [
        ("__doc__", "The module's own words."),
        ('"one " "two"', "one two"),
        ('"one " + "two"', "one two"),
        ("TEXT", "from a constant"),
    ],
)
def test_static_descriptions_are_read(tmp_path: Path, description: str, expected: str) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text(
        '"""The module\'s own words."""\nfrom glacier import Pipeline\n'
        f'TEXT = "from a constant"\np = Pipeline(name="p", description={description})\n'
    )
    analysis = analyze([tmp_path / "m.py"])
    assert codes(analysis) == ["GLC502"]
    assert analysis.pipelines[0].description == expected


def test_any_other_description_is_a_warning_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "m.py").write_text(
        "from glacier import Pipeline\nimport textwrap\n"
        'p = Pipeline(name="p", description=textwrap.dedent("  x"))\n'
    )
    analysis = analyze([tmp_path / "m.py"])
    assert [(d.code, d.severity) for d in analysis.diagnostics] == [
        ("GLC502", "warning"),
        ("GLC503", "warning"),
    ]
    assert analysis.errors == () and analysis.pipelines[0].description is None
