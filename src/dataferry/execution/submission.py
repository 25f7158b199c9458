"""Recording a submitted run and starting its driver, where the catalog is open.

``Pipeline.submit`` does the pure half itself: it validates the graph, compiles the plan
and takes the source snapshots. What needs the catalog is asked of a *recorder*: the
workspace facts the checks need (``WorkspaceFacts``), then recording the run
(``RunRequest``) and starting its driver. There are two recorders and one way to do
each thing:

* the local agent's (``agent_client.AgentRecorder``): a resident process that has the
  catalog stack imported forks a child that reads the facts, records the run and then
  becomes its driver. The submitting script never imports SQLAlchemy.
* this process's (``LocalRecorder``): the same functions called here, and the driver
  forked or spawned from this process (``driver_start.start_driver``). Used when the
  agent is turned off (``DATAFERRY_AGENT=0``) or cannot be reached.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from dataferry._record import record

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from dataferry.data.workspace import Workspace
    from dataferry.execution.agent_client import AgentLink


@record(frozen=True)
class WorkspaceFacts:
    """What submit checks a pipeline against: the workspace's default datastore, the
    names of its registered datastores (lower case: names are case-insensitive) and
    each recorded compute target's ``max_nodes`` by name. Read where the catalog is
    open, so that the submitting script need not open it (nor import SQLAlchemy)."""

    default_datastore: str
    datastores: frozenset[str]
    compute_nodes: Mapping[str, int]

    def to_json(self) -> dict[str, Any]:
        return {
            "default_datastore": self.default_datastore,
            "datastores": sorted(self.datastores),
            "compute_nodes": dict(self.compute_nodes),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> WorkspaceFacts:
        return cls(
            str(data["default_datastore"]),
            frozenset(data["datastores"]),
            {str(k): int(v) for k, v in data["compute_nodes"].items()},
        )


@record(frozen=True)
class RunRequest:
    """A run to record: its id, experiment, plan JSON and options, and its step runs
    ``(step run id, node id, step name)`` in plan order."""

    run_id: str
    experiment: str
    plan: Mapping[str, Any]
    parameters: Mapping[str, Any]
    options: Mapping[str, Any]
    tags: Mapping[str, str] | None
    description: str | None
    steps: Sequence[tuple[str, str, str]]

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "experiment": self.experiment,
            "plan": self.plan,
            "parameters": self.parameters,
            "options": self.options,
            "tags": self.tags,
            "description": self.description,
            "steps": self.steps,
        }

    @classmethod
    def from_json(cls, data: Any) -> RunRequest:
        """The request ``to_json`` made.

        Raises:
            AgentRequestError: ``data`` is not such a request (which field, and why).
        """
        from dataferry.errors import AgentRequestError

        problem = _request_problem(data)
        if problem is not None:
            raise AgentRequestError(f"the run to record is malformed: {problem}")
        return cls(
            run_id=data["run_id"],
            experiment=data["experiment"],
            plan=data["plan"],
            parameters=data["parameters"],
            options=data["options"],
            tags=data["tags"],
            description=data["description"],
            steps=[(a, b, c) for a, b, c in data["steps"]],
        )


_REQUEST_FIELDS: tuple[tuple[str, tuple[type, ...]], ...] = (
    ("run_id", (str,)),
    ("experiment", (str,)),
    ("plan", (dict,)),
    ("parameters", (dict,)),
    ("options", (dict,)),
    ("tags", (dict, type(None))),
    ("description", (str, type(None))),
    ("steps", (list,)),
)


def _request_problem(data: Any) -> str | None:
    """What is wrong with a ``RunRequest`` in JSON, or None."""
    if not isinstance(data, dict):
        return f"expected an object, got {type(data).__name__}"
    for field, kinds in _REQUEST_FIELDS:
        if field not in data:
            return f"field {field!r} is missing"
        if not isinstance(data[field], kinds):
            takes = " or ".join(
                "null" if k is type(None) else k.__name__ for k in kinds
            )
            return f"field {field!r} must be {takes}, not {type(data[field]).__name__}"
    run_id = data["run_id"]
    # it names the run's folder: one plain path component
    if run_id in ("", ".", "..") or any(c in run_id for c in "/\\\0"):
        return f"run id {run_id[:80]!r} is not a folder name"
    # by type, not isinstance: the request is decoded JSON, whose lists and strings
    # are exactly list and str; one pass with no call per step (10,000 in a big run)
    steps = data["steps"]
    if {type(step) for step in steps} - {list} or {len(step) for step in steps} - {3}:
        return _STEPS_SHAPE
    if {type(part) for step in steps for part in step} - {str}:
        return _STEPS_SHAPE
    return None


_STEPS_SHAPE = "field 'steps' must hold [step run id, node id, name] strings"


def read_facts(workspace: Workspace) -> WorkspaceFacts:
    """The workspace's facts, read from its catalog (opened and migrated if need be).

    Raises:
        CatalogError: the catalog cannot be opened or read.
    """
    from dataferry.catalog.compute_store import ComputeStore

    catalog = workspace.catalog
    return WorkspaceFacts(
        workspace.default_datastore_name(),
        frozenset(spec.name for spec in catalog.list_datastores()),
        {target.name: target.max_nodes for target in ComputeStore(catalog).list()},
    )


def record_run(workspace: Workspace, request: RunRequest) -> None:
    """Insert the run and its step runs, ``NotStarted``, in one transaction; the driver
    is to be started on this host.

    Raises:
        CatalogError: the catalog refused the write (the run id exists, say).
    """
    import socket

    from dataferry.catalog.run_store import RunStore

    RunStore(workspace.catalog).create_run(
        request.run_id,
        request.experiment,
        request.plan,
        parameters=request.parameters,
        options=request.options,
        tags=request.tags,
        description=request.description,
        steps=request.steps,
        driver_host=socket.gethostname(),
    )


class Recorder(Protocol):
    """Where a submitted run is recorded and its driver started; a context manager
    (leaving it ends the conversation, recorded or not)."""

    facts: WorkspaceFacts

    def record(
        self, request: RunRequest, while_waiting: Callable[[], object] | None = None
    ) -> AgentLink | None:
        """Record the run and start its driver; a link that tells when the run ends,
        if this recorder has one. ``while_waiting`` (the caller's own work) is called
        once, while the recording is under way or after it."""

    def __enter__(self) -> Recorder: ...

    def __exit__(self, *exc: object) -> None: ...


class LocalRecorder:
    """Records runs through this process's own catalog connection."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.facts = read_facts(workspace)

    def __enter__(self) -> LocalRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def record(
        self, request: RunRequest, while_waiting: Callable[[], object] | None = None
    ) -> None:
        """Record the run, then fork or spawn its driver from this process; then call
        ``while_waiting``."""
        from dataferry.catalog.run_store import RunStore
        from dataferry.execution import driver_start

        record_run(self.workspace, request)
        pid = driver_start.start_driver(self.workspace.path, request.run_id)
        driver_start.record_driver(
            RunStore(self.workspace.catalog), self.workspace.path, request.run_id, pid
        )
        if while_waiting is not None:
            while_waiting()


def recorder_for(workspace: Workspace) -> Recorder:
    """The local agent's recorder where the agent is on and reachable, else this
    process's.

    Raises:
        CatalogError: the catalog cannot be opened (by the agent or here).
    """
    from dataferry.execution import agent_client

    return agent_client.AgentRecorder.open(workspace) or LocalRecorder(workspace)


class EarlyRecorder:
    """A recorder asked for before the pipeline's checks, so that the local agent
    reads the workspace facts while this process checks and compiles (a context
    manager: leaving it unanswered ends the conversation, nothing recorded).

    Only an agent that already listens is greeted early; starting one (and recording
    here when there is none) waits for ``ready``, after the checks, as before.
    """

    def __init__(self, workspace: Workspace, *, early: bool = True) -> None:
        """Greet the listening agent now if ``early`` (False: a step's environment is
        to be built first, which may take minutes)."""
        from dataferry.execution.agent_client import AgentGreeting

        self.workspace = workspace
        self._greeting = AgentGreeting.send(workspace, start=False) if early else None

    def __enter__(self) -> EarlyRecorder:
        return self

    def __exit__(self, *exc: object) -> None:
        if self._greeting is not None:
            self._greeting.close()

    def ready(self) -> Recorder:
        """The recorder, with the workspace facts read.

        Raises:
            CatalogError: the catalog cannot be opened (by the agent or here).
        """
        greeting, self._greeting = self._greeting, None
        if greeting is None:
            return recorder_for(self.workspace)
        # an agent that went away meanwhile is not started again: recorded here
        return greeting.answer() or LocalRecorder(self.workspace)
