"""Parameter values of a published pipeline's run, from Python or from a REST body.

The published pipeline keeps its parameter defaults serialised (a scalar, or
``{"datapath": ...}`` / ``{"dataset": ...}``); an override is read against that
default's kind, as ``Pipeline.submit`` reads one against the live parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.errors import ParameterTypeError, PipelineValidationError
from dataferry.execution.plan import serialise_value
from dataferry.pipeline.parameters import PipelineParameter, coerce_override

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from dataferry.data.workspace import Workspace


def _kind(default: Any) -> str:
    if isinstance(default, dict) and "datapath" in default:
        return "datapath"
    if isinstance(default, dict) and "dataset" in default:
        return "dataset"
    return "scalar"


def parameter_values(
    defaults: Mapping[str, Any], overrides: Mapping[str, Any] | None
) -> dict[str, Any]:
    """The run's serialised parameter values: ``defaults`` with ``overrides`` read in.

    An override is a str, int, float or bool for a scalar parameter (read as its
    default's type: ``'3'`` for an int is 3), a DataPath for a DataPath parameter and
    a dataset of the default's kind for a dataset parameter.

    Raises:
        PipelineValidationError: an override names no parameter (each is named).
        ParameterTypeError: ``overrides`` is not a dict with str keys, or an override
            cannot be read as its parameter's kind.
    """
    overrides = _as_mapping(overrides)
    check_names(defaults, overrides)
    values = dict(defaults)
    for name, value in overrides.items():
        values[name] = _read(name, defaults[name], value)
    return values


def _as_mapping(overrides: object) -> dict[str, Any]:
    # dict() would also take a list of pairs or raise a bare ValueError on a str
    if overrides is None:
        return {}
    if not isinstance(overrides, dict):
        raise ParameterTypeError(
            "pipeline_parameters must be a dict of name: value, not "
            f"{type(overrides).__name__}; pass e.g. {{'count': 3}}."
        )
    for name in overrides:
        if not isinstance(name, str):
            raise ParameterTypeError(
                f"pipeline_parameters: parameter names are strings, not "
                f"{type(name).__name__} {name!r}"
            )
    return dict(overrides)


def check_names(defaults: Mapping[str, Any], names: Iterable[str]) -> None:
    """Raises PipelineValidationError naming each of ``names`` that is not a
    parameter of ``defaults`` (the published pipeline's parameters)."""
    unknown = sorted(set(names) - set(defaults))
    if unknown:
        raise PipelineValidationError(
            [
                f"Pipeline parameter with name {k} does not exist (parameters: "
                f"{sorted(defaults) or 'none'})"
                for k in unknown
            ],
            "the published pipeline's parameters",
        )


def _read(name: str, default: Any, value: Any) -> Any:
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.data.datapath import DataPath

    kind = _kind(default)
    if kind == "scalar":
        return coerce_override(PipelineParameter(name, default), value)
    wanted = DataPath if kind == "datapath" else AbstractDataset
    if not isinstance(value, wanted):
        raise ParameterTypeError(
            f"pipeline parameter '{name}' takes a {wanted.__name__}, not "
            f"{type(value).__name__} {value!r}"
        )
    return serialise_value(value)


def rest_overrides(
    workspace: Workspace, body: Mapping[str, Any], defaults: Mapping[str, Any]
) -> dict[str, Any]:
    """The overrides a REST submit body assigns (``ParameterAssignments``,
    ``DataPathAssignments``, ``DataSetDefinitionValueAssignments``) as Python values,
    for a published pipeline whose parameter defaults are ``defaults``.

    Raises:
        PipelineValidationError: an assigned name, in any section, is no parameter
            (each is named, before any datastore or dataset is looked up).
        ParameterTypeError: an assignment is not of the SDK's shape (which, and why).
        DatastoreNotFoundError, DatasetNotFoundError: an assignment names a datastore
            or dataset the workspace does not have.
    """
    from dataferry.data.abstract_dataset import AbstractDataset
    from dataferry.data.datapath import DataPath
    from dataferry.data.datastore import Datastore

    sections = [
        _section(body, key)
        for key in (
            "ParameterAssignments",
            "DataPathAssignments",
            "DataSetDefinitionValueAssignments",
        )
    ]
    # a misspelt name is the likelier fault than a missing datastore or dataset
    check_names(defaults, [name for section in sections for name in section])
    found: dict[str, Any] = dict(sections[0])
    for name, spec in sections[1].items():
        store = _field(spec, "DataStoreName", f"DataPathAssignments.{name}")
        path = _field(spec, "RelativePath", f"DataPathAssignments.{name}")
        found[name] = DataPath(Datastore.get(workspace, store), path)
    for name, spec in sections[2].items():
        where = f"DataSetDefinitionValueAssignments.{name}"
        saved = spec.get("SavedDataSetReference") if isinstance(spec, dict) else None
        if saved is not None:
            found[name] = AbstractDataset.get_by_id(
                workspace, _field(saved, "Id", where)
            )
            continue
        ref = spec.get("DataSetReference") if isinstance(spec, dict) else None
        if ref is None:
            raise ParameterTypeError(
                f"{where} needs a SavedDataSetReference {{'Id': ...}} or a "
                "DataSetReference {'Name': ..., 'Version': ...}"
            )
        found[name] = AbstractDataset.get_by_name(
            workspace, _field(ref, "Name", where), version=ref.get("Version", "latest")
        )
    return found


def _section(body: Mapping[str, Any], key: str) -> dict[str, Any]:
    section = body.get(key) or {}
    if not isinstance(section, dict):
        raise ParameterTypeError(
            f"{key} must be an object of name: value, not {type(section).__name__}"
        )
    return section


def _field(spec: Any, key: str, where: str) -> str:
    value = spec.get(key) if isinstance(spec, dict) else None
    if not isinstance(value, str) or not value:
        raise ParameterTypeError(f"{where} needs a non-empty string {key!r}")
    return value


def rest_tags(body: Mapping[str, Any]) -> object:
    """The run tags a REST submit body gives (``Tags``, or ``tags`` as some samples
    send), unchecked: ``submit_published`` checks them before anything is recorded."""
    tags = body.get("Tags")
    return body.get("tags") if tags is None else tags
