"""Code fingerprints: what a task's code is, for incremental runs, without comments or layout.

Both local paths skip a task whose code fingerprint, parameters and inputs are those of the run
that produced its current outputs. The fingerprint must be the same whether it is computed
from a live function (``LocalExecutor``) or at build time from the module texts the analyzer
read (``glacier build`` writes it into the runner's task table,
``codegen.task_fingerprints``), so both compute it here, with the standard library only, from
the same texts: the project's module sources. Either path reads only the modules the tasks'
code reaches, and only when it needs fingerprints (``glacier check`` never does).

What a task's fingerprint covers
--------------------------------
Its function (without its decorators and annotations: those declare the task and its
datasets, which have their own fingerprints), and, transitively, every module-level statement
of the project that binds a name it uses: helper functions, classes, constants, imports.
A name imported from a project module brings that module's statement that binds it
(``from helpers import clean``); a project module used as a whole (``import helpers``,
``helpers.clean(...)``) brings the whole module. Project modules are the files found under the
source roots, as the analyzer finds them: ``<root>/<a>/<b>.py`` or ``<root>/<a>/<b>/__init__.py``
for ``a.b``; libraries are not followed (their import statements are part of the fingerprint,
their code is not). Each statement counts as its ``ast`` dump without positions, so comments,
blank lines and formatting do not change the fingerprint; a docstring does. The dump is that
of the running Python: a different Python version may give different fingerprints (the tasks
then simply run again).
"""

from __future__ import annotations

import ast
import hashlib
import os
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from glacier.source import import_target

__all__ = [
    "FileFacts",
    "ModuleFacts",
    "Statement",
    "code_fingerprint",
    "code_fingerprints",
    "function_fingerprints",
    "module_facts",
    "source_root",
]


_NOT_FOLLOWED = frozenset({"glacier", "glacier_aws", "glacier_local", "pulumi"})


class Statement(NamedTuple):
    """What the fingerprint needs of one module-level statement (plain tuples and strings)."""

    binds: tuple[str, ...]
    """Module-level names it binds (its nested blocks' too, not its functions' locals)."""
    uses: tuple[str, ...]
    """Names it reads."""
    imports: tuple[tuple[str, str | None, str | None], ...]
    """(absolute module, imported attribute or ``None``, the name bound or ``None`` when the
    import is nested in a function or class, where it binds no module-level name)."""
    digest: str
    """SHA-256 of its ``ast`` dump without positions."""
    bare_digest: str | None = None
    """For a function: the digest without its decorators and annotations."""
    bare_uses: tuple[str, ...] = ()
    """For a function: the names read, outside its decorators and annotations."""


class ModuleFacts(NamedTuple):
    """A project module as the fingerprint sees it (see :func:`module_facts`)."""

    name: str
    statements: tuple[Statement, ...]


Facts = Callable[[str], "ModuleFacts | None"]
"""Module name -> its facts, or ``None`` when it is not one of the project's modules."""


def module_facts(source: str, name: str, is_package: bool) -> ModuleFacts | None:
    """The facts of module ``name`` whose text is ``source`` (``None``: it does not parse)."""
    try:
        tree = ast.parse(source)
        package = name if is_package else name.rpartition(".")[0]
        return ModuleFacts(name, tuple(_statement(stmt, package) for stmt in tree.body))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def _statement(stmt: ast.stmt, package: str) -> Statement:
    """One statement's facts, in one walk of its tree (a function: two small extra ones)."""
    bare_digest: str | None = None
    declared: list[ast.AST] = []
    if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef)):
        # what declares a task (decorators, annotations) is set aside: the rest is the bare
        # function, whose digest and uses are the task's own
        args = stmt.args
        arguments = [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]
        annotated = [a for a in arguments if a is not None and a.annotation is not None]
        declared = [*stmt.decorator_list, *(a.annotation for a in annotated if a.annotation)]
        if stmt.returns is not None:
            declared.append(stmt.returns)
        saved = (stmt.decorator_list, stmt.returns, [a.annotation for a in annotated])
        stmt.decorator_list, stmt.returns = [], None
        for arg in annotated:
            arg.annotation = None
        bare_digest = _digest(stmt)
        stmt.decorator_list, stmt.returns = saved[0], saved[1]
        for arg, annotation in zip(annotated, saved[2], strict=True):
            arg.annotation = annotation
    binds: set[str] = set()
    uses: set[str] = set()
    imports: list[tuple[str, str | None, str | None]] = []
    # (node, whether a name it stores is a module-level name)
    stack: list[tuple[ast.AST, bool]] = [(stmt, True)]
    skip = {id(node) for node in declared}
    while stack:
        node, top = stack.pop()
        if isinstance(node, ast.Name):
            if isinstance(node.ctx, ast.Load):
                uses.add(node.id)
            elif top:
                binds.add(node.id)
            continue
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            entries = _import_entries(node, package, top)
            imports.extend(entries)
            binds.update(bound for _, _, bound in entries if bound)
            continue
        inner = top
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            if top:
                binds.add(node.name)
            inner = False
        elif isinstance(node, ast.Lambda):
            inner = False
        for child in ast.iter_child_nodes(node):
            if id(child) not in skip:
                stack.append((child, inner))
    bare_uses: tuple[str, ...] = ()
    if bare_digest is not None:
        bare_uses = tuple(sorted(uses))
        for node in declared:
            uses.update(_used_names(node))
        digest = _digest_text(bare_digest + "".join(_dump(node) for node in declared))
    else:
        digest = _digest(stmt)
    return Statement(
        tuple(sorted(binds)), tuple(sorted(uses)), tuple(imports), digest, bare_digest, bare_uses
    )


def _import_entries(
    node: ast.Import | ast.ImportFrom, package: str, top: bool
) -> list[tuple[str, str | None, str | None]]:
    """(module, attribute, the module-level name bound or ``None``) for each imported name;
    ``import a.b`` also makes ``a.b`` reachable (it runs)."""
    found: list[tuple[str, str | None, str | None]] = []
    if isinstance(node, ast.Import):
        for alias in node.names:
            bound = (alias.asname or alias.name.split(".")[0]) if top else None
            found.append((alias.name if alias.asname else alias.name.split(".")[0], None, bound))
            if not alias.asname and "." in alias.name:
                found.append((alias.name, None, None))
        return found
    target = import_target(package, node.module or "", node.level) or None
    if target is None:
        return found
    for alias in node.names:
        if alias.name == "*":
            found.append((target, None, None))
        else:
            found.append((target, alias.name, (alias.asname or alias.name) if top else None))
    return found


def _used_names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _dump(node: ast.AST) -> str:
    return ast.dump(node, annotate_fields=False, include_attributes=False)


def _digest(node: ast.AST) -> str:
    return _digest_text(_dump(node))


def _digest_text(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


class _Index:
    """The project's modules' facts, each with its statements by the names they bind, shared
    by the fingerprints of all the tasks of a pipeline (each module is indexed once)."""

    def __init__(self, facts: Facts) -> None:
        self.facts = facts
        self.modules: dict[str, ModuleFacts | None] = {}
        self.binders: dict[str, dict[str, list[int]]] = {}

    def __call__(self, name: str) -> ModuleFacts | None:
        if name not in self.modules:
            top = name.split(".")[0]
            followed = top not in _NOT_FOLLOWED and not top.startswith("pulumi_")
            found = self.facts(name) if followed else None
            self.modules[name] = found
            if found is not None:
                index: dict[str, list[int]] = {}
                for i, stmt in enumerate(found.statements):
                    for bound in stmt.binds:
                        index.setdefault(bound, []).append(i)
                self.binders[name] = index
        return self.modules[name]


def code_fingerprints(tasks: Iterable[tuple[str, str]], facts: Facts) -> list[str | None]:
    """:func:`code_fingerprint` of each ``(module, function)``, the modules read once."""
    index = _Index(facts)
    return [_fingerprint(module, function, index) for module, function in tasks]


def code_fingerprint(module: str, function: str, facts: Facts) -> str | None:
    """The fingerprint of the top-level function ``function`` of project module ``module``
    (hex SHA-256), or ``None`` when its module or definition cannot be found.

    ``facts`` gives a project module's facts by name (``None``: not the project's).
    Iterative: a long chain of helpers never reaches the recursion limit.
    """
    return _fingerprint(module, function, _Index(facts))


def _fingerprint(module: str, function: str, get: _Index) -> str | None:
    cache, binders = get.modules, get.binders
    root = get(module)
    if root is None:
        return None
    defs = [
        i for i in binders[module].get(function, ()) if root.statements[i].bare_digest is not None
    ]
    if not defs:
        return None
    task = root.statements[defs[-1]]
    assert task.bare_digest is not None
    parts: dict[tuple[str, int], str] = {(module, -1): task.bare_digest}
    done: set[tuple[str, int]] = {(module, defs[-1])}
    whole: set[str] = set()
    pending: list[tuple[str, Iterable[str]]] = [(module, task.bare_uses)]
    for target, attr, _ in task.imports:  # imports inside the task function
        pending.extend(_import_uses(get, whole, target, attr))
    while pending:
        name, uses = pending.pop()
        mod = cache[name]
        assert mod is not None
        for used in uses:
            for index in binders[name].get(used, ()):
                if (name, index) in done:
                    continue
                done.add((name, index))
                stmt = mod.statements[index]
                parts[(name, index)] = stmt.digest
                pending.append((name, stmt.uses))
                for target, attr, bound in stmt.imports:
                    if bound is None or bound == used:
                        pending.extend(_import_uses(get, whole, target, attr))
    digest = hashlib.sha256()
    for key in sorted(parts):
        digest.update(f"{key[0]}:{key[1]}:{parts[key]}\n".encode())
    return digest.hexdigest()


def _import_uses(
    get: Callable[[str], ModuleFacts | None], whole: set[str], target: str, attr: str | None
) -> list[tuple[str, Iterable[str]]]:
    """What an import of ``target`` (``from target import attr``) brings into a fingerprint:
    one name of a project module, or a whole project module and its parent packages."""
    if attr is not None and get(f"{target}.{attr}") is None:
        other = get(target)
        return [] if other is None else [(target, [attr])]
    full = target if attr is None else f"{target}.{attr}"
    chain = full.split(".")
    found: list[tuple[str, Iterable[str]]] = []
    for depth in range(1, len(chain) + 1):
        name = ".".join(chain[:depth])
        if name in whole:
            continue
        whole.add(name)
        other = get(name)
        if other is not None:
            found.append((name, sorted({b for s in other.statements for b in s.binds})))
    return found


# -- the runtime path: facts from the files ----------------------------------------------------


def source_root(module: str, path: str) -> str:
    """The directory module ``module`` is imported from, given its file ``path``."""
    folder = os.path.dirname(os.path.abspath(path))
    depth = module.count(".") + (1 if os.path.basename(path) == "__init__.py" else 0)
    for _ in range(depth):
        folder = os.path.dirname(folder)
    return folder


class FileFacts:
    """Facts of the project's modules read from their files, found as the analyzer finds them:
    ``a.b`` is ``<base>/a/b.py`` or ``<base>/a/b/__init__.py`` for the first of ``bases`` (the
    source roots of the task modules, then the project root) that has one."""

    def __init__(self, bases: Iterable[str]) -> None:
        self.bases = list(dict.fromkeys(os.path.abspath(b) for b in bases))
        self.found: dict[str, ModuleFacts | None] = {}

    def __call__(self, name: str) -> ModuleFacts | None:
        if name not in self.found:
            self.found[name] = self._read(name)
        return self.found[name]

    def _read(self, name: str) -> ModuleFacts | None:
        relative = name.replace(".", os.sep)
        for base in self.bases:
            for candidate, package in (
                (os.path.join(base, relative + ".py"), False),
                (os.path.join(base, relative, "__init__.py"), True),
            ):
                if os.path.isfile(candidate):
                    try:
                        with open(candidate, encoding="utf-8") as fh:
                            text = fh.read()
                    except (OSError, UnicodeDecodeError):
                        return None
                    return module_facts(text, name, package)
        return None


def function_fingerprints(functions: Iterable[Callable[..., Any]]) -> list[str | None]:
    """The code fingerprint of each live task function, in order (``None``: no source)."""
    from glacier.source import module_name_for, project_root

    located: list[tuple[str, str] | None] = []  # (module, function name)
    bases: list[str] = []
    for function in functions:
        code = getattr(function, "__code__", None)
        filename = getattr(code, "co_filename", None)
        name = getattr(function, "__name__", None)
        if not isinstance(filename, str) or not isinstance(name, str):
            located.append(None)
            continue
        if not os.path.isfile(filename):
            located.append(None)
            continue
        module = module_name_for(filename)
        bases.append(source_root(module, filename))
        located.append((module, name))
    bases.extend(project_root(os.path.join(b, "x")) for b in list(bases))
    index = _Index(FileFacts(bases))
    return [None if at is None else _fingerprint(at[0], at[1], index) for at in located]
