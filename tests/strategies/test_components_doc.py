"""docs/components.md is generated from the strategies' and risk rules' schemas and must be current."""

from __future__ import annotations

from pathlib import Path

from tests.strategies.components_doc import render

DOC = Path(__file__).resolve().parents[2] / "docs" / "components.md"


def test_components_doc_when_schemas_change_is_regenerated() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), (
        "docs/components.md is stale: run `python -m tests.strategies.components_doc > docs/components.md`"
    )


def test_components_doc_when_rendered_documents_every_field() -> None:
    text = render()
    for name in ("symmetric", "avellaneda-stoikov", "max-position", "daily-loss", "market-lifecycle"):
        assert f"### `{name}`" in text
    assert "| `spread` | number | (0, payout), step 0.0001 | `0.04` | yes |" in text
    assert "| `size` | number | (0, 10,000], step 0.01 | `10` | yes |" in text
