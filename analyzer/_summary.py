"""What the analyzer keeps of one module: a compact, picklable summary of its statements.

A ``ModuleSummary`` is made by ``analyzer._reader.summarize`` (libcst) from a file's text and
module name, and cached by content hash (``analyzer._cache``): a re-check loads summaries and
never parses. It holds only what the linker and code generation need: imports, the simple
assignments and calls at module level (as small symbolic expressions), function signatures,
decorators, the names each statement binds and uses, and positions (line and UTF-8 byte
column, as the runtime path records them); whether an import is guarded (``try`` / ``except
ImportError``); the module's docstring (``description=__doc__``); and task registrations the
module level does not see (``X.task(...)(f)`` in a loop, a comprehension, a block or a
function body, ``@X.task`` on a nested ``def``), each with the construct it is inside.

This module imports neither libcst nor ``ast``: loading a cached summary costs no parser.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "SUMMARY_CLASSES",
    "SUPPRESS",
    "Attr",
    "Call",
    "Const",
    "Decorator",
    "DictLit",
    "Expr",
    "Function",
    "Import",
    "ImportAlias",
    "ModuleSummary",
    "Name",
    "Or",
    "Other",
    "Param",
    "Pos",
    "StatementSummary",
    "Sub",
    "TupleLit",
]

Pos = tuple[int, int, int, int]  # line, column (1-based, UTF-8 bytes), end line, end column

SUPPRESS = re.compile(r"#\s*glacier:\s*ignore(?:\[([A-Za-z0-9_,\s]*)\])?")


# -- symbolic expressions -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Name:
    id: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Attr:
    value: Expr
    attr: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Call:
    func: Expr
    args: tuple[Expr, ...]
    kwargs: tuple[tuple[str | None, Expr], ...]
    pos: Pos
    starred: bool = False  # *args present: positions of later arguments are unknown


@dataclass(frozen=True, slots=True)
class Sub:
    """``value[slice]``; ``items`` are the slice's elements, ``slice_text`` its source text."""

    value: Expr
    items: tuple[Expr, ...]
    slice_text: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Const:
    value: str | int | float | bool | None
    pos: Pos


@dataclass(frozen=True, slots=True)
class Or:
    """``left | right`` (a union in an annotation)."""

    left: Expr
    right: Expr
    pos: Pos


@dataclass(frozen=True, slots=True)
class DictLit:
    """A ``{key: value}`` display (environment tags)."""

    items: tuple[tuple[Expr, Expr], ...]
    pos: Pos


@dataclass(frozen=True, slots=True)
class TupleLit:
    """A tuple display without starred items (``retry_on=(TimeoutError, OSError)``); ``text``
    is its source text, as ``Other`` would give it."""

    items: tuple[Expr, ...]
    text: str
    pos: Pos


@dataclass(frozen=True, slots=True)
class Other:
    """Any other expression; ``text`` is its (shortened) source text, for messages."""

    text: str
    pos: Pos


Expr = Name | Attr | Call | Sub | Const | Or | DictLit | TupleLit | Other


# -- statements ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Import:
    """One name an import binds.

    ``import a.b`` binds ``a`` to module ``a`` (``module="a"``, ``attr=None``) and loads
    ``a.b`` (``loads``); ``from m import x as y`` binds ``y`` to attribute ``x`` of ``m``.
    Relative imports are already absolute here; ``error`` says why one could not be.
    """

    local: str
    module: str
    attr: str | None
    loads: str
    pos: Pos
    error: str | None = None
    guarded: bool = False  # in the body of a `try` whose handler catches `ImportError`


@dataclass(frozen=True, slots=True)
class ImportAlias:
    """One name of a module-level import statement, as written.

    ``import a.b as c``: ``is_from=False``, ``module="a.b"``, ``name="a.b"``, ``asname="c"``;
    ``from ..m import x as y``: ``is_from=True``, ``module="m"`` (``""`` for ``from . import``),
    ``level=2``, ``name="x"`` (``"*"`` for a star), ``asname="y"``. Nothing is resolved here:
    code generation re-prints imports from these.
    """

    is_from: bool
    module: str
    level: int
    name: str
    asname: str | None

    @property
    def bound(self) -> str:
        """The name the import binds: its ``as`` name, or the first part of a dotted name."""
        return self.asname or self.name.split(".")[0]


@dataclass(frozen=True, slots=True)
class Param:
    name: str
    kind: Literal["positional", "keyword", "var"]
    annotation: Expr | None
    annotation_text: str | None
    has_default: bool
    pos: Pos
    # canonical source text (``glacier.source.normalize_type_text``) for the model's
    # ``ParameterModel``: the annotation, and the default when there is one
    canonical_annotation: str | None = None
    default_text: str | None = None


@dataclass(frozen=True, slots=True)
class Decorator:
    expr: Expr
    start_line: int
    end_line: int


@dataclass(frozen=True, slots=True)
class Function:
    name: str
    pos: Pos  # the `def` (or `async`) keyword's line and column
    decorators: tuple[Decorator, ...]
    params: tuple[Param, ...]
    returns: Expr | None
    returns_text: str | None
    # free names the function loads, first use of each: its body's, and those evaluated when
    # the `def` runs (decorators, defaults, annotations unless postponed)
    body_names: tuple[tuple[str, Pos], ...]


@dataclass(frozen=True, slots=True)
class StatementSummary:
    index: int
    kind: Literal["import", "assign", "expr", "function", "class", "other"]
    pos: Pos  # the statement itself (a function's `def` line, not its decorators)
    start_line: int  # with decorators and directly attached comments
    end_line: int
    defines: tuple[str, ...]
    uses: frozenset[str]
    imports: tuple[Import, ...] = ()
    targets: tuple[str, ...] = ()  # simple-name targets of an assignment, in order
    value: Expr | None = None
    annotation: Expr | None = None  # of an annotated assignment
    function: Function | None = None
    nested_calls: tuple[Call, ...] = ()  # calls in compound statements' module-level code
    unpacked: tuple[tuple[str, Expr], ...] = ()  # `a, b = x, y`: each name and its value
    # task registrations not at module level (``X.task(...)`` called on a function, or a
    # ``@X.task`` decorator): the ``X.task...`` expression and the construct it is inside
    registrations: tuple[tuple[Expr, str], ...] = ()
    construct: str = ""  # an "other" statement's kind, for messages ("a `for` loop")
    # What code generation needs, so that it never parses the source again (one more walk,
    # ``analyzer._reader._Reader.with_codegen_facts``):
    # ``binds``: the names the statement binds at module level, sorted: an import's names, a
    # def's or class's name, every name in an assignment's targets (nested, subscripted or
    # attribute targets included: ``a.b = 1`` binds ``a``), the targets of ``:=`` anywhere
    # (a compound statement binds only those);
    binds: tuple[str, ...] = ()
    # ``free_uses``: names loaded anywhere in it, minus the parameters of every def and lambda
    # in it, the targets of its comprehensions and, in a def, the names stored in its body;
    free_uses: tuple[str, ...] = ()
    # ``attr_refs``: ``(name, attr)`` for each ``name.attr`` and ``(name, None)`` for each bare
    # ``name`` in it (any context), first occurrence of each, in source order (``env.s3``
    # before the ``env`` in it): the first environment written is the one a statement that
    # uses several goes to (and that is reported);
    attr_refs: tuple[tuple[str, str | None], ...] = ()
    # ``module_imports``: a module-level import statement's names, in order;
    module_imports: tuple[ImportAlias, ...] = ()
    # ``imported_modules``: every module an import anywhere in it (a def's body, an ``if``)
    # may load, its parent packages included, sorted; relative imports made absolute (those
    # that cannot be, reaching above the top-level package, left out)
    imported_modules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModuleSummary:
    name: str
    is_package: bool
    statements: tuple[StatementSummary, ...]
    error: tuple[str, int, int] | None  # syntax error: detail, line, column
    suppressions: tuple[tuple[int, tuple[str, ...]], ...]  # line -> codes (empty: all)
    line_count: int
    docstring: str | None = None  # the module's ``__doc__``


# A cache loads ~100,000 of these per 1,000 modules: rebuilding each from a tuple of its fields
# (``cls(*fields)``) unpickles twice as fast as the default slotted-dataclass ``__setstate__``,
# and names only these classes, which the cache's restricted unpickler allows.
SUMMARY_CLASSES: tuple[type, ...] = (
    Name, Attr, Call, Sub, Const, Or, DictLit, TupleLit, Other,
    Import, Param, Decorator, Function, StatementSummary, ModuleSummary, ImportAlias,
)  # fmt: skip


def _install_reduce(cls: type) -> None:
    names = tuple(cls.__dataclass_fields__)  # type: ignore[attr-defined]

    def __reduce__(self: object) -> tuple[type, tuple[object, ...]]:
        return cls, tuple([getattr(self, name) for name in names])

    cls.__reduce__ = __reduce__  # type: ignore[assignment,method-assign]


for _cls in SUMMARY_CLASSES:
    _install_reduce(_cls)
