"""``RunDetails(run).show()`` (``azureml.widgets``): a run's progress where it is called.

Everything is read through the read model (``execution.views``). A pipeline run (or any
run with a record in the runs table) shows its steps; a step run shows itself.
``get_widget_data()`` returns the keys of the SDK widget's data (A.18); ``show()``
renders it until the run ends (see ``run_details_view`` for how and where).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataferry.errors import RunArgumentTypeError, RunNotFoundError
from dataferry.execution import run_layout, views
from dataferry.execution.metrics import metrics_dict

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace


@dataclass(frozen=True)
class RunSnapshot:
    """What one refresh read: the run (or None for a step run) and its steps."""

    run_id: str
    status: str
    run: views.RunDetail | None
    steps: tuple[views.StepView, ...]

    @property
    def is_terminal(self) -> bool:
        """Whether the run has ended."""
        return self.status in views.TERMINAL


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def _step_row(step: views.StepView) -> dict[str, Any]:
    return {
        "run_id": step.id,
        "name": step.name,
        "status": step.status,
        "created_time": _iso(step.created_at),
        "start_time": _iso(step.started_at),
        "end_time": _iso(step.ended_at),
        "duration": views.format_duration(step.duration_s),
        "target": step.compute_target,
        "reused_from": step.reused_from,
    }


class RunDetails:
    """Show a run's progress: ``RunDetails(run).show()``.

    Args:
        run_instance: a ``PipelineRun``, a ``StepRun``, or ``Run.get_context()``
            inside a step: anything with an ``id`` and an ``experiment``.

    Raises:
        RunArgumentTypeError: ``run_instance`` is not a run.
    """

    def __init__(self, run_instance: Any) -> None:
        experiment = getattr(run_instance, "experiment", None)
        if not isinstance(getattr(run_instance, "id", None), str) or experiment is None:
            raise RunArgumentTypeError(
                "RunDetails needs a run (a PipelineRun, StepRun or submitted run), "
                f"got {type(run_instance).__name__}"
            )
        self.run_id: str = run_instance.id
        self.workspace: Workspace = experiment.workspace

    def snapshot(self) -> RunSnapshot:
        """Read the run and its steps once.

        Raises:
            RunNotFoundError: neither a run nor a step run has this id.
        """
        try:
            run = views.run_detail(self.workspace, self.run_id)
        except RunNotFoundError:
            step = views.get_step(self.workspace, self.run_id)
            return RunSnapshot(self.run_id, step.status, None, (step,))
        return RunSnapshot(self.run_id, run.status, run, run.steps)

    def get_widget_data(
        self, widget_settings: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The widget's data, with the SDK's keys: ``status``,
        ``workbench_run_details_uri``, ``run_id``, ``run_properties``, ``child_runs``,
        ``children_metrics``, ``run_metrics``, ``run_logs``, ``graph`` and
        ``widget_settings``.

        Raises:
            RunNotFoundError: neither a run nor a step run has this id.
        """
        snap = self.snapshot()
        own_metrics = views.metrics(self.workspace, [self.run_id])
        children = {
            s.id: metrics_dict(views.metrics(self.workspace, [s.source_id]))
            for s in snap.steps
            if snap.run is not None
        }
        return {
            "status": snap.status,
            "workbench_run_details_uri": self._folder(snap).as_uri(),
            "run_id": self.run_id,
            "run_properties": self._properties(snap),
            "child_runs": [_step_row(s) for s in snap.steps] if snap.run else [],
            "children_metrics": {k: v for k, v in children.items() if v},
            "run_metrics": metrics_dict(own_metrics),
            "run_logs": self._logs(snap),
            "graph": _graph(snap),
            "widget_settings": dict(widget_settings or {}),
        }

    def _folder(self, snap: RunSnapshot) -> Any:
        if snap.run is not None:
            return snap.run.log_dir.resolve()
        step = snap.steps[0]
        return run_layout.step_dir(self.workspace, step.run_id, step.id).resolve()

    def _properties(self, snap: RunSnapshot) -> dict[str, Any]:
        if snap.run is None:
            row = _step_row(snap.steps[0])
            row["log_files"] = {n: str(p) for n, p in snap.steps[0].log_files()}
            return row
        r = snap.run
        return {
            "run_id": r.id,
            "experiment": r.experiment,
            "status": r.status,
            "created_utc": _iso(r.created_at),
            "start_time_utc": _iso(r.started_at),
            "end_time_utc": _iso(r.ended_at),
            "duration": views.format_duration(r.duration_s),
            "error": r.error,
            "tags": dict(r.tags),
            "log_files": {"driver.log": str(r.driver_log)},
        }

    def _logs(self, snap: RunSnapshot) -> str:
        if snap.run is not None:
            path = snap.run.driver_log
            return views.read_whole_log(path) if path.exists() else ""
        return "".join(views.read_whole_log(p) for _, p in snap.steps[0].log_files())

    def show(
        self, render_lib: Any = None, widget_settings: dict[str, Any] | None = None
    ) -> None:
        """Show the run's progress until it ends, then return, as ``dataferry run``
        shows it: a live view on a terminal; timestamped lines (status changes, reuse,
        stages, what the steps print, a summary) off a terminal and in a notebook.

        Raises:
            RunArgumentError: ``render_lib`` is given (only the built-in views exist).
            RunNotFoundError: neither a run nor a step run has this id.
        """
        from dataferry.execution.run_details_view import show_until_done

        show_until_done(self, render_lib)


def _graph(snap: RunSnapshot) -> dict[str, Any]:
    """The pipeline's nodes with their statuses (a step run has no graph)."""
    if snap.run is None:
        return {}
    return {
        "module_nodes": {
            s.node_id: {"node_id": s.node_id, "name": s.name, "status": s.status}
            | {"run_id": s.id}
            for s in snap.steps
        },
    }


__all__ = ["RunDetails", "RunSnapshot"]
