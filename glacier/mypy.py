"""mypy plugin: a dataset used as an annotation means the dataset's payload type.

Enable it with ``[tool.mypy] plugins = ["glacier.mypy"]``. mypy alone rejects
``def transform(data: raw) -> clean`` (``Variable "raw" is not valid as a type``); with this
plugin a task body sees ``data`` as ``raw``'s payload ``T`` (from ``Dataset[T]``) and mypy
checks what the task returns against ``clean``'s payload. It also reports the edges the
runtime would refuse (code ``glacier-edge``) and dataset spellings it cannot follow
(code ``glacier-dataset``), at the annotation, so ``# type: ignore[...]`` and
``disable_error_code`` work as usual.

Loaded by mypy only: ``import glacier`` never imports this module. Hooks are stateless: every
answer is recomputed from mypy's symbol tables and syntax trees, which keeps them correct under
the incremental cache and the daemon.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from typing import Literal

from mypy.copytype import copy_type
from mypy.errorcodes import ErrorCode
from mypy.lookup import lookup_fully_qualified
from mypy.nodes import (
    ARG_STAR,
    ARG_STAR2,
    AssignmentStmt,
    Block,
    CallExpr,
    ClassDef,
    Context,
    Decorator,
    Expression,
    FuncDef,
    IfStmt,
    IndexExpr,
    MemberExpr,
    MypyFile,
    NameExpr,
    RefExpr,
    Statement,
    SymbolTableNode,
    TupleExpr,
    TypeAlias,
    TypeApplication,
    TypeInfo,
    Var,
)
from mypy.plugin import AnalyzeTypeContext, MethodContext, Plugin
from mypy.semanal import SemanticAnalyzer
from mypy.server.trigger import make_trigger
from mypy.typeanal import TypeAnalyser
from mypy.types import (
    AnyType,
    CallableType,
    Instance,
    ProperType,
    Type,
    TypeAliasType,
    TypeOfAny,
    UnboundType,
    get_proper_type,
    has_type_vars,
)
from mypy.typevars import fill_typevars_with_any

from glacier import messages
from glacier.source import relative_file

__all__ = ["GLACIER_DATASET", "GLACIER_EDGE", "GlacierPlugin", "plugin"]

GLACIER_EDGE = ErrorCode(
    "glacier-edge", "Check that Glacier task annotations form valid dataset edges", "Glacier"
)
GLACIER_DATASET = ErrorCode(
    "glacier-dataset", "Check that the Glacier plugin can resolve a dataset annotation", "Glacier"
)

DATASET = "glacier._dataset.Dataset"
TASK_DECORATOR = "glacier._pipeline.TaskDecorator"
TUPLE_NAMES = frozenset({"builtins.tuple", "typing.Tuple", "typing_extensions.Tuple"})
_NEVER_DATASETS = ("builtins.", "typing.", "typing_extensions.", "collections.", "types.")

SHAPES_NOTE = (
    "A task parameter names one dataset (`data: raw`); a task returns one dataset (`-> clean`), "
    "a tuple of datasets (`-> tuple[a, b]`) or None"
)


# -- what a name in an annotation refers to ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Dataset:
    """A variable that holds a dataset: ``dataset`` is the variable aliases lead to."""

    dataset: str
    payload: Type | None  # None: the defining statement is not analysed yet
    chain: tuple[str, ...]  # every variable followed, for fine-grained dependencies


@dataclass(frozen=True, slots=True)
class _Unresolved:
    """A variable that may hold a dataset, made in a way the plugin cannot follow."""

    reason: str
    chain: tuple[str, ...]


def _resolve(
    modules: dict[str, MypyFile], fullname: str, aliases_in: str | None = None
) -> _Dataset | _Unresolved | None:
    """Follow a module-level (or class-level) variable to the dataset it holds, or None.

    The payload is the type of the first variable along the aliases whose type mypy knows
    (declared, inferred in an earlier import-cycle group, or read from the cache), else what
    the defining ``Dataset[T](...)`` call says; the dataset is the last variable reached.
    With ``aliases_in``, only aliases defined in that module are followed: a module loaded
    from the cache has no syntax tree, so following its aliases would make a warm run see
    other datasets than a cold one.
    """
    chain: list[str] = []
    payload: Type | None = None
    dataset: str | None = None
    current = fullname
    while current not in chain:
        chain.append(current)
        sym = lookup_fully_qualified(current, modules)
        var = sym.node if sym is not None else None
        if not isinstance(var, Var):
            break
        if var.type is not None:
            declared = _payload_of(var.type)
            if declared is None:
                break
            payload = declared if dataset is None else payload
            dataset = current
        rvalue = _defining_rvalue(modules, current)
        alias = rvalue.node if isinstance(rvalue, RefExpr) else None
        if isinstance(alias, Var) and "." in alias.fullname:  # a module-level variable
            if aliases_in is None or _module_name(modules, current) == aliases_in:
                current = alias.fullname
                continue
            dataset = dataset or current  # identity only: the checker needs no payload
            break
        if var.type is None and rvalue is not None:
            made = _construction(rvalue)
            if isinstance(made, str):
                if dataset is None:
                    return _Unresolved(made, tuple(chain))
            elif made is not None:
                payload = made[0] if dataset is None else payload
                dataset = current
        break
    else:
        return _Unresolved("its aliases form a cycle", tuple(chain))
    if dataset is None:
        return None
    return _Dataset(dataset, payload, tuple(chain))


def _payload_of(typ: Type) -> Type | None:
    """``T`` of a ``Dataset[T]`` (or of a subclass of it); None if it is not a dataset."""
    instance = get_proper_type(typ)
    if not isinstance(instance, Instance) or not instance.type.has_base(DATASET):
        return None
    if instance.type.fullname != DATASET:
        # imported here: importing mypy.maptype first thing breaks mypy's import cycle
        from mypy.maptype import map_instance_to_supertype

        base = next(b for b in instance.type.mro if b.fullname == DATASET)
        instance = map_instance_to_supertype(instance, base)
    return instance.args[0] if instance.args else AnyType(TypeOfAny.special_form)


def _construction(rvalue: Expression) -> tuple[Type | None] | str | None:
    """The payload a right-hand side constructs, a reason it cannot tell, or None (no dataset).

    Used while the variable's inferred type is not known yet (same module or import cycle).
    """
    if isinstance(rvalue, TupleExpr):
        return "it is assigned by unpacking"
    if not isinstance(rvalue, CallExpr):
        return None
    callee = rvalue.callee
    if isinstance(callee, IndexExpr) and _refers_to(callee.base, DATASET):
        analyzed = callee.analyzed
        if isinstance(analyzed, TypeApplication) and len(analyzed.types) == 1:
            return (analyzed.types[0],)
        if analyzed is None:
            return (None,)
        return "its `Dataset[...]` takes one payload type"
    if _refers_to(callee, DATASET):
        return (AnyType(TypeOfAny.special_form),)
    if _any_typed(callee):
        # a missing import or an Any-typed variable: mypy reports the first, and takes an
        # Any-typed variable used as a type to mean Any
        return (AnyType(TypeOfAny.special_form),)
    if isinstance(callee, RefExpr):
        node = callee.node
        if isinstance(node, TypeInfo):
            payload = _payload_of(fill_typevars_with_any(node))
            return None if payload is None else (payload,)
        if isinstance(node, TypeAlias) and not has_type_vars(node.target):
            # `Rows = Dataset[list[int]]` then `raw = Rows(name="raw")`
            payload = _payload_of(node.target)
            return None if payload is None else (payload,)
        if isinstance(node, FuncDef):
            if not isinstance(node.type, CallableType):
                # an unannotated function returns Any, and mypy takes an Any-typed variable
                # used as a type to mean Any
                return (AnyType(TypeOfAny.unannotated),)
            ret = get_proper_type(node.type.ret_type)
            if isinstance(ret, AnyType):
                return (ret,)
            payload = _payload_of(ret)
            if payload is None:
                return None
            if not has_type_vars(ret):
                return (payload,)
    if isinstance(callee, (NameExpr, MemberExpr)):
        return f"it is made by a call to `{callee.name}`"
    return "it is made by a call the plugin cannot follow"


def _any_typed(expr: Expression) -> bool:
    """Does mypy already know the expression as Any (``sdk.make``, ``missing.Dataset[T]``)?"""
    if isinstance(expr, IndexExpr):
        return _any_typed(expr.base)
    if isinstance(expr, MemberExpr) and expr.node is None:
        return _any_typed(expr.expr)
    if isinstance(expr, RefExpr) and isinstance(expr.node, Var) and expr.node.type is not None:
        return isinstance(get_proper_type(expr.node.type), AnyType)
    return False


def _refers_to(expr: Expression, fullname: str) -> bool:
    return isinstance(expr, RefExpr) and expr.fullname == fullname


def _defining_rvalue(modules: dict[str, MypyFile], fullname: str) -> Expression | None:
    """The right-hand side that defines a variable, read from its module's syntax tree."""
    module, path = _split_module(modules, fullname)
    if module is None or not path:
        return None
    body: list[Statement] = module.defs
    for class_name in path[:-1]:
        found = next(
            (s for s in _statements(body) if isinstance(s, ClassDef) and s.name == class_name),
            None,
        )
        if found is None:
            return None
        body = found.defs.body
    name = path[-1]
    for stmt in _statements(body):
        if not isinstance(stmt, AssignmentStmt):
            continue
        for lvalue in stmt.lvalues:
            if isinstance(lvalue, NameExpr) and lvalue.name == name:
                return stmt.rvalue
            if isinstance(lvalue, TupleExpr):
                for index, item in enumerate(lvalue.items):
                    if isinstance(item, NameExpr) and item.name == name:
                        rvalue = stmt.rvalue
                        if isinstance(rvalue, TupleExpr) and len(rvalue.items) == len(lvalue.items):
                            return rvalue.items[index]
                        return TupleExpr([])
    return None


def _module_name(modules: dict[str, MypyFile], fullname: str) -> str | None:
    module, _ = _split_module(modules, fullname)
    return module.fullname if module is not None else None


def _split_module(modules: dict[str, MypyFile], fullname: str) -> tuple[MypyFile | None, list[str]]:
    head, rest = fullname, list[str]()
    while "." in head:
        head, tail = head.rsplit(".", 1)
        rest.insert(0, tail)
        if head in modules:
            return modules[head], rest
    return None, []


def _statements(body: list[Statement]) -> Iterator[Statement]:
    """Statements of a body, including those under module-level ``if`` blocks."""
    for stmt in body:
        yield stmt
        if isinstance(stmt, IfStmt):
            for block in (*stmt.body, stmt.else_body):
                if isinstance(block, Block):
                    yield from _statements(block.body)


# -- the plugin -------------------------------------------------------------------------------


class GlacierPlugin(Plugin):
    """Dataset annotations for mypy; stateless, so safe for the cache and the daemon."""

    def get_type_analyze_hook(self, fullname: str) -> Callable[[AnalyzeTypeContext], Type] | None:
        # called for every name in every annotation: answer the common cases cheaply
        if fullname.startswith(_NEVER_DATASETS) or "." not in fullname or self._modules is None:
            return None
        sym = lookup_fully_qualified(fullname, self._modules)
        var = sym.node if sym is not None else None
        if not isinstance(var, Var):
            return None
        if var.type is not None:
            if _payload_of(var.type) is None:
                return None
        elif _resolve(self._modules, fullname) is None:
            return None
        return partial(self._analyze_dataset, fullname)

    def get_method_hook(self, fullname: str) -> Callable[[MethodContext], Type] | None:
        if fullname == f"{TASK_DECORATOR}.__call__":
            return self._check_task
        return None

    # -- semantic analysis: the annotation becomes the payload ------------------------------

    def _analyze_dataset(self, fullname: str, ctx: AnalyzeTypeContext) -> Type:
        assert self._modules is not None
        analyser = ctx.api
        assert isinstance(analyser, TypeAnalyser)
        semanal = analyser.api
        assert isinstance(semanal, SemanticAnalyzer)
        found = _resolve(self._modules, fullname)
        if found is None:  # the symbol changed since get_type_analyze_hook looked
            return AnyType(TypeOfAny.from_error)
        for name in found.chain:
            semanal.add_plugin_dependency(make_trigger(name))
        written = ctx.type.name
        if isinstance(found, _Unresolved):
            analyser.fail(
                f'Cannot tell the payload type of "{written}": {found.reason}',
                ctx.type,
                code=GLACIER_DATASET,
            )
            analyser.note(
                f"Define it as `{_short(written)} = Dataset[T](name=...)`, or annotate it: "
                f"`{_short(written)}: Dataset[T] = ...`",
                ctx.type,
                code=GLACIER_DATASET,
            )
            return AnyType(TypeOfAny.from_error)
        if found.payload is None:
            if not semanal.final_iteration:
                semanal.record_incomplete_ref()
                return AnyType(TypeOfAny.special_form)
            analyser.fail(
                f'Cannot tell the payload type of "{written}"', ctx.type, code=GLACIER_DATASET
            )
            return AnyType(TypeOfAny.from_error)
        if ctx.type.args:
            analyser.fail(
                f'Dataset "{written}" takes no type arguments', ctx.type, code=GLACIER_DATASET
            )
            analyser.note(
                "Its payload type is declared where it is defined: `Dataset[T](name=...)`",
                ctx.type,
                code=GLACIER_DATASET,
            )
        elif analyser.nesting_level > 0 and not _is_output_item(ctx.type, analyser):
            analyser.fail(
                f'Dataset "{written}" is nested inside another type', ctx.type, code=GLACIER_EDGE
            )
            analyser.note(SHAPES_NOTE, ctx.type, code=GLACIER_EDGE)
        return _placed(found.payload, ctx.type)

    # -- type checking: the edges of each task ----------------------------------------------

    def _check_task(self, ctx: MethodContext) -> Type:
        decorator = ctx.context
        if isinstance(decorator, Decorator) and self._modules is not None:
            tree = getattr(ctx.api, "tree", None)
            if isinstance(tree, MypyFile):
                _TaskChecker(self._modules, tree, ctx).check(decorator)
        return ctx.default_return_type


def _placed(payload: Type, annotation: UnboundType) -> Type:
    """A copy of the payload type located at the annotation, as mypy's own analysis returns.

    The payload type belongs to the dataset's definition, maybe in another module; sharing it
    would put errors about the annotation at the definition's line.
    """
    if isinstance(payload, TypeAliasType):
        copy: Type = TypeAliasType(payload.alias, payload.args)
    elif isinstance(payload, ProperType):
        copy = copy_type(payload)
    else:
        return payload
    copy.set_line(annotation)
    return copy


def _is_output_item(typ: UnboundType, analyser: TypeAnalyser) -> bool:
    """Is ``typ`` an item of the ``tuple[...]`` return annotation of the function analysed?"""
    stmt = getattr(analyser.api, "statement", None)
    if analyser.nesting_level != 1 or not isinstance(stmt, FuncDef):
        return False
    sig = stmt.unanalyzed_type
    if not isinstance(sig, CallableType):
        return False
    ret = sig.ret_type
    if not isinstance(ret, UnboundType) or not any(_same(arg, typ) for arg in ret.args):
        return False
    sym = analyser.lookup_qualified(ret.name, ret, suppress_errors=True)
    return sym is not None and sym.node is not None and sym.node.fullname in TUPLE_NAMES


def _same(a: Type, b: UnboundType) -> bool:
    if a is b:
        return True
    return isinstance(a, UnboundType) and (a.line, a.column, a.name) == (b.line, b.column, b.name)


def _short(written: str) -> str:
    return written.rsplit(".", 1)[-1]


@dataclass(frozen=True, slots=True)
class _Edge:
    annotation: UnboundType
    dataset: str  # fullname of the variable the dataset is defined by


# what a task annotation names, besides a dataset
_Kind = Literal["class", "tuple", "none", "other", "unresolved"]


class _TaskChecker:
    """The checks on one task's signature that need to know it is a task."""

    def __init__(self, modules: dict[str, MypyFile], tree: MypyFile, ctx: MethodContext) -> None:
        self.modules = modules
        self.tree = tree
        self.ctx = ctx

    def fail(self, msg: str, where: Context, code: ErrorCode, note: str | None = None) -> None:
        self.ctx.api.fail(msg, where, code=code)
        if note is not None:
            self.ctx.api.msg.note(note, where, code=code)

    def says(
        self, message: messages.Message, at: Context, code: ErrorCode, **fields: object
    ) -> None:
        """A rule of the shared catalogue: its message as the error, its hint as the note."""
        self.fail(message.text(**fields), at, code, message.hint_text(**fields))

    def check(self, decorator: Decorator) -> None:
        func = decorator.func
        sig = func.unanalyzed_type
        if not isinstance(sig, CallableType):
            return
        task = func.name
        inputs: list[_Edge] = []
        for name, kind, annotation, has_default in zip(
            sig.arg_names, sig.arg_kinds, sig.arg_types, _defaults(func), strict=False
        ):
            if kind in (ARG_STAR, ARG_STAR2) or name is None:
                continue
            if _unannotated(annotation):
                if not has_default:
                    self.says(
                        messages.MISSING_ANNOTATION, func, GLACIER_DATASET, param=name, task=task
                    )
                continue
            if not isinstance(annotation, UnboundType):
                continue
            what = messages.parameter_annotation(name)
            found = self.classify(annotation)
            if isinstance(found, _Edge):
                inputs.append(found)
            elif found == "class":
                self.fail_class(annotation, what, task)
            elif found in ("other", "tuple", "none") and not (
                has_default or self.mentions_dataset(annotation)
            ):
                self.says(
                    messages.NOT_A_DATASET,
                    annotation,
                    GLACIER_DATASET,
                    what=what,
                    task=task,
                    annotation=_written(annotation),
                    advice=messages.PARAMETER_ADVICE,
                )
        outputs = self.outputs(task, sig.ret_type, report=True, at=func)
        read = {edge.dataset for edge in inputs}
        for edge in outputs:
            if edge.dataset in read:
                self.fail(
                    f'Task "{task}" reads and writes dataset "{edge.annotation.name}"',
                    edge.annotation,
                    GLACIER_EDGE,
                    "A task writes a new dataset; define one for its result",
                )
        self.check_other_producers(decorator, task, outputs)

    def outputs(self, task: str, ret: Type, report: bool, at: Context | None = None) -> list[_Edge]:
        """The datasets a return annotation names; with ``report``, say what is wrong (a
        missing annotation at ``at``, the function)."""
        if report and at is not None and _unannotated(ret):
            self.says(messages.MISSING_RETURN_ANNOTATION, at, GLACIER_DATASET, task=task)
            return []
        if not isinstance(ret, UnboundType):
            return []
        what = messages.RETURN_ANNOTATION
        found = self.classify(ret)
        if isinstance(found, _Edge):
            return [found]
        if found in ("none", "unresolved"):
            return []
        if found == "tuple" and ret.args:
            items = [
                self.classify(arg) if isinstance(arg, UnboundType) else "other" for arg in ret.args
            ]
            edges = [item for item in items if isinstance(item, _Edge)]
            if len(edges) == 1 and len(items) == 1:
                # the runtime refuses `tuple[a]`: the runner and the handlers unpack a tuple
                # only for two or more outputs
                if report:
                    self.says(
                        messages.NOT_A_DATASET,
                        ret,
                        GLACIER_DATASET,
                        what=what,
                        task=task,
                        annotation=_written(ret),
                        advice=messages.ONE_OUTPUT_ADVICE.format(item=_written(ret.args[0])),
                    )
                return []
            if len(edges) == len(items):
                seen: set[str] = set()
                for edge in edges:
                    if edge.dataset in seen and report:
                        self.says(
                            messages.DUPLICATE_OUTPUT,
                            edge.annotation,
                            GLACIER_EDGE,
                            dataset=edge.annotation.name,
                            task=task,
                        )
                    seen.add(edge.dataset)
                return edges
            if "unresolved" in items or not report:
                return edges
        if not report or self.mentions_dataset(ret):  # a nested dataset is reported already
            return []
        if found == "class":
            self.fail_class(ret, what, task)
            return []
        self.says(
            messages.NOT_A_DATASET,
            ret,
            GLACIER_DATASET,
            what=what,
            task=task,
            annotation=_written(ret),
            advice=messages.RETURN_ADVICE,
        )
        return []

    def fail_class(self, annotation: UnboundType, what: str, task: str) -> None:
        self.says(messages.DATASET_CLASS, annotation, GLACIER_DATASET, what=what, task=task)

    def classify(self, annotation: UnboundType) -> _Edge | _Kind:
        """The dataset an annotation names, or what else it is."""
        if annotation.name == "None":
            return "none"
        sym = self.lookup(annotation.name)
        node = sym.node if sym is not None else None
        if node is None:
            return "unresolved"
        if isinstance(node, TypeInfo):
            if node.fullname == DATASET or node.has_base(DATASET):
                return "class"
            return "tuple" if node.fullname in TUPLE_NAMES else "other"
        if isinstance(node, Var) and "." in node.fullname:
            found = _resolve(self.modules, node.fullname, aliases_in=self.tree.fullname)
            if isinstance(found, _Dataset):
                return _Edge(annotation, found.dataset)
            return "unresolved"  # mypy or the plugin reported it while analysing it
        return "tuple" if node.fullname in TUPLE_NAMES else "other"

    def mentions_dataset(self, annotation: Type) -> bool:
        """Does a dataset appear inside it (reported while the annotation was analysed)?"""
        if not isinstance(annotation, UnboundType):
            return False
        if isinstance(self.classify(annotation), _Edge):
            return True
        return any(self.mentions_dataset(arg) for arg in annotation.args)

    def lookup(self, name: str) -> SymbolTableNode | None:
        """Look up a name as written in the task's module (``raw``, ``datasets.raw``)."""
        head, *rest = name.split(".")
        sym = self.tree.names.get(head)
        if sym is None:
            builtins = self.modules.get("builtins")
            sym = builtins.names.get(head) if builtins is not None else None
        for part in rest:
            node = sym.node if sym is not None else None
            if not isinstance(node, (MypyFile, TypeInfo)):
                return None
            sym = node.names.get(part)
        return sym

    def check_other_producers(self, decorator: Decorator, task: str, outputs: list[_Edge]) -> None:
        """A dataset has one producer: report a task writing what an earlier one writes."""
        pipeline = _pipeline_of(decorator)
        if not outputs or pipeline is None:
            return
        reported: set[str] = set()
        for other in _statements(self.tree.defs):
            if not isinstance(other, Decorator) or other.line >= decorator.line:
                continue
            if _pipeline_of(other) != pipeline:
                continue
            sig = other.func.unanalyzed_type
            if not isinstance(sig, CallableType):
                continue
            theirs = {edge.dataset for edge in self.outputs(other.func.name, sig.ret_type, False)}
            for edge in outputs:
                if edge.dataset in theirs and edge.dataset not in reported:
                    reported.add(edge.dataset)
                    self.says(
                        messages.DUPLICATE_PRODUCER,
                        edge.annotation,
                        GLACIER_EDGE,
                        dataset=edge.annotation.name,
                        task=task,
                        other=other.func.name,
                        where=f"{relative_file(self.tree.path)}:{other.func.line}:{other.func.column + 1}",
                    )


def _unannotated(typ: Type) -> bool:
    """Is this a parameter or return type the function does not annotate?"""
    return isinstance(typ, AnyType) and typ.type_of_any == TypeOfAny.unannotated


def _written(typ: Type) -> str:
    """An unanalysed annotation as written (``tuple[raw]``), for messages."""
    if isinstance(typ, UnboundType):
        args = f"[{', '.join(_written(arg) for arg in typ.args)}]" if typ.args else ""
        return f"{typ.name}{args}"
    return str(typ)


def _defaults(func: FuncDef) -> list[bool]:
    return [arg.initializer is not None for arg in func.arguments]


def _pipeline_of(decorator: Decorator) -> str | None:
    """The variable of ``@<pipeline>.task(...)`` among a function's decorators."""
    for expr in decorator.original_decorators:
        if (
            isinstance(expr, CallExpr)
            and isinstance(expr.callee, MemberExpr)
            and expr.callee.name == "task"
            and isinstance(expr.callee.expr, RefExpr)
            and expr.callee.expr.fullname
        ):
            return expr.callee.expr.fullname
    return None


def plugin(version: str) -> type[Plugin]:
    """mypy's entry point for ``plugins = ["glacier.mypy"]``."""
    return GlacierPlugin
