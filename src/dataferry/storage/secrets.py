"""Per-workspace secrets file: credentials never go into the catalog, logs or the UI."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.errors import DatastoreError

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping

REDACTED = "***"


def redact(text: str, secrets: Mapping[str, str] | Iterable[str]) -> str:
    """``text`` with every secret value (and the URL-quoted form of each) replaced.

    Messages built from a server's answer or an exception go through this before they
    reach an error, a log or the terminal: a key or SAS token must never be shown.
    """
    from urllib.parse import quote

    values = secrets.values() if hasattr(secrets, "values") else secrets
    for value in sorted((v for v in values if v), key=len, reverse=True):
        for form in {value, quote(value, safe=""), quote(value)}:
            text = text.replace(form, REDACTED)
    return text


class SecretStore:
    """A JSON file ``{datastore: {option: value}}`` readable only by its owner.

    Writes go to a temporary file beside it, created with mode 0600, then ``os.replace``,
    so a crash never leaves a half-written file or a moment where it is world-readable.
    Every change holds an exclusive lock on ``<file>.lock``, so registrations from
    several processes at once each keep their secrets (no lost update).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._depth = 0  # the lock is held by this object (re-entered, not re-taken)

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Hold the secrets file's exclusive lock (across processes) for a change.

        Re-entrant on one object, so a caller may hold it around ``put`` and what must
        agree with it (the catalog row of the same registration).
        """
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._depth = 1
            try:
                yield
            finally:
                self._depth = 0
        finally:
            os.close(fd)  # closing releases the lock

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            mode = self.path.stat().st_mode
        except FileNotFoundError:
            return {}
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise DatastoreError(
                f"secrets file {self.path} is readable by other users (mode "
                f"{stat.S_IMODE(mode):o}); run `chmod 600 {self.path}` and try again."
            )
        data: dict[str, dict[str, str]] = json.loads(self.path.read_text("utf-8"))
        return data

    def get(self, datastore: str) -> dict[str, str]:
        """Return the stored secrets of one datastore (empty if none)."""
        return dict(self._load().get(datastore.lower(), {}))

    def put(self, datastore: str, secrets: dict[str, str]) -> None:
        """Replace the secrets of one datastore; an empty dict removes them."""
        with self.locked():
            self._put(datastore, secrets)

    def _put(self, datastore: str, secrets: dict[str, str]) -> None:
        data = self._load()
        if secrets:
            data[datastore.lower()] = dict(secrets)
        else:
            data.pop(datastore.lower(), None)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        import tempfile  # only to write: opening a workspace does not load it

        fd, tmp = tempfile.mkstemp(
            dir=self.path.parent, prefix=".secrets-", suffix=".tmp"
        )
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(data, fh, indent=2, sort_keys=True)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
