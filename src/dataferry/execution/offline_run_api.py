"""The run API of an offline run (B.10): nothing is stored, each call says what it
would have tracked. Tags and properties live on the object, so code that reads back
what it set keeps working outside a run."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.errors import RunPropertyError

if TYPE_CHECKING:
    import os
    from collections.abc import Iterable, Mapping, Sequence


class OfflineRunApi:
    """Tags, properties, files and artifact metrics of an offline run."""

    id: str

    def __init__(self) -> None:
        self._tags: dict[str, Any] = {}
        self._properties: dict[str, Any] = {}

    def tag(self, key: str, value: str | None = None) -> None:
        """Keep the tag on this object."""
        self.set_tags({key: value})

    def set_tags(self, tags: Mapping[str, Any]) -> None:
        """Keep the tags on this object (non-str values as ``str(value)``)."""
        self._tags.update({str(k): v if v is None else str(v) for k, v in tags.items()})

    def get_tags(self) -> dict[str, Any]:
        """The tags set on this object."""
        return dict(self._tags)

    def remove_tags(self, tags: Iterable[str]) -> None:
        """Remove tags set on this object."""
        for key in [tags] if isinstance(tags, str) else list(tags):
            self._tags.pop(key, None)

    def add_properties(self, properties: Mapping[str, Any]) -> None:
        """Keep the properties on this object; they are written once.

        Raises:
            RunPropertyError: a key already has another value.
        """
        new = {str(k): str(v) for k, v in properties.items()}
        changed = sorted(k for k, v in new.items() if self._properties.get(k, v) != v)
        if changed:
            raise RunPropertyError(
                f"offline run {self.id}: properties cannot be changed once added: "
                f"{changed}"
            )
        self._properties.update(new)

    def get_properties(self) -> dict[str, Any]:
        """The properties added to this object."""
        return dict(self._properties)

    def upload_file(
        self, name: str, path_or_stream: Any, datastore_name: str | None = None
    ) -> None:
        """Print what would have been uploaded."""
        print(f"Attempted to track file {name} at {path_or_stream}")

    def upload_files(
        self,
        names: Sequence[str],
        paths: Sequence[str | os.PathLike[str]],
        return_artifacts: bool = False,
        timeout_seconds: float | None = None,
        datastore_name: str | None = None,
    ) -> None:
        """Print what would have been uploaded."""
        print(f"Attempted to track files {list(names)} at {[str(p) for p in paths]}")

    def upload_folder(
        self, name: str, path: str | os.PathLike[str], datastore_name: str | None = None
    ) -> None:
        """Print what would have been uploaded."""
        print(f"Attempted to track folder {name} at {path}")

    def get_file_names(self) -> list[str]:
        """An offline run keeps no files."""
        return []

    def log_image(
        self, name: str, path: Any = None, plot: Any = None, description: str = ""
    ) -> None:
        """Print what would have been logged."""
        print(
            f"Attempted to log image metric {name}:\n{path if plot is None else plot}"
        )

    def log_confusion_matrix(
        self, name: str, value: Any, description: str = ""
    ) -> None:
        """Print what would have been logged."""
        print(f"Attempted to log confusion_matrix metric {name}:\n{value}")

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        """Print what would have been logged."""
        print(f"Attempted to log accuracy_table metric {name}:\n{value}")

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        """Print what would have been logged."""
        print(f"Attempted to log residuals metric {name}:\n{value}")

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        """Print what would have been logged."""
        print(f"Attempted to log predictions metric {name}:\n{value}")
