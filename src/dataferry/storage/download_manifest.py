"""What a download from an object store has finished, kept next to the download.

A re-download (after an interruption, or of the same files again) skips a file whose
entry says it came from the same source with the same size and etag as the store lists
now, and which is still on disk as it was written (same size and modification time).
The manifest is a cache: one that is missing or unreadable only means that every file
is fetched again. It is rewritten atomically (a temporary file renamed over it).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from typing import Any

log = logging.getLogger(__name__)

MANIFEST_NAME = ".dataferry-download.json"
_VERSION = 1


@dataclass
class DownloadManifest:
    """The files of one download folder: ``{local path: source, size, etag, mtime}``.

    ``folder`` None keeps no manifest (every check says "not there yet").
    """

    folder: str | None
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def path(self) -> str | None:
        """Where the manifest is kept, or None."""
        return None if self.folder is None else os.path.join(self.folder, MANIFEST_NAME)

    @classmethod
    def load(cls, folder: str | None) -> DownloadManifest:
        """The manifest kept in ``folder`` (an empty one if there is none, or if it
        cannot be read: then the files are fetched again, with a log warning)."""
        manifest = cls(folder)
        if manifest.path is None or not os.path.exists(manifest.path):
            return manifest
        try:
            with open(manifest.path, encoding="utf-8") as fh:
                data = json.load(fh)
            if data.get("version") == _VERSION and isinstance(data.get("files"), dict):
                manifest.entries = data["files"]
        except (OSError, ValueError, AttributeError) as exc:
            log.warning("ignoring download manifest %s: %s", manifest.path, exc)
        return manifest

    def is_complete(self, local: str, source: str, size: int, etag: str) -> bool:
        """True if ``local`` holds ``source`` as listed now (``size``, ``etag``) and
        was not changed on disk since it was downloaded. No etag: never (unverifiable)."""
        entry = self.entries.get(self._key(local))
        if entry is None or not etag:
            return False
        if (entry.get("source"), entry.get("size"), entry.get("etag")) != (
            source,
            size,
            etag,
        ):
            return False
        try:
            st = os.stat(local)
        except OSError:
            return False
        return st.st_size == size and st.st_mtime_ns == entry.get("mtime_ns")

    def record(self, local: str, source: str, size: int, etag: str) -> None:
        """Note that ``local`` now holds ``source`` (call ``save`` to keep it)."""
        if self.folder is None:
            return
        self.entries[self._key(local)] = {
            "source": source,
            "size": size,
            "etag": etag,
            "mtime_ns": os.stat(local).st_mtime_ns,
        }

    def save(self) -> None:
        """Write the manifest atomically (a crash leaves the old one or the new one).

        Not fsynced: the files it lists are not either, and a manifest lost with the
        machine only means a full download again (``load``), while an fsync of it
        every ``BATCH_FILES`` files held every transfer thread for 60-85 ms.
        """
        if self.path is None:
            return
        tmp = f"{self.path}.tmp"
        with open(tmp, "w", encoding="utf-8") as fh:
            json.dump({"version": _VERSION, "files": self.entries}, fh, sort_keys=True)
        os.replace(tmp, self.path)

    def _key(self, local: str) -> str:
        assert self.folder is not None or not self.entries
        if self.folder is None:
            return local
        return os.path.relpath(os.path.abspath(local), os.path.abspath(self.folder))
