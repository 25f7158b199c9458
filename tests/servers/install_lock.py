"""One installer at a time: pytest-xdist workers start their servers side by side, and
two ``npm install`` runs into one folder (or two ``apt-get`` runs) break each other.

Imported as ``servers.install_lock``. The lock is an ``flock`` on a file in the project's
git-ignored ``.servers`` folder; it is released when the holder exits, also on a crash.
"""

from __future__ import annotations

import fcntl
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator

LOCK_DIR = Path(__file__).resolve().parents[2] / ".servers"


@contextmanager
def installing(name: str) -> Iterator[None]:
    """Hold the install lock of ``name`` (e.g. ``azurite``) for the block: whoever waits
    checks again afterwards whether the first holder installed it already."""
    LOCK_DIR.mkdir(parents=True, exist_ok=True)
    with open(LOCK_DIR / f".{name}.install.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
