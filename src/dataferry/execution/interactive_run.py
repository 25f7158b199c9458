"""Interactive runs: ``Experiment.start_logging()`` and ``run.child_run()``.

The run lives in the submitting process: it is recorded Running at once (with no
steps and no driver), takes metrics as a step's run does, and ends when the code calls
``complete()`` or ``fail()`` (or leaves its ``with`` block). ``complete``/``fail`` keep
the files of its outputs folder (default ``./outputs``) as run files.
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.catalog.status import TERMINAL, RunStatus
from dataferry.errors import PipelineTypeError
from dataferry.execution import run_layout
from dataferry.execution.run_children import parent_run
from dataferry.execution.run_context import _SubmittedRun
from dataferry.execution.run_models import ModelSource
from dataferry.execution.script_details import interactive_details

if TYPE_CHECKING:
    from dataferry.execution.experiment import Experiment

INTERACTIVE_RUN_TYPE = "experiment"
_START_KWARGS = {"display_name", "description", "tags"}


def start_logging(
    experiment: Experiment,
    name: str | None = None,
    run_id: str | None = None,
    outputs: str | bool | None = None,
    snapshot_directory: str | None = ".",
    **kwargs: Any,
) -> InteractiveRun:
    """Record a Running interactive run and return it (see the module docstring).

    Raises:
        PipelineTypeError: an unknown keyword argument.
    """
    unknown = sorted(set(kwargs) - _START_KWARGS)
    if unknown:
        raise PipelineTypeError(
            f"start_logging() got unexpected keyword arguments {unknown}"
        )
    return InteractiveRun.start(
        experiment,
        run_id=run_id or str(uuid.uuid4()),
        outputs=outputs_folder(outputs),
        tags=kwargs.get("tags"),
        description=kwargs.get("description"),
        parent_run_id=None,
    )


def failure_message(error_details: Any, error_code: Any) -> str:
    """The error ``fail(error_details, error_code)`` records: ``<code>: <message>``,
    the code ``UserError`` unless given."""
    if isinstance(error_details, BaseException):
        message = (
            f"User program failed with {type(error_details).__name__}: {error_details}"
        )
    else:
        message = str(error_details or "the run was marked failed")
    return f"{error_code or 'UserError'}: {message}"


def outputs_folder(outputs: str | bool | None) -> str | None:
    """None or True: ``./outputs``; False: none; a str: that folder.

    Raises:
        PipelineTypeError: ``outputs`` is neither.
    """
    if outputs is None or outputs is True:
        return "./outputs"
    if outputs is False:
        return None
    if isinstance(outputs, str):
        return outputs
    raise PipelineTypeError(
        f"start_logging(): outputs must be a folder name or a bool, not {outputs!r}"
    )


class InteractiveRun(_SubmittedRun):
    """A run of code in this process (``start_logging``/``child_run``): ``log``,
    ``log_list``, ``log_row``, ``log_table``, ``complete``, ``fail``, ``cancel``."""

    type = INTERACTIVE_RUN_TYPE
    # this process's own code ends its children (complete, or a ``with`` block)
    _ends_children_at_exit = False

    def __init__(
        self, experiment: Experiment, run_id: str, outputs: str | None = None
    ) -> None:
        record = _store_of(experiment).get_run(run_id)
        self._ctx = {
            "run_id": run_id,
            "step_name": f"run_{run_id}",
            "workspace": str(experiment.workspace.path),
            "experiment": experiment.name,
            "parent_run_id": record.options.get("parent_run_id"),
            "inputs": {},
            "outputs": {},
        }
        self.id = run_id
        self.name = f"run_{run_id}"
        self.__dict__["experiment"] = experiment
        self.__dict__["_workspace"] = experiment.workspace
        # its files, uploaded or kept by complete(), are in <run folder>/files
        self._folder = run_layout.run_dir(experiment.workspace, run_id)
        self._outputs = outputs

    @classmethod
    def start(
        cls,
        experiment: Experiment,
        *,
        run_id: str,
        outputs: str | None,
        tags: Any,
        description: str | None,
        parent_run_id: str | None,
    ) -> InteractiveRun:
        """Record the run, Running from now on."""
        from dataferry.catalog.sql_catalog import now

        store = _store_of(experiment)
        store.create_run(
            run_id,
            experiment.name,
            {"plan_version": 0, "nodes": []},
            parameters={},
            options={"run_type": INTERACTIVE_RUN_TYPE, "parent_run_id": parent_run_id},
            tags={k: str(v) for k, v in dict(tags or {}).items()},
            description=description,
            steps=[],
        )
        store.move_run(run_id, RunStatus.RUNNING, started_at=now())
        return cls(experiment, run_id, outputs)

    @property
    def parent(self) -> Any:
        """The run this one is a child of (``child_run``): a run or a step run; else
        None."""
        return parent_run(self._workspace, self._ctx["parent_run_id"])

    def get_status(self) -> str:
        """Running, then Completed, Failed or Canceled."""
        from dataferry.execution.script_run import sdk_status

        return sdk_status(self._store.run_status(self.id))

    def get_tags(self) -> dict[str, str | None]:
        """The tags given when it started, then those set since (a later value wins)."""
        return {**self._store.get_run(self.id).tags, **super().get_tags()}

    def get_details(self) -> dict[str, Any]:
        """The SDK's details dict of a run in this process: ``runId``, ``target``
        (``local``), ``status``, ``startTimeUtc``, ``endTimeUtc`` (once ended),
        ``properties``, ``tags``, ``inputDatasets`` and ``outputDatasets`` (none),
        ``runDefinition`` (empty: no script ran), ``logFiles`` (none),
        ``submittedBy`` and ``error`` when it failed."""
        from dataferry.execution.views import run_detail

        return interactive_details(self, run_detail(self._workspace, self.id))

    def get_details_with_logs(self) -> dict[str, Any]:
        """``get_details()`` with ``logFiles`` mapping each log's name to its text."""
        from dataferry.execution.script_details import with_logs

        return with_logs(self.get_details())

    def complete(self, _set_status: bool = True) -> None:
        """End the run Completed, keeping its outputs folder's files."""
        self._end(RunStatus.FINISHED, None)

    def fail(
        self,
        error_details: Any = None,
        error_code: Any = None,
        _set_status: bool = True,
    ) -> None:
        """End the run Failed; ``error_details`` (a str or an exception) is its error."""
        self._end(RunStatus.FAILED, failure_message(error_details, error_code))

    def cancel(self) -> None:
        """End the run Canceled."""
        self._end(RunStatus.CANCELED, None)

    def _end(self, status: RunStatus, error: str | None) -> None:
        from dataferry.catalog.sql_catalog import now

        if self._store.run_status(self.id) in TERMINAL:
            return  # as the SDK: ending an ended run changes nothing
        self._keep_outputs()
        values: dict[str, Any] = {"ended_at": now()}
        if error:
            values["error"] = error
        self._store.move_run(self.id, status, strict=False, **values)

    def _keep_outputs(self) -> None:
        if self._outputs is None or not Path(self._outputs).is_dir():
            return
        target = self._files_dir() / "outputs"
        shutil.rmtree(target, ignore_errors=True)
        shutil.copytree(self._outputs, target)

    def _files_dir(self) -> Path:
        return run_layout.files_dir(self._folder)

    def _files(self) -> dict[str, Path]:
        """The files kept by ``complete``/``fail`` (``outputs/...``) and those
        uploaded (``upload_file``...)."""
        root = self._files_dir()
        kept = {
            p.relative_to(root).as_posix(): p
            for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(".part")
        }
        return dict(sorted({**kept, **self._run_files().paths()}.items()))

    def _model_source(self) -> ModelSource:
        """Its files as they are now (``register_model`` from a notebook's run)."""
        return ModelSource(
            self._workspace,
            self.id,
            self.experiment.name,
            live=True,
            files=self._files(),
        )

    def submit_child(self, config: Any, tags: Any = None, **kwargs: Any) -> Any:
        """Submit ``config`` as a child of this run (``Experiment.submit`` semantics)."""
        return self.experiment.submit(
            config, tags=tags, _parent_run_id=self.id, **kwargs
        )

    def __enter__(self) -> InteractiveRun:
        return self

    def __exit__(self, kind: Any, error: Any, tb: Any) -> None:
        if error is None:
            self.complete()
        else:
            self.fail(error)

    def __repr__(self) -> str:
        return (
            f"Run(Experiment: {self.experiment.name},\nId: {self.id},\n"
            f"Type: {self.type},\nStatus: {self.get_status()})"
        )


def _store_of(experiment: Experiment) -> Any:
    from dataferry.catalog.run_store import RunStore

    return RunStore(experiment.workspace.catalog)
