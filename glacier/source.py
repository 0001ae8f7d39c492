"""Where things are written: call-site capture, module names, project-relative spans.

The static path (``analyzer``) uses the same helpers for module names, project roots and
payload-type text, so that both paths describe a definition identically.
"""

from __future__ import annotations

import ast
import functools
import linecache
import os
import sys
from dataclasses import dataclass
from types import CodeType, FrameType
from typing import Any

__all__ = [
    "CallSite",
    "call_site",
    "import_target",
    "marked_ancestor",
    "module_name_for",
    "normalize_type_text",
    "parameter_texts",
    "project_root",
    "relative_file",
]

_GLACIER_DIR = os.path.dirname(os.path.abspath(__file__))
_SKIP_FILES = frozenset(
    os.path.normcase(os.path.abspath(path))
    for path in (
        getattr(sys.modules.get(name), "__file__", None) for name in ("typing", "typing_extensions")
    )
    if path
)


@dataclass(frozen=True, slots=True)
class CallSite:
    """The position of the call expression that created an object (1-based line, 0-based col)."""

    filename: str
    line: int
    col: int
    end_line: int
    end_col: int
    globals: dict[str, Any]

    def module(self) -> str:
        return module_name_for(self.filename)

    def variable_for(self, obj: object) -> str | None:
        """The first module-level name bound to ``obj`` in the module that created it."""
        return variable_in(self.globals, obj)


def import_target(package: str, module: str, level: int) -> str | None:
    """The absolute module ``from <level dots><module> import ...`` in a module of ``package``
    reads from (``None``: a relative import reaching above the top package)."""
    if not level:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return None
    parts = parts[: len(parts) - (level - 1)]
    return ".".join([*parts, module] if module else parts)


def call_site(skip_modules: tuple[str, ...] = ()) -> CallSite:
    """The user's call that is constructing a glacier object right now.

    Frames of glacier itself, of ``typing`` (``Dataset[int](...)`` goes through
    ``typing._GenericAlias.__call__``) and of any file under ``skip_modules`` are skipped.
    """
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        path = os.path.normcase(os.path.abspath(filename))
        if not (
            path in _SKIP_FILES
            or path.startswith(_GLACIER_DIR + os.sep)
            or any(path.startswith(s) for s in skip_modules)
        ):
            break
        frame = frame.f_back
    if frame is None:  # pragma: no cover - only from glacier's own frames
        return CallSite("<unknown>", 0, 0, 0, 0, {})
    # the position of the current instruction; not `frame.f_lineno`, which scans the code's
    # line table from its start (quadratic over a module declaring 10,000 datasets)
    positions = _positions(frame.f_code)
    index = frame.f_lasti // 2
    pos = positions[index] if index < len(positions) else (None, None, None, None)
    if pos[0] is not None:
        line, end_line = pos[0], pos[1] or pos[0]
        col, end_col = pos[2] or 0, pos[3] or 0
    else:
        line, col, end_line, end_col = frame.f_lineno or 0, 0, 0, 0
    return CallSite(frame.f_code.co_filename, line, col, end_line, end_col, frame.f_globals)


_Position = tuple[int | None, int | None, int | None, int | None]
_POSITIONS: dict[int, tuple[CodeType, tuple[_Position, ...]]] = {}


def _positions(code: CodeType) -> tuple[_Position, ...]:
    """``code.co_positions()``, listed once per code object: a module declaring 10,000
    datasets asks for one position per declaration, each further into the same code.

    Keyed by identity (hashing a code object hashes all of it); a few at a time are kept.
    """
    known = _POSITIONS.get(id(code))
    if known is not None and known[0] is code:
        return known[1]
    positions = tuple(code.co_positions())
    if len(_POSITIONS) >= 8:
        _POSITIONS.clear()
    _POSITIONS[id(code)] = (code, positions)
    return positions


def variable_in(namespace: dict[str, Any], obj: object) -> str | None:
    for key, value in namespace.items():
        if value is obj and not key.startswith("__"):
            return key
    return None


def marked_ancestor(directory: str) -> str | None:
    """The nearest directory at or above ``directory`` (absolute) holding ``pyproject.toml``
    or ``.git``, or ``None``: how both paths find a project's root."""
    here = directory
    while True:
        if os.path.exists(os.path.join(here, "pyproject.toml")) or os.path.exists(
            os.path.join(here, ".git")
        ):
            return here
        parent = os.path.dirname(here)
        if parent == here:
            return None
        here = parent


@functools.cache
def project_root(path: str) -> str:
    """The nearest ancestor directory of ``path`` holding ``pyproject.toml`` or ``.git``.

    Falls back to the file's own directory when there is none.
    """
    directory = os.path.dirname(os.path.abspath(path))
    return marked_ancestor(directory) or directory


@functools.cache
def relative_file(path: str) -> str:
    """``path`` relative to its project root, in POSIX form."""
    absolute = os.path.abspath(path)
    rel = os.path.relpath(absolute, project_root(absolute))
    return rel.replace(os.sep, "/")


@functools.cache
def module_name_for(path: str) -> str:
    """The dotted module name of a file: its package chain (directories with ``__init__.py``)."""
    absolute = os.path.abspath(path)
    directory, filename = os.path.split(absolute)
    stem = os.path.splitext(filename)[0]
    parts = [] if stem == "__init__" else [stem]
    while os.path.exists(os.path.join(directory, "__init__.py")):
        directory, package = os.path.split(directory)
        parts.append(package)
        if not package:
            break
    return ".".join(reversed(parts)) or stem


def normalize_type_text(text: str) -> str:
    """Canonical source text of a type expression (``ast.unparse``), so spelling is irrelevant."""
    try:
        return ast.unparse(ast.parse(text.strip(), mode="eval").body)
    except SyntaxError:
        return " ".join(text.split())


def payload_text_at(filename: str, line: int, col: int) -> str | None:
    """The payload type written for the ``Dataset`` call starting at ``line``/``col``.

    ``x = Dataset[T](...)`` and ``x: Dataset[T] = Dataset(...)`` give ``T``; an untyped
    dataset gives ``None``. Read from the source file, the way the static path reads it.
    """
    try:
        mtime = os.stat(filename).st_mtime
    except OSError:
        return None
    return _payloads(filename, mtime).get((line, col))


@functools.lru_cache(maxsize=64)
def _payloads(filename: str, mtime: float) -> dict[tuple[int, int], str | None]:
    """Every call of the file by position (line, column) → the payload text it declares.

    Only this index is kept per file, not the syntax tree.
    """
    source = "".join(linecache.getlines(filename))
    try:
        tree = ast.parse(source, filename)
    except SyntaxError:
        return {}
    calls: list[ast.Call] = []
    annotated: dict[int, ast.expr] = {}  # id of a call -> the annotation of its assignment
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            calls.append(node)
        elif isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Call):
            annotated[id(node.value)] = node.annotation
    found: dict[tuple[int, int], str | None] = {}
    for call in calls:
        if (call.lineno, call.col_offset) in found:
            continue
        annotation = annotated.get(id(call))
        if isinstance(call.func, ast.Subscript):
            found[call.lineno, call.col_offset] = ast.unparse(call.func.slice)
        elif isinstance(annotation, ast.Subscript):
            found[call.lineno, call.col_offset] = ast.unparse(annotation.slice)
        else:
            found[call.lineno, call.col_offset] = None
    return found


def def_line(filename: str, first_line: int, name: str) -> tuple[int, int]:
    """Line and 1-based column of the ``def`` (or ``async def``) of function ``name``.

    ``first_line`` is ``co_firstlineno``, the line of the first decorator.
    """
    line = first_line
    while True:
        text = linecache.getline(filename, line)
        if not text:
            return first_line, 1
        stripped = text.lstrip()
        if stripped.startswith(("def ", "async ")) and f" {name}" in stripped.split("(", 1)[0]:
            return line, len(text) - len(stripped) + 1
        line += 1


def parameter_texts(filename: str, line: int, name: str) -> dict[str, tuple[str | None, str]]:
    """Parameter name → (annotation, default) as canonical source text (``ast.unparse``), for
    the parameters with a default of the ``def`` of ``name`` at ``line``; read from the source
    file, the way the static path reads it. Empty when the file cannot be read."""
    try:
        mtime = os.stat(filename).st_mtime
    except OSError:
        return {}
    return _defaults(filename, mtime).get((line, name), {})


@functools.lru_cache(maxsize=64)
def _defaults(
    filename: str, mtime: float
) -> dict[tuple[int, str], dict[str, tuple[str | None, str]]]:
    """Every function of the file by (``def`` line, name) → its parameters with defaults."""
    source = "".join(linecache.getlines(filename))
    try:
        tree = ast.parse(source, filename)
    except SyntaxError:
        return {}
    found: dict[tuple[int, str], dict[str, tuple[str | None, str]]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            continue
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        pairs = list(zip(positional[len(positional) - len(args.defaults) :], args.defaults))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults) if d is not None]
        found[node.lineno, node.name] = {
            arg.arg: (
                _unparsed(arg.annotation) if arg.annotation is not None else None,
                _unparsed(default),
            )
            for arg, default in pairs
        }
    return found


def _unparsed(node: ast.expr) -> str:
    """``ast.unparse``, or ``...`` for an expression too deep to print (as the static path)."""
    try:
        return ast.unparse(node)
    except RecursionError:
        return "..."
