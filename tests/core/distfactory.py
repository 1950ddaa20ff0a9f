"""Throwaway installed distributions: a ``*.dist-info`` with an ``mmframe`` entry point in a temp dir.

Put the directory on PYTHONPATH of a subprocess and importlib.metadata discovers the plugin exactly
as if it had been pip-installed, without touching the shared environment.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIRST_PARTY_PLUGINS = "strategies,risk,sim,kalshi,backtest,sinks"


def make_dist(root: Path, dist: str, entry_point: str, module: str, source: str | None = None) -> None:
    """Install distribution ``dist`` into ``root`` whose entry point ``entry_point`` names ``module``.

    With ``source``, ``root/<module>.py`` is written too; otherwise ``module`` must be importable.
    """
    root.mkdir(parents=True, exist_ok=True)
    if source is not None:
        (root / f"{module}.py").write_text(source, encoding="utf-8")
    info = root / f"{dist.replace('-', '_')}-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.0\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[mmframe]\n{entry_point} = {module}\n", encoding="utf-8")


def run_mmframe(
    *args: str, pythonpath: Sequence[Path] = (), env: dict[str, str] | None = None, cwd: Path = REPO
) -> subprocess.CompletedProcess[str]:
    """Run the real console entry point in a subprocess (``mmframe.cli:main``)."""
    full_env = {**os.environ, **(env or {})}
    full_env["PYTHONPATH"] = os.pathsep.join([*(str(p) for p in pythonpath), str(REPO)])
    return subprocess.run(
        [sys.executable, "-c", "import sys; from mmframe.cli import main; sys.exit(main())", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120, check=False,
    )
