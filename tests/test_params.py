"""``glacier.params``: run parameter values read by their annotations, keys resolved."""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Any

import pytest

from glacier.model import ParameterModel, Span, TaskModel
from glacier.params import (
    ParameterError,
    assignments,
    load_file,
    parameter_values,
    parse_value,
    run_values,
    unknown_keys,
)


@pytest.mark.parametrize(
    ("value", "annotation", "expected"),
    [
        ("5", "int", 5),
        (5, "int", 5),
        ("2.5", "float", 2.5),
        (2, "float", 2.0),
        ("Yes", "bool", True),
        ("off", "bool", False),
        (True, "bool", True),
        ("a b", "str", "a b"),
        ("2025-02-03", "date", datetime.date(2025, 2, 3)),
        ("2025-02-03", "datetime.date", datetime.date(2025, 2, 3)),
        ("2025-02-03T04:05", "datetime", datetime.datetime(2025, 2, 3, 4, 5)),
        ("1, 2,3", "list[int]", [1, 2, 3]),
        ("[1, 2]", "list[float]", [1.0, 2.0]),
        ("", "list[str]", []),
        (["2025-01-01"], "list[date]", [datetime.date(2025, 1, 1)]),
        ("none", "int | None", None),
        ("7", "Optional[int]", 7),
        (None, "None | int", None),
        ("7", "'int'", 7),
        ('{"a": [1]}', "dict[str, list[int]]", {"a": [1]}),
        ({"a": 1}, "dict", {"a": 1}),
        ("[1]", None, [1]),
        ("plain text", None, "plain text"),
    ],
)
def test_values_are_read_by_their_annotation(value: Any, annotation: str | None, expected: Any):
    assert parse_value(value, annotation, task="t", param="p") == expected
    assert type(parse_value(value, annotation, task="t", param="p")) is type(expected)


@pytest.mark.parametrize(
    ("value", "annotation", "says"),
    [
        ("five", "int", "invalid literal"),
        (True, "int", "expected int, got bool"),
        (2.5, "int", "expected int, got float"),
        ("maybe", "bool", "expected true or false"),
        (3, "str", "expected str, got int"),
        ("2025-13-01", "date", "month must be in 1..12"),
        ({"a": 1}, "list[int]", "expected a list, got dict"),
        ("{bad", "dict[str, int]", "not valid JSON"),
    ],
)
def test_a_value_the_annotation_cannot_take_names_task_and_parameter(
    value: Any, annotation: str, says: str
):
    with pytest.raises(ParameterError) as caught:
        parse_value(value, annotation, task="rank", param="n")
    assert str(caught.value).startswith(f"task `rank` parameter `n` ({annotation}): cannot use ")
    assert says in str(caught.value)
    assert caught.value.exit_code == 2


def _task(name: str, *parameters: ParameterModel) -> TaskModel:
    return TaskModel(
        name, name, "m", (), (), None, 0, None, Span("m.py", 1, 1), parameters=parameters
    )


def test_a_task_key_wins_over_a_plain_one_and_unset_parameters_keep_their_default():
    rank = _task("rank", ParameterModel("n", "int", "3"), ParameterModel("day", "date", "TODAY"))
    given = {"n": "5", "rank.n": "7", "other.n": "9"}
    plain = [(p.name, p.annotation, p.default) for p in rank.parameters]
    assert run_values("rank", plain, given) == {"n": 7}
    assert run_values("pick", [("n", "int", "1")], given) == {"n": 5}
    assert parameter_values(rank, given) == {"n": 7, "day": "TODAY"}
    assert parameter_values(rank, {}) == {"n": 3, "day": "TODAY"}
    assert parameter_values(
        _task("dotted.name", ParameterModel("n", None, "1")), {"dotted.name.n": "2"}
    ) == {"n": 2}


def test_unknown_keys_are_those_that_set_nothing():
    tasks = [("rank", ["n"]), ("pick", ["n", "k"])]
    assert unknown_keys(tasks, ["n", "k", "pick.k", "rank.k", "nope", "other.n"]) == [
        "rank.k",
        "nope",
        "other.n",
    ]


def test_assignments_and_files(tmp_path: Path):
    assert assignments(["n=5", "rank.x=a=b", "e="]) == {"n": "5", "rank.x": "a=b", "e": ""}
    with pytest.raises(ParameterError, match="expected NAME=VALUE"):
        assignments(["n"])
    (tmp_path / "p.json").write_text('{"n": 5, "rank.cfg": {"a": 1}}')
    assert load_file(str(tmp_path / "p.json")) == {"n": 5, "rank.cfg": {"a": 1}}
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(ParameterError, match="expected a mapping"):
        load_file(str(tmp_path / "list.json"))
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ParameterError, match="not valid JSON"):
        load_file(str(tmp_path / "bad.json"))
    yaml = pytest.importorskip("yaml")
    assert yaml
    (tmp_path / "p.yaml").write_text("n: 5\nrank.day: 2025-02-03\n")
    assert load_file(str(tmp_path / "p.yaml")) == {"n": 5, "rank.day": datetime.date(2025, 2, 3)}
