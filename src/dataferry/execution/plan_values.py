"""The values a plan holds: parameter references, data references, argument items.

A value the user gave as a ``PipelineParameter`` is a ``ParamRef`` in the plan and
``{"param": name}`` in its JSON; ``decode_param`` is the one place that reads that form
and ``ParamRef.resolve`` the one place that looks a parameter up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from dataferry._record import record
from dataferry.errors import PlanFormatError

if TYPE_CHECKING:
    from collections.abc import Mapping

T = TypeVar("T")


@record(frozen=True, slots=True)
class ParamRef:
    """A pipeline parameter, by name, whose value the run's parameters hold."""

    name: str

    def resolve(self, parameters: Mapping[str, Any]) -> Any:
        """The parameter's value in this run (as stored: scalars, or JSON for data).

        Raises:
            PlanFormatError: the run has no value for the parameter.
        """
        try:
            return parameters[self.name]
        except KeyError:
            raise PlanFormatError(
                f"the plan refers to pipeline parameter '{self.name}', which the run "
                f"has no value for (it has: {sorted(parameters) or 'none'}); submit the "
                "pipeline again"
            ) from None

    def to_json(self) -> dict[str, str]:
        """``{"param": name}``."""
        return {"param": self.name}


def decode_param(value: Any) -> Any:
    """``{"param": name}`` as a ``ParamRef``; any other JSON value as it is."""
    if isinstance(value, dict) and set(value) == {"param"}:
        return param_in(value)
    return value


def param_in(data: Mapping[str, Any]) -> ParamRef | None:
    """The ``ParamRef`` a JSON object names under ``"param"`` (an input's JSON carries
    it next to its other fields), or None.

    Raises:
        PlanFormatError: ``"param"`` is not a str.
    """
    if "param" not in data:
        return None
    return ParamRef(_str(data["param"], "param"))


def encode_param(value: Any) -> Any:
    """The JSON of a value that may be a ``ParamRef``."""
    return value.to_json() if isinstance(value, ParamRef) else value


def resolve_value(value: T | ParamRef, parameters: Mapping[str, Any]) -> T | Any:
    """``value`` itself, or for a ``ParamRef`` the parameter's value in this run."""
    return value.resolve(parameters) if isinstance(value, ParamRef) else value


@record(frozen=True, slots=True)
class DatasetRef:
    """A dataset by definition: what a dataset input (or dataset parameter) reads."""

    kind: str
    definition: dict[str, Any]
    id: str | None = None

    def to_json(self) -> dict[str, Any]:
        """``{"kind", "definition", "id"}``."""
        return {"kind": self.kind, "definition": self.definition, "id": self.id}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DatasetRef:
        """The reference stored by ``to_json``."""
        return cls(_str(data["kind"], "kind"), dict(data["definition"]), data.get("id"))


@record(frozen=True, slots=True)
class DataPathRef:
    """A path on a datastore: what a DataPath input (or DataPath parameter) reads."""

    datastore: str
    path: str

    def to_json(self) -> dict[str, str]:
        """``{"datastore", "path"}``."""
        return {"datastore": self.datastore, "path": self.path}

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> DataPathRef:
        """The reference stored by ``to_json``."""
        return cls(_str(data["datastore"], "datastore"), _str(data["path"], "path"))


# -- arguments ----------------------------------------------------------------------


@record(frozen=True, slots=True)
class LiteralArg:
    """An argument given as text."""

    text: str


@record(frozen=True, slots=True)
class InputArg:
    """The path (or dataset id) of one of the step's inputs."""

    name: str


@record(frozen=True, slots=True)
class OutputArg:
    """The folder the step writes one of its outputs to."""

    name: str


@record(frozen=True, slots=True)
class ParamArg:
    """A pipeline parameter's value (also given as ``$AML_PARAMETER_<name>``)."""

    name: str


@record(frozen=True, slots=True)
class StepParamArg:
    """A value of the step's ``params`` (``"parameter:<name>"`` in the arguments)."""

    name: str


ArgumentItem = LiteralArg | InputArg | OutputArg | ParamArg | StepParamArg
_REF_ARGS: dict[str, type[InputArg | OutputArg | ParamArg | StepParamArg]] = {
    "input": InputArg,
    "output": OutputArg,
    "param": ParamArg,
    "step_param": StepParamArg,
}
_REF_KINDS = {cls: kind for kind, cls in _REF_ARGS.items()}


def argument_to_json(arg: ArgumentItem) -> str | dict[str, str]:
    """A literal as its text, a reference as ``{kind: name}``."""
    if isinstance(arg, LiteralArg):
        return arg.text
    return {_REF_KINDS[type(arg)]: arg.name}


def argument_from_json(value: Any) -> ArgumentItem:
    """The argument stored by ``argument_to_json``.

    Raises:
        PlanFormatError: neither text nor ``{kind: name}`` of a known kind.
    """
    if isinstance(value, str):
        return LiteralArg(value)
    if isinstance(value, dict) and len(value) == 1:
        ((kind, name),) = value.items()
        if kind in _REF_ARGS:
            return _REF_ARGS[kind](_str(name, kind))
    raise PlanFormatError(
        f"argument {value!r} is neither text nor one of "
        f"{{{' | '.join(sorted(_REF_ARGS))}: name}}"
    )


def _str(value: Any, key: str) -> str:
    if not isinstance(value, str):
        raise PlanFormatError(f"'{key}' is {value!r}, not a str")
    return value
