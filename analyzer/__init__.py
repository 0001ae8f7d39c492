"""Glacier's static path: read pipeline modules without importing them.

``check(paths)`` is ``glacier check``: the diagnostics, answered from the cache when nothing
changed; ``render_text`` / ``render_json`` / ``render_github`` print them. ``analyze(paths)``
returns the pipelines' intermediate model (``glacier.model``), diagnostics,
and a classification of every module-level statement, with the names and imports code
generation needs (it never parses user source again). Modules are read with libcst
(``analyzer._reader``, imported only when a file has to be parsed: a check answered from the
cache loads no parser); nothing imports pulumi or the analysed code. The names below are
loaded on first use, so that ``glacier check`` answering from its cache (``analyzer._check``)
never loads the analysis itself. ``find_root``, ``load_config`` and ``iter_python_files`` are
the project discovery both paths share (``[tool.glacier]``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyzer._analyze import Analysis as Analysis
    from analyzer._analyze import ModuleInfo as ModuleInfo
    from analyzer._analyze import Statement as Statement
    from analyzer._analyze import analyze as analyze
    from analyzer._check import CheckResult as CheckResult
    from analyzer._check import check as check
    from analyzer._params import unknown_parameters as unknown_parameters
    from analyzer._project import Config as Config
    from analyzer._project import find_root as find_root
    from analyzer._project import iter_python_files as iter_python_files
    from analyzer._project import load_config as load_config
    from analyzer._reader import summarize as summarize
    from analyzer._render import Summary as Summary
    from analyzer._render import render_github as render_github
    from analyzer._render import render_json as render_json
    from analyzer._render import render_text as render_text
    from analyzer._render import summarize_run as summarize_run
    from analyzer._summary import ModuleSummary as ModuleSummary
    from analyzer.diagnostics import RULES as RULES
    from analyzer.diagnostics import Diagnostic as Diagnostic
    from analyzer.diagnostics import Rule as Rule

_EXPORTS = {
    "Analysis": "analyzer._analyze",
    "ModuleInfo": "analyzer._analyze",
    "Statement": "analyzer._analyze",
    "analyze": "analyzer._analyze",
    "CheckResult": "analyzer._check",
    "check": "analyzer._check",
    "unknown_parameters": "analyzer._params",
    "Config": "analyzer._project",
    "find_root": "analyzer._project",
    "iter_python_files": "analyzer._project",
    "load_config": "analyzer._project",
    "Summary": "analyzer._render",
    "render_github": "analyzer._render",
    "render_json": "analyzer._render",
    "render_text": "analyzer._render",
    "summarize_run": "analyzer._render",
    "RULES": "analyzer.diagnostics",
    "Diagnostic": "analyzer.diagnostics",
    "Rule": "analyzer.diagnostics",
    "ModuleSummary": "analyzer._summary",
    "summarize": "analyzer._reader",
}

__all__ = [
    "RULES",
    "Analysis",
    "CheckResult",
    "Config",
    "Diagnostic",
    "ModuleInfo",
    "ModuleSummary",
    "Rule",
    "Statement",
    "Summary",
    "analyze",
    "check",
    "find_root",
    "iter_python_files",
    "load_config",
    "render_github",
    "render_json",
    "render_text",
    "summarize",
    "summarize_run",
    "unknown_parameters",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
