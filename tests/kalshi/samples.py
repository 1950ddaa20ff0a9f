"""Access to the shared Kalshi sample bodies (/work/shared/kalshi/samples/rest, or $KALSHI_SAMPLES)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import orjson
import pytest


def samples_dir() -> Path:
    env = os.environ.get("KALSHI_SAMPLES")
    if env:
        return Path(env)
    here = Path(__file__).resolve()
    for parent in here.parents:
        candidate = parent / "shared" / "kalshi" / "samples" / "rest"
        if candidate.is_dir():
            return candidate
        candidate = parent.parent / "shared" / "kalshi" / "samples" / "rest"
        if candidate.is_dir():
            return candidate
    return Path("/work/shared/kalshi/samples/rest")


def sample(name: str) -> list[Any]:
    """The JSON array in ``samples/rest/<name>.json`` (skips the test when samples are absent)."""
    path = samples_dir() / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"Kalshi samples not found at {path}")
    return list(orjson.loads(path.read_bytes()))
