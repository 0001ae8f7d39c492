"""``glacier check``'s engine: the analysis behind two caches, so a re-check costs a file read.

1. The whole result is cached with the state of every file system entry the analysis looked
   at: each file read (mtime, size, content hash), each path probed and found missing (an
   import's candidate module), each directory walk's list of files, and ``pyproject.toml``.
   When all of them are unchanged, the cached diagnostics are the answer: nothing is parsed
   and the analysis is not even imported. A file whose mtime is too close to the time it was
   recorded (a write in the same clock tick could keep mtime and size) is compared by content.
   An entry is served only when the current user can still read every file it depends on
   (a cache shared between users never shows one the findings of files they cannot read),
   and only when the import index knows no module importing its modules that it never read.
2. Otherwise the analysis runs, with each module's summary cached by a hash of its text
   (``analyzer._cache.SummaryCache``): a one-file change re-reads one file. Many uncached files
   are summarised in a process pool.
3. The import index (``analyzer._cache.load_imports``): what each task-declaring module
   imports, from every check so far. A one-file check reads that file, what it imports, and
   its importers from this index (plus those in the file's own directory); it never walks
   the root.

This module is imported on every ``glacier check``: it imports nothing heavy at top level.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TypedDict, cast

from analyzer import _cache
from analyzer._project import (
    Config,
    Files,
    decode_source,
    find_root,
    load_config,
    os_error_detail,
    regular_only,
)
from analyzer.diagnostics import Diagnostic, Severity

__all__ = ["CheckResult", "check"]

_RACY_NS = 2_000_000_000  # mtimes this close to the recording are verified by content

Key = tuple[str, int, int]
"""A pipeline: its module's file and the position of its ``Pipeline(...)``."""
DiagnosticFields = tuple[str, str, Severity, str, str | None, str, int, int, int, int, bool]
"""A ``Diagnostic``'s fields in order: what an entry stores (plain data, no class)."""
FileState = tuple[int, int, bytes]
"""A file read: mtime (ns), size, content hash; ``(-1, -1, b"")`` when it was missing."""


class TraceRecord(TypedDict):
    """``analyzer._analyze.Trace``, as an entry keeps it to redo part of the analysis."""

    deps: dict[str, tuple[str, ...]]
    files: dict[str, str]
    mentions: dict[str, bool]
    roots: list[str]
    tasks: dict[Key, tuple[str, ...]]
    models: set[Key]
    partial: bool
    """The deps tell the whole story and no lookup depended on the order of lookups."""


class Entry(TypedDict):
    """A whole check's result in the cache, with the state of everything it was computed from.
    A pickle of builtins only (``_cache`` refuses any class but the summaries')."""

    recorded: int
    """When the analysis started (ns): mtimes close to it are verified by content."""
    root: str
    config: tuple[tuple[str, ...], tuple[str, ...], str | None]
    """``[tool.glacier]``: pipelines, exclude, the error reading it."""
    files: dict[str, FileState]
    probes: dict[str, bool]
    """Paths looked for (an import's candidate modules): whether each was a file."""
    walks: list[tuple[tuple[str, ...], tuple[str, ...]]]
    """Each directory walk: the paths given, the files found."""
    result: tuple[tuple[tuple[DiagnosticFields, Key | None], ...], int, int]
    """The diagnostics (each with the pipeline whose graph check made it), files, pipelines."""
    trace: TraceRecord


@dataclass(frozen=True, slots=True)
class CheckResult:
    diagnostics: tuple[Diagnostic, ...]
    files: int
    pipelines: int
    cached: bool = False  # answered from the whole-result cache
    root: str = ""  # the project root the diagnostics' paths are relative to


def check(
    paths: Sequence[str | os.PathLike[str]],
    *,
    root: str | None = None,
    use_cache: bool = True,
    jobs: int | None = None,
) -> CheckResult:
    """The diagnostics of the pipelines under ``paths``, from the cache when nothing changed."""
    absolute = [os.path.abspath(os.fspath(p)) for p in paths]
    root = os.path.abspath(root) if root else find_root(absolute)
    directory = _cache.cache_dir(root) if use_cache else None
    entry_path = None
    if directory is not None:
        key = _cache._digest(root.encode(), *(p.encode() for p in absolute), b"check")
        entry_path = os.path.join(directory, "checks", key)
        loaded = _cache.load(entry_path)
        index = _cache.load_imports(directory)
        if isinstance(loaded, dict):
            try:  # the shape is checked as it is read (_compare)
                verified, changed = _compare(cast(Entry, loaded))
                if verified is not None and _importers_unseen(verified, index):
                    verified = None  # a later check found importers this result never read
            except Exception:  # noqa: BLE001 - a well-formed pickle of the wrong shape: a miss
                verified, changed = None, []
            if verified is not None and not changed:
                if verified is not loaded:
                    _cache.store(entry_path, _cache.dumps(verified))
                return _result(verified, cached=True)
            if verified is not None:
                try:
                    updated = _incremental(verified, changed, directory)
                except Exception:  # noqa: BLE001 - a malformed entry: analyse everything
                    updated = None
                if updated is not None:
                    _cache.store(entry_path, _cache.dumps(updated))
                    return _result(updated, cached=False)
    started = time.time_ns()
    files = _Recording()
    config = load_config(root)
    files.note(os.path.join(root, "pyproject.toml"))
    summaries = _cache.SummaryCache(directory)
    gc_was_enabled = _cache._gc_pause()
    try:
        from analyzer._analyze import Trace, analyze

        _prefill(summaries, files, absolute, root, config, jobs)
        trace = Trace()
        if directory is None:
            index = {}
        analysis = analyze(
            absolute,
            root=root,
            summarizer=summaries,
            files=files,
            config=config,
            trace=trace,
            importers=_reverse(index),
        )
    finally:
        _cache._gc_resume(gc_was_enabled)
    result = CheckResult(
        analysis.diagnostics, len(analysis.modules), len(analysis.pipelines), root=root
    )
    if entry_path is not None:
        files.probe_packages(root)
        owners = {d: key for key, found in trace.graph.items() for d in found}
        entry: Entry = {
            "recorded": started,
            "root": root,
            "config": (config.pipelines, config.exclude, config.error),
            "files": files.states,
            "probes": files.probes,
            "walks": files.walks,
            "result": (
                tuple((_fields(d), owners.get(d)) for d in result.diagnostics),
                result.files,
                result.pipelines,
            ),
            "trace": {
                "deps": trace.deps,
                "files": trace.files,
                "mentions": trace.mentions,
                "roots": trace.roots,
                "tasks": trace.tasks,
                "models": trace.models,
                # a part can be redone when the deps tell the whole story, and no lookup
                # depended on the order of lookups (a cycle of names)
                "partial": not trace.lazy and not trace.cycles,
            },
        }
        _cache.store(entry_path, _cache.dumps(entry))
        if directory is not None:
            _update_index(directory, index, trace.deps, trace.tasks)
        if (not absolute or absolute == [root]) and _cache.ENV_DIR not in os.environ:
            summaries.prune()  # the whole project, its own cache: what it did not use is old
        if directory is not None:
            _cache.prune_checks(directory)
    return result


def _importers_unseen(entry: Entry, index: dict[str, tuple[str, ...]]) -> bool:
    """Whether the import index knows a module importing one of ``entry``'s modules that the
    entry's analysis did not read (a one-file check made before the importer was indexed)."""
    modules = entry["trace"]["deps"]
    looked_at = entry["files"]
    return any(
        module not in modules and module not in looked_at and not modules.keys().isdisjoint(deps)
        for module, deps in index.items()
    )


def _update_index(
    directory: str,
    index: dict[str, tuple[str, ...]],
    deps: dict[str, tuple[str, ...]],
    tasks: dict[Key, tuple[str, ...]],
) -> None:
    """Record what each module declaring tasks imports (what ``complete`` looks for); forget
    the modules read this time that declare none any more."""
    declaring = {module for found in tasks.values() for module in found}
    updated = {m: d for m, d in index.items() if m not in deps or m in declaring}
    updated.update((m, deps[m]) for m in declaring if m in deps)
    if updated != index:
        _cache.store_imports(directory, updated)


def _reverse(index: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """The import index (module → modules it imports) turned around: module → importers."""
    importers: dict[str, list[str]] = {}
    for module, deps in index.items():
        for dep in deps:
            importers.setdefault(dep, []).append(module)
    return importers


def _fields(d: Diagnostic) -> DiagnosticFields:
    return (
        d.code,
        d.name,
        d.severity,
        d.message,
        d.hint,
        d.path,
        d.line,
        d.column,
        d.end_line,
        d.end_column,
        d.fixable,
    )


def _result(entry: Entry, cached: bool) -> CheckResult:
    diagnostics, files, pipelines = entry["result"]
    return CheckResult(
        tuple(Diagnostic(*fields) for fields, _ in diagnostics),
        int(files),
        int(pipelines),
        cached,
        str(entry["root"]),
    )


def _prefill(
    summaries: _cache.SummaryCache,
    files: _Recording,
    paths: list[str],
    root: str,
    config: Config,
    jobs: int | None,
) -> None:
    """Summarise the files the analysis will read first, all at once (in parallel if many)."""
    from analyzer._project import mentions_glacier
    from glacier.source import module_name_for

    if not paths:
        paths = [os.path.join(root, p) for p in config.pipelines] or [root]
    items = []
    for path in files.walk(paths, root, config):
        text, _ = files.read(path)
        if text is not None and mentions_glacier(text):
            items.append((text, module_name_for(path), os.path.basename(path) == "__init__.py"))
    summaries.prefill(items, jobs)


# -- the whole-result cache ---------------------------------------------------------------------


class _Recording(Files):
    """The analysis's view of the file system, noting what each answer depended on."""

    def __init__(self) -> None:
        self.states: dict[str, tuple[int, int, bytes]] = {}  # path -> mtime_ns, size, digest
        self.probes: dict[str, bool] = {}  # path -> is a file
        self.walks: list[tuple[tuple[str, ...], tuple[str, ...]]] = []
        self._texts: dict[str, tuple[str | None, str | None]] = {}
        self._walked: dict[tuple[str, ...], list[str]] = {}

    def read(self, path: str) -> tuple[str | None, str | None]:
        found = self._texts.get(path)
        if found is None:
            data, error = self._read(path)
            found = self._texts[path] = decode_source(data) if data is not None else (None, error)
        return found

    def note(self, path: str) -> None:
        """Depend on ``path``'s content (or its absence) without decoding it."""
        if path not in self.states:
            self._read(path)

    def _read(self, path: str) -> tuple[bytes | None, str | None]:
        try:
            with open(path, "rb", opener=regular_only) as handle:
                stat = os.fstat(handle.fileno())
                data = handle.read()
        except OSError as exc:
            self.states[path] = (-1, -1, b"")
            return None, os_error_detail(path, exc)
        self.states[path] = (stat.st_mtime_ns, stat.st_size, _cache.content_hash(data))
        return data, None

    def isfile(self, path: str) -> bool:
        found = self.probes.get(path)
        if found is None:
            found = self.probes[path] = os.path.isfile(path)
        return found

    def walk(self, paths: Iterable[str | os.PathLike[str]], root: str, config: Config) -> list[str]:
        key = tuple(os.path.abspath(os.fspath(p)) for p in paths)
        found = self._walked.get(key)
        if found is None:
            found = self._walked[key] = super().walk(key, root, config)
            self.walks.append((key, tuple(found)))
        return found

    def probe_packages(self, root: str) -> None:
        """Module names come from the ``__init__.py`` files above each module: depend on them."""
        directories = {os.path.dirname(p) for p in self.states}
        for directory in directories:
            while True:
                init = os.path.join(directory, "__init__.py")
                exists = self.isfile(init)
                parent = os.path.dirname(directory)
                if not exists or parent == directory:
                    break
                directory = parent


def _compare(entry: Entry) -> tuple[Entry | None, list[str]]:
    """``(entry, [])`` when every state ``entry`` recorded still holds (refreshed when racy
    ones were verified by content); ``(entry, changed)`` when only the content of some files
    read changed; ``(None, [])`` when anything else changed (or the entry is malformed)."""
    try:
        recorded = int(entry["recorded"])
        root = str(entry["root"])
        states = entry["files"]
        probes = entry["probes"]
        walks = entry["walks"]
        settings = entry["config"]
        _result(entry, cached=True)
    except (KeyError, TypeError, ValueError):
        return None, []
    now = time.time_ns()
    refreshed: dict[str, FileState] | None = None
    changed: list[str] = []
    for path, (mtime, size, digest) in states.items():
        try:
            stat = os.stat(path)
        except OSError:
            if size == -1:
                continue
            return None, []
        if size == -1:
            return None, []
        if not os.access(path, os.R_OK):
            return None, []  # an entry is served only to who can read every file behind it
        if stat.st_size == size and stat.st_mtime_ns == mtime and mtime < recorded - _RACY_NS:
            continue
        if stat.st_size != size:
            changed.append(path)
            continue
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None, []
        if _cache.content_hash(data) != digest:
            changed.append(path)
            continue
        if refreshed is None:
            refreshed = dict(states)
        refreshed[path] = (stat.st_mtime_ns, stat.st_size, digest)
    for path, expected in probes.items():
        if os.path.isfile(path) != expected:
            return None, []
    config = Config(tuple(settings[0]), tuple(settings[1]), settings[2])
    plain = Files()
    for inputs, outputs in walks:
        if tuple(plain.walk(inputs, root, config)) != tuple(outputs):
            return None, []
    if refreshed is None:
        return entry, changed
    return {**entry, "files": refreshed, "recorded": now}, changed


# -- redoing part of an analysis ----------------------------------------------------------------


def _incremental(entry: Entry, changed: list[str], directory: str | None) -> Entry | None:
    """The entry updated by re-analysing only what ``changed`` files can affect, or ``None``
    when that cannot be done soundly (the caller then analyses everything).

    Affected: the changed modules and every module importing them, directly or not (their
    names may resolve differently), and every pipeline declared in one of them or with a task
    in one of them. Those modules and the modules declaring the affected pipelines' tasks are
    analysed again (with what they import); their diagnostics, and the affected pipelines'
    graph diagnostics, replace the old ones. Anything unusual (a changed file that is not an
    analysed module, changed imports, a pipeline gaining a task outside the part) gives up.
    """
    trace = entry["trace"]
    deps = trace["deps"]
    mentions = trace["mentions"]
    tasks = trace["tasks"]
    models = trace["models"]
    if not trace["partial"] or any(path not in deps for path in changed):
        return None
    importers: dict[str, list[str]] = {}
    for module, found in deps.items():
        for dep in found:
            importers.setdefault(dep, []).append(module)
    affected = set(changed)
    stack = list(changed)
    while stack:
        for module in importers.get(stack.pop(), ()):
            if module not in affected:
                affected.add(module)
                stack.append(module)
    old_diagnostics, file_count, pipeline_count = entry["result"]
    old_keys = set(tasks) | models | {owner for _, owner in old_diagnostics if owner is not None}
    before = {k for k in old_keys if k[0] in affected or affected.intersection(tasks.get(k, ()))}
    part = sorted(affected.union(*(tasks.get(k, ()) for k in before)))

    from analyzer._analyze import Trace, analyze
    from analyzer._project import mentions_glacier
    from analyzer._summary import SUPPRESS

    root = str(entry["root"])
    settings = entry["config"]
    config = Config(tuple(settings[0]), tuple(settings[1]), settings[2])
    files = _Recording()
    new = Trace(roots=list(trace["roots"]))
    gc_was_enabled = _cache._gc_pause()
    try:
        for path in changed:
            text, _ = files.read(path)
            if text is None or mentions_glacier(text) != mentions[path]:
                return None  # whether the file is read at all may change
        analysis = analyze(
            [],
            root=root,
            summarizer=_cache.SummaryCache(directory),
            files=files,
            config=config,
            trace=new,
            only=part,
        )
    finally:
        _cache._gc_resume(gc_was_enabled)
    if new.lazy or new.cycles or any(deps.get(m) != found for m, found in new.deps.items()):
        return None  # imports changed: the set of modules read may change too
    if any(
        info.path not in affected and SUPPRESS.search(info.source)
        for info in analysis.modules.values()
    ):
        # whether a suppression there is used (GLC009) depends on findings of pipelines
        # this part did not redo
        return None
    new_keys = set(new.tasks) | new.models | set(new.graph)
    # a pipeline of ``before`` stays affected even when it lost every task in the affected
    # modules: its remaining tasks' modules were part of ``part``, so it was read in full
    after = {
        k
        for k in new_keys
        if k in before or k[0] in affected or affected.intersection(new.tasks.get(k, ()))
    }
    if any(k[0] not in affected and k not in before for k in after):
        return None  # a pipeline declared elsewhere gained a task here: its other tasks are unread
    part_files = set(new.files.values())
    graph_owner = {d: k for k, found in new.graph.items() for d in found}
    kept = [
        (fields, owner)
        for fields, owner in old_diagnostics
        if (owner is None and fields[5] not in part_files)
        or (owner is not None and owner not in before)
    ]
    for d in analysis.diagnostics:
        owner = graph_owner.get(d)
        if (owner is None and d.path in part_files) or (owner is not None and owner in after):
            kept.append((_fields(d), owner))
    kept.sort(key=lambda item: Diagnostic(*item[0]).sort_key())
    unique = list(dict.fromkeys(kept))
    pipeline_count += len(new.models & after) - len(models & before)
    new_tasks = {k: v for k, v in tasks.items() if k not in before}
    new_tasks.update({k: v for k, v in new.tasks.items() if k in after})
    states = dict(entry["files"])
    states.update(files.states)
    probes = dict(entry["probes"])
    probes.update(files.probes)
    return {
        **entry,
        "files": states,
        "probes": probes,
        "result": (tuple(unique), file_count, pipeline_count),
        "trace": {
            **trace,
            "mentions": {**mentions, **new.mentions},
            "tasks": new_tasks,
            "models": (models - before) | (new.models & after),
        },
    }
