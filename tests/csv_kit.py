"""Sample CSV files for tests (a module of its own: every conftest.py outside a package
is the module "conftest", so a helper kept in one cannot be imported reliably)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path


def write_csv(
    path: Path, rows: int, *, header: str = "id,value,label", start: int = 0
) -> Path:
    """A CSV with ``rows`` rows: id (int), value (float), label (text)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [header] + [f"{i},{i * 0.5},item{i}" for i in range(start, start + rows)]
    path.write_text("\n".join(lines) + "\n")
    return path
