"""The typed plan a run is driven from, and its versioned JSON at the catalog boundary.

``PlanCompiler`` (``plan.py``) builds a ``Plan``; ``Plan.to_json`` is what the run's
catalog row holds and ``plan_of`` reads it back, converting a plan stored by an older
dataferry and refusing one stored by a newer one. Every other module reads the plan
through these types.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from dataferry._record import field, record
from dataferry.errors import PlanFormatError, PlanVersionError
from dataferry.execution.plan_inputs import InputBinding, input_from_json
from dataferry.execution.plan_json import (
    StoredNodes,
    compact_plan_nodes,
    full_nodes,
)
from dataferry.execution.plan_values import (
    ArgumentItem,
    ParamArg,
    ParamRef,
    argument_from_json,
    argument_to_json,
    decode_param,
    encode_param,
    resolve_value,
)
from dataferry.execution.step_kinds import StepKind, kind_from_json

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry.catalog.run_store import RunRecord

# 1: stored before plans had a version (no "plan_version"); 2: the interpreter is the
# environment's request, resolved where the step runs; 3: per-run facts stored once and
# default values omitted (``plan_json``)
PLAN_VERSION = 3


@record(frozen=True, slots=True)
class Registration:
    """``register_on_complete``: the dataset an output becomes a version of."""

    name: str
    description: str | None = None
    tags: dict[str, str] | None = None
    tabular: dict[str, Any] | None = None  # read as a tabular dataset, in this format
    transforms: list[dict[str, Any]] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        """``{"name", "description", "tags", "tabular", "transforms"}``."""
        return {
            "name": self.name,
            "description": self.description,
            "tags": self.tags,
            "tabular": self.tabular,
            "transforms": self.transforms,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Registration:
        """The registration stored by ``to_json``."""
        return cls(
            data["name"],
            data.get("description"),
            data.get("tags"),
            data.get("tabular"),
            list(data.get("transforms") or []),
        )


@record(frozen=True, slots=True, kw_only=True)
class OutputTarget:
    """Where one output of a step is committed, and how the step writes it.

    ``type``: ``pipeline_data`` (a ``PipelineData``) or ``dataset_output`` (an
    ``OutputFileDatasetConfig``); ``source``: the local folder the step writes, if one
    was given; ``source_globs``: the files of it that are kept.
    """

    name: str
    type: str
    mode: str  # upload or mount
    datastore: str
    path_template: str  # with {run-id} and {output-name}
    overwrite: bool = False
    source_globs: list[str] | None = None
    source: str | None = None
    pipeline_output_name: str | None = None
    register: Registration | None = None
    auto_name: bool = False

    def to_json(self) -> dict[str, Any]:
        """The JSON form (a ``pipeline_output_name`` only for ``pipeline_data``)."""
        named = (
            {"pipeline_output_name": self.pipeline_output_name}
            if self.type == "pipeline_data"
            else {}
        )
        return {
            "name": self.name,
            "auto_name": self.auto_name,
            "type": self.type,
            **named,
            "mode": self.mode,
            "datastore": self.datastore,
            "path_template": self.path_template,
            "overwrite": self.overwrite,
            "source_globs": self.source_globs,
            "source": self.source,
            "register": self.register.to_json() if self.register else None,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OutputTarget:
        """The target stored by ``to_json``."""
        register = data.get("register")
        return cls(
            name=data["name"],
            type=data["type"],
            mode=data["mode"],
            datastore=data["datastore"],
            path_template=data["path_template"],
            overwrite=bool(data.get("overwrite")),
            source_globs=data.get("source_globs"),
            source=data.get("source"),
            pipeline_output_name=data.get("pipeline_output_name"),
            register=Registration.from_json(register) if register else None,
            auto_name=bool(data.get("auto_name", False)),
        )


@record(frozen=True, slots=True)
class EnvironmentSpec:
    """The environment a step asks for; resolved where the step runs
    (``dataferry.execution.environments.resolve_environment``).

    ``interpreter``: the path asked for (``~`` allowed), or None for the interpreter
    that runs the step runner. ``variables``: set in the step's process.
    ``request``: what ``Environment.request()`` asks for (packages to install, a Python
    pin, Docker settings, a curated name); None when it asks for nothing.
    """

    name: str | None = None
    interpreter: str | None = None
    variables: dict[str, Any] = field(default_factory=dict)
    request: dict[str, Any] | None = None

    def resolve_interpreter(self) -> str:
        """The interpreter the environment starts from, on this machine: the one asked
        for, or this one (the base of a virtual environment built for packages)."""
        if self.installs or not self.interpreter or self.interpreter == "python":
            return sys.executable
        return os.path.expanduser(self.interpreter)

    @property
    def installs(self) -> bool:
        """Whether the environment declares packages to install (or pins Python)."""
        return bool(self.request) and "pip" in (self.request or {})


@record(frozen=True, slots=True, kw_only=True)
class PlanNode:
    """One step of the plan: what it runs, with which data, and its options.

    ``params`` (the step's ``params``) and ``runconfig_params`` hold values or
    ``ParamRef``s; ``upstream`` holds the node ids of the steps whose outputs it reads.
    """

    node_id: str
    name: str
    kind: StepKind
    snapshot: str  # the folder holding the step's source snapshot
    snapshot_hash: str
    arguments: tuple[ArgumentItem, ...] = ()
    inputs: tuple[InputBinding, ...] = ()
    outputs: tuple[OutputTarget, ...] = ()
    params: dict[str, str | ParamRef] = field(default_factory=dict)
    upstream: tuple[str, ...] = ()
    allow_reuse: bool = True
    version: str | None = None
    compute_target: str | None = None
    environment: EnvironmentSpec = field(default_factory=EnvironmentSpec)
    runconfig_params: dict[str, Any] = field(default_factory=dict)
    max_run_duration_seconds: int | None = None
    # what the step asks its target's nodes for (runconfig.step_resources)
    step_resources: dict[str, Any] = field(default_factory=dict)

    def step_param(self, key: str, parameters: Mapping[str, Any]) -> Any:
        """The value of one of the step's ``params`` in this run.

        Raises:
            KeyError: the step has no such param.
        """
        return resolve_value(self.params[key], parameters)

    def max_duration_s(self, parameters: Mapping[str, Any]) -> Any:
        """``runconfig_pipeline_params['MaxRunDurationSeconds']`` in this run, else
        the runconfig's ``max_run_duration_seconds``; None for no limit."""
        value = self.runconfig_params.get("MaxRunDurationSeconds")
        if value is None:
            return self.max_run_duration_seconds
        return resolve_value(value, parameters)

    def parameters_used(self) -> set[str]:
        """The names of the pipeline parameters the step reads, anywhere."""
        names = {a.name for a in self.arguments if isinstance(a, ParamArg)}
        values = [*self.params.values(), *self.runconfig_params.values()]
        names |= {v.name for v in values if isinstance(v, ParamRef)}
        names |= {i.parameter for i in self.inputs if i.parameter is not None}
        return names

    def to_json(self) -> dict[str, Any]:
        """The node's JSON (the same fields fingerprints have always hashed)."""
        return {
            "node_id": self.node_id,
            "name": self.name,
            **self.kind.to_json(),
            "snapshot": self.snapshot,
            "snapshot_hash": self.snapshot_hash,
            "arguments": [argument_to_json(a) for a in self.arguments],
            "inputs": [i.to_json() for i in self.inputs],
            "outputs": [o.to_json() for o in self.outputs],
            "params": {k: encode_param(v) for k, v in self.params.items()},
            "upstream": list(self.upstream),
            "allow_reuse": self.allow_reuse,
            "version": self.version,
            "compute_target": self.compute_target,
            "interpreter": self.environment.interpreter,
            "environment": self.environment.name,
            "environment_variables": self.environment.variables,
            # only when asked for: the JSON (and fingerprint) of other nodes is unchanged
            **(
                {"environment_request": self.environment.request}
                if self.environment.request
                else {}
            ),
            "runconfig_params": {
                k: encode_param(v) for k, v in self.runconfig_params.items()
            },
            "max_run_duration_seconds": self.max_run_duration_seconds,
            # only when asked for: the JSON (and fingerprint) of other nodes is unchanged
            **({"step_resources": self.step_resources} if self.step_resources else {}),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> PlanNode:
        """The node stored by ``to_json`` (``Plan.from_json`` reports what is wrong)."""
        return cls(
            node_id=data["node_id"],
            name=data["name"],
            kind=kind_from_json(data),
            snapshot=data["snapshot"],
            snapshot_hash=data["snapshot_hash"],
            arguments=tuple(argument_from_json(a) for a in data["arguments"]),
            inputs=tuple(input_from_json(i) for i in data["inputs"]),
            outputs=tuple(OutputTarget.from_json(o) for o in data["outputs"]),
            params={k: decode_param(v) for k, v in data["params"].items()},
            upstream=tuple(data["upstream"]),
            allow_reuse=bool(data["allow_reuse"]),
            version=data.get("version"),
            compute_target=data.get("compute_target"),
            environment=EnvironmentSpec(
                data.get("environment"),
                data.get("interpreter"),
                dict(data.get("environment_variables") or {}),
                data.get("environment_request"),
            ),
            runconfig_params={
                k: decode_param(v)
                for k, v in (data.get("runconfig_params") or {}).items()
            },
            max_run_duration_seconds=data.get("max_run_duration_seconds"),
            step_resources=dict(data.get("step_resources") or {}),
        )


@record(frozen=True, slots=True)
class Plan:
    """Every step of a run, in an order where each step comes after its producers."""

    nodes: tuple[PlanNode, ...]
    default_datastore: str
    description: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The JSON stored in the run's catalog row, with ``plan_version``.

        Compact (``plan_json``): per-run facts once in ``node_defaults``, and no field
        at its default; ``from_json`` restores every field.
        """
        shared, nodes = compact_plan_nodes(self.nodes, self.default_datastore)
        return {
            "plan_version": PLAN_VERSION,
            "description": self.description,
            "default_datastore": self.default_datastore,
            "node_defaults": shared,
            "nodes": nodes,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any], *, where: str = "the plan") -> Plan:
        """A plan stored by ``to_json``, by this or an older dataferry.

        Args:
            data: the stored JSON; without ``plan_version`` it is version 1.
            where: names the plan in messages (``"run X's plan"``).

        Raises:
            PlanVersionError: stored by a newer dataferry, in a version this one
                cannot read.
            PlanFormatError: not a plan this dataferry wrote (names what is wrong).
        """
        current = _upgraded(data, where)
        try:
            return cls(
                tuple(PlanNode.from_json(n) for n in full_nodes(current)),
                current["default_datastore"],
                current.get("description"),
            )
        # PlanFormatError is a ValueError: it gets the plan's name here, like the rest
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise _unreadable(where, exc) from exc

    @staticmethod
    def stored_nodes(
        data: Mapping[str, Any], *, where: str = "the plan"
    ) -> StoredNodes:
        """The nodes of a stored plan, for ``PlanNode.from_json(stored.full(node))``
        one at a time (``from_json`` builds them all).

        Raises:
            PlanVersionError: as ``from_json``.
            PlanFormatError: not a plan this dataferry wrote; a node that is not
                one is found only when it is restored or built.
        """
        current = _upgraded(data, where)
        try:
            return StoredNodes(current)
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            raise _unreadable(where, exc) from exc


def _unreadable(where: str, exc: Exception) -> PlanFormatError:
    detail = f"missing field {exc}" if isinstance(exc, KeyError) else str(exc)
    return PlanFormatError(
        f"{where} cannot be read ({detail}); submit the pipeline again to run "
        "it with this dataferry"
    )


def plan_of(record: RunRecord) -> Plan:
    """The plan of a stored run.

    Raises:
        PlanVersionError: the run was stored by a newer dataferry.
        PlanFormatError: the stored plan cannot be read.
    """
    return Plan.from_json(record.definition, where=f"run {record.id}'s plan")


def _v1_to_v2(data: Mapping[str, Any]) -> dict[str, Any]:
    """Version 1 held the interpreter resolved at submit: a path, which version 2
    reads as the request for that very interpreter. Nothing else differs."""
    return {**data, "plan_version": 2}


def _v2_to_v3(data: Mapping[str, Any]) -> dict[str, Any]:
    """A version 2 node holds every field: a version 3 node that omits none."""
    return {**data, "plan_version": 3}


_UPGRADES: dict[int, Callable[[Mapping[str, Any]], dict[str, Any]]] = {
    1: _v1_to_v2,
    2: _v2_to_v3,
}


def _upgraded(data: Mapping[str, Any], where: str) -> Mapping[str, Any]:
    """``data`` converted, one version at a time, to ``PLAN_VERSION``.

    Raises:
        PlanVersionError: a version newer than ``PLAN_VERSION``.
        PlanFormatError: not a JSON object, or a version that is not a positive int.
    """
    if not isinstance(data, Mapping):
        raise PlanFormatError(f"{where} is {type(data).__name__}, not a JSON object")
    version = data.get("plan_version", 1)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise PlanFormatError(
            f"{where} has plan_version {version!r}; a plan version is a positive int"
        )
    if version > PLAN_VERSION:
        raise PlanVersionError(
            f"{where} has plan version {version}, written by a newer dataferry; this "
            f"one reads plan versions up to {PLAN_VERSION}. Upgrade dataferry to show, "
            "resume or rerun this run."
        )
    while version < PLAN_VERSION:
        data = _UPGRADES[version](data)
        version += 1
    return data
