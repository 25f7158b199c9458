"""Changing a registered model version in place (``Model.update``, ``add_tags``,
``remove_tags``, ``add_properties``): the version stays, the catalog row changes.

Each change is computed from the row as the catalog has it now (not from the
caller's object, which another process may have made stale), checked whole, then
written in one update.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.errors import ModelArgumentError, ModelPropertyError
from dataferry.execution import model_registration as reg

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from dataferry.catalog.model_store import ModelRecord
    from dataferry.data.workspace import Workspace


def added_properties(record: ModelRecord, properties: object) -> dict[str, Any]:
    """The record's properties with ``properties`` added.

    Raises:
        ModelArgumentError: ``properties`` is not a dict.
        ModelPropertyError: a property is set already with another value.
    """
    given = reg.check_mapping(properties, "properties")
    current = dict(record.properties)
    changed = sorted(k for k, v in given.items() if k in current and current[k] != v)
    if changed:
        raise ModelPropertyError(
            f"model {record.name}:{record.version}: properties {changed} are set "
            "already and cannot be changed; use tags for values that change."
        )
    return {**current, **given}


def update_changes(
    workspace: Workspace, record: ModelRecord, given: Mapping[str, Any]
) -> Callable[[ModelRecord], dict[str, Any]]:
    """What ``Model.update(**given)`` changes, checked against ``record`` (the version
    as it is now): ``tags`` replaced (the SDK's rule), ``description`` set,
    ``properties`` added, the sample datasets and the resource configuration kept
    with the registration's other extras. Arguments left None change nothing.

    Everything is checked before the sample datasets' definitions are saved; the
    returned function gives the columns to set on the version as the catalog has it
    when it is written (properties are checked again there).

    Raises:
        ModelArgumentError: an argument of the wrong type.
        ModelPropertyError: ``properties`` would change a property.
    """
    fixed: dict[str, Any] = {}
    if given["tags"] is not None:
        fixed["tags"] = reg.check_mapping(given["tags"], "tags")
    description = given["description"]
    if description is not None:
        if not isinstance(description, str):
            raise ModelArgumentError(
                f"description must be a str, not {type(description).__name__}"
            )
        fixed["description"] = description
    properties = given["properties"]
    if properties is not None:
        added_properties(record, properties)
    spec = reg.ModelSpec(
        name=record.name,
        sample_input_dataset=given["sample_input_dataset"],
        sample_output_dataset=given["sample_output_dataset"],
        resource_configuration=given["resource_configuration"],
    )
    extras = reg.checked_extras(workspace, spec)  # checked, then definitions saved

    def changes(now: ModelRecord) -> dict[str, Any]:
        out = dict(fixed)
        if properties is not None:
            out["properties"] = added_properties(now, properties)
        if extras:
            out["extras"] = {**now.extras, **extras}
        return out

    return changes
