"""PipelineRun and StepRun: watching, inspecting and cancelling runs through the catalog."""

from __future__ import annotations

import sys
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.catalog.status import TERMINAL, RunStatus, StepStatus
from dataferry.data.datapath import DataReference
from dataferry.data.datastore import Datastore
from dataferry.errors import (
    ActivityFailedException,
    PipelineTypeError,
    RunError,
    RunStateError,
)
from dataferry.execution import run_layout, views
from dataferry.execution.plan_model import plan_of
from dataferry.execution.port_identity import reused_names
from dataferry.execution.run_api import RunFilesApi, RunTagsApi, input_datasets
from dataferry.execution.run_children import ChildRunsApi
from dataferry.execution.run_metrics import RunMetricsApi
from dataferry.execution.run_models import ModelSource, RegistersModels
from dataferry.execution.run_outputs import output_datasets

STEP_RUN_TYPE = "azureml.StepRun"

if TYPE_CHECKING:
    from dataferry.catalog.run_store import OutputRecord, RunStore, StepRunRecord
    from dataferry.execution.agent_client import AgentLink
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.published import PublishedPipeline
    from dataferry.execution.run_files import RunFiles

_WATCH_S = 0.1
_LIVENESS_S = 2.0  # how often a waiter checks that the run's driver is alive


class PortDataReference:
    """A committed step output: where it is, and how to download it or read it later."""

    def __init__(self, datastore: Datastore, path_on_datastore: str, name: str) -> None:
        self.datastore = datastore
        self.path_on_datastore = path_on_datastore
        self.name = name

    @property
    def datastore_name(self) -> str:
        """The datastore's name."""
        return self.datastore.name

    def download(
        self,
        local_path: str,
        overwrite: bool | None = None,
        show_progress: bool | None = None,
    ) -> int:
        """Copy the output to ``local_path/<path_on_datastore>``; return the file count."""
        target = Path(local_path)
        return self.datastore.download(
            target,
            prefix=self.path_on_datastore,
            overwrite=bool(overwrite),
            show_progress=bool(show_progress),
        )

    def as_input(self, input_name: str) -> DataReference:
        """Read this output in another pipeline, mounted."""
        return DataReference(
            self.datastore, input_name, self.path_on_datastore, "mount"
        )

    def as_mount(self, input_name: str | None = None) -> DataReference:
        """Read this output in another pipeline, mounted."""
        return DataReference(
            self.datastore, input_name or self.name, self.path_on_datastore, "mount"
        )

    def as_download(
        self,
        input_name: str | None = None,
        path_on_compute: str | None = None,
        overwrite: bool | None = None,
    ) -> DataReference:
        """Read this output in another pipeline, downloaded."""
        return DataReference(
            self.datastore,
            input_name or self.name,
            self.path_on_datastore,
            "download",
            path_on_compute,
            bool(overwrite),
        )

    def __repr__(self) -> str:
        return f"PortDataReference(datastore='{self.datastore_name}', path_on_datastore='{self.path_on_datastore}', name='{self.name}')"


class StepRunOutput:
    """One output of a step run."""

    def __init__(self, name: str, reference: PortDataReference) -> None:
        self.name = name
        self._reference = reference

    def get_port_data_reference(self) -> PortDataReference:
        """Where the output is."""
        return self._reference


def _logs(step: views.StepView) -> tuple[str, str]:
    """A step's whole stdout and stderr (``''`` for what it has not written)."""
    texts = dict.fromkeys(("stdout", "stderr"), "")
    for stream, path in step.log_files():
        texts[stream] = views.read_whole_log(path)
    return texts["stdout"], texts["stderr"]


class _RunBase(ABC):
    experiment: Experiment
    _id: str

    @property
    def id(self) -> str:
        """The run's id."""
        return self._id

    @property
    def _store(self) -> RunStore:
        from dataferry.catalog.run_store import RunStore

        return RunStore(self.experiment.workspace.catalog)

    @abstractmethod
    def get_status(self) -> str:
        """The run's current status."""

    def _wait(
        self, timeout_seconds: float, show: _LogPrinter | None, *, waited_s: float = 0.0
    ) -> str:
        """Poll until the run ends or ``timeout_seconds`` pass (``waited_s`` of them
        have already); show logs meanwhile.

        Raises:
            RunStateError: the run's driver died before it ended the run.
        """
        liveness = views.Every(_LIVENESS_S)

        def poll(status: str) -> None:
            if show is not None:
                show.show()
            if status not in TERMINAL and liveness.due():
                self._check_driver()

        workspace = self.experiment.workspace
        try:
            # pushed events wake the wait at once (PostgreSQL); shown logs and the
            # driver's liveness are still looked at on their own clocks
            with views.watch_events(workspace, [self._pipeline_run_id()]) as news:
                status = views.wait_until(
                    self.get_status,
                    lambda status: status in TERMINAL,
                    timeout_s=max(timeout_seconds - waited_s, 0.0)
                    if timeout_seconds < sys.maxsize
                    else None,
                    poll_s=_WATCH_S,
                    on_poll=poll,
                    news=news,
                    refresh_s=_WATCH_S if show is not None else _LIVENESS_S,
                )
        except BaseException:  # Ctrl-C: leave the terminal as it was
            if show is not None:
                show.display.stop()
            raise
        if show is not None:
            show.finish()
        if status not in TERMINAL:
            print(
                f"Timed out after {timeout_seconds} s waiting for run {self.id} (status {status})"
            )
        return status

    def _pipeline_run_id(self) -> str:
        return self.id

    def _check_driver(self) -> None:
        """Raise instead of waiting forever for a run whose driver died."""
        from dataferry.execution.resume import driver_state

        record = self._store.get_run(self._pipeline_run_id())
        if record.status in TERMINAL:
            return
        alive, why = driver_state(record, self.experiment.workspace)
        # a driver that ended the run a moment ago is gone too: only a run left unended counts
        if not alive and self._store.get_run(record.id).status not in TERMINAL:
            raise RunStateError(
                f"run {record.id} stopped progressing: {why}. Continue it with "
                f"PipelineRun.resume() or `dataferry runs resume {record.id}`."
            )


FAIL_WAIT_S = 60.0  # how long fail() waits for the driver to stop the steps


class StepRun(
    _RunBase, ChildRunsApi, RunTagsApi, RunFilesApi, RegistersModels, RunMetricsApi
):
    """One step's execution in a pipeline run: status, logs, outputs, metrics, the
    tags, properties and files its code attached (``run_api``), and models registered
    from its files (``run_models``)."""

    type = STEP_RUN_TYPE

    def __init__(
        self,
        experiment: Experiment,
        step_run_id: str,
        pipeline_run_id: str | None = None,
        node_id: str | None = None,
    ) -> None:
        self.experiment = experiment
        self._id = step_run_id
        record = self._record()
        self.pipeline_run_id = pipeline_run_id or record.run_id
        self.node_id = node_id or record.node_id

    def _record(self) -> StepRunRecord:
        return self._store.get_step_run(self._id)

    def _model_source(self) -> ModelSource:
        # from outside the step, ./outputs are run files once the step has ended
        ws = self.experiment.workspace
        return ModelSource(ws, self._id, self.experiment.name, live=False)

    def _view(self) -> views.StepView:
        return views.get_step(self.experiment.workspace, self._id)

    def _pipeline_run_id(self) -> str:
        return self.pipeline_run_id

    def _run_files(self) -> RunFiles:
        """The files of this step run, or of the one it reused (its files are those)."""
        from dataferry.execution.run_files import step_run_files

        return step_run_files(self.experiment.workspace, self._id)

    @property
    def name(self) -> str:
        """The step's name."""
        return self._record().step_name

    @property
    def status(self) -> str:
        """The current status."""
        return self.get_status()

    @property
    def parent(self) -> PipelineRun:
        """The pipeline run."""
        return PipelineRun(self.experiment, self.pipeline_run_id)

    def get_status(self) -> str:
        """NotStarted, Preparing, Running, Finished, Failed or Canceled."""
        return self._view().status

    def wait_for_completion(
        self,
        show_output: bool = True,
        timeout_seconds: float = sys.maxsize,
        raise_on_error: bool = True,
    ) -> str:
        """Wait for the step to end; return its status."""
        printer = (
            _LogPrinter(self.experiment, self.pipeline_run_id, only=self._id)
            if show_output
            else None
        )
        status = self._wait(timeout_seconds, printer)
        if status == StepStatus.FAILED and raise_on_error:
            raise ActivityFailedException(
                self.get_details().get("error") or f"step run {self._id} failed",
                self.get_details(),
            )
        return status

    def get_details(self) -> dict[str, Any]:
        """Status, times, inputs, notes, error, the reuse explanation and lineage; a
        step that ran and finished also lists what it ``registered``."""
        r = self._record()
        lineage = self._store.lineage_of(r.reused_from or r.id)
        # a reused step read nothing itself: its inputs are its own rows, none
        own = lineage if not r.reused_from else self._store.lineage_of(r.id)
        details = {
            "runId": r.id,
            "name": r.step_name,
            "status": r.status,
            "startTimeUtc": r.started_at.isoformat() if r.started_at else None,
            "endTimeUtc": r.ended_at.isoformat() if r.ended_at else None,
            "exitCode": r.exit_code,
            "target": r.details.get("compute_target") or "local",
            "reusedFrom": r.reused_from,
            "explanation": r.explanation,
            "logFiles": {
                n: str(
                    run_layout.resolved_path(self.experiment.workspace, r.log_dir) / n
                )
                for n in run_layout.STREAMS
            }
            if r.log_dir
            else {},
            "lineage": [
                {
                    k: v
                    for k, v in row.items()
                    if k not in ("id", "step_run_id", "mode", "value") and v is not None
                }
                for row in lineage
            ],
            **dict(r.details),
        }
        # runs recorded before the catalog kept bindings in lineage have them in details
        details["inputs"] = _inputs(own) or details.get("inputs", {})
        details["inputDatasets"] = input_datasets(self.experiment.workspace, own)
        details["outputDatasets"] = output_datasets(
            self.experiment.workspace,
            self._store.outputs_of(r.reused_from or r.id),
            self.experiment.workspace.catalog.versions_by_producer(
                r.reused_from or r.id
            ),
        )
        details["properties"] = self.get_properties()
        details["tags"] = self.get_tags()
        if r.status == StepStatus.FINISHED and not r.reused_from:
            details["registered"] = [
                {"name": v.name, "version": v.version, "id": v.dataset_id}
                | {"output": v.producer_output}
                for v in self.experiment.workspace.catalog.versions_by_producer(r.id)
            ] or details.get("registered", [])
        return details

    def _output_records(self) -> list[OutputRecord]:
        r = self._record()
        return self._store.outputs_of(r.reused_from or r.id)

    def get_outputs(self) -> dict[str, StepRunOutput]:
        """Every committed output by the name it has in this step's run.

        A reused step shows the outputs it took under this run's names: an unnamed
        output gets a new generated name each time the pipeline is built.
        """
        renamed = reused_names(self._record())
        outputs = {}
        for rec in self._output_records():
            name = renamed.get(rec.name, rec.name)
            outputs[name] = StepRunOutput(name, self._reference(rec, name))
        return outputs

    def get_output(self, name: str) -> StepRunOutput:
        """One committed output.

        Raises:
            RunError: the step has no committed output of that name.
        """
        outputs = self.get_outputs()
        if name not in outputs:
            raise RunError(
                f"step run {self._id} ('{self.name}', {self.get_status()}) has no committed output "
                f"'{name}'; committed: {sorted(outputs) or 'none'}"
            )
        return outputs[name]

    def get_output_data(self, name: str) -> PortDataReference:
        """Where one committed output is; ``.download(path)`` copies it."""
        return self.get_output(name).get_port_data_reference()

    def _reference(self, rec: OutputRecord, name: str) -> PortDataReference:
        return PortDataReference(
            Datastore.get(self.experiment.workspace, rec.datastore), rec.path, name
        )

    def get_stdout_log(self) -> str:
        """What the step printed to stdout."""
        return _logs(self._view())[0]

    def get_stderr_log(self) -> str:
        """What the step printed to stderr."""
        return _logs(self._view())[1]

    def get_job_log(self) -> str:
        """stdout, then stderr."""
        out, err = _logs(self._view())
        return out + (f"\n--- stderr ---\n{err}" if err else "")

    def _metric_records(self) -> list[views.MetricView]:
        """Metrics logged by the step (``run.log`` and friends); a reused step shows
        the metrics of the step run it reused."""
        workspace = self.experiment.workspace
        return views.metrics(workspace, [self._view().source_id])

    def _metric_files(self) -> dict[str, Path]:
        return self._files()

    def __repr__(self) -> str:
        return f"StepRun(id='{self._id}', name='{self.name}', status='{self.get_status()}')"


class PipelineRun(_RunBase, RunMetricsApi, RegistersModels):
    """A submitted pipeline run."""

    type = "azureml.PipelineRun"

    def __init__(
        self,
        experiment: Experiment,
        run_id: str,
        _service_endpoint: Any = None,
        *,
        _link: AgentLink | None = None,
    ) -> None:
        """``_link``: the connection to the driver of a run just submitted through the
        local agent, which tells when the run has ended without a catalog read.

        Raises:
            RunNotFoundError: no run has this id.
        """
        self.experiment = experiment
        self._id = run_id
        self._link = _link
        if _link is None:
            self._store.run_status(run_id)  # fail now for an unknown id

    @property
    def status(self) -> str:
        """The current status."""
        return self.get_status()

    @property
    def parent(self) -> None:
        """A pipeline run has no parent."""
        return None

    @property
    def tags(self) -> dict[str, str]:
        """The run's tags."""
        return dict(self._store.get_run(self._id).tags)

    def publish_pipeline(
        self,
        name: str,
        description: str,
        version: str,
        continue_on_step_failure: bool | None = None,
        **kwargs: Any,
    ) -> PublishedPipeline:
        """Publish this run's plan (with its parameter values as the defaults).

        Raises:
            PipelineTypeError: an argument is of the wrong type or unknown.
        """
        from dataferry.execution.published import publish_run

        if kwargs:
            raise PipelineTypeError(
                f"publish_pipeline() got unexpected arguments {sorted(kwargs)}"
            )
        record = self._store.get_run(self._id)
        return publish_run(
            self.experiment.workspace,
            record,
            name,
            description,
            version,
            continue_on_step_failure,
        )

    def get_status(self) -> str:
        """NotStarted, Running, Finished, Failed, Canceled or CancelRequested."""
        return views.run_status(self.experiment.workspace, self._id)

    def get_steps(self) -> list[StepRun]:
        """The step runs, in plan order."""
        return [
            StepRun(self.experiment, r.id, self._id, r.node_id)
            for r in self._store.step_runs(self._id)
        ]

    get_children = get_steps

    def find_step_run(self, name: str) -> list[StepRun]:
        """The step runs of the steps named ``name`` (names need not be unique)."""
        return [
            StepRun(self.experiment, r.id, self._id, r.node_id)
            for r in self._store.step_runs(self._id)
            if r.step_name == name
        ]

    def get_pipeline_output(self, pipeline_output_name: str) -> PortDataReference:
        """The committed output of the ``PipelineData`` declared with that
        ``pipeline_output_name``.

        Raises:
            RunError: no step declares it, or its step has not committed it.
            PlanVersionError: the run was stored by a newer dataferry.
        """
        plan = plan_of(self._store.get_run(self._id))
        for node in plan.nodes:
            for out in node.outputs:
                if out.pipeline_output_name == pipeline_output_name:
                    step = next(
                        s for s in self.get_steps() if s.node_id == node.node_id
                    )
                    return step.get_output_data(out.name)
        raise RunError(
            f"run {self._id} has no pipeline output named '{pipeline_output_name}'; declare "
            "one with PipelineData(..., pipeline_output_name=...)"
        )

    def get_details(self) -> dict[str, Any]:
        """Status, times, parameters, options and the per-step summary."""
        r = self._store.get_run(self._id)
        steps = self._store.step_runs(self._id)
        failed = [s for s in steps if s.status == StepStatus.FAILED]
        details: dict[str, Any] = {
            "runId": r.id,
            "experiment": r.experiment,
            "status": r.status,
            "startTimeUtc": r.started_at.isoformat() if r.started_at else None,
            "endTimeUtc": r.ended_at.isoformat() if r.ended_at else None,
            "parameters": dict(r.parameters),
            "options": dict(r.options),
            "tags": dict(r.tags),
            "steps": {s.step_name: s.status for s in steps},
        }
        if failed or r.error:
            details["error"] = r.error or "; ".join(
                f"{s.step_name}: {s.details.get('error', 'failed')}" for s in failed
            )
        return details

    def wait_for_completion(
        self,
        show_output: bool = True,
        timeout_seconds: float = sys.maxsize,
        raise_on_error: bool = True,
    ) -> str:
        """Wait for the run to end; with ``show_output``, stream the steps' logs meanwhile.

        Returns the final status ('Finished', 'Failed', 'Canceled').

        Raises:
            ActivityFailedException: the run failed and ``raise_on_error`` is True.
        """
        printer = _LogPrinter(self.experiment, self._id) if show_output else None
        if printer:
            print(f"PipelineRunId: {self._id}")
            print(f"Logs: {run_layout.run_dir(self.experiment.workspace, self._id)}")
        started = time.monotonic()
        status = self._heard_end(timeout_seconds) if printer is None else None
        if status is None:
            status = self._wait(
                timeout_seconds, printer, waited_s=time.monotonic() - started
            )
        if printer:
            printer.summary(status)
        if status == RunStatus.FAILED and raise_on_error:
            details = self.get_details()
            raise ActivityFailedException(
                f"pipeline run {self._id} failed: {details.get('error', '')}", details
            )
        return status

    def _heard_end(self, timeout_seconds: float) -> str | None:
        """The final status as the run's driver tells it over the agent's link, if
        this process submitted the run through the agent; None if there is no link, it
        broke, or ``timeout_seconds`` passed (the catalog then decides). Reads nothing."""
        link, self._link = self._link, None
        if link is None:
            return None
        status = link.wait(timeout_seconds if timeout_seconds < sys.maxsize else None)
        link.close()
        return status

    def cancel(self) -> None:
        """Ask the driver to stop the running steps; nothing they wrote is committed.

        Returns at once; the run ends Canceled when its driver has stopped them. A run
        whose driver died is resumed so that a new driver carries the cancel out (as
        ``dataferry runs cancel`` does). A run that has ended stays as it is.

        Raises:
            RunStateError: the run's driver is gone and a process of its steps could not
                be stopped, so it could not be resumed to carry the cancel out.
        """
        self._stop(None)

    def fail(
        self,
        error_details: Any = None,
        error_code: Any = None,
        _set_status: bool = True,
    ) -> None:
        """Stop the running steps as ``cancel`` does, but end the run Failed with
        ``error_details`` (a str or an exception) as its error (B.10). Returns once
        the run has ended (at most ``FAIL_WAIT_S``: the SDK's ``fail`` is synchronous,
        so a ``get_status()`` right after it reads Failed). A run that has ended stays
        as it is.

        Raises:
            RunStateError: as ``cancel``.
        """
        from dataferry.execution.interactive_run import failure_message

        self._stop(failure_message(error_details, error_code))
        views.wait_for_status(
            self.experiment.workspace, self._id, views.TERMINAL, timeout_s=FAIL_WAIT_S
        )

    def _stop(self, error: str | None) -> None:
        from dataferry.execution.processes import nudge_driver
        from dataferry.execution.resume import carry_out_cancel

        # the error goes in with the request, so the driver that carries it out sees it
        values = {} if error is None else {"error": error}
        if self._store.move_run(
            self._id, RunStatus.CANCEL_REQUESTED, strict=False, **values
        ):
            record = self._store.get_run(self._id)
            nudge_driver(
                self._id,
                record.driver_host,
                record.driver_pid,
                run_layout.run_dir(self.experiment.workspace, self._id),
            )
        carry_out_cancel(self.experiment.workspace, self._id)

    def resume(self) -> PipelineRun:
        """Continue this run after its driver died: finished steps are kept, steps that were
        running restart with clean outputs.

        Raises:
            RunStateError: the run has ended, or its driver is still alive.
        """
        from dataferry.execution.resume import resume_run

        resume_run(self.experiment.workspace, self._id)
        return self

    def rerun(self, from_step: str) -> PipelineRun:
        """A new run of the same pipeline that reruns ``from_step`` and all downstream of it.

        Raises:
            RunStateError: this run has not ended.
            StepNotFoundError: it has no such step (the closest name is suggested).
        """
        from dataferry.execution.resume import rerun_from

        return PipelineRun(
            self.experiment, rerun_from(self.experiment.workspace, self._id, from_step)
        )

    def delete_intermediate_outputs(self) -> list[Any]:
        """Delete this run's outputs that are not registered and that no kept run reuses.

        Returns what was deleted.

        Raises:
            RunStateError: the run has not ended.
        """
        from dataferry.execution.lifecycle import delete_run_outputs

        status = self.get_status()
        if status not in TERMINAL:
            raise RunStateError(
                f"run {self._id} is {status}: its outputs are deleted only once it has ended"
            )
        return delete_run_outputs(self.experiment.workspace, self._id)

    def _metric_records(self) -> list[views.MetricView]:
        return views.metrics(self.experiment.workspace, [self._id])

    def _metric_children(self) -> list[StepRun]:
        return self.get_steps()

    def _model_source(self) -> ModelSource:
        """Every step run's files, each under ``<step name>/`` (what a model path
        that names none of them is told)."""
        from dataferry.execution.pipeline_models import all_step_files

        ws = self.experiment.workspace
        return ModelSource(
            ws, self._id, self.experiment.name, live=False, files=all_step_files(self)
        )

    def _model_source_for(self, model_path: str) -> ModelSource:
        """The step run whose files ``model_path`` names (B.14): ``outputs/x`` of the
        one step that has it, or ``<step name>/outputs/x``.

        Raises:
            ModelPathNotFoundError: no step run has such a file.
            ModelPathAmbiguousError: several step runs have.
        """
        from dataferry.execution.pipeline_models import pipeline_model_source

        return pipeline_model_source(self, model_path)

    def __repr__(self) -> str:
        return f"PipelineRun(id='{self._id}', experiment='{self.experiment.name}', status='{self.get_status()}')"


class _LogPrinter:
    """Shows a run (``only``: one step run of it) while a waiter polls: its status
    changes, reuse decisions, stages and step output (``run_display``), on stdout."""

    def __init__(
        self, experiment: Experiment, run_id: str, only: str | None = None
    ) -> None:
        from dataferry.execution.run_display import RunDisplay

        self.workspace = experiment.workspace
        self.run_id = run_id
        self.display = RunDisplay(self.workspace, run_id, only=only)

    def show(self) -> None:
        """Show what happened since the last call."""
        self.display.show()

    def finish(self) -> None:
        """Show the last lines and the summary line (the wait has ended)."""
        self.display.close()

    def summary(self, status: str) -> None:
        """One line per step: status and error or reuse note."""
        print(f"\nPipelineRun {self.run_id}: {status}")
        for step in views.run_detail(self.workspace, self.run_id).steps:
            extra = (
                (step.error or "")
                if step.status != StepStatus.FINISHED
                else (step.explanation or "")
            )
            first = extra.splitlines()[0] if extra else ""
            print(f"  {step.name:30} {step.status:10} {first}")


def _inputs(lineage: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """What each input was bound to (mode, value) and what it read, by input name."""
    return {
        row["name"]: {
            k: row[k]
            for k in ("mode", "value", "dataset_id", "datastore", "path")
            if row[k] is not None
        }
        for row in lineage
        if row["role"] == "input"
    }


__all__ = ["PipelineRun", "PortDataReference", "StepRun", "StepRunOutput"]
