"""Tasks from signatures: ``@pipeline.task(...)`` functions, their inputs and outputs.

A task is registered by the decorator on a module-level ``def``, or by a module-level call
``pipeline.task(...)(function)`` (``register(function)`` with ``register = pipeline.task()``)
on a ``def`` of any module of the project; a registration anywhere else is GLC007, never a
task silently missing.

Nodes first (Hamilton's order): each task is read from its own decorator and signature here;
the DAG's edges are drawn later from dataset names (``analyzer._graph``). Rules mirror the
runtime path's definition-time errors (``glacier._pipeline``) so both paths agree, in the
words of one catalogue (``glacier.messages``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from analyzer._resolve import Resolver, argument, text_of
from analyzer._summary import (
    Attr,
    Call,
    Const,
    Expr,
    Name,
    Or,
    Other,
    Param,
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
    Ext,
    FunctionRef,
    Key,
    ModuleV,
    Opaque,
    PipelineV,
    TaskDeco,
    Unknown,
    Value,
)
from analyzer.diagnostics import (
    BareTaskDecorator,
    DatasetClassAnnotation,
    DatasetShadowedByFunction,
    DuplicateOutput,
    DynamicName,
    InvalidTaskOption,
    MissingAnnotation,
    MissingReturnAnnotation,
    NestedDataset,
    NotADataset,
    UnfollowedTaskRegistration,
    UnresolvedImport,
    UnsupportedConstruct,
)
from glacier import messages, validate
from glacier.model import RETRY_BACKOFF, RETRY_DELAY_S, ComputeModel, ParameterModel

__all__ = ["FoundTask", "mentioned_datasets", "read_tasks"]

_KEYWORD_ONLY = 1 << 30  # an argument index no call reaches: the option is keyword-only


@dataclass(slots=True)
class FoundTask:
    pipeline: Key
    name: str
    function: str
    module: str  # module id
    stmt: int
    pos: Pos
    inputs: list[tuple[str, Key]]
    outputs: list[Key]
    compute: ComputeModel | None
    retries: int
    timeout: float | None
    decorator: tuple[int, int]
    valid: bool = True
    retry_delay_s: float = RETRY_DELAY_S
    backoff: float = RETRY_BACKOFF
    retry_on: tuple[str, ...] = ()
    parameters: list[ParameterModel] = field(default_factory=list)


def read_tasks(
    resolver: Resolver, module: str
) -> tuple[list[FoundTask], dict[int, list[tuple[int, int]]]]:
    """Every task declared in ``module``, and the task decorators' line ranges per statement."""
    tasks: list[FoundTask] = []
    ranges: dict[int, list[tuple[int, int]]] = {}
    for stmt in resolver.modules[module].summary.statements:
        if stmt.function is not None and stmt.function.decorators:
            for decorator in stmt.function.decorators:
                value = resolver.eval(module, decorator.expr, stmt.index)
                if isinstance(value, TaskDeco):
                    ranges.setdefault(stmt.index, []).append(
                        (decorator.start_line, decorator.end_line)
                    )
                    task = _task(resolver, module, stmt, value)
                    if task is not None:
                        tasks.append(task)
                elif _is_task_method(value):
                    ranges.setdefault(stmt.index, []).append(
                        (decorator.start_line, decorator.end_line)
                    )
                    resolver.at(
                        module,
                        decorator.expr.pos,
                        BareTaskDecorator,
                        decorator=text_of(decorator.expr),
                    )
                elif isinstance(value, Unknown) and _looks_like_task(decorator.expr):
                    _unresolved(
                        resolver, module, decorator.expr, value, "the pipeline of this task"
                    )
                elif isinstance(value, Ext) and value.missing and _looks_like_task(decorator.expr):
                    resolver.at(
                        module,
                        decorator.expr.pos,
                        UnresolvedImport,
                        module=value.qualname.rsplit(".", 2)[0],
                    )
        if stmt.kind in ("expr", "assign") and isinstance(stmt.value, Call):
            registered = _registered(resolver, module, stmt, stmt.value)
            if registered is not None:
                tasks.append(registered)
        for expr, construct in stmt.registrations:
            value = resolver.eval(module, expr, stmt.index + 1)
            if isinstance(value, TaskDeco):
                _unfollowed(resolver, module, expr, f"inside {construct}", value.pipeline)
            elif isinstance(value, BoundMethod) and isinstance(value.owner, PipelineV):
                _unfollowed(resolver, module, expr, f"inside {construct}", value.owner)
        for call in stmt.nested_calls:
            value = resolver.eval(module, call.func, stmt.index + 1)
            if isinstance(value, TaskDeco):
                where = f"inside {stmt.construct or 'a compound statement'}"
                _unfollowed(resolver, module, call, where, value.pipeline)
                continue
            if isinstance(value, DatasetClass) or (
                isinstance(value, Ext)
                and value.api in ("glacier.Dataset", "glacier.Pipeline", "glacier_aws.Environment")
            ):
                api = value.api if isinstance(value, Ext) else None
                what = (api or "glacier.Dataset").rsplit(".", 1)[-1]
                resolver.at(
                    module,
                    call.pos,
                    UnsupportedConstruct,
                    what=f"a `{what}(...)` declared inside a compound statement",
                    advice=f"declare it at module level: `x = {what}(...)`",
                )
    return tasks, ranges


def _unfollowed(
    resolver: Resolver, module: str, expr: Expr, where: str, pipeline: PipelineV
) -> None:
    """GLC007: a registration the static path does not run; the pipeline has no model then."""
    resolver.unfollowed.add(pipeline.key)
    resolver.at(
        module,
        expr.pos,
        UnfollowedTaskRegistration,
        expression=text_of(expr),
        where=where,
        pipeline=_variable(resolver, pipeline),
    )


def _variable(resolver: Resolver, pipeline: PipelineV) -> str:
    """A name the pipeline is bound to in its module, for hints."""
    for name in resolver.bindings(pipeline.key[0]).order:
        if resolver.lookup(pipeline.key[0], name, None) == pipeline:
            return name
    return "pipeline"


def _registered(
    resolver: Resolver, module: str, stmt: StatementSummary, call: Call
) -> FoundTask | None:
    """A module-level ``pipeline.task(...)(function)`` (or ``deco(function)`` with
    ``deco = pipeline.task(...)``): the task of that function, wherever it is defined."""
    deco = resolver.eval(module, call.func, stmt.index)
    if not isinstance(deco, TaskDeco):
        return None
    target = call.args[0] if len(call.args) == 1 and not call.kwargs and not call.starred else None
    value = resolver.eval(module, target, stmt.index) if target is not None else None
    if isinstance(value, FunctionRef):
        at = stmt.index if value.module == module else None
        entry = resolver.binding(value.module, value.name, at)
        if entry is not None and entry[1] == "function":
            return _task(resolver, value.module, entry[2], deco)
    if target is None:
        where = "without passing exactly one function"
    elif isinstance(value, Ext):
        where = f"on `{text_of(target)}` (a function from outside the project)"
    else:
        where = f"on `{text_of(target)}` (not a `def` in a module of the project)"
    _unfollowed(resolver, module, call, where, deco.pipeline)
    return None


def _is_task_method(value: Value) -> bool:
    return isinstance(value, BoundMethod) and isinstance(value.owner, PipelineV)


def _looks_like_task(expr: Expr) -> bool:
    target = expr.func if isinstance(expr, Call) else expr
    return isinstance(target, Attr) and target.attr == "task"


def _unresolved(resolver: Resolver, module: str, expr: Expr, value: Unknown, what: str) -> None:
    resolver.at(
        module,
        expr.pos,
        UnsupportedConstruct,
        what=f"{what} (`{text_of(expr)}`: {value.why})",
        advice="import it from a module of the project, or declare it in this module",
    )


def _task(
    resolver: Resolver, module: str, stmt: StatementSummary, deco: TaskDeco
) -> FoundTask | None:
    function = stmt.function
    assert function is not None
    call = deco.call
    name = function.name
    valid = True
    name_expr = argument(call, 0, "name")
    if name_expr is not None:
        ok, value = resolver.literal(deco.module, name_expr, deco.at)
        if ok and isinstance(value, str) and value:
            name = value
        elif not (ok and value is None):
            resolver.at(
                deco.module,
                name_expr.pos,
                DynamicName,
                what=f"the task of function `{function.name}`",
                expression=text_of(name_expr),
                example=f'@pipeline.task(name="{function.name}")',
            )
            valid = False
    compute = _compute(resolver, deco.module, deco.at, call)
    retries, retries_ok = _retries(resolver, deco.module, deco.at, call, name)
    timeout, timeout_ok = _timeout(resolver, deco.module, deco.at, call, name)
    delay, delay_ok = _retry_number(resolver, deco.module, deco.at, call, name, "retry_delay_s")
    backoff, backoff_ok = _retry_number(resolver, deco.module, deco.at, call, name, "backoff")
    retry_on, retry_on_ok = _retry_on(resolver, deco.module, deco.at, call, name)
    task = FoundTask(
        pipeline=deco.pipeline.key,
        name=name,
        function=function.name,
        module=module,
        stmt=stmt.index,
        pos=function.pos,
        inputs=[],
        outputs=[],
        compute=compute,
        retries=retries,
        timeout=timeout,
        decorator=(call.pos[0], call.pos[2]),
        valid=valid and retries_ok and timeout_ok and delay_ok and backoff_ok and retry_on_ok,
        retry_delay_s=delay,
        backoff=backoff,
        retry_on=retry_on,
    )
    if not _signature(
        resolver, module, stmt, task, function.params, function.returns, function.returns_text
    ):
        task.valid = False
    return task


def _compute(resolver: Resolver, module: str, at: int, call: Call) -> ComputeModel | None:
    expr = argument(call, _KEYWORD_ONLY, "compute")
    if expr is None or (isinstance(expr, Const) and expr.value is None):
        return None
    value = resolver.eval(module, expr, at)
    if isinstance(value, ComputeV):
        fields: dict[str, Any] = dict(value.fields)
        if fields["kind"] == "serverless":
            return ComputeModel(
                "serverless", fields["memory_mb"], fields["timeout_s"], tmp_mb=fields["tmp_mb"]
            )
        return ComputeModel("container", fields["memory_mb"], None, fields["image"], fields["cpu"])
    resolver.at(
        module,
        expr.pos,
        UnsupportedConstruct,
        what=f"the compute `{text_of(expr)}`",
        advice="pass `Serverless(...)` or `Container(...)`, directly or through a module-level "
        "variable",
    )
    return None


def _retries(resolver: Resolver, module: str, at: int, call: Call, task: str) -> tuple[int, bool]:
    """The retries, and whether they are valid (a non-negative integer literal)."""
    expr = argument(call, _KEYWORD_ONLY, "retries")
    if expr is None:
        return 0, True
    ok, value = resolver.literal(module, expr, at)
    if ok and isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return value, True
    resolver.at(
        module,
        expr.pos,
        InvalidTaskOption,
        option="retries",
        task=task,
        value=text_of(expr),
        problem="not a non-negative integer literal",
        advice="write a non-negative integer: `retries=2`",
    )
    return 0, False


_RETRY_NUMBERS = {
    # option: (default, the rule both paths apply, the problem, advice)
    "retry_delay_s": (
        RETRY_DELAY_S,
        validate.retry_delay_s,
        "not a non-negative number literal",
        "write the delay before the first retry in seconds: `retry_delay_s=2`",
    ),
    "backoff": (
        RETRY_BACKOFF,
        validate.retry_backoff,
        "not a number literal of at least 1",
        "write what each next delay is multiplied by, 1 or more: `backoff=2.0`",
    ),
}


def _retry_number(
    resolver: Resolver, module: str, at: int, call: Call, task: str, option: str
) -> tuple[float, bool]:
    """``retry_delay_s`` or ``backoff``, and whether it is valid (a number literal the
    runtime accepts)."""
    default, rule, problem, advice = _RETRY_NUMBERS[option]
    expr = argument(call, _KEYWORD_ONLY, option)
    if expr is None:
        return default, True
    ok, value = resolver.literal(module, expr, at)
    if ok and rule(value) is None:
        return float(value), True
    resolver.at(
        module,
        expr.pos,
        InvalidTaskOption,
        option=option,
        task=task,
        value=text_of(expr),
        problem=problem,
        advice=advice,
    )
    return default, False


def _retry_on(
    resolver: Resolver, module: str, at: int, call: Call, task: str
) -> tuple[tuple[str, ...], bool]:
    """The class names ``retry_on`` lists, and whether it could be read: an exception class
    by name (``OSError``, ``requests.ConnectionError``, a class of the project), a tuple of
    them written in the call, or ``None``. A variable holding a tuple is not followed."""
    expr = argument(call, _KEYWORD_ONLY, "retry_on")
    if expr is None or (isinstance(expr, Const) and expr.value is None):
        return (), True
    items = expr.items if isinstance(expr, TupleLit) else (expr,)
    names = [_class_name(resolver, module, at, item) for item in items]
    if items and all(names):
        return tuple(n for n in names if n), True
    resolver.at(
        module,
        expr.pos,
        InvalidTaskOption,
        option="retry_on",
        task=task,
        value=text_of(expr),
        problem="not an exception class or a tuple of exception classes, written by name",
        advice="name the classes in the decorator: `retry_on=(TimeoutError, ConnectionError)`",
    )
    return (), False


def _class_name(resolver: Resolver, module: str, at: int | None, expr: Expr) -> str | None:
    """The ``__name__`` of the class ``expr`` names: one from a library (or the builtins), or
    one a ``class`` statement of the project defines; ``None`` for anything else."""
    value = resolver.eval(module, expr, at)
    if isinstance(value, Ext) and value.category == "other" and value.missing is None:
        return value.qualname.rsplit(".", 1)[-1]
    if isinstance(expr, Name):
        name, entry = expr.id, resolver.binding(module, expr.id, at)
    elif isinstance(expr, Attr):
        owner = resolver.eval(module, expr.value, at)
        if not isinstance(owner, ModuleV):
            return None
        name, entry = expr.attr, resolver.binding(owner.name, expr.attr, None)
    else:
        return None
    for _ in range(20):  # along `from a import B` chains of the project's modules
        if entry is None:
            return None
        if entry[1] == "other" and entry[2].kind == "class":
            return name
        if entry[1] != "import" or not entry[2].attr:
            return None
        target = resolver.module_value(entry[2].module)
        if not isinstance(target, ModuleV):
            return None
        name, entry = entry[2].attr, resolver.binding(target.name, entry[2].attr, None)
    return None


def _timeout(
    resolver: Resolver, module: str, at: int, call: Call, task: str
) -> tuple[float | None, bool]:
    """The timeout in seconds (``None``: none), and whether it is valid."""
    expr = argument(call, _KEYWORD_ONLY, "timeout")
    if expr is None:
        return None, True
    ok, value = resolver.literal(module, expr, at)
    if ok and value is None:
        return None, True
    if ok and isinstance(value, (int, float)) and not isinstance(value, bool) and value > 0:
        return float(value), True
    resolver.at(
        module,
        expr.pos,
        InvalidTaskOption,
        option="timeout",
        task=task,
        value=text_of(expr),
        problem="not a positive number literal",
        advice="write the timeout in seconds: `timeout=300`",
    )
    return None, False


# -- the signature ------------------------------------------------------------------------------


def _signature(
    resolver: Resolver,
    module: str,
    stmt: StatementSummary,
    task: FoundTask,
    params: tuple[Param, ...],
    returns: Expr | None,
    returns_text: str | None,
) -> bool:
    ok = True
    function = stmt.function
    assert function is not None
    for param in params:
        if param.kind == "var":
            continue
        what = messages.parameter_annotation(param.name)
        if param.annotation is None:
            if not param.has_default:
                resolver.at(module, param.pos, MissingAnnotation, param=param.name, task=task.name)
                ok = False
            else:
                task.parameters.append(_parameter(param))
            continue
        found = _annotation(resolver, module, stmt.index, param.annotation)
        kind = found[0]
        if kind == "dataset":
            task.inputs.append((param.name, found[1]))
            continue
        if kind in ("other", "none", "tuple", "dynamic") and param.has_default:
            task.parameters.append(_parameter(param))
            continue
        ok = False
        _report(resolver, module, task.name, what, param.annotation, param.annotation_text, found)
    if returns is None:
        resolver.at(module, function.pos, MissingReturnAnnotation, task=task.name)
        return False
    found = _annotation(resolver, module, stmt.index, returns)
    kind = found[0]
    if kind == "none":
        return ok
    if kind == "dataset":
        task.outputs.append(found[1])
        return ok
    if kind == "tuple":
        items = found[1]
        results = [_annotation(resolver, module, stmt.index, item) for item in items]
        if len(items) == 1 and results[0][0] == "dataset":
            # the runtime path rejects it too: one output is written without a tuple
            item = text_of(items[0])
            resolver.at(
                module,
                returns.pos,
                NotADataset,
                what=messages.RETURN_ANNOTATION,
                task=task.name,
                annotation=returns_text or text_of(returns),
                advice=messages.ONE_OUTPUT_ADVICE.format(item=item),
                # `analyzer.fixes` rewrites the subscript; not inside a string annotation
                fixable=not (returns_text or "").endswith(("'", '"')),
            )
            return False
        if items and all(r[0] == "dataset" for r in results):
            seen: set[str] = set()
            for item, result in zip(items, results, strict=True):
                info = resolver.datasets.get(result[1])
                label = info.name if info is not None and info.name else text_of(item)
                if label in seen:
                    resolver.at(module, item.pos, DuplicateOutput, dataset=label, task=task.name)
                    ok = False
                    continue
                seen.add(label)
                task.outputs.append(result[1])
            return ok
        for item, result in zip(items, results, strict=True):
            if result[0] in ("nested", "dataset_class", "unknown", "missing"):
                _report(
                    resolver,
                    module,
                    task.name,
                    messages.RETURN_ANNOTATION,
                    item,
                    text_of(item),
                    result,
                )
                return False
        found = ("other", None)
    _report(resolver, module, task.name, messages.RETURN_ANNOTATION, returns, returns_text, found)
    return False


def _parameter(param: Param) -> ParameterModel:
    """A run parameter: not a dataset, with a default (``glacier.params``)."""
    return ParameterModel(param.name, param.canonical_annotation, param.default_text or "")


def _report(
    resolver: Resolver,
    module: str,
    task: str,
    what: str,
    expr: Expr,
    text: str | None,
    found: tuple[str, Any],
) -> None:
    kind = found[0]
    annotation = text or text_of(expr)
    shadowed = _shadowed(resolver, module, expr) if kind == "other" else None
    if shadowed is not None:
        line, dataset_line, _ = shadowed
        resolver.at(
            module,
            expr.pos,
            DatasetShadowedByFunction,
            what=what,
            task=task,
            name=text_of(expr),
            def_line=line,
            dataset_line=dataset_line,
            pipeline="pipeline",
        )
    elif kind == "nested":
        resolver.at(
            module,
            expr.pos,
            NestedDataset,
            what=what,
            task=task,
            dataset=found[1],
            annotation=annotation,
        )
    elif kind == "dataset_class":
        resolver.at(module, expr.pos, DatasetClassAnnotation, what=what, task=task)
    elif kind == "dynamic":
        resolver.at(
            module,
            expr.pos,
            UnsupportedConstruct,
            what=f"`{annotation}` in {what} of task `{task}` ({found[1]})",
            advice=(
                "declare each dataset at module level with `Dataset(...)`, in a module of the "
                "project, and annotate with that name: "
                + (
                    f'`{annotation} = Dataset(name="...")`'
                    if annotation.isidentifier()
                    else '`raw = Dataset(name="raw")`, then `raw`'
                )
            ),
        )
    elif kind == "missing":
        imported_here = any(
            imp.loads == found[1] or f"{imp.loads}.{imp.attr}" == found[1]
            for stmt in resolver.modules[module].summary.statements
            for imp in stmt.imports
        )
        if not imported_here:  # else GLC003 is reported where this module imports it
            resolver.at(module, expr.pos, UnresolvedImport, module=found[1])
    else:
        if kind == "unknown":
            advice = f"{found[1]}; annotate with a dataset declared at module level or imported"
        elif what == messages.RETURN_ANNOTATION:
            advice = messages.RETURN_ADVICE
        else:
            advice = messages.PARAMETER_ADVICE
        resolver.at(
            module,
            expr.pos,
            NotADataset,
            what=what,
            task=task,
            annotation=annotation,
            advice=advice,
        )


def _shadowed(resolver: Resolver, module: str, expr: Expr) -> tuple[int, int, Key] | None:
    """When ``expr`` names a function whose ``def`` rebinds a dataset variable (a Hamilton or
    Dagster habit: the function named after what it makes): the lines of both bindings and
    the dataset."""
    if not isinstance(expr, Name):
        return None
    entries = resolver.bindings(module).by_name.get(expr.id, [])
    statements = resolver.modules[module].summary.statements
    dataset: tuple[int, Key] | None = None
    for index, kind, what in entries:
        if kind == "assign" and what.value is not None:
            value = resolver.stmt_value(module, what)
            if isinstance(value, DatasetV):
                dataset = (statements[index].pos[0], value.key)
        elif kind == "function" and dataset is not None:
            return statements[index].pos[0], dataset[0], dataset[1]
    return None


def _annotation(resolver: Resolver, module: str, at: int, expr: Expr) -> tuple[str, Any]:
    """What an annotation denotes: ``dataset``, ``none``, ``tuple``, ``nested``, ``other``..."""
    if isinstance(expr, Const) and expr.value is None:
        return ("none", None)
    if isinstance(expr, (Name, Attr)):
        value = resolver.eval(module, expr, at)
        return _leaf(value)
    if isinstance(expr, Sub):
        base = resolver.eval(module, expr.value, at)
        if isinstance(base, Ext) and base.qualname == "builtins.tuple":
            return ("tuple", expr.items)
        if isinstance(base, DatasetClass) or (
            isinstance(base, Ext) and base.api == "glacier.Dataset"
        ):
            return ("dataset_class", None)
        nested = _nested_dataset(resolver, module, at, expr)
        return ("nested", nested) if nested else ("other", None)
    if isinstance(expr, Or):
        nested = _nested_dataset(resolver, module, at, expr)
        return ("nested", nested) if nested else ("other", None)
    if isinstance(expr, (Other, TupleLit)):
        return ("other", None)
    value = resolver.eval(module, expr, at)
    return _leaf(value)


def _leaf(value: Value) -> tuple[str, Any]:
    if isinstance(value, DatasetV):
        return ("dataset", value.key)
    if isinstance(value, DatasetClass) or (
        isinstance(value, Ext) and value.api == "glacier.Dataset"
    ):
        return ("dataset_class", None)
    if isinstance(value, Ext) and value.missing:
        return ("missing", value.qualname.rsplit(".", 1)[0])
    if isinstance(value, Unknown):
        return ("unknown", value.why)
    if isinstance(value, Opaque) and value.dynamic:
        return ("dynamic", value.dynamic)
    if isinstance(value, Ext) and value.qualname == "builtins.None":
        return ("none", None)
    if isinstance(value, Ext) and value.category == "other" and "." in value.qualname:
        module = value.qualname.rsplit(".", 1)[0]
        if module != "builtins":
            return ("dynamic", f"imported from `{module}`, which is not a module of the project")
    return ("other", None)


def _nested_dataset(resolver: Resolver, module: str, at: int, expr: Expr) -> str | None:
    stack: list[Expr] = [expr]
    while stack:
        current = stack.pop()
        if isinstance(current, Sub):
            stack.extend(current.items)
        elif isinstance(current, Or):
            stack.extend((current.left, current.right))
        elif isinstance(current, (Name, Attr)):
            value = resolver.eval(module, current, at)
            if isinstance(value, DatasetV):
                info = resolver.datasets.get(value.key)
                return info.name if info is not None and info.name else text_of(current)
    return None


def mentioned_datasets(resolver: Resolver, task: FoundTask) -> set[Key]:
    """Every dataset a task's signature names, read or not (for a task dropped for an error)."""
    function = resolver.modules[task.module].summary.statements[task.stmt].function
    found: set[Key] = {key for _, key in task.inputs} | set(task.outputs)
    if function is None:
        return found
    stack: list[Expr] = [p.annotation for p in function.params if p.annotation is not None]
    if function.returns is not None:
        stack.append(function.returns)
    while stack:
        current = stack.pop()
        if isinstance(current, Sub):
            stack.extend(current.items)
        elif isinstance(current, Or):
            stack.extend((current.left, current.right))
        elif isinstance(current, (Name, Attr)):
            value = resolver.eval(task.module, current, task.stmt)
            if isinstance(value, DatasetV):
                found.add(value.key)
            elif isinstance(value, FunctionRef):
                shadowed = _shadowed(resolver, task.module, current)
                if shadowed is not None:
                    found.add(shadowed[2])
    return found
