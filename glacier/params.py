"""Run parameters: the values a run gives a task's non-dataset parameters.

A task parameter that is not a dataset and has a default is a *parameter*
(``def rank(data: sales, n: int = 3)``: ``n``). The model lists it with its annotation and
default as canonical source text (``glacier.model.ParameterModel``). A run sets it by key:

- ``n``: every task that has a parameter ``n``;
- ``rank.n``: task ``rank`` only (wins over ``n``).

A value given as text (``--param n=5``, an environment) is parsed by the parameter's
annotation: ``int``, ``float``, ``bool`` (true/false, yes/no, on/off, 1/0), ``str``, ``date``
and ``datetime`` (ISO 8601), ``list[X]`` of those (a JSON array, or items separated by
commas), ``X | None`` / ``Optional[X]`` (``none`` or ``null`` gives ``None``); any other
annotation reads the text as JSON, and a parameter without annotation takes JSON or, when
the text is not JSON, the text itself. A value that is not text (from ``execute(params=...)``,
a JSON or YAML file, a deployed execution's input) is checked against the same annotation
(an ``int`` is accepted for a ``float``, ISO text for a date).

``parameter_values(task_model, params)`` is the stable entry point (fingerprints use it);
``run_values`` is what a run passes to the task function, only the parameters the run sets,
so an unset parameter keeps the function's own default.

Standard library only: this module is embedded verbatim in the standalone runner (as
``_glacier_params``) and in deployed task bundles.
"""

from __future__ import annotations

import ast
import datetime
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from glacier.model import TaskModel

__all__ = [
    "ParameterError",
    "Parameters",
    "assignments",
    "check_known",
    "describe_unknown",
    "load_file",
    "parameter_values",
    "parse_value",
    "run_values",
    "split_key",
    "unknown_keys",
]

Parameters = Sequence[tuple[str, "str | None", str]]
"""A task's parameters as plain data: (name, annotation text or None, default text)."""

_TRUE = frozenset({"true", "yes", "on", "1"})
_FALSE = frozenset({"false", "no", "off", "0"})
_NONE = frozenset({"none", "null"})
_DATES = frozenset({"date", "datetime.date", "dt.date"})
_DATETIMES = frozenset({"datetime", "datetime.datetime", "dt.datetime"})
_LISTS = ("list[", "List[", "typing.List[")
_OPTIONALS = ("Optional[", "typing.Optional[")


class ParameterError(ValueError):
    """A run parameter that no task has, or a value its annotation cannot take.

    A usage error: the CLI exits with status 2 (``exit_code``).
    """

    exit_code = 2


def split_key(key: str) -> tuple[str | None, str]:
    """``"rank.n"`` → ``("rank", "n")``; ``"n"`` → ``(None, "n")``. A parameter name has no
    dot, so a task name may."""
    task, dot, name = key.rpartition(".")
    return (task if dot else None), name


def run_values(task: str, parameters: Parameters, params: Mapping[str, Any]) -> dict[str, Any]:
    """The values ``params`` sets for task ``task``'s parameters, parsed: what a run passes
    to the function as keyword arguments. ``task.name`` wins over ``name``."""
    found: dict[str, Any] = {}
    for name, annotation, _ in parameters:
        for key in (f"{task}.{name}", name):
            if key in params:
                found[name] = parse_value(params[key], annotation, task=task, param=name)
                break
    return found


def parameter_values(task_model: TaskModel, params: Mapping[str, Any]) -> dict[str, object]:
    """The resolved values of one task's parameters: its defaults overridden by the run's
    ``params`` (keys ``name`` or ``task.name``, values as ``run_values`` reads them).

    A default is its literal value when its source text is a Python literal
    (``ast.literal_eval``), else its source text (``date(2024, 1, 1)``, ``N``): the code
    fingerprint of the task covers what such a default evaluates to.
    """
    plain = [(p.name, p.annotation, p.default) for p in task_model.parameters]
    values: dict[str, object] = {name: _default(default) for name, _, default in plain}
    values.update(run_values(task_model.name, plain, params))
    return values


def _default(text: str) -> object:
    try:
        value: object = ast.literal_eval(text)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return text
    return value


def unknown_keys(tasks: Iterable[tuple[str, Iterable[str]]], params: Iterable[str]) -> list[str]:
    """The keys of ``params`` that set nothing: ``tasks`` is (task name, its parameter
    names) for every task of the pipeline."""
    by_task = {task: set(names) for task, names in tasks}
    everywhere = set().union(*by_task.values()) if by_task else set()
    unknown = []
    for key in params:
        task, name = split_key(key)
        known = name in everywhere if task is None else name in by_task.get(task, ())
        if not known:
            unknown.append(key)
    return unknown


def describe_unknown(key: str, tasks: Iterable[tuple[str, Iterable[str]]]) -> str:
    """Why ``key`` sets nothing, naming what could be set."""
    keys = sorted({f"{task}.{name}" for task, names in tasks for name in names})
    known = ", ".join(f"`{k}`" for k in keys) if keys else "none"
    return f"no task has a parameter `{key}` (parameters: {known})"


def check_known(tasks: Sequence[tuple[str, Sequence[str]]], params: Iterable[str]) -> None:
    """Raise ``ParameterError`` for the first key of ``params`` that sets nothing."""
    for key in unknown_keys(tasks, params):
        raise ParameterError(describe_unknown(key, tasks))


def parse_value(value: Any, annotation: str | None, *, task: str, param: str) -> Any:
    """``value`` for parameter ``param`` of task ``task``, read by its ``annotation``
    (canonical source text, or ``None``). Raises ``ParameterError`` naming both."""
    try:
        return _parse(value, annotation)
    except (ValueError, TypeError) as exc:
        written = f" ({annotation})" if annotation else ""
        raise ParameterError(
            f"task `{task}` parameter `{param}`{written}: cannot use {value!r}: {exc}"
        ) from None


def _inner(annotation: str) -> str | None:
    """``X`` of ``X | None`` / ``None | X`` / ``Optional[X]``, else ``None``."""
    for prefix in _OPTIONALS:
        if annotation.startswith(prefix) and annotation.endswith("]"):
            return annotation[len(prefix) : -1]
    parts = [p.strip() for p in annotation.split("|")]
    if len(parts) == 2 and "None" in parts:
        return parts[0] if parts[1] == "None" else parts[1]
    return None


def _parse(value: Any, annotation: str | None) -> Any:
    if annotation is None:
        if isinstance(value, str):
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
    if annotation[:1] in ("'", '"'):  # a string annotation: the type it spells
        annotation = str(ast.literal_eval(annotation)).strip()
    inner = _inner(annotation)
    if inner is not None:
        if value is None or (isinstance(value, str) and value.strip().lower() in _NONE):
            return None
        return _parse(value, inner)
    for prefix in _LISTS:
        if annotation.startswith(prefix) and annotation.endswith("]"):
            return _list(value, annotation[len(prefix) : -1])
    return _scalar(value, annotation)


def _list(value: Any, item: str) -> list[Any]:
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            value = json.loads(text)
        else:
            value = [part.strip() for part in text.split(",")] if text else []
    if not isinstance(value, (list, tuple)):
        raise TypeError(f"expected a list, got {type(value).__name__}")
    return [_parse(v, item) for v in value]


def _scalar(value: Any, annotation: str) -> Any:
    if annotation == "str":
        if isinstance(value, str):
            return value
        raise TypeError(f"expected str, got {type(value).__name__}")
    if annotation == "bool":
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return value.strip().lower() in _TRUE
        raise ValueError("expected true or false")
    if annotation in ("int", "float"):
        if isinstance(value, str):
            return int(value.strip()) if annotation == "int" else float(value.strip())
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise TypeError(f"expected {annotation}, got {type(value).__name__}")
        if annotation == "int":
            if isinstance(value, float):
                raise TypeError("expected int, got float")
            return value
        return float(value)
    if annotation in _DATES:
        if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
            return value
        if isinstance(value, str):
            return datetime.date.fromisoformat(value.strip())
        raise TypeError(f"expected an ISO date, got {type(value).__name__}")
    if annotation in _DATETIMES:
        if isinstance(value, datetime.datetime):
            return value
        if isinstance(value, str):
            return datetime.datetime.fromisoformat(value.strip())
        raise TypeError(f"expected an ISO date and time, got {type(value).__name__}")
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            raise ValueError("not valid JSON (a parameter of this type takes JSON)") from None
    return value


def assignments(items: Iterable[str]) -> dict[str, str]:
    """``["n=5", "rank.n=7"]`` (``--param`` options) → ``{"n": "5", "rank.n": "7"}``."""
    found: dict[str, str] = {}
    for item in items:
        key, equals, value = item.partition("=")
        key = key.strip()
        if not equals or not key:
            raise ParameterError(f"--param {item!r}: expected NAME=VALUE or TASK.NAME=VALUE")
        found[key] = value
    return found


def load_file(path: str) -> dict[str, Any]:
    """The parameters in a ``.json`` file, or a ``.yaml``/``.yml`` one (PyYAML needed): one
    mapping of keys (``n``, ``rank.n``) to values (a mapping value is a ``dict`` parameter's
    value, not more keys)."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise ParameterError(f"--params {path}: {exc.strerror or exc}") from None
    if os.path.splitext(path)[1].lower() in (".yaml", ".yml"):
        try:
            import yaml  # type: ignore[import-untyped, unused-ignore]
        except ImportError:
            raise ParameterError(
                f"--params {path}: reading YAML needs PyYAML (pip install pyyaml); "
                "or write the parameters as JSON"
            ) from None
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ParameterError(f"--params {path}: not valid YAML: {exc}") from None
    else:
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise ParameterError(f"--params {path}: not valid JSON: {exc}") from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ParameterError(f"--params {path}: expected a mapping of parameters")
    for key in data:
        if not isinstance(key, str):
            raise ParameterError(f"--params {path}: parameter key {key!r} is not text")
    return dict(data)
