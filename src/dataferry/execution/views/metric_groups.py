"""A run's metrics grouped for a page (the B.13 shapes): per run or step run, its
scalars, series (a metric logged more than once, or ``log_list``), tables
(``log_row``, ``log_table``) and images (``log_image``), and the file of an image,
looked up with path checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.errors import RunArgumentError, RunFileNotFoundError, RunNotFoundError
from dataferry.execution.metrics import metrics_dict
from dataferry.execution.views.datasets import json_cell

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dataferry.data.workspace import Workspace
    from dataferry.execution.views.model import MetricView

__all__ = ["IMAGE_TYPES", "metric_file", "run_metrics"]

_URI = "aml://artifactId/ExperimentRun/dcid."
# what a page shows inline; SVG is left out: it can carry script
IMAGE_TYPES = {
    ".png": "image/png",
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".gif": "image/gif",
    ".webp": "image/webp",
}


def run_metrics(
    workspace: Workspace, run_id: str, step: str | None = None
) -> list[dict[str, Any]]:
    """The metrics of run ``run_id`` (the run's own, then each step's in run order),
    or of its step named ``step`` only; a reused step shows those it reused. Each
    group: ``{"run_id", "step", "scalars": [{"name", "value"}], "series": [{"name",
    "values"}], "tables": [{"name", "columns": {col: [values]}}], "images": [{"name",
    "owner", "file"}], "artifacts": [{"name", "value"}]}``; groups without metrics
    are left out.

    Raises:
        RunNotFoundError: no run has that id, or it has no step named ``step``.
    """
    from dataferry.execution.views.runs import metrics, run_detail

    detail = run_detail(workspace, run_id)
    owners: list[tuple[str, str | None]] = [(run_id, None)]
    owners += [(s.source_id, s.name) for s in detail.steps]
    if step is not None:
        owners = [o for o in owners if o[1] == step]
        if not owners:
            names = ", ".join(s.name for s in detail.steps) or "none"
            raise RunNotFoundError(
                f"run {run_id} has no step named {step!r}; its steps: {names}"
            )
    found = metrics(workspace, [o for o, _ in owners])
    groups = [
        _group(o, name, [m for m in found if m.run_id == o]) for o, name in owners
    ]
    return [g for g in groups if any(g[k] for k in _KINDS)]


_KINDS = ("scalars", "series", "tables", "images", "artifacts")


def _group(
    owner: str, step: str | None, records: Sequence[MetricView]
) -> dict[str, Any]:
    group: dict[str, Any] = {"run_id": owner, "step": step, **{k: [] for k in _KINDS}}
    kinds = {m.name: m.kind for m in records}
    for name, value in metrics_dict(records).items():
        kind = kinds[name]
        if kind in ("row", "table"):
            columns = {c: v if isinstance(v, list) else [v] for c, v in value.items()}
            group["tables"].append({"name": name, "columns": _safe(columns)})
        elif kind == "artifact":
            group[_artifact_kind(value)].append(_artifact(name, value))
        elif kind == "list" or isinstance(value, list):
            values = value if isinstance(value, list) else [value]
            group["series"].append({"name": name, "values": _safe(values)})
        else:
            group["scalars"].append({"name": name, "value": json_cell(value)})
    return group


def _artifact_kind(value: Any) -> str:
    uri = value[-1] if isinstance(value, list) else value
    return "images" if Path(str(uri)).suffix.lower() in IMAGE_TYPES else "artifacts"


def _artifact(name: str, value: Any) -> dict[str, Any]:
    uri = str(value[-1] if isinstance(value, list) else value)
    owner, _, file = uri.removeprefix(_URI).partition("/")
    return {"name": name, "owner": owner, "file": file, "value": uri}


def _safe(value: Any) -> Any:
    if isinstance(value, list):
        return [_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _safe(v) for k, v in value.items()}
    return json_cell(value)


def metric_file(
    workspace: Workspace, run_id: str, owner: str, name: str
) -> tuple[Path, str]:
    """The image file ``name`` that ``owner`` (run ``run_id`` or one of its step
    runs) logged, and its media type.

    Only a file the catalog lists for ``owner``, lying inside the workspace's run
    folders (symbolic links resolved) and of an image type, is given.

    Raises:
        RunNotFoundError: no run ``run_id``, or ``owner`` is not it nor its step run.
        RunArgumentError: ``name`` is absolute or climbs out with ``..``, or is not
            an image (png, jpeg, gif, webp).
        RunFileNotFoundError: ``owner`` has no file of that name.
    """
    from dataferry.catalog.run_annotations import RunAnnotations
    from dataferry.execution import run_layout
    from dataferry.execution.run_files import normalise_name
    from dataferry.execution.views.runs import run_detail

    detail = run_detail(workspace, run_id)
    if owner not in {run_id, *(s.source_id for s in detail.steps)}:
        raise RunNotFoundError(f"{owner!r} is not run {run_id} nor one of its steps")
    stored = normalise_name(owner, name)
    media = IMAGE_TYPES.get(Path(stored).suffix.lower())
    if media is None:
        raise RunArgumentError(
            f"run file {stored!r} is not an image; the page shows "
            f"{', '.join(sorted(IMAGE_TYPES))} files"
        )
    files = {f.name: f for f in RunAnnotations(workspace.catalog).files_of(owner)}
    root = (workspace.path / run_layout.RUNS_DIR).resolve()
    path = (workspace.path / files[stored].path).resolve() if stored in files else None
    if path is None or not path.is_relative_to(root) or not path.is_file():
        raise RunFileNotFoundError(f"run {owner} has no image file {stored!r}")
    return path, media
