"""The progress log: one JSON line per finished mini-batch, so a resumed step skips it.

It lives in the pipeline run's folder (``runs/<run>/parallel/<step>/``), which a
resumed run keeps while a new attempt gets a new step folder. Its first line holds
a key of the options and mini-batches; a log of another key is started afresh.
Each line is flushed to the system before the mini-batch counts as finished, so a
killed job loses none; fsync is grouped (at most one per ``SYNC_EVERY_S``, and at
close), as one per mini-batch cost a disk flush each. A machine crash can lose the
last unsynced lines, whose mini-batches then run again, and a torn last line (a
kill mid-write) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path

SYNC_EVERY_S = 1.0


@dataclass(frozen=True)
class Finished:
    """A mini-batch that is done (``rows``) or dropped after its last try."""

    index: int
    is_ok: bool
    items: int
    rows: list[str]
    error: str = ""


def progress_key(identity: dict[str, Any], batch_keys: list[str]) -> str:
    """A digest of the options and of what each mini-batch holds."""
    text = json.dumps([identity, batch_keys], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


class ProgressLog:
    """Appends finished mini-batches to ``path``; ``finished`` is what it held."""

    def __init__(self, path: Path, key: str) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.finished = _read(path, key)
        if not self.finished and not _has_key(path, key):
            path.write_text(json.dumps({"key": key}) + "\n")
        self._file = path.open("a", encoding="utf-8")
        self._synced_at = time.monotonic()

    def record(self, done: Finished) -> None:
        """Add ``done``: written through to the system (it survives a kill of this
        process), and synced to disk with others at most ``SYNC_EVERY_S`` later."""
        line: dict[str, Any] = {"batch": done.index, "ok": done.is_ok}
        line.update(items=done.items, rows=done.rows, error=done.error)
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        self.finished[done.index] = done
        if time.monotonic() - self._synced_at >= SYNC_EVERY_S:
            self._sync()

    def _sync(self) -> None:
        os.fsync(self._file.fileno())
        self._synced_at = time.monotonic()

    def close(self) -> None:
        """Sync what is not yet on disk, and close the file."""
        if not self._file.closed:
            self._sync()
            self._file.close()


def _has_key(path: Path, key: str) -> bool:
    try:
        with path.open(encoding="utf-8") as f:
            return bool(json.loads(f.readline() or "{}").get("key") == key)
    except (OSError, ValueError):
        return False


def _read(path: Path, key: str) -> dict[int, Finished]:
    """The finished mini-batches of a log of ``key``; none for another key."""
    if not _has_key(path, key):
        return {}
    found: dict[int, Finished] = {}
    with path.open(encoding="utf-8") as f:
        f.readline()
        for line in f:
            try:
                item = json.loads(line)
            except ValueError:
                break  # torn by a kill mid-write: that mini-batch is run again
            found[item["batch"]] = Finished(
                item["batch"], item["ok"], item["items"], item["rows"], item["error"]
            )
    return found
