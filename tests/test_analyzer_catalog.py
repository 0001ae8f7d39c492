"""The diagnostics catalog and the registry agree, and every documented example is real.

Fixit style: each rule's *Example* (invalid) and *Fix* (valid) in ``docs/diagnostics.md``
are run through the analyzer; the harness asserts on codes, not on prose.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from analyzer import RULES, analyze

DOC = Path(__file__).resolve().parents[1] / "docs" / "diagnostics.md"
HEADING = re.compile(r"^## (GLC\d{3}) `([a-z0-9-]+)`", re.MULTILINE)
HEADING_LINE = re.compile(r"^## (GLC\d{3}) .*$", re.MULTILINE)
# GLC002: the problem is in the bytes; GLC006: in pyproject.toml (both tested in
# test_analyzer_robustness.py); GLC3xx and
# GLC6xx are reported by `glacier build` / `glacier plan`, and tested with the code generators;
# GLC305's example and fix are run below, against a synthetic packaged bundle; GLC210 needs
# `--param`: its example and fix are run below with the keys their headings name.
NO_EXAMPLE = {
    "GLC002",
    "GLC006",
    "GLC210",
    "GLC301",
    "GLC302",
    "GLC303",
    "GLC304",
    "GLC305",
    "GLC306",
    "GLC307",
    "GLC308",
    "GLC601",
}


def _entries() -> dict[str, tuple[str, str | None, str | None]]:
    text = DOC.read_text(encoding="utf-8")
    found: dict[str, tuple[str, str | None, str | None]] = {}
    matches = list(HEADING.finditer(text))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        body = text[match.end() : following.start() if following else len(text)]
        found[match.group(1)] = (
            match.group(2),
            _block(body, "**Example**"),
            _block(body, "**Fix**"),
        )
    return found


def _block(body: str, label: str) -> str | None:
    start = body.find(label)
    if start == -1:
        return None
    match = re.search(r"```python\n(.*?)```", body[start:], re.DOTALL)
    return match.group(1) if match else None


ENTRIES = _entries()
RUNNABLE = sorted(code for code in ENTRIES if code not in NO_EXAMPLE)


def _codes(tmp_path: Path, source: str) -> list[str]:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'example'\n")
    module = tmp_path / "example.py"
    module.write_text(source, encoding="utf-8")
    return [d.code for d in analyze([module]).diagnostics]


def test_every_registered_code_has_a_catalog_entry_and_vice_versa() -> None:
    assert sorted(ENTRIES) == sorted(RULES)


def test_catalog_names_match_the_registry() -> None:
    assert {code: name for code, (name, _, _) in ENTRIES.items()} == {
        code: rule.name for code, rule in RULES.items()
    }


def test_the_summary_table_marks_exactly_the_fixable_codes_and_each_has_a_fixer() -> None:
    from analyzer.fixes import FIXERS

    rows = dict(
        re.findall(
            r"^\| \[(GLC\d{3})\]\(#[a-z0-9-]+\) \|(?: [^|]* \|){3}([^|]*)\|$",
            DOC.read_text(),
            re.MULTILINE,
        )
    )
    marks = {"`[*]`": "always", "`[*]` one case": "sometimes", "": None}
    assert {code: marks[cell.strip()] for code, cell in rows.items()} == {
        code: rule.fixable for code, rule in RULES.items()
    }
    assert sorted(FIXERS) == sorted(code for code, rule in RULES.items() if rule.fixable)


@pytest.mark.parametrize("code", sorted(c for c in RUNNABLE if RULES[c].fixable == "always"))
def test_fixing_the_example_gives_the_documented_fix(tmp_path: Path, code: str) -> None:
    """Where every finding of a code is fixable, ``--fix`` turns its Example into its Fix."""
    from analyzer.fixes import fix_source

    example, fix = ENTRIES[code][1], ENTRIES[code][2]
    assert example is not None and fix is not None
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'example'\n")
    module = tmp_path / "example.py"
    module.write_text(example, encoding="utf-8")
    fixed, count = fix_source(example, analyze([module]).diagnostics)
    assert (fixed, count) == (fix, 1)


def test_the_summary_table_lists_every_code_with_its_severity() -> None:
    rows = re.findall(
        r"^\| \[(GLC\d{3})\]\(#([a-z0-9-]+)\) \| `([a-z-]+)` \| (\w+) \|",
        DOC.read_text(),
        re.MULTILINE,
    )
    assert [(code, name, severity) for code, _, name, severity in rows] == [
        (code, rule.name, rule.severity) for code, rule in sorted(RULES.items())
    ]
    headings = {m.group(1): m.group(0) for m in HEADING_LINE.finditer(DOC.read_text())}
    for code, anchor, _, _ in rows:  # GitHub's anchor of each heading
        assert anchor == re.sub(r"[^a-z0-9 -]", "", headings[code][3:].lower()).replace(" ", "-")


def test_every_entry_but_the_byte_level_one_has_an_example_and_a_fix() -> None:
    missing = [c for c in RUNNABLE if ENTRIES[c][1] is None or ENTRIES[c][2] is None]
    assert missing == []


def test_messages_follow_the_house_style() -> None:
    for rule in RULES.values():
        assert not rule.message.endswith("."), rule.code
        assert rule.hint is None or not rule.hint.endswith("."), rule.code
        assert re.fullmatch(r"GLC\d{3}", rule.code)
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name)


@pytest.mark.parametrize("code", RUNNABLE)
def test_example_produces_its_code(tmp_path: Path, code: str) -> None:
    example = ENTRIES[code][1]
    assert example is not None
    assert code in _codes(tmp_path, example)


@pytest.mark.parametrize("code", RUNNABLE)
def test_fix_is_clean(tmp_path: Path, code: str) -> None:
    fix = ENTRIES[code][2]
    assert fix is not None
    assert _codes(tmp_path, fix) == []


def test_unknown_run_parameter_example_and_fix(tmp_path: Path) -> None:
    from analyzer import unknown_parameters

    example, fix = ENTRIES["GLC210"][1], ENTRIES["GLC210"][2]
    assert example is not None and fix is not None
    _codes(tmp_path, example)
    found = unknown_parameters(analyze([tmp_path / "example.py"]).pipelines, ["top"])
    assert [(d.code, d.line) for d in found] == [("GLC210", 3)]
    assert _codes(tmp_path, fix) == []
    pipelines = analyze([tmp_path / "example.py"]).pipelines
    assert unknown_parameters(pipelines, ["n", "rank.n"]) == []


def test_bundle_too_large_example_and_fix(tmp_path: Path) -> None:
    """GLC305 comes from `glacier build --package` once the wheels are installed: the documented
    modules are analysed, and their models checked against a bundle over Lambda's quota."""
    from codegen.aws._diagnostics import bundle_size_diagnostics
    from glacier_aws.archive import LAMBDA_UNZIPPED_LIMIT, measure_bundle

    bundle = tmp_path / "bundle"
    (bundle / "pandas-3.0.0.dist-info").mkdir(parents=True)
    (bundle / "pandas").mkdir()
    with open(bundle / "pandas" / "_libs.so", "wb") as fh:  # sparse: no disk used
        fh.truncate(260 * 1024 * 1024)
    (bundle / "pandas-3.0.0.dist-info" / "RECORD").write_text(
        "pandas/_libs.so,,\npandas-3.0.0.dist-info/RECORD,,\n"
    )
    (bundle / "glacier_handler.py").write_text("# the handler\n")
    size = measure_bundle(str(bundle))
    assert size.unzipped > LAMBDA_UNZIPPED_LIMIT
    found = {}
    for label, index in (("example", 1), ("fix", 2)):
        source = ENTRIES["GLC305"][index]
        assert source is not None
        folder = tmp_path / label
        folder.mkdir()
        (folder / "pyproject.toml").write_text("[project]\nname = 'example'\n")
        (folder / "example.py").write_text(source, encoding="utf-8")
        analysis = analyze([folder / "example.py"])
        assert not analysis.diagnostics
        (model,) = analysis.pipelines
        found[label] = bundle_size_diagnostics(str(bundle), model, size)
    (diagnostic,) = found["example"]
    assert diagnostic.code == "GLC305"
    assert diagnostic.message.startswith("the Lambda bundle of pipeline `sales` is 260.0 MB")
    assert "largest: `pandas` 260.0 MB, `glacier_handler.py` 0.0 KB" in diagnostic.message
    assert found["fix"] == []
