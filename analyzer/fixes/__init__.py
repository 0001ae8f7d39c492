"""``glacier check --fix``: libcst codemods for the findings whose fix is mechanical.

One small fixer per code, registered by code in :data:`FIXERS` (as Fixit's rules are): it
says which node of the file carries a finding (``matches``, given the node and the finding's
span) and what that node becomes (``replace``). The engine parses each file once with libcst,
locates the nodes by position (``PositionProvider``), replaces them in one pass, and prints
the module back: everything it did not replace (comments, blank lines, quotes, layout) comes
out byte for byte. A file that does not parse is never touched; files are written atomically.

This package imports libcst: only ``glacier check --fix`` / ``--diff`` load it.
"""

from __future__ import annotations

import difflib
import os
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar, TypeVar, cast

import libcst as cst
from libcst.metadata import CodeRange, MetadataWrapper, PositionProvider

from analyzer.diagnostics import Diagnostic

CSTNodeT = TypeVar("CSTNodeT", bound=cst.CSTNode)

__all__ = [
    "CASE_HEADER",
    "FIXERS",
    "FileFix",
    "Fixer",
    "Span",
    "collect_fixes",
    "fix_source",
    "register",
    "unified_diff",
    "write_fixes",
]


@dataclass(frozen=True, slots=True)
class Span:
    """A finding's span in libcst's terms: lines 1-based, columns 0-based in characters."""

    line: int
    column: int
    end_line: int
    end_column: int

    def equals(self, where: CodeRange) -> bool:
        return (where.start.line, where.start.column, where.end.line, where.end.column) == (
            self.line,
            self.column,
            self.end_line,
            self.end_column,
        )

    def inside(self, where: CodeRange) -> bool:
        return (where.start.line, where.start.column) <= (self.line, self.column) and (
            self.end_line,
            self.end_column,
        ) <= (where.end.line, where.end.column)


class Fixer:
    """Fixes the findings of one code. Subclasses set ``code`` and ``cases`` and implement
    both methods.

    ``cases``: ``(before, after)`` pairs run by ``tests/test_fixes.py`` (Fixit's
    ``VALID``/``INVALID``): the module ``CASE_HEADER + before``, checked and fixed, is exactly
    ``CASE_HEADER + after`` (``after == before``: nothing to fix there).
    """

    code: ClassVar[str]
    cases: ClassVar[tuple[tuple[str, str], ...]]

    def matches(
        self, node: cst.CSTNode, span: Span, positions: Mapping[cst.CSTNode, CodeRange]
    ) -> bool:
        """Whether ``node`` is the one the finding at ``span`` is about."""
        raise NotImplementedError

    def replace(
        self, node: cst.CSTNode, findings: Sequence[tuple[Span, Diagnostic]], source: str
    ) -> cst.CSTNode | cst.RemovalSentinel:
        """What ``node`` (already updated below it) becomes, given every finding it carries.

        ``source`` is the text of the original node's first line, for span arithmetic.
        """
        raise NotImplementedError


CASE_HEADER = """\
from glacier import Dataset, ObjectStorage, Pipeline

pipeline = Pipeline(name="etl")
raw = Dataset(name="raw", storage=ObjectStorage(bucket="landing"))
out = Dataset(name="out", storage=ObjectStorage(bucket="results"))

"""

FIXERS: dict[str, Fixer] = {}


def register(cls: type[Fixer]) -> type[Fixer]:
    if cls.code in FIXERS:
        raise ValueError(f"duplicate fixer for {cls.code}")
    FIXERS[cls.code] = cls()
    return cls


@dataclass(frozen=True, slots=True)
class FileFix:
    """The new content of one file, and the findings it fixes."""

    path: str  # absolute
    file: str  # as the diagnostics name it (root-relative)
    before: bytes
    after: bytes
    fixed: int  # how many findings the change fixes


def fix_source(source: str | bytes, diagnostics: Iterable[Diagnostic]) -> tuple[str | bytes, int]:
    """``source`` with the fixable ``diagnostics`` (all of one file) fixed, and how many were.

    ``source`` unchanged (and 0) when it does not parse or nothing applies. Given bytes, the
    result is bytes in the file's own encoding (libcst honours PEP 263 and a BOM).
    """
    wanted = [d for d in diagnostics if d.fixable and d.code in FIXERS]
    if not wanted:
        return source, 0
    try:
        module = cst.parse_module(source)
    except (cst.ParserSyntaxError, RecursionError, ValueError):
        return source, 0
    lines = module.code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    wrapper = MetadataWrapper(module, unsafe_skip_copy=True)
    positions = wrapper.resolve(PositionProvider)
    by_line: dict[int, list[tuple[Span, Diagnostic]]] = {}
    for d in wanted:
        span = _span(lines, d)
        if span is not None:
            by_line.setdefault(span.line, []).append((span, d))
    targets: dict[cst.CSTNode, list[tuple[Span, Diagnostic]]] = {}
    claimed: set[Diagnostic] = set()
    for node, where in positions.items():  # a finding's node starts on the finding's line
        for span, d in by_line.get(where.start.line, ()):
            if d in claimed or not span.inside(where):
                continue
            if FIXERS[d.code].matches(node, span, positions):
                targets.setdefault(node, []).append((span, d))
                claimed.add(d)
    if not targets:
        return source, 0
    first_lines = {node: lines[positions[node].start.line - 1] for node in targets}
    fixed = module.visit(_Replace(targets, first_lines))
    assert isinstance(fixed, cst.Module)
    count = sum(len(found) for found in targets.values())
    if isinstance(source, bytes):
        return fixed.bytes, count
    return fixed.code, count


def _span(lines: list[str], d: Diagnostic) -> Span | None:
    """The diagnostic's span with its UTF-8 byte columns turned into character columns."""
    if not 1 <= d.line <= d.end_line <= len(lines):
        return None

    def column(line: int, byte_column: int) -> int:
        return len(lines[line - 1].encode("utf-8")[: byte_column - 1].decode("utf-8", "ignore"))

    return Span(d.line, column(d.line, d.column), d.end_line, column(d.end_line, d.end_column))


class _Replace(cst.CSTTransformer):
    def __init__(
        self,
        targets: Mapping[cst.CSTNode, list[tuple[Span, Diagnostic]]],
        first_lines: Mapping[cst.CSTNode, str],
    ) -> None:
        super().__init__()
        self.targets = targets
        self.first_lines = first_lines

    def on_leave(
        self, original_node: CSTNodeT, updated_node: CSTNodeT
    ) -> CSTNodeT | cst.RemovalSentinel | cst.FlattenSentinel[CSTNodeT]:
        found = self.targets.get(original_node)
        if found is None:
            return updated_node
        fixer = FIXERS[found[0][1].code]
        replaced = fixer.replace(updated_node, found, self.first_lines[original_node])
        # a fixer may change a node's type (`tuple[a]` becomes the name `a`)
        return cast(CSTNodeT, replaced) if isinstance(replaced, cst.CSTNode) else replaced


def collect_fixes(root: str, diagnostics: Iterable[Diagnostic]) -> list[FileFix]:
    """The files the fixable ``diagnostics`` change, read afresh; files that have a syntax
    error or cannot be read (``GLC001``, ``GLC002``) are left alone."""
    by_file: dict[str, list[Diagnostic]] = {}
    broken: set[str] = set()
    for d in diagnostics:
        if d.code in ("GLC001", "GLC002"):
            broken.add(d.path)
        elif d.fixable and d.code in FIXERS:
            by_file.setdefault(d.path, []).append(d)
    planned = []
    for file, found in sorted(by_file.items()):
        if file in broken:
            continue
        path = os.path.join(root, *file.split("/"))
        try:
            with open(path, "rb") as handle:
                before = handle.read()
        except OSError:
            continue
        after, count = fix_source(before, found)
        assert isinstance(after, bytes)
        if count and after != before:
            planned.append(FileFix(path, file, before, after, count))
    return planned


def write_fixes(fixes: Iterable[FileFix]) -> None:
    """Write each file atomically (a temporary file beside it, then a rename), keeping its
    permissions. A file changed since it was read is skipped."""
    for fix in fixes:
        try:
            with open(fix.path, "rb") as handle:
                if handle.read() != fix.before:
                    continue
            mode = os.stat(fix.path).st_mode
        except OSError:
            continue
        directory = os.path.dirname(fix.path)
        descriptor, temporary = tempfile.mkstemp(
            dir=directory, prefix=f".{os.path.basename(fix.path)}.", suffix=".tmp"
        )
        try:
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(fix.after)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(temporary, mode & 0o7777)
            os.replace(temporary, fix.path)
        except BaseException:
            if os.path.exists(temporary):
                os.unlink(temporary)
            raise


def unified_diff(fix: FileFix) -> str:
    """The change to one file as a unified diff (``--- a/file`` / ``+++ b/file``)."""
    before = fix.before.decode("utf-8", "replace").splitlines(keepends=True)
    after = fix.after.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, f"a/{fix.file}", f"b/{fix.file}")
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


# the fixers register themselves on import
from analyzer.fixes import _single_output, _task_call, _unused_suppression  # noqa: F401
