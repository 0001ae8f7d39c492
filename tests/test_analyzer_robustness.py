"""Bad input gives a diagnostic or a clean skip, never a traceback."""

from __future__ import annotations

import os
import pickle
import sysconfig
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


# -- no false errors on real code -----------------------------------------------------------------


def test_a_pep_263_coding_comment_is_honoured(project: Path) -> None:
    source = (
        "# -*- coding: latin-1 -*-\n" + HEADER + "raw = Dataset(name='caf\xe9', "
        "storage=ObjectStorage(bucket='b'))\n@pipeline.task()\ndef t(x: raw) -> None: ...\n"
    )
    (project / "latin.py").write_bytes(source.encode("latin-1"))
    analysis = analyze([project])
    assert analysis.diagnostics == ()
    assert [d.name for d in analysis.pipelines[0].datasets] == ["caf\xe9"]
    (project / "latin.py").write_bytes(b"# coding: no-such-codec\n# glacier\n")
    (diagnostic,) = analyze([project]).diagnostics
    assert diagnostic.code == "GLC002" and "coding comment is invalid" in diagnostic.message


def test_a_dangling_symlink_says_so(project: Path) -> None:
    os.symlink(project / "gone.py", project / "flow.py")
    (diagnostic,) = analyze([project]).diagnostics
    assert diagnostic.code == "GLC002"
    assert "symbolic link to" in diagnostic.message and "does not exist" in diagnostic.message
    assert diagnostic.hint is not None and "UTF-8" not in diagnostic.hint


def test_a_file_that_cannot_be_decoded_and_never_spells_glacier_is_skipped(project: Path) -> None:
    (project / "data.py").write_bytes(b"print('b\xf6se')\n")
    assert analyze([project]).diagnostics == ()


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs on this platform")
def test_a_fifo_named_like_a_module_is_skipped_not_read(project: Path) -> None:
    import threading

    (project / "flow.py").write_text(HEADER)
    os.mkfifo(project / "pipe.py")
    found: list[object] = []
    walker = threading.Thread(target=lambda: found.append(analyze([project])), daemon=True)
    walker.start()
    walker.join(timeout=20)
    if walker.is_alive():  # unblock the reader so the test process can end
        with open(project / "pipe.py", "w"):
            pass
        pytest.fail("the walk blocked on a FIFO")
    (analysis,) = found
    assert [(d.code, d.path) for d in analysis.diagnostics] == [("GLC502", "flow.py")]  # type: ignore[attr-defined]
    explicit = analyze([project / "pipe.py"])  # named on the command line: skipped too
    assert explicit.diagnostics == ()


def test_imports_that_exist_without_a_source_are_opaque(project: Path) -> None:
    """Compiled extensions, `sys.modules` aliases (`os.path`, `six.moves`), guarded imports."""
    from importlib.machinery import EXTENSION_SUFFIXES

    pkg = project / "pkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / f"_speedups{EXTENSION_SUFFIXES[0]}").write_bytes(b"\x7fELF")
    (pkg / "six.py").write_text("import sys\nsys.modules[__name__ + '.moves'] = sys\n")
    (pkg / "flow.py").write_text(
        "from pkg import _speedups\nfrom pkg._speedups import fast\nfrom pkg.six.moves import urllib\n"
        "import pkg.six.moves\ntry:\n    from pkg._optional import y\nexcept ImportError:\n"
        "    y = None\ntry:\n    from .._nowhere import x\nexcept (ImportError, OSError):\n"
        "    x = None\n" + HEADER
        + "raw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"
        "@pipeline.task()\ndef t(d: raw) -> None: ...\n"
    )  # fmt: skip
    analysis = analyze([pkg])
    assert analysis.diagnostics == ()
    # a missing module that is not guarded is still reported
    (pkg / "flow.py").write_text("from pkg._optional import y\n" + HEADER)
    assert [d.code for d in analyze([pkg]).diagnostics] == ["GLC003", "GLC502"]


def test_a_dead_import_in_a_module_outside_any_pipeline_is_not_a_finding(project: Path) -> None:
    """pip vendors `rich` without `rich.markdown`; `rich/__main__.py` still imports it."""
    pkg = project / "vendor"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text("from .markdown import Markdown\n")
    (project / "flow.py").write_text("import vendor.__main__\n" + HEADER)
    assert [d.code for d in analyze([project]).diagnostics] == ["GLC502"]
    # a name a pipeline needs from it is reported where it is used
    (pkg / "names.py").write_text("from vendor.missing import raw\n")
    (project / "flow.py").write_text(
        "from vendor.names import raw\n" + HEADER + "@pipeline.task()\ndef t(x: raw) -> None: ...\n"
    )
    found = [(d.code, d.path, d.line) for d in analyze([project]).diagnostics]
    assert found == [("GLC003", "flow.py", 5)]


STDLIB = Path(sysconfig.get_paths()["stdlib"])
PURELIB = Path(sysconfig.get_paths()["purelib"])
REAL_CODE = [
    STDLIB / "asyncio",
    STDLIB / "email",
    STDLIB / "test" / "tokenizedata",  # bad codings, a latin-1 cookie, a file that is not UTF-8
    STDLIB / "json",
    PURELIB / "pip" / "_vendor" / "rich",  # imports the `markdown` module pip leaves out
    PURELIB / "pip" / "_vendor" / "urllib3",  # `six.moves`, guarded imports
    PURELIB / "botocore" / "retries",
    PURELIB / "pandas" / "io" / "parsers",  # imports compiled extensions
]


@pytest.mark.parametrize("directory", REAL_CODE, ids=lambda p: str(p.relative_to(p.parents[2])))
def test_real_code_reports_no_errors(directory: Path) -> None:
    if not directory.is_dir():
        pytest.skip(f"{directory} is not installed here")
    analysis = analyze([directory], root=str(directory.parent))
    assert analysis.errors == ()


def test_a_library_file_that_only_spells_task_is_not_followed(project: Path) -> None:
    """Checking a library tree reads its files that mention `.task`, but follows the imports
    only of those that declare something of glacier's: `self.task()` in a method is not a
    registration, so the modules it imports are never parsed (the standard library has
    three such files, whose imports reach hundreds of modules)."""
    lib = project / "lib"
    lib.mkdir()
    (lib / "__init__.py").write_text("")
    (lib / "worker.py").write_text(
        "from lib import helper\n\nclass Worker:\n    def run(self):\n        return self.task()\n"
    )
    (lib / "helper.py").write_text("VALUE = 1\n")
    (project / "flow.py").write_text(
        HEADER + "raw = Dataset(name='raw', storage=ObjectStorage(bucket='b'))\n"
        "@pipeline.task()\ndef show(data: raw) -> None: ...\n"
    )
    read: list[str] = []

    def counting(text: str, module: str, is_package: bool) -> object:
        read.append(module)
        return summarize(text, module, is_package)

    analysis = analyze([project], summarizer=counting)  # type: ignore[arg-type]
    assert [p.name for p in analysis.pipelines] == ["p"]
    assert "lib.helper" not in read
    assert "lib.worker" in read  # read: it spells `.task`
    assert "lib.worker" not in analysis.modules  # and left out, declaring nothing
    # a file that imports glacier is followed: what it imports may hold its declarations
    (lib / "worker.py").write_text("import glacier\nfrom lib import helper\n")
    read.clear()
    analyze([project], summarizer=counting)  # type: ignore[arg-type]
    assert "lib.helper" in read
