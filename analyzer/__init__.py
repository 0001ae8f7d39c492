"""Glacier's static path: read pipeline modules without importing them.

``analyze(paths)`` returns the pipelines' intermediate model (``glacier.model``), diagnostics,
and a classification of every module-level statement for code generation. Importing this
package is cheap; nothing here imports libcst, pulumi, or the analysed code.
"""

from analyzer._analyze import Analysis as Analysis
from analyzer._analyze import ModuleInfo as ModuleInfo
from analyzer._analyze import Statement as Statement
from analyzer._analyze import analyze as analyze
from analyzer._diagnostics import RULES as RULES
from analyzer._diagnostics import Diagnostic as Diagnostic
from analyzer._diagnostics import Rule as Rule
from analyzer._summary import ModuleSummary as ModuleSummary
from analyzer._summary import summarize as summarize

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
