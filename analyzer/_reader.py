"""Read one module with libcst: source text → its ``ModuleSummary`` (``analyzer._summary``).

``summarize(text, module, is_package)`` is a pure function of its arguments (so its result is
cached by content hash); it never imports or runs the module. It parses with libcst's native
parser, computes every node's position in one pass (``analyzer._positions``), then reads the
module-level statements. libcst's tree is lossless, which the analyzer needs where it rewrites
source (``glacier check --fix``); here only positions and names are read.

libcst's tree has no expression contexts: whether a name is loaded or bound is read from where
it sits (an assignment target, a ``for`` target, ``with ... as``, ``:=``, ``del``), and names
that are not expressions in Python's grammar (an attribute's name, a keyword argument's name,
a parameter's, an imported alias's) are never walked. Every walk is iterative: a deep
expression must not exhaust the stack.

Robustness: libcst's native parser recurses on the C stack; it parses in a thread with a large
stack, and a text nested deeper than CPython accepts (200 open brackets) is refused before it
is handed over, with CPython's own message. A syntax error's message is CPython's
(``compile``): the one the runtime path would print when importing the file.
"""

from __future__ import annotations

import re
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal, TypeVar, cast

import libcst as cst

from analyzer._positions import positions
from analyzer._summary import (
    SUPPRESS,
    Attr,
    Call,
    Const,
    Decorator,
    DictLit,
    Expr,
    Function,
    Import,
    ImportAlias,
    ModuleSummary,
    Name,
    Or,
    Other,
    Param,
    Pos,
    StatementSummary,
    Sub,
    TupleLit,
)
from glacier.source import normalize_type_text

__all__ = ["summarize"]

_MAX_DEPTH = 40
_MAX_BRACKETS = 200  # CPython's tokenizer refuses deeper nesting ("too many nested parentheses")
_STACK_SIZE = 256 * 1024 * 1024  # for the parser's and the position pass's recursion
_NOWHERE: Pos = (1, 1, 1, 1)
_T = TypeVar("_T")


# -- entry point --------------------------------------------------------------------------------


def summarize(text: str, module: str, is_package: bool) -> ModuleSummary:
    """Summarise the source ``text`` of module ``module`` (never raises for bad input)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    suppressions = _suppressions(text, lines)

    def failed(detail: str, line: int, column: int) -> ModuleSummary:
        return ModuleSummary(
            module, is_package, (), (detail, line, column), suppressions, len(lines)
        )

    too_deep = _too_deep(text)
    if too_deep is not None:
        return failed("too many nested parentheses", *too_deep)
    try:
        tree, where = _in_big_stack(lambda: _parse(text))
    except cst.ParserSyntaxError as exc:
        return failed(*_syntax_error(text, exc))
    except RecursionError:
        return failed("too deeply nested to parse", 1, 1)
    except Exception as exc:  # noqa: BLE001 - libcst's tokenizer errors, MemoryError...
        return failed(f"libcst cannot read this file: {exc}", 1, 1)
    reader = _Reader(module, is_package, lines, where)
    body = _module_statements(tree)
    reader.guarded = _guarded_imports(body)
    reader.postponed_annotations = any(
        isinstance(node, cst.ImportFrom)
        and not node.relative
        and node.module is not None
        and _dotted(node.module) == "__future__"
        and not isinstance(node.names, cst.ImportStar)
        and any(_dotted(alias.name) == "annotations" for alias in node.names)
        for node in body
    )
    statements: list[StatementSummary] = []
    previous_end = 0
    has_tasks = ".task" in text
    for index, node in enumerate(body):
        try:
            stmt = reader.statement(index, node, previous_end)
            if has_tasks and reader.mentions_task(stmt):
                registrations = reader.registrations(node)
                if registrations:
                    stmt = replace(stmt, registrations=registrations)
        except RecursionError:
            stmt = reader.opaque(index, node, previous_end)
        statements.append(reader.with_codegen_facts(stmt, node))
        previous_end = stmt.end_line
    docstring = _docstring(body)
    return ModuleSummary(
        module, is_package, tuple(statements), None, suppressions, len(lines), docstring
    )


def _docstring(body: list[Any]) -> str | None:
    """``ast.get_docstring(clean=False)``: a string literal as the first statement."""
    if body and type(body[0]) is cst.Expr:
        value = body[0].value
        if type(value) in (cst.SimpleString, cst.ConcatenatedString):
            found = _string(value)
            return found if isinstance(found, str) else None
    return None


def _parse(text: str) -> tuple[cst.Module, dict[int, Pos]]:
    tree = cst.parse_module(text)
    try:
        where = positions(tree)
    except RecursionError:  # a long operator chain: the printer recurses once per operand
        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(max(limit, 100_000))
        try:
            where = positions(tree)
        finally:
            sys.setrecursionlimit(limit)
    return tree, where


def _in_big_stack(work: Callable[[], _T]) -> _T:
    """Run ``work`` in a thread with a large stack; its exception is re-raised here."""
    result: list[_T] = []
    error: list[BaseException] = []

    def run() -> None:
        try:
            result.append(work())
        except BaseException as exc:  # noqa: BLE001 - handed to the caller
            error.append(exc)

    previous = threading.stack_size(_STACK_SIZE)
    try:
        thread = threading.Thread(target=run, name="glacier-parse")
        thread.start()
    finally:
        threading.stack_size(previous)
    thread.join()
    if error:
        raise error[0]
    return result[0]


_BRACKETS = re.compile(r"[()\[\]{}]")


def _too_deep(text: str) -> tuple[int, int] | None:
    """Where brackets nest deeper than CPython allows (line, column), if they do.

    Counted over the whole text, strings and comments included: a text whose brackets never
    nest 200 deep (every real module) is not examined further; otherwise the count is redone
    on the text with strings and comments blanked out.
    """
    if text.count("(") + text.count("[") + text.count("{") <= _MAX_BRACKETS:
        return None
    depth = deepest = 0
    for match in _BRACKETS.finditer(text):
        depth += 1 if match.group() in "([{" else -1
        deepest = max(deepest, depth)
    if deepest <= _MAX_BRACKETS:
        return None
    code = _without_strings(text)
    depth = 0
    for match in _BRACKETS.finditer(code):
        depth += 1 if match.group() in "([{" else -1
        if depth > _MAX_BRACKETS:
            before = code[: match.start()]
            line = before.count("\n") + 1
            column = len(before) - (before.rfind("\n") + 1) + 1
            return line, column
    return None


_STRING_OR_COMMENT = re.compile(
    r"""(?:[rRbBuUfF]{0,2})('''|\"\"\"|'|")(?:\\.|(?!\1).)*?\1|#[^\n]*""", re.DOTALL
)


def _without_strings(text: str) -> str:
    return _STRING_OR_COMMENT.sub(lambda m: re.sub(r"[^\n]", " ", m.group()), text)


def _syntax_error(text: str, exc: cst.ParserSyntaxError) -> tuple[str, int, int]:
    """CPython's message for the error (what importing the file prints); if CPython accepts
    the text, a message saying where libcst stopped."""
    try:
        compile(text, "<module>", "exec", dont_inherit=True, flags=0x400)  # PyCF_ONLY_AST
    except SyntaxError as error:
        return error.msg or "invalid syntax", error.lineno or 1, error.offset or 1
    except (RecursionError, MemoryError, ValueError, OverflowError):
        pass
    # valid Python that libcst's grammar does not cover (`(x): int` in a function body)
    detail = (
        "Python accepts this code but libcst, which reads it, stops here (on this line or the"
        " one before); write that statement another way"
    )
    return detail, exc.raw_line, exc.raw_column + 1


def _suppressions(text: str, lines: list[str]) -> tuple[tuple[int, tuple[str, ...]], ...]:
    if "glacier:" not in text:
        return ()
    found: list[tuple[int, tuple[str, ...]]] = []
    for number, line in enumerate(lines, 1):
        if "glacier:" not in line:
            continue
        match = SUPPRESS.search(line)
        if match:
            codes = tuple(c.strip().upper() for c in (match.group(1) or "").split(",") if c.strip())
            found.append((number, codes))
    return tuple(found)


# -- the tree's shape ---------------------------------------------------------------------------


def _suite(body: cst.BaseSuite) -> list[Any]:
    """The statements of a block, one per Python statement (``a; b`` is two)."""
    return _flatten(body.body)


def _flatten(items: Sequence[Any]) -> list[Any]:
    found: list[Any] = []
    for item in items:
        if isinstance(item, cst.SimpleStatementLine):
            found.extend(item.body)
        else:
            found.append(item)
    return found


def _module_statements(tree: cst.Module) -> list[Any]:
    return _flatten(tree.body)


def _dotted(node: Any) -> str:
    """``a.b.c`` of a ``Name`` / ``Attribute`` chain."""
    parts: list[str] = []
    while isinstance(node, cst.Attribute):
        parts.append(node.attr.value)
        node = node.value
    if isinstance(node, cst.Name):
        parts.append(node.value)
    return ".".join(reversed(parts))


def _is_task_attr(node: Any) -> bool:
    return isinstance(node, cst.Attribute) and node.attr.value == "task"


def _bodies(node: Any) -> list[Any]:
    """The statements directly inside a compound statement, every branch."""
    found: list[Any] = []
    if isinstance(node, (cst.Try, cst.TryStar)):
        found += _suite(node.body)
        for handler in node.handlers:
            found += _suite(handler.body)
        if node.orelse is not None:
            found += _suite(node.orelse.body)
        if node.finalbody is not None:
            found += _suite(node.finalbody.body)
    elif isinstance(node, cst.If):
        found += _suite(node.body)
        orelse = node.orelse
        if isinstance(orelse, cst.If):
            found.append(orelse)
        elif orelse is not None:
            found += _suite(orelse.body)
    elif isinstance(node, (cst.For, cst.While)):
        found += _suite(node.body)
        if node.orelse is not None:
            found += _suite(node.orelse.body)
    elif isinstance(node, cst.With):
        found += _suite(node.body)
    elif isinstance(node, cst.Match):
        for case in node.cases:
            found += _suite(case.body)
    return found


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_BLOCKS = (cst.If, cst.Try, cst.TryStar, cst.With, cst.For, cst.While)


def _catches_import_error(handler: cst.ExceptHandler | cst.ExceptStarHandler) -> bool:
    kinds = handler.type
    if kinds is None:
        return True  # a bare `except:`
    names = [e.value for e in kinds.elements] if isinstance(kinds, cst.Tuple) else [kinds]
    return any(
        (isinstance(n, cst.Name) and n.value in _IMPORT_ERRORS)
        or (isinstance(n, cst.Attribute) and n.attr.value in _IMPORT_ERRORS)
        for n in names
    )


def _guarded_imports(body: list[Any]) -> frozenset[int]:
    """``id``s of the module-level imports in the body of a ``try`` that catches
    ``ImportError`` (or anything broader): the module runs whether or not they succeed."""
    found: set[int] = set()
    stack: list[tuple[Any, bool]] = [(node, False) for node in body if isinstance(node, _BLOCKS)]
    while stack:
        node, guarded = stack.pop()
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            if guarded:
                found.add(id(node))
            continue
        if isinstance(node, (cst.Try, cst.TryStar)):
            inner = guarded or any(_catches_import_error(h) for h in node.handlers)
            stack.extend((child, inner) for child in _suite(node.body))
            for handler in node.handlers:
                stack.extend((child, guarded) for child in _suite(handler.body))
            for extra in (node.orelse, node.finalbody):
                if extra is not None:
                    stack.extend((child, guarded) for child in _suite(extra.body))
        elif isinstance(node, (*_BLOCKS, cst.Match)):
            stack.extend((child, guarded) for child in _bodies(node))
    return frozenset(found)


def _construct(node: Any) -> str | None:
    """The construct a task registration inside ``node`` is in, for GLC007's message."""
    cls = type(node)
    if cls is cst.For:
        return "a `for` loop"
    if cls is cst.While:
        return "a `while` loop"
    if cls is cst.If:
        return "an `if` statement"
    if cls is cst.Try or cls is cst.TryStar:
        return "a `try` statement"
    if cls is cst.With:
        return "a `with` statement"
    if cls is cst.Match:
        return "a `match` statement"
    if cls in _COMPREHENSIONS:
        return "a comprehension"
    if cls is cst.Lambda:
        return "a `lambda`"
    if cls is cst.ClassDef:
        return "a class body"
    return None


_COMPREHENSIONS = frozenset({cst.ListComp, cst.SetComp, cst.DictComp, cst.GeneratorExp})


# -- children: which fields hold expressions, and which of those are assignment targets ---------

# Fields that never hold a name: tokens, whitespace, comments.
_TOKEN_FIELDS = frozenset(
    {
        "lpar", "rpar", "comma", "semicolon", "leading_lines", "lines_after_decorators",
        "header", "footer", "trailing_whitespace", "leading_whitespace", "equal", "colon",
        "dot", "star", "operator", "asynchronous", "lbracket", "rbracket", "lbrace", "rbrace",
        "first_colon", "second_colon", "posonly_ind", "indent", "separator", "conversion",
        "start", "end", "whitespace_between", "trailing_comma", "default_indent",
        "default_newline", "encoding", "has_trailing_newline", "value_str",
    }
)  # fmt: skip
# Names that are not expressions in Python's grammar (strings in ``ast``): never walked.
_NOT_EXPRESSIONS: dict[type, frozenset[str]] = {
    cst.Attribute: frozenset({"attr"}),
    cst.Arg: frozenset({"keyword"}),
    cst.FunctionDef: frozenset({"name"}),
    cst.ClassDef: frozenset({"name"}),
    cst.Param: frozenset({"name"}),
    cst.ExceptHandler: frozenset({"name"}),
    cst.ExceptStarHandler: frozenset({"name"}),
    cst.MatchAs: frozenset({"name"}),
    cst.MatchStar: frozenset({"name"}),
    cst.MatchMapping: frozenset({"rest"}),
    cst.MatchKeywordElement: frozenset({"key"}),
    cst.TypeVar: frozenset({"name"}),
    cst.TypeVarTuple: frozenset({"name"}),
    cst.ParamSpec: frozenset({"name"}),
    cst.Import: frozenset({"names"}),
    cst.ImportFrom: frozenset({"module", "names", "relative"}),
    cst.Global: frozenset({"names"}),
    cst.Nonlocal: frozenset({"names"}),
}
# Fields that are assignment targets (``ast``'s ``Store`` and ``Del`` contexts).
_TARGETS: dict[type, frozenset[str]] = {
    cst.AssignTarget: frozenset({"target"}),
    cst.AnnAssign: frozenset({"target"}),
    cst.AugAssign: frozenset({"target"}),
    cst.For: frozenset({"target"}),
    cst.CompFor: frozenset({"target"}),
    cst.NamedExpr: frozenset({"target"}),
    cst.Del: frozenset({"target"}),
    cst.AsName: frozenset({"name"}),
    cst.TypeAlias: frozenset({"name"}),
}
# Inside a target, these keep it a target (``a, *b = ...``); anything else is read.
_TARGET_CONTAINERS = frozenset({cst.Tuple, cst.List, cst.Element, cst.StarredElement})

_FIELDS: dict[type, tuple[tuple[str, bool], ...]] = {}


def _fields_of(cls: type) -> tuple[tuple[str, bool], ...]:
    found = _FIELDS.get(cls)
    if found is None:
        skip = _NOT_EXPRESSIONS.get(cls, frozenset())
        targets = _TARGETS.get(cls, frozenset())
        found = _FIELDS[cls] = tuple(
            (f.name, f.name in targets)
            for f in fields(cls)
            if f.name not in _TOKEN_FIELDS
            and f.name not in skip
            and not f.name.startswith("whitespace")
        )
    return found


def _push(node: Any, store: bool, stack: list[tuple[Any, bool]]) -> None:
    """Push ``node``'s children with their context (``True``: an assignment target)."""
    keep = store and type(node) in _TARGET_CONTAINERS
    for name, target in _FIELDS.get(type(node)) or _fields_of(type(node)):
        value = getattr(node, name)
        kind = type(value)
        if kind is tuple or kind is list:
            for item in value:
                stack.append((item, keep or target))
        elif value is not None and kind not in _SCALARS:
            stack.append((value, keep or target))


# what a node's field holds when it holds no node (``isinstance(x, CSTNode)`` is an ABC check)
_SCALARS = frozenset({str, bool, int, type(cst.MaybeSentinel.DEFAULT)})


def _children(node: Any) -> list[Any]:
    """Every child that can hold a name, in field order (contexts dropped)."""
    stack: list[tuple[Any, bool]] = []
    _push(node, False, stack)
    return [child for child, _ in stack]


def _names_in(nodes: Iterable[Any]) -> set[str]:
    """The names loaded anywhere in ``nodes``."""
    found: set[str] = set()
    stack: list[tuple[Any, bool]] = [(node, False) for node in nodes if node is not None]
    while stack:
        node, store = stack.pop()
        if type(node) is cst.Name:
            if not store and node.value not in _NAMED_CONSTANTS:
                found.add(node.value)
            continue
        _push(node, store, stack)
    return found


def _bound_names(targets: Sequence[Any]) -> tuple[str, ...]:
    """Names an assignment's targets bind: target by target, each breadth first (the order
    of ``ast.walk``)."""
    names: list[str] = []
    for target in targets:
        queue: list[Any] = [target]
        i = 0
        while i < len(queue):
            node = queue[i]
            i += 1
            if isinstance(node, cst.Element):
                node = node.value  # `ast` has no element wrapper: the value is at this level
            if isinstance(node, cst.Name):
                names.append(node.value)
            elif isinstance(node, (cst.Tuple, cst.List)):
                queue.extend(node.elements)
            elif isinstance(node, cst.StarredElement):
                queue.append(node.value)
    return tuple(dict.fromkeys(names))


def _all_names(nodes: list[Any]) -> set[str]:
    """Every name in ``nodes``, read or assigned (not an attribute's or a keyword's)."""
    found: set[str] = set()
    stack: list[tuple[Any, bool]] = [(node, False) for node in nodes]
    while stack:
        node, store = stack.pop()
        if type(node) is cst.Name:
            if node.value not in _NAMED_CONSTANTS:
                found.add(node.value)
            continue
        _push(node, store, stack)
    return found


def _aliases(node: cst.Import | cst.ImportFrom) -> tuple[ImportAlias, ...]:
    """An import statement's names as written."""
    if isinstance(node, cst.Import):
        found = []
        for alias in node.names:
            name = _dotted(alias.name)
            asname = _dotted(alias.asname.name) if alias.asname is not None else None
            found.append(ImportAlias(False, name, 0, name, asname))
        return tuple(found)
    module = _dotted(node.module) if node.module is not None else ""
    level = len(node.relative)
    if isinstance(node.names, cst.ImportStar):
        return (ImportAlias(True, module, level, "*", None),)
    return tuple(
        ImportAlias(
            True,
            module,
            level,
            _dotted(alias.name),
            _dotted(alias.asname.name) if alias.asname is not None else None,
        )
        for alias in node.names
    )


def _with_parents(modules: set[str]) -> set[str]:
    """``modules`` and their parent packages (importing ``a.b`` runs ``a`` first)."""
    found: set[str] = set()
    for module in modules:
        parts = module.split(".")
        found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return found


def _first_ref(
    refs: dict[tuple[str, str | None], tuple[int, int, int]],
    key: tuple[str, str | None],
    where: tuple[int, int, int],
) -> None:
    """Keep the first place of a reference: source order, ``name.attr`` before ``name``."""
    if key not in refs or where < refs[key]:
        refs[key] = where


def _parameters(params: cst.Parameters) -> list[cst.Param]:
    """Every parameter, in ``ast`` order: positional-only, positional, keyword-only, ``*``, ``**``."""
    found = [*params.posonly_params, *params.params, *params.kwonly_params]
    if isinstance(params.star_arg, cst.Param):
        found.append(params.star_arg)
    if params.star_kwarg is not None:
        found.append(params.star_kwarg)
    return found


def _signature_nodes(params: cst.Parameters, returns: cst.Annotation | None) -> list[Any]:
    nodes: list[Any] = [p.default for p in _parameters(params) if p.default is not None]
    nodes += [p.annotation.annotation for p in _parameters(params) if p.annotation is not None]
    if returns is not None:
        nodes.append(returns.annotation)
    return nodes


# -- the reader ---------------------------------------------------------------------------------


class _Reader:
    def __init__(
        self, module: str, is_package: bool, lines: list[str], where: dict[int, Pos]
    ) -> None:
        self.module = module
        self.is_package = is_package
        self.lines = lines
        self.where = where
        self._in_string = False
        self.postponed_annotations = False  # `from __future__ import annotations`
        self.guarded: frozenset[int] = frozenset()  # ids of guarded import nodes

    def pos(self, node: Any) -> Pos:
        found = self.where.get(id(node))
        if found is None:
            return _NOWHERE
        if node.__class__ in _PARENTHESISED and node.lpar:
            # `ast` counts a tuple's or a generator's own (innermost) parentheses as its own
            first = self.where.get(id(node.lpar[-1]))
            last = self.where.get(id(node.rpar[0]))
            if first is not None and last is not None:
                return (first[0], first[1], last[2], last[3])
        return found

    def _def_pos(self, node: cst.FunctionDef | cst.ClassDef) -> Pos:
        """The ``def``/``class`` (or ``async``) keyword's position, and the name's end."""
        name = self.pos(node.name)
        keyword = "def" if isinstance(node, cst.FunctionDef) else "class"
        gap = (
            node.whitespace_after_def
            if isinstance(node, cst.FunctionDef)
            else (node.whitespace_after_class)
        )
        space = gap.value if isinstance(gap, cst.SimpleWhitespace) else " "
        line, column = name[0], name[1] - len(space.encode()) - len(keyword)
        if isinstance(node, cst.FunctionDef) and node.asynchronous is not None:
            start = self.where.get(id(node.asynchronous))
            if start is not None:
                line, column = start[0], start[1]
        return (line, column, name[2], name[3])

    # task registrations the module level cannot see

    def mentions_task(self, stmt: StatementSummary) -> bool:
        return any(".task" in line for line in self.lines[stmt.start_line - 1 : stmt.end_line])

    def registrations(self, top: Any) -> tuple[tuple[Expr, str], ...]:
        """``X.task(...)(f)`` calls and ``@X.task`` decorators in ``top`` that are not read as
        module-level registrations, each with the construct it is inside (outermost first)."""
        value = top.value if isinstance(top, (cst.Expr, cst.Assign)) else None
        found: list[tuple[Expr, str]] = []
        stack: list[tuple[Any, str | None]] = [(top, None)]
        while stack:
            node, where = stack.pop()
            if (
                isinstance(node, cst.Call)
                and isinstance(node.func, cst.Call)
                and _is_task_attr(node.func.func)
                and node is not value
            ):
                found.append((self.expr(node.func), where or "a larger expression"))
            if isinstance(node, cst.FunctionDef):
                for decorator in node.decorators:
                    expr = decorator.decorator
                    target = expr.func if isinstance(expr, cst.Call) else expr
                    if where is not None and _is_task_attr(target):
                        found.append((self.expr(expr), where))
                    stack.append((expr, where))
                inner: str | None = where or f"the body of function `{node.name.value}`"
                stack.extend((child, inner) for child in _suite(node.body))
                signature = _signature_nodes(node.params, node.returns)
                stack.extend((child, where) for child in signature)
                continue
            inner = where or _construct(node)
            stack.extend((child, inner) for child in _children(node))
        found.sort(key=lambda item: item[0].pos)
        return tuple(found)

    # statements

    def statement(self, index: int, node: Any, previous_end: int) -> StatementSummary:
        pos = self.pos(node)
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)):
            pos = (*self._def_pos(node)[:2], *pos[2:])
        first = pos[0]
        if isinstance(node, (cst.FunctionDef, cst.ClassDef)) and node.decorators:
            first = min(first, *(self.pos(d.decorator)[0] for d in node.decorators))
        start = self._attached_comments(first, previous_end)
        end = pos[2]
        if isinstance(node, (cst.Import, cst.ImportFrom)):
            imports = self._imports(node)
            return StatementSummary(
                index,
                "import",
                pos,
                start,
                end,
                defines=tuple(i.local for i in imports if i.attr != "*"),
                uses=frozenset(),
                imports=imports,
            )
        if isinstance(node, cst.FunctionDef):
            body_names = self._scan_function(node)
            body_names = self._with_definition_names(node, body_names)
            function = self._function(node, body_names)
            uses = set(_names_in(d.decorator for d in node.decorators))
            uses.update(_names_in(_signature_nodes(node.params, node.returns)))
            uses.update(name for name, _ in body_names)
            return StatementSummary(
                index,
                "function",
                pos,
                start,
                end,
                defines=(node.name.value,),
                uses=frozenset(uses),
                function=function,
            )
        if isinstance(node, cst.ClassDef):
            scan = self._scan_block(node)
            return StatementSummary(
                index,
                "class",
                pos,
                start,
                end,
                defines=(node.name.value,),
                uses=frozenset(scan.loads) - {node.name.value},
            )
        if isinstance(node, cst.Assign):
            targets = tuple(t.target.value for t in node.targets if isinstance(t.target, cst.Name))
            unpacked: list[tuple[str, Expr]] = []
            if isinstance(node.value, (cst.Tuple, cst.List)):
                values = [
                    e if type(e) is cst.StarredElement else e.value for e in node.value.elements
                ]
                for assign_target in node.targets:
                    target = assign_target.target
                    if (
                        isinstance(target, (cst.Tuple, cst.List))
                        and len(target.elements) == len(values)
                        and all(
                            isinstance(e, cst.Element) and isinstance(e.value, cst.Name)
                            for e in target.elements
                        )
                    ):
                        unpacked.extend(
                            (cast(cst.Name, cast(cst.Element, e).value).value, self.expr(v))
                            for e, v in zip(target.elements, values, strict=True)
                        )
            return StatementSummary(
                index,
                "assign",
                pos,
                start,
                end,
                defines=_bound_names([t.target for t in node.targets]),
                uses=frozenset(_names_in([node.value])),
                targets=targets,
                value=self.expr(node.value) if not unpacked or targets else None,
                unpacked=tuple(unpacked),
            )
        if isinstance(node, cst.AnnAssign):
            simple = node.target.value if isinstance(node.target, cst.Name) else None
            annotation = node.annotation.annotation
            uses = set(_names_in([annotation]))
            if node.value is not None:
                uses.update(_names_in([node.value]))
            return StatementSummary(
                index,
                "assign",
                pos,
                start,
                end,
                defines=(simple,) if simple and node.value is not None else (),
                uses=frozenset(uses),
                targets=(simple,) if simple and node.value is not None else (),
                value=self.expr(node.value) if node.value is not None else None,
                annotation=self.expr(annotation, payload=True),
            )
        if isinstance(node, cst.Expr):
            return StatementSummary(
                index,
                "expr",
                pos,
                start,
                end,
                defines=(),
                uses=frozenset(_names_in([node.value])),
                value=self.expr(node.value),
            )
        # compound and other statements: if/try/with/for/while/match/augmented assignment...
        scan = self._scan_block(node)
        scan.defines.extend(i.local for i in scan.imports if i.attr != "*")
        return StatementSummary(
            index,
            "other",
            pos,
            start,
            end,
            defines=tuple(dict.fromkeys(scan.defines)),
            uses=frozenset(scan.loads),
            imports=tuple(scan.imports),
            nested_calls=tuple(scan.calls),
            construct=_construct(node) or "a compound statement",
        )

    def opaque(self, index: int, node: Any, previous_end: int) -> StatementSummary:
        """A statement too deeply nested to summarise: only its extent is kept."""
        pos = self.pos(node)
        return StatementSummary(
            index, "other", pos, max(previous_end + 1, pos[0]), pos[2], (), frozenset()
        )

    # what code generation needs (``StatementSummary.binds`` and the fields after it)

    def with_codegen_facts(self, stmt: StatementSummary, top: Any) -> StatementSummary:
        """``stmt`` with the names and imports code generation reads, from one walk over
        ``top`` (iterative: a deeply nested statement cannot exhaust the stack)."""
        loads: set[str] = set()
        stores: set[str] = set()
        local: set[str] = set()  # parameters and comprehension targets, anywhere in it
        walrus: list[str] = []
        refs: dict[tuple[str, str | None], tuple[int, int, int]] = {}  # -> where, first
        imported: set[str] = set()
        where = self.where
        # (node, context): 0 read, 1 assigned, 2 deleted (a name in `del` is neither)
        stack: list[tuple[Any, int]] = [(top, 0)]
        children: list[tuple[Any, bool]] = []
        while stack:
            node, context = stack.pop()
            cls = type(node)
            if cls is cst.Name:
                if node.value in _NAMED_CONSTANTS:
                    continue
                pos = where.get(id(node), _NOWHERE)
                _first_ref(refs, (node.value, None), (pos[0], pos[1], 1))
                if context == 0:
                    loads.add(node.value)
                elif context == 1:
                    stores.add(node.value)
                continue
            if cls is cst.Attribute:
                if type(node.value) is cst.Name and node.value.value not in _NAMED_CONSTANTS:
                    pos = where.get(id(node), _NOWHERE)
                    _first_ref(refs, (node.value.value, node.attr.value), (pos[0], pos[1], 0))
            elif cls is cst.CompFor:
                local.update(_all_names([node.target]))
            elif cls is cst.NamedExpr:
                if type(node.target) is cst.Name:
                    walrus.append(node.target.value)
            elif cls is cst.Import or cls is cst.ImportFrom:
                imported.update(self._imported_names(node))
            elif cls is cst.FunctionDef or cls is cst.Lambda:
                local.update(p.name.value for p in _parameters(node.params))
            children.clear()
            _push(node, context != 0, children)
            deleting = cls is cst.Del or (context == 2 and cls in _TARGET_CONTAINERS)
            stack.extend(
                (child, (2 if deleting else 1) if store else 0) for child, store in children
            )
        binds: set[str]
        aliases: tuple[ImportAlias, ...] = ()
        if isinstance(top, (cst.Import, cst.ImportFrom)):
            aliases = _aliases(top)
            binds = {alias.bound for alias in aliases}
        elif isinstance(top, (cst.FunctionDef, cst.ClassDef)):
            binds = {top.name.value}
        else:
            targets: list[Any] = []
            if isinstance(top, cst.Assign):
                targets = [t.target for t in top.targets]
            elif isinstance(top, (cst.AnnAssign, cst.AugAssign)):
                targets = [top.target]
            binds = _all_names(targets)
            binds.update(walrus)
        if isinstance(top, cst.FunctionDef):
            local |= stores
        return replace(
            stmt,
            binds=tuple(sorted(binds)),
            free_uses=tuple(sorted(loads - local)),
            attr_refs=tuple(sorted(refs, key=refs.__getitem__)),
            module_imports=aliases,
            imported_modules=tuple(sorted(_with_parents(imported))),
        )

    def _imported_names(self, node: cst.Import | cst.ImportFrom) -> list[str]:
        """The modules an import may load (relative ones absolute; unresolvable: none)."""
        aliases = _aliases(node)
        if isinstance(node, cst.Import):
            return [alias.name for alias in aliases]
        base, error = self._absolute(aliases[0].module, aliases[0].level)
        if error is not None or not base:
            return []
        return [base, *(f"{base}.{a.name}" for a in aliases if a.name != "*")]

    def _attached_comments(self, first: int, previous_end: int) -> int:
        line = first
        while line - 1 > previous_end and line - 2 < len(self.lines):
            text = self.lines[line - 2].strip()
            if not text.startswith("#"):
                break
            line -= 1
        return line

    # imports

    def _imports(self, node: cst.Import | cst.ImportFrom) -> tuple[Import, ...]:
        pos = self.pos(node)
        guarded = id(node) in self.guarded
        aliases = _aliases(node)
        if isinstance(node, cst.Import):
            found: list[Import] = []
            for alias in aliases:
                if alias.asname is not None:
                    local = alias.asname
                    found.append(Import(local, alias.name, None, alias.name, pos, None, guarded))
                else:
                    top = alias.bound
                    found.append(Import(top, top, None, alias.name, pos, None, guarded))
            return tuple(found)
        base, error = self._absolute(aliases[0].module, aliases[0].level)
        return tuple(
            Import(alias.asname or alias.name, base, alias.name, base, pos, error, guarded)
            for alias in aliases
        )

    def _absolute(self, module: str | None, level: int) -> tuple[str, str | None]:
        if level == 0:
            return module or "", None
        package = self.module if self.is_package else self.module.rpartition(".")[0]
        parts = package.split(".") if package else []
        if level - 1 > len(parts) or (not parts and level >= 1):
            dots = "." * level
            return dots + (module or ""), "a relative import beyond the top-level package"
        parts = parts[: len(parts) - (level - 1)]
        if module:
            parts.append(module)
        return ".".join(parts), None

    # functions

    def _function(self, node: cst.FunctionDef, body_names: tuple[tuple[str, Pos], ...]) -> Function:
        params: list[Param] = []
        args = node.params
        for param in (*args.posonly_params, *args.params):
            params.append(self._param(param, "positional", param.default is not None))
        for param in args.kwonly_params:
            params.append(self._param(param, "keyword", param.default is not None))
        for extra in (args.star_arg, args.star_kwarg):
            if isinstance(extra, cst.Param):
                params.append(self._param(extra, "var", True))
        decorators = tuple(
            Decorator(self.expr(d.decorator), self.pos(d.decorator)[0], self.pos(d.decorator)[2])
            for d in node.decorators
        )
        returns = node.returns.annotation if node.returns is not None else None
        line, column = self._def_pos(node)[:2]
        keyword = "async def " if node.asynchronous is not None else "def "
        end = column + len(keyword) + len(node.name.value.encode())
        return Function(
            name=node.name.value,
            pos=(line, column, line, end),  # `ast`'s: the keyword, then the name
            decorators=decorators,
            params=tuple(params),
            returns=self.annotation(returns) if returns is not None else None,
            returns_text=self._segment(self.pos(returns)) if returns is not None else None,
            body_names=body_names,
        )

    def _param(self, param: cst.Param, kind: Any, has_default: bool) -> Param:
        annotation = param.annotation.annotation if param.annotation is not None else None
        start = self.pos(param.name)
        # an annotation in parentheses: `ast`'s parameter ends with the closing one
        end = self.pos(param.annotation) if param.annotation is not None else start
        return Param(
            name=param.name.value,
            kind=kind,
            annotation=self.annotation(annotation) if annotation is not None else None,
            annotation_text=self._segment(self.pos(annotation)) if annotation is not None else None,
            has_default=has_default,
            pos=(start[0], start[1], end[2], end[3]),
            # only a parameter with a default can be a run parameter (``ParameterModel``)
            canonical_annotation=(
                _canonical(annotation) if annotation is not None and has_default else None
            ),
            default_text=_canonical(param.default) if param.default is not None else None,
        )

    def _with_definition_names(
        self, node: cst.FunctionDef, body_names: tuple[tuple[str, Pos], ...]
    ) -> tuple[tuple[str, Pos], ...]:
        """Add the names a `def` statement itself loads at module level: a default or a
        decorator that names infrastructure breaks the module wherever tasks run."""
        params = _parameters(node.params)
        roots: list[Any] = [d.decorator for d in node.decorators]
        roots += [p.default for p in params if p.default is not None]
        if not self.postponed_annotations:
            if node.returns is not None:
                roots.append(node.returns.annotation)
            roots += [p.annotation.annotation for p in params if p.annotation is not None]
        found = dict(body_names)
        stack: list[tuple[Any, bool]] = [(root, False) for root in roots]
        while stack:
            child, store = stack.pop()
            if type(child) is cst.Name:
                if not store and child.value not in _NAMED_CONSTANTS:
                    _first(found, child.value, self.pos(child))
                continue
            _push(child, store, stack)
        return tuple(sorted(found.items(), key=lambda item: item[1]))

    def _scan_function(self, function: cst.FunctionDef) -> tuple[tuple[str, Pos], ...]:
        """One walk over a body: the free names it loads.

        Scopes are Python's: a name bound in a nested def, lambda, class or comprehension
        (its target, its parameters) is local there only, so `[b for b in rows]` does not hide
        a module-level `b` the body also uses; a nested def's defaults and decorators run in
        the enclosing scope. First use of each free name, in source order.
        """
        root = scope = _FnScope(None, "function")
        for param in _parameters(function.params):
            root.bound.add(param.name.value)
        scopes = [root]
        where = self.where
        # nodes, and scopes to switch to: entering a nested scope pushes the current one (to
        # come back to), the nested body, then the nested scope (popped first)
        stack: list[Any] = [(node, False) for node in reversed(_suite(function.body))]
        while stack:
            item = stack.pop()
            if type(item) is _FnScope:
                scope = item
                continue
            node, store = item
            cls = type(node)
            if cls is cst.Name:
                if store:
                    scope.bound.add(node.value)
                elif node.value not in _NAMED_CONSTANTS:
                    scope.load(node.value, where.get(id(node), _NOWHERE))
                continue
            if cls not in _SCOPE_NODES:
                if cls is cst.ExceptHandler or cls is cst.ExceptStarHandler:
                    if node.name is not None and isinstance(node.name.name, cst.Name):
                        scope.bound.add(node.name.name.value)
                elif cls is cst.MatchAs or cls is cst.MatchStar:
                    if node.name is not None:
                        scope.bound.add(node.name.value)
                elif cls is cst.Import or cls is cst.ImportFrom:
                    scope.bound.update(alias.bound for alias in _aliases(node))
                elif cls is cst.Global:
                    scope.globals.update(item.name.value for item in node.names)
                elif cls is cst.Nonlocal:
                    scope.nonlocals.update(item.name.value for item in node.names)
                elif cls is cst.MatchMapping and node.rest is not None:
                    scope.bound.add(node.rest.value)
                elif cls is cst.NamedExpr and type(node.target) is cst.Name:
                    owner = scope  # `:=` in a comprehension binds in the enclosing function
                    while owner.kind == "comprehension" and owner.parent is not None:
                        owner = owner.parent
                    owner.bound.add(node.target.value)
                    stack.append((node.value, False))
                    continue
                _push(node, store, stack)
                continue
            inner: _FnScope
            body: list[Any]
            outer: list[Any]
            if cls is cst.ClassDef:
                inner = _FnScope(scope, "class")
                body = _suite(node.body)
                outer = [d.decorator for d in node.decorators]
                outer += [a.value for a in (*node.bases, *node.keywords)]
                scope.bound.add(node.name.value)
            elif cls is cst.FunctionDef or cls is cst.Lambda:
                inner = _FnScope(scope, "function")
                for param in _parameters(node.params):
                    inner.bound.add(param.name.value)
                outer = _signature_nodes(node.params, None)
                if cls is cst.Lambda:
                    body = [node.body]
                else:
                    scope.bound.add(node.name.value)
                    outer += [d.decorator for d in node.decorators]
                    if node.returns is not None:
                        outer.append(node.returns.annotation)
                    body = _suite(node.body)
            else:  # a comprehension: its first iterable is evaluated outside it
                inner = _FnScope(scope, "comprehension")
                body = []
                outer = [node.for_in.iter]
                loop: cst.CompFor | None = node.for_in
                first = True
                while loop is not None:
                    if not first:
                        body.append(loop.iter)
                    first = False
                    body.append(_Target(loop.target))
                    body += [i.test for i in loop.ifs]
                    loop = loop.inner_for_in
                body += [node.key, node.value] if cls is cst.DictComp else [node.elt]
            scopes.append(inner)
            stack.append(scope)
            stack.extend(
                (b.node, True) if type(b) is _Target else (b, False) for b in reversed(body)
            )
            stack.append(inner)
            stack.extend((o, False) for o in reversed(outer))
        # children were created after their parents: resolve innermost scopes first
        module_level: dict[str, Pos] = {}
        for scope in reversed(scopes):
            local = scope.bound - scope.globals - scope.nonlocals
            for name, pos in scope.loads.items():
                if name in scope.globals:
                    _first(module_level, name, pos)
                elif name not in local:
                    if scope.parent is None:
                        _first(module_level, name, pos)
                    else:
                        target = scope.parent
                        # a class body's names are not visible in the scopes nested in it
                        while target.kind == "class" and target.parent is not None:
                            target = target.parent
                        target.load(name, pos)
        free = sorted(module_level.items(), key=lambda item: item[1])
        return tuple(free)

    def _scan_block(self, root: Any) -> _Scan:
        """One walk over a class or compound statement (see ``_Scan``)."""
        scan = _Scan()
        nested_root = isinstance(root, cst.ClassDef)
        stack: list[tuple[Any, bool, bool]] = []
        children: list[tuple[Any, bool]] = []
        _push(root, False, children)
        stack = [(child, store, nested_root) for child, store in children]
        while stack:
            node, store, nested = stack.pop()
            cls = type(node)
            if cls is cst.Name:
                if node.value in _NAMED_CONSTANTS:
                    pass
                elif not store:
                    scan.loads.add(node.value)
                elif not nested:
                    scan.defines.append(node.value)
                continue
            if cls is cst.FunctionDef:
                if not nested:
                    scan.defines.append(node.name.value)
                nested = True
            elif cls is cst.ClassDef or cls is cst.Lambda:
                if cls is cst.ClassDef and not nested:
                    scan.defines.append(node.name.value)
                nested = True
            elif not nested:
                if cls is cst.Import or cls is cst.ImportFrom:
                    scan.imports.extend(self._imports(node))
                elif cls is cst.Call and isinstance(node.func, (cst.Name, cst.Attribute)):
                    call = self.expr(node)
                    if isinstance(call, Call):
                        scan.calls.append(call)
            children.clear()
            _push(node, store, children)
            stack.extend((child, child_store, nested) for child, child_store in children)
        return scan

    # expressions

    def annotation(self, node: Any) -> Expr:
        """An annotation; a string annotation is read as the expression it spells."""
        if isinstance(node, (cst.SimpleString, cst.ConcatenatedString)):
            value = _string(node)
            if isinstance(value, str):
                pos = self.pos(node)
                try:
                    inner = cst.parse_expression(value.strip())
                except (cst.ParserSyntaxError, RecursionError, ValueError, MemoryError):
                    return Other(value, pos)
                outer, self._in_string = self._in_string, True
                try:
                    expr = self.expr(inner)
                finally:
                    self._in_string = outer
                return _relocate(expr, pos)
        return self.expr(node)

    def expr(self, node: Any, depth: int = 0, payload: bool = False) -> Expr:
        """The symbolic form of an expression; ``payload``: keep a subscript's exact type text."""
        pos = self.pos(node)
        if depth > _MAX_DEPTH:
            return Other(self._text(node, pos, 40), pos)
        cls = type(node)
        if cls is cst.Name:
            constant = _NAMED_CONSTANTS.get(node.value, _NOT_CONSTANT)
            if constant is not _NOT_CONSTANT:
                return Const(constant, pos)  # type: ignore[arg-type]
            return Name(node.value, pos)
        if cls is cst.Attribute:
            return Attr(self.expr(node.value, depth + 1), node.attr.value, pos)
        if cls is cst.SimpleString or cls is cst.ConcatenatedString:
            value = _string(node)
            if isinstance(value, str):
                return Const(value, pos)
            return Other(self._text(node, pos), pos)
        if cls is cst.Integer or cls is cst.Float:
            return Const(node.evaluated_value, pos)
        if (  # a negative number literal (`memory_mb=-1`) is a constant too
            cls is cst.UnaryOperation
            and isinstance(node.operator, cst.Minus)
            and type(node.expression) in (cst.Integer, cst.Float)
            and not node.expression.lpar
        ):
            return Const(-node.expression.evaluated_value, pos)
        if cls is cst.Call:
            args: list[Expr] = []
            kwargs: list[tuple[str | None, Expr]] = []
            starred = False
            for arg in node.args:
                if arg.keyword is not None:
                    kwargs.append((arg.keyword.value, self.expr(arg.value, depth + 1)))
                elif arg.star == "**":
                    kwargs.append((None, self.expr(arg.value, depth + 1)))
                elif arg.star == "*":
                    starred = True
                    start, end = self.pos(arg), self.pos(arg.value)
                    span = (start[0], start[1], end[2], end[3])
                    args.append(Other(self._segment(span), span))
                elif type(arg.value) is cst.GeneratorExp and not arg.value.lpar:
                    # `f(x for x in y)`: `ast` gives the generator the call's parentheses
                    func_end, end = self.pos(node.func), pos
                    gap = node.whitespace_after_func
                    width = len(gap.value) if isinstance(gap, cst.SimpleWhitespace) else 0
                    span = (func_end[2], func_end[3] + width, end[2], end[3])
                    args.append(Other(self._text(arg.value, span), span))
                else:
                    args.append(self.expr(arg.value, depth + 1))
            func = self.expr(node.func, depth + 1, payload=True)
            return Call(func, tuple(args), tuple(kwargs), pos, starred)
        if cls is cst.Subscript:
            elements: list[Any] = [e.slice for e in node.slice]
            whole: Any = None  # the node whose text is the slice's, when it is one node
            only = elements[0].value if isinstance(elements[0], cst.Index) else None
            if len(elements) == 1 and isinstance(only, cst.Tuple):
                whole = only  # `x[(a, b)]`: `ast` reads the tuple's elements
                elements = [e if type(e) is cst.StarredElement else e.value for e in only.elements]
            items = tuple(self._slice_item(e, depth) for e in elements)
            if payload or self._in_string:  # the payload type text is what the runtime records
                text = _unparse_slice(node.slice)
            elif whole is not None:
                text = self._segment(self.pos(whole))
            else:
                first, last = self.pos(elements[0]), self.pos(elements[-1])
                comma = node.slice[-1].comma  # `x[a, b,]`: `ast`'s tuple ends with the comma
                if isinstance(comma, cst.Comma) and len(node.slice) > 1:
                    last = self.pos(comma)
                text = self._segment((first[0], first[1], last[2], last[3]))
            return Sub(self.expr(node.value, depth + 1), items, text, pos)
        if cls is cst.Dict and all(type(e) is cst.DictElement for e in node.elements):
            return DictLit(
                tuple(
                    (self.expr(e.key, depth + 1), self.expr(e.value, depth + 1))
                    for e in node.elements
                ),
                pos,
            )
        if cls is cst.Tuple and all(type(e) is cst.Element for e in node.elements):
            return TupleLit(
                tuple(self.expr(e.value, depth + 1) for e in node.elements),
                self._text(node, pos),
                pos,
            )
        if cls is cst.BinaryOperation and isinstance(node.operator, cst.Add):
            joined = _joined_strings(node)
            if joined is not None:  # `"a" + "b"`: a string literal written in parts
                return Const(joined, pos)
        if cls is cst.BinaryOperation and isinstance(node.operator, cst.BitOr):
            return Or(self.expr(node.left, depth + 1), self.expr(node.right, depth + 1), pos)
        return Other(self._text(node, pos), pos)

    def _slice_item(self, element: Any, depth: int) -> Expr:
        """One element of a subscript: an ``Index``'s value, or an expression of a tuple."""
        if isinstance(element, cst.Index):
            if element.star is not None:
                pos = self.pos(element)
                return Other(self._text(element, pos), pos)
            element = element.value
        elif isinstance(element, cst.Slice):
            pos = self.pos(element)
            return Other(self._text(element, pos), pos)
        return self.annotation(element) if depth == 0 else self.expr(element, depth + 1)

    def _text(self, node: Any, pos: Pos, limit: int = 120) -> str:
        if self._in_string or pos is _NOWHERE:
            return _shorten(_unparse(node), limit)
        return self._segment(pos, limit)

    def _segment(self, pos: Pos, limit: int = 120) -> str:
        """Source text at ``pos`` for messages, whitespace collapsed."""
        line, col, end_line, end_col = pos
        end: int | None = end_col - 1
        if end_line - line > 20:
            end_line, end = line + 20, None
        try:
            parts = [self.lines[i - 1] for i in range(line, end_line + 1)]
        except IndexError:
            return "..."
        start = col - 1
        if all(p.isascii() for p in parts):
            if len(parts) == 1:
                text = parts[0][start:end]
            else:
                text = "\n".join([parts[0][start:], *parts[1:-1], parts[-1][:end]])
        else:
            raw = [p.encode() for p in parts]
            if len(raw) == 1:
                data = raw[0][start:end]
            else:
                data = b"\n".join([raw[0][start:], *raw[1:-1], raw[-1][:end]])
            text = data.decode("utf-8", "replace")
        return _shorten(" ".join(text.split()), limit)


_PARENTHESISED = frozenset({cst.Tuple, cst.GeneratorExp})
_NOT_CONSTANT = object()
_NAMED_CONSTANTS: dict[str, object] = {"True": True, "False": False, "None": None}


def _string(node: Any) -> str | bytes | None:
    """The value of a string literal, implicit concatenation included (``None`` for an
    f-string). libcst's ``evaluated_value`` recurses once per part: a generated module with
    thousands of concatenated parts would exhaust the stack."""
    if type(node) is cst.SimpleString:
        return node.evaluated_value
    parts: list[str | bytes] = []
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        if type(current) is cst.ConcatenatedString:
            stack.extend((current.right, current.left))
        elif type(current) is cst.SimpleString:
            parts.append(current.evaluated_value)
        else:
            return None
    if all(isinstance(p, str) for p in parts):
        return "".join(parts)  # type: ignore[arg-type]
    if all(isinstance(p, bytes) for p in parts):
        return b"".join(parts)  # type: ignore[arg-type]
    return None


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _joined_strings(node: cst.BinaryOperation) -> str | None:
    """The value of ``"a" + "b" + ...`` when every operand is a string literal."""
    parts: list[str] = []
    stack: list[Any] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, cst.BinaryOperation) and isinstance(current.operator, cst.Add):
            stack.extend((current.right, current.left))
        elif isinstance(current, (cst.SimpleString, cst.ConcatenatedString)):
            value = _string(current)
            if not isinstance(value, str):
                return None
            parts.append(value)
        else:
            return None
    return "".join(parts)


def _relocate(expr: Expr, pos: Pos) -> Expr:
    """Positions inside a string annotation are those of the string itself."""
    if isinstance(expr, Name):
        return Name(expr.id, pos)
    if isinstance(expr, Attr):
        return Attr(_relocate(expr.value, pos), expr.attr, pos)
    if isinstance(expr, Sub):
        items = tuple(_relocate(i, pos) for i in expr.items)
        return Sub(_relocate(expr.value, pos), items, expr.slice_text, pos)
    if isinstance(expr, Or):
        return Or(_relocate(expr.left, pos), _relocate(expr.right, pos), pos)
    if isinstance(expr, Const):
        return Const(expr.value, pos)
    if isinstance(expr, TupleLit):
        return TupleLit(tuple(_relocate(i, pos) for i in expr.items), expr.text, pos)
    if isinstance(expr, Other):
        return Other(expr.text, pos)
    return expr


# -- canonical text of a type expression (what ``ast.unparse`` prints; the runtime records it) --


def _unparse_slice(elements: Sequence[cst.SubscriptElement]) -> str:
    """A subscript's slice alone: several elements are a tuple (``(str, int)``)."""
    if len(elements) == 1:
        return _unparse(elements[0].slice)
    return "(" + ", ".join(_unparse(e.slice) for e in elements) + ")"


def _unparse(node: Any, depth: int = 0) -> str:
    """``ast.unparse`` of the expression ``node`` for the forms type expressions use; any
    other form is its source text with whitespace collapsed."""
    if depth > _MAX_DEPTH:
        return "..."
    cls = type(node)
    if cls is cst.Name:
        return str(node.value)
    if cls is cst.Attribute:
        return f"{_unparse(node.value, depth + 1)}.{node.attr.value}"
    if cls is cst.Subscript:
        inner = ", ".join(_unparse(e.slice, depth + 1) for e in node.slice)
        return f"{_unparse(node.value, depth + 1)}[{inner}]"
    if cls is cst.Index:
        return ("*" if node.star else "") + _unparse(node.value, depth + 1)
    if cls is cst.Tuple:
        items = [_unparse(e, depth + 1) for e in node.elements]
        return "(" + ", ".join(items) + ("," if len(items) == 1 else "") + ")"
    if cls is cst.List:
        return "[" + ", ".join(_unparse(e, depth + 1) for e in node.elements) + "]"
    if cls is cst.Element:
        return _unparse(node.value, depth + 1)
    if cls is cst.StarredElement:
        return "*" + _unparse(node.value, depth + 1)
    if cls is cst.SimpleString or cls is cst.ConcatenatedString:
        value = _string(node)
        if value is not None:
            return repr(value)
    if cls is cst.Integer or cls is cst.Float or cls is cst.Imaginary:
        return repr(node.evaluated_value)
    if cls is cst.Ellipsis:
        return "..."
    if cls is cst.BinaryOperation:
        right = _unparse(node.right, depth + 1)
        if type(node.right) is cst.BinaryOperation:
            right = f"({right})"  # operators associate to the left
        token = node.operator._get_token()
        return f"{_unparse(node.left, depth + 1)} {token} {right}"
    if cls is cst.Call:
        parts = []
        for arg in node.args:
            prefix = f"{arg.keyword.value}=" if arg.keyword is not None else arg.star
            parts.append(prefix + _unparse(arg.value, depth + 1))
        return f"{_unparse(node.func, depth + 1)}({', '.join(parts)})"
    if cls is cst.UnaryOperation and isinstance(node.operator, cst.Minus):
        return "-" + _unparse(node.expression, depth + 1)
    try:
        text = cst.Module(body=[]).code_for_node(node)
    except RecursionError:
        return "..."
    return " ".join(text.split())


def _canonical(node: cst.CSTNode) -> str:
    """An expression's canonical source text, as the runtime path writes it (``ast.unparse``);
    ``...`` for one too deep to print."""
    try:
        return normalize_type_text(cst.Module(body=[]).code_for_node(node))
    except RecursionError:
        return "..."


# -- scopes -------------------------------------------------------------------------------------


_SCOPE_NODES = frozenset({cst.FunctionDef, cst.Lambda, cst.ClassDef, *_COMPREHENSIONS})


@dataclass(frozen=True, slots=True)
class _Target:
    """A comprehension's target, queued in a walk (its names are bound, not loaded)."""

    node: Any


class _FnScope:
    """A scope inside a function body: the names it binds and the names it loads."""

    __slots__ = ("bound", "globals", "kind", "loads", "nonlocals", "parent")

    def __init__(
        self, parent: _FnScope | None, kind: Literal["function", "class", "comprehension"]
    ) -> None:
        self.parent = parent
        self.kind = kind
        self.bound: set[str] = set()
        self.globals: set[str] = set()
        self.nonlocals: set[str] = set()
        self.loads: dict[str, Pos] = {}

    def load(self, name: str, pos: Pos) -> None:
        _first(self.loads, name, pos)


def _first(found: dict[str, Pos], name: str, pos: Pos) -> None:
    """Keep the earliest position of ``name``."""
    if name not in found or pos < found[name]:
        found[name] = pos


@dataclass(slots=True)
class _Scan:
    """What one walk over a class or compound statement found.

    ``loads``: every name loaded anywhere in it; ``defines``, ``imports``, ``calls``: those at
    module level (not inside a def, class body or lambda).
    """

    loads: set[str] = field(default_factory=set)
    defines: list[str] = field(default_factory=list)
    imports: list[Import] = field(default_factory=list)
    calls: list[Call] = field(default_factory=list)
