"""The on-disk cache of ``glacier check``: where it lives, how entries are written and read.

Layout, under ``<project root>/.glacier/cache/`` (or ``$GLACIER_CACHE_DIR``)::

    <tag>/summaries/<hash>   a module's summary, keyed by a hash of its text, name and kind
    <tag>/checks/<hash>      a whole check's result and the file states it was computed from
    <tag>/index/imports      the import index: each module checked → the modules it imports

``<tag>`` names the cache schema, glacier's version, Python's and libcst's (either may read
source differently) and a fingerprint of the analyzer's files (an edited checkout), so a cache written by
other code is never read. Entries are written to a
temporary file and renamed (atomic); one that cannot be read, is truncated or holds anything
but the expected classes is ignored and rebuilt. Everything here is safe to delete.

Entries are pickles read by a restricted unpickler that resolves only the summary classes of
``analyzer._summary``: a cache directory planted in a repository cannot run code.
"""

from __future__ import annotations

import io
import os
import pickle
import sys
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyzer._summary import ModuleSummary

try:  # the C module itself: `hashlib` would load OpenSSL first (~2 ms of every check)
    from _blake2 import blake2b
except ImportError:  # pragma: no cover - not CPython
    from hashlib import blake2b

__all__ = [
    "ENV_DIR",
    "SCHEMA",
    "SummaryCache",
    "cache_dir",
    "content_hash",
    "load",
    "load_imports",
    "store",
    "store_imports",
    "tag",
]

SCHEMA = 7  # bump when a summary's or a check entry's shape changes
ENV_DIR = "GLACIER_CACHE_DIR"
_MAGIC = b"GLCACHE1\n"


def load_imports(directory: str) -> dict[str, tuple[str, ...]]:
    """The import index: for each module (absolute path) checked so far, the project modules
    it imports. A one-file check finds that file's importers here instead of walking."""
    found = load(os.path.join(directory, "index", "imports"))
    if not isinstance(found, dict):
        return {}
    return {
        k: v
        for k, v in found.items()
        if isinstance(k, str) and isinstance(v, tuple) and all(isinstance(d, str) for d in v)
    }


def store_imports(directory: str, index: dict[str, tuple[str, ...]]) -> None:
    store(os.path.join(directory, "index", "imports"), dumps(index))


def content_hash(data: bytes) -> bytes:
    """A file's content digest, as the whole-result cache records it."""
    return blake2b(data, digest_size=16).digest()


def tag() -> str:
    from glacier import __version__

    python = f"py{sys.version_info[0]}.{sys.version_info[1]}"
    return (
        f"v{SCHEMA}-glacier{__version__}-{python}-libcst{_libcst_version()}-{_code_fingerprint()}"
    )


def _libcst_version() -> str:
    """The installed libcst's version file, fingerprinted without importing libcst (that
    takes ~0.2 s; ``importlib.metadata`` ~20 ms)."""
    import importlib.util

    spec = importlib.util.find_spec("libcst")
    locations = spec.submodule_search_locations if spec is not None else None
    if not locations:
        return "none"
    try:
        with open(os.path.join(locations[0], "_version.py"), "rb") as handle:
            return blake2b(handle.read(), digest_size=4).hexdigest()
    except OSError:
        return "unknown"


def _code_fingerprint() -> str:
    """The analyzer's own files (names, sizes, mtimes): an edited analyzer in a development
    checkout must not answer from a cache its previous code wrote."""
    import glacier.source

    hasher = blake2b(digest_size=6)
    directory = os.path.dirname(os.path.abspath(__file__))
    try:
        entries = sorted(
            (e.name, e.stat().st_size, e.stat().st_mtime_ns)
            for e in os.scandir(directory)
            if e.name.endswith(".py")
        )
        source = os.stat(glacier.source.__file__)
    except OSError:
        return "unknown"
    stats = (source.st_size, source.st_mtime_ns)
    hasher.update(repr((entries, *stats)).encode())
    return hasher.hexdigest()


def cache_dir(root: str) -> str:
    """``$GLACIER_CACHE_DIR`` when set, else ``<root>/.glacier/cache``; one subdirectory per tag."""
    base = os.environ.get(ENV_DIR) or os.path.join(root, ".glacier", "cache")
    return os.path.join(base, tag())


class _Restricted(pickle.Unpickler):
    allowed: frozenset[tuple[str, str]] = frozenset()

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self.allowed:
            raise pickle.UnpicklingError(f"{module}.{name} is not allowed in a cache entry")
        return super().find_class(module, name)


class _SummaryUnpickler(_Restricted):
    pass


def _summary_unpickler() -> type[_Restricted]:
    if not _SummaryUnpickler.allowed:
        from analyzer._summary import SUMMARY_CLASSES

        _SummaryUnpickler.allowed = frozenset((c.__module__, c.__name__) for c in SUMMARY_CLASSES)
    return _SummaryUnpickler


def load(path: str, unpickler: type[_Restricted] = _Restricted) -> Any:
    """The entry at ``path``, or ``None`` when it is missing, corrupt or not ours."""
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return None
    return loads(data, unpickler)


def loads(data: bytes, unpickler: type[_Restricted] = _Restricted) -> Any:
    if not data.startswith(_MAGIC):
        return None
    try:
        return unpickler(io.BytesIO(data[len(_MAGIC) :])).load()
    except Exception:  # noqa: BLE001 - any corrupt entry is a miss, whatever it raises
        return None


def dumps(value: object) -> bytes:
    return _MAGIC + pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)


def store(path: str, data: bytes) -> bool:
    """Write ``data`` to ``path`` atomically; ``False`` when the cache cannot be written."""
    directory = os.path.dirname(path)
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        os.makedirs(directory, exist_ok=True)
        _mark(os.path.dirname(os.path.dirname(directory)))
        with open(temporary, "wb") as handle:
            handle.write(data)
        os.replace(temporary, path)
    except OSError:
        try:
            os.unlink(temporary)
        except OSError:
            pass
        return False
    return True


def _mark(base: str) -> None:
    """Tag the cache so that git and backup tools skip it even where `.glacier/` is not ignored."""
    ignore = os.path.join(base, ".gitignore")
    if not os.path.exists(ignore):
        with open(ignore, "w") as handle:
            handle.write("# written by glacier check: this cache is safe to delete\n*\n")
        with open(os.path.join(base, "CACHEDIR.TAG"), "w") as handle:
            handle.write(
                "Signature: 8a477f597d28d172789f06886806bc55\n"
                "# This file is a cache directory tag created by glacier check.\n"
            )


def _digest(*parts: bytes) -> str:
    hasher = blake2b(digest_size=20)
    for part in parts:
        hasher.update(part)
        hasher.update(b"\0")
    return hasher.hexdigest()


class SummaryCache:
    """``summarize`` with a content-hash cache: the ``summarizer`` hook of ``analyze``.

    ``prefill`` summarises many files at once, in a process pool when there are enough of them
    for the pool to pay off: measured on 2 cores (synthetic modules of ~150 lines, cold check
    in-process), sequential/pool took 32/43 ms for 10 files, 80/78 ms for 25, 163/131 for 50,
    688/507 for 200 (the linking after it is sequential).
    """

    PARALLEL_FROM = 30

    def __init__(self, directory: str | None) -> None:
        self.directory = os.path.join(directory, "summaries") if directory else None
        self.memory: dict[str, ModuleSummary] = {}
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(text: str, module: str, is_package: bool) -> str:
        return _digest(module.encode(), b"1" if is_package else b"0", text.encode("utf-8"))

    def __call__(self, text: str, module: str, is_package: bool) -> ModuleSummary:
        key = self.key(text, module, is_package)
        found = self.memory.get(key) or self._load(key)
        if found is not None and found.name == module and found.is_package == is_package:
            self.hits += 1
            return found
        from analyzer._reader import summarize

        self.misses += 1
        summary = summarize(text, module, is_package)
        self.memory[key] = summary
        if self.directory is not None:
            store(os.path.join(self.directory, key), dumps(summary))
        return summary

    def _load(self, key: str) -> ModuleSummary | None:
        if self.directory is None:
            return None
        found = load(os.path.join(self.directory, key), _summary_unpickler())
        from analyzer._summary import ModuleSummary

        if isinstance(found, ModuleSummary):
            self.memory[key] = found
            return found
        return None

    def prune(self, keep_factor: int = 3) -> None:
        """After a check of the whole project: delete the summaries it did not use once there
        are ``keep_factor`` times more of them than it used (old versions of edited files)."""
        if self.directory is None or not self.memory:
            return
        try:
            names = os.listdir(self.directory)
        except OSError:
            return
        if len(names) <= keep_factor * len(self.memory):
            return
        for name in names:
            if name not in self.memory:
                try:
                    os.unlink(os.path.join(self.directory, name))
                except OSError:
                    pass

    def prefill(self, items: Sequence[tuple[str, str, bool]], jobs: int | None = None) -> None:
        """Summarise ``(text, module, is_package)`` items not cached yet, in parallel if many."""
        missing: dict[str, tuple[str, str, bool]] = {}
        for text, module, is_package in items:
            key = self.key(text, module, is_package)
            if key not in self.memory and key not in missing and self._load(key) is None:
                missing[key] = (text, module, is_package)
        workers = min(jobs or os.cpu_count() or 1, 8)
        if len(missing) < self.PARALLEL_FROM or workers < 2:
            return  # the analysis summarises them one by one, through __call__
        jobs_list = list(missing.items())
        size = max(8, len(jobs_list) // (workers * 4))
        chunks = [jobs_list[i : i + size] for i in range(0, len(jobs_list), size)]
        unpickler = _summary_unpickler()

        def receive(part: list[tuple[str, bytes]]) -> None:
            for key, data in part:
                summary = loads(data, unpickler)
                if summary is not None:
                    self.memory[key] = summary
                    self.misses += 1

        gc_was_enabled = _gc_pause()
        try:
            _in_pool(chunks, workers, self.directory, receive)
        except Exception:  # noqa: BLE001, S110 - no pool (a sandbox, no /dev/shm): the rest in order
            pass
        finally:
            _gc_resume(gc_was_enabled)


def _in_pool(
    chunks: list[list[tuple[str, tuple[str, str, bool]]]],
    workers: int,
    directory: str | None,
    receive: Callable[[list[tuple[str, bytes]]], None],
) -> None:
    """Summarise ``chunks`` in worker processes; ``receive`` each chunk's pickles as it comes
    (loading them overlaps with the workers' remaining work)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
        futures = [pool.submit(_summarize_chunk, chunk, directory) for chunk in chunks]
        for future in as_completed(futures):
            receive(future.result())


def prune_checks(directory: str, keep: int = 32) -> None:
    """Keep the ``keep`` most recently written check entries (one per set of paths checked:
    pre-commit checks a different set of files on every commit)."""
    checks = os.path.join(directory, "checks")
    try:
        entries = [e for e in os.scandir(checks) if e.is_file()]
    except OSError:
        return
    if len(entries) <= keep:
        return
    entries.sort(key=lambda e: e.stat().st_mtime_ns, reverse=True)
    for entry in entries[keep:]:
        try:
            os.unlink(entry.path)
        except OSError:
            pass


def _summarize_chunk(
    chunk: list[tuple[str, tuple[str, str, bool]]], directory: str | None
) -> list[tuple[str, bytes]]:
    """In a worker: summarise, write each entry (in parallel too), return the pickles."""
    from analyzer._reader import summarize

    out = []
    for key, (text, module, is_package) in chunk:
        data = dumps(summarize(text, module, is_package))
        if directory is not None:
            store(os.path.join(directory, key), data)
        out.append((key, data))
    return out


def _gc_pause() -> bool:
    """Loading ~100k small objects: the cyclic GC would run dozens of times for nothing."""
    import gc

    enabled = gc.isenabled()
    gc.disable()
    return enabled


def _gc_resume(enabled: bool) -> None:
    """Re-enable the GC without it then traversing every object made while it was off."""
    import gc

    if enabled:
        gc.freeze()
        gc.enable()
