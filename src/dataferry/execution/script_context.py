"""``Run.get_context()`` inside a script run: the script run itself (A.9, B.12).

A script run is recorded as a run whose plan holds one step, and the script runs as
that step's process; the SDK's script sees the *script run*, though: its id, its
experiment, and ``parent`` the run that submitted it (``submit_child``) or None.
What the script logs, tags or uploads is kept on the one step run (``_record_id``),
where ``ScriptRun`` reads it, and a model it registers records the script run's id.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.execution.run_context import _SubmittedRun
from dataferry.execution.run_models import ModelSource
from dataferry.execution.script_submit import SCRIPT_RUN_TYPE

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.catalog.run_store import MetricRecord
    from dataferry.execution.script_run import ScriptRun


class ScriptRunContext(_SubmittedRun):
    """The script run a script run's process belongs to."""

    type = SCRIPT_RUN_TYPE

    def __init__(self, context_file: Path) -> None:
        super().__init__(context_file)
        self._step_run_id: str = self._ctx["run_id"]
        self.id = self._ctx["parent_run_id"]  # the step's run is the script run
        self.name = self.id

    @property
    def _record_id(self) -> str:
        return self._step_run_id

    def _script_run(self) -> ScriptRun:
        from dataferry.execution.script_run import ScriptRun

        return ScriptRun(self.experiment, self.id)

    @property
    def parent(self) -> Any:
        """The run that submitted this one with ``submit_child``, else None."""
        from dataferry.execution.script_run import run_by_id

        parent_id = self._ctx.get("run_parent_id")
        return None if parent_id is None else run_by_id(self._workspace, parent_id)

    def _model_source(self) -> ModelSource:
        # ./outputs of the running script are run files at once
        return ModelSource(
            self._workspace,
            self._step_run_id,
            self._ctx["experiment"],
            live=True,
            run_id=self.id,
        )

    def _metric_records(self) -> list[MetricRecord]:
        """What the script logged, and what was logged on the ScriptRun object."""
        return self._store.metrics_of([self.id, self._step_run_id])

    def get_details(self) -> dict[str, Any]:
        """The script run's details, as ``ScriptRun.get_details()`` gives them."""
        return self._script_run().get_details()

    def get_status(self) -> str:
        """The script run's status (Running, while the script runs)."""
        return self._script_run().get_status()

    def submit_child(self, config: Any, tags: Any = None, **kwargs: Any) -> Any:
        """Submit ``config`` as a child of this script run."""
        return self.experiment.submit(
            config, tags=tags, _parent_run_id=self.id, **kwargs
        )

    def __repr__(self) -> str:
        return f"Run(Experiment: {self._ctx['experiment']},\nId: {self.id},\nType: {self.type})"
