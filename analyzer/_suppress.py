"""``# glacier: ignore[...]`` comments: drop the findings they suppress, report the stale ones.

A comment suppresses the findings that point at its line (``ignore[GLC501, GLC502]``: those
codes; a bare ``# glacier: ignore``: every code). A code listed in a comment that suppressed
nothing in this run is reported as ``GLC009 unused-suppression``, one finding per code, its
span on the code inside the brackets (``analyzer.fixes`` removes it). Not reported: codes
that only ``glacier build`` / ``glacier plan`` report (GLC3xx, GLC6xx: a check cannot know
they are unused), bare comments (they may be there for those), comments listing ``GLC009``
itself, and comments in files that do not parse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from analyzer._resolve import LoadedModule
from analyzer._summary import SUPPRESS
from analyzer.diagnostics import RULES, Diagnostic, UnusedSuppression

__all__ = ["apply_suppressions"]

_CODE = re.compile(r"[A-Za-z0-9_]+")
_LATER = ("GLC3", "GLC6")  # reported by `glacier build` / `glacier plan`, not by the check


def apply_suppressions(
    diagnostics: Iterable[Diagnostic], modules: Mapping[str, LoadedModule]
) -> list[Diagnostic]:
    """``diagnostics`` without the suppressed ones, plus a ``GLC009`` per unused code."""
    by_file: dict[str, dict[int, tuple[str, ...]]] = {}
    for loaded in modules.values():
        if loaded.summary.suppressions:
            by_file[loaded.file] = dict(loaded.summary.suppressions)
    if not by_file:
        return list(diagnostics)
    kept: list[Diagnostic] = []
    used: set[tuple[str, int, str]] = set()
    for d in diagnostics:
        codes = by_file.get(d.path, {}).get(d.line)
        if codes is not None and (not codes or d.code in codes):
            used.add((d.path, d.line, d.code))
            continue
        kept.append(d)
    for loaded in modules.values():
        if loaded.summary.suppressions and loaded.summary.error is None:
            kept.extend(_unused(loaded, used))
    return kept


def _unused(loaded: LoadedModule, used: set[tuple[str, int, str]]) -> list[Diagnostic]:
    lines = loaded.source.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    found = []
    for number, codes in loaded.summary.suppressions:
        if not codes or UnusedSuppression.code in codes:
            continue
        match = SUPPRESS.search(lines[number - 1]) if number <= len(lines) else None
        if match is None or match.group(1) is None:
            continue
        line = lines[number - 1]
        for code in _CODE.finditer(match.group(1)):
            listed = code.group(0).upper()
            if (loaded.file, number, listed) in used:
                continue
            if listed in RULES and listed.startswith(_LATER):
                continue
            start = match.start(1) + code.start()
            end = match.start(1) + code.end()
            column = len(line[:start].encode("utf-8")) + 1
            end_column = len(line[:end].encode("utf-8")) + 1
            found.append(
                UnusedSuppression.make(
                    loaded.file, number, column, number, end_column, listed=code.group(0)
                )
            )
    return found
