"""The import-linter contracts in pyproject.toml hold: layers, and a pure pipeline layer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept() -> None:
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout
    for contract in (
        "the CLI reads runs through the read model, not the catalog",
        "only the catalog layer imports SQLAlchemy",
    ):
        assert f"{contract} KEPT" in result.stdout
