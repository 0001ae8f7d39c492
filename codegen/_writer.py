"""Writing a build: only what changed, atomically; and ``--check``, which writes nothing.

A build is a set of files per pipeline directory. Inside a directory Glacier built, any
other file is *extra*: the build removes it and ``--check`` reports it. A directory of a
pipeline that no longer exists (renamed, deleted, or its file removed) is recognised by its
``manifest.json`` naming a source file the build covers (one of the files being built, or any
file under a directory being built), and is extra as a whole.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field

from codegen._build import PipelineArtifacts

__all__ = ["VENDORED", "TreeDiff", "all_files", "compare_tree", "record_vendored", "write_tree"]

IGNORED_DIRS = frozenset({"__pycache__", ".pytest_cache", ".ruff_cache", ".mypy_cache"})
VENDORED = ".glacier-vendored"
"""A file listing (one relative path a line) what ``glacier build --package`` installed into
its directory: those files are not generated, yet not extra either."""


@dataclass(slots=True)
class TreeDiff:
    """Paths relative to the output directory, POSIX style, sorted."""

    missing: list[str] = field(default_factory=list)
    stale: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.missing or self.stale or self.extra)


def _files_under(folder: str) -> list[str]:
    """Files under ``folder`` (relative, POSIX), minus caches and vendored packages."""
    found = all_files(folder)
    vendored: set[str] = set()
    for rel in found:
        if rel == VENDORED or rel.endswith("/" + VENDORED):
            prefix = rel[: -len(VENDORED)]
            vendored.add(rel)
            vendored.update(prefix + line for line in _lines(os.path.join(folder, rel)))
    return sorted(found - vendored)


def _lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [line.rstrip("\n") for line in fh if line.strip()]
    except OSError:
        return []


def all_files(folder: str) -> set[str]:
    """Every file under ``folder`` (relative, POSIX), caches aside; vendored ones included."""
    found: set[str] = set()
    for here, dirs, files in os.walk(folder):
        dirs[:] = [d for d in dirs if d not in IGNORED_DIRS]
        base = os.path.relpath(here, folder).replace(os.sep, "/")
        found.update(name if base == "." else f"{base}/{name}" for name in files)
    return found


def record_vendored(folder: str, before: set[str]) -> list[str]:
    """After installing into ``folder``, list what the install added in its ``VENDORED`` file.

    ``before`` is ``all_files(folder)`` taken just before the install; files an earlier
    install recorded stay recorded while they exist.
    """
    after = all_files(folder)
    earlier = set(_lines(os.path.join(folder, VENDORED))) & after
    vendored = sorted(((after - before) | earlier) - {VENDORED})
    with open(os.path.join(folder, VENDORED), "w", encoding="utf-8") as fh:
        fh.writelines(f"{path}\n" for path in vendored)
    return vendored


def _covered(source: str, sources: set[str]) -> bool:
    """``source`` is one of ``sources``, or lies under one of its directories: an entry ending
    in ``/`` (``./`` is the whole project)."""
    if source in sources or "./" in sources:
        return True
    return any(entry.endswith("/") and source.startswith(entry) for entry in sources)


def _orphan_dirs(out_dir: str, built: set[str], sources: set[str]) -> list[str]:
    """Directories of pipelines from ``sources`` that this build no longer produces."""
    try:
        entries = sorted(os.listdir(out_dir))
    except OSError:
        return []
    orphans = []
    for entry in entries:
        manifest = os.path.join(out_dir, entry, "manifest.json")
        if entry in built or not os.path.isfile(manifest):
            continue
        try:
            with open(manifest, encoding="utf-8") as fh:
                data = json.load(fh)
            source = data["pipeline"]["span"]["file"]
        except (OSError, ValueError, KeyError, TypeError):
            continue
        if isinstance(source, str) and _covered(source, sources):
            orphans.append(entry)
    return orphans


def compare_tree(
    out_dir: str, artifacts: Iterable[PipelineArtifacts], sources: Iterable[str] = ()
) -> TreeDiff:
    """How the files on disk differ from ``artifacts``.

    ``sources``: what the build covers, root-relative POSIX paths: files, and directories as
    ``dir/`` (``./``: the whole project).
    """
    artifacts = list(artifacts)
    diff = TreeDiff()
    for art in artifacts:
        folder = os.path.join(out_dir, art.dir_name)
        for rel, data in sorted(art.files.items()):
            path = os.path.join(folder, rel)
            shown = f"{art.dir_name}/{rel}"
            try:
                with open(path, "rb") as fh:
                    current = fh.read()
            except FileNotFoundError:
                diff.missing.append(shown)
                continue
            except OSError:
                diff.stale.append(shown)
                continue
            (diff.unchanged if current == data else diff.stale).append(shown)
        if os.path.isdir(folder):
            diff.extra += [
                f"{art.dir_name}/{rel}" for rel in _files_under(folder) if rel not in art.files
            ]
    built = {art.dir_name for art in artifacts}
    for orphan in _orphan_dirs(out_dir, built, set(sources)):
        diff.extra += [f"{orphan}/{rel}" for rel in _files_under(os.path.join(out_dir, orphan))]
    for bucket in (diff.missing, diff.stale, diff.extra, diff.unchanged):
        bucket.sort()
    return diff


def _write_atomic(path: str, data: bytes) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
        if data.startswith(b"#!"):
            os.chmod(tmp, 0o755)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def _prune_empty(folder: str, stop: str) -> None:
    while os.path.abspath(folder) != os.path.abspath(stop):
        try:
            os.rmdir(folder)
        except OSError:
            return
        folder = os.path.dirname(folder)


def write_tree(
    out_dir: str, artifacts: Iterable[PipelineArtifacts], sources: Iterable[str] = ()
) -> TreeDiff:
    """Bring ``out_dir`` in line with ``artifacts``; returns what was different before."""
    artifacts = list(artifacts)
    diff = compare_tree(out_dir, artifacts, sources)
    by_path = {
        f"{art.dir_name}/{rel}": data for art in artifacts for rel, data in art.files.items()
    }
    for shown in (*diff.missing, *diff.stale):
        _write_atomic(os.path.join(out_dir, *shown.split("/")), by_path[shown])
    for shown in diff.extra:
        path = os.path.join(out_dir, *shown.split("/"))
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        _prune_empty(os.path.dirname(path), out_dir)
    return diff
