"""Artifact-backed metrics: ``log_image`` and the predefined JSON metrics.

Each stores its content as a run file and logs a metric whose value is the artifact's
URI, ``aml://artifactId/ExperimentRun/dcid.<run id>/<file name>``, as the SDK's
``get_metrics()`` returns it (B.13); ``get_file_names`` lists the file and
``download_file`` fetches it. A plot is saved with its own ``savefig``: matplotlib is
never imported here, the caller already has it.
"""

from __future__ import annotations

import io
import json
import time
from abc import abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import RunArgumentError
from dataferry.execution.run_api import RunFilesApi

if TYPE_CHECKING:
    import os

ARTIFACT_KIND = "artifact"  # the metrics row kind of an artifact-backed metric
# the predefined JSON metrics: their schema_type, and the keys their data must hold
_PREDEFINED = {
    "confusion_matrix": ("class_labels", "matrix"),
    "accuracy_table": (),
    "residuals": (),
    "predictions": (),
}


def artifact_uri(run_id: str, name: str) -> str:
    """The metric value of an artifact-backed metric (B.13)."""
    return f"aml://artifactId/ExperimentRun/dcid.{run_id}/{name}"


def _parsed(run_id: str, metric: str, schema: str, value: Any) -> dict[str, Any]:
    """The JSON object of a predefined metric, checked against its schema type."""
    if isinstance(value, str | bytes):
        try:
            value = json.loads(value)
        except ValueError as exc:
            raise RunArgumentError(
                f"run {run_id}: log_{schema} {metric!r}: value is not JSON ({exc})"
            ) from exc
    if not isinstance(value, dict) or not isinstance(value.get("data"), dict):
        raise RunArgumentError(
            f"run {run_id}: log_{schema} {metric!r}: value must be a dict with a "
            f"'data' dict (and 'schema_type': '{schema}'), got {type(value).__name__}"
        )
    given = value.get("schema_type", schema)
    missing = [k for k in _PREDEFINED[schema] if k not in value["data"]]
    if given != schema or missing:
        raise RunArgumentError(
            f"run {run_id}: log_{schema} {metric!r}: expected schema_type '{schema}'"
            f" with data keys {list(_PREDEFINED[schema])}; got schema_type {given!r}"
            + (f", missing {missing}" if missing else "")
        )
    return value


class RunArtifactLogging(RunFilesApi):
    """``log_image``, ``log_confusion_matrix``, ``log_accuracy_table``,
    ``log_residuals`` and ``log_predictions`` for a run that logs metrics."""

    @abstractmethod
    def _log_metric(self, name: str, kind: str, value: Any, description: str) -> None:
        """Append one metric value to the run."""

    def _free_name(self, stem: str, suffix: str) -> str:
        """``<stem>_<unix time><suffix>``, made unique within the run."""
        taken = set(self._run_files().names())
        base = f"{stem}_{int(time.time())}"
        name, n = f"{base}{suffix}", 1
        while name in taken:
            name, n = f"{base}_{n}{suffix}", n + 1
        return name

    def _log_artifact(
        self, metric: str, name: str, data: Any, description: str
    ) -> None:
        stored = self._run_files().upload(name, data)
        self._log_metric(
            metric, ARTIFACT_KIND, artifact_uri(self.id, stored), description
        )

    def log_image(
        self,
        name: str,
        path: str | os.PathLike[str] | None = None,
        plot: Any = None,
        description: str = "",
    ) -> None:
        """Log an image: the file at ``path`` (kept under that name) or a matplotlib
        ``plot`` (``pyplot`` or a Figure, saved as ``<name>_<unix time>.png``).

        Raises:
            RunArgumentError: both or neither of ``path`` and ``plot``, or a ``plot``
                without ``savefig``; a bad or missing path.
            RunFileExistsError: the run already has a file of that name.
        """
        if (path is None) == (plot is None):
            raise RunArgumentError(
                f"run {self.id}: log_image {name!r} needs exactly one of path= and "
                "plot=, got " + ("both" if path is not None else "neither")
            )
        if path is not None:
            # the SDK names the file by the path given; an absolute one by its base name
            given = Path(path)
            stored = given.name if given.is_absolute() else given.as_posix()
            self._log_artifact(name, stored, path, description)
            return
        if not callable(getattr(plot, "savefig", None)):
            raise RunArgumentError(
                f"run {self.id}: log_image {name!r}: plot must be matplotlib.pyplot "
                f"or a Figure (something with savefig), got {type(plot).__name__}"
            )
        image = io.BytesIO()
        plot.savefig(image, format="png")
        image.seek(0)
        self._log_artifact(name, self._free_name(name, ".png"), image, description)

    def _log_predefined(
        self, schema: str, name: str, value: Any, description: str
    ) -> None:
        content = _parsed(self.id, name, schema, value)
        data = io.BytesIO(json.dumps(content).encode("utf-8"))
        self._log_artifact(name, self._free_name(name, ".json"), data, description)

    def log_confusion_matrix(
        self, name: str, value: Any, description: str = ""
    ) -> None:
        """Log a confusion matrix (``{"schema_type": "confusion_matrix", "data":
        {"class_labels": [...], "matrix": [[...]]}}``, a dict or its JSON text).

        Raises:
            RunArgumentError: the value is not that shape.
        """
        self._log_predefined("confusion_matrix", name, value, description)

    def log_accuracy_table(self, name: str, value: Any, description: str = "") -> None:
        """Log an accuracy table (a dict with ``data``, or its JSON text).

        Raises:
            RunArgumentError: the value is not that shape.
        """
        self._log_predefined("accuracy_table", name, value, description)

    def log_residuals(self, name: str, value: Any, description: str = "") -> None:
        """Log residuals (a dict with ``data``, or its JSON text).

        Raises:
            RunArgumentError: the value is not that shape.
        """
        self._log_predefined("residuals", name, value, description)

    def log_predictions(self, name: str, value: Any, description: str = "") -> None:
        """Log predictions (a dict with ``data``, or its JSON text).

        Raises:
            RunArgumentError: the value is not that shape.
        """
        self._log_predefined("predictions", name, value, description)
