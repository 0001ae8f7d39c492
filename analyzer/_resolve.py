"""Follow names through imports and module-level assignments, without running anything.

The resolver works on module summaries (``analyzer._summary``). A name used in module ``m``
before statement ``i`` means its last binding in ``m`` before ``i`` (what Python would see at
that moment); a name imported from another module means that module's final binding. Import
cycles and self-references end in ``Unknown``, never in a recursion.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from analyzer._summary import (
    Attr,
    Call,
    Const,
    DictLit,
    Expr,
    Import,
    ModuleSummary,
    Name,
    Or,
    Other,
    Pos,
    StatementSummary,
    Sub,
    TupleLit,
)
from analyzer._values import (
    BoundMethod,
    ComputeV,
    DatasetClass,
    DatasetV,
    EnvV,
    Ext,
    FunctionRef,
    Key,
    Lit,
    ModuleV,
    Opaque,
    PipelineV,
    PulumiRes,
    StorageV,
    TaskDeco,
    Unknown,
    Value,
    is_infrastructure,
    package_category,
)
from analyzer.diagnostics import (
    BucketNameWithDots,
    Diagnostic,
    DynamicDescription,
    DynamicName,
    InvalidConfigValue,
    UnresolvedImport,
    UnsupportedConstruct,
)
from glacier import validate
from glacier.storage.kinds import RAW_RESOURCE, declared_by, environment_kind, environment_methods

_K = TypeVar("_K")  # a memo key

__all__ = ["DatasetInfo", "EnvInfo", "LoadedModule", "PipelineInfo", "Resolver"]

_BUILTINS = frozenset(dir(builtins))
_ENV_STORAGE = environment_methods()  # `env.s3(...)`, `env.rds(...)`

# The rule the argument naming an `Environment` storage must follow, and the hint when it does
# not, by the StorageModel field it fills (an existing bucket's name is S3's to judge, dots
# allowed, not Glacier's).
_Rule = Callable[[object], Exception | None]
_ENV_ARGUMENT_RULES: dict[str, tuple[Callable[[bool], _Rule], str]] = {
    "bucket": (
        lambda existing: validate.existing_s3_bucket if existing else validate.s3_bucket,
        'use 3-63 lowercase letters, digits and hyphens: `.s3("my-data")`',
    ),
    "name": (
        lambda existing: validate.rds_name,
        'start with a letter, then letters, digits and single hyphens: `.rds("orders-db")`',
    ),
}
# What to write instead of an argument of a compute config AWS refuses, by (API, argument).
_COMPUTE_ADVICE = {
    ("glacier.Serverless", "memory_mb"): "use 128 to 10240 MB: `Serverless(memory_mb=512)`",
    ("glacier.Serverless", "timeout_s"): (
        "use 1 to 900 whole seconds: `Serverless(timeout_s=300)`; a longer task runs on "
        "`Container(...)`"
    ),
    ("glacier.Serverless", "tmp_mb"): "use 512 to 10240 MB: `Serverless(tmp_mb=2048)`",
    ("glacier.Container", "cpu"): (
        "use a Fargate CPU size, 256, 512, 1024, 2048, 4096, 8192 or 16384: `Container(cpu=1024)`"
    ),
    ("glacier.Container", "memory_mb"): (
        "pick a memory size Fargate pairs with the CPU size: `Container(cpu=256, memory_mb=512)`,"
        " `Container(cpu=1024, memory_mb=2048)`"
    ),
}
# The same for the arguments of a storage config, by (API, field).
_CONFIG_ARGUMENT_RULES: dict[tuple[str, str], tuple[_Rule, str]] = {
    ("glacier.ObjectStorage", "bucket"): (
        validate.object_storage,
        'name the bucket: `ObjectStorage(bucket="my-data")`',
    ),
}


@dataclass(frozen=True, slots=True)
class LoadedModule:
    summary: ModuleSummary
    path: str  # absolute
    file: str  # relative to the analysis root, POSIX
    span_file: str  # relative to the file's own project root (what the runtime path records)
    source: str


@dataclass(slots=True)
class PipelineInfo:
    key: Key
    name: str | None
    schedule: str | None
    description: str | None
    pos: Pos
    check_payloads: bool = True


@dataclass(slots=True)
class DatasetInfo:
    key: Key
    name: str | None
    payload: str | None
    storage: StorageV | None
    pos: Pos
    storage_ok: bool = True
    copy: bool = True


@dataclass(slots=True)
class EnvInfo:
    key: Key
    name: str | None
    account: str | None
    region: str | None
    tags: tuple[tuple[str, str], ...]


@dataclass(slots=True)
class _Bindings:
    by_name: dict[str, list[tuple[int, str, Any]]] = field(default_factory=dict)
    order: list[str] = field(default_factory=list)  # names in order of first binding
    stars: list[Import] = field(default_factory=list)


class Resolver:
    def __init__(
        self,
        modules: dict[str, LoadedModule],
        find: Callable[[str], str | None],
        own_tops: frozenset[str],
        opaque: Callable[[str], bool] = lambda dotted: False,
    ) -> None:
        self.modules = modules
        self._find = find  # dotted name -> canonical name of a loaded module, or None
        # a module that exists but is not read: compiled, or a `sys.modules` alias (`os.path`)
        self._opaque = opaque
        self._own_tops = own_tops
        self._bindings: dict[str, _Bindings] = {}
        self._stmt_values: dict[tuple[str, int], Value] = {}
        self._active: set[tuple[str, int]] = set()
        self._part_values: dict[tuple[str, int, str], Value] = {}
        self._final: dict[tuple[str, str], Value] = {}
        self._looking: set[tuple[str, str, int | None]] = set()
        self._active_parts: set[tuple[str, int, str]] = set()
        self.pipelines: dict[Key, PipelineInfo] = {}
        self.datasets: dict[Key, DatasetInfo] = {}
        self.environments: dict[Key, EnvInfo] = {}
        self.storages: dict[Key, StorageV] = {}
        self.diagnostics: list[Diagnostic] = []
        self.unfollowed: set[Key] = set()  # pipelines with a task registration not followed
        self._reported: set[tuple[str, str, int, int]] = set()
        # how often a lookup re-entered itself: results may then depend on the order of lookups
        self.cycles = 0

    def dotted(self, module: str) -> str:
        """The dotted name of a module id (ids are absolute paths)."""
        return self.modules[module].summary.name

    # -- diagnostics --------------------------------------------------------------------------

    def report(self, module: str, diagnostic: Diagnostic) -> None:
        key = (diagnostic.code, diagnostic.path, diagnostic.line, diagnostic.column)
        if key not in self._reported:
            self._reported.add(key)
            self.diagnostics.append(diagnostic)

    def at(self, module_id: str, pos: Pos, rule: Any, /, **values: Any) -> None:
        file = self.modules[module_id].file
        self.report(module_id, rule.make(file, pos[0], pos[1], pos[2], pos[3], **values))

    # -- bindings -----------------------------------------------------------------------------

    def bindings(self, module: str) -> _Bindings:
        found = self._bindings.get(module)
        if found is not None:
            return found
        found = _Bindings()
        for stmt in self.modules[module].summary.statements:
            for imp in stmt.imports:
                if imp.attr == "*":
                    found.stars.append(imp)
                else:
                    self._bind(found, imp.local, stmt.index, "import", imp)
            if stmt.kind == "import":
                continue
            for name in stmt.defines:
                if any(i.local == name for i in stmt.imports):
                    continue
                if stmt.kind == "assign" and name in stmt.targets:
                    self._bind(found, name, stmt.index, "assign", stmt)
                elif stmt.kind == "assign" and any(n == name for n, _ in stmt.unpacked):
                    self._bind(found, name, stmt.index, "part", stmt)
                elif stmt.kind == "assign":
                    self._bind(found, name, stmt.index, "unpacked", stmt)
                elif stmt.kind == "function":
                    self._bind(found, name, stmt.index, "function", stmt)
                else:
                    self._bind(found, name, stmt.index, "other", stmt)
        self._bindings[module] = found
        return found

    @staticmethod
    def _bind(b: _Bindings, name: str, index: int, kind: str, what: Any) -> None:
        if name not in b.by_name:
            b.by_name[name] = []
            b.order.append(name)
        b.by_name[name].append((index, kind, what))

    def binding(self, module: str, name: str, at: int | None) -> tuple[int, str, Any] | None:
        entries = self.bindings(module).by_name.get(name)
        if not entries:
            return None
        if at is None:
            return entries[-1]
        found = None
        for entry in entries:
            if entry[0] < at:
                found = entry
        return found

    # -- lookup -------------------------------------------------------------------------------

    def lookup(self, module: str, name: str, at: int | None) -> Value:
        """What ``name`` means in ``module`` before statement ``at`` (``None``: at the end)."""
        key = (module, name, at)
        if at is None:
            cached = self._final.get((module, name))
            if cached is not None:
                return cached
        if key in self._looking:
            self.cycles += 1
            return Unknown(f"`{name}` is imported in a cycle that never binds it")
        self._looking.add(key)
        try:
            value = self._lookup(module, name, at)
        finally:
            self._looking.discard(key)
        if at is None:
            self._final[(module, name)] = value
        return value

    def _lookup(self, module: str, name: str, at: int | None) -> Value:
        entry = self.binding(module, name, at)
        if entry is None:
            for star in self.bindings(module).stars:
                target = self.module_value(star.module)
                if isinstance(target, ModuleV) and self.binding(target.name, name, None):
                    return self.lookup(target.name, name, None)
                if isinstance(target, Ext):
                    return Ext(f"{target.qualname}.{name}", target.category, target.missing)
            if name in _BUILTINS:
                return Ext(f"builtins.{name}", "other")
            later = self.bindings(module).by_name.get(name)
            if later:
                line = self.modules[module].summary.statements[later[0][0]].pos[0]
                return Unknown(f"`{name}` is only assigned further down, on line {line}")
            return Unknown(f"`{name}` is not defined in module `{self.dotted(module)}`")
        _, kind, what = entry
        if kind == "import":
            return self.import_value(what, module)
        if kind == "assign":
            stmt: StatementSummary = what
            if len(stmt.targets) and stmt.value is not None:
                return self.stmt_value(module, stmt)
            return Opaque()  # an annotation without a value: `x: int`
        if kind == "unpacked":
            return Opaque(dynamic="bound by an unpacking the analyzer does not follow")
        if kind == "function":
            return FunctionRef(module, name)
        if kind == "part":
            return self.part_value(module, what, name)
        if what.kind == "class":
            return Opaque()
        return Opaque(dynamic="bound inside an `if`, `for`, `with` or `try` statement")

    def import_value(self, imp: Import, module: str) -> Value:
        """What an import binds in ``module``: ``from m import x`` is attribute ``x`` of ``m``
        when ``m`` binds it (as Python checks first), else its submodule ``m.x``."""
        if imp.error is not None:
            return Unknown(f"`{imp.module}`: {imp.error}")
        if imp.attr is None:
            return self._unguarded(self.module_value(imp.module), imp)
        target = self._unguarded(self.module_value(imp.module), imp)
        if isinstance(target, ModuleV):
            entry = self.binding(target.name, imp.attr, None)
            if entry is not None and entry[2] is imp and target.name == module:
                entry = None  # `from pkg import sub` inside pkg/__init__.py binds the submodule
            if entry is None:
                submodule = self._find(f"{self.dotted(target.name)}.{imp.attr}")
                if submodule is not None:
                    return ModuleV(submodule)
        return self.attribute(target, imp.attr)

    @staticmethod
    def _unguarded(value: Value, imp: Import) -> Value:
        """A guarded import (``try: import x`` / ``except ImportError``) is never missing."""
        if imp.guarded and isinstance(value, Ext) and value.missing:
            return Ext(value.qualname, value.category)
        return value

    def module_value(self, name: str) -> Value:
        category = package_category(name)
        if category != "other":
            return Ext(name, category)
        canonical = self._find(name)
        if canonical is not None:
            return ModuleV(canonical)
        top = name.split(".", 1)[0]
        missing = None
        if top in self._own_tops and not self._opaque(name):
            missing = f"module `{name}` cannot be found"
        return Ext(name, "other", missing)

    def part_value(self, module: str, stmt: StatementSummary, name: str) -> Value:
        """The value ``name`` gets from an unpacking assignment ``a, b = x, y``."""
        expr = next(e for n, e in reversed(stmt.unpacked) if n == name)
        return self._once(
            self._part_values,
            self._active_parts,
            (module, stmt.index, name),
            lambda: self.eval(module, expr, stmt.index),
        )

    def stmt_value(self, module: str, stmt: StatementSummary) -> Value:
        assert stmt.value is not None
        value = stmt.value
        return self._once(
            self._stmt_values,
            self._active,
            (module, stmt.index),
            lambda: self.eval(module, value, stmt.index, stmt),
        )

    def _once(
        self, cache: dict[_K, Value], active: set[_K], key: _K, compute: Callable[[], Value]
    ) -> Value:
        """``compute()`` memoised under ``key``; a cycle back to ``key`` is an ``Unknown``."""
        cached = cache.get(key)
        if cached is not None:
            return cached
        if key in active:
            self.cycles += 1
            return Unknown("a circular reference")
        active.add(key)
        try:
            value = compute()
        finally:
            active.discard(key)
        cache[key] = value
        return value

    # -- expressions --------------------------------------------------------------------------

    def eval(
        self, module: str, expr: Expr, at: int | None, stmt: StatementSummary | None = None
    ) -> Value:
        if isinstance(expr, Name):
            return self.lookup(module, expr.id, at)
        if isinstance(expr, Attr):
            return self.attribute(self.eval(module, expr.value, at), expr.attr)
        if isinstance(expr, Const):
            return Lit(expr.value)
        if isinstance(expr, Sub):
            base = self.eval(module, expr.value, at)
            if _is_api(base, "glacier.Dataset") or isinstance(base, DatasetClass):
                return DatasetClass(expr.slice_text)
            return Opaque(is_infrastructure(base))
        if isinstance(expr, Call):
            return self.call(module, expr, at, stmt)
        if isinstance(expr, DictLit):
            return Opaque()
        if isinstance(expr, (Or, Other, TupleLit)):
            return Opaque()
        return Opaque()  # pragma: no cover

    def attribute(self, value: Value, attr: str) -> Value:
        if isinstance(value, ModuleV):
            if self.binding(value.name, attr, None) is None:
                submodule = self._find(f"{self.dotted(value.name)}.{attr}")
                if submodule is not None:
                    return ModuleV(submodule)
                if not self.bindings(value.name).stars:
                    return Unknown(f"module `{self.dotted(value.name)}` has no `{attr}`")
            return self.lookup(value.name, attr, None)
        if isinstance(value, Ext):
            return Ext(f"{value.qualname}.{attr}", value.category, value.missing)
        if isinstance(value, PipelineV) and attr == "task":
            return BoundMethod(value, attr)
        if isinstance(value, EnvV) and attr in _ENV_STORAGE:
            return BoundMethod(value, attr)
        if isinstance(value, Unknown):
            return value
        return Opaque(is_infrastructure(value))

    def call(self, module: str, call: Call, at: int | None, stmt: StatementSummary | None) -> Value:
        func = self.eval(module, call.func, at)
        key: Key = (module, call.pos[0], call.pos[1])
        if isinstance(func, DatasetClass) or _is_api(func, "glacier.Dataset"):
            payload = None
            if isinstance(call.func, Sub):
                payload = call.func.slice_text
            elif stmt is not None and stmt.value is call and isinstance(stmt.annotation, Sub):
                payload = stmt.annotation.slice_text
            if key not in self.datasets:
                self.datasets[key] = self._dataset(module, call, at, payload)
            return DatasetV(key)
        if isinstance(func, Ext):
            api = func.api
            if api == "glacier.Pipeline":
                if key not in self.pipelines:
                    self.pipelines[key] = self._pipeline(module, call, at)
                return PipelineV(key)
            if api == "glacier_aws.Environment":
                if key not in self.environments:
                    self.environments[key] = self._environment(module, call, at)
                return EnvV(key)
            if api is not None and declared_by(api) is not None:
                return self._config_storage(module, call, at, key, api)
            if api in ("glacier.Serverless", "glacier.Container"):
                return self._compute(module, call, at, api)
            if func.category == "pulumi":
                last = func.qualname.rsplit(".", 1)[-1]
                if last[:1].isupper():
                    name = self._pulumi_name(module, call, at)
                    return PulumiRes(key, func.qualname, name)
                return Opaque(infrastructure=True)
            return Opaque(dynamic="the result of a call")
        if isinstance(func, BoundMethod):
            if isinstance(func.owner, PipelineV):
                return TaskDeco(func.owner, call, module, at if at is not None else 0)
            env = self.environments.get(func.owner.key)
            kind = environment_kind(func.attr)
            first = kind.arguments[0][0]
            existing = "existing" in kind.fields and self._existing(
                module, call, at, f"{_text(call.func)}(...)"
            )
            rule, hint = _ENV_ARGUMENT_RULES[first]
            arg = _argument(call, 0, first)
            ok, text = self.literal(module, arg, at) if arg is not None else (False, None)
            if ok and arg is not None:
                if not self._validate(module, call, arg, first, text, rule(existing), hint):
                    self._dotted_bucket(module, arg, text if first == "bucket" else None)
                if not isinstance(text, str):
                    text = None
            elif not ok or not isinstance(text, str):
                self.at(
                    module,
                    call.pos,
                    UnsupportedConstruct,
                    what=f"the {first} of `.{func.attr}()`",
                    advice=f'pass a string literal: `.{func.attr}("my-{func.attr}")`',
                )
                text = None
            values: dict[str, object] = {
                first: text,
                "environment": env.name if env is not None else None,
                "existing": existing,
            }
            fields = tuple((name, values[name]) for name in kind.fields)
            storage = StorageV(key, kind.name, fields)
            self.storages[key] = storage
            return storage
        if isinstance(func, Unknown):
            return func
        return Opaque(is_infrastructure(func), dynamic="the result of a call")

    # -- literals -----------------------------------------------------------------------------

    def literal(
        self, module: str, expr: Expr | None, at: int | None, depth: int = 0
    ) -> tuple[bool, Any]:
        """The constant an expression spells: a literal, or a name bound to one."""
        if expr is None:
            return True, None
        if isinstance(expr, Const):
            return True, expr.value
        if isinstance(expr, DictLit):
            result: dict[object, object] = {}
            for k, v in expr.items:
                ok_k, key = self.literal(module, k, at, depth + 1)
                ok_v, value = self.literal(module, v, at, depth + 1)
                if not (ok_k and ok_v):
                    return False, None
                result[key] = value
            return True, result
        if isinstance(expr, Name) and depth < 20:
            entry = self.binding(module, expr.id, at)
            if entry is None and expr.id == "__doc__":
                return True, self.modules[module].summary.docstring
            if entry is not None and entry[1] == "assign":
                stmt: StatementSummary = entry[2]
                if len(stmt.targets) and stmt.value is not None:
                    return self.literal(module, stmt.value, entry[0], depth + 1)
            if entry is not None and entry[1] == "import":
                imp: Import = entry[2]
                target = self.module_value(imp.module)
                if isinstance(target, ModuleV) and imp.attr:
                    found = self.binding(target.name, imp.attr, None)
                    if found is not None and found[1] == "assign" and found[2].value is not None:
                        return self.literal(target.name, found[2].value, found[0], depth + 1)
        return False, None

    def _string(
        self,
        module: str,
        call: Call,
        index: int,
        keyword: str,
        at: int | None,
        what: str,
        example: str,
        required: bool = True,
    ) -> str | None:
        arg = _argument(call, index, keyword)
        if arg is None:
            return None
        ok, value = self.literal(module, arg, at)
        if ok and (isinstance(value, str) or (value is None and not required)):
            return value
        self.at(
            module,
            arg.pos,
            DynamicName if keyword == "name" else UnsupportedConstruct,
            what=what,
            expression=_text(arg),
            example=example,
            advice=f"write it as a string literal: `{example}`",
        )
        return None

    # -- declarations -------------------------------------------------------------------------

    def _pipeline(self, module: str, call: Call, at: int | None) -> PipelineInfo:
        name = self._string(module, call, 0, "name", at, "a pipeline", 'Pipeline(name="etl")')
        # absent optional arguments give None: `_string` only reports arguments that are there
        schedule = self._string(
            module,
            call,
            1,
            "schedule",
            at,
            "the pipeline's `schedule`",
            'schedule="rate(1 day)"',
            required=False,
        )
        schedule_expr = _argument(call, 1, "schedule")
        if schedule is not None and schedule_expr is not None:
            self._validate(
                module,
                call,
                schedule_expr,
                "schedule",
                schedule,
                validate.schedule,
                'write an EventBridge schedule: `schedule="rate(1 day)"`, '
                '`schedule="cron(0 6 * * ? *)"`',
            )
        description = self._description(module, call, at, name)
        return PipelineInfo(
            (module, call.pos[0], call.pos[1]),
            name,
            schedule,
            description,
            call.pos,
            self._bool_option(
                module, call, at, "check_payloads", f"pipeline `{name or '?'}`", "Pipeline"
            ),
        )

    def _bool_option(
        self, module: str, call: Call, at: int | None, option: str, owner: str, api: str
    ) -> bool:
        """A keyword-only bool option whose default is ``True`` (``Pipeline(check_payloads=)``,
        ``Dataset(copy=)``): a literal; anything else is reported and the model keeps the
        default, the safe side (payloads checked, values copied)."""
        arg = _argument(call, 1 << 30, option)
        if arg is None:
            return True
        ok, value = self.literal(module, arg, at)
        if ok and isinstance(value, bool):
            return value
        if ok and not isinstance(value, dict):
            self._validate(
                module,
                call,
                arg,
                option,
                value,
                _BOOL_RULES[option],
                f"write `{option}=False` or `{option}=True`",
            )
            return True
        self.at(
            module,
            arg.pos,
            UnsupportedConstruct,
            what=f"the `{option}` of {owner}, `{_text(arg)}`,",
            advice=f"write `{option}=False` (or `True`) in the `{api}(...)` call",
        )
        return True

    def _description(self, module: str, call: Call, at: int | None, name: str | None) -> str | None:
        """A literal description, ``__doc__`` or literals joined; anything else is left out of
        the model with a warning (a description never changes what runs)."""
        arg = _argument(call, 2, "description")
        if arg is None:
            return None
        ok, value = self.literal(module, arg, at)
        if ok and (value is None or isinstance(value, str)):
            return value
        self.at(module, arg.pos, DynamicDescription, pipeline=name or "?", expression=_text(arg))
        return None

    def _dataset(self, module: str, call: Call, at: int | None, payload: str | None) -> DatasetInfo:
        key: Key = (module, call.pos[0], call.pos[1])
        name = self._string(module, call, 0, "name", at, "a dataset", 'Dataset(name="raw")')
        storage_expr = _argument(call, 1, "storage")
        storage: StorageV | None = None
        ok = True
        if storage_expr is not None and not (
            isinstance(storage_expr, Const) and storage_expr.value is None
        ):
            value = self.eval(module, storage_expr, at)
            if isinstance(value, StorageV):
                storage = value
            elif isinstance(value, PulumiRes):
                storage = StorageV(
                    value.key,
                    RAW_RESOURCE.name,
                    (("name", value.name), ("resource", value.resource)),
                )
                self.storages[value.key] = storage
            else:
                ok = False
                why = value.why if isinstance(value, Unknown) else "it is not a storage config"
                self.at(
                    module,
                    storage_expr.pos,
                    UnsupportedConstruct,
                    what=f"the storage `{_text(storage_expr)}` of dataset `{name}` ({why})",
                    advice=(
                        "pass `ObjectStorage(...)`, `Database(...)`, an `Environment.s3()`/"
                        "`.rds()` result or a Pulumi resource, directly or through a "
                        "module-level variable"
                    ),
                )
        copy = self._bool_option(module, call, at, "copy", f"dataset `{name or '?'}`", "Dataset")
        return DatasetInfo(key, name, payload, storage, call.pos, ok, copy)

    def _environment(self, module: str, call: Call, at: int | None) -> EnvInfo:
        account = self._env_string(
            module,
            call,
            (0, "account"),
            at,
            validate.account,
            ("the environment's `account`", 'account="123456789012"'),
            'write the AWS account id as a string of digits: `account="123456789012"`',
        )
        region = self._env_string(
            module,
            call,
            (1, "region"),
            at,
            validate.region,
            ("the environment's `region`", 'region="us-east-1"'),
            'write an AWS region: `region="us-east-1"`',
        )
        name = self._env_string(
            module,
            call,
            (2, "name"),
            at,
            validate.environment_name,
            ("an environment", 'name="prod"'),
            'start with a letter, then up to 62 letters, digits, `-` or `_`: `name="prod"`',
        )
        tags: tuple[tuple[str, str], ...] = ()
        tags_expr = _argument(call, 3, "tags")
        if tags_expr is not None:
            ok, value = self.literal(module, tags_expr, at)
            if ok and value is None:
                pass
            elif ok and isinstance(value, dict):
                self._validate(
                    module,
                    call,
                    tags_expr,
                    "tags",
                    value,
                    validate.tags,
                    'map non-empty str keys to str values: `tags={"team": "data"}`',
                )
                tags = tuple(sorted((str(k), str(v)) for k, v in value.items()))
            else:
                self.at(
                    module,
                    tags_expr.pos,
                    UnsupportedConstruct,
                    what="the environment's `tags`",
                    advice='write them as a dict literal: `tags={"team": "data"}`',
                )
        return EnvInfo((module, call.pos[0], call.pos[1]), name, account, region, tags)

    def _env_string(
        self,
        module: str,
        call: Call,
        where: tuple[int, str],
        at: int | None,
        check: Callable[[object], Exception | None],
        unsupported: tuple[str, str],
        advice: str,
    ) -> str | None:
        """A string argument of ``Environment(...)``; a literal the runtime rejects is GLC402."""
        arg = _argument(call, *where)
        if arg is not None:
            ok, value = self.literal(module, arg, at)
            if ok and self._validate(module, call, arg, where[1], value, check, advice):
                return value if isinstance(value, str) else None
        what, example = unsupported
        return self._string(module, call, where[0], where[1], at, what, example)

    def _validate(
        self,
        module: str,
        call: Call,
        arg: Expr,
        argument: str,
        value: object,
        check: Callable[[object], Exception | None],
        advice: str,
    ) -> bool:
        """GLC402 when the runtime rule ``check`` rejects the literal ``value``: True if so."""
        error = check(value)
        if error is None:
            return False
        self.at(
            module,
            arg.pos,
            InvalidConfigValue,
            call=_text(call),
            exception=type(error).__name__,
            argument=argument,
            value=repr(value),
            detail=str(error),
            advice=advice,
        )
        return True

    def _config_storage(self, module: str, call: Call, at: int | None, key: Key, api: str) -> Value:
        kind = declared_by(api)
        assert kind is not None
        fields: list[tuple[str, object]] = []
        for index, (field_name, default) in enumerate(kind.arguments):
            arg = _argument(call, index, field_name)
            if arg is None:
                fields.append((field_name, default))
                continue
            ok, value = self.literal(module, arg, at)
            if not ok or not (value is None or isinstance(value, str)):
                self.at(
                    module,
                    arg.pos,
                    UnsupportedConstruct,
                    what=f"`{field_name}` of `{api.rsplit('.', 1)[-1]}(...)`",
                    advice=f'write it as a string literal: `{field_name}="..."`',
                )
                value = default
            elif (api, field_name) in _CONFIG_ARGUMENT_RULES:
                rule, hint = _CONFIG_ARGUMENT_RULES[api, field_name]
                self._validate(module, call, arg, field_name, value, rule, hint)
            fields.append((field_name, value))
        if "existing" in kind.fields:
            existing = self._existing(module, call, at, f"{api.rsplit('.', 1)[-1]}(...)")
            fields.append(("existing", existing))
            names = [name for name, _ in kind.arguments]
            bucket = _argument(call, names.index("bucket"), "bucket") if "bucket" in names else None
            if existing and bucket is not None:
                self._dotted_bucket(module, bucket, dict(fields).get("bucket"))
        storage = StorageV(key, kind.name, tuple(fields))
        self.storages[key] = storage
        return storage

    def _dotted_bucket(self, module: str, arg: Expr, bucket: object) -> None:
        """GLC403 for a bucket name S3 accepts with dots (only an existing bucket has one)."""
        if validate.dotted_bucket(bucket):
            assert isinstance(bucket, str)
            self.at(
                module,
                arg.pos,
                BucketNameWithDots,
                bucket=bucket,
                dashed=bucket.replace(".", "-"),
            )

    def _existing(self, module: str, call: Call, at: int | None, where: str) -> bool:
        """``existing=`` of ``ObjectStorage`` / ``env.s3``: a bool literal, else a diagnostic.

        The model must not guess: a deployment that creates a bucket another system owns, or
        looks up one it should create, is wrong either way.
        """
        arg = _argument(call, _KEYWORD_ONLY, "existing")
        if arg is None:
            return False
        ok, value = self.literal(module, arg, at)
        if not ok:
            self.at(
                module,
                arg.pos,
                UnsupportedConstruct,
                what=f"`existing` of `{where}`",
                advice="write it as a literal: `existing=True` or `existing=False`",
            )
            return False
        if self._validate(
            module,
            call,
            arg,
            "existing",
            value,
            validate.existing,
            "write `existing=True` or `existing=False`",
        ):
            return False
        return bool(value)

    def _compute(self, module: str, call: Call, at: int | None, api: str) -> Value:
        if api == "glacier.Serverless":
            names: tuple[tuple[str, object], ...] = (
                ("memory_mb", 512),
                ("timeout_s", 300),
                ("tmp_mb", None),
            )
        else:
            names = (("image", None), ("cpu", 256), ("memory_mb", 512))
        fields = []
        checked: dict[str, object] = {}  # what the rule sees: UNKNOWN where the model guesses
        written: dict[str, Expr] = {}
        for index, (field_name, default) in enumerate(names):
            arg = _argument(call, index, field_name)
            value: object = default
            if arg is not None:
                written[field_name] = arg
                ok, value = self.literal(module, arg, at)
                if not ok:
                    self.at(
                        module,
                        arg.pos,
                        UnsupportedConstruct,
                        what=f"`{field_name}` of `{api.rsplit('.', 1)[-1]}(...)`",
                        advice=f"write it as a literal: `{field_name}={default!r}`",
                    )
                    value = default
                    checked[field_name] = validate.UNKNOWN
            checked.setdefault(field_name, value)
            fields.append((field_name, value))
        checked.pop("image", None)
        self._check_compute(module, call, api, checked, written)
        return ComputeV(
            (("kind", "serverless" if api == "glacier.Serverless" else "container"), *fields)
        )

    def _check_compute(
        self, module: str, call: Call, api: str, values: dict[str, object], written: dict[str, Expr]
    ) -> None:
        """GLC402 at the argument the runtime rule blames (at a written argument it conflicts
        with when the blamed one is left at its default: `Container(cpu=1024)`)."""
        if api == "glacier.Serverless":
            found = validate.serverless_argument(**values)
        else:
            found = validate.container_argument(**values)
        if found is None:
            return
        argument, error = found
        arg = written.get(argument) or next(
            (written[name] for name in values if name in written), None
        )
        self.at(
            module,
            arg.pos if arg is not None else call.pos,
            InvalidConfigValue,
            call=_text(call),
            exception=type(error).__name__,
            argument=argument,
            value=repr(values[argument]),
            detail=str(error),
            advice=_COMPUTE_ADVICE[api, argument],
        )

    def _pulumi_name(self, module: str, call: Call, at: int | None) -> str | None:
        arg = _argument(call, 0, "resource_name")
        if arg is None:
            return None
        ok, value = self.literal(module, arg, at)
        return value if ok and isinstance(value, str) else None

    # -- import checks ------------------------------------------------------------------------

    def check_imports(self, module: str) -> None:
        """GLC003 for relative imports that go nowhere and missing modules of the project."""
        for stmt in self.modules[module].summary.statements:
            for imp in stmt.imports:
                if imp.error is not None:
                    if not imp.guarded:
                        self.at(module, imp.pos, UnresolvedImport, module=imp.module)
                    continue
                if imp.guarded or package_category(imp.loads) != "other":
                    continue
                if self._find(imp.loads) is not None:
                    continue
                if (
                    imp.attr is not None
                    and imp.attr != "*"
                    and self._find(f"{imp.loads}.{imp.attr}") is not None
                ):
                    continue
                top = imp.loads.split(".", 1)[0]
                if top in self._own_tops and not self._opaque(imp.loads):
                    self.at(module, imp.pos, UnresolvedImport, module=imp.loads)


def _is_api(value: Value, api: str) -> bool:
    return isinstance(value, Ext) and value.api == api


_KEYWORD_ONLY = 1 << 30  # an argument index no call reaches: the argument is keyword-only


def _argument(call: Call, index: int, keyword: str) -> Expr | None:
    for name, value in call.kwargs:
        if name == keyword:
            return value
    if index < len(call.args) and not (
        call.starred
        and any(isinstance(a, Other) and a.text.startswith("*") for a in call.args[: index + 1])
    ):
        return call.args[index]
    return None


_BOOL_RULES = {"check_payloads": validate.check_payloads, "copy": validate.dataset_copy}


def _text(expr: Expr) -> str:
    if isinstance(expr, Name):
        return expr.id
    if isinstance(expr, Attr):
        return f"{_text(expr.value)}.{expr.attr}"
    if isinstance(expr, Const):
        return repr(expr.value)
    if isinstance(expr, Call):
        return f"{_text(expr.func)}(...)"
    if isinstance(expr, Sub):
        return f"{_text(expr.value)}[{expr.slice_text}]"
    if isinstance(expr, Or):
        return f"{_text(expr.left)} | {_text(expr.right)}"
    if isinstance(expr, (Other, TupleLit)):
        return expr.text
    if isinstance(expr, DictLit):
        return "{...}"
    return "..."


text_of = _text
argument = _argument
