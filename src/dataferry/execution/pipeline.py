"""``Pipeline``: the graph plus ``submit``, which records the run and starts its driver."""

from __future__ import annotations

import os
import time
from typing import TYPE_CHECKING, Any

from dataferry.errors import (
    EnvironmentDefinitionError,
    PipelineTypeError,
    PipelineValidationError,
)
from dataferry.execution.datastore_check import datastore_problems
from dataferry.pipeline.checks import as_dict, check_bool, check_type, type_error
from dataferry.pipeline.gc_pause import gc_paused
from dataferry.pipeline.graph import PipelineGraph

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.execution.agent_client import AgentLink
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.pipeline_run import PipelineRun
    from dataferry.execution.plan_model import PlanNode
    from dataferry.execution.published import PublishedPipeline
    from dataferry.execution.submission import EarlyRecorder

_SUBMIT_KWARGS = {"enable_email_notification"}
# runs submitted by this process, in order (``dataferry run FILE.py`` watches them)
SUBMITTED: list[PipelineRun] = []


def new_run_id(experiment: str) -> str:
    """``<experiment>_<unix time>_<8 hex>``, as Azure ML names script runs."""
    return f"{experiment}_{int(time.time())}_{os.urandom(4).hex()}"


class Pipeline(PipelineGraph):
    """Steps that pass data to each other; ``submit`` runs them.

    The order comes from the data: a step that reads another's output runs after it, and
    ``step.run_after(other)`` adds an order without data. Steps with no such edge between
    them may run at the same time.
    """

    def submit(
        self,
        experiment_name: str,
        pipeline_parameters: Mapping[str, Any] | None = None,
        continue_on_step_failure: bool = False,
        regenerate_outputs: bool = False,
        parent_run_id: str | None = None,
        credential_passthrough: bool | None = None,
        *,
        delete_intermediate_outputs: bool = False,
        **kwargs: Any,
    ) -> PipelineRun:
        """Run the pipeline under ``experiment_name``; returns at once with the run.

        ``delete_intermediate_outputs=True`` deletes the run's unregistered outputs once it
        has finished successfully (what a kept run reuses is kept).

        Nothing is written (no snapshot, no run record) unless every check passes.

        Raises:
            PipelineTypeError: an argument is of the wrong type, or a keyword argument
                is unknown (a ``TypeError``).
            PipelineValidationError: the graph has problems, or a parameter is unknown
                (every problem is listed).
            EnvironmentDefinitionError: a step's environment pins a Python version
                that is not one, or declares an empty package (every problem listed).
            EnvironmentBuildError: a requirement of a step's environment cannot be
                installed (names it and pip's answer); its packages are otherwise
                installed once into a venv cached in the workspace.
            ParameterTypeError: an override cannot be read as its parameter's type (a
                ``TypeError``), e.g. ``'three'`` for an int parameter; ``'3'`` is 3.
            ParallelRunSizeError: a ParallelRunStep asks for more nodes or processes
                per node than its compute target has (a ``ValueError``).
        """
        unknown = sorted(set(kwargs) - _SUBMIT_KWARGS)
        if unknown:
            raise PipelineTypeError(
                f"submit() got unexpected keyword arguments {unknown}"
            )
        if not isinstance(experiment_name, str):
            raise type_error("submit(): experiment_name", "a str", experiment_name)
        # imported here: building and validating a pipeline loads no catalog code
        from dataferry.execution.experiment import Experiment

        return self._submit(
            Experiment(self.workspace, experiment_name),
            pipeline_parameters=pipeline_parameters,
            continue_on_step_failure=continue_on_step_failure,
            regenerate_outputs=regenerate_outputs,
            parent_run_id=parent_run_id,
            credential_passthrough=credential_passthrough,
            delete_intermediate_outputs=delete_intermediate_outputs,
            **kwargs,
        )

    def _submit(
        self,
        experiment: Experiment,
        *,
        tags: Mapping[str, str] | None = None,
        pipeline_parameters: Mapping[str, Any] | None = None,
        continue_on_step_failure: bool = False,
        regenerate_outputs: bool = False,
        parent_run_id: str | None = None,
        enable_email_notification: bool | None = None,
        credential_passthrough: bool | None = None,
        delete_intermediate_outputs: bool = False,
        run_id: str | None = None,
        run_type: str | None = None,
    ) -> PipelineRun:
        """Record the run and start its driver (``submit`` and ``Experiment.submit``).

        ``run_id`` replaces the generated id; ``run_type`` (stored in the options) marks
        a run that is not a pipeline run, e.g. a script run.
        """
        from dataferry.execution import pipeline_capture
        from dataferry.execution.submission import EarlyRecorder

        pipeline_capture.intercept(self)  # `dataferry graph FILE` draws, never submits
        overrides = as_dict(pipeline_parameters, "submit(): pipeline_parameters")
        for label, flag in (
            ("enable_email_notification", enable_email_notification),
            ("credential_passthrough", credential_passthrough),
        ):  # accepted for the original SDK's sake; neither changes a local run
            check_type(flag, bool, f"submit(): {label}", "True or False")
        options = _options(
            continue_on_step_failure=continue_on_step_failure,
            regenerate_outputs=regenerate_outputs,
            parent_run_id=parent_run_id,
            delete_intermediate_outputs=delete_intermediate_outputs,
        )
        if run_type is not None:
            options["run_type"] = run_type
        # the agent reads the workspace facts while this process checks and compiles
        builds = any(not step.has_default_runconfig for step in self.steps)
        with EarlyRecorder(self.workspace, early=not builds) as early:
            run_id, link = self._record(
                early,
                experiment,
                tags=tags,
                overrides=overrides,
                options=options,
                run_id=run_id,
            )
        from dataferry.execution.pipeline_run import PipelineRun

        if run_type is None:
            print(f"Submitted PipelineRun {run_id}")
        run = PipelineRun(experiment, run_id, _link=link)
        SUBMITTED.append(run)
        return run

    def _record(
        self,
        early: EarlyRecorder,
        experiment: Experiment,
        *,
        tags: Mapping[str, str] | None,
        overrides: dict[str, Any],
        options: dict[str, Any],
        run_id: str | None,
    ) -> tuple[str, AgentLink | None]:
        """Check, compile and record the run (``_submit``); its id and the link to its
        driver, if the recorder gives one."""
        # imported here: building and validating a pipeline loads no catalog code
        from dataferry.execution.parallel_size import check_parallel_sizes
        from dataferry.execution.plan import PlanCompiler
        from dataferry.execution.shared_snapshots import snapshots_published
        from dataferry.execution.submission import RunRequest

        with gc_paused():
            problems = self.validate()
            if not problems:
                refused = self.environment_problems()
                if refused:
                    raise EnvironmentDefinitionError("\n".join(refused))
                # before the conversation with the recorder: a build may take minutes
                _build_environments(self)
            with early.ready() as recorder:
                problems += datastore_problems(self, recorder.facts.datastores)
                if problems:
                    raise PipelineValidationError(problems, "pipeline")
                compiler = PlanCompiler(
                    self, self.workspace, recorder.facts.default_datastore
                )
                parameters = compiler.parameters(overrides)
                check_parallel_sizes(self, recorder.facts.compute_nodes, parameters)
                plan = compiler.compile()
                run_id = run_id or new_run_id(experiment.name)
                # before the run is recorded (another folder may resume or rerun it),
                # held until it is, so a concurrent gc leaves them
                with snapshots_published(
                    self.workspace, {n.snapshot for n in plan.nodes}
                ):
                    link = recorder.record(
                        RunRequest(
                            run_id=run_id,
                            experiment=experiment.name,
                            plan=plan.to_json(),
                            parameters=parameters,
                            options=options,
                            tags=tags,
                            description=self.description,
                            steps=_step_runs(plan.nodes),
                        ),
                        # loaded while the agent records: the run is watched through it
                        while_waiting=_load_run_class,
                    )
        return run_id, link

    def publish(
        self,
        name: str | None = None,
        description: str | None = None,
        version: str | None = None,
        continue_on_step_failure: bool | None = None,
    ) -> PublishedPipeline:
        """Save the pipeline as an Active published pipeline, to submit later from
        Python (``published.submit``) or over REST (a POST to ``published.endpoint``).

        Raises:
            PipelineTypeError: an argument is of the wrong type.
            PipelineValidationError: the graph has problems (every one is listed).
            EnvironmentDefinitionError, EnvironmentBuildError: as ``submit``.
            StorageError: a shared workspace's default datastore refused its code
                snapshots (they are stored there, so another folder can submit it).
        """
        from dataferry.execution.published import publish

        return publish(self, name, description, version, continue_on_step_failure)

    def _compile_for_publish(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """The plan JSON and serialised parameter defaults, after submit's checks."""
        from dataferry.execution.plan import PlanCompiler
        from dataferry.execution.submission import read_facts

        with gc_paused():
            problems = self.validate()
            if not problems:
                refused = self.environment_problems()
                if refused:
                    raise EnvironmentDefinitionError("\n".join(refused))
                _build_environments(self)
            facts = read_facts(self.workspace)
            problems += datastore_problems(self, facts.datastores)
            if problems:
                raise PipelineValidationError(problems, "pipeline")
            compiler = PlanCompiler(self, self.workspace, facts.default_datastore)
            return compiler.compile().to_json(), compiler.parameters(None)


def _load_run_class() -> None:
    """Import ``PipelineRun`` and the modules it needs (``submit`` returns one)."""
    import dataferry.execution.pipeline_run  # noqa: F401


def _build_environments(graph: PipelineGraph) -> None:
    """Build (or find cached) the environments that install packages, now: a
    requirement that cannot be satisfied fails the submit before anything is recorded
    or any step runs. Steps with the default run configuration install nothing.

    Raises:
        EnvironmentBuildError: a requirement cannot be satisfied.
    """
    custom = [step for step in graph.steps if not step.has_default_runconfig]
    if not custom:
        return
    from dataferry.execution.environments import build_all, spec_of

    build_all(
        (spec_of(step) for step in custom),
        graph.workspace.path,
        report=lambda text: print(text, flush=True),
    )


def _step_runs(nodes: Sequence[PlanNode]) -> list[tuple[str, str, str]]:
    """``(step run id, node id, step name)`` per node; an id is the node id and 8 hex.

    One random block for all of them: a ``uuid4`` per step was a tenth of the time
    a 10,000-step submit spent outside the catalog.
    """
    tokens = os.urandom(4 * len(nodes)).hex()
    return [
        (f"{node.node_id}_{tokens[8 * i : 8 * i + 8]}", node.node_id, node.name)
        for i, node in enumerate(nodes)
    ]


def _options(
    *,
    continue_on_step_failure: Any,
    regenerate_outputs: Any,
    parent_run_id: Any,
    delete_intermediate_outputs: Any,
) -> dict[str, Any]:
    """The run's options, each checked: a flag must be a bool (``'no'`` is not False).

    Raises:
        PipelineTypeError: an option is of the wrong type.
    """
    check_type(parent_run_id, str, "submit(): parent_run_id", "a str")
    return {
        "continue_on_step_failure": check_bool(
            continue_on_step_failure, "submit(): continue_on_step_failure"
        ),
        "regenerate_outputs": check_bool(
            regenerate_outputs, "submit(): regenerate_outputs"
        ),
        "parent_run_id": parent_run_id,
        "delete_intermediate_outputs": check_bool(
            delete_intermediate_outputs, "submit(): delete_intermediate_outputs"
        ),
    }
