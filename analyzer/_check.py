"""``glacier check``'s engine: the analysis behind two caches, so a re-check costs a file read.

1. The whole result is cached with the state of every file system entry the analysis looked
   at: each file read (mtime, size, content hash), each path probed and found missing (an
   import's candidate module), each directory walk's list of files, and ``pyproject.toml``.
   When all of them are unchanged, the cached diagnostics are the answer: nothing is parsed
   and the analysis is not even imported. A file whose mtime is too close to the time it was
   recorded (a write in the same clock tick could keep mtime and size) is compared by content.
2. Otherwise the analysis runs, with each module's summary cached by a hash of its text
   (``analyzer._cache.SummaryCache``): a one-file change re-reads one file. Many uncached files
   are summarised in a process pool.

This module is imported on every ``glacier check``: it imports nothing heavy at top level.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from analyzer import _cache
from analyzer._diagnostics import Diagnostic
from analyzer._project import Config, Files, decode_source, find_root, load_config

__all__ = ["CheckResult", "check"]

_RACY_NS = 2_000_000_000  # mtimes this close to the recording are verified by content


@dataclass(frozen=True, slots=True)
class CheckResult:
    diagnostics: tuple[Diagnostic, ...]
    files: int
    pipelines: int
    cached: bool = False  # answered from the whole-result cache


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
        entry = _cache.load(entry_path)
        if isinstance(entry, dict):
            fresh = _fresh(entry)
            if fresh is not None:
                if fresh is not entry:
                    _cache.store(entry_path, _cache.dumps(fresh))
                return _result(fresh, cached=True)
    started = time.time_ns()
    files = _Recording()
    config = load_config(root)
    files.note(os.path.join(root, "pyproject.toml"))
    summaries = _cache.SummaryCache(directory)
    gc_was_enabled = _cache._gc_pause()
    try:
        from analyzer._analyze import run

        _prefill(summaries, files, absolute, root, config, jobs)
        analysis = run(absolute, root=root, summarizer=summaries, files=files, config=config)
    finally:
        _cache._gc_resume(gc_was_enabled)
    result = CheckResult(analysis.diagnostics, len(analysis.modules), len(analysis.pipelines))
    if entry_path is not None:
        files.probe_packages(root)
        entry = {
            "recorded": started,
            "root": root,
            "config": (config.pipelines, config.exclude, config.error),
            "files": files.states,
            "probes": files.probes,
            "walks": files.walks,
            "result": (
                tuple(_fields(d) for d in result.diagnostics),
                result.files,
                result.pipelines,
            ),
        }
        _cache.store(entry_path, _cache.dumps(entry))
    return result


def _fields(d: Diagnostic) -> tuple[object, ...]:
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
    )


def _result(entry: dict[str, object], cached: bool) -> CheckResult:
    found: tuple[tuple[object, ...], int, int] = entry["result"]  # type: ignore[assignment]
    diagnostics, files, pipelines = found
    return CheckResult(
        tuple(Diagnostic(*d) for d in diagnostics),  # type: ignore[arg-type,misc]
        int(files),
        int(pipelines),
        cached,
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
    from glacier._source import module_name_for

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
            with open(path, "rb") as handle:
                stat = os.fstat(handle.fileno())
                data = handle.read()
        except OSError as exc:
            self.states[path] = (-1, -1, b"")
            return None, exc.strerror or str(exc)
        self.states[path] = (stat.st_mtime_ns, stat.st_size, _hash(data))
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


def _hash(data: bytes) -> bytes:
    from hashlib import blake2b

    return blake2b(data, digest_size=16).digest()


def _fresh(entry: dict[str, object]) -> dict[str, object] | None:
    """``entry`` when every state it recorded still holds (refreshed if racy ones were
    verified by content), else ``None``."""
    try:
        recorded = int(entry["recorded"])  # type: ignore[call-overload]
        root = str(entry["root"])
        states: dict[str, tuple[int, int, bytes]] = entry["files"]  # type: ignore[assignment]
        probes: dict[str, bool] = entry["probes"]  # type: ignore[assignment]
        walks: list[tuple[tuple[str, ...], tuple[str, ...]]] = entry["walks"]  # type: ignore[assignment]
        settings: tuple[tuple[str, ...], tuple[str, ...], str | None] = entry["config"]  # type: ignore[assignment]
        _result(entry, cached=True)
    except (KeyError, TypeError, ValueError):
        return None
    now = time.time_ns()
    refreshed: dict[str, tuple[int, int, bytes]] | None = None
    for path, (mtime, size, digest) in states.items():
        try:
            stat = os.stat(path)
        except OSError:
            if size == -1:
                continue
            return None
        if size == -1 or stat.st_size != size:
            return None
        if stat.st_mtime_ns == mtime and mtime < recorded - _RACY_NS:
            continue
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError:
            return None
        if _hash(data) != digest:
            return None
        if refreshed is None:
            refreshed = dict(states)
        refreshed[path] = (stat.st_mtime_ns, stat.st_size, digest)
    for path, expected in probes.items():
        if os.path.isfile(path) != expected:
            return None
    config = Config(tuple(settings[0]), tuple(settings[1]), settings[2])
    plain = Files()
    for inputs, outputs in walks:
        if tuple(plain.walk(inputs, root, config)) != tuple(outputs):
            return None
    if refreshed is None:
        return entry
    return {**entry, "files": refreshed, "recorded": now}
