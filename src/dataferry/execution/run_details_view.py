"""Where ``RunDetails.show()`` draws: the place it is called from.

- In a notebook (an IPython kernel is running): one display, updated in place through
  ``IPython.display`` (no ipywidgets needed).
- On a terminal: a rich ``Live`` table, redrawn each refresh.
- Anywhere else (a pipe, a log, a captured test): a header, one line per step status
  change, and a summary when the run ends; nothing is redrawn.

Each refresh reads the run through the read model. The loop ends when the run ends, or
when its driver is gone without ending it (then it says so and how to resume).
``AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME`` sets the refresh period in seconds, as in
the SDK; ``AMLWIDGET_RENDER=0`` skips showing anything.
"""

from __future__ import annotations

import importlib
import os
import sys
import time
from typing import TYPE_CHECKING, Any, Protocol

from dataferry.errors import RunArgumentError
from dataferry.execution import views

if TYPE_CHECKING:
    from dataferry.execution.run_details import RunDetails, RunSnapshot

_REFRESH_S = 0.5
_LIVENESS_S = 2.0


def _refresh_s() -> float:
    raw = os.environ.get("AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME")
    try:
        value = float(raw) if raw else _REFRESH_S
    except ValueError as exc:
        raise RunArgumentError(
            f"AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME={raw!r} is not a number of seconds"
        ) from exc
    return value if value > 0 else _REFRESH_S


def _header(snap: RunSnapshot) -> str:
    kind = "PipelineRun" if snap.run is not None else "StepRun"
    return f"{kind} {snap.run_id}: {snap.status}"


def _step_line(step: views.StepView) -> str:
    took = views.format_duration(step.duration_s)
    note = f" (reused {step.reused_from})" if step.reused_from else ""
    return f"  {step.name:30} {step.status:10} {took:>8}{note}"


def render_text(snap: RunSnapshot) -> str:
    """The whole view as plain text: a header, then one line per step."""
    return "\n".join([_header(snap), *(_step_line(s) for s in snap.steps)])


class _View(Protocol):
    def update(self, snap: RunSnapshot) -> None: ...
    def close(self, snap: RunSnapshot) -> None: ...


class _LinesView:
    """Not a terminal: print what changed, never redraw."""

    def __init__(self) -> None:
        self._changes = views.StatusChanges()
        self._status: str | None = None

    def update(self, snap: RunSnapshot) -> None:
        if snap.status != self._status:
            self._status = snap.status
            print(_header(snap), flush=True)
        for step in snap.steps:
            if self._changes.changed(step):
                print(f"[{step.name}] {step.status}", flush=True)

    def close(self, snap: RunSnapshot) -> None:
        self.update(snap)
        print(render_text(snap), flush=True)


class _TerminalView:
    """A terminal: a rich table redrawn in place."""

    def __init__(self) -> None:
        from rich.live import Live

        self._live = Live(auto_refresh=False)
        self._live.start()

    @staticmethod
    def _table(snap: RunSnapshot) -> Any:
        from rich.table import Table

        table = Table(title=_header(snap), title_justify="left")
        for column in ("step", "status", "duration", "target", "note"):
            table.add_column(column)
        for s in snap.steps:
            note = f"reused {s.reused_from}" if s.reused_from else (s.error or "")
            row = (s.name, s.status, views.format_duration(s.duration_s))
            table.add_row(*row, s.compute_target, note.splitlines()[0] if note else "")
        return table

    def update(self, snap: RunSnapshot) -> None:
        self._live.update(self._table(snap), refresh=True)

    def close(self, snap: RunSnapshot) -> None:
        self.update(snap)
        self._live.stop()


class _NotebookView:
    """A notebook: one display output, updated in place."""

    def __init__(self) -> None:
        # IPython is optional (no stubs either): reached only when a kernel runs
        display = importlib.import_module("IPython.display")
        self._pretty = display.Pretty
        self._handle = display.display(display.Pretty(""), display_id=True)

    def update(self, snap: RunSnapshot) -> None:
        self._handle.update(self._pretty(render_text(snap)))

    def close(self, snap: RunSnapshot) -> None:
        self.update(snap)


def _in_notebook() -> bool:
    ipython = sys.modules.get("IPython")
    if ipython is None:  # never imported: not in a notebook, and not worth loading
        return False
    shell = ipython.get_ipython()
    return shell is not None and hasattr(shell, "kernel")


def _pick_view() -> _View:
    if _in_notebook():
        return _NotebookView()
    if sys.stdout.isatty():
        return _TerminalView()
    return _LinesView()


def show_until_done(details: RunDetails, render_lib: Any = None) -> None:
    """Draw ``details``' run until it ends (or its driver is gone).

    Raises:
        RunArgumentError: ``render_lib`` is given, or the refresh period is not a number.
        RunNotFoundError: neither a run nor a step run has the id.
    """
    if render_lib is not None:
        raise RunArgumentError(
            f"RunDetails.show(render_lib={render_lib!r}): only the built-in views "
            "exist (notebook, terminal, plain text); leave render_lib out"
        )
    if os.environ.get("AMLWIDGET_RENDER") == "0":
        return
    period = _refresh_s()
    view = _pick_view()
    liveness = views.Every(_LIVENESS_S)
    snap = details.snapshot()
    try:
        while not snap.is_terminal:
            view.update(snap)
            if liveness.due() and _driver_gone(details, snap):
                break
            time.sleep(period)
            snap = details.snapshot()
    finally:
        view.close(snap)


def _driver_gone(details: RunDetails, snap: RunSnapshot) -> bool:
    run_id = snap.run.id if snap.run is not None else snap.steps[0].run_id
    if not views.driver_gone(details.workspace, run_id):
        return False
    print(
        f"run {run_id} stopped progressing: its driver is gone. Continue it with "
        f"PipelineRun.resume() or `dataferry runs resume {run_id}`.",
        flush=True,
    )
    return True
