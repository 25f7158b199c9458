"""``Pipeline``: the graph plus ``submit``, which records the run and starts its driver."""

from __future__ import annotations

import os
import socket
import sys
import time
import uuid
from typing import TYPE_CHECKING, Any

from dataferry.errors import (
    EnvironmentDefinitionError,
    PipelineTypeError,
    PipelineValidationError,
)
from dataferry.execution import run_layout
from dataferry.execution.datastore_check import datastore_problems
from dataferry.pipeline.checks import as_dict, check_bool, check_type, type_error
from dataferry.pipeline.gc_pause import gc_paused
from dataferry.pipeline.graph import PipelineGraph

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from dataferry.catalog.run_store import RunStore
    from dataferry.execution.experiment import Experiment
    from dataferry.execution.pipeline_run import PipelineRun
    from dataferry.execution.plan_model import PlanNode

_SUBMIT_KWARGS = {"enable_email_notification"}
# pids of drivers started by this process, reaped when the next one starts
_DRIVERS: list[int] = []
# runs submitted by this process, in order (``dataferry run FILE.py`` watches them)
SUBMITTED: list[PipelineRun] = []


def new_run_id(experiment: str) -> str:
    """``<experiment>_<unix time>_<8 hex>``, as Azure ML names script runs."""
    return f"{experiment}_{int(time.time())}_{uuid.uuid4().hex[:8]}"


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
    ) -> PipelineRun:
        # imported here: building and validating a pipeline loads no catalog code
        from dataferry.catalog.run_store import RunStore
        from dataferry.execution.environments import build_all, spec_of
        from dataferry.execution.pipeline_run import PipelineRun
        from dataferry.execution.plan import PlanCompiler

        overrides = as_dict(pipeline_parameters, "submit(): pipeline_parameters")
        options = _options(
            continue_on_step_failure=continue_on_step_failure,
            regenerate_outputs=regenerate_outputs,
            parent_run_id=parent_run_id,
            delete_intermediate_outputs=delete_intermediate_outputs,
        )
        for label, flag in (
            ("enable_email_notification", enable_email_notification),
            ("credential_passthrough", credential_passthrough),
        ):  # accepted for the original SDK's sake; neither changes a local run
            check_type(flag, bool, f"submit(): {label}", "True or False")
        with gc_paused():
            problems = self.validate()
            problems += datastore_problems(self, self.workspace.catalog)
            if problems:
                raise PipelineValidationError(problems, "pipeline")
            refused = self.environment_problems()
            if refused:
                raise EnvironmentDefinitionError("\n".join(refused))
            # environments that install packages are built (or found cached) now: a
            # requirement that cannot be satisfied fails here, before any step runs
            build_all(
                (spec_of(step) for step in self.steps),
                self.workspace.path,
                report=lambda text: print(text, flush=True),
            )
            compiler = PlanCompiler(self, self.workspace)
            parameters = compiler.parameters(overrides)
            plan = compiler.compile()
            run_id = new_run_id(experiment.name)
            store = RunStore(self.workspace.catalog)
            store.create_run(
                run_id,
                experiment.name,
                plan.to_json(),
                parameters=parameters,
                options=options,
                tags=tags,
                description=self.description,
                steps=_step_runs(plan.nodes),
                driver_host=socket.gethostname(),
            )
        pid = start_driver(self.workspace.path, run_id)
        record_driver(store, self.workspace.path, run_id, pid)
        print(f"Submitted PipelineRun {run_id}")
        run = PipelineRun(experiment, run_id)
        SUBMITTED.append(run)
        return run


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


def start_driver(workspace_dir: os.PathLike[str] | str, run_id: str) -> int:
    """Start the detached process that drives a run; return its pid.

    Forked from this process where that is safe (``driver_start``): it starts in about a
    millisecond, records itself in the run's ``driver.pid`` before this returns, and its
    first write to the run's row names it. Otherwise spawned as ``python -m
    dataferry.execution.driver WS RUN`` (``posix_spawn``, a new session); the caller
    records that pid (``record_driver``), so that a driver that dies before it has
    written anything is recognised as gone at once. Either way it outlives the
    submitting script; finished spawned drivers are reaped here.

    Raises:
        OSError: the system could start no process.
    """
    from dataferry.execution import driver_start

    _reap_drivers()
    folder = os.fspath(workspace_dir)
    out = run_layout.driver_out(folder, run_id)
    out.parent.mkdir(parents=True, exist_ok=True)
    if driver_start.can_fork():
        pid = driver_start.fork_driver(folder, run_id)
        if pid is not None:
            return pid
    pid = os.posix_spawn(
        sys.executable,
        [sys.executable, "-m", "dataferry.execution.driver", folder, run_id],
        dict(os.environ),
        file_actions=[
            (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0),
            (
                os.POSIX_SPAWN_OPEN,
                1,
                os.fspath(out),
                os.O_WRONLY | os.O_CREAT | os.O_APPEND,
                0o644,
            ),
            (os.POSIX_SPAWN_DUP2, 1, 2),
        ],
        setsid=True,
        # as a fresh interpreter: a signal the submitter ignored (SIGCHLD, say, which
        # would hide its steps' exit codes) or blocked stays so over exec
        setsigdef=driver_start.DEFAULT_ON_EXEC,
        setsigmask=(),
    )
    _DRIVERS.append(pid)
    return pid


def record_driver(
    store: RunStore, workspace_dir: os.PathLike[str] | str, run_id: str, pid: int
) -> None:
    """Put ``pid`` on the run's row unless the driver has recorded itself already (a
    forked one has, in ``driver.pid``): one transaction fewer on the common path."""
    from dataferry.execution.processes import marked_driver

    if marked_driver(run_layout.run_dir(workspace_dir, run_id)) != pid:
        store.update_run(run_id, driver_pid=pid)


def _reap_drivers() -> None:
    """Collect the exit status of drivers that ended, so none lingers as a zombie."""
    for pid in list(_DRIVERS):
        try:
            done, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            done = pid
        if done:
            _DRIVERS.remove(pid)
