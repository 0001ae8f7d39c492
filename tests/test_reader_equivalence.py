"""The libcst reader (``analyzer._reader``) reads every module exactly as the ``ast`` reader it
replaced did (``tests/_ast_summary.py``): same statements, names, symbolic expressions, and
positions to the UTF-8 byte column, which the runtime path's positions are compared with.

Compared on code no one here wrote (a sample of the standard library, of botocore and of pip),
on this project's own code and fixtures, and on edge cases of layout and encoding.

Over all 1,786 files of CPython 3.11's standard library the two differ on five, each for a
reason kept on purpose or beyond the reader: two use ``(x): int`` in a function body, which
libcst cannot parse (reported as such, see below); two use identifiers that Python normalises
(NFKC: ``µ`` is read as ``μ``) and libcst keeps as written; one is a deliberately invalid
encoding declaration that ``ast`` refuses and libcst decodes.
"""

from __future__ import annotations

import importlib.util
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import _ast_summary
import pytest

from analyzer._reader import summarize

ROOT = Path(__file__).resolve().parent.parent
STDLIB = Path(sysconfig.get_paths()["stdlib"])


def _python_files(directory: Path) -> Iterator[Path]:
    for path in sorted(directory.rglob("*.py")):
        if "site-packages" not in path.relative_to(directory).parts and path.is_file():
            yield path


def _sample(directory: Path, count: int) -> list[Path]:
    files = list(_python_files(directory))
    step = max(1, len(files) // count)
    return files[::step][:count]


def _package_dir(name: str) -> Path:
    spec = importlib.util.find_spec(name)
    assert spec is not None and spec.submodule_search_locations, name
    return Path(next(iter(spec.submodule_search_locations)))


def _read(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return None  # the analyzer decodes per PEP 263 before summarising; not this test's case


def _module_name(path: Path) -> tuple[str, bool]:
    package = path.name == "__init__.py"
    parts = path.with_suffix("").parts[-3:]
    if package:
        parts = parts[:-1]
    return ".".join(p.replace("-", "_") for p in parts), package


def _assert_same(path: Path) -> None:
    text = _read(path)
    if text is None:
        return
    name, package = _module_name(path)
    assert summarize(text, name, package) == _ast_summary.summarize(text, name, package), path


OWN = [
    path
    for top in ("examples", "tests/fixtures", "analyzer", "codegen", "glacier", "rehearse")
    for path in _python_files(ROOT / top)
]


@pytest.mark.parametrize("path", OWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_this_projects_code_reads_the_same(path: Path) -> None:
    _assert_same(path)


@pytest.mark.parametrize("path", _sample(STDLIB, 120), ids=lambda p: str(p.relative_to(STDLIB)))
def test_the_standard_library_reads_the_same(path: Path) -> None:
    _assert_same(path)


@pytest.mark.parametrize("package", ["botocore", "pip"])
def test_third_party_packages_read_the_same(package: str) -> None:
    for path in _sample(_package_dir(package), 25):
        _assert_same(path)


EDGE_CASES = {
    "non_ascii": "name = 'é'; other = Dataset(name='ü', storage=é.s3('ö'))\n",
    "tabs": "if x:\n\tvalue = f(a,\tb)\n",
    "crlf": "a = 1\r\nb = g(a,\r\n      2)\r\n",
    "form_feed": "\x0c\ndef f():\n    return x\n",
    "continuation": "value = compute(a, \\\n    b)\n",
    "semicolons": "a = 1; b = a; import os; print(b)\n",
    "parenthesised": "t = ((1, 2)); g = sorted(x for x in y); h = f(a, (z for z in w))\n",
    "trailing_commas": "x: dict[str, int,] = {}\ny = Dataset[tuple[str, int,]](name='y')\n",
    "string_annotations": "def f(a: 'pd.DataFrame', b: 'list[int]' = 1) -> 'a-b': ...\n",
    "implicit_concatenation": "doc = " + " ".join(["'part'"] * 3000) + "\n",
    "async_and_decorators": (
        "@pipeline.task()\n# a comment\n@other(\n    1,\n)\nasync  def run(a: raw) -> out:\n"
        "    async with lock as held:\n        return [b async for b in a if b]\n"
    ),
    "scopes": (
        "def f(a, *args, b=c, **kw):\n    global g\n    x = [y for y in z if (w := y)]\n"
        "    class Inner(Base, metaclass=Meta):\n        attr = q\n        def m(self): return r\n"
        "    try:\n        pass\n    except E as exc:\n        del exc\n"
        "    match a:\n        case {'k': v, **rest}: pass\n        case Point(x=px) | [*more]: pass\n"
        "    return lambda s=t: s + u\n"
    ),
    "compound_module_level": (
        "try:\n    import fast\nexcept ImportError:\n    fast = None\n"
        "for i in range(3):\n    pipeline.task(name=f't{i}')(make(i))\n"
        "with open(p) as (a, b):\n    c, *d = e\n"
        "if x:\n    pass\nelif y:\n    import z\nelse:\n    del q\n"
    ),
    "constants": "a = -1; b = -2.5; c = 1j; d = b'x'; e = f'{a}'; f = ...; g = None; h = 'a' + 'b'\n",
    "syntax_error": "def f(:\n    pass\n",
    "unclosed": "x = (1,\n",
    "docstring_only": '"""Module doc."""\n',
}


@pytest.mark.parametrize("case", sorted(EDGE_CASES))
def test_edge_cases_read_the_same(case: str) -> None:
    text = EDGE_CASES[case]
    assert summarize(text, "pkg.mod", False) == _ast_summary.summarize(text, "pkg.mod", False)


def test_nesting_deeper_than_python_accepts_is_a_syntax_error_not_a_crash() -> None:
    """libcst's native parser recurses on the C stack: 5,000 nested brackets would crash the
    process. CPython refuses more than 200; the reader does so before parsing."""
    for text in ("x = " + "(" * 5000 + ")" * 5000, "x = " + "[" * 300 + "]" * 300):
        summary = summarize(text + "\n", "m", False)
        assert summary.error == ("too many nested parentheses", 1, 205)
    brackets_in_strings = "x = '" + "(" * 500 + "'  # " + "[" * 500 + "\n"
    assert summarize(brackets_in_strings, "m", False).error is None


def test_a_long_operator_chain_is_read() -> None:
    chain = "total = " + " + ".join(["x"] * 5000) + "\n"
    summary = summarize(chain, "m", False)
    assert summary.error is None
    assert summary.statements[0].uses == frozenset({"x"})


def test_valid_python_that_libcst_cannot_parse_says_so() -> None:
    """libcst's grammar misses a few valid forms (a parenthesised annotated name in a body):
    the finding says the code is valid Python and where libcst stopped, not "invalid syntax"."""
    text = "def f():\n    (x): int\n    return 1\n"
    compile(text, "<valid>", "exec")  # Python accepts it
    error = summarize(text, "m", False).error
    assert error is not None
    detail, line, _ = error
    assert detail.startswith("Python accepts this code but libcst")
    assert line in (2, 3)


def test_a_syntax_error_has_pythons_own_message() -> None:
    assert summarize("x = (1,\n", "m", False).error == ("'(' was never closed", 1, 5)
