"""``Run.get_context()``: inside a step, the step run; elsewhere, an offline run.

A step process finds its context in the JSON file named by ``DATAFERRY_RUN_CONTEXT``,
written by the driver: its ids, the workspace, and how each input and output is bound.
"""

from __future__ import annotations

import json
import os
import uuid
from functools import cached_property
from pathlib import Path
from types import GeneratorType
from typing import TYPE_CHECKING, Any, ClassVar

from dataferry.errors import DataferryError, RunError
from dataferry.execution.offline_run_api import OfflineRunApi
from dataferry.execution.run_api import RunTagsApi
from dataferry.execution.run_artifacts import RunArtifactLogging
from dataferry.execution.run_children import ChildRunsApi
from dataferry.execution.run_metrics import RunMetricsApi
from dataferry.execution.run_models import ModelSource, RegistersModels

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from dataferry.catalog.run_store import MetricRecord, RunStore
    from dataferry.data.workspace import Workspace
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.pipeline_run import PipelineRun
    from dataferry.execution.run_files import RunFiles

CONTEXT_ENV = "DATAFERRY_RUN_CONTEXT"


class RunEnvironmentException(RunError):
    """``Run.get_context(allow_offline=False)`` outside a run."""


class InputDatasets(dict[str, Any]):
    """``run.input_datasets``: a dataset object (direct mode) or a path, by input name."""


class OutputDatasets(dict[str, Any]):
    """``run.output_datasets``: the folder each output is written to, by name."""


def _check_scalar(name: str, value: Any) -> None:
    if isinstance(value, list | tuple | range | GeneratorType | set):
        raise DataferryError(
            f"run.log does not support list type ({name!r}). Use run.log_list instead"
        )


class Run:
    """The run a piece of code is part of. Use ``Run.get_context()``.

    Inside a step it is the step run; elsewhere an offline run, which has no
    ``experiment``, ``parent``, ``input_datasets`` or ``output_datasets`` (as in Azure ML).
    """

    _cache: ClassVar[dict[str, Run]] = {}
    id: str

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """``Run(experiment, run_id)``: the recorded run of that id, as the SDK's
        constructor gives it (what ``Run.get`` returns); subclasses construct as usual.

        Raises:
            PipelineTypeError: ``experiment`` is not an Experiment, or ``run_id`` is
                not a str.
            RunNotFoundError: no run has this id.
        """
        if cls is not Run:
            return super().__new__(cls)
        return _recorded_run(*args, **kwargs)

    @property
    def input_datasets(self) -> InputDatasets:
        """Only a step run has inputs; an offline run raises ``AttributeError``."""
        raise AttributeError(
            "an offline run has no input_datasets: it is not a step of a pipeline run"
        )

    @property
    def output_datasets(self) -> OutputDatasets:
        """Only a step run has outputs; an offline run raises ``AttributeError``."""
        raise AttributeError(
            "an offline run has no output_datasets: it is not a step of a pipeline run"
        )

    @property
    def parent(self) -> PipelineRun:
        """Only a step run has a parent; an offline run raises ``AttributeError``."""
        raise AttributeError("an offline run has no parent: it is not part of a run")

    @property
    def experiment(self) -> Experiment:
        """Only a submitted run has one; an offline run raises ``AttributeError``."""
        raise AttributeError(
            "an offline run has no experiment (so no run.experiment.workspace); "
            "use Workspace.from_config() outside a run"
        )

    @staticmethod
    def get(workspace: Workspace, run_id: str) -> Any:
        """The recorded run of that id: a ScriptRun or a PipelineRun (the SDK's
        ``Run.get``), of the experiment it was submitted to.

        Raises:
            RunNotFoundError: no run has this id.
        """
        from dataferry.execution.script_run import run_by_id

        return run_by_id(workspace, run_id)

    @classmethod
    def get_context(
        cls,
        allow_offline: bool = True,
        used_for_context_manager: bool = False,
        **kwargs: Any,
    ) -> Run:
        """The current step run inside a pipeline step; an offline run elsewhere.

        Raises:
            RunEnvironmentException: outside a step with ``allow_offline=False``.
        """
        path = os.environ.get(CONTEXT_ENV)
        if path:
            if path not in cls._cache:
                cls._cache[path] = _submitted_run(Path(path))
            return cls._cache[path]
        if not allow_offline:
            raise RunEnvironmentException(
                "Run.get_context(allow_offline=False) was called outside a dataferry step run"
            )
        return _OfflineRun()


def _recorded_run(experiment: Experiment, run_id: str) -> Any:
    """``Run(experiment, run_id)``, checked (see ``Run.__new__``)."""
    from dataferry.errors import PipelineTypeError
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.script_run import run_by_id

    if not isinstance(experiment, Experiment) or not isinstance(run_id, str):
        raise PipelineTypeError(
            f"Run(experiment, run_id) takes an Experiment and a run id (str), not "
            f"{type(experiment).__name__} and {type(run_id).__name__}; inside a "
            "step or script use Run.get_context()"
        )
    return run_by_id(experiment.workspace, run_id)


def _submitted_run(context_file: Path) -> _SubmittedRun:
    """The run a context file describes: the script run for a script run's one step
    (its id, parent and experiment are the script run's), else the step run."""
    ctx = json.loads(context_file.read_text("utf-8"))
    if ctx.get("run_type") == "azureml.scriptrun":
        from dataferry.execution.script_context import ScriptRunContext

        return ScriptRunContext(context_file)
    return _SubmittedRun(context_file)


def step_workspace() -> Workspace | None:
    """The workspace of the step run this process is, or None outside a step."""
    run = Run.get_context()
    return run._workspace if isinstance(run, _SubmittedRun) else None


class _SubmittedRun(
    Run, ChildRunsApi, RunTagsApi, RunArtifactLogging, RegistersModels, RunMetricsApi
):
    """The step run a step process belongs to."""

    type = "azureml.StepRun"
    _ends_children_at_exit = True

    def __init__(self, context_file: Path) -> None:
        self._folder = context_file.parent
        self._ctx: dict[str, Any] = json.loads(context_file.read_text("utf-8"))
        self.id: str = self._ctx["run_id"]
        self.name = self._ctx["step_name"]

    @cached_property
    def _workspace(self) -> Workspace:
        from dataferry.data.workspace import Workspace

        return Workspace(path=Path(self._ctx["workspace"]))

    @cached_property
    def experiment(self) -> Experiment:
        """The experiment; ``run.experiment.workspace`` is the workspace."""
        from dataferry.execution.experiment import Experiment

        return Experiment(
            self._workspace, self._ctx["experiment"], _skip_name_validation=True
        )

    def _model_source(self) -> ModelSource:
        # inside the running step its ./outputs are run files at once
        return ModelSource(self._workspace, self.id, self._ctx["experiment"], live=True)

    @property
    def parent(self) -> PipelineRun:
        """The pipeline run this step run is part of (its ``PipelineRun``)."""
        from dataferry.execution.pipeline_run import PipelineRun

        return PipelineRun(self.experiment, self._ctx["parent_run_id"])

    @cached_property
    def input_datasets(self) -> InputDatasets:
        """Dataset inputs by name: a TabularDataset/FileDataset in direct mode, else a path."""
        from dataferry.data.abstract_dataset import AbstractDataset

        out = InputDatasets()
        for name, bound in self._ctx["inputs"].items():
            if bound["style"] != "dataset":
                continue  # PipelineData: read it from the arguments, as in Azure ML
            if bound["mode"] == "direct":
                out[name] = AbstractDataset.get_by_id(self._workspace, bound["value"])
            else:
                out[name] = bound["value"]
        return out

    @cached_property
    def output_datasets(self) -> OutputDatasets:
        """OutputFileDatasetConfig outputs by name: the folder to write to."""
        return OutputDatasets(
            {
                n: o["path"]
                for n, o in self._ctx["outputs"].items()
                if o["type"] == "dataset_output"
            }
        )

    @property
    def _store(self) -> RunStore:
        from dataferry.catalog.run_store import RunStore

        return RunStore(self._workspace.catalog)

    def _run_files(self) -> RunFiles:
        from dataferry.catalog.run_annotations import RunAnnotations
        from dataferry.execution.run_files import RunFiles
        from dataferry.execution.run_layout import files_dir

        workspace = self._workspace
        annotations = RunAnnotations(workspace.catalog)
        return RunFiles(
            annotations, workspace.path, self._record_id, files_dir(self._folder)
        )

    def _log_metric(self, name: str, kind: str, value: Any, description: str) -> None:
        self._store.log_metric(
            self._record_id, name, kind, value, description=description
        )

    def get_details(self) -> dict[str, Any]:
        """The step run's details as the submitting side sees them (``runId``,
        ``status``, ``inputDatasets``, ``properties``, ``tags``, ``logFiles``...)."""
        from dataferry.execution.pipeline_run import StepRun

        return StepRun(
            self.experiment, self.id, self._ctx["parent_run_id"]
        ).get_details()

    def get_status(self) -> str:
        """The step run's status (Running, while the step runs)."""
        return self._store.get_step_run(self._record_id).status

    def log(
        self, name: str, value: Any, description: str = "", step: int | None = None
    ) -> None:
        """Log a scalar; logging the same name again appends."""
        _check_scalar(name, value)
        self._store.log_metric(
            self._record_id, name, "scalar", value, step=step, description=description
        )

    def log_list(self, name: str, value: Iterable[Any], description: str = "") -> None:
        """Log a list of scalars."""
        self._store.log_metric(
            self._record_id, name, "list", list(value), description=description
        )

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Log one row of a table; rows of one name become ``{col: [..]}``."""
        for col, v in kwargs.items():
            if isinstance(v, list | tuple | dict):
                raise DataferryError(
                    f"log_row: column {col!r} must be a scalar, not {type(v).__name__}"
                )
        self._store.log_metric(
            self._record_id, name, "row", dict(kwargs), description=description
        )

    def log_table(
        self, name: str, value: Mapping[str, Any], description: str = ""
    ) -> None:
        """Log a table: a dict of equal-length column lists."""
        columns = {
            k: (list(v) if isinstance(v, list | tuple) else [v])
            for k, v in value.items()
        }
        lengths = {len(v) for v in columns.values()}
        if len(lengths) > 1:
            raise DataferryError(
                f"log_table {name!r}: columns have different lengths {sorted(lengths)}"
            )
        self._store.log_metric(
            self._record_id, name, "table", columns, description=description
        )

    def _metric_records(self) -> list[MetricRecord]:
        """What this run logged (from any process)."""
        return self._store.metrics_of([self._record_id])

    def _metric_files(self) -> dict[str, Path]:
        return self._files()

    def complete(self, _set_status: bool = True) -> None:
        """No effect inside a step: the driver sets the status from the exit code."""

    def fail(
        self,
        error_details: Any = None,
        error_code: Any = None,
        _set_status: bool = True,
    ) -> None:
        """No effect inside a step: exit non-zero to fail it."""

    def cancel(self) -> None:
        """No effect inside a step."""

    def __repr__(self) -> str:
        return f"Run(id='{self.id}', name='{self.name}')"


class _OfflineRun(Run, OfflineRunApi):
    """Outside any run: logging prints what it would have logged."""

    def __init__(self, run_id: str | None = None) -> None:
        OfflineRunApi.__init__(self)
        self.id = run_id or f"OfflineRun_{uuid.uuid4()}"

    def log(self, name: str, value: Any, description: str = "") -> None:
        """Print the metric instead of storing it."""
        print(f"Attempted to log scalar metric {name}:\n{value}")

    def log_list(self, name: str, value: Iterable[Any], description: str = "") -> None:
        """Print the metric instead of storing it."""
        print(f"Attempted to log list metric {name}:\n{list(value)}")

    def log_row(self, name: str, description: str | None = None, **kwargs: Any) -> None:
        """Print the metric instead of storing it."""
        print(f"Attempted to log row metric {name}:\n{kwargs}")

    def log_table(
        self, name: str, value: Mapping[str, Any], description: str = ""
    ) -> None:
        """Print the metric instead of storing it."""
        print(f"Attempted to log table metric {name}:\n{dict(value)}")

    def child_run(
        self, name: str | None = None, run_id: str | None = None, outputs: Any = None
    ) -> _OfflineRun:
        """Another offline run, ``<id>.<name>``."""
        return _OfflineRun(run_id or f"{self.id}.{name}")

    def complete(self, _set_status: bool = True) -> None:
        """Nothing to complete offline."""

    def fail(
        self,
        error_details: Any = None,
        error_code: Any = None,
        _set_status: bool = True,
    ) -> None:
        """Print the failure."""
        print(f"Attempted to fail offline run {self.id}: {error_details}")

    def cancel(self) -> None:
        """Nothing to cancel offline."""

    def __repr__(self) -> str:
        return f"Run(id='{self.id}', offline)"
