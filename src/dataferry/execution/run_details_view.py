"""How ``RunDetails.show()`` runs: the one run watch (``watch.watch``, the run feed
shown by ``run_display``) that ``dataferry run`` uses, where it is called.

On a terminal: the steps' lines scroll above a live summary and step table. Off a
terminal, in a notebook too (no ipywidgets needed): plain timestamped lines as they
happen, a summary line every ``run_display.PLAIN_SUMMARY_S`` seconds and a last line
when the run ends. A step run shows only itself, until it ends.

The watch ends when the run ends, or when its driver is gone without ending it (then it
says so and how to resume). ``AZUREML_OVERRIDE_ALL_WIDGET_REFRESH_TIME`` sets the
refresh period in seconds, as in the SDK; ``AMLWIDGET_RENDER=0`` skips showing anything.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

from dataferry.errors import RunArgumentError
from dataferry.execution import views

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace
    from dataferry.execution.run_details import RunDetails

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


def show_until_done(details: RunDetails, render_lib: Any = None) -> None:
    """Show ``details``' run until it ends (or its driver is gone).

    Raises:
        RunArgumentError: ``render_lib`` is given, or the refresh period is not a number.
        RunNotFoundError: neither a run nor a step run has the id.
    """
    from dataferry.execution.watch import watch

    if render_lib is not None:
        raise RunArgumentError(
            f"RunDetails.show(render_lib={render_lib!r}): only the built-in views "
            "exist (a live view on a terminal, timestamped lines elsewhere); leave "
            "render_lib out"
        )
    if os.environ.get("AMLWIDGET_RENDER") == "0":
        return
    period = _refresh_s()
    snap = details.snapshot()
    run_id = snap.run_id if snap.run is not None else snap.steps[0].run_id
    only = None if snap.run is not None else snap.steps[0].id
    gone = _DriverGone(details.workspace, run_id)
    watch(details.workspace, run_id, only=only, refresh_s=period, give_up=gone)


class _DriverGone:
    """True (once it has said so) when the run's driver is gone without ending it;
    looked at every ``_LIVENESS_S`` seconds, not at every refresh."""

    def __init__(self, workspace: Workspace, run_id: str) -> None:
        self.workspace = workspace
        self.run_id = run_id
        self._due = views.Every(_LIVENESS_S)

    def __call__(self) -> bool:
        if not self._due.due() or not views.driver_gone(self.workspace, self.run_id):
            return False
        print(
            f"run {self.run_id} stopped progressing: its driver is gone. Continue it "
            f"with PipelineRun.resume() or `dataferry runs resume {self.run_id}`.",
            flush=True,
        )
        return True
