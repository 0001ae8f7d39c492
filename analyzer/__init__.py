"""Glacier's static path: read pipeline modules without importing them.

``analyze(paths)`` returns the pipelines' intermediate model (``glacier.model``), diagnostics,
and a classification of every module-level statement, with the names and imports code
generation needs (it never parses user source again). Modules are read with libcst
(``analyzer._reader``, imported only when a file has to be parsed: a check answered from the
cache loads no parser); nothing imports pulumi or the analysed code. The names below are
loaded on first use, so that ``glacier check`` answering from its cache (``analyzer._check``)
never loads the analysis itself.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from analyzer._analyze import Analysis as Analysis
    from analyzer._analyze import ModuleInfo as ModuleInfo
    from analyzer._analyze import Statement as Statement
    from analyzer._analyze import analyze as analyze
    from analyzer._diagnostics import RULES as RULES
    from analyzer._diagnostics import Diagnostic as Diagnostic
    from analyzer._diagnostics import Rule as Rule
    from analyzer._reader import summarize as summarize
    from analyzer._summary import ModuleSummary as ModuleSummary

_EXPORTS = {
    "Analysis": "analyzer._analyze",
    "ModuleInfo": "analyzer._analyze",
    "Statement": "analyzer._analyze",
    "analyze": "analyzer._analyze",
    "RULES": "analyzer._diagnostics",
    "Diagnostic": "analyzer._diagnostics",
    "Rule": "analyzer._diagnostics",
    "ModuleSummary": "analyzer._summary",
    "summarize": "analyzer._reader",
}

__all__ = [
    "RULES",
    "Analysis",
    "Diagnostic",
    "ModuleInfo",
    "ModuleSummary",
    "Rule",
    "Statement",
    "analyze",
    "summarize",
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
