"""Code generation reads the analyzer's facts; it never parses user source again.

The analyzer's summary (``analyzer._summary.StatementSummary``) reads each module once and records, per
module-level statement, the names it binds and uses, its ``name.attr`` references, an import's
names and every module it imports; ``analyzer.Statement`` carries them to code generation.
The one parse left in codegen is libcst's rewrite of an import that mixes glacier names with
task names (``codegen._slice._without_names``), which keeps the import's layout. Besides code
generation, ``glacier build`` computes the tasks' code fingerprints for the runner's task table
with ``glacier.fingerprint.module_facts`` (``ast``, as ``LocalExecutor`` computes them from the
same texts, so that both give the same fingerprints), for the modules the tasks' code uses only.
"""

from __future__ import annotations

import ast
import pickle
import sys
from pathlib import Path
from typing import Any

import libcst
import pytest

import codegen._slice
import glacier.fingerprint
from analyzer import _cache, analyze, summarize
from analyzer._summary import ImportAlias, StatementSummary
from codegen import build as build_artifacts
from codegen._slice import carried_modules
from codegen.aws._bundle import third_party_requirements
from codegen.aws._emit import program_modules
from codegen.aws._infra import place_infrastructure
from tests._codegen_support import EXAMPLES, write_project

CODEGEN = Path(__file__).resolve().parents[1] / "codegen"


def _first(text: str, module: str = "pkg.mod", is_package: bool = False) -> StatementSummary:
    summary = summarize(text, module, is_package)
    assert summary.error is None
    return summary.statements[0]


# -- codegen does not parse -----------------------------------------------------------------------


def test_no_codegen_module_uses_the_ast_module() -> None:
    offenders = []
    for path in sorted(CODEGEN.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Import) and any(a.name == "ast" for a in node.names):
                offenders.append(f"{path.name}:{node.lineno} import ast")
            elif isinstance(node, ast.ImportFrom) and node.module == "ast":
                offenders.append(f"{path.name}:{node.lineno} from ast import")
            elif (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "ast"
            ):
                offenders.append(f"{path.name}:{node.lineno} ast.{node.attr}")
    assert offenders == []


MIXED = {
    "pkg/__init__.py": "",
    "pkg/infra.py": (
        "import pulumi\n"
        "import pulumi_aws as aws\n"
        "from pulumi_aws import s3, ec2\n"
        "\n"
        "name = 'data'\n"
        "# the bucket's comment\n"
        "bucket = aws.s3.Bucket(name, bucket=name)\n"
        "logs = s3.Bucket('logs')\n"
        "from . import lazy  # the analyzer reads pkg.lazy for this import\n"
    ),
    "pkg/helpers.py": (
        "from glacier import Dataset\n\nraw2 = Dataset('raw2')\n\n\ndef helper(x):\n    return x\n"
    ),
    "pkg/lazy.py": "thing = 1\n",
    "pkg/tasks.py": (
        "import os, glacier\n"
        "from glacier import Dataset, Pipeline\n"
        "from .helpers import (\n"
        "    helper,  # kept\n"
        "    raw2,\n"
        ")\n"
        "from .infra import bucket\n"
        "\n"
        "pipeline = Pipeline(name='mixed')\n"
        "raw = Dataset('raw', storage=bucket)\n"
        "\n"
        "\n"
        "@pipeline.task()\n"
        "def load() -> raw:\n"
        "    import yaml\n"
        "    from .lazy import thing\n"
        "    return helper(yaml.safe_dump(os.sep + str(thing)))\n"
    ),
}


def _no_parsing(monkeypatch: pytest.MonkeyPatch) -> tuple[list[str], list[str]]:
    """Make every parser raise, except libcst's for ``_slice._without_names`` and ``ast``'s for
    the code fingerprints' facts; returns the texts each of those read."""
    rewritten: list[str] = []
    fingerprinted: list[str] = []
    real = libcst.parse_module
    real_ast = ast.parse

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("codegen parsed source")

    def facts_only(text: str, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_code
        if caller is not glacier.fingerprint.module_facts.__code__:
            raise AssertionError(f"codegen parsed source in {caller.co_name}")
        fingerprinted.append(text)
        return real_ast(text, *args, **kwargs)

    def rewrite_only(text: str, *args: Any, **kwargs: Any) -> Any:
        caller = sys._getframe(1).f_code
        if caller is not codegen._slice._without_names.__code__:
            raise AssertionError(f"codegen parsed source in {caller.co_name}")
        rewritten.append(text)
        return real(text, *args, **kwargs)

    monkeypatch.setattr(ast, "parse", facts_only)
    monkeypatch.setattr(libcst, "parse_module", rewrite_only)
    monkeypatch.setattr(libcst, "parse_expression", refuse)
    monkeypatch.setattr(libcst, "parse_statement", refuse)
    return rewritten, fingerprinted


@pytest.mark.parametrize(
    "target",
    ["layer1_local.py", "layer2_environments.py", "layer3_raw_pulumi.py", "orders", "mixed"],
)
def test_build_parses_nothing_after_the_analysis(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target: str
) -> None:
    if target == "mixed":
        path = write_project(tmp_path, MIXED) / "pkg" / "tasks.py"
    else:
        path = EXAMPLES / target
    analysis = analyze([path])
    assert analysis.pipelines
    rewritten, fingerprinted = _no_parsing(monkeypatch)
    artifacts, _ = build_artifacts(
        analysis.pipelines, analysis.modules, out_dir=str(tmp_path), version="0"
    )
    monkeypatch.undo()
    again = analyze([path])
    expected, _ = build_artifacts(
        again.pipelines, again.modules, out_dir=str(tmp_path), version="0"
    )
    assert [a.files for a in artifacts] == [a.files for a in expected]
    assert any("pulumi/" in path for a in artifacts for path in a.files)
    if target == "mixed":  # the two mixed imports of pkg/tasks.py, each once per slicing
        assert {text.splitlines()[0] for text in rewritten} == {
            "import os, glacier",
            "from .helpers import (",
        }
        # the fingerprint reads the task's module and the project modules its code uses
        # (``helper``, ``thing``), not ``pkg.infra`` nor the package, which only its datasets use
        read = {f for f, text in MIXED.items() if text in fingerprinted}
        assert read == {"pkg/tasks.py", "pkg/helpers.py", "pkg/lazy.py"}


# -- what the sliced modules import ---------------------------------------------------------------


def test_carried_modules_follow_the_imports_of_task_code_only(tmp_path: Path) -> None:
    analysis = analyze([write_project(tmp_path, MIXED) / "pkg" / "tasks.py"])
    sliced = {m.name: m for m in carried_modules(analysis.modules, ["pkg.tasks"])}
    # pkg.lazy: imported in the task's body; pkg.infra: by an infrastructure statement only
    assert sorted(sliced) == ["pkg", "pkg.helpers", "pkg.lazy", "pkg.tasks"]
    imports = sliced["pkg.tasks"].imports
    assert {"os", "yaml", "pkg.helpers", "pkg.helpers.helper", "pkg.lazy.thing"} <= imports
    assert "glacier" not in imports  # dropped from `import os, glacier`
    assert "pkg.helpers.raw2" not in imports  # dropped from the mixed `from .helpers import`
    assert not {"pkg.infra", "pulumi", "pulumi_aws"} & imports
    requirements = third_party_requirements(list(sliced.values()), analysis.modules)
    assert [r.split("=")[0].split(" ")[0] for r in requirements] == ["PyYAML"]


def test_a_comment_above_an_infrastructure_statement_keeps_its_dependencies(
    tmp_path: Path,
) -> None:
    """The analyzer counts a directly attached comment in a statement's lines: its names are
    known all the same (codegen used to find statements by their first line, and lost them)."""
    analysis = analyze([write_project(tmp_path, MIXED) / "pkg" / "tasks.py"])
    model = analysis.pipelines[0]
    placement = place_infrastructure(
        model, analysis.modules, program_modules(model, analysis.modules)
    )
    texts = [b.text for b in placement.environments["default"]]
    assert texts == [
        "import pulumi_aws as aws\n",
        "from pulumi_aws import s3\n",  # reduced to the name used
        "name = 'data'\n",
        "# the bucket's comment\nbucket = aws.s3.Bucket(name, bucket=name)\n",
        "logs = s3.Bucket('logs')\n",
    ]
    imports = [b for b in placement.environments["default"] if b.is_import]
    assert [(b.import_module, b.import_plain) for b in imports] == [
        ("pulumi_aws", True),
        ("pulumi_aws", False),
    ]


# -- the summary's facts for codegen --------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "binds"),
    [
        ("[a, (b, *c)] = x, y = 1, (2, 3, 4)\n", ("a", "b", "c", "x", "y")),
        ("x += 1\n", ("x",)),
        ("y: int\n", ("y",)),
        ("z: int = w\n", ("z",)),
        ("obj.attr = 1\n", ("obj",)),  # the names in a target, whatever their context
        ("table[key] = 1\n", ("key", "table")),
        ("if (n := f()) and [(m := i) for i in r]:\n    inner = 1\n", ("m", "n")),
        ("print(v := 1)\n", ("v",)),
        ("def f(a=(d := 1)):\n    local = 1\n", ("f",)),
        ("class C:\n    attr = 1\n", ("C",)),
        ("import a.b.c, d as e\n", ("a", "e")),
        ("from ..m import x as y, z\n", ("y", "z")),
    ],
)
def test_binds(source: str, binds: tuple[str, ...]) -> None:
    assert _first(source, "pkg.sub.mod").binds == binds


@pytest.mark.parametrize(
    ("source", "free_uses"),
    [
        ("vals = [q * k for q in r if q]\n", ("k", "r")),
        ("pairs = {a: b for a, (b, _) in items}\n", ("items",)),
        ("f = lambda x, *ys, k=d, **kw: x + ys + k + kw + g\n", ("d", "g")),
        (
            (
                "@deco(opt)\n"
                "def f(a: A, *b, c=dflt, **e) -> R:\n"
                "    g = a\n"
                "    for i in b:\n"
                "        g = g + i\n"
                "    return helper(g, e, c)\n"
            ),
            ("A", "R", "deco", "dflt", "helper", "opt"),
        ),
        ("class C(Base):\n    x = 1\n    y = x + other\n", ("Base", "other", "x")),
        ("obj.attr = value\n", ("obj", "value")),
        ("import pulumi\n", ()),
    ],
)
def test_free_uses(source: str, free_uses: tuple[str, ...]) -> None:
    assert _first(source).free_uses == free_uses


def test_attribute_references_are_first_occurrences_in_source_order() -> None:
    stmt = _first("b = Bucket('b', tags=f(g(west.tags)), other=east.x, more=east.x)\n")
    assert stmt.attr_refs == (
        ("b", None),
        ("Bucket", None),
        ("f", None),
        ("g", None),
        ("west", "tags"),  # `name.attr` before the `name` in it
        ("west", None),
        ("east", "x"),
        ("east", None),
    )


def test_module_imports_as_written() -> None:
    assert _first("import a.b as c, d\n").module_imports == (
        ImportAlias(False, "a.b", 0, "a.b", "c"),
        ImportAlias(False, "d", 0, "d", None),
    )
    assert _first("from .. import x\n").module_imports == (ImportAlias(True, "", 2, "x", None),)
    assert _first("from ..m.n import y as z\n").module_imports == (
        ImportAlias(True, "m.n", 2, "y", "z"),
    )
    assert _first("from m import *\n").module_imports == (ImportAlias(True, "m", 0, "*", None),)
    assert _first("x = 1\n").module_imports == ()
    assert [a.bound for a in _first("import a.b as c, d.e\n").module_imports] == ["c", "d"]


@pytest.mark.parametrize(
    ("source", "module", "is_package", "imported"),
    [
        ("import a.b as c\n", "m", False, ("a", "a.b")),
        (
            "def f():\n    import yaml\n    from .x import y\n",
            "pkg.mod",
            False,
            ("pkg", "pkg.x", "pkg.x.y", "yaml"),
        ),
        ("from . import a\n", "pkg", True, ("pkg", "pkg.a")),
        ("from .. import a\n", "pkg.sub", True, ("pkg", "pkg.a")),
        ("from ..up import z\n", "pkg.sub.mod", False, ("pkg", "pkg.up", "pkg.up.z")),
        ("from ... import z\n", "pkg.mod", False, ()),  # above the top-level package
        ("from .x import y\n", "top", False, ()),  # a relative import in a top-level module
        ("from m import *\n", "top", False, ("m",)),
        (
            "try:\n    import ujson as json\nexcept ImportError:\n    import json\n",
            "m",
            False,
            ("json", "ujson"),
        ),
        ("if TYPE_CHECKING:\n    from a.b import C\n", "m", False, ("a", "a.b", "a.b.C")),
        ("x = 1\n", "m", False, ()),
    ],
)
def test_imported_modules(
    source: str, module: str, is_package: bool, imported: tuple[str, ...]
) -> None:
    assert _first(source, module, is_package).imported_modules == imported


def test_a_deep_statement_gets_its_facts_without_exhausting_the_stack() -> None:
    deep = "x" + ".a" * 500 + " + " + " + ".join(["y"] * 2000)
    stmt = _first(f"value = f({deep})\n")
    assert stmt.binds == ("value",)
    assert stmt.free_uses == ("f", "x", "y")
    assert ("x", "a") in stmt.attr_refs


def test_the_facts_survive_the_cache() -> None:
    summary = summarize("import a.b as c\nfrom . import d\nx = c.y\n", "pkg", True)
    loaded = _cache.loads(_cache.dumps(summary), _cache._summary_unpickler())
    assert loaded == summary
    assert loaded.statements[0].module_imports == (ImportAlias(False, "a.b", 0, "a.b", "c"),)
    assert pickle.loads(pickle.dumps(summary)) == summary


def test_the_analysis_statements_carry_the_facts(tmp_path: Path) -> None:
    analysis = analyze([write_project(tmp_path, MIXED) / "pkg" / "tasks.py"])
    statements = analysis.modules["pkg.tasks"].statements
    mixed = statements[2]
    assert mixed.start_line == 3
    assert mixed.drop_names == ("raw2",)
    assert [a.bound for a in mixed.module_imports] == ["helper", "raw2"]
    assert mixed.binds == ("helper", "raw2")
    task = statements[-1]
    assert task.kind == "task"
    assert task.binds == ("load",)
    # names a def's body imports are not its locals here (`thing`, `yaml`): codegen's rule
    assert task.free_uses == ("helper", "os", "pipeline", "raw", "str", "thing", "yaml")
    assert task.imported_modules == (
        "pkg",
        "pkg.lazy",
        "pkg.lazy.thing",
        "yaml",
    )
