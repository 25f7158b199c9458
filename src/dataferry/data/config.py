"""Finding a workspace's config file the way ``Workspace.from_config`` does in Azure ML."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from dataferry._record import record
from dataferry.errors import WorkspaceNotFoundError

CONFIG_DIRS = (".azureml", "aml_config")
CONFIG_FILES = ("config.json", "project.json")
DEFAULT_WORKSPACE_DIR = ".dataferry"


@record(frozen=True, slots=True)
class WorkspaceConfig:
    """What a config file says: the Azure keys (kept, not needed) and where the data is."""

    config_file: Path
    workspace_name: str
    workspace_dir: Path
    subscription_id: str | None = None
    resource_group: str | None = None
    catalog_url: str | None = None
    location: str | None = None


def find_config_file(path: str | os.PathLike[str] | None) -> Path:
    """The config file ``from_config(path)`` uses.

    A file path is used as is. For a folder: ``.azureml/`` is looked for in it and every
    parent first, then ``aml_config/``, then the folders themselves; in each place
    ``config.json`` before ``project.json``.

    Raises:
        WorkspaceNotFoundError: no config file anywhere on that walk.
    """
    start = Path(path if path is not None else ".").resolve()
    if start.is_file():
        return start
    parents = [start, *start.parents]
    for sub in (*CONFIG_DIRS, ""):
        for folder in parents:
            for name in CONFIG_FILES:
                candidate = folder / sub / name if sub else folder / name
                if candidate.is_file():
                    return candidate
    missing = (
        f"The workspace configuration file config.json, could not be found in {start} or "
        "its parent directories."
    )
    raise WorkspaceNotFoundError(
        f"{missing} Create a workspace there with `dataferry init` (or "
        "Workspace.create(name, path)), or pass path= to the folder that holds "
        ".azureml/config.json.",
        cli_message=f"{missing} Create a workspace there with `dataferry init`, or "
        "pass -w PATH (or set DATAFERRY_WORKSPACE) to the folder that holds "
        ".azureml/config.json.",
    )


def read_config(config_file: Path) -> WorkspaceConfig:
    """Parse a config file; the workspace folder defaults to ``.dataferry`` beside it.

    Accepts the usual ``subscription_id``/``resource_group``/``workspace_name`` keys, or
    an ARM ``Scope`` path, plus dataferry's own ``workspace_dir`` and ``catalog_url``.

    Raises:
        WorkspaceNotFoundError: the file is not JSON or names no workspace.
    """
    try:
        data: dict[str, Any] = json.loads(config_file.read_text("utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise WorkspaceNotFoundError(
            f"cannot read workspace config {config_file}: {exc}"
        ) from exc
    if data.get("Scope"):
        parts = str(data["Scope"]).split("/")
        if len(parts) > 8:
            data.setdefault("subscription_id", parts[2])
            data.setdefault("resource_group", parts[4])
            data.setdefault("workspace_name", parts[8])
    name = data.get("workspace_name")
    if not name:
        raise WorkspaceNotFoundError(
            f"workspace config {config_file} has no 'workspace_name'; add one, or recreate "
            "it with `dataferry init`."
        )
    home = project_folder(config_file)
    workspace_dir = Path(data.get("workspace_dir") or DEFAULT_WORKSPACE_DIR)
    return WorkspaceConfig(
        config_file=config_file,
        workspace_name=str(name),
        workspace_dir=workspace_dir
        if workspace_dir.is_absolute()
        else home / workspace_dir,
        subscription_id=data.get("subscription_id"),
        resource_group=data.get("resource_group"),
        catalog_url=data.get("catalog_url") or None,
        location=data.get("location") or None,
    )


def project_folder(config_file: Path) -> Path:
    """The folder a config file belongs to: the parent of ``.azureml/`` if it is in one."""
    parent = config_file.parent
    return parent.parent if parent.name in CONFIG_DIRS else parent


def write_config(
    folder: Path, data: dict[str, Any], *, file_name: str = "config.json"
) -> Path:
    """Write ``folder/.azureml/<file_name>`` (``aml_config/`` if that already exists)."""
    sub = "aml_config" if (folder / "aml_config").is_dir() else ".azureml"
    target = folder / sub / (file_name or "config.json")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", "utf-8")
    os.replace(tmp, target)
    return target
