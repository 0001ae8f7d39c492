"""Diagnostics → text, JSON or GitHub workflow annotations. Rendering only: no analysis here."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from analyzer.diagnostics import Diagnostic

__all__ = ["Summary", "render_github", "render_json", "render_text", "summarize_run"]


@dataclass(frozen=True, slots=True)
class Summary:
    errors: int
    warnings: int
    files: int
    pipelines: int
    fixable: int = 0  # findings `glacier check --fix` can fix
    fixed: int = 0  # findings `glacier check --fix` fixed before this result

    def to_dict(self) -> dict[str, int]:
        return {
            "errors": self.errors,
            "warnings": self.warnings,
            "files": self.files,
            "pipelines": self.pipelines,
            "fixable": self.fixable,
            "fixed": self.fixed,
        }

    def sentence(self) -> str:
        checked = f"{_plural(self.pipelines, 'pipeline')} in {_plural(self.files, 'file')} checked"
        fixed = f"Fixed {_plural(self.fixed, 'finding')}\n" if self.fixed else ""
        if not self.errors and not self.warnings:
            return f"{fixed}No problems found ({checked})"
        parts = [
            _plural(n, w) for n, w in ((self.errors, "error"), (self.warnings, "warning")) if n
        ]
        found = f"{fixed}Found {' and '.join(parts)} ({checked})"
        if self.fixable:
            found += f"\n[*] {self.fixable} fixable with `glacier check --fix`"
        return found


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def summarize_run(
    diagnostics: Sequence[Diagnostic], files: int, pipelines: int, fixed: int = 0
) -> Summary:
    errors = sum(1 for d in diagnostics if d.severity == "error")
    fixable = sum(1 for d in diagnostics if d.fixable)
    return Summary(errors, len(diagnostics) - errors, files, pipelines, fixable, fixed)


def render_text(diagnostics: Sequence[Diagnostic], summary: Summary | None) -> str:
    """``path:line:col: GLC### message`` and an indented hint per diagnostic, then a summary.

    Warnings look like errors here (the summary counts each); ``[*]`` after the code marks a
    finding ``glacier check --fix`` can fix, as ruff does.
    """
    lines: list[str] = []
    for d in diagnostics:
        mark = " [*]" if d.fixable else ""
        lines.append(f"{d.path}:{d.line}:{d.column}: {d.code}{mark} {d.message}")
        if d.hint:
            lines.append(f"  hint: {d.hint}")
    if summary is not None:
        lines.append(summary.sentence())
    return "\n".join(lines) + ("\n" if lines else "")


def render_json(diagnostics: Sequence[Diagnostic], summary: Summary) -> str:
    payload = {"diagnostics": [d.to_dict() for d in diagnostics], "summary": summary.to_dict()}
    return json.dumps(payload, indent=2, ensure_ascii=False) + "\n"


def render_github(diagnostics: Sequence[Diagnostic], summary: Summary | None) -> str:
    """GitHub Actions workflow commands (``::error file=...::message``), one per diagnostic."""
    lines = []
    for d in diagnostics:
        properties = ",".join(
            f"{key}={_escape_property(str(value))}"
            for key, value in (
                ("file", d.path),
                ("line", d.line),
                ("col", d.column),
                ("endLine", d.end_line),
                ("endColumn", d.end_column),
                ("title", f"{d.code} {d.name}"),
            )
        )
        text = d.message if not d.hint else f"{d.message}\nhint: {d.hint}"
        lines.append(f"::{d.severity} {properties}::{_escape_data(text)}")
    if summary is not None:
        lines.append(summary.sentence())
    return "\n".join(lines) + ("\n" if lines else "")


def _escape_data(value: str) -> str:
    return value.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(value: str) -> str:
    return _escape_data(value).replace(":", "%3A").replace(",", "%2C")
