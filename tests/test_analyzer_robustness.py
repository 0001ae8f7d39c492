"""Bad input gives a diagnostic or a clean skip, never a traceback."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from analyzer import analyze, summarize

HEADER = "from glacier import Dataset, ObjectStorage, Pipeline\npipeline = Pipeline(name='p')\n"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    (tmp_path / "pyproject.toml").write_text("")
    return tmp_path


def test_non_utf8_file_is_reported_with_the_offending_line(project: Path) -> None:
    (project / "latin1.py").write_bytes(b"# glacier\nname = '\xe9t\xe9'\n")
    (diagnostic,) = analyze([project]).diagnostics
    assert (diagnostic.code, diagnostic.path) == ("GLC002", "latin1.py")
    assert "byte 0xe9 on line 2 is not valid UTF-8" in diagnostic.message


def test_nul_bytes_and_bom(project: Path) -> None:
    (project / "nul.py").write_bytes(b"# glacier\x00\n")
    (project / "bom.py").write_bytes(b"\xef\xbb\xbf" + HEADER.encode())
    found = [(d.code, d.path) for d in analyze([project]).diagnostics]
    assert found == [("GLC502", "bom.py"), ("GLC002", "nul.py")]


def test_empty_and_whitespace_only_files(project: Path) -> None:
    (project / "empty.py").write_text("")
    (project / "blank.py").write_text("\n\n   \n# glacier\n")
    analysis = analyze([project / "empty.py", project / "blank.py"])
    assert analysis.diagnostics == ()
    assert analysis.pipelines == ()


def test_directory_symlink_loop_ends(project: Path) -> None:
    pkg = project / "pkg"
    pkg.mkdir()
    (pkg / "flow.py").write_text(HEADER)
    os.symlink(pkg, pkg / "loop")
    os.symlink(project, pkg / "up")
    analysis = analyze([project])
    assert [p.name for p in analysis.pipelines] == ["p"]


def test_deeply_nested_expressions(project: Path) -> None:
    nested = "(" * 150 + "1" + ")" * 150
    chain = " + ".join(["x"] * 5000)
    calls = "f(" * 500 + ")" * 500
    (project / "deep.py").write_text(
        HEADER + f"a = {nested}\nb = {chain}\nc = {calls}\n"
        "raw = Dataset(name='raw', storage=ObjectStorage(bucket=str("
        + "[" * 80
        + "]" * 80
        + ")))\n"
    )
    analysis = analyze([project])
    assert {d.code for d in analysis.diagnostics} <= {"GLC001", "GLC005", "GLC502"}


DEEP = {  # 500 levels that Python parses (unlike 500 nested parentheses: GLC001 above)
    "unary": "-" * 500 + "1",
    "not": "not " * 500 + "x",
    "attributes": "x" + ".a" * 500,
    "calls": "f" + "()" * 500,
    "subscripts": "x" + "[0]" * 500,
    "lambdas": "lambda: " * 500 + "1",
    "conditionals": "x if y else " * 500 + "z",
    "powers": " ** ".join(["x"] * 500),
    "parentheses": "(" * 150 + "x" + ")" * 150,
}


@pytest.mark.parametrize("shape", sorted(DEEP))
def test_five_hundred_deep_expressions_are_analysed(project: Path, shape: str) -> None:
    """Every place the analyzer evaluates or walks gets the deep expression, and says so."""
    deep = DEEP[shape]
    (project / "deep.py").write_text(
        HEADER + "raw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"
        f"top = {deep}\n"  # line 4
        f"named = Dataset(name={deep})\n"  # line 5: GLC004
        f"stored = Dataset(name='stored', storage=ObjectStorage(bucket={deep}))\n"  # GLC005
        f"@pipeline.task(retries={deep})\n"  # line 7: GLC208
        "def body(data: raw) -> None:\n"
        f"    return {deep}\n"
        "@pipeline.task()\n"
        f"def annotated(data: raw, other: {deep}) -> None: ...\n"  # line 11: GLC203 or GLC005
    )
    found = {(d.code, d.line) for d in analyze([project]).diagnostics}
    assert {code for code, _ in found} <= {"GLC004", "GLC005", "GLC203", "GLC208"}
    assert {("GLC004", 5), ("GLC005", 6), ("GLC208", 7)} <= found
    assert {line for _, line in found} == {5, 6, 7, 11}


def test_a_twenty_thousand_line_module(project: Path) -> None:
    lines = [HEADER, "raw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"]
    lines += [f"CONSTANT_{i} = {i}\n" for i in range(20_000)]
    lines += ["@pipeline.task()\ndef last(x: raw) -> None:\n    print(CONSTANT_19999)\n"]
    (project / "big.py").write_text("".join(lines))
    analysis = analyze([project])
    assert analysis.diagnostics == ()
    assert analysis.pipelines[0].task("last").span.line == 20_005


def test_syntax_errors_of_every_kind(project: Path) -> None:
    for i, text in enumerate(["def f(:\n", "x = (\n", "\tif x:\n  pass\n", "return 1\n"]):
        (project / f"bad{i}.py").write_text("# glacier\n" + text)
    codes = [d.code for d in analyze([project]).diagnostics]
    assert codes[:3] == ["GLC001"] * 3  # a module-level `return` parses; it is not our error


def test_dynamic_constructs_get_a_diagnostic_not_an_exception(project: Path) -> None:
    (project / "dynamic.py").write_text(
        HEADER
        + "names = ['a', 'b']\n"
        + "made = [Dataset(name=n) for n in names]\n"
        + "if True:\n    hidden = Dataset(name='hidden')\n"
        + "def factory():\n    @pipeline.task()\n    def inner() -> None: ...\n"
        + "raw = Dataset(name=names[0], storage=ObjectStorage(bucket=names[1]))\n"
        + "pipeline.task()(print)\n"
        + "from glacier import *\n"
        + "@pipeline.task(name=names[0], compute=globals()['c'], retries=True, timeout=0)\n"
        + "def t(*args, x: raw, **kw) -> tuple[()]: ...\n"
    )
    codes = {d.code for d in analyze([project]).diagnostics}
    assert codes >= {"GLC004", "GLC005", "GLC208", "GLC203"}


def test_summaries_are_picklable_for_a_content_hash_cache() -> None:
    text = (Path(__file__).parent / "fixtures" / "analyzer" / "valid" / "aliases.py").read_text()
    summary = summarize(text, "aliases", False)
    assert pickle.loads(pickle.dumps(summary)) == summary
    assert summarize(text, "aliases", False) == summary  # pure: same input, same summary


def test_names_imported_in_a_cycle_end_in_a_diagnostic(project: Path) -> None:
    pkg = project / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text(
        "from pkg.b import x\n" + HEADER + "@pipeline.task()\ndef t(d: x) -> None: ...\n"
    )
    (pkg / "b.py").write_text("from pkg.a import x\n")
    (diagnostic,) = analyze([pkg]).diagnostics
    assert diagnostic.code == "GLC203"
    assert "imported in a cycle" in (diagnostic.hint or "")


def test_from_package_import_prefers_what_the_package_binds(project: Path) -> None:
    """`from pkg import pipeline` is the package's attribute when `__init__` rebinds it."""
    pkg = project / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("from pkg.pipeline import pipeline as pipeline\n")
    (pkg / "pipeline.py").write_text(HEADER)
    (project / "tasks.py").write_text(
        "import pkg\nfrom pkg import pipeline\nfrom glacier import Dataset, ObjectStorage\n"
        "raw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"
        "@pipeline.task()\ndef one(d: raw) -> None: ...\n"
        "@pkg.pipeline.task()\ndef two(d: raw) -> None: ...\n"
    )
    analysis = analyze([project])
    assert analysis.diagnostics == ()
    assert {t.name for t in analysis.pipelines[0].tasks} == {"one", "two"}


def test_the_per_file_step_can_be_replaced_by_a_cache(project: Path) -> None:
    (project / "m.py").write_text(HEADER)
    seen: list[tuple[str, bool]] = []

    def cached(text: str, module: str, is_package: bool):  # type: ignore[no-untyped-def]
        seen.append((module, is_package))
        return summarize(text, module, is_package)

    assert [p.name for p in analyze([project], summarizer=cached).pipelines] == ["p"]
    assert seen == [("m", False)]


@pytest.mark.parametrize(
    "settings",
    ['[tool.glacier]\npipelines = "flows"\n', "[tool.glacier\n", "[tool]\nglacier = 3\n"],
)
def test_invalid_configuration_is_reported_and_ignored(tmp_path: Path, settings: str) -> None:
    (tmp_path / "pyproject.toml").write_text(settings)
    (tmp_path / "m.py").write_text(HEADER)
    analysis = analyze([], root=str(tmp_path))
    assert [(d.code, d.path) for d in analysis.diagnostics] == [
        ("GLC502", "m.py"),
        ("GLC006", "pyproject.toml"),
    ]
