"""``run.register_model``: one implementation for every run that has files.

A run class mixes in :class:`RegistersModels` and says where its files are
(``_model_source``); the step run inside its process (``Run.get_context()``) and a
``StepRun`` on the submitting side both do. Light at import: the registry is loaded on
the first call.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Any

from dataferry._record import record

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.data.workspace import Workspace
    from dataferry.execution.model import Model


@record(frozen=True)
class ModelSource:
    """Whose files a run registers from: the step run (or run), its experiment, and
    whether it is asked from inside the running step (whose ``./outputs`` counts at
    once). ``files`` gives the run's files directly (``{artifact name: path}``) for a
    run that is not a step run's (an interactive run); None looks the step run up.
    ``run_id`` is the run a model records when it is not the step run (a script run,
    whose one step run holds its files)."""

    workspace: Workspace
    step_run_id: str
    experiment_name: str
    live: bool
    files: Mapping[str, Path] | None = None
    run_id: str | None = None


class RegistersModels(ABC):
    """Adds ``register_model`` to a run class that implements ``_model_source``."""

    @abstractmethod
    def _model_source(self) -> ModelSource:
        """Where this run's files are."""

    def _model_source_for(self, model_path: str) -> ModelSource:
        """Where the files ``model_path`` names are: this run's, unless the run holds
        several step runs' files (a pipeline run picks the step)."""
        return self._model_source()

    def register_model(
        self,
        model_name: str,
        model_path: str | None = None,
        tags: Mapping[str, Any] | None = None,
        properties: Mapping[str, Any] | None = None,
        model_framework: str | None = None,
        model_framework_version: str | None = None,
        description: str | None = None,
        datasets: Sequence[tuple[str, AbstractDataset]] | None = None,
        sample_input_dataset: AbstractDataset | None = None,
        sample_output_dataset: AbstractDataset | None = None,
        resource_configuration: Any = None,
    ) -> Model:
        """Register a file or folder of this run's files as the next version of
        ``model_name``; the model records this run (``run_id``, ``experiment_name``).

        ``model_path`` is an artifact path of the run (``outputs/model.pkl``, a folder
        such as ``outputs``, or a name given to ``upload_file``); None means
        ``model_name``. Inside a running step its ``./outputs`` counts at once;
        elsewhere once the step has ended (finished or failed).

        Raises:
            ModelNameError: the name breaks the SDK's rule.
            ModelArgumentError: tags, properties or datasets have the wrong type.
            ModelPathNotFoundError: no file of the run is or lies under
                ``model_path`` (the message lists the run's files).
            ModelPathAmbiguousError: on a pipeline run, several step runs have
                files there (the message names them; prefix the step's name).
        """
        from dataferry.execution.model import register_run_model
        from dataferry.execution.model_registration import ModelSpec

        spec = ModelSpec(
            name=model_name,
            tags=tags,
            properties=properties,
            description=description,
            datasets=datasets,
            framework=model_framework,
            framework_version=model_framework_version,
            sample_input_dataset=sample_input_dataset,
            sample_output_dataset=sample_output_dataset,
            resource_configuration=resource_configuration,
        )
        path = model_name if model_path is None else model_path
        source = self._model_source_for(path) if isinstance(path, str) else None
        return register_run_model(source or self._model_source(), spec, model_path)


def run_of(workspace: Workspace, experiment_name: str, run_id: str) -> Any:
    """The run of that id in that experiment: a step run (``StepRun``), else the run
    as ``Run.get`` re-creates it.

    Raises:
        RunNotFoundError: no run or step run has this id.
    """
    from dataferry.catalog.run_store import RunStore
    from dataferry.errors import RunNotFoundError
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.pipeline_run import StepRun
    from dataferry.execution.script_run import run_by_id

    try:
        RunStore(workspace.catalog).get_step_run(run_id)
    except RunNotFoundError:
        return run_by_id(workspace, run_id)
    experiment = Experiment(workspace, experiment_name, _skip_name_validation=True)
    return StepRun(experiment, run_id)
