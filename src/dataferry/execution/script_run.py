"""``ScriptRun``: a submitted ``ScriptRunConfig``, as the SDK's script-run API shows it.

A script run is a run whose plan holds one step (``script_submit``); this class reads it
through the same catalog and read model as ``PipelineRun``, and speaks the SDK's
script-run dialect: it ends ``Completed`` (not ``Finished``), ``wait_for_completion``
returns the details dict, and ``./outputs`` and ``./logs`` are its files.
"""

from __future__ import annotations

import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

from dataferry.catalog.status import RunStatus, StepStatus
from dataferry.errors import ActivityFailedException, RunStateError
from dataferry.execution import run_layout, script_files, views
from dataferry.execution.pipeline_run import PipelineRun, _LogPrinter
from dataferry.execution.run_api import RunFilesApi, RunTagsApi
from dataferry.execution.run_children import ChildRunsApi
from dataferry.execution.run_metrics import RunMetricsApi
from dataferry.execution.run_models import ModelSource, RegistersModels
from dataferry.execution.script_submit import SCRIPT_RUN_TYPE

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.data.workspace import Workspace
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.run_files import RunFiles


def sdk_status(status: str) -> str:
    """A run status as the SDK's script-run API names it (``Finished`` -> ``Completed``)."""
    return "Completed" if status == RunStatus.FINISHED else status


class ScriptRun(ChildRunsApi, RunTagsApi, RunFilesApi, RegistersModels, RunMetricsApi):
    """A submitted script run (``Experiment.submit(ScriptRunConfig(...))``); its files
    (``./outputs`` once it has ended, and what it uploaded) register as models
    (``register_model``, B.14). Tags given at submit and set later (``tag``,
    ``set_tags``) read as one; properties are written once (``add_properties``).

    ``directory`` and ``_run_config`` are the SDK's internal arguments: the run's folder
    and configuration are read from the catalog instead.

    Raises:
        RunNotFoundError: no run has this id.
    """

    RUN_TYPE = SCRIPT_RUN_TYPE
    type = SCRIPT_RUN_TYPE

    def __init__(
        self,
        experiment: Experiment,
        run_id: str,
        directory: str | None = None,
        _run_config: Any = None,
        *,
        _pipeline_run: PipelineRun | None = None,
    ) -> None:
        self.experiment = experiment
        self._run = _pipeline_run or PipelineRun(experiment, run_id)
        self._id = run_id

    @property
    def id(self) -> str:
        """The run's id, ``<experiment>_<unix time>_<8 hex>``."""
        return self._id

    @property
    def name(self) -> str:
        """The run's name (its id, as the SDK's default display name)."""
        return self._id

    display_name = name

    @property
    def status(self) -> str:
        """The current status (``Completed`` once it has succeeded)."""
        return self.get_status()

    def get_tags(self) -> dict[str, str | None]:
        """The tags given at submit, then those set since (a later value wins)."""
        return {**self._run.tags, **super().get_tags()}

    @property
    def tags(self) -> dict[str, str | None]:
        """The run's tags (``get_tags()``)."""
        return self.get_tags()

    @property
    def parent(self) -> Any:
        """The run that submitted this one with ``submit_child``, else None."""
        parent_id = self._detail().options.get("parent_run_id")
        return (
            None
            if parent_id is None
            else run_by_id(self.experiment.workspace, parent_id)
        )

    def _detail(self) -> views.RunDetail:
        return views.run_detail(self.experiment.workspace, self._id)

    def _step(self) -> views.StepView | None:
        steps = self._detail().steps
        return steps[0] if steps else None

    def _model_source(self) -> ModelSource:
        """The files of the run's one step run (read from outside the script)."""
        step = self._step()
        if step is None:
            raise RunStateError(f"run {self._id} has no step run: it has no files")
        return ModelSource(
            self.experiment.workspace,
            step.id,
            self.experiment.name,
            live=False,
            run_id=self._id,
        )

    def get_status(self) -> str:
        """NotStarted, Preparing, Running, CancelRequested, Completed, Failed or Canceled."""
        status = views.run_status(self.experiment.workspace, self._id)
        if status == RunStatus.RUNNING:
            step = self._step()
            if step is not None and step.status in (
                StepStatus.NOT_STARTED,
                StepStatus.PREPARING,
            ):
                return "Preparing"
        return sdk_status(status)

    def get_details(self) -> dict[str, Any]:
        """The SDK's details dict: ``runId``, ``target``, ``status``, ``startTimeUtc``,
        ``endTimeUtc`` (once ended), ``properties``, ``inputDatasets``,
        ``outputDatasets``, ``runDefinition``, ``logFiles``, ``submittedBy`` and
        ``error`` when it failed."""
        from dataferry.execution.script_details import details_of

        return details_of(self, self._detail())

    def get_details_with_logs(self) -> dict[str, Any]:
        """``get_details()`` with ``logFiles`` mapping each log's name to its text."""
        from dataferry.execution.script_details import with_logs

        return with_logs(self.get_details())

    def wait_for_completion(
        self,
        show_output: bool = False,
        wait_post_processing: bool = False,
        raise_on_error: bool = True,
    ) -> dict[str, Any]:
        """Wait for the run to end; return ``get_details()``.

        ``show_output`` prints ``RunId:`` and ``Web View:``, streams the script's output
        and then an execution summary.

        Raises:
            ActivityFailedException: the run failed and ``raise_on_error`` is True
                (a Canceled run does not raise).
        """
        step = self._step()
        printer = (
            _LogPrinter(self.experiment, self._id, only=step.id if step else None)
            if show_output
            else None
        )
        if printer:
            print(f"RunId: {self._id}")
            print(
                f"Web View: {run_layout.run_dir(self.experiment.workspace, self._id)}"
            )
        status = self._run._heard_end(sys.maxsize) if printer is None else None
        if status is None:
            status = self._run._wait(sys.maxsize, printer)
        details = self.get_details()
        if printer:
            printer.show()
            print("\nExecution Summary\n=================")
            print(f"RunId: {self._id}\nStatus: {details['status']}\n")
        if status == RunStatus.FAILED and raise_on_error:
            error = details.get("error")
            raise ActivityFailedException(
                json.dumps(error, indent=4)
                if error
                else "Detailed error not set on the Run. Please check the logs for details.",
                details,
            )
        return details

    def _metric_records(self) -> list[views.MetricView]:
        """What the script logged (on its step run) and what was logged on this run
        object."""
        step = self._step()
        ids = [self._id] + ([step.source_id] if step else [])
        return views.metrics(self.experiment.workspace, ids)

    def _metric_files(self) -> dict[str, Path]:
        return self._files()

    def _run_files(self) -> RunFiles:
        """The files of the run's one step run (uploads, tags, properties).

        Raises:
            RunStateError: the run has no step run.
        """
        from dataferry.execution.run_files import step_run_files

        step = self._step()
        if step is None:
            raise RunStateError(f"run {self._id} has no step run: it has no files")
        return step_run_files(self.experiment.workspace, step.id)

    def _files(self) -> dict[str, Path]:
        """What the script kept in its working folder (``outputs/...``, ``logs/...``,
        ``user_logs/std_log.txt``), and what it uploaded (``run.upload_file``...)."""
        step = self._step()
        if step is None:
            return {}
        kept = script_files.run_files(step.log_dir)
        return dict(sorted({**kept, **self._run_files().paths()}.items()))

    def cancel(self) -> None:
        """Stop the script; the run ends Canceled and nothing it staged is committed."""
        self._run.cancel()

    def fail(
        self,
        error_details: Any = None,
        error_code: Any = None,
        _set_status: bool = True,
    ) -> None:
        """Stop the script and end the run Failed with ``error_details`` (a str or an
        exception) as its error; a run that has ended stays as it is.

        Raises:
            RunStateError: the run's driver is gone and the script could not be stopped.
        """
        self._run.fail(error_details, error_code)

    def restore_snapshot(
        self, snapshot_id: str | None = None, path: str | None = None
    ) -> str:
        """Write the script's snapshot (its source folder as submitted) as the ZIP file
        ``<path>/<snapshot id>.zip`` (``path`` defaults to the temporary folder) and
        return its path.

        Raises:
            RunArgumentError: ``snapshot_id`` is not this run's, or ``path`` is a file.
        """
        from dataferry.execution.run_snapshot import restore_snapshot

        return restore_snapshot(self.experiment.workspace, self._id, snapshot_id, path)

    def submit_child(self, config: Any, tags: Any = None, **kwargs: Any) -> Any:
        """Submit ``config`` as a child of this run (``Experiment.submit`` semantics)."""
        return self.experiment.submit(
            config, tags=tags, _parent_run_id=self._id, **kwargs
        )

    def __repr__(self) -> str:
        return (
            f"Run(Experiment: {self.experiment.name},\nId: {self._id},\n"
            f"Type: {self.type},\nStatus: {self.get_status()})"
        )


def run_by_id(workspace: Workspace, run_id: str) -> Any:
    """The run of that id as the SDK re-creates it: a ScriptRun or a PipelineRun, of
    the experiment it was submitted to.

    Raises:
        RunNotFoundError: no run has this id.
    """
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.run_listing import run_object, run_type_of

    detail = views.run_detail(workspace, run_id)
    experiment = Experiment(workspace, detail.experiment, _skip_name_validation=True)
    return run_object(experiment, run_id, run_type_of(detail.options))


def submitted_by() -> str:
    """Who submitted runs from this process (the login name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry for the uid in a container
        return "unknown"
