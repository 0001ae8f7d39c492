"""The words of the rules a pipeline definition follows, written once.

Three paths report these rules: the runtime raises while a module registers its tasks
(``glacier._pipeline``), the analyzer reports them as diagnostics without running the module
(``analyzer.diagnostics`` builds its rule classes from these entries, codes and names stay
there), and the mypy plugin reports the ones it can see in a signature (``glacier.mypy``).
Each path fills the same fields of the same templates, so a user reads the same words
whichever path tells them; ``tests/test_messages.py`` triggers each rule on every path that
reports it and compares.

A message states a fact, names things in backticks and has no trailing period; the hint says
what to do. This module is plain data: importing it imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = [
    "DATASET_CLASS",
    "DATASET_CYCLE",
    "DUPLICATE_DATASET",
    "DUPLICATE_OUTPUT",
    "DUPLICATE_PRODUCER",
    "DUPLICATE_TASK",
    "MISSING_ANNOTATION",
    "MISSING_RETURN_ANNOTATION",
    "NESTED_DATASET",
    "NOT_A_DATASET",
    "ONE_OUTPUT_ADVICE",
    "PARAMETER_ADVICE",
    "RETURN_ADVICE",
    "RETURN_ANNOTATION",
    "Message",
    "parameter_annotation",
]


@dataclass(frozen=True, slots=True)
class Message:
    """A rule's message and hint: format strings of named fields."""

    message: str
    hint: str

    def text(self, **fields: Any) -> str:
        """The message with its fields filled in."""
        return self.message.format(**fields)

    def hint_text(self, **fields: Any) -> str:
        """The hint with its fields filled in."""
        return self.hint.format(**fields)

    def sentence(self, **fields: Any) -> str:
        """Message and hint as one sentence, the form of a runtime exception."""
        return f"{self.text(**fields)}; {self.hint_text(**fields)}"


# -- what part of a signature a message is about (the ``what`` field) --------------------------

RETURN_ANNOTATION = "the return annotation"


def parameter_annotation(param: str) -> str:
    """``what`` for the annotation of parameter ``param``."""
    return f"the annotation of parameter `{param}`"


# -- task signatures ---------------------------------------------------------------------------

MISSING_ANNOTATION = Message(
    "parameter `{param}` of task `{task}` has no dataset annotation",
    "annotate it with the dataset it reads (`{param}: raw`) or give it a default",
)

RETURN_ADVICE = (
    "write `-> dataset` for its output, `-> tuple[a, b]` for several, or `-> None` for a sink"
)

MISSING_RETURN_ANNOTATION = Message("task `{task}` has no return annotation", RETURN_ADVICE)

# ``advice``: one of the three below, or (analyzer) why the annotation could not be followed
NOT_A_DATASET = Message(
    "{what} of task `{task}` is `{annotation}`, which is not a dataset", "{advice}"
)
PARAMETER_ADVICE = (
    "annotate it with the dataset it reads, or give it a default if it is not an input"
)
# a `tuple[a]` return: the runner and the handlers unpack a tuple only for two or more outputs
ONE_OUTPUT_ADVICE = "a task with one output returns it directly: write `-> {item}`"

NESTED_DATASET = Message(
    "{what} of task `{task}` puts dataset `{dataset}` inside `{annotation}`",
    "annotate with the dataset itself (`{dataset}`); a task reads and writes whole datasets",
)

DATASET_CLASS = Message(
    "{what} of task `{task}` is the `Dataset` class, not a dataset",
    'declare the dataset at module level (`raw = Dataset(name="raw")`) and annotate '
    "with it (`data: raw`)",
)

DUPLICATE_OUTPUT = Message(
    "dataset `{dataset}` appears twice in the return annotation of task `{task}`",
    "list each output dataset once: `-> tuple[a, b]`",
)

# -- the DAG: ``where`` is the location of the other declaration -------------------------------

DUPLICATE_PRODUCER = Message(
    "dataset `{dataset}` is produced by task `{task}` and by task `{other}` ({where})",
    "a dataset has one producer; give one of the tasks a different output dataset",
)

DUPLICATE_TASK = Message(
    "pipeline `{pipeline}` already has a task named `{task}` ({where})",
    'rename the function, or pass a unique name: `@{variable}.task(name="...")`',
)

DUPLICATE_DATASET = Message(
    "two different datasets of pipeline `{pipeline}` are named `{dataset}` "
    "(the other one is at {where})",
    "give each dataset a unique name, or import the one declaration everywhere",
)

DATASET_CYCLE = Message(
    "the tasks of pipeline `{pipeline}` form a cycle: {cycle}",
    "a task cannot depend on its own output; break the cycle by removing one of these edges",
)
