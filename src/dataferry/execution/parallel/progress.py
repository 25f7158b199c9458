"""The progress log: one JSON line per finished mini-batch, so a resumed step skips it.

It lives in the pipeline run's folder (``runs/<run>/parallel/<step>/``), which a
resumed run keeps while a new attempt gets a new step folder. Its first line holds
a key of the options and mini-batches; a log of another key is started afresh.
Each line is flushed and fsynced before the mini-batch counts as finished, and a
torn last line (a kill mid-write) is ignored.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pathlib import Path


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

    def record(self, done: Finished) -> None:
        """Add ``done`` durably."""
        line: dict[str, Any] = {"batch": done.index, "ok": done.is_ok}
        line.update(items=done.items, rows=done.rows, error=done.error)
        self._file.write(json.dumps(line) + "\n")
        self._file.flush()
        os.fsync(self._file.fileno())
        self.finished[done.index] = done

    def close(self) -> None:
        """Close the file."""
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
