"""``run.get_metrics(name, recursive, run_type, populate)``: one implementation (B.13).

A run class mixes in :class:`RunMetricsApi` and says which metric records are its
own (``_metric_records``), where its files are (``_metric_files``, for ``populate``)
and which runs are its children (``_metric_children``). Shapes come from
``metrics.metrics_dict``.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from dataferry.errors import RunArgumentTypeError
from dataferry.execution.metrics import metrics_dict

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

    from dataferry.execution.metrics import MetricRecord

_ARTIFACT_PREFIX = "aml://artifactId/ExperimentRun/dcid."


def populated(value: Any, files: Mapping[str, Path]) -> Any:
    """An artifact-backed metric's value with its content instead of its URI: a JSON
    artifact (``log_confusion_matrix``...) parsed, any other file (``log_image``) as
    bytes; other values, and a URI whose file is not among ``files``, as they are."""
    if isinstance(value, list):
        return [populated(v, files) for v in value]
    if not isinstance(value, str) or not value.startswith(_ARTIFACT_PREFIX):
        return value
    name = value[len(_ARTIFACT_PREFIX) :].split("/", 1)[-1]
    path = files.get(name)
    if path is None:
        return value
    data = path.read_bytes()
    return json.loads(data) if name.endswith(".json") else data


def _check(name: Any, recursive: Any, run_type: Any, populate: Any) -> None:
    problems = [
        f"{what} must be {kind}, not {type(value).__name__}"
        for what, value, kind, ok in (
            ("name", name, "a str or None", name is None or isinstance(name, str)),
            ("recursive", recursive, "a bool", isinstance(recursive, bool)),
            (
                "run_type",
                run_type,
                "a str or None",
                run_type is None or isinstance(run_type, str),
            ),
            ("populate", populate, "a bool", isinstance(populate, bool)),
        )
        if not ok
    ]
    if problems:
        raise RunArgumentTypeError("get_metrics(): " + "; ".join(problems))


class RunMetricsApi(ABC):
    """Adds ``get_metrics`` to a run class."""

    if TYPE_CHECKING:  # each host has an ``id`` and a ``type``

        @property
        def id(self) -> str: ...

        @property
        def type(self) -> str: ...

    @abstractmethod
    def _metric_records(self) -> Sequence[MetricRecord]:
        """The values logged on this run, in logging order."""

    def _metric_files(self) -> Mapping[str, Path]:
        """The run's files by artifact name (for ``populate``); none by default."""
        return {}

    def _metric_children(self) -> Iterable[RunMetricsApi]:
        """The runs directly under this one; none by default."""
        return ()

    def get_metrics(
        self,
        name: str | None = None,
        recursive: bool = False,
        run_type: str | None = None,
        populate: bool = False,
    ) -> dict[str, Any]:
        """The run's metrics in the SDK's shapes (B.13): ``{metric: value}``.

        Args:
            name: only this metric (``{}`` when it was never logged).
            recursive: ``{run_id: metrics}`` for this run and every run under it
                (step runs of a pipeline run, child runs), leaving out runs with none.
            run_type: with ``recursive``, keep only the runs under this one of that
                type (``azureml.StepRun``, ``azureml.scriptrun``, ``experiment``).
            populate: artifact-backed metrics (``log_image``, ``log_confusion_matrix``
                ...) give their content (parsed JSON, or the image's bytes) instead
                of their ``aml://`` URI.

        Raises:
            RunArgumentTypeError: an argument of the wrong type.
        """
        _check(name, recursive, run_type, populate)
        own = self._own_metrics(name, populate)
        if not recursive:
            return own
        out = {self.id: own}
        pending = list(self._metric_children())
        while pending:  # iterative: a chain of child runs can be long
            child = pending.pop(0)
            pending.extend(child._metric_children())
            if run_type is None or child.type == run_type:
                out[child.id] = child._own_metrics(name, populate)
        return {key: value for key, value in out.items() if value}

    def _own_metrics(self, name: str | None, populate: bool) -> dict[str, Any]:
        shaped = metrics_dict(self._metric_records(), name)
        if not populate:
            return shaped
        files = self._metric_files()
        return {key: populated(value, files) for key, value in shaped.items()}
