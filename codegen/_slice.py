"""Task code: a user's module with its glacier declarations and infrastructure left out.

The analyzer marks every module-level statement as ``task``, ``infrastructure`` or
``glacier``. The slice keeps task statements, replaces the others by a comment line and blank
lines, drops the ``@pipeline.task(...)`` decorators, and removes glacier names from imports
that mix them with task names. Line numbers never move, so tracebacks of a generated runner
point at the user's real file and line.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from glacier.source import import_target

__all__ = ["SlicedModule", "carried_modules", "slice_source"]

_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+$")


def _lines(source: str) -> list[str]:
    """Lines as Python counts them (``\\n``, ``\\r\\n``, ``\\r``), each ending in ``\\n``."""
    return [m.group().rstrip("\r\n") + "\n" for m in _LINE.finditer(source)]


def _blank(lines: list[str], start: int, end: int, note: str) -> None:
    for number in range(start, end + 1):
        if 1 <= number <= len(lines):
            lines[number - 1] = "\n"
    if 1 <= start <= len(lines):
        lines[start - 1] = f"# glacier build: {note}\n"


def _bound_name(alias: Any) -> str:
    """The name a libcst ``ImportAlias`` binds: its ``as`` name, or the first dotted part."""
    import libcst as cst

    if alias.asname is not None:
        return str(alias.asname.name.value)
    full = cst.helpers.get_full_name_for_node(alias.name) or ""
    return full.split(".")[0]


def _without_names(text: str, drop: frozenset[str]) -> str | None:
    """The import statement ``text`` without the names in ``drop``; ``None`` if none remain.

    libcst rewrites the statement in place, so its layout and comments survive (``ast``
    would re-print it on one line).
    """
    import libcst as cst

    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError:
        return None
    if len(module.body) != 1 or not isinstance(module.body[0], cst.SimpleStatementLine):
        return None
    line = module.body[0]
    if len(line.body) != 1 or not isinstance(line.body[0], (cst.Import, cst.ImportFrom)):
        return None
    node = line.body[0]
    if isinstance(node.names, cst.ImportStar):
        return None
    names = [alias for alias in node.names if _bound_name(alias) not in drop]
    if not names:
        return None
    if not (isinstance(node, cst.ImportFrom) and node.lpar is not None):
        # a trailing comma is only valid inside parentheses
        names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    rewritten = line.with_changes(body=[node.with_changes(names=names)])
    return module.with_changes(body=[rewritten]).code


def slice_source(source: str, statements: Iterable[Any]) -> str:
    """The task code of a module whose statements the analyzer classified."""
    return _sliced(source, statements)[0]


def _sliced(source: str, statements: Iterable[Any]) -> tuple[str, set[int]]:
    """The task code, and the first lines of the imports whose names all went."""
    lines = _lines(source)
    emptied: set[int] = set()
    for stmt in statements:
        if stmt.kind in ("glacier", "infrastructure"):
            _blank(lines, stmt.start_line, stmt.end_line, f"{stmt.kind} statement left out")
            continue
        for start, end in stmt.task_decorators:
            _blank(lines, start, end, "task decorator left out")
        if stmt.drop_names:
            drop = frozenset(stmt.drop_names)
            text = "".join(lines[stmt.start_line - 1 : stmt.end_line])
            kept = _without_names(text, drop)
            note = "left out " + ", ".join(sorted(drop))
            _blank(lines, stmt.start_line, stmt.end_line, note)
            if kept is None:
                emptied.add(stmt.start_line)
            else:
                kept_lines = _lines(kept)
                kept_lines[0] = f"{kept_lines[0].rstrip(chr(10))}  # glacier build: {note}\n"
                lines[stmt.start_line - 1 : stmt.start_line - 1 + len(kept_lines)] = kept_lines
    return "".join(lines), emptied


@dataclass(frozen=True, slots=True)
class SlicedModule:
    name: str
    path: str
    """The module's file, absolute."""
    package: bool
    source: str
    imports: frozenset[str] = frozenset()
    """Every module the sliced code's imports may load, parent packages included."""


def _is_package(path: str) -> bool:
    return os.path.basename(path) == "__init__.py"


def _imported(name: str, package: bool, statements: Iterable[Any], emptied: set[int]) -> set[str]:
    """Every module name the imports left in the sliced module may load (absolute).

    The analyzer lists each statement's imports (``imported_modules``): those of task
    statements stay, less the names taken out of mixed imports (``drop_names``).
    """
    found: set[str] = set()
    base = name if package else name.rpartition(".")[0]
    for stmt in statements:
        if stmt.kind != "task":
            continue
        if not stmt.drop_names:
            found.update(stmt.imported_modules)
            continue
        if stmt.start_line in emptied:
            continue
        for alias in stmt.module_imports:
            if alias.bound in stmt.drop_names:
                continue
            if not alias.is_from:
                found.add(alias.name)
                continue
            target = import_target(base, alias.module, alias.level)
            if target:
                found.add(target)
                if alias.name != "*":
                    found.add(f"{target}.{alias.name}")
    closed: set[str] = set()
    for module in found:
        parts = module.split(".")
        closed.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return closed


def carried_modules(modules: Mapping[str, Any], roots: Iterable[str]) -> list[SlicedModule]:
    """The sliced modules a runner needs: ``roots`` and every project module they import.

    ``modules`` maps module names to the analyzer's ``ModuleInfo``. Parent packages come
    along, since importing ``a.b`` runs ``a/__init__.py`` first.
    """
    pending = sorted(set(roots))
    seen: dict[str, SlicedModule] = {}
    while pending:
        name = pending.pop()
        if name in seen:
            continue
        parts = name.split(".")
        candidates = [".".join(parts[:i]) for i in range(1, len(parts))]
        pending.extend(c for c in candidates if c in modules and c not in seen)
        info = modules.get(name)
        if info is None:
            continue
        path = os.path.abspath(info.path)
        source, emptied = _sliced(info.source, info.statements)
        package = _is_package(path)
        imports = frozenset(_imported(name, package, info.statements, emptied))
        seen[name] = SlicedModule(name, path, package, source, imports)
        pending.extend(m for m in sorted(imports) if m in modules and m not in seen)
    return [seen[k] for k in sorted(seen)]
