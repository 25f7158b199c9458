"""``register_on_complete``: a committed output becomes a new dataset version."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace


def output_definition(output: dict[str, Any], committed: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """The dataset (kind, definition) that reads a committed output."""
    tabular = (output.get("register") or {}).get("tabular")
    if tabular:
        glob = tabular.get("path_glob") or tabular.get("file_glob")
        path = f"{committed['path']}/**/{glob}" if glob else committed["path"]
        return "tabular", {"sources": [{"datastore": committed["datastore"], "path": path}], "format": tabular["format"], "transforms": []}
    return "file", {"sources": [{"datastore": committed["datastore"], "path": committed["path"]}], "format": None, "transforms": []}


def register_outputs(workspace: Workspace, node: dict[str, Any], committed: Sequence[dict[str, Any]], step_run_id: str) -> list[dict[str, Any]]:
    """Register every committed output that asks for it; return (name, version, id) dicts."""
    by_name = {c["name"]: c for c in committed}
    registered = []
    for output in node["outputs"]:
        reg = output.get("register")
        if not reg or output["name"] not in by_name:
            continue
        kind, definition = output_definition(output, by_name[output["name"]])
        record = workspace.catalog.save_dataset(kind, definition)
        version = workspace.catalog.register_version(
            reg["name"], record.id, description=reg.get("description"), tags=reg.get("tags") or {},
            create_new_version=True, producer_step_run_id=step_run_id,
        )
        registered.append({"name": version.name, "version": version.version, "id": record.id, "output": output["name"]})
    return registered
