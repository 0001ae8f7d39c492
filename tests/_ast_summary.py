"""The analyzer's former reader, on the stdlib ``ast``: the reference the libcst reader
(``analyzer._reader``) is compared with, summary for summary, on real code
(``tests/test_reader_equivalence.py``). Kept only for that comparison.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field, replace
from typing import Any

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

_MAX_DEPTH = 40

# -- entry point --------------------------------------------------------------------------------


def summarize(text: str, module: str, is_package: bool) -> ModuleSummary:
    """Summarise the source ``text`` of module ``module`` (never raises for bad input)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    suppressions = _suppressions(text, lines)
    try:
        tree = ast.parse(text, type_comments=False)
    except SyntaxError as exc:
        detail = exc.msg or "invalid syntax"
        return ModuleSummary(
            module,
            is_package,
            (),
            (detail, exc.lineno or 1, (exc.offset or 1)),
            suppressions,
            len(lines),
        )
    except (RecursionError, MemoryError, ValueError, OverflowError) as exc:
        detail = "too deeply nested to parse" if isinstance(exc, RecursionError) else str(exc)
        return ModuleSummary(module, is_package, (), (detail, 1, 1), suppressions, len(lines))
    reader = _Reader(module, is_package, lines)
    reader.guarded = _guarded_imports(tree.body)
    reader.postponed_annotations = any(
        isinstance(node, ast.ImportFrom)
        and node.module == "__future__"
        and any(alias.name == "annotations" for alias in node.names)
        for node in tree.body
    )
    statements: list[StatementSummary] = []
    previous_end = 0
    has_tasks = ".task" in text
    for index, node in enumerate(tree.body):
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
    docstring = ast.get_docstring(tree, clean=False)
    return ModuleSummary(
        module, is_package, tuple(statements), None, suppressions, len(lines), docstring
    )


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


def _pos(node: ast.AST) -> Pos:
    line = getattr(node, "lineno", 1) or 1
    col = getattr(node, "col_offset", 0) or 0
    end_line = getattr(node, "end_lineno", None) or line
    end_col = getattr(node, "end_col_offset", None)
    return (line, col + 1, end_line, (end_col if end_col is not None else col) + 1)


def _def_pos(node: ast.FunctionDef | ast.AsyncFunctionDef) -> Pos:
    """From ``def`` (or ``async``) to the end of the function's name, on the ``def`` line."""
    keyword = len("async def ") if isinstance(node, ast.AsyncFunctionDef) else len("def ")
    column = node.col_offset + 1
    return (node.lineno, column, node.lineno, column + keyword + len(node.name.encode()))


def _text(node: ast.AST, limit: int = 120) -> str:
    try:
        text = ast.unparse(node)
    except (RecursionError, ValueError, AttributeError, TypeError):
        return "..."
    return text if len(text) <= limit else text[: limit - 3] + "..."


_IMPORT_ERRORS = frozenset({"ImportError", "ModuleNotFoundError", "Exception", "BaseException"})
_BLOCKS = (ast.If, ast.Try, ast.TryStar, ast.With, ast.AsyncWith, ast.For, ast.AsyncFor, ast.While)


def _catches_import_error(handler: ast.ExceptHandler) -> bool:
    kinds = handler.type
    if kinds is None:
        return True  # a bare `except:`
    names = kinds.elts if isinstance(kinds, ast.Tuple) else [kinds]
    return any(
        (isinstance(n, ast.Name) and n.id in _IMPORT_ERRORS)
        or (isinstance(n, ast.Attribute) and n.attr in _IMPORT_ERRORS)
        for n in names
    )


def _guarded_imports(body: list[ast.stmt]) -> frozenset[int]:
    """``id``s of the module-level imports in the body of a ``try`` that catches
    ``ImportError`` (or anything broader): the module runs whether or not they succeed."""
    found: set[int] = set()
    stack: list[tuple[ast.stmt, bool]] = [
        (node, False) for node in body if isinstance(node, _BLOCKS)
    ]
    while stack:
        node, guarded = stack.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            if guarded:
                found.add(id(node))
            continue
        if isinstance(node, (ast.Try, ast.TryStar)):
            inner = guarded or any(_catches_import_error(h) for h in node.handlers)
            stack.extend((child, inner) for child in node.body)
            for handler in node.handlers:
                stack.extend((child, guarded) for child in handler.body)
            stack.extend((child, guarded) for child in (*node.orelse, *node.finalbody))
        elif isinstance(node, _BLOCKS):
            stack.extend((child, guarded) for child in (*node.body, *getattr(node, "orelse", ())))
        elif isinstance(node, ast.Match):
            stack.extend((child, guarded) for case in node.cases for child in case.body)
    return frozenset(found)


# the construct a task registration is inside, by the class of the node that makes it
_CONSTRUCTS: dict[type[ast.AST], str] = {
    ast.For: "a `for` loop",
    ast.AsyncFor: "a `for` loop",
    ast.While: "a `while` loop",
    ast.If: "an `if` statement",
    ast.Try: "a `try` statement",
    ast.TryStar: "a `try` statement",
    ast.With: "a `with` statement",
    ast.AsyncWith: "a `with` statement",
    ast.Match: "a `match` statement",
    ast.ListComp: "a comprehension",
    ast.SetComp: "a comprehension",
    ast.DictComp: "a comprehension",
    ast.GeneratorExp: "a comprehension",
    ast.Lambda: "a `lambda`",
    ast.ClassDef: "a class body",
}


def _is_task_attr(node: ast.AST) -> bool:
    return isinstance(node, ast.Attribute) and node.attr == "task"


# -- the reader ---------------------------------------------------------------------------------

_ASSIGNS = (ast.Assign, ast.AnnAssign, ast.AugAssign)
_DEFS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


class _Reader:
    def __init__(self, module: str, is_package: bool, lines: list[str]) -> None:
        self.module = module
        self.is_package = is_package
        self.lines = lines
        self._in_string = False
        self.postponed_annotations = False  # `from __future__ import annotations`
        self.guarded: frozenset[int] = frozenset()  # ids of guarded import nodes

    # task registrations the module level cannot see

    def mentions_task(self, stmt: StatementSummary) -> bool:
        return any(".task" in line for line in self.lines[stmt.start_line - 1 : stmt.end_line])

    def registrations(self, top: ast.stmt) -> tuple[tuple[Expr, str], ...]:
        """``X.task(...)(f)`` calls and ``@X.task`` decorators in ``top`` that are not read as
        module-level registrations, each with the construct it is inside (outermost first)."""
        value = top.value if isinstance(top, (ast.Expr, ast.Assign)) else None
        found: list[tuple[Expr, str]] = []
        stack: list[tuple[ast.AST, str | None]] = [(top, None)]
        while stack:
            node, where = stack.pop()
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Call)
                and _is_task_attr(node.func.func)
                and node is not value
            ):
                found.append((self.expr(node.func), where or "a larger expression"))
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                for decorator in node.decorator_list:
                    target = decorator.func if isinstance(decorator, ast.Call) else decorator
                    if where is not None and _is_task_attr(target):
                        found.append((self.expr(decorator), where))
                    stack.append((decorator, where))
                inner: str | None = where or f"the body of function `{node.name}`"
                stack.extend((child, inner) for child in node.body)
                signature = _signature_nodes(node.args, node.returns)
                stack.extend((child, where) for child in signature)
                continue
            inner = where or _CONSTRUCTS.get(type(node))
            stack.extend((child, inner) for child in _children(node))
        found.sort(key=lambda item: item[0].pos)
        return tuple(found)

    # statements

    def statement(self, index: int, node: ast.stmt, previous_end: int) -> StatementSummary:
        first = node.lineno
        if isinstance(node, _DEFS) and node.decorator_list:
            first = min(first, *(d.lineno for d in node.decorator_list))
        start = self._attached_comments(first, previous_end)
        end = node.end_lineno or node.lineno
        pos = _pos(node)
        if isinstance(node, (ast.Import, ast.ImportFrom)):
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
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            body_names = self._scan_function(node)
            body_names = self._with_definition_names(node, body_names)
            function = self._function(node, body_names)
            uses = set(_names_in(node.decorator_list))
            uses.update(_names_in(_signature_nodes(node.args, node.returns)))
            uses.update(name for name, _ in body_names)
            return StatementSummary(
                index,
                "function",
                pos,
                start,
                end,
                defines=(node.name,),
                uses=frozenset(uses),
                function=function,
            )
        if isinstance(node, ast.ClassDef):
            scan = self._scan_block(node)
            return StatementSummary(
                index,
                "class",
                pos,
                start,
                end,
                defines=(node.name,),
                uses=frozenset(scan.loads) - {node.name},
            )
        if isinstance(node, ast.Assign):
            targets = tuple(t.id for t in node.targets if isinstance(t, ast.Name))
            unpacked: list[tuple[str, Expr]] = []
            if isinstance(node.value, (ast.Tuple, ast.List)):
                for target in node.targets:
                    if (
                        isinstance(target, (ast.Tuple, ast.List))
                        and len(target.elts) == len(node.value.elts)
                        and all(isinstance(e, ast.Name) for e in target.elts)
                    ):
                        unpacked.extend(
                            (e.id, self.expr(v))  # type: ignore[attr-defined]
                            for e, v in zip(target.elts, node.value.elts, strict=True)
                        )
            return StatementSummary(
                index,
                "assign",
                pos,
                start,
                end,
                defines=_bound_names(node.targets),
                uses=frozenset(_names_in([node.value])),
                targets=targets,
                value=self.expr(node.value) if not unpacked or targets else None,
                unpacked=tuple(unpacked),
            )
        if isinstance(node, ast.AnnAssign):
            simple = node.target.id if isinstance(node.target, ast.Name) else None
            uses = set(_names_in([node.annotation]))
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
                annotation=self.expr(node.annotation, payload=True),
            )
        if isinstance(node, ast.Expr):
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
            construct=_CONSTRUCTS.get(type(node), "a compound statement"),
        )

    def opaque(self, index: int, node: ast.stmt, previous_end: int) -> StatementSummary:
        """A statement too deeply nested to summarise: only its extent is kept."""
        end = node.end_lineno or node.lineno
        return StatementSummary(
            index, "other", _pos(node), max(previous_end + 1, node.lineno), end, (), frozenset()
        )

    # what code generation needs (``StatementSummary.binds`` and the fields after it)

    def with_codegen_facts(self, stmt: StatementSummary, top: ast.stmt) -> StatementSummary:
        """``stmt`` with the names and imports code generation reads, from one breadth-first
        walk over ``top`` (iterative: a deeply nested statement cannot exhaust the stack)."""
        loads: set[str] = set()
        stores: set[str] = set()
        local: set[str] = set()  # parameters and comprehension targets, anywhere in it
        walrus: list[str] = []
        refs: dict[tuple[str, str | None], tuple[int, int, int]] = {}  # -> where, first
        imported: set[str] = set()
        queue: list[Any] = [top]  # `Any`: the node classes are told apart by `type()`
        for node in queue:  # appended to while iterating: breadth first, as `ast.walk`
            cls = type(node)
            if cls is ast.Name:
                _first_ref(refs, (node.id, None), (node.lineno, node.col_offset, 1))
                ctx = type(node.ctx)
                if ctx is ast.Load:
                    loads.add(node.id)
                elif ctx is ast.Store:
                    stores.add(node.id)
                continue
            fields = _FACT_FIELDS.get(cls)
            if fields is None:
                if node is None:  # the key of a `**spread` in a dict display
                    continue
                fields = _fact_fields(cls)
            if cls in _FACT_NODES:
                if cls is ast.Attribute:
                    value = node.value
                    if type(value) is ast.Name:
                        where = (node.lineno, node.col_offset, 0)
                        _first_ref(refs, (value.id, node.attr), where)
                elif cls is ast.comprehension:
                    local.update(_all_names([node.target]))
                elif cls is ast.NamedExpr:
                    if type(node.target) is ast.Name:
                        walrus.append(node.target.id)
                elif cls is ast.Import or cls is ast.ImportFrom:
                    imported.update(self._imported_names(node))
                else:  # a def or a lambda
                    local.update(_parameters(node.args))
            for name in fields:
                value = getattr(node, name)
                if type(value) is list:
                    queue.extend(value)
                elif value is not None:
                    queue.append(value)
        binds: set[str]
        aliases: tuple[ImportAlias, ...] = ()
        if isinstance(top, (ast.Import, ast.ImportFrom)):
            aliases = _aliases(top)
            binds = {alias.bound for alias in aliases}
        elif isinstance(top, _DEFS):
            binds = {top.name}
        else:
            targets: list[ast.expr] = []
            if isinstance(top, ast.Assign):
                targets = top.targets
            elif isinstance(top, (ast.AnnAssign, ast.AugAssign)):
                targets = [top.target]
            binds = _all_names(targets)
            binds.update(walrus)
        if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef)):
            local |= stores
        return replace(
            stmt,
            binds=tuple(sorted(binds)),
            free_uses=tuple(sorted(loads - local)),
            attr_refs=tuple(sorted(refs, key=refs.__getitem__)),
            module_imports=aliases,
            imported_modules=tuple(sorted(_with_parents(imported))),
        )

    def _imported_names(self, node: ast.Import | ast.ImportFrom) -> list[str]:
        """The modules an import may load (relative ones absolute; unresolvable: none)."""
        if isinstance(node, ast.Import):
            return [alias.name for alias in node.names]
        base, error = self._absolute(node.module, node.level)
        if error is not None or not base:
            return []
        return [base, *(f"{base}.{a.name}" for a in node.names if a.name != "*")]

    def _attached_comments(self, first: int, previous_end: int) -> int:
        line = first
        while line - 1 > previous_end and line - 2 < len(self.lines):
            text = self.lines[line - 2].strip()
            if not text.startswith("#"):
                break
            line -= 1
        return line

    # imports

    def _imports(self, node: ast.Import | ast.ImportFrom) -> tuple[Import, ...]:
        pos = _pos(node)
        guarded = id(node) in self.guarded
        found: list[Import] = []
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    found.append(
                        Import(alias.asname, alias.name, None, alias.name, pos, None, guarded)
                    )
                else:
                    top = alias.name.split(".", 1)[0]
                    found.append(Import(top, top, None, alias.name, pos, None, guarded))
            return tuple(found)
        base, error = self._absolute(node.module, node.level)
        for alias in node.names:
            local = alias.asname or alias.name
            found.append(Import(local, base, alias.name, base, pos, error, guarded))
        return tuple(found)

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

    def _function(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        body_names: tuple[tuple[str, Pos], ...],
    ) -> Function:
        args = node.args
        params: list[Param] = []
        positional = [*args.posonlyargs, *args.args]
        defaults_from = len(positional) - len(args.defaults)
        for i, arg in enumerate(positional):
            default = args.defaults[i - defaults_from] if i >= defaults_from else None
            params.append(self._param(arg, "positional", i >= defaults_from, default))
        for arg, default in zip(args.kwonlyargs, args.kw_defaults, strict=False):
            params.append(self._param(arg, "keyword", default is not None, default))
        for extra in (args.vararg, args.kwarg):
            if extra is not None:
                params.append(self._param(extra, "var", True))
        decorators = tuple(
            Decorator(self.expr(d), d.lineno, d.end_lineno or d.lineno) for d in node.decorator_list
        )
        return Function(
            name=node.name,
            pos=_def_pos(node),
            decorators=decorators,
            params=tuple(params),
            returns=self.annotation(node.returns) if node.returns is not None else None,
            returns_text=self._segment(node.returns) if node.returns is not None else None,
            body_names=body_names,
        )

    def _param(
        self, arg: ast.arg, kind: Any, has_default: bool, default: ast.expr | None = None
    ) -> Param:
        annotation = arg.annotation
        return Param(
            name=arg.arg,
            kind=kind,
            annotation=self.annotation(annotation) if annotation is not None else None,
            annotation_text=self._segment(annotation) if annotation is not None else None,
            has_default=has_default,
            pos=_pos(arg),
            canonical_annotation=(
                _unparsed(annotation) if annotation is not None and has_default else None
            ),
            default_text=_unparsed(default) if default is not None else None,
        )

    def _with_definition_names(
        self,
        node: ast.FunctionDef | ast.AsyncFunctionDef,
        body_names: tuple[tuple[str, Pos], ...],
    ) -> tuple[tuple[str, Pos], ...]:
        """Add the names a `def` statement itself loads at module level: a default or a
        decorator that names infrastructure breaks the module wherever tasks run."""
        args = node.args
        roots: list[Any] = [*node.decorator_list, *args.defaults]
        roots += [d for d in args.kw_defaults if d is not None]
        if not self.postponed_annotations:
            if node.returns is not None:
                roots.append(node.returns)
            for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
                if arg is not None and arg.annotation is not None:
                    roots.append(arg.annotation)
        found = dict(body_names)
        stack: list[ast.AST] = roots
        while stack:
            child = stack.pop()
            if isinstance(child, ast.Name):
                if isinstance(child.ctx, ast.Load):
                    _first(found, child.id, _pos(child))
                continue
            _push_children(child, stack)
        return tuple(sorted(found.items(), key=lambda item: item[1]))

    def _scan_function(
        self, function: ast.FunctionDef | ast.AsyncFunctionDef
    ) -> tuple[tuple[str, Pos], ...]:
        """One walk over a body: the free names it loads.

        Scopes are Python's: a name bound in a nested def, lambda, class or comprehension
        (its target, its parameters) is local there only, so `[b for b in rows]` does not hide
        a module-level `b` the body also uses; a nested def's defaults and decorators run in
        the enclosing scope. First use of each free name, in source order.
        """
        root = scope = _FnScope(None, "function")
        args = function.args
        for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
            if arg is not None:
                root.bound.add(arg.arg)
        scopes = [root]
        # nodes, and scopes to switch to: entering a nested scope pushes the current one (to
        # come back to), the nested body, then the nested scope (popped first)
        stack: list[Any] = list(reversed(function.body))
        while stack:
            node = stack.pop()
            cls = type(node)
            if cls is ast.Name:
                if type(node.ctx) is ast.Load:
                    scope.load(node.id, _pos(node))
                else:
                    scope.bound.add(node.id)
                continue
            if cls is _FnScope:
                scope = node
                continue
            if cls not in _SCOPE_NODES:
                if cls is ast.ExceptHandler or cls is ast.MatchAs or cls is ast.MatchStar:
                    if node.name:
                        scope.bound.add(node.name)
                elif cls is ast.Import or cls is ast.ImportFrom:
                    for alias in node.names:
                        scope.bound.add((alias.asname or alias.name).split(".", 1)[0])
                elif cls is ast.Global:
                    scope.globals.update(node.names)
                elif cls is ast.Nonlocal:
                    scope.nonlocals.update(node.names)
                elif cls is ast.MatchMapping and node.rest:
                    scope.bound.add(node.rest)
                elif cls is ast.NamedExpr and type(node.target) is ast.Name:
                    owner = scope  # `:=` in a comprehension binds in the enclosing function
                    while owner.kind == "comprehension" and owner.parent is not None:
                        owner = owner.parent
                    owner.bound.add(node.target.id)
                    stack.append(node.value)
                    continue
                _push_children(node, stack)
                continue
            if cls is ast.ClassDef:
                inner = _FnScope(scope, "class")
                body: list[ast.AST] = list(node.body)
                outer: list[Any] = [*node.decorator_list, *node.bases, *node.keywords]
                scope.bound.add(node.name)
            elif cls is ast.FunctionDef or cls is ast.AsyncFunctionDef or cls is ast.Lambda:
                inner = _FnScope(scope, "function")
                inner_args = node.args
                for arg in (
                    *inner_args.posonlyargs,
                    *inner_args.args,
                    *inner_args.kwonlyargs,
                    inner_args.vararg,
                    inner_args.kwarg,
                ):
                    if arg is not None:
                        inner.bound.add(arg.arg)
                outer = _signature_nodes(inner_args, None)
                if cls is ast.Lambda:
                    body = [node.body]
                else:
                    scope.bound.add(node.name)
                    outer += node.decorator_list
                    if node.returns is not None:
                        outer.append(node.returns)
                    body = list(node.body)
            else:  # a comprehension: its first iterable is evaluated outside it
                inner = _FnScope(scope, "comprehension")
                body = []
                outer = []
                for i, generator in enumerate(node.generators):
                    (body if i else outer).append(generator.iter)
                    body += [generator.target, *generator.ifs]
                body += [node.key, node.value] if cls is ast.DictComp else [node.elt]
            scopes.append(inner)
            stack.append(scope)
            stack.extend(reversed(body))
            stack.append(inner)
            stack.extend(reversed(outer))
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

    def _scan_block(self, root: ast.stmt) -> _Scan:
        """One walk over a class or compound statement (see ``_Scan``)."""
        scan = _Scan()
        stack: list[tuple[ast.AST, bool]] = [(child, False) for child in _children(root)]
        if isinstance(root, ast.ClassDef):
            stack = [(child, True) for child in _children(root)]
        while stack:
            node, nested = stack.pop()
            if isinstance(node, ast.Name):
                if isinstance(node.ctx, ast.Load):
                    scan.loads.add(node.id)
                elif not nested:
                    scan.defines.append(node.id)
                continue
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if not nested:
                    scan.defines.append(node.name)
                stack.extend((child, True) for child in _children(node))
                continue
            if isinstance(node, (ast.ClassDef, ast.Lambda)):
                if isinstance(node, ast.ClassDef) and not nested:
                    scan.defines.append(node.name)
                stack.extend((child, True) for child in _children(node))
                continue
            if not nested:
                if isinstance(node, (ast.Import, ast.ImportFrom)):
                    scan.imports.extend(self._imports(node))
                elif isinstance(node, ast.Call) and isinstance(
                    node.func, (ast.Name, ast.Attribute)
                ):
                    call = self.expr(node)
                    if isinstance(call, Call):
                        scan.calls.append(call)
            stack.extend((child, nested) for child in _children(node))
        return scan

    # expressions

    def annotation(self, node: ast.expr) -> Expr:
        """An annotation; a string annotation is read as the expression it spells."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            try:
                inner = ast.parse(node.value.strip(), mode="eval").body
            except (SyntaxError, RecursionError, ValueError, MemoryError):
                return Other(node.value, _pos(node))
            outer, self._in_string = self._in_string, True
            try:
                expr = self.expr(inner)
            finally:
                self._in_string = outer
            return _relocate(expr, _pos(node))
        return self.expr(node)

    def expr(self, node: ast.expr, depth: int = 0, payload: bool = False) -> Expr:
        """The symbolic form of an expression; ``payload``: keep a subscript's exact type text."""
        pos = _pos(node)
        if depth > _MAX_DEPTH:
            return Other(self._segment(node, 40), pos)
        if isinstance(node, ast.Name):
            return Name(node.id, pos)
        if isinstance(node, ast.Attribute):
            return Attr(self.expr(node.value, depth + 1), node.attr, pos)
        if isinstance(node, ast.Constant):
            value = node.value
            if isinstance(value, (str, int, float, bool)) or value is None:
                return Const(value, pos)
            return Other(self._segment(node), pos)
        if (  # a negative number literal (`memory_mb=-1`) is a constant too
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, ast.USub)
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float))
            and not isinstance(node.operand.value, bool)
        ):
            return Const(-node.operand.value, pos)
        if isinstance(node, ast.Call):
            args: list[Expr] = []
            starred = False
            for arg in node.args:
                if isinstance(arg, ast.Starred):
                    starred = True
                    args.append(Other(self._segment(arg), _pos(arg)))
                else:
                    args.append(self.expr(arg, depth + 1))
            kwargs = tuple((kw.arg, self.expr(kw.value, depth + 1)) for kw in node.keywords)
            func = self.expr(node.func, depth + 1, payload=True)
            return Call(func, tuple(args), kwargs, pos, starred)
        if isinstance(node, ast.Subscript):
            slice_node = node.slice
            elements = slice_node.elts if isinstance(slice_node, ast.Tuple) else [slice_node]
            items = tuple(
                self.annotation(e) if depth == 0 else self.expr(e, depth + 1) for e in elements
            )
            # the payload type text is what the runtime path records: ``ast.unparse`` of it
            text = _text(slice_node, 10_000) if payload else self._segment(slice_node)
            return Sub(self.expr(node.value, depth + 1), items, text, pos)
        if isinstance(node, ast.Dict) and all(k is not None for k in node.keys):
            return DictLit(
                tuple(
                    (self.expr(k, depth + 1), self.expr(v, depth + 1))  # type: ignore[arg-type]
                    for k, v in zip(node.keys, node.values, strict=True)
                ),
                pos,
            )
        if isinstance(node, ast.Tuple) and not any(isinstance(e, ast.Starred) for e in node.elts):
            return TupleLit(
                tuple(self.expr(e, depth + 1) for e in node.elts), self._segment(node), pos
            )
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            joined = _joined_strings(node)
            if joined is not None:  # `"a" + "b"`: a string literal written in parts
                return Const(joined, pos)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
            return Or(self.expr(node.left, depth + 1), self.expr(node.right, depth + 1), pos)
        return Other(self._segment(node), pos)

    def _segment(self, node: ast.AST, limit: int = 120) -> str:
        """Source text of ``node`` for messages, whitespace collapsed (cheaper than unparse)."""
        line = getattr(node, "lineno", None)
        end_line = getattr(node, "end_lineno", None)
        col = getattr(node, "col_offset", None)
        end_col = getattr(node, "end_col_offset", None)
        if self._in_string or None in (line, end_line, col, end_col):
            return _text(node, limit)
        assert line is not None and end_line is not None and col is not None
        assert end_col is not None
        if end_line - line > 20:
            end_line, end_col = line + 20, None
        try:
            parts = [self.lines[i - 1] for i in range(line, end_line + 1)]
        except IndexError:
            return _text(node, limit)
        if all(p.isascii() for p in parts):
            if len(parts) == 1:
                text = parts[0][col:end_col]
            else:
                text = "\n".join([parts[0][col:], *parts[1:-1], parts[-1][:end_col]])
        else:
            raw = [p.encode() for p in parts]
            if len(raw) == 1:
                data = raw[0][col:end_col]
            else:
                data = b"\n".join([raw[0][col:], *raw[1:-1], raw[-1][:end_col]])
            text = data.decode("utf-8", "replace")
        text = " ".join(text.split())
        return text if len(text) <= limit else text[: limit - 3] + "..."


def _joined_strings(node: ast.BinOp) -> str | None:
    """The value of ``"a" + "b" + ...`` when every operand is a string literal."""
    parts: list[str] = []
    stack: list[ast.expr] = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, ast.BinOp) and isinstance(current.op, ast.Add):
            stack.extend((current.right, current.left))
        elif isinstance(current, ast.Constant) and isinstance(current.value, str):
            parts.append(current.value)
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
    if isinstance(expr, Other):
        return Other(expr.text, pos)
    return expr


# -- name analysis (iterative walks: deep expressions must not exhaust the stack) ---------------


# ``ast.iter_child_nodes`` and ``ast.walk`` are generators over ``iter_fields``: summarising
# spent most of its time in them. These walk the same children in the same order, from a
# per-class list of the fields that can hold nodes, skipping ``ctx`` (``Load()``/``Store()``).
_NO_CHILDREN = frozenset({"ctx", "id", "attr", "name", "arg", "asname", "module", "level"})
_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {}


def _fields_of(cls: type[ast.AST]) -> tuple[str, ...]:
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = tuple(f for f in cls._fields if f not in _NO_CHILDREN)
    return fields


# The fields the walk of ``_Reader.with_codegen_facts`` descends into: those that can hold
# expressions or statements (not operators, contexts, names as strings, flags); the imports'
# names it reads itself.
_SCALARS = _NO_CHILDREN | {
    "op", "ops", "kind", "type_comment", "names", "kwd_attrs", "is_async", "simple",
    "conversion", "rest", "tag",
}  # fmt: skip
_FACT_FIELDS: dict[type[ast.AST], tuple[str, ...]] = {ast.Constant: (), ast.MatchSingleton: ()}
_FACT_NODES = frozenset(
    {
        ast.Attribute,
        ast.comprehension,
        ast.NamedExpr,
        ast.Import,
        ast.ImportFrom,
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.Lambda,
    }
)


def _fact_fields(cls: type[ast.AST]) -> tuple[str, ...]:
    fields = _FACT_FIELDS.get(cls)
    if fields is None:
        fields = _FACT_FIELDS[cls] = tuple(f for f in cls._fields if f not in _SCALARS)
    return fields


def _parameters(args: ast.arguments) -> list[str]:
    every = (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg)
    return [arg.arg for arg in every if arg is not None]


def _all_names(nodes: list[Any]) -> set[str]:
    """Every ``Name`` in ``nodes``, whatever its context."""
    found: set[str] = set()
    stack: list[ast.AST] = list(nodes)
    while stack:
        node = stack.pop()
        if type(node) is ast.Name:
            found.add(node.id)
            continue
        _push_children(node, stack)
    return found


def _aliases(node: ast.Import | ast.ImportFrom) -> tuple[ImportAlias, ...]:
    if isinstance(node, ast.Import):
        return tuple(ImportAlias(False, a.name, 0, a.name, a.asname) for a in node.names)
    module = node.module or ""
    return tuple(ImportAlias(True, module, node.level, a.name, a.asname) for a in node.names)


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


def _children(node: ast.AST) -> list[ast.AST]:
    """``list(ast.iter_child_nodes(node))`` without the expression contexts."""
    found: list[ast.AST] = []
    for name in _FIELDS.get(type(node)) or _fields_of(type(node)):
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            found.append(value)
        elif isinstance(value, list):
            found.extend(item for item in value if isinstance(item, ast.AST))
    return found


def _push_children(node: ast.AST, stack: list[ast.AST]) -> None:
    for name in _FIELDS.get(type(node)) or _fields_of(type(node)):
        value = getattr(node, name, None)
        if isinstance(value, ast.AST):
            stack.append(value)
        elif isinstance(value, list):
            stack.extend(item for item in value if isinstance(item, ast.AST))


def _names_in(nodes: list[Any]) -> set[str]:
    found: set[str] = set()
    stack = [node for node in nodes if node is not None]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                found.add(node.id)
            continue
        _push_children(node, stack)
    return found


def _signature_nodes(args: ast.arguments, returns: ast.expr | None) -> list[Any]:
    nodes: list[Any] = [*args.defaults, *(d for d in args.kw_defaults if d is not None)]
    for arg in (*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg):
        if arg is not None and arg.annotation is not None:
            nodes.append(arg.annotation)
    if returns is not None:
        nodes.append(returns)
    return nodes


def _bound_names(targets: list[ast.expr]) -> tuple[str, ...]:
    names: list[str] = []
    for target in targets:
        for node in ast.walk(target):
            if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
                names.append(node.id)
    return tuple(dict.fromkeys(names))


_SCOPE_NODES = frozenset(
    {
        ast.FunctionDef,
        ast.AsyncFunctionDef,
        ast.Lambda,
        ast.ClassDef,
        ast.ListComp,
        ast.SetComp,
        ast.GeneratorExp,
        ast.DictComp,
    }
)


class _FnScope:
    """A scope inside a function body: the names it binds and the names it loads."""

    __slots__ = ("bound", "globals", "kind", "loads", "nonlocals", "parent")

    def __init__(self, parent: _FnScope | None, kind: str) -> None:
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


def _unparsed(node: ast.expr) -> str:
    try:
        return ast.unparse(node)
    except RecursionError:
        return "..."
