"""Which infrastructure statements go into which environment's Pulumi program.

The analyzer marks module-level statements ``infrastructure``. Here each one is placed:

- ``env = Environment(...)``: that environment (matched by variable and module in the model);
- a statement that uses an environment (``env.s3(...)``, ``provider=env.provider``): that
  environment, the one whose provider it uses first;
- otherwise one that depends on infrastructure of exactly one environment: that one (it runs
  in that stack, whose default provider is configured for the same account and region);
- otherwise a statement that creates Pulumi resources (uses a name imported from ``pulumi`` or
  ``pulumi_*``): ``default``;
- anything else is a helper: it goes only where something needs it.

A program then carries its statements plus, transitively, the statements and imports of the
same module that bind the names they use (imports reduced to the names needed). Statement text
is copied verbatim from the user's source; nothing is executed, and nothing is parsed here:
the names each statement binds, uses and imports are the analyzer's (``analyzer.Statement``).
"""

from __future__ import annotations

import builtins
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from glacier.model import PipelineModel
from glacier.source import import_target
from glacier.storage.kinds import environment_methods

__all__ = [
    "DEFAULT_ENV",
    "Block",
    "Placement",
    "imported_project_modules",
    "place_infrastructure",
]

DEFAULT_ENV = "default"
_ENV_METHODS = environment_methods() | {"provider"}
_NEVER_IMPORTED = frozenset({"glacier", "glacier_local"})


@dataclass(frozen=True, slots=True)
class Block:
    """One statement carried into a program."""

    module: str
    file: str
    line: int
    end_line: int
    text: str
    is_import: bool
    import_module: str = ""
    """An import's module, for sorting: ``a.b`` for ``import a.b, c``, ``..m`` for
    ``from ..m import x``."""
    import_plain: bool = False
    """An ``import x`` (sorted before the ``from x import y`` of the same module)."""


@dataclass(slots=True)
class Placement:
    """Per environment, the statements its program carries (imports first, then the rest)."""

    environments: dict[str, list[Block]] = field(default_factory=dict)
    statement_env: dict[tuple[str, int], str] = field(default_factory=dict)
    """(module, first line) of every placed infrastructure statement -> its environment."""
    conflicts: list[tuple[str, str, int, tuple[str, ...]]] = field(default_factory=list)
    """(module, file, line, environments) of statements that use several environments."""
    unresolved: list[tuple[str, str, int, str]] = field(default_factory=list)
    """(module, file, line, name) of names a placed statement needs but no statement binds."""

    def variable_env(self, module: str, variable: str, modules: Mapping[str, Any]) -> str | None:
        """The environment of the infrastructure statement binding ``variable`` in ``module``."""
        info = modules.get(module)
        if info is None:
            return None
        for stmt in _statements(info):
            if stmt.kind == "infrastructure" and variable in stmt.binds:
                return self.statement_env.get((module, stmt.start_line))
        return None


@dataclass(slots=True)
class _ProgramStatement:
    kind: str
    start_line: int
    end_line: int
    text: str
    binds: set[str]
    uses: set[str]
    attr_refs: tuple[tuple[str, str | None], ...]
    imports: tuple[Any, ...]
    """An import statement's names (``analyzer._summary.ImportAlias``); empty otherwise."""


def _statements(info: Any) -> list[_ProgramStatement]:
    """The analyzer's statements of a module, each with its text and names."""
    cached = _CACHE.get(id(info))
    if cached is not None and cached[0] is info:
        return cached[1]
    source: str = info.source
    lines = source.splitlines(keepends=True)
    found = [
        _ProgramStatement(
            stmt.kind,
            stmt.start_line,
            stmt.end_line,
            "".join(lines[stmt.start_line - 1 : stmt.end_line]),
            set(stmt.binds),
            set(stmt.free_uses),
            stmt.attr_refs,
            stmt.module_imports,
        )
        for stmt in info.statements
    ]
    found.sort(key=lambda s: s.start_line)
    _CACHE[id(info)] = (info, found)
    return found


_CACHE: dict[int, tuple[Any, list[_ProgramStatement]]] = {}


def _env_refs(stmt: _ProgramStatement, env_vars: Mapping[str, str]) -> list[str]:
    """Environments a statement uses, the provider's first (``env.provider`` / ``env.s3``)."""
    providers: list[str] = []
    others: list[str] = []
    for name, attr in stmt.attr_refs:
        env = env_vars.get(name)
        if env is not None:
            (providers if attr in _ENV_METHODS else others).append(env)
    ordered: list[str] = []
    for env in [*providers, *others]:
        if env not in ordered:
            ordered.append(env)
    return ordered


def _pulumi_names(stmts: Iterable[_ProgramStatement]) -> set[str]:
    names: set[str] = set()
    for stmt in stmts:
        for alias in stmt.imports:
            if alias.is_from:
                top = alias.module.split(".")[0]
                if alias.level or not (top == "pulumi" or top.startswith("pulumi_")):
                    continue
            elif not (alias.name.split(".")[0] == "pulumi" or alias.name.startswith("pulumi_")):
                continue
            names.add(alias.bound)
    return names


def _import_block(
    module: str, file: str, stmt: _ProgramStatement, needed: set[str]
) -> Block | None:
    """The import reduced to the ``needed`` names; verbatim when it binds only those."""
    aliases = stmt.imports
    first = aliases[0]
    if first.is_from and not first.level and first.module.split(".")[0] in _NEVER_IMPORTED:
        return None
    keep = [a for a in aliases if a.bound in needed]
    if not first.is_from:
        keep = [a for a in keep if a.name.split(".")[0] not in _NEVER_IMPORTED]
    if not keep:
        return None
    if len(keep) == len(aliases):
        text = stmt.text.strip() + "\n"
    else:  # printed the way the standard library's unparser prints it
        names = ", ".join(f"{a.name} as {a.asname}" if a.asname else a.name for a in keep)
        if first.is_from:
            text = f"from {'.' * first.level}{first.module} import {names}\n"
        else:
            text = f"import {names}\n"
    sort_key = "." * first.level + first.module if first.is_from else keep[0].name
    return Block(
        module, file, stmt.start_line, stmt.end_line, text, True, sort_key, not first.is_from
    )


def _import_target(module: str, info: Any, alias: Any) -> str | None:
    """The absolute module a ``from ... import`` statement reads from."""
    package = module if info.path.endswith("__init__.py") else module.rpartition(".")[0]
    return import_target(package, alias.module, alias.level)


def imported_project_modules(module: str, modules: Mapping[str, Any]) -> set[str]:
    """The project modules (keys of ``modules``) that ``module`` imports, and their parents."""
    info = modules.get(module)
    if info is None:
        return set()
    found: set[str] = set()
    for stmt in _statements(info):
        targets: list[str] = []
        for alias in stmt.imports:
            if not alias.is_from:
                targets.append(alias.name)
                continue
            base = _import_target(module, info, alias)
            if base:
                targets += [base, f"{base}.{alias.name}"]
        for target in targets:
            parts = target.split(".")
            found.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
    return {name for name in found if name in modules and name != module}


class _Resolver:
    """Follows names through ``from <project module> import name`` to their definitions."""

    def __init__(self, modules: Mapping[str, Any]) -> None:
        self.modules = modules

    def definition(
        self, module: str, name: str, before: int, depth: int = 0
    ) -> tuple[str, _ProgramStatement, str] | None:
        """(module, statement, name there) of what ``name`` means at line ``before``."""
        info = self.modules.get(module)
        if info is None or depth > 20:
            return None
        binder = _binder(_statements(info), name, before)
        if binder is None:
            return None
        if binder.imports and binder.imports[0].is_from:
            target = _import_target(module, info, binder.imports[0])
            alias = next((a for a in binder.imports if (a.asname or a.name) == name), None)
            if target is not None and target in self.modules and alias is not None:
                if f"{target}.{alias.name}" in self.modules:
                    return module, binder, name  # a project module object: not inlined
                found = self.definition(target, alias.name, 1 << 30, depth + 1)
                return found if found is not None else (module, binder, name)
        return module, binder, name

    def is_project_import(self, module: str, stmt: _ProgramStatement) -> bool:
        if not stmt.imports:
            return False
        if not stmt.imports[0].is_from:
            return any(a.name.split(".")[0] in self._tops for a in stmt.imports)
        target = _import_target(module, self.modules[module], stmt.imports[0]) or ""
        return target.split(".")[0] in self._tops

    @property
    def _tops(self) -> set[str]:
        return {name.split(".")[0] for name in self.modules}


def place_infrastructure(
    model: PipelineModel,
    modules: Mapping[str, Any],
    module_names: Iterable[str],
    extra_roots: Mapping[str, Iterable[tuple[str, str]]] | None = None,
) -> Placement:
    """Place the infrastructure statements of ``module_names``; see the module docstring.

    ``extra_roots`` maps an environment to ``(module, variable)`` pairs its program must
    define as well (the pipeline's storage variables).
    """
    placement = Placement()
    resolver = _Resolver(modules)
    env_by_var: dict[tuple[str, str], str] = {
        (e.module, e.variable): e.name for e in model.environments if e.variable
    }
    env_stmts = {
        (mod, stmt.start_line): env
        for (mod, var), env in env_by_var.items()
        if mod in modules
        for stmt in _statements(modules[mod])
        if var in stmt.binds and stmt.kind == "infrastructure"
    }
    memo: dict[tuple[str, int], str | None] = {}
    roots: dict[str, list[tuple[str, _ProgramStatement]]] = {}

    def env_vars(module: str, stmt: _ProgramStatement) -> dict[str, str]:
        """Names ``stmt`` uses that denote an Environment (here or imported)."""
        found = {}
        for name in stmt.uses | stmt.binds:
            where = resolver.definition(module, name, stmt.start_line + 1)
            if where is not None and (where[0], where[1].start_line) in env_stmts:
                found[name] = env_stmts[(where[0], where[1].start_line)]
        return found

    def env_of(module: str, stmt: _ProgramStatement) -> str | None:
        key = (module, stmt.start_line)
        if key in memo:
            return memo[key]
        memo[key] = None  # cycles: nothing to inherit
        info = modules[module]
        names = env_vars(module, stmt)
        own = [names[b] for b in sorted(stmt.binds) if b in names]
        refs = own or _env_refs(stmt, names)
        inherited: set[str] = set()
        for used in sorted(stmt.uses - stmt.binds):
            where = resolver.definition(module, used, stmt.start_line)
            if where is None or where[1].kind != "infrastructure":
                continue
            if where[1].imports:
                continue
            found = env_of(where[0], where[1])
            if found is not None:
                inherited.add(found)
        # Its own environments first; else those of the infrastructure it depends on.
        candidates = refs or sorted(inherited)
        env: str | None
        if candidates:
            env = candidates[0]
            if len(set(candidates)) > 1:
                placement.conflicts.append((module, info.file, stmt.start_line, tuple(candidates)))
        elif stmt.uses & _pulumi_names(_statements(info)):
            env = DEFAULT_ENV
        else:
            env = None  # a helper: carried only where needed
        memo[key] = env
        return env

    for module in sorted(set(module_names)):
        if module not in modules:
            continue
        for stmt in _statements(modules[module]):
            if stmt.kind != "infrastructure" or stmt.imports:
                continue
            env = env_of(module, stmt)
            if env is None:
                continue
            placement.statement_env[(module, stmt.start_line)] = env
            roots.setdefault(env, []).append((module, stmt))
    for env, pairs in (extra_roots or {}).items():
        for module, variable in pairs:
            where = resolver.definition(module, variable, 1 << 30)
            if where is not None and where[1].kind != "glacier":
                roots.setdefault(env, []).append((where[0], where[1]))
    for env, env_roots in roots.items():
        placement.environments[env] = _closure(env_roots, modules, placement, resolver)
    return placement


def _closure(
    roots: list[tuple[str, _ProgramStatement]],
    modules: Mapping[str, Any],
    placement: Placement,
    resolver: _Resolver,
) -> list[Block]:
    """Roots plus every statement binding a name they use, dependencies first.

    Within a module the source order is kept; a statement from another module (reached
    through ``from module import name``) comes before the statements that use it.
    """
    chosen: dict[tuple[str, int], _ProgramStatement] = {}
    deps: dict[tuple[str, int], set[tuple[str, int]]] = {}
    aliases: dict[tuple[str, int], list[str]] = {}
    needed_imports: dict[tuple[str, int], set[str]] = {}
    pending = list(roots)
    while pending:
        module, stmt = pending.pop()
        key = (module, stmt.start_line)
        if key in chosen:
            continue
        chosen[key] = stmt
        deps[key] = set()
        for name in sorted(stmt.uses - stmt.binds):
            where = resolver.definition(module, name, stmt.start_line)
            if where is None:
                if name not in _BUILTINS:
                    placement.unresolved.append(
                        (module, modules[module].file, stmt.start_line, name)
                    )
                continue
            def_module, binder, def_name = where
            if binder.imports:
                if resolver.is_project_import(def_module, binder):
                    placement.unresolved.append(
                        (module, modules[module].file, stmt.start_line, name)
                    )
                    continue
                needed_imports.setdefault((def_module, binder.start_line), set()).add(def_name)
                if def_name != name:
                    aliases.setdefault((def_module, binder.start_line), []).append(
                        f"{name} = {def_name}"
                    )
                continue
            if binder.kind == "glacier":
                continue
            dep = (def_module, binder.start_line)
            if dep != key:
                deps[key].add(dep)
            if def_name != name:
                aliases.setdefault(dep, []).append(f"{name} = {def_name}")
            pending.append((def_module, binder))
    blocks: list[Block] = []
    for (module, line), wanted in sorted(needed_imports.items()):
        stmt = next(s for s in _statements(modules[module]) if s.start_line == line)
        block = _import_block(module, modules[module].file, stmt, wanted)
        if block is not None:
            blocks.append(block)
    for key in _ordered(deps):
        module, line = key
        stmt = chosen[key]
        text = stmt.text
        for alias in sorted(set(aliases.get(key, []))):
            text = text.rstrip("\n") + f"\n{alias}  # imported under this name\n"
        blocks.append(Block(module, modules[module].file, line, stmt.end_line, text, False))
    for (module, line), names in sorted(aliases.items()):
        if (module, line) in needed_imports:
            text = "".join(f"{a}  # imported under this name\n" for a in sorted(set(names)))
            blocks.append(Block(module, modules[module].file, line, line, text, False))
    return blocks


def _ordered(deps: Mapping[tuple[str, int], set[tuple[str, int]]]) -> list[tuple[str, int]]:
    """Dependencies first; otherwise by module and line (source order within a module)."""
    import heapq

    waiting = {key: set(d) & set(deps) for key, d in deps.items()}
    users: dict[tuple[str, int], list[tuple[str, int]]] = {key: [] for key in deps}
    for key, needed in waiting.items():
        for dep in needed:
            users[dep].append(key)
    ready = [key for key, needed in waiting.items() if not needed]
    heapq.heapify(ready)
    order: list[tuple[str, int]] = []
    while ready:
        key = heapq.heappop(ready)
        order.append(key)
        for user in users[key]:
            waiting[user].discard(key)
            if not waiting[user]:
                heapq.heappush(ready, user)
    order += sorted(k for k in deps if k not in order)  # a cycle: keep source order
    return order


def _binder(stmts: list[_ProgramStatement], name: str, before: int) -> _ProgramStatement | None:
    """The last statement binding ``name`` before line ``before`` (or any, for functions)."""
    found = None
    for stmt in stmts:
        if name in stmt.binds and stmt.start_line < before:
            found = stmt
    return found


_BUILTINS = frozenset(dir(builtins))
