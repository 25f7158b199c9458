"""Child runs (``child_run``, ``create_children``, ``get_children``) of any run with a
record: an interactive run, a script run's or a step's ``Run.get_context()``, a step run.

A child is an interactive run (``interactive_run``) whose record names its parent's id,
so ``get_children`` and ``run.parent`` find each other whatever kind the parent is. A
child made inside a step or script process and still Running when that process exits
is ended then: Completed when the process ends normally, Failed when it dies of an
uncaught exception, so no child outlives the process that logs to it.
"""

from __future__ import annotations

import atexit
import sys
from typing import TYPE_CHECKING, Any

from dataferry.errors import RunArgumentError, RunNotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dataferry.data.workspace import Workspace
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.interactive_run import InteractiveRun
    from dataferry.execution.run_metrics import RunMetricsApi

MAX_CHILDREN = 100  # the SDK's limit for one create_children call


class ChildRunsApi:
    """``child_run``, ``create_children``, ``get_children`` for a run class with an
    ``experiment`` and a ``_parent_key`` (the id its children record as parent)."""

    # a child made in a step or script process is ended when that process exits
    _ends_children_at_exit = False

    @property
    def _parent_key(self) -> str:
        # each run class defines id and experiment, some as attributes, some as
        # properties: declaring either here would clash with the other kind
        return str(getattr(self, "id"))  # noqa: B009

    @property
    def _experiment(self) -> Experiment:
        experiment: Experiment = getattr(self, "experiment")  # noqa: B009
        return experiment

    def child_run(
        self, name: str | None = None, run_id: str | None = None, outputs: Any = None
    ) -> InteractiveRun:
        """A new run, Running, whose parent is this run; ``name`` is its description.

        Returns:
            The child, an interactive run (``complete()`` or a ``with`` block ends it).

        Raises:
            PipelineTypeError: ``outputs`` is neither a folder name nor a bool.
        """
        from dataferry.execution.interactive_run import outputs_folder

        folder = None if outputs is None else outputs_folder(outputs)
        return self._start_child(run_id, folder, None, name)

    def create_children(
        self,
        count: int | None = None,
        tag_key: str | None = None,
        tag_values: list[str] | None = None,
    ) -> list[InteractiveRun]:
        """``count`` new child runs (at most 100), each tagged
        ``azureml.batch_child_number`` 0, 1...; or one per value of ``tag_values``,
        tagged ``tag_key`` with it. Each is Running until it is completed.

        Raises:
            RunArgumentError: neither or both of ``count`` and ``tag_values``, a count
                not 1-100, or ``tag_values`` without ``tag_key``.
        """
        tags = children_tags(self._parent_key, count, tag_key, tag_values)
        return [self._start_child(None, None, t, None) for t in tags]

    def get_children(self, recursive: bool = False) -> Iterator[Any]:
        """The runs made with ``child_run``, ``create_children`` or ``submit_child``
        from this run, oldest first (and theirs, with ``recursive``)."""
        from dataferry.execution.run_listing import children_of

        return iter(
            children_of(self._experiment, self._parent_key, recursive=recursive)
        )

    def _metric_children(self) -> list[RunMetricsApi]:
        """The children whose metrics ``get_metrics(recursive=True)`` includes."""
        from dataferry.execution.run_metrics import RunMetricsApi

        return [c for c in self.get_children() if isinstance(c, RunMetricsApi)]

    def _start_child(
        self,
        run_id: str | None,
        outputs: str | None,
        tags: dict[str, str] | None,
        description: str | None,
    ) -> InteractiveRun:
        import uuid  # here: uuid imports platform, which a submit does not need

        from dataferry.execution.interactive_run import InteractiveRun

        child = InteractiveRun.start(
            self._experiment,
            run_id=run_id or str(uuid.uuid4()),
            outputs=outputs,
            tags=tags,
            description=description,
            parent_run_id=self._parent_key,
        )
        if self._ends_children_at_exit:
            _OPEN_CHILDREN.append(child)
            _watch_process_end()
        return child


def parent_run(workspace: Workspace, parent_id: str | None) -> Any:
    """The run a child's record names as its parent: a run (ScriptRun, PipelineRun,
    interactive run), a step run (``StepRun``), or None for no parent.

    Raises:
        RunNotFoundError: neither a run nor a step run has that id.
    """
    from dataferry.execution.script_run import run_by_id

    if parent_id is None:
        return None
    try:
        return run_by_id(workspace, parent_id)
    except RunNotFoundError:
        return _step_run(workspace, parent_id)


def _step_run(workspace: Workspace, step_run_id: str) -> Any:
    from dataferry.catalog.run_store import RunStore
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.pipeline_run import StepRun
    from dataferry.execution.views import run_detail

    record = RunStore(workspace.catalog).get_step_run(step_run_id)
    name = run_detail(workspace, record.run_id).experiment
    experiment = Experiment(workspace, name, _skip_name_validation=True)
    return StepRun(experiment, step_run_id, record.run_id)


def children_tags(
    run_id: str, count: Any, tag_key: Any, tag_values: Any
) -> list[dict[str, str]]:
    """The tags of each child ``create_children`` makes (see there).

    Raises:
        RunArgumentError: the arguments do not name the children (see there).
    """
    if (count is None) == (tag_values is None):
        raise RunArgumentError(
            f"run {run_id}: create_children() takes count or tag_values (with tag_key), "
            "one of them"
        )
    if tag_values is not None:
        if not isinstance(tag_key, str):
            raise RunArgumentError(
                f"run {run_id}: create_children(tag_values=...) needs tag_key, the tag "
                "each child gets its value under"
            )
        values = [str(v) for v in tag_values]
    elif (
        isinstance(count, bool)
        or not isinstance(count, int)
        or not 0 < count <= MAX_CHILDREN
    ):
        raise RunArgumentError(
            f"run {run_id}: create_children(count={count!r}): count must be an int "
            f"from 1 to {MAX_CHILDREN}"
        )
    else:
        tag_key, values = "azureml.batch_child_number", [str(i) for i in range(count)]
    if len(values) > MAX_CHILDREN:
        raise RunArgumentError(
            f"run {run_id}: create_children() makes at most {MAX_CHILDREN} runs at "
            f"once, not {len(values)}"
        )
    return [{tag_key: value} for value in values]


# children made by this (step or script) process, and whether it is dying of an error
_OPEN_CHILDREN: list[InteractiveRun] = []
_FAILING: list[BaseException] = []


def _watch_process_end() -> None:
    """Once per process: note an uncaught exception, and end open children at exit."""
    if getattr(_watch_process_end, "armed", False):
        return
    _watch_process_end.armed = True  # type: ignore[attr-defined]
    previous = sys.excepthook

    def hook(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        _FAILING.append(error)
        previous(kind, error, tb)

    sys.excepthook = hook
    atexit.register(_end_open_children)


def _end_open_children() -> None:
    """End the children still Running as the process that made them ended."""
    for child in _OPEN_CHILDREN:
        if _FAILING:
            child.fail(_FAILING[0])
        else:
            child.complete()
    _OPEN_CHILDREN.clear()
