"""``mmframe schema``: the full schema for editors, the committed schemas/ directory, pipelines/ validity."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from click.testing import CliRunner
from strictyaml.ruamel import YAML

from mmframe.cli import create_cli
from mmframe.pipeline import full_schema, schema_files
from mmframe.pipeline.coerce import SchemaCoercer
from mmframe.pipeline.interpolate import interpolate
from mmframe.pipeline.tree import Node, parse_document
from mmframe.plugins import Registry, load_registry
from tests.core.distfactory import REPO
from tests.core.fake_components import isolated_registry

FIXTURES = Path(__file__).parent / "pipelines"
PIPELINE_FILES = sorted((REPO / "pipelines").glob("*.yaml")) + sorted(FIXTURES.glob("*.yaml"))
REGENERATE = "mmframe schema --write schemas"


def invoke(registry: Registry, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(create_cli(registry), list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout


def test_schema_when_printed_is_valid_2020_12_with_components_folded_in() -> None:
    code, out = invoke(isolated_registry(), "schema")
    document = json.loads(out)

    assert code == 0
    jsonschema.Draft202012Validator.check_schema(document)
    branches = document["$defs"]["strategy"]["oneOf"]
    assert [b["properties"]["use"] for b in branches] == [{"const": "symmetric"}]
    assert branches[0]["required"] == ["use", "with"]
    assert document["$defs"]["strategy:symmetric"]["required"] == ["spread"]
    assert document["properties"]["venue"]["oneOf"][0] == {"enum": ["testexchange", "testsim"]}


def test_schema_when_pipeline_typed_by_editor_rules_validates() -> None:
    schema = full_schema(isolated_registry())
    editor_view = {"name": "x", "venue": {"testsim": {"seed": 3}}, "markets": ["A"],
                   "strategy": {"use": "symmetric", "with": {"spread": 0.04}}, "sinks": [{"use": "counter"}]}
    jsonschema.validate(editor_view, schema, cls=jsonschema.Draft202012Validator)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({**editor_view, "strategy": {"use": "symmetric", "with": {"spread": "wide"}}},
                            schema, cls=jsonschema.Draft202012Validator)


@pytest.mark.parametrize("path", PIPELINE_FILES, ids=lambda p: p.name)
def test_schema_when_applied_to_pipeline_file_validates_it(path: Path) -> None:
    """Every file in pipelines/ (and the test fixtures) validates against `mmframe schema`."""
    registry = load_registry(extra_modules=[]) if path.parent != FIXTURES else isolated_registry()
    schema = full_schema(registry)
    text = path.read_text(encoding="utf-8")
    problems: list[str] = []

    def report(node: Node, key: str, message: str) -> None:
        problems.append(f"{path}:{node.line}: {key}: {message}")

    root = parse_document(text, str(path))
    interpolate(root, _DefaultsOnly(), lambda node, key, message: None)
    SchemaCoercer(schema).check(root, report)
    assert problems == []
    if "${" not in text:  # what an editor sees: YAML 1.2 implicit typing, no interpolation
        data = YAML(typ="safe", pure=True).load(text)
        jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


class _DefaultsOnly(dict[str, str]):
    """An environment in which only ``${VAR:-default}`` references resolve (no real values needed)."""


def test_schema_files_when_committed_match_the_code() -> None:
    expected = schema_files(load_registry())
    committed_dir = REPO / "schemas"
    committed = {p.relative_to(committed_dir).as_posix(): p.read_text(encoding="utf-8")
                 for p in committed_dir.rglob("*.json")}
    stale = sorted(set(committed) - set(expected))
    missing = sorted(set(expected) - set(committed))
    changed = sorted(k for k in set(expected) & set(committed) if expected[k] != committed[k])
    assert not (stale or missing or changed), (
        f"schemas/ is out of date (stale: {stale}, missing: {missing}, changed: {changed}); "
        f"regenerate it from the repository root with: {REGENERATE}"
    )


def test_schema_write_when_dir_given_writes_files_and_removes_stale(tmp_path: Path) -> None:
    stale = tmp_path / "components" / "strategy" / "gone.schema.json"
    stale.parent.mkdir(parents=True)
    stale.write_text("{}", encoding="utf-8")
    registry = load_registry()

    code, out = invoke(registry, "schema", "--write", str(tmp_path))

    assert code == 0
    assert not stale.exists()
    written = {p.relative_to(tmp_path).as_posix(): p.read_text(encoding="utf-8") for p in tmp_path.rglob("*.json")}
    assert written == schema_files(registry)
    assert f"wrote {tmp_path / 'pipeline.schema.json'}" in out
