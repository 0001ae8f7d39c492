"""Diagnostics are data: one frozen record per finding, one declaration per kind of finding.

Every kind of diagnostic is a small class in :data:`RULES` with a stable code, a kebab-case
name, a severity and its message and hint templates as class constants (pyflakes' one class
per message); the class is the one way to make its diagnostic: ``MissingSource.make(path,
line, column, **fields)``, or ``.make_at(span, **fields)`` at a model span. ``RULES`` lists
them by code for the documentation, suppressions and fixers, never to build one. The rules
the runtime and the mypy plugin report too take their words from ``glacier.messages``.
``docs/diagnostics.md`` documents each code; a test keeps the two in step. Rendering (text,
JSON, GitHub annotations) lives in ``analyzer._render``. A rule whose fix is mechanical says
so (``fixable``); its fixer, registered by code, is in ``analyzer.fixes``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

from glacier import messages

__all__ = [
    "RULES",
    "Diagnostic",
    "Fixable",
    "Rule",
    "Severity",
    "rule",
]

Severity = Literal["error", "warning"]
# "always": every finding of the rule can be fixed by `glacier check --fix`; "sometimes": the
# findings that are made with ``fixable=True`` (see the rule's entry in docs/diagnostics.md)
Fixable = Literal["always", "sometimes"]

# code families that follow from others: the graph (1xx), deployment (3xx), warnings (5xx) and
# build output (6xx) come after what is wrong in a file (0xx), a signature (2xx) or a body (4xx)
_CONSEQUENCE = {"1": 1, "3": 1, "5": 1, "6": 1}


@dataclass(frozen=True, slots=True)
class Diagnostic:
    """One finding about the user's code, with its location (1-based, ``path`` root-relative)."""

    code: str
    name: str
    severity: Severity
    message: str
    hint: str | None
    path: str
    line: int
    column: int
    end_line: int
    end_column: int
    fixable: bool = False  # `glacier check --fix` can fix it (``analyzer.fixes``)

    def sort_key(self) -> tuple[str, int, int, int, str]:
        """File, line, then causes before consequences (a broken signature before the graph
        findings it leads to), then column."""
        return (self.path, self.line, _CONSEQUENCE.get(self.code[3], 0), self.column, self.code)

    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "name": self.name,
            "severity": self.severity,
            "message": self.message,
            "hint": self.hint,
            "path": self.path,
            "line": self.line,
            "column": self.column,
            "end_line": self.end_line,
            "end_column": self.end_column,
            "fixable": self.fixable,
        }


class Rule:
    """A kind of diagnostic. Subclasses set the class constants; ``make`` fills the templates."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[Severity] = "error"
    message: ClassVar[str]
    hint: ClassVar[str | None] = None
    fixable: ClassVar[Fixable | None] = None

    @classmethod
    def make(
        cls,
        path: str,
        line: int,
        column: int,
        end_line: int | None = None,
        end_column: int | None = None,
        fixable: bool | None = None,
        **values: Any,
    ) -> Diagnostic:
        """The finding at this span; ``fixable`` defaults to whether every finding of the rule
        is (a "sometimes" rule passes ``fixable=True`` for the ones its fixer handles)."""
        if fixable is None:
            fixable = cls.fixable == "always"
        elif fixable and cls.fixable is None:
            raise ValueError(f"{cls.code} has no fixer")
        return Diagnostic(
            code=cls.code,
            name=cls.name,
            severity=cls.severity,
            message=cls.message.format(**values),
            hint=cls.hint.format(**values) if cls.hint is not None else None,
            path=path,
            line=max(line, 1),
            column=max(column, 1),
            end_line=max(end_line if end_line is not None else line, 1),
            end_column=max(end_column if end_column is not None else column, 1),
            fixable=fixable,
        )

    @classmethod
    def make_at(cls, span: Located, **values: Any) -> Diagnostic:
        """The finding at a model span (``glacier.model.Span``: where a pipeline, task or
        dataset of the model is written), for findings about a model rather than a source."""
        return cls.make(span.file, span.line, span.column, **values)


class Located(Protocol):
    """A place in a file, as ``glacier.model.Span`` gives it (1-based line and column)."""

    @property
    def file(self) -> str: ...
    @property
    def line(self) -> int: ...
    @property
    def column(self) -> int: ...


RULES: dict[str, type[Rule]] = {}


def rule(cls: type[Rule]) -> type[Rule]:
    """Register a rule class; codes and names must be unique."""
    if cls.code in RULES or any(r.name == cls.name for r in RULES.values()):
        raise ValueError(f"duplicate diagnostic {cls.code} {cls.name}")
    RULES[cls.code] = cls
    return cls


# -- reading the source: files, imports, what the analyzer cannot follow (GLC0xx) -------------


@rule
class SyntaxErrorRule(Rule):
    code = "GLC001"
    name = "syntax-error"
    message = "`{file}` cannot be parsed: {detail}"
    hint = "fix the syntax error; nothing in this file was checked"


@rule
class UnreadableFile(Rule):
    code = "GLC002"
    name = "unreadable-file"
    message = "`{file}` cannot be read: {detail}"
    hint = "{advice}; nothing in this file was checked"

    DECODE: ClassVar[str] = (
        "save the file as UTF-8 (PEP 3120), or declare its encoding in a coding comment "
        "on its first or second line (PEP 263)"
    )
    MISSING: ClassVar[str] = "fix or remove the link, or exclude it in `[tool.glacier] exclude`"
    OTHER: ClassVar[str] = "make the file readable, or exclude it in `[tool.glacier] exclude`"


@rule
class UnresolvedImport(Rule):
    code = "GLC003"
    name = "unresolved-import"
    message = "module `{module}` imported here cannot be found"
    hint = (
        "check the module name and that the file exists under the project root; "
        "pipeline modules are read from source, so every module a pipeline uses must be there"
    )


@rule
class InvalidConfiguration(Rule):
    code = "GLC006"
    name = "invalid-configuration"
    message = "`[tool.glacier]` in `pyproject.toml` is invalid: {detail}"
    hint = (
        'write `pipelines = ["path", ...]` and `exclude = ["glob", ...]`, both lists of strings; '
        "until then the defaults apply"
    )


@rule
class UnusedSuppression(Rule):
    code = "GLC009"
    name = "unused-suppression"
    severity = "warning"
    fixable = "always"
    message = (
        "`# glacier: ignore[{listed}]` suppresses nothing: no `{listed}` finding is on this line"
    )
    hint = "remove `{listed}` from the comment (`glacier check --fix` does)"


@rule
class DynamicName(Rule):
    code = "GLC004"
    name = "dynamic-name"
    message = "the name of {what} is `{expression}`, which is not a string literal"
    hint = (
        "write the name as a string literal (`{example}`); names are read without running "
        "the module"
    )


@rule
class UnsupportedConstruct(Rule):
    code = "GLC005"
    name = "unsupported-construct"
    message = "{what} cannot be followed without running the module"
    hint = "{advice}"


@rule
class UnfollowedTaskRegistration(Rule):
    code = "GLC007"
    name = "task-registration-not-followed"
    message = "`{expression}` registers a task {where}, which the static path cannot follow"
    hint = (
        "register each task at module level: decorate a module-level function with "
        '`@{pipeline}.task()`, or write `{pipeline}.task(name="...")(function)` as a statement '
        "of its own, once per task"
    )


# -- the DAG (GLC1xx) -------------------------------------------------------------------------


@rule
class DatasetCycle(Rule):
    code = "GLC101"
    name = "dataset-cycle"
    message = messages.DATASET_CYCLE.message
    hint = messages.DATASET_CYCLE.hint


@rule
class MissingSource(Rule):
    code = "GLC102"
    name = "source-without-storage"
    message = (
        "dataset `{dataset}` is read by task `{task}` but no task of pipeline `{pipeline}` "
        "produces it and it has no storage"
    )
    hint = (
        "add a task that returns `{variable}`, or give the dataset storage to read it from "
        "(`storage=ObjectStorage(bucket=...)`)"
    )


@rule
class DuplicateProducer(Rule):
    code = "GLC103"
    name = "duplicate-producer"
    message = messages.DUPLICATE_PRODUCER.message
    hint = messages.DUPLICATE_PRODUCER.hint


@rule
class DuplicateTask(Rule):
    code = "GLC104"
    name = "duplicate-task"
    message = messages.DUPLICATE_TASK.message
    hint = messages.DUPLICATE_TASK.hint


@rule
class DuplicateDataset(Rule):
    code = "GLC105"
    name = "duplicate-dataset"
    message = messages.DUPLICATE_DATASET.message
    hint = messages.DUPLICATE_DATASET.hint


# -- task signatures (GLC2xx) -----------------------------------------------------------------


@rule
class MissingAnnotation(Rule):
    code = "GLC201"
    name = "missing-dataset-annotation"
    message = messages.MISSING_ANNOTATION.message
    hint = messages.MISSING_ANNOTATION.hint


@rule
class MissingReturnAnnotation(Rule):
    code = "GLC202"
    name = "missing-return-annotation"
    message = messages.MISSING_RETURN_ANNOTATION.message
    hint = messages.MISSING_RETURN_ANNOTATION.hint


@rule
class NotADataset(Rule):
    code = "GLC203"
    name = "not-a-dataset"
    fixable = "sometimes"  # a one-dataset `tuple[a]` return
    message = messages.NOT_A_DATASET.message
    hint = messages.NOT_A_DATASET.hint


@rule
class NestedDataset(Rule):
    code = "GLC204"
    name = "nested-dataset"
    message = messages.NESTED_DATASET.message
    hint = messages.NESTED_DATASET.hint


@rule
class DatasetClassAnnotation(Rule):
    code = "GLC205"
    name = "dataset-class-annotation"
    message = messages.DATASET_CLASS.message
    hint = messages.DATASET_CLASS.hint


@rule
class DuplicateOutput(Rule):
    code = "GLC206"
    name = "duplicate-output"
    message = messages.DUPLICATE_OUTPUT.message
    hint = messages.DUPLICATE_OUTPUT.hint


@rule
class BareTaskDecorator(Rule):
    code = "GLC207"
    name = "task-decorator-without-call"
    fixable = "always"
    message = "`@{decorator}` is used without parentheses"
    hint = "write `@{decorator}()`"


@rule
class DatasetShadowedByFunction(Rule):
    code = "GLC209"
    name = "dataset-shadowed-by-function"
    message = (
        "{what} of task `{task}` is `{name}`, which names function `{name}` (line "
        "{def_line}): the `def` rebinds dataset variable `{name}` (line {dataset_line})"
    )
    hint = (
        "rename the function and keep the task's name: "
        '`@{pipeline}.task(name="{name}")` on `def make_{name}(...)`; or rename the dataset '
        "variable"
    )


@rule
class InvalidTaskOption(Rule):
    code = "GLC208"
    name = "invalid-task-option"
    message = "`{option}` of task `{task}` is `{value}`, {problem}"
    hint = "{advice}"


@rule
class UnknownRunParameter(Rule):
    code = "GLC210"
    name = "unknown-run-parameter"
    message = "`--param {key}` sets nothing: no task of {pipelines} has a parameter `{key}`"
    hint = (
        "run parameters: {known}; a run parameter is a task parameter that "
        "is not a dataset and has a default (`def rank(data: sales, n: int = 3)`), set with "
        "`--param n=5` (every task with `n`) or `--param rank.n=5` (one task)"
    )


# -- deployment, reported by `glacier build` / `glacier plan` (GLC3xx) ---------------------------


@rule
class StorageSpansEnvironments(Rule):
    code = "GLC301"
    name = "storage-spans-environments"
    message = "the storage of pipeline `{pipeline}` spans environments {environments}: {where}"
    hint = (
        "store every dataset of a pipeline in one environment; move data between accounts with "
        "a separate pipeline in each"
    )


@rule
class PipelineEnvironmentAmbiguous(Rule):
    code = "GLC302"
    name = "pipeline-environment-ambiguous"
    message = (
        "pipeline `{pipeline}` stores no dataset in an environment, and several are declared "
        "({environments})"
    )
    hint = (
        "store at least one of its datasets with `env.s3(...)` of the environment that should "
        "run it"
    )


@rule
class InfrastructureSpansEnvironments(Rule):
    code = "GLC303"
    name = "infrastructure-spans-environments"
    severity = "warning"
    message = "this infrastructure statement uses environments {environments}; it is deployed with `{first}`"
    hint = (
        "give each resource the provider of one environment "
        "(`opts=pulumi.ResourceOptions(provider=env.provider)`)"
    )


@rule
class InfrastructureNameUnresolved(Rule):
    code = "GLC304"
    name = "infrastructure-name-unresolved"
    severity = "warning"
    message = (
        "`{name}` is used by this infrastructure statement but no statement of its module binds it"
    )
    hint = "define or import it at module level in the same module, before this statement"


@rule
class BundleTooLarge(Rule):
    code = "GLC305"
    name = "bundle-too-large"
    message = (
        "the Lambda bundle of pipeline `{pipeline}` is {size} unzipped, over AWS Lambda's "
        "{limit} quota; largest: {largest}"
    )
    hint = (
        "run the pipeline's tasks on `Container` compute (`@pipeline.task(compute=Container())`):"
        " every Lambda task deploys the whole bundle, a container image has no such quota"
    )


@rule
class InvalidBucketName(Rule):
    code = "GLC306"
    name = "invalid-bucket-name"
    severity = "warning"
    message = (
        "the bucket `{bucket}` of dataset `{dataset}` is not a valid S3 bucket name, so the AWS "
        "program cannot {action} it: {detail}"
    )
    hint = (
        "name it as S3 requires, 3-63 lowercase letters, digits and hyphens "
        '(`ObjectStorage(bucket="my-data")`); locally any name works'
    )


@rule
class StateMachineTooLarge(Rule):
    code = "GLC307"
    name = "state-machine-too-large"
    message = "the state machine of pipeline `{pipeline}` cannot be deployed: {why}"
    hint = (
        "split the pipeline into several smaller pipelines (a dataset one stores is a source "
        "of the next); the local runner has no such limit (`glacier run`)"
    )


@rule
class TaskPolicyTooLarge(Rule):
    code = "GLC308"
    name = "task-policy-too-large"
    message = (
        "task `{task}` reads and writes {datasets} datasets: its role's IAM policy would be "
        "up to {size} characters, over IAM's {limit} for a role"
    )
    hint = (
        "each stored or ephemeral dataset a task touches is granted its exact keys, about 300 "
        "characters; split the task, or gather its inputs into fewer datasets (one dataset "
        "holding a dict or a DataFrame instead of one per part)"
    )


# -- infrastructure (GLC4xx) ------------------------------------------------------------------


@rule
class InfrastructureInTask(Rule):
    code = "GLC401"
    name = "infrastructure-in-task"
    message = "task `{task}` uses `{name}`, which is infrastructure ({why})"
    hint = (
        "infrastructure exists only in the Pulumi program, not where tasks run; read the "
        "dataset the task is given instead, or pass plain values (a bucket name string)"
    )


@rule
class InvalidConfigValue(Rule):
    code = "GLC402"
    name = "invalid-config-value"
    message = (
        "`{call}` raises `{exception}` for `{argument}={value}` when the module is imported: "
        "{detail}"
    )
    hint = "{advice}"


@rule
class BucketNameWithDots(Rule):
    code = "GLC403"
    name = "bucket-name-with-dots"
    severity = "warning"
    message = (
        "the bucket `{bucket}` has dots: S3 cannot serve it over virtual-hosted-style HTTPS (its "
        "certificate covers one label) nor through Transfer Acceleration"
    )
    hint = (
        "S3 accepts it, so an existing bucket may keep it; a bucket you can rename is better "
        'named with hyphens: `"{dashed}"`'
    )


# -- warnings (GLC5xx) ------------------------------------------------------------------------


@rule
class UnconsumedOutput(Rule):
    code = "GLC501"
    name = "unconsumed-output"
    severity = "warning"
    message = (
        "dataset `{dataset}` produced by task `{task}` is ephemeral and no task of pipeline "
        "`{pipeline}` reads it"
    )
    hint = "give it storage to keep it (`storage=ObjectStorage(bucket=...)`), or read it in a task"


@rule
class EmptyPipeline(Rule):
    code = "GLC502"
    name = "empty-pipeline"
    severity = "warning"
    message = "pipeline `{pipeline}` has no tasks"
    hint = (
        "decorate functions with `@{variable}.task()`; if the tasks live in other modules, "
        "check those modules too (import them from the package's `__init__.py`)"
    )


@rule
class DynamicDescription(Rule):
    code = "GLC503"
    name = "dynamic-description"
    severity = "warning"
    message = "the description of pipeline `{pipeline}` is `{expression}`, which is not a literal"
    hint = (
        "the static model leaves the description out; write a string literal, "
        "`description=__doc__` or literals joined with `+`"
    )


# -- build output, reported by `glacier build` (GLC6xx) ----------------------------------------


@rule
class BuildDirectoryClash(Rule):
    code = "GLC601"
    name = "build-directory-clash"
    message = (
        "pipelines `{first}` ({first_span}) and `{second}` would both be built into `{directory}/`"
    )
    hint = (
        "rename one of the pipelines; build directories keep only letters, digits, `.`, `_` "
        "and `-` of a pipeline's name"
    )
