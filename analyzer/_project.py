"""Project discovery: the root, ``[tool.glacier]`` settings, and which files to read.

The root is the nearest directory at or above every path given holding ``pyproject.toml`` or
``.git``; it names modules' files and holds the cache (``.glacier/cache``), but it is walked
only when it is what the user pointed at. ``[tool.glacier]``
may list ``pipelines = [paths]`` (what ``glacier check`` checks when given no path) and
``exclude = [globs]`` (matched against root-relative POSIX paths). Directories are walked
without following a symlink into a directory already visited, so symlink loops end; a FIFO,
socket or device named ``*.py`` is skipped (reading it could block) and never opened.
Sources are decoded as Python decodes them: UTF-8, or the encoding of a PEP 263 coding
comment.
"""

from __future__ import annotations

import errno
import fnmatch
import io
import os
import re
import stat
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from glacier.source import marked_ancestor

__all__ = [
    "DEFAULT_EXCLUDE",
    "Config",
    "Files",
    "decode_source",
    "find_root",
    "iter_python_files",
    "load_config",
    "may_declare_tasks",
    "mentions_glacier",
    "os_error_detail",
    "read_bytes",
    "read_source",
    "regular_only",
    "unreadable_advice",
]

# Directory names never walked into (they hold environments, caches or generated code).
DEFAULT_EXCLUDE = frozenset(
    {
        ".git",
        ".hg",
        ".venv",
        "venv",
        ".tox",
        ".nox",
        "__pycache__",
        "node_modules",
        "build",
        "dist",
        ".glacier",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "site-packages",
    }
)


@dataclass(frozen=True, slots=True)
class Config:
    """``[tool.glacier]`` of the project's ``pyproject.toml`` (empty when there is none)."""

    pipelines: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    error: str | None = None

    def excluded(self, relative: str) -> bool:
        return any(
            fnmatch.fnmatch(relative, pattern)
            or fnmatch.fnmatch(relative, pattern.rstrip("/") + "/*")
            for pattern in self.exclude
        )


def find_root(paths: Sequence[str | os.PathLike[str]]) -> str:
    """The nearest directory at or above every path holding ``pyproject.toml`` or ``.git``
    (without one: the directory the paths share)."""
    absolute = [os.path.abspath(os.fspath(p)) for p in paths] or [os.getcwd()]
    directories = [p if os.path.isdir(p) else os.path.dirname(p) for p in absolute]
    start = os.path.commonpath(directories)
    return marked_ancestor(start) or start


def load_config(root: str) -> Config:
    path = os.path.join(root, "pyproject.toml")
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError:
        return Config()
    if b"glacier" not in data:
        return Config()
    import tomllib

    try:
        table = tomllib.loads(data.decode("utf-8")).get("tool", {}).get("glacier", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        return Config(error=f"it is not valid TOML ({exc})")
    if not isinstance(table, dict):
        return Config(error="`tool.glacier` is not a table")
    pipelines = table.get("pipelines", [])
    exclude = table.get("exclude", [])
    if not _strings(pipelines) or not _strings(exclude):
        return Config(error="`pipelines` and `exclude` must be lists of strings")
    return Config(pipelines=tuple(pipelines), exclude=tuple(exclude))


def _strings(value: object) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def relative_to(root: str, path: str) -> str:
    rel = os.path.relpath(path, root)
    return rel.replace(os.sep, "/")


def iter_python_files(
    paths: Iterable[str | os.PathLike[str]], root: str, config: Config
) -> Iterator[str]:
    """Absolute paths of the ``.py`` files under ``paths``, each once, sorted per directory.

    Files named explicitly are yielded even when a directory walk would skip them, unless
    ``[tool.glacier] exclude`` matches them.
    """
    seen_files: set[str] = set()
    seen_dirs: set[str] = set()
    for raw in paths:
        path = os.path.abspath(os.fspath(raw))
        if os.path.isdir(path):
            yield from _walk(path, root, config, seen_files, seen_dirs)
        elif (
            path.endswith(".py")
            and os.path.isfile(path)
            and path not in seen_files
            and not config.excluded(relative_to(root, path))
        ):
            seen_files.add(path)
            yield path


def _walk(
    top: str, root: str, config: Config, seen_files: set[str], seen_dirs: set[str]
) -> Iterator[str]:
    stack = [top]
    while stack:
        directory = stack.pop()
        try:
            real = os.path.realpath(directory)
        except (OSError, ValueError):
            continue
        if real in seen_dirs:
            continue  # a symlink loop, or a directory reached twice
        seen_dirs.add(real)
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except OSError:
            continue
        subdirs: list[str] = []
        for entry in entries:
            relative = relative_to(root, entry.path)
            if config.excluded(relative):
                continue
            try:
                is_dir = entry.is_dir()
            except OSError:
                continue
            if is_dir:
                if entry.name in DEFAULT_EXCLUDE or entry.name.startswith("."):
                    continue
                subdirs.append(entry.path)
            elif entry.name.endswith(".py") and entry.path not in seen_files:
                if not _regular_or_dangling(entry):
                    continue  # a FIFO, socket or device named `*.py`: reading it could hang
                seen_files.add(entry.path)
                yield entry.path
        stack.extend(reversed(subdirs))


def _regular_or_dangling(entry: os.DirEntry[str]) -> bool:
    try:
        if entry.is_file():
            return True
        return entry.is_symlink() and not os.path.exists(entry.path)
    except OSError:
        return False


def read_source(path: str) -> tuple[str | None, str | None]:
    """The text of ``path`` decoded per PEP 263, or ``None`` and why it cannot be read."""
    data, error = read_bytes(path)
    if data is None:
        return None, error
    return decode_source(data)


def read_bytes(path: str) -> tuple[bytes | None, str | None]:
    """The content of the regular file ``path`` (a FIFO or a device is never opened: reading
    one could block forever), or ``None`` and why not."""
    try:
        with open(path, "rb", opener=regular_only) as handle:
            return handle.read(), None
    except OSError as exc:
        return None, os_error_detail(path, exc)


def regular_only(path: str, flags: int) -> int:
    """Open without blocking (a FIFO with no writer would), then refuse what is not a file."""
    fd = os.open(path, flags | getattr(os, "O_NONBLOCK", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise IsADirectoryError(errno.EINVAL, "it is not a regular file")
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def os_error_detail(path: str, exc: OSError) -> str:
    """Why ``path`` could not be opened, accurately: a dangling link says so."""
    if isinstance(exc, FileNotFoundError) and os.path.islink(path):
        try:
            target = os.readlink(path)
        except OSError:
            target = "?"
        return f"it is a symbolic link to `{target}`, which does not exist"
    return exc.strerror or str(exc)


def unreadable_advice(detail: str) -> str:
    """The hint of GLC002 for a ``read_source`` error."""
    from analyzer.diagnostics import UnreadableFile

    if detail.startswith("it is a symbolic link"):
        return UnreadableFile.MISSING
    if detail.startswith(_DECODE_ERRORS):
        return UnreadableFile.DECODE
    return UnreadableFile.OTHER


_DECODE_ERRORS = ("byte ", "it contains a NUL byte", "its coding comment")
_COOKIE_LINES = re.compile(rb"\A[^\n]*\n?[^\n]*")


def decode_source(data: bytes) -> tuple[str | None, str | None]:
    """``read_source`` for bytes already read (the cache hashes the same bytes): UTF-8 (BOM
    allowed) unless a PEP 263 coding comment on line 1 or 2 names another encoding."""
    encoding = "utf-8-sig"
    head = _COOKIE_LINES.match(data)
    if head is not None and b"coding" in head.group():
        try:
            encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
        except SyntaxError as exc:
            return None, f"its coding comment is invalid ({exc})"
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        name = "UTF-8" if encoding.startswith("utf-8") else encoding
        return None, f"byte {data[exc.start]:#04x} on line {line} is not valid {name}"
    except LookupError as exc:  # pragma: no cover - detect_encoding checks the codec
        return None, f"its coding comment is invalid ({exc})"
    if "\x00" in text:
        return None, "it contains a NUL byte (is it a binary file?)"
    return text, None


# `.task(` and `.task` without the call (GLC207), not `.tasks`: a module of tasks often
# imports its pipeline and datasets from the project and never spells "glacier"
_TASK = re.compile(r"\.task\b")


def mentions_glacier(text: str) -> bool:
    """Cheap pre-filter: could this file declare a pipeline, a dataset or a task?"""
    return "glacier" in text or may_declare_tasks(text)


def may_declare_tasks(text: str) -> bool:
    return ".task" in text and _TASK.search(text) is not None


class Files:
    """The file system as the analyzer sees it; the check cache's subclass records every answer
    (what a cached result depends on)."""

    def read(self, path: str) -> tuple[str | None, str | None]:
        return read_source(path)

    def isfile(self, path: str) -> bool:
        return os.path.isfile(path)

    def may_mention_glacier(self, path: str) -> bool:
        """``mentions_glacier`` for a file that cannot be decoded (read as Latin-1)."""
        data, _ = read_bytes(path)
        return data is None or mentions_glacier(data.decode("latin-1"))

    def walk(self, paths: Iterable[str | os.PathLike[str]], root: str, config: Config) -> list[str]:
        return list(iter_python_files(paths, root, config))
