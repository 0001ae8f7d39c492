"""Mutated example modules never crash the analyzer (and are never imported).

Hypothesis edits copies of ``examples/*.py`` and ``examples/orders/*.py`` in a temporary
project: deletes, duplicates and swaps lines, renames identifiers, and injects garbage text
and bytes. Whatever comes out, ``analyze`` and the cached ``glacier check`` engine return a
result; every mutated file also starts with a line that would create a file if it were ever
executed, and no such file appears.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path
from types import ModuleType

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analyzer import Analysis, analyze
from analyzer._check import CheckResult, check

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SOURCES = sorted(
    p.relative_to(EXAMPLES).as_posix()
    for p in [*EXAMPLES.glob("*.py"), *(EXAMPLES / "orders").glob("*.py")]
)
TEXTS = {name: (EXAMPLES / name).read_bytes() for name in SOURCES}
IDENTIFIER = re.compile(rb"\b[A-Za-z_][A-Za-z0-9_]*\b")
TRIPWIRE = b"open(__file__ + '.executed', 'w').close()\n"

# fragments that make a parser or the linker take unusual paths
GARBAGE = [
    b"(",
    b")",
    b"[",
    b":",
    b"\t",
    b"    ",
    b"\\",
    b'"""',
    b"def",
    b"@pipeline.task()",
    b"Dataset[",
    b"from . import",
    b"from .. import x",
    b"import orders.",
    b"glacier",
    b"lambda",
    b"*",
    b"# glacier: ignore[",
    b"\x00",
    b"\xff\xfe",
    b"\xe9",
    b"\r",
    b"\xef\xbb\xbf",
]

Mutation = tuple[str, int, int, bytes]
mutation = st.tuples(
    st.sampled_from(["delete", "duplicate", "swap", "rename", "garbage", "bytes"]),
    st.integers(0, 10_000),
    st.integers(0, 10_000),
    st.one_of(st.sampled_from(GARBAGE), st.binary(min_size=1, max_size=12)),
)


def mutate(data: bytes, mutations: list[Mutation]) -> bytes:
    lines = data.splitlines(keepends=True) or [b""]
    for kind, a, b, payload in mutations:
        i, j = a % len(lines), b % len(lines)
        if kind == "delete" and len(lines) > 1:
            del lines[i]
        elif kind == "duplicate":
            lines.insert(i, lines[i])
        elif kind == "swap":
            lines[i], lines[j] = lines[j], lines[i]
        elif kind == "rename":
            names = sorted(set(IDENTIFIER.findall(b"".join(lines))))
            if len(names) > 1:
                old, new = names[a % len(names)], names[b % len(names)]
                lines = [re.sub(rb"\b" + re.escape(old) + rb"\b", new, line) for line in lines]
        elif kind == "garbage":
            line = lines[i]
            at = b % (len(line) + 1)
            lines[i] = line[:at] + payload + line[at:]
        else:
            lines.insert(i, payload + b"\n")
    return b"".join(lines)


def write_project(root: Path, changes: dict[str, bytes]) -> None:
    (root / "pyproject.toml").write_text("")
    (root / "orders").mkdir()
    for name in SOURCES:
        (root / name).write_bytes(changes.get(name, TEXTS[name]))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    edits=st.dictionaries(
        st.sampled_from(SOURCES),
        st.lists(mutation, min_size=1, max_size=6),
        min_size=1,
        max_size=3,
    )
)
def test_mutated_examples_give_a_result_not_a_traceback(edits: dict[str, list[Mutation]]) -> None:
    changes = {name: TRIPWIRE + mutate(TEXTS[name], m) for name, m in edits.items()}
    root = Path(tempfile.mkdtemp(prefix="glacier-fuzz-"))
    previous = os.environ.get("GLACIER_CACHE_DIR")
    try:
        write_project(root, changes)
        analysis = analyze([root])
        assert isinstance(analysis, Analysis)
        for d in analysis.diagnostics:
            assert d.code.startswith("GLC") and d.line >= 1 and d.column >= 1
        # the same through glacier check's cached engine: cold, then answered from the cache
        os.environ["GLACIER_CACHE_DIR"] = str(root / "cache")
        first = check([root / "orders" / "pipeline.py", root])
        again = check([root / "orders" / "pipeline.py", root])
        assert again.cached and again.diagnostics == first.diagnostics
        assert not list(root.rglob("*.executed")), "an analysed module was executed"
    finally:
        if previous is None:
            os.environ.pop("GLACIER_CACHE_DIR", None)
        else:
            os.environ["GLACIER_CACHE_DIR"] = previous
        shutil.rmtree(root, ignore_errors=True)


def test_the_unmutated_examples_are_clean_through_both_engines(tmp_path: Path) -> None:
    write_project(tmp_path, {})
    analysis = analyze([tmp_path])
    assert not analysis.errors
    assert check([tmp_path], use_cache=False).diagnostics == analysis.diagnostics


def _synthetic() -> ModuleType:
    path = EXAMPLES.parent / "benchmarks" / "_synthetic.py"
    spec = importlib.util.spec_from_file_location("_glacier_synthetic", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


synthetic = _synthetic()


def outcome(result: CheckResult) -> tuple[object, ...]:
    return (sorted(d.to_dict().items() for d in result.diagnostics), result.files, result.pipelines)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(
    edits=st.lists(
        st.tuples(st.integers(0, 29), st.lists(mutation, min_size=1, max_size=3)),
        min_size=1,
        max_size=3,
    ),
    examples=st.booleans(),
)
def test_a_recheck_after_edits_equals_a_full_check(
    edits: list[tuple[int, list[Mutation]]], examples: bool
) -> None:
    """The cached engine redoes only what an edit can affect: it must agree with a full check."""
    root = Path(tempfile.mkdtemp(prefix="glacier-partial-"))
    previous = os.environ.get("GLACIER_CACHE_DIR")
    try:
        os.environ["GLACIER_CACHE_DIR"] = str(root / "cache")
        if examples:
            write_project(root, {})
            files = [root / name for name in SOURCES]
        else:
            files = [Path(p) for p in synthetic.generate(str(root), 30)]
        check([root])
        for index, mutations in edits:
            target = files[index % len(files)]
            target.write_bytes(mutate(target.read_bytes(), mutations))
            assert outcome(check([root])) == outcome(check([root], use_cache=False))
        assert check([root]).cached
    finally:
        if previous is None:
            os.environ.pop("GLACIER_CACHE_DIR", None)
        else:
            os.environ["GLACIER_CACHE_DIR"] = previous
        shutil.rmtree(root, ignore_errors=True)
