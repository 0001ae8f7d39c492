"""Mark every module-level statement as task code, infrastructure, or a glacier declaration.

Code generation keeps ``task`` statements in local runners and task bundles, carries
``infrastructure`` statements into Pulumi programs, and drops ``glacier`` declarations (the
runner replaces them). The rules, applied until nothing changes (a function may use a name
bound further down):

- imports: of glacier/glacier_aws/glacier_local → glacier; of pulumi/pulumi_* → infrastructure;
  of a project module's names → the kind of the statement that binds each name there;
- ``Pipeline``/``Dataset``/storage and compute configs, calls of glacier's API → glacier;
  ``Environment(...)``, ``.s3()``/``.rds()``, anything called from pulumi → infrastructure;
- task functions → task (their ``@pipeline.task`` decorators are listed for removal);
- anything else that uses an infrastructure name → infrastructure, else one that uses a glacier
  name → glacier, else task.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from analyzer._resolve import Resolver
from analyzer._summary import Call, StatementSummary
from analyzer._values import (
    ComputeV,
    DatasetClass,
    DatasetV,
    Ext,
    ModuleV,
    PipelineV,
    StorageV,
    TaskDeco,
    is_infrastructure,
    package_category,
)
from analyzer.diagnostics import InfrastructureInTask
from glacier.storage.kinds import kind_named

__all__ = ["Classified", "Classifier"]

Kind = str  # "task" | "infrastructure" | "glacier"


@dataclass(frozen=True, slots=True)
class Classified:
    kind: Kind
    drop_names: tuple[str, ...]


class Classifier:
    def __init__(
        self,
        resolver: Resolver,
        task_statements: Callable[[str], dict[int, list[tuple[int, int]]]],
        task_names: Callable[[str, int], str | None],
    ) -> None:
        self.resolver = resolver
        self._task_statements = task_statements
        self._task_names = task_names
        self._done: dict[str, tuple[list[Classified], dict[str, Kind]]] = {}
        self._active: set[str] = set()

    def name_kind(self, module: str, name: str) -> Kind:
        if module in self._active:
            return "task"
        return self.classify(module)[1].get(name, "task")

    def classify(self, module: str) -> tuple[list[Classified], dict[str, Kind]]:
        done = self._done.get(module)
        if done is not None:
            return done
        self._active.add(module)
        try:
            result = self._classify(module)
        finally:
            self._active.discard(module)
        self._done[module] = result
        return result

    def _classify(self, module: str) -> tuple[list[Classified], dict[str, Kind]]:
        statements = self.resolver.modules[module].summary.statements
        tasks = self._task_statements(module)
        names: dict[str, Kind] = {}
        result: list[Classified] = []
        for _ in range(6):
            result = []
            before = dict(names)
            for stmt in statements:
                classified, per_name = self._statement(module, stmt, stmt.index in tasks, names)
                result.append(classified)
                for name in stmt.defines:
                    names[name] = per_name.get(name, classified.kind)
            if names == before:
                break
        self._check_task_bodies(module, statements, tasks, names)
        return result, names

    def _statement(
        self, module: str, stmt: StatementSummary, is_task: bool, names: dict[str, Kind]
    ) -> tuple[Classified, dict[str, Kind]]:
        if stmt.kind == "import":
            per_name = {imp.local: self._import_kind(module, imp) for imp in stmt.imports}
            kinds = set(per_name.values())
            if kinds == {"glacier"}:
                kind = "glacier"
            elif "task" not in kinds and kinds:
                kind = "infrastructure"
            else:
                kind = "task"
            drop = tuple(n for n, k in per_name.items() if k != kind) if kind != "glacier" else ()
            return Classified(kind, drop), per_name
        if is_task:
            return Classified("task", ()), {}
        if stmt.kind in ("assign", "expr") and stmt.value is not None:
            value = self.resolver.stmt_value(module, stmt)
            if isinstance(value, (DatasetV, PipelineV, ComputeV, DatasetClass, TaskDeco)) or (
                isinstance(value, StorageV) and not value.infrastructure
            ):
                return Classified("glacier", ()), {}
            if is_infrastructure(value):
                return Classified("infrastructure", ()), {}
            if isinstance(stmt.value, Call):
                func = self.resolver.eval(module, stmt.value.func, stmt.index)
                if isinstance(func, Ext) and func.category == "glacier":
                    return Classified("glacier", ()), {}
            if isinstance(value, Ext) and value.category == "glacier":
                return Classified("glacier", ()), {}
        used = {names.get(name) for name in stmt.uses}
        if "infrastructure" in used:
            return Classified("infrastructure", ()), {}
        if "glacier" in used:
            return Classified("glacier", ()), {}
        return Classified("task", ()), {}

    def _import_kind(self, module: str, imp: object) -> Kind:
        from analyzer._summary import Import

        assert isinstance(imp, Import)
        if imp.error is not None:
            return "task"
        category = package_category(imp.loads)
        if category == "glacier":
            return "glacier"
        if category == "pulumi":
            return "infrastructure"
        if imp.attr is None or imp.attr == "*":
            return "task"
        value = self.resolver.import_value(imp, module)
        if isinstance(value, ModuleV):
            return "task"
        target = self.resolver.module_value(imp.module)
        if isinstance(target, ModuleV):
            return self.name_kind(target.name, imp.attr)
        return "task"

    def _check_task_bodies(
        self,
        module: str,
        statements: tuple[StatementSummary, ...],
        tasks: Mapping[int, object],
        names: dict[str, Kind],
    ) -> None:
        for stmt in statements:
            if stmt.index not in tasks or stmt.function is None:
                continue
            task = self._task_names(module, stmt.index) or stmt.function.name
            for name, pos in stmt.function.body_names:
                if names.get(name) != "infrastructure":
                    continue
                why = self._why(module, name)
                self.resolver.at(module, pos, InfrastructureInTask, task=task, name=name, why=why)

    def _why(self, module: str, name: str) -> str:
        value = self.resolver.lookup(module, name, None)
        if isinstance(value, Ext) and value.category == "pulumi":
            return f"the Pulumi module `{value.qualname}`"
        method = kind_named(value.kind).environment_method if isinstance(value, StorageV) else None
        if method is not None:
            return f"a `.{method}()` resource of an `Environment`"
        from analyzer._values import EnvV, PulumiRes

        if isinstance(value, EnvV):
            return "an `Environment`"
        if isinstance(value, PulumiRes):
            return f"a `{value.resource}` resource"
        return "it is defined from Pulumi resources or an `Environment`"
