"""Listing an experiment's runs as the SDK re-creates them (``Experiment.get_runs``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.execution.script_submit import SCRIPT_RUN_TYPE

if TYPE_CHECKING:
    from collections.abc import Iterator, Mapping

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
    include_children: bool,
) -> Iterator[Any]:
    """The experiment's runs, newest first, each a ScriptRun, an interactive Run or a
    PipelineRun, kept by type, tags and whether they are child runs."""
    from dataferry.catalog.run_store import RunStore

    wanted = _tag_filter(tags)
    for record in RunStore(experiment.workspace.catalog).list_runs(
        experiment=experiment.name, limit=_LIMIT
    ):
        if not include_children and record.options.get("parent_run_id"):
            continue
        if run_type is not None and run_type_of(record.options) != run_type:
            continue
        if not wanted(record):
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


def _tag_filter(tags: Any) -> Any:
    """A test on a run record: a tag key (str), keys (list) or key -> value (dict)."""
    if tags is None:
        return lambda record: True
    if isinstance(tags, str):
        return lambda record: tags in record.tags
    if isinstance(tags, dict):
        return lambda record: all(
            record.tags.get(key) == value for key, value in tags.items()
        )
    keys = list(tags)
    return lambda record: all(key in record.tags for key in keys)


def children_of(experiment: Experiment, run_id: str) -> list[Any]:
    """The runs submitted or started as children of ``run_id`` (``submit_child``,
    ``child_run``), oldest first, as the SDK re-creates them."""
    from dataferry.catalog.run_store import RunStore

    records = RunStore(experiment.workspace.catalog).list_runs(
        experiment=experiment.name, limit=_LIMIT
    )
    return [
        run_object(experiment, r.id, run_type_of(r.options))
        for r in reversed(records)
        if r.options.get("parent_run_id") == run_id
    ]
