"""``analyze(paths)``: the one short function that wires discovery → summaries → links → model.

1. discovery (``_project``): the root, ``[tool.glacier]``, the files to read;
2. summaries (``_reader.summarize``, libcst): a pure function of each file's text and module name,
   cacheable by content hash; modules imported by those files (and their parent packages)
   are read too, and when single files are given, the modules that import them: found in the
   directories given (a file's own directory) or ``[tool.glacier] pipelines``, and in the
   check cache's import index; never by walking the whole root;
3. links (``_resolve``): names followed through imports to declarations;
4. tasks from signatures (``_tasks``), then each pipeline's graph checks (``_graph``);
5. statement kinds (``_classify``), the models, and diagnostics sorted (file, line, causes
   before consequences), suppressions applied. An import that cannot be found is reported
   only in modules that take part in a pipeline; elsewhere (a vendored package's dead
   module) it is opaque.

Nothing is imported or executed from the analysed code, ever.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib.machinery import EXTENSION_SUFFIXES
from types import MappingProxyType
from typing import Literal

from analyzer._classify import Classifier
from analyzer._graph import GraphInput, check_graph
from analyzer._project import (
    Config,
    Files,
    find_root,
    load_config,
    may_declare_tasks,
    mentions_glacier,
    relative_to,
    unreadable_advice,
)
from analyzer._resolve import LoadedModule, Resolver
from analyzer._summary import Attr, Call, ImportAlias, ModuleSummary, Name, Sub
from analyzer._suppress import apply_suppressions
from analyzer._tasks import FoundTask, mentioned_datasets, read_tasks
from analyzer._values import DatasetV, EnvV, Key, PipelineV, package_category
from analyzer.diagnostics import (
    Diagnostic,
    InvalidConfiguration,
    SyntaxErrorRule,
    UnreadableFile,
    UnsupportedConstruct,
)
from glacier.model import (
    DatasetModel,
    EnvironmentModel,
    InputModel,
    PipelineModel,
    Span,
    StorageModel,
    TaskModel,
)
from glacier.source import module_name_for, relative_file

__all__ = ["Analysis", "ModuleInfo", "Statement", "Trace", "analyze"]


@dataclass(frozen=True, slots=True)
class Statement:
    """One module-level statement and what code generation must do with it.

    ``kind``: ``glacier`` (a glacier declaration the runner drops), ``infrastructure`` (belongs
    in a Pulumi program only) or ``task`` (kept everywhere). Lines are 1-based and inclusive,
    decorators and directly attached comments included. ``drop_names``: for an import mixing
    kinds, the names to remove from it. ``task_decorators``: for a task function, the line
    ranges of its ``@pipeline.task(...)`` decorators.

    What code generation reads instead of parsing the module again (``analyzer._summary.StatementSummary``
    computes them, in the summary's one reading of the source):

    - ``binds``: the names it binds at module level, sorted: an import's names (``as`` name,
      else the first part of a dotted name), a def's or class's name, every name in an
      assignment's targets (``a, (b, c) = ...``; ``x += 1``; ``x: int``; ``a.b = 1`` and
      ``x[i] = 1`` bind ``a``, ``x`` and ``i``) and the target of every ``:=`` in it; a
      compound statement (``if``, ``for``, ``with``...) binds only its ``:=`` targets;
    - ``free_uses``: the names loaded anywhere in it, sorted, minus the parameters of every def
      and lambda in it, its comprehensions' targets and, for a def, the names its body stores;
    - ``attr_refs``: ``(name, attr)`` for every ``name.attr`` and ``(name, None)`` for every
      bare ``name`` in it (any context), first occurrence of each, in source order: the order
      in which code generation picks the environment of a statement that uses several;
    - ``module_imports``: for an import statement, its names as written
      (``analyzer._summary.ImportAlias``: ``is_from``, ``module``, ``level``, ``name``,
      ``asname``, and the name it ``bound``);
    - ``imported_modules``: every module an import anywhere in it may load (in a def's body or
      an ``if`` too), parent packages included, sorted; relative imports made absolute, those
      reaching above the top-level package left out.
    """

    kind: Literal["task", "infrastructure", "glacier"]
    start_line: int
    end_line: int
    defines: tuple[str, ...]
    drop_names: tuple[str, ...] = ()
    task_decorators: tuple[tuple[int, int], ...] = ()
    binds: tuple[str, ...] = ()
    free_uses: tuple[str, ...] = ()
    attr_refs: tuple[tuple[str, str | None], ...] = ()
    module_imports: tuple[ImportAlias, ...] = ()
    imported_modules: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ModuleInfo:
    name: str  # dotted module name (glacier.source.module_name_for)
    path: str  # absolute
    file: str  # relative to the analysis root, POSIX
    source: str
    statements: tuple[Statement, ...]


@dataclass(frozen=True, slots=True)
class Analysis:
    root: str
    pipelines: tuple[PipelineModel, ...]
    diagnostics: tuple[Diagnostic, ...]
    modules: Mapping[str, ModuleInfo]

    @property
    def errors(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "error")

    @property
    def warnings(self) -> tuple[Diagnostic, ...]:
        return tuple(d for d in self.diagnostics if d.severity == "warning")


Summarizer = Callable[[str, str, bool], ModuleSummary]


@dataclass(slots=True)
class Trace:
    """How a result was reached, for ``analyzer._check`` to redo only part of an analysis.

    ``deps``: for each module (id), the modules its names can come from (its imports, their
    parents, its own parent packages). ``tasks``: for each pipeline, the modules declaring its
    tasks. ``graph``: each pipeline's graph diagnostics (before suppression). ``models``: the
    pipelines that got a model. ``lazy``: a module was first found while linking (through an
    attribute, not an import): ``deps`` does not tell the whole story then. ``cycles``: a name
    was looked up while being looked up (the results may depend on which came first).
    """

    deps: dict[str, tuple[str, ...]] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    mentions: dict[str, bool] = field(default_factory=dict)
    roots: list[str] = field(default_factory=list)
    tasks: dict[Key, tuple[str, ...]] = field(default_factory=dict)
    graph: dict[Key, tuple[Diagnostic, ...]] = field(default_factory=dict)
    models: set[Key] = field(default_factory=set)
    lazy: bool = False
    cycles: bool = False


def analyze(
    paths: Sequence[str | os.PathLike[str]],
    *,
    root: str | None = None,
    summarizer: Summarizer | None = None,
    files: Files | None = None,
    config: Config | None = None,
    trace: Trace | None = None,
    only: Sequence[str] | None = None,
    importers: Mapping[str, Sequence[str]] | None = None,
) -> Analysis:
    """Read the pipelines under ``paths`` (files or directories) without importing them.

    ``summarizer(text, module_name, is_package)`` replaces ``summarize`` (the per-file step,
    a pure function of its arguments): a cache keyed by a hash of them plugs in here. The
    other options are for ``analyzer.check``'s caches: the file system is read through
    ``files`` (which records what was read), and ``trace`` is filled with how the result was
    reached. ``only``: read just these modules (and what they import), with ``trace.roots``
    as the source roots: a part of a previous analysis redone. ``importers``: module path → the paths of the modules importing it, from
    earlier analyses (the check cache's import index).
    """
    paths = list(paths)
    root = os.path.abspath(root) if root else find_root(paths)
    if config is None:
        config = load_config(root)
    if not paths:
        paths = [os.path.join(root, p) for p in config.pipelines] or [root]
    loader = _Loader(root, config, summarizer or _summarize, files or Files())
    if only is not None:
        loader.roots = list(trace.roots) if trace is not None else []
        for path in only:
            loader.add(path)
        loader.follow()
        return _link(root, loader, trace)
    if config.error is not None:
        loader.diagnostics.append(
            InvalidConfiguration.make("pyproject.toml", 1, 1, detail=config.error)
        )
    given = {os.path.abspath(os.fspath(p)) for p in paths}
    for path in loader.files.walk(paths, root, config):
        loader.add(path, filtered=True, walked=os.path.abspath(path) not in given)
    explicit = any(os.path.isfile(os.fspath(p)) for p in paths)
    loader.follow()
    if explicit:
        # the importers of a single file: searched where the user pointed (the directories
        # given, a file's own directory) or `[tool.glacier] pipelines`, never the whole root
        # (a parent repository's), and known from earlier checks (the cache's import index)
        universe = [os.path.join(root, p) for p in config.pipelines] or [
            p if os.path.isdir(p) else os.path.dirname(p)
            for p in (os.path.abspath(os.fspath(p)) for p in paths)
        ]
        known = _importers_of(set(loader.modules), importers) if importers else []
        loader.complete(universe, known)
    loader.drop_dormant()
    return _link(root, loader, trace)


def _importers_of(modules: set[str], importers: Mapping[str, Sequence[str]]) -> list[str]:
    """Every module that imports one of ``modules``, directly or not, by the import index."""
    found: set[str] = set()
    stack = list(modules)
    while stack:
        for importer in importers.get(stack.pop(), ()):
            if importer not in found and importer not in modules:
                found.add(importer)
                stack.append(importer)
    return sorted(found)


# -- loading ------------------------------------------------------------------------------------


class _Loader:
    """Reads files into summaries, following imports of the project's own modules."""

    def __init__(self, root: str, config: Config, summarizer: Summarizer, files: Files) -> None:
        self.files = files
        self.root = root
        self.config = config
        self.summarize = summarizer
        self.modules: dict[str, LoadedModule] = {}  # id (absolute path) -> module
        self.diagnostics: list[Diagnostic] = []
        self.roots: list[str] = []
        self._found: dict[str, str | None] = {}
        self._pending: list[str] = []
        self.skipped: set[str] = set()  # modules of files skipped by the pre-filter
        # files found by walking a directory that declare nothing of glacier's: their imports
        # are followed only once a module that does imports them (else checking a library
        # tree would read the whole library, following the imports of every file that
        # happens to spell `.task`)
        self._dormant: set[str] = set()

    def add(self, path: str, filtered: bool = False, walked: bool = False) -> str | None:
        """Read ``path``; ``filtered``: pre-filtered (a file of the paths checked); ``walked``:
        found in a directory, its imports followed only if it declares something of
        glacier's (or once a module that is followed imports it)."""
        path = os.path.abspath(path)
        if path in self.modules:
            return path
        text, error = self.files.read(path)
        file = relative_to(self.root, path)
        if (  # an undecodable file is only a finding if it could be a pipeline module
            text is None
            and filtered
            and error
            and unreadable_advice(error) == UnreadableFile.DECODE
            and not self.files.may_mention_glacier(path)
        ):
            self.skipped.add(module_name_for(path))
            return None
        if text is None:
            detail = error or "it cannot be read"
            self.diagnostics.append(
                UnreadableFile.make(
                    file, 1, 1, file=file, detail=detail, advice=unreadable_advice(detail)
                )
            )
            return None
        if filtered and not mentions_glacier(text):
            # not read, but a pipeline module importing it is still one to complete
            self.skipped.add(module_name_for(path))
            return None
        name = module_name_for(path)
        is_package = os.path.basename(path) == "__init__.py"
        summary = self.summarize(text, name, is_package)
        self.modules[path] = LoadedModule(summary, path, file, relative_file(path), text)
        if walked and not _declares_glacier(summary):
            self._dormant.add(path)
        source_root = _source_root(path, name, is_package)
        if source_root not in self.roots:
            self.roots.append(source_root)
            self._found.clear()
        self._pending.append(path)
        # Python imports every parent package first
        directory = os.path.dirname(path)
        if is_package:
            directory = os.path.dirname(directory)
        for _ in range(name.count(".")):
            init = os.path.join(directory, "__init__.py")
            if self.files.isfile(init):
                self.add(init)
            directory = os.path.dirname(directory)
        return path

    def find(self, dotted: str) -> str | None:
        """The id of the project module named ``dotted``, loading it on first use."""
        if not dotted or package_category(dotted) != "other":
            return None
        if dotted in self._found:
            return self._found[dotted]
        relative = dotted.replace(".", os.sep)
        found: str | None = None
        for base in [*self.roots, self.root]:
            for candidate in (
                os.path.join(base, relative + ".py"),
                os.path.join(base, relative, "__init__.py"),
            ):
                if self.files.isfile(candidate):
                    found = os.path.abspath(candidate)
                    break
            if found:
                break
        if found is not None and found not in self.modules and self.add(found) is None:
            found = None
        self._found[dotted] = found
        return found

    def drop_dormant(self) -> None:
        """Leave out the walked modules nothing followed: linking them would read every module
        they import. One that does not parse stays, for its GLC001."""
        for path in sorted(self._dormant):
            module = self.modules.get(path)
            if module is not None and module.summary.error is None:
                del self.modules[path]
                self.skipped.add(module.summary.name)
        self._dormant.clear()

    def _wake(self, path: str | None) -> None:
        """A module imported by one being followed is followed too."""
        if path is not None and path in self._dormant:
            self._dormant.discard(path)
            self._pending.append(path)

    def opaque(self, dotted: str) -> bool:
        """Whether module ``dotted`` exists without a source to read: a compiled extension, or
        a name under a plain module (``os.path``, ``six.moves``: aliases in ``sys.modules``)."""
        parts = dotted.split(".")
        for i in range(1, len(parts)):
            found = self.find(".".join(parts[:i]))
            if found is not None and os.path.basename(found) != "__init__.py":
                return True
        relative = dotted.replace(".", os.sep)
        return any(
            self.files.isfile(os.path.join(base, relative + suffix))
            for base in [*self.roots, self.root]
            for suffix in _COMPILED
        )

    def follow(self) -> None:
        while self._pending:
            path = self._pending.pop()
            if path in self._dormant:
                continue
            module = self.modules[path]
            for stmt in module.summary.statements:
                for imp in stmt.imports:
                    if imp.error is not None:
                        continue
                    self._wake(self.find(imp.loads))
                    if imp.attr is not None and imp.attr != "*":
                        self._wake(self.find(f"{imp.loads}.{imp.attr}"))
                    parts = imp.loads.split(".")
                    for i in range(1, len(parts)):
                        self._wake(self.find(".".join(parts[:i])))

    def complete(self, universe: list[str], known: Sequence[str] = ()) -> None:
        """Add the project's modules that import an analysed module and declare tasks: those
        under ``universe``, and the ``known`` importers that still exist."""
        candidates: dict[str, tuple[str, str]] = {}
        walked = self.files.walk(universe, self.root, self.config)
        for path in dict.fromkeys([*walked, *(p for p in known if self.files.isfile(p))]):
            if path in self.modules:
                continue
            text, _ = self.files.read(path)
            if text is None or not may_declare_tasks(text):
                continue
            name = module_name_for(path)
            if package_category(name) == "other":
                candidates[path] = (text, name)
        summaries: dict[str, ModuleSummary] = {}
        changed = True
        while changed and candidates:
            changed = False
            names = {m.summary.name for m in self.modules.values()} | self.skipped
            parts = {part for name in names for part in name.split(".")}
            for path, (text, name) in list(candidates.items()):
                # cheap first: an importer must spell one of the analysed modules' names
                if parts.isdisjoint(_imported_words(text)):
                    continue
                summary = summaries.get(path)
                if summary is None:
                    is_package = os.path.basename(path) == "__init__.py"
                    summary = summaries[path] = self.summarize(text, name, is_package)
                if any(
                    imp.loads in names or f"{imp.loads}.{imp.attr}" in names
                    for stmt in summary.statements
                    for imp in stmt.imports
                ):
                    del candidates[path]
                    self.add(path)
                    changed = True
            self.follow()

    def own_tops(self) -> frozenset[str]:
        tops = {m.summary.name.split(".", 1)[0] for m in self.modules.values()}
        return frozenset(t for t in tops if package_category(t) == "other")


def _declares_glacier(summary: ModuleSummary) -> bool:
    """Whether a module imports glacier or registers a task on a module-level name
    (``@X.task``, ``X.task(...)(f)``, anywhere): one whose imports can matter to a pipeline.
    ``self.task(...)(...)`` in a method is no registration of this kind."""
    names = {name for stmt in summary.statements for name in stmt.defines}
    for stmt in summary.statements:
        if any(package_category(imp.module) == "glacier" for imp in stmt.imports):
            return True
        if any(_task_of(expr, names) for expr, _ in stmt.registrations):
            return True
        if stmt.function is not None and any(
            _task_of(d.expr, names) for d in stmt.function.decorators
        ):
            return True
        value = stmt.value
        if isinstance(value, Call) and isinstance(value.func, Call) and _task_of(value.func, names):
            return True
    return False


def _task_of(expr: object, names: set[str]) -> bool:
    """``X.task`` (or a call of it) where ``X``'s root is one of the module's own names."""
    if isinstance(expr, Call):
        expr = expr.func
    if not (isinstance(expr, Attr) and expr.attr == "task"):
        return False
    root: object = expr.value
    while isinstance(root, Attr):
        root = root.value
    return isinstance(root, Name) and root.id in names


_COMPILED = (*EXTENSION_SUFFIXES, ".pyc")  # what CPython imports besides sources
# words on `from`/`import` lines (module names and imported names): a cheap importer pre-filter
_IMPORT_LINE = re.compile(r"^[ \t]*(?:from|import)[ \t]+([^\n#]*)", re.MULTILINE)
_WORD = re.compile(r"[A-Za-z_]\w*")


def _imported_words(text: str) -> set[str]:
    return {word for line in _IMPORT_LINE.findall(text) for word in _WORD.findall(line)}


def _source_root(path: str, name: str, is_package: bool) -> str:
    directory = os.path.dirname(path)
    depth = name.count(".") + (1 if is_package else 0)
    for _ in range(depth):
        directory = os.path.dirname(directory)
    return directory


# -- linking ------------------------------------------------------------------------------------


def _link(root: str, loader: _Loader, trace: Trace | None = None) -> Analysis:
    modules = loader.modules
    found_before = set(loader._found)
    resolver = Resolver(modules, loader.find, loader.own_tops(), loader.opaque)
    diagnostics = list(loader.diagnostics)
    order = sorted(modules, key=lambda m: modules[m].file)

    for module in order:
        summary = modules[module].summary
        if summary.error is not None:
            detail, line, col = summary.error
            file = modules[module].file
            diagnostics.append(SyntaxErrorRule.make(file, line, col, file=file, detail=detail))
            continue
        for stmt in summary.statements:  # declarations: every module-level call
            if stmt.value is not None and isinstance(stmt.value, (Call, Sub)):
                resolver.stmt_value(module, stmt)
            for name, _ in stmt.unpacked:
                resolver.part_value(module, stmt, name)

    tasks: list[FoundTask] = []
    decorators: dict[str, dict[int, list[tuple[int, int]]]] = {}
    for module in order:
        found, ranges = read_tasks(resolver, module)
        tasks.extend(found)
        decorators[module] = ranges
    for task in tasks:  # a function registered by a call is task code too, wherever it is
        decorators.setdefault(task.module, {}).setdefault(task.stmt, [])
    for module in _pipeline_modules(resolver, tasks):
        resolver.check_imports(module)

    task_names = {(t.module, t.stmt): t.name for t in tasks}
    classifier = Classifier(
        resolver, lambda m: decorators.get(m, {}), lambda m, i: task_names.get((m, i))
    )
    infos: dict[str, ModuleInfo] = {}
    for module in order:
        loaded = modules[module]
        classified = classifier.classify(module)[0] if loaded.summary.error is None else []
        statements = tuple(
            Statement(
                kind=c.kind,  # type: ignore[arg-type]
                start_line=s.start_line,
                end_line=s.end_line,
                defines=s.defines,
                drop_names=c.drop_names,
                task_decorators=tuple(decorators[module].get(s.index, ())),
                binds=s.binds,
                free_uses=s.free_uses,
                attr_refs=s.attr_refs,
                module_imports=s.module_imports,
                imported_modules=s.imported_modules,
            )
            for s, c in zip(loaded.summary.statements, classified, strict=True)
        )
        infos[loaded.summary.name if loaded.summary.name not in infos else loaded.file] = (
            ModuleInfo(loaded.summary.name, loaded.path, loaded.file, loaded.source, statements)
        )

    pipelines = _pipelines(resolver, tasks, diagnostics, trace)
    if trace is not None:
        _trace(trace, loader, tasks, found_before)
        trace.cycles = resolver.cycles > 0
    diagnostics.extend(resolver.diagnostics)
    diagnostics = apply_suppressions(diagnostics, modules)
    diagnostics.sort(key=Diagnostic.sort_key)
    return Analysis(
        root=root,
        pipelines=tuple(sorted(pipelines, key=lambda p: (p.name, p.module))),
        diagnostics=tuple(_unique(diagnostics)),
        modules=MappingProxyType(infos),
    )


def _pipeline_modules(resolver: Resolver, tasks: list[FoundTask]) -> list[str]:
    """The modules that take part in a pipeline: they import glacier, or declare a pipeline, a
    dataset, an environment or a task. An import that cannot be found elsewhere is not a
    finding (a vendored package's dead module, a platform's optional one): the runtime path
    never imports such a module for a pipeline, and one that a glacier construct needs a name
    from is reported where that name is used."""
    found = {t.module for t in tasks}
    for keys in (resolver.pipelines, resolver.datasets, resolver.environments):
        found.update(key[0] for key in keys)
    for module, loaded in resolver.modules.items():
        if loaded.summary.error is None and any(
            package_category(imp.loads) != "other"
            for stmt in loaded.summary.statements
            for imp in stmt.imports
        ):
            found.add(module)
    return sorted(
        (m for m in found if resolver.modules[m].summary.error is None),
        key=lambda m: resolver.modules[m].file,
    )


def _trace(trace: Trace, loader: _Loader, tasks: list[FoundTask], found_before: set[str]) -> None:
    found = loader._found
    trace.lazy = any(found[name] is not None for name in found.keys() - found_before)
    trace.roots = list(loader.roots)
    for module, loaded in loader.modules.items():
        deps: set[str] = set()
        name = loaded.summary.name
        parts = name.split(".")
        for i in range(1, len(parts)):  # parent packages
            deps.add(found.get(".".join(parts[:i])) or "")
        for stmt in loaded.summary.statements:
            for imp in stmt.imports:
                if imp.error is not None:
                    continue
                deps.add(found.get(imp.loads) or "")
                if imp.attr is not None and imp.attr != "*":
                    deps.add(found.get(f"{imp.loads}.{imp.attr}") or "")
                dotted = imp.loads.split(".")
                for i in range(1, len(dotted)):
                    deps.add(found.get(".".join(dotted[:i])) or "")
        deps.discard("")
        deps.discard(module)
        trace.deps[module] = tuple(sorted(deps))
        trace.files[module] = loaded.file
        trace.mentions[module] = mentions_glacier(loaded.source)
    by_pipeline: dict[Key, set[str]] = {}
    for task in tasks:
        by_pipeline.setdefault(task.pipeline, set()).add(task.module)
    trace.tasks = {key: tuple(sorted(found_in)) for key, found_in in by_pipeline.items()}


def _unique(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    seen: set[Diagnostic] = set()
    result = []
    for d in diagnostics:
        if d not in seen:
            seen.add(d)
            result.append(d)
    return result


# -- models -------------------------------------------------------------------------------------


def _pipelines(
    resolver: Resolver,
    tasks: list[FoundTask],
    diagnostics: list[Diagnostic],
    trace: Trace | None = None,
) -> list[PipelineModel]:
    modules = resolver.modules
    variables = _Variables(resolver)
    by_pipeline: dict[Key, list[FoundTask]] = {}
    for task in tasks:
        by_pipeline.setdefault(task.pipeline, []).append(task)
    models: list[PipelineModel] = []
    for key, info in sorted(
        resolver.pipelines.items(), key=lambda kv: (modules[kv[0][0]].file, kv[0][1:])
    ):
        module = modules[key[0]]
        if info.name is None:
            if not any(d.path == module.file and d.line == key[1] for d in resolver.diagnostics):
                resolver.at(
                    key[0],
                    (key[1], key[2], key[1], key[2]),
                    UnsupportedConstruct,
                    what="a `Pipeline(...)` without a name",
                    advice='write `Pipeline(name="etl")`',
                )
            continue
        variable = variables.name_of(key[0], PipelineV(key))
        if by_pipeline.get(key) and not any(t.valid for t in by_pipeline[key]):
            continue  # every task has an error already reported: no model, no more noise
        if key in resolver.unfollowed and not by_pipeline.get(key):
            continue  # its tasks are registered where the static path cannot see (GLC007)
        own = sorted(
            (t for t in by_pipeline.get(key, []) if t.valid),
            key=lambda t: (modules[t.module].file, t.pos),
        )
        found, kept, dataset_keys = check_graph(
            GraphInput(
                pipeline=info.name,
                variable=variable or "",
                pipeline_file=module.file,
                pipeline_pos=info.pos,
                tasks=own,
                datasets=resolver.datasets,
                file_of=lambda m: modules[m].file,
                variable_of=lambda k: variables.name_of(k[0], DatasetV(k)),
                dropped=frozenset(
                    resolver.datasets[k].name or ""
                    for t in by_pipeline.get(key, [])
                    if not t.valid
                    for k in mentioned_datasets(resolver, t)
                ),
            )
        )
        diagnostics.extend(found)
        if trace is not None:
            trace.graph[key] = tuple(found)
            trace.models.add(key)
        datasets = [
            model
            for model in (_dataset_model(resolver, variables, k) for k in dataset_keys)
            if model is not None
        ]
        task_models = [
            TaskModel(
                name=t.name,
                function=t.function,
                module=modules[t.module].summary.name,
                inputs=tuple(
                    InputModel(param, resolver.datasets[k].name or "") for param, k in t.inputs
                ),
                outputs=tuple(resolver.datasets[k].name or "" for k in t.outputs),
                compute=t.compute,
                retries=t.retries,
                timeout=t.timeout,
                span=Span(modules[t.module].span_file, t.pos[0], t.pos[1]),
                retry_delay_s=t.retry_delay_s,
                backoff=t.backoff,
                retry_on=t.retry_on,
                parameters=tuple(t.parameters),
            )
            for t in kept
        ]
        in_pipeline = {key[0]} | {t.module for t in kept} | {k[0] for k in dataset_keys}
        referenced = {
            d.storage.environment for d in datasets if d.storage and d.storage.environment
        }
        environments = [
            EnvironmentModel(
                name=env.name,
                account=env.account or "",
                region=env.region or "",
                module=modules[env_key[0]].summary.name,
                variable=variables.name_of(env_key[0], EnvV(env_key)),
                tags=env.tags,
                span=Span(modules[env_key[0]].span_file, env_key[1], env_key[2]),
            )
            for env_key, env in resolver.environments.items()
            if env.name is not None and (env_key[0] in in_pipeline or env.name in referenced)
        ]
        models.append(
            PipelineModel.create(
                name=info.name,
                module=module.summary.name,
                variable=variable,
                schedule=info.schedule,
                description=info.description,
                span=Span(module.span_file, key[1], key[2]),
                datasets=datasets,
                tasks=task_models,
                environments=environments,
                check_payloads=info.check_payloads,
            )
        )
    return models


def _dataset_model(resolver: Resolver, variables: _Variables, key: Key) -> DatasetModel | None:
    info = resolver.datasets[key]
    if info.name is None:
        return None
    module = resolver.modules[key[0]]
    storage = None
    if info.storage is not None:
        s = info.storage
        variable = variables.storage_name(key[0], s.key)
        fields = dict(s.fields)
        storage = StorageModel(
            s.kind,
            variable=variable,
            module=module.summary.name if variable is not None else None,
            **fields,  # type: ignore[arg-type]
        )
    return DatasetModel(
        name=info.name,
        module=module.summary.name,
        variable=variables.name_of(key[0], DatasetV(key)),
        payload=info.payload,
        storage=storage,
        span=Span(module.span_file, key[1], key[2]),
        copy=info.copy,
    )


class _Variables:
    """The first module-level name bound to a declaration, in the order names were first bound
    (the runtime path's ``variable_in(module.__dict__, obj)``).

    Each module's bindings are indexed once (value → first name), so naming the 10,000
    datasets of a module is linear, not a scan of its 20,000 names per dataset.
    """

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._indexes: dict[str, _NameIndex] = {}

    def _index(self, module: str) -> _NameIndex:
        found = self._indexes.get(module)
        if found is None:
            bindings = self.resolver.bindings(module)
            found = _NameIndex(
                (name, self.resolver.lookup(module, name, None))
                for name in bindings.order
                if not name.startswith("__")
            )
            self._indexes[module] = found
        return found

    def name_of(self, module: str, value: object) -> str | None:
        return self._index(module).name_of(value)

    def storage_name(self, module: str, key: Key) -> str | None:
        return self._index(module).storage.get(key)


class _NameIndex:
    """Bound values of one module → the first name bound to each (see ``_Variables``)."""

    def __init__(self, bound: Iterable[tuple[str, object]]) -> None:
        self.first: dict[object, tuple[int, str]] = {}  # hashable values
        self.unhashable: list[tuple[int, str, object]] = []
        self.storage: dict[object, str] = {}  # key of a storage value or resource → name
        for position, (name, value) in enumerate(bound):
            try:
                self.first.setdefault(value, (position, name))
            except TypeError:
                self.unhashable.append((position, name, value))
            if type(value).__name__ in ("StorageV", "PulumiRes"):
                self.storage.setdefault(getattr(value, "key", None), name)

    def name_of(self, value: object) -> str | None:
        try:
            found = self.first.get(value)
        except TypeError:
            found = None
        for position, name, bound in self.unhashable:
            if found is not None and position > found[0]:
                break
            if bound == value:
                return name
        return found[1] if found is not None else None


def _summarize(text: str, module: str, is_package: bool) -> ModuleSummary:
    """``analyzer._reader.summarize``, imported on first use: libcst takes ~0.2 s to import,
    and a check answered from the cache never parses."""
    from analyzer._reader import summarize

    return summarize(text, module, is_package)
