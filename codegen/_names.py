"""Names that reach the file system or generated code: sanitised, never trusted."""

from __future__ import annotations

import keyword
import re
import unicodedata

__all__ = ["dir_name", "graph_ids", "is_identifier", "is_module_name"]

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
# Names Windows refuses as file names, whatever the extension.
_RESERVED = frozenset(
    ["CON", "PRN", "AUX", "NUL"]
    + [f"COM{i}" for i in range(1, 10)]
    + [f"LPT{i}" for i in range(1, 10)]
)
_MAX_DIR = 80


def dir_name(pipeline: str) -> str:
    """A safe directory name for a pipeline: ``../x`` or ``a/b`` cannot escape ``build/``.

    Letters, digits, ``.``, ``_`` and ``-`` are kept; any run of other characters becomes
    one ``_``; leading dots, dashes and underscores are dropped (no hidden directories, no option-like
    names). Two pipelines may map to the same name; the caller reports that.
    """
    text = unicodedata.normalize("NFKD", pipeline).encode("ascii", "ignore").decode("ascii")
    text = _UNSAFE.sub("_", text).lstrip("._-")[:_MAX_DIR].rstrip("._")
    if not text.strip("_"):
        text = "pipeline"
    if text.split(".")[0].upper() in _RESERVED:
        text = "_" + text
    return text


def is_identifier(name: str) -> bool:
    """A plain Python identifier (not a keyword): safe to paste into generated code."""
    return name.isidentifier() and not keyword.iskeyword(name)


def is_module_name(name: str) -> bool:
    return bool(name) and all(is_identifier(part) for part in name.split("."))


def graph_ids(prefix: str, names: list[str]) -> dict[str, str]:
    """Stable, readable node ids (``task_extract``) for graph formats, unique per call."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for name in sorted(names):
        ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
        base = prefix + "_" + (re.sub(r"[^A-Za-z0-9_]+", "_", ascii_name).strip("_") or "x")
        candidate, n = base, 1
        while candidate.lower() in used:
            n += 1
            candidate = f"{base}_{n}"
        used.add(candidate.lower())
        ids[name] = candidate
    return ids
