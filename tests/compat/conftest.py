"""The azureml compatibility package, importable as the README's set-up installs it.

``bash dev.sh`` installs ``compat/`` into ``.venv``; a venv without it (a bare
``pip install -e .``) gets ``compat/src`` on the path here, for this process and the
programs and step processes it starts.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

COMPAT_SRC = Path(__file__).resolve().parents[2] / "compat" / "src"
SRC = Path(__file__).resolve().parents[2] / "src"

if str(COMPAT_SRC) not in sys.path:
    sys.path.append(str(COMPAT_SRC))


@pytest.fixture
def compat_path(monkeypatch: pytest.MonkeyPatch) -> str:
    """PYTHONPATH for child processes: dataferry's and the compat package's sources."""
    parts = [str(SRC), str(COMPAT_SRC), os.environ.get("PYTHONPATH", "")]
    value = os.pathsep.join(p for p in parts if p)
    monkeypatch.setenv("PYTHONPATH", value)
    return value
