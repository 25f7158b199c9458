"""Listing an experiment's runs as the SDK re-creates them (``Experiment.get_runs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.execution.script_submit import SCRIPT_RUN_TYPE

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from dataferry.execution.experiment import Experiment

PIPELINE_RUN_TYPE = "azureml.PipelineRun"
_LIMIT = 100_000


def run_type_of(options: Mapping[str, Any]) -> str:
    """The SDK's run type of a recorded run (``azureml.scriptrun``, ...)."""
    return str(options.get("run_type") or PIPELINE_RUN_TYPE)


def experiment_runs(
    experiment: Experiment,
    *,
    run_type: str | None,
    tags: Any,
    properties: Any,
    include_children: bool,
) -> Iterator[Any]:
    """The experiment's runs, newest first, each a ScriptRun, an interactive Run or a
    PipelineRun, kept by type, tags (given at submit or set since), properties and
    whether they are child runs."""
    from dataferry.catalog.run_annotations import RunAnnotations
    from dataferry.catalog.run_store import RunStore

    catalog = experiment.workspace.catalog
    annotations = RunAnnotations(catalog)
    tagged, owned = _filter(tags), _filter(properties)
    for record in RunStore(catalog).list_runs(experiment=experiment.name, limit=_LIMIT):
        if not include_children and record.options.get("parent_run_id"):
            continue
        if run_type is not None and run_type_of(record.options) != run_type:
            continue
        if tags is not None and not tagged(
            {**record.tags, **annotations.tags_of(record.id)}
        ):
            continue
        if properties is not None and not owned(annotations.properties_of(record.id)):
            continue
        yield run_object(experiment, record.id, run_type_of(record.options))


def run_object(experiment: Experiment, run_id: str, run_type: str) -> Any:
    """The object the SDK re-creates for a run of that type: a ScriptRun, an
    interactive run (``start_logging``) or a PipelineRun."""
    from dataferry.execution.interactive_run import INTERACTIVE_RUN_TYPE, InteractiveRun
    from dataferry.execution.pipeline_run import PipelineRun
    from dataferry.execution.script_run import ScriptRun

    if run_type == SCRIPT_RUN_TYPE:
        return ScriptRun(experiment, run_id)
    if run_type == INTERACTIVE_RUN_TYPE:
        return InteractiveRun(experiment, run_id)
    return PipelineRun(experiment, run_id)


def _filter(wanted: Any) -> Callable[[Mapping[str, Any]], bool]:
    """A test on a run's tags or properties: a key (str), keys (list) or key -> value
    (dict)."""
    if isinstance(wanted, str):
        return lambda have: wanted in have
    if isinstance(wanted, dict):
        return lambda have: all(have.get(k) == v for k, v in wanted.items())
    keys = [] if wanted is None else list(wanted)
    return lambda have: all(key in have for key in keys)


def children_of(
    experiment: Experiment, run_id: str, *, recursive: bool = False
) -> list[Any]:
    """The runs submitted or started as children of ``run_id`` (``submit_child``,
    ``child_run``, ``create_children``), oldest first, as the SDK re-creates them;
    with ``recursive``, each followed by its own children."""
    from dataferry.catalog.run_store import RunStore

    records = RunStore(experiment.workspace.catalog).list_runs(
        experiment=experiment.name, limit=_LIMIT
    )
    by_parent: dict[str, list[Any]] = {}
    for record in reversed(records):
        parent = record.options.get("parent_run_id")
        if parent:
            by_parent.setdefault(parent, []).append(record)

    def walk(parent: str) -> Iterator[Any]:
        for record in by_parent.get(parent, []):
            yield run_object(experiment, record.id, run_type_of(record.options))
            if recursive:
                yield from walk(record.id)

    return list(walk(run_id))
