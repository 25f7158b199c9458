"""``--json``: what the listing and showing commands print for scripts.

Every document is built from the read model's frozen views (or the registry records
the table is printed from), never from a query of its own, so the JSON and the table
say the same. Keys are fixed (README "Output for scripts"); times are ISO 8601 in UTC,
durations seconds, sizes bytes; a missing value is ``null``.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence

    from dataferry.execution.views import (
        MetricView,
        OutputView,
        RegistrationView,
        RunDetail,
        RunSummary,
        StepView,
    )

    F = Callable[..., Any]

json_option: Callable[[F], F] = click.option(
    "--json", "as_json", is_flag=True, help="Print JSON for scripts (keys: README)."
)

STEP_KEYS = (
    ("id", "id"),
    ("name", "name"),
    ("status", "status"),
    ("stage", "stage"),
    ("started", "started_at"),
    ("ended", "ended_at"),
    ("duration_s", "duration_s"),
    ("exit_code", "exit_code"),
    ("reused_from", "reused_from"),
    ("reuse_explanation", "explanation"),
    ("compute_target", "compute_target"),
    ("error", "error"),
    ("log_dir", "log_dir"),
)


def plain(value: Any) -> Any:
    """A value as JSON holds it: times in UTC ISO 8601, paths as text."""
    if isinstance(value, datetime):
        aware = value if value.tzinfo else value.replace(tzinfo=UTC)
        return aware.astimezone(UTC).isoformat()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, dict | tuple | list):
        items = value.items() if isinstance(value, dict) else enumerate(value)
        done = {k: plain(v) for k, v in items}
        return done if isinstance(value, dict) else list(done.values())
    return value


def emit(document: Any) -> None:
    """Print one JSON document (indented, keys in the order built) to stdout."""
    click.echo(json.dumps(plain(document), indent=2, default=str))


def run_summary(r: RunSummary) -> dict[str, Any]:
    """One run of ``runs list --json``."""
    return {
        "id": r.id,
        "experiment": r.experiment,
        "status": r.status,
        "type": r.run_type,
        "created": r.created_at,
        "started": r.started_at,
        "ended": r.ended_at,
        "duration_s": r.duration_s,
        "error": r.error,
        "step_statuses": list(r.step_statuses),
    }


def step(s: StepView) -> dict[str, Any]:
    """One step run of ``runs show --json``, with the datasets it registered."""
    fields = {key: getattr(s, attr) for key, attr in STEP_KEYS}
    return {**fields, "registered": [registration(r) for r in s.registrations]}


def registration(r: RegistrationView) -> dict[str, Any]:
    """A dataset version a step registered."""
    return {"dataset": r.dataset, "version": r.version, "output": r.output}


def output(o: OutputView) -> dict[str, Any]:
    """A committed output a step shows."""
    return {
        "step": o.step_name,
        "step_run_id": o.step_run_id,
        "produced_by": o.producer_id,
        "name": o.name,
        "datastore": o.datastore,
        "path": o.path,
        "files": o.file_count,
        "size_bytes": o.size_bytes,
        "committed": o.committed_at,
        "deleted": o.deleted_at,
    }


def metric(m: MetricView, owners: Mapping[str, str]) -> dict[str, Any]:
    """One logged metric value; ``logged_by`` is a step name or ``(run)``."""
    return {
        "logged_by": owners.get(m.run_id, "(run)"),
        "run_id": m.run_id,
        "name": m.name,
        "value": m.value,
        "step": m.step,
        "logged": m.created_at,
    }


def metric_owners(r: RunDetail) -> list[str]:
    """The ids whose metrics ``runs show`` lists: the run's, then each step's (a reused
    step: the step run it reused)."""
    return [r.id, *(s.source_id for s in r.steps)]


def run_detail(
    r: RunDetail, outputs: Iterable[OutputView], metrics: Sequence[MetricView]
) -> dict[str, Any]:
    """``runs show --json``: the run, its steps in run order, outputs and the metrics
    of ``metric_owners``."""
    owners = {s.source_id: s.name for s in r.steps}
    return {
        "id": r.id,
        "experiment": r.experiment,
        "status": r.status,
        "type": str(r.options.get("run_type") or "azureml.PipelineRun"),
        "description": r.description,
        "created": r.created_at,
        "started": r.started_at,
        "ended": r.ended_at,
        "duration_s": r.duration_s,
        "error": r.error,
        "parameters": dict(r.parameters),
        "tags": dict(r.tags),
        "log_dir": r.log_dir,
        "steps": [step(s) for s in r.steps],
        "outputs": [output(o) for o in outputs],
        "metrics": [metric(m, owners) for m in metrics],
    }
