"""``register_on_complete``: a committed output becomes a new dataset version."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from dataferry.catalog.step_commit import VersionToRegister
from dataferry.data.datastore import Datastore
from dataferry.errors import RunError

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dataferry.data.workspace import Workspace
    from dataferry.execution.plan_model import PlanNode, Registration


def tabular_sources(
    workspace: Workspace, datastore: str, path: str, tabular: dict[str, Any]
) -> list[dict[str, str]]:
    """The sources of a tabular view of a committed output folder.

    ``path_glob`` (``read_*_files``) is, as in Azure ML and despite its name, a regular
    expression searched in each file's path on the datastore; ``file_glob`` (from
    ``parse_*_files(file_extension=...)``) is a glob.

    Raises:
        RunError: ``path_glob`` matches none of the output's files.
    """
    base = path.rstrip("/")
    if tabular.get("file_glob"):
        return [{"datastore": datastore, "path": f"{base}/**/{tabular['file_glob']}"}]
    regex = tabular.get("path_glob")
    if not regex:
        return [{"datastore": datastore, "path": base}]
    location = Datastore.get(workspace, datastore).location
    found = [location.relative_path(f) for f in location.resolve(base)]
    matched = [p for p in found if re.search(regex, p)]
    if not matched:
        raise RunError(
            f"path_glob {regex!r} (a regular expression) matches none of the {len(found)} "
            f"files of the output at {datastore}:/{base}"
        )
    return [{"datastore": datastore, "path": p} for p in matched]


def output_definition(
    workspace: Workspace, register: Registration, committed: dict[str, Any]
) -> tuple[str, dict[str, Any]]:
    """The dataset (kind, definition) that reads a committed output.

    Raises:
        RunError: a tabular view's ``path_glob`` matches none of the output's files.
    """
    tabular = register.tabular
    if tabular:
        sources = tabular_sources(
            workspace, committed["datastore"], committed["path"], tabular
        )
        # the view's transforms (keep_columns, random_split...) are part of what is registered
        return "tabular", {
            "sources": sources,
            "format": tabular["format"],
            "transforms": register.transforms,
        }
    return "file", {
        "sources": [{"datastore": committed["datastore"], "path": committed["path"]}],
        "format": None,
        "transforms": [],
    }


def plan_registrations(
    workspace: Workspace, node: PlanNode, committed: Sequence[dict[str, Any]]
) -> list[VersionToRegister]:
    """What ``register_on_complete`` will register, recorded with the step's commit;
    checked before anything is recorded.

    Raises:
        RunError: a tabular view's ``path_glob`` matches none of the output's files.
    """
    by_name = {c["name"]: c for c in committed}
    planned = []
    for output in node.outputs:
        reg = output.register
        if reg is None or output.name not in by_name:
            continue
        kind, definition = output_definition(workspace, reg, by_name[output.name])
        planned.append(
            VersionToRegister(
                output.name,
                reg.name,
                reg.description,
                dict(reg.tags or {}),
                kind,
                definition,
            )
        )
    return planned
