"""The details dict of a script run, in the SDK's keys (A.9 ``get_details``)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.catalog.status import TERMINAL, RunStatus
from dataferry.execution import run_layout, script_files
from dataferry.execution.plan_model import plan_of
from dataferry.execution.run_outputs import output_datasets

if TYPE_CHECKING:
    from dataferry.execution.script_run import ScriptRun
    from dataferry.execution.views import RunDetail, StepView

# the SDK's names of the access modes (consumptionDetails.mechanism)
_MECHANISMS = {"mount": "Mount", "download": "Download", "direct": "Direct"}


def details_of(run: ScriptRun, detail: RunDetail) -> dict[str, Any]:
    """``runId``, ``target``, ``status``, times, ``properties``, ``inputDatasets``,
    ``outputDatasets``, ``runDefinition``, ``logFiles``, ``submittedBy``, and
    ``error``/``warnings`` when there are any."""
    from dataferry.execution.script_run import sdk_status, submitted_by

    step = detail.steps[0] if detail.steps else None
    details: dict[str, Any] = {
        "runId": detail.id,
        "target": step.compute_target if step else "local",
        "status": run.get_status(),
        "startTimeUtc": _iso(detail.started_at),
        "properties": {"azureml.runsource": "experiment"},
        "inputDatasets": [],
        "outputDatasets": [],
        "runDefinition": _definition(run, detail),
        "logFiles": {
            name: str(path)
            for name, path in script_files.run_files(
                step.log_dir if step else None
            ).items()
            if name.startswith(("user_logs/", "logs/"))
        },
        "submittedBy": submitted_by(),
    }
    if detail.status in TERMINAL:
        details["status"] = sdk_status(detail.status)
        details["endTimeUtc"] = _iso(detail.ended_at)
    if step is not None:
        _datasets(run, step, details)
    # the run's own error (fail(), a driver that failed) says more than the step's
    # "the run was canceled"; a script that failed leaves only the step's
    error = detail.error or (step.error if step else None)
    if error and detail.status != RunStatus.FINISHED:
        details["error"] = {"error": {"code": "UserError", "message": error}}
    return details


def interactive_details(run: Any, detail: RunDetail) -> dict[str, Any]:
    """The details of an interactive run (``start_logging``, ``child_run``): no
    script, datasets or logs, ``target`` local."""
    from dataferry.execution.script_run import sdk_status, submitted_by

    details: dict[str, Any] = {
        "runId": detail.id,
        "target": "local",
        "status": sdk_status(detail.status),
        "startTimeUtc": _iso(detail.started_at),
        "properties": {"azureml.runsource": "experiment"},
        "tags": dict(detail.tags),
        "inputDatasets": [],
        "outputDatasets": [],
        "runDefinition": {},
        "logFiles": {},
        "submittedBy": submitted_by(),
    }
    if detail.status in TERMINAL:
        details["endTimeUtc"] = _iso(detail.ended_at)
    if detail.error and detail.status != RunStatus.FINISHED:
        details["error"] = {"error": {"code": "UserError", "message": detail.error}}
    return details


def with_logs(details: dict[str, Any]) -> dict[str, Any]:
    """``details`` with each ``logFiles`` entry's path replaced by the log's text (the
    SDK's ``get_details_with_logs``); a log not written yet reads as empty."""
    logs: dict[str, str] = {}
    for name, path in details.get("logFiles", {}).items():
        try:
            logs[name] = Path(path).read_text("utf-8", errors="replace")
        except FileNotFoundError:
            logs[name] = ""
    return {**details, "logFiles": logs}


def _iso(moment: Any) -> str | None:
    return moment.isoformat() if moment is not None else None


def _definition(run: ScriptRun, detail: RunDetail) -> dict[str, Any]:
    """What ran: script or command, arguments, target, time limit, environment name."""
    store = run._run._store
    node = plan_of(store.get_run(detail.id)).nodes[0]
    script = getattr(node.kind, "script", None)
    words = [item if isinstance(item, str) else str(item) for item in node.arguments]
    return {
        "script": script,
        "command": None if script else words,
        "arguments": words if script else [],
        "target": node.compute_target or "local",
        "maxRunDurationSeconds": node.max_run_duration_seconds,
        "environment": {"name": node.environment.name},
        "workingDirectory": str(
            run_layout.run_dir(run.experiment.workspace, detail.id)
        ),
    }


def _datasets(run: ScriptRun, step: StepView, details: dict[str, Any]) -> None:
    """Fill ``inputDatasets`` and ``outputDatasets`` from the step's lineage."""
    store = run._run._store
    for row in store.lineage_of(step.source_id):
        if row["role"] == "input":
            details["inputDatasets"].append(
                {
                    "dataset": _input_dataset(run, row),
                    "consumptionDetails": {
                        "type": "RunInput",
                        "inputName": row["name"],
                        "mechanism": _MECHANISMS.get(row["mode"] or "", row["mode"]),
                    },
                }
            )
    details["outputDatasets"] = output_datasets(
        run.experiment.workspace,
        store.outputs_of(step.source_id),
        run.experiment.workspace.catalog.versions_by_producer(step.source_id),
    )


def _input_dataset(run: ScriptRun, row: dict[str, Any]) -> Any:
    """The dataset an input read, as the SDK gives it (a dataset object); a binding of
    a datastore path (no dataset) gives ``{"datastore", "path"}``."""
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.errors import DatasetNotFoundError

    if row.get("dataset_id") is None:
        return {key: row.get(key) for key in ("datastore", "path")}
    try:
        return AbstractDataset.get_by_id(run.experiment.workspace, row["dataset_id"])
    except DatasetNotFoundError:  # deleted since the run: say which one it was
        return {"id": row["dataset_id"]}
