"""Every test journals into its own temporary directory: the shipped pipelines journal to
``${MMFRAME_JOURNAL:-../var/...}``, and a test must neither write into the repository nor carry
another test's books in (a restart restores from the journal)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def _own_journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MMFRAME_JOURNAL", str(tmp_path / "journal.sqlite"))
