"""The process that drives one pipeline run: schedules steps, binds data, commits outputs.

Started detached by ``Pipeline.submit`` (``python -m dataferry.execution.driver WS RUN``),
so a run goes on when the submitting script ends, and any process can watch it through
the catalog. It beats a heartbeat into the run's row while it lives.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dataferry.catalog import now
from dataferry.catalog.run_store import OutputRecord, RunStore, StepRunRecord
from dataferry.catalog.status import RunStatus, StepStatus
from dataferry.catalog.step_commit import StepCommit
from dataferry.data.workspace import Workspace
from dataferry.errors import DataferryError, InputChangedError
from dataferry.execution.commit import (
    StagedOutput,
    commit_outputs,
    discard_output,
    stage_output,
    undo_commits,
)
from dataferry.execution.executors import (
    Executor,
    LocalExecutor,
    PreparedStep,
    StepHandle,
)
from dataferry.execution.input_guard import check_inputs
from dataferry.execution.materialise import (
    BoundInput,
    InputContext,
    bind_input,
    release_inputs,
)
from dataferry.execution.places import failures_at, input_places, output_place
from dataferry.execution.plan_inputs import UpstreamOutputInput
from dataferry.execution.plan_model import PlanNode, plan_of
from dataferry.execution.plan_values import (
    ArgumentItem,
    InputArg,
    LiteralArg,
    OutputArg,
    ParamArg,
    ParamRef,
)
from dataferry.execution.port_identity import reused_names, reused_output_names
from dataferry.execution.registration import plan_registrations
from dataferry.execution.reuse import ReuseAdvisor, output_identity
from dataferry.execution.run_layout import (
    context_file,
    driver_log,
    stderr_path,
    stdout_path,
    step_dir,
    work_dir,
)
from dataferry.storage.integrity import remove_tree

log = logging.getLogger("dataferry.driver")

POLL_S = 0.005
CANCEL_CHECK_S = 0.2
HEARTBEAT_S = 2.0
_KNOWN_LOCAL_TARGETS = {None, "", "local"}


@dataclass
class StepState:
    """One node while the run is going."""

    node: PlanNode
    record: StepRunRecord
    status: StepStatus = StepStatus.NOT_STARTED
    handle: StepHandle | None = None
    staged: list[StagedOutput] = field(default_factory=list)
    inputs: list[BoundInput] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    fingerprint: str | None = None
    fingerprint_details: dict[str, Any] = field(default_factory=dict)

    @property
    def node_id(self) -> str:
        return self.node.node_id


class Driver:
    """Runs the plan of one pipeline run to its end."""

    def __init__(
        self, workspace: Workspace, run_id: str, executor: Executor | None = None
    ) -> None:
        self.ws = workspace
        self.run_id = run_id
        self.store = RunStore(workspace.catalog)
        self.run = self.store.get_run(run_id)
        self.plan = plan_of(self.run)
        self.executor: Executor = executor or LocalExecutor()
        self.continue_on_failure = bool(
            self.run.options.get("continue_on_step_failure")
        )
        self.max_concurrency = int(
            workspace.catalog.get_setting("max_concurrency", 0) or os.cpu_count() or 1
        )
        self.states = self._states()
        self.advisor = ReuseAdvisor(workspace, self.store, dict(self.run.parameters))
        self.advisor.use_plan(self.plan.nodes)
        self.advisor.rerun_from = self.run.options.get("rerun_from")
        self.rerun_nodes = set(self.run.options.get("rerun_nodes") or [])
        self._stop = threading.Event()
        self.cancelled = False
        self._outputs: dict[
            str, list[OutputRecord]
        ] = {}  # step run id -> its committed outputs

    def _states(self) -> dict[str, StepState]:
        records = {r.node_id: r for r in self.store.step_runs(self.run_id)}
        states = {}
        for node in self.plan.nodes:
            record = records[node.node_id]
            state = StepState(
                node,
                record,
                status=StepStatus(record.status),
                fingerprint=record.fingerprint,
            )
            states[state.node_id] = state
        return states

    # -- the loop ---------------------------------------------------------------------

    def drive(self) -> RunStatus:
        """Run every step that can run; return the run's final status."""
        values: dict[str, Any] = {
            "started_at": self.run.started_at or now(),
            "heartbeat_at": now(),
            "driver_host": socket.gethostname(),
            "driver_pid": os.getpid(),
        }
        # a cancel asked for before this process started must not be overwritten (the
        # loop's first check acts on it), and a resumed run is Running already
        if not self.store.move_run(
            self.run_id, RunStatus.RUNNING, strict=False, **values
        ):
            self.store.update_run(self.run_id, **values)
        log.info(
            "run %s: %d steps, at most %d at once",
            self.run_id,
            len(self.states),
            self.max_concurrency,
        )
        beat = threading.Thread(target=self._heartbeat, daemon=True)
        beat.start()
        try:
            self._loop()
        except Exception as exc:
            # no step row may stay Running or NotStarted once its driver is gone
            self._cancel_all(
                f"stopped: the driver failed ({type(exc).__name__}: {exc})"
            )
            raise
        finally:
            self._stop.set()
        final = self._final_status()
        if final == RunStatus.FINISHED and self.run.options.get(
            "delete_intermediate_outputs"
        ):
            self._delete_intermediate_outputs()  # before the end is visible
        self.store.move_run(self.run_id, final, ended_at=now(), heartbeat_at=now())
        log.info("run %s: %s", self.run_id, final)
        return final

    def _delete_intermediate_outputs(self) -> None:
        from dataferry.execution.lifecycle import delete_run_outputs

        try:
            deleted = delete_run_outputs(self.ws, self.run_id, ending=True)
        except (DataferryError, OSError):  # the run succeeded all the same
            log.exception("run %s: deleting intermediate outputs failed", self.run_id)
            return
        log.info("run %s: deleted %d intermediate outputs", self.run_id, len(deleted))

    def _loop(self) -> None:
        next_check = 0.0
        while True:
            if time.monotonic() >= next_check:
                next_check = time.monotonic() + CANCEL_CHECK_S
                if self.store.run_status(self.run_id) == RunStatus.CANCEL_REQUESTED:
                    self._cancel_all("the run was cancelled")
                    self.cancelled = True
                    return
            running = [
                s for s in self.states.values() if s.status == StepStatus.RUNNING
            ]
            for state in running:
                assert state.handle is not None
                code = self.executor.poll(state.handle)
                if code is not None:
                    self._finish(state, code)
            self._start_ready()
            if all(s.status.is_terminal for s in self.states.values()):
                return
            time.sleep(POLL_S)

    def _start_ready(self) -> None:
        running = sum(1 for s in self.states.values() if s.status == StepStatus.RUNNING)
        for state in self.states.values():
            if running >= self.max_concurrency:
                return
            if state.status != StepStatus.NOT_STARTED:
                continue
            ups = [self.states[u] for u in state.node.upstream]
            ended = (StepStatus.FAILED, StepStatus.CANCELED)
            if any(u.status in ended for u in ups):
                failed = next(u for u in ups if u.status in ended)
                self._skip(
                    state,
                    f"not run: upstream step '{failed.node.name}' did not finish",
                )
                continue
            if all(u.status == StepStatus.FINISHED for u in ups) and self._start(state):
                running += 1

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.store.update_run(self.run_id, heartbeat_at=now())
            except (
                Exception
            ):  # a busy catalog must not kill the run; the next beat retries
                log.exception("heartbeat failed")

    # -- one step ---------------------------------------------------------------------

    def _start(self, state: StepState) -> bool:
        """Reuse the step, or start it; True if a process was started.

        Any error on the way fails this step alone (and, unless the run continues on
        failure, cancels the rest): the driver itself goes on to end the run.
        """
        try:
            if self._reuse(state):
                return False
            prepared = self._prepare(state)
            self.executor.prepare(prepared)
            state.handle = self.executor.start(
                prepared, before_run=lambda handle: self._record_start(state, handle)
            )
        except Exception as exc:
            self._fail_before_start(state, exc)
            return False
        state.status = StepStatus.RUNNING
        log.info(
            "step %s (%s) started, pid %s",
            state.node.name,
            state.record.id,
            self.executor.pid(state.handle),
        )
        return True

    def _record_start(self, state: StepState, handle: StepHandle) -> None:
        """Record the step as Running with its pid and what it reads, before its
        process may run."""
        inputs = [
            {"role": "input", "name": b.name, "mode": b.mode, "value": b.value}
            | {k: b.lineage.get(k) for k in ("dataset_id", "datastore", "path")}
            for b in state.inputs
        ]
        self.store.move_step(
            state.record.id,
            StepStatus.RUNNING,
            inputs=inputs,
            started_at=now(),
            log_dir=str(self._step_dir(state)),
            details=self._details(
                state, pid=self.executor.pid(handle), host=socket.gethostname()
            ),
        )

    def _reuse(self, state: StepState) -> bool:
        """Fingerprint the step; if an earlier step run matches, take its outputs."""
        upstream = {
            n: output_identity(s.fingerprint, s.record)
            for n, s in self.states.items()
            if s.fingerprint and s.status == StepStatus.FINISHED
        }
        with failures_at(
            f"step '{state.node.name}': its inputs could not be read to fingerprint them",
            self._read_places(state),
        ):
            fp = self.advisor.fingerprint(state.node, upstream)
            decision = self.advisor.decide(
                state.node,
                fp,
                regenerate=bool(self.run.options.get("regenerate_outputs")),
                forced=state.node_id in self.rerun_nodes,
            )
        state.fingerprint = fp.digest
        state.fingerprint_details = fp.to_details()
        log.info("step %s: %s", state.node.name, decision.explanation)
        event = {"reuse": decision.reuse, "explanation": decision.explanation}
        if not decision.reuse:
            self.store.update_step_run(
                state.record.id,
                event=event,
                fingerprint=fp.digest,
                explanation=decision.explanation,
            )
            return False
        source = decision.reused_from
        assert source is not None
        stamp = now()
        self.store.move_step(
            state.record.id,
            StepStatus.FINISHED,
            reuse={**event, "reused_from": source.reused_from or source.id},
            fingerprint=fp.digest,
            reused_from=source.reused_from or source.id,
            explanation=decision.explanation,
            started_at=stamp,
            ended_at=stamp,
            details=self._details(
                state,
                reused_run_id=source.run_id,
                # this run may have generated other names for the same outputs
                reused_output_names=reused_output_names(state.node, source),
            ),
        )
        state.record = self.store.get_step_run(state.record.id)
        state.status = StepStatus.FINISHED
        return True

    def _read_places(self, state: StepState) -> list[str]:
        """Where fingerprinting reads: the data inputs (an upstream output counts by its
        producer's fingerprint, and is not read)."""
        return [
            f"input '{spec.name}': {place}"
            for spec in state.node.inputs
            if not isinstance(spec, UpstreamOutputInput)
            for place in input_places(spec, self.run.parameters, {})
        ]

    def _step_dir(self, state: StepState) -> Path:
        return step_dir(self.ws, self.run_id, state.record.id)

    def _prepare(self, state: StepState) -> PreparedStep:
        node = state.node
        folder = self._step_dir(state)
        cwd = work_dir(folder)
        remove_tree(str(cwd))  # an earlier attempt's, read-only views and all
        shutil.copytree(node.snapshot, cwd, symlinks=True)
        (cwd / "outputs").mkdir(exist_ok=True)
        (cwd / "logs").mkdir(exist_ok=True)
        self._note_compute(state)
        ctx = InputContext(
            self.ws,
            folder,
            cwd,
            dict(self.run.parameters),
            self._committed(),
            state.notes,
            self.store,
        )
        self._bind_inputs(state, ctx)
        for spec in node.outputs:
            with failures_at(
                f"step '{node.name}': output '{spec.name}' could not be prepared",
                [output_place(spec, state.record.id)],
            ):
                state.staged.append(
                    stage_output(
                        self.ws,
                        self.store,
                        spec,
                        run_id=self.run_id,
                        step_run_id=state.record.id,
                        step_dir=folder,
                        work_dir=cwd,
                    )
                )
        argv = self._argv(state, cwd)
        env = self._env(state, folder)
        context_file(folder).write_text(json.dumps(self._context(state), indent=2))
        timeout = node.max_duration_s(self.run.parameters)
        return PreparedStep(
            step_run_id=state.record.id,
            name=node.name,
            argv=argv,
            cwd=str(cwd),
            env=env,
            stdout_path=str(stdout_path(folder)),
            stderr_path=str(stderr_path(folder)),
            timeout_s=float(timeout) if timeout else None,
        )

    def _bind_inputs(self, state: StepState, ctx: InputContext) -> None:
        """Bind every input, or none (what was made is removed); the notes binding
        made go to the top of the step's log."""
        state.inputs = []
        try:
            for spec in state.node.inputs:
                with failures_at(
                    f"step '{state.node.name}': input '{spec.name}' could not be prepared",
                    input_places(spec, self.run.parameters, ctx.committed),
                ):
                    state.inputs.append(bind_input(ctx, spec))
        except BaseException:
            release_inputs(state.inputs)
            raise
        if state.notes:
            with open(ctx.step_dir / "stdout.txt", "a", encoding="utf-8") as fh:
                fh.writelines(f"dataferry: {note}\n" for note in state.notes)

    def _note_compute(self, state: StepState) -> None:
        target = state.node.compute_target
        if target in _KNOWN_LOCAL_TARGETS:
            return
        configured = self.ws.catalog.get_setting("compute_targets", {}) or {}
        if target not in configured:
            note = f"compute target '{target}' is not configured in this workspace: step runs on the local executor"
            state.notes.append(note)
            log.info("step %s: %s", state.node.name, note)

    def _committed(self) -> dict[tuple[str, str], Any]:
        """The committed outputs of the finished steps, by (node, output name in this run)."""
        committed = {}
        for state in self.states.values():
            if state.status == StepStatus.FINISHED:
                source = state.record.reused_from or state.record.id
                if (
                    source not in self._outputs
                ):  # read once: committed outputs never change
                    self._outputs[source] = self.store.outputs_of(source)
                renamed = reused_names(state.record)
                for rec in self._outputs[source]:
                    committed[(state.node_id, renamed.get(rec.name, rec.name))] = rec
        return committed

    def _value(self, ref: ArgumentItem, state: StepState) -> str:
        if isinstance(ref, LiteralArg):
            return ref.text
        if isinstance(ref, InputArg):
            return next(i.value for i in state.inputs if i.name == ref.name)
        if isinstance(ref, OutputArg):
            return str(next(o.write_dir for o in state.staged if o.name == ref.name))
        if isinstance(ref, ParamArg):
            value = ParamRef(ref.name).resolve(self.run.parameters)
            return (
                value
                if isinstance(value, str)
                else json.dumps(value)
                if isinstance(value, dict)
                else str(value)
            )
        return str(state.node.step_param(ref.name, self.run.parameters))

    def _argv(self, state: StepState, work_dir: Path) -> list[str]:
        """The step's command line, as its kind builds it from the resolved arguments."""
        node = state.node
        args = [self._value(a, state) for a in node.arguments]
        interpreter = node.environment.resolve_interpreter()
        return node.kind.argv(args, work_dir=work_dir, interpreter=interpreter)

    def _env(self, state: StepState, folder: Path) -> dict[str, str]:
        node = state.node
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("AZUREML_", "AML_PARAMETER_"))
        }
        env.update({k: str(v) for k, v in node.environment.variables.items()})
        env.update(
            PYTHONUNBUFFERED="1",
            DATAFERRY_RUN_CONTEXT=str(context_file(folder)),
            AZUREML_RUN_ID=state.record.id,
            AZUREML_ARM_PROJECT_NAME=self.run.experiment,
            AZUREML_ARM_WORKSPACE_NAME=self.ws.name,
            AZUREML_OUTPUT_DIRECTORY="./outputs",
        )
        if self.ws.subscription_id:
            env["AZUREML_ARM_SUBSCRIPTION"] = self.ws.subscription_id
        if self.ws.resource_group:
            env["AZUREML_ARM_RESOURCEGROUP"] = self.ws.resource_group
        dataset_inputs = []
        for bound in state.inputs:
            env[f"AZUREML_DATAREFERENCE_{bound.name}"] = bound.value
            if bound.style == "dataset":
                env[bound.name] = bound.value
                dataset_inputs.append(f"{bound.name}:{bound.mode}")
        env["AZUREML_DATASET_ENVIRONMENT_VARS"] = ",".join(dataset_inputs)
        file_outputs = []
        for staged in state.staged:
            env[f"AZUREML_DATAREFERENCE_{staged.name}"] = str(staged.write_dir)
            if staged.spec.type == "dataset_output":
                env[staged.name] = str(staged.write_dir)
                file_outputs.append(staged.name)
        env["AZUREML_DATASET_FILE_OUTPUTS"] = ";".join(file_outputs)
        for key in node.params:
            env["AML_PARAMETER_" + key] = str(node.step_param(key, self.run.parameters))
        for (
            arg
        ) in node.arguments:  # in Azure ML an argument parameter is $AML_PARAMETER_x
            if isinstance(arg, ParamArg):
                env["AML_PARAMETER_" + re.sub(r"[~\W]", "_", arg.name)] = self._value(
                    arg, state
                )
        return env

    def _context(self, state: StepState) -> dict[str, Any]:
        """What ``Run.get_context()`` reads inside the step."""
        return {
            "workspace": str(self.ws.path),
            "run_id": state.record.id,
            "parent_run_id": self.run_id,
            "experiment": self.run.experiment,
            "step_name": state.node.name,
            "inputs": {
                b.name: {"mode": b.mode, "value": b.value, "style": b.style}
                for b in state.inputs
            },
            "outputs": {
                o.name: {"path": str(o.write_dir), "type": o.spec.type}
                for o in state.staged
            },
        }

    def _details(self, state: StepState, **extra: Any) -> dict[str, Any]:
        """What only the step run's row holds; its inputs, outputs and registrations
        are in their tables."""
        return {
            "notes": list(state.notes),
            "compute_target": state.node.compute_target or "local",
            "executor": self.executor.name,
            "fingerprint": state.fingerprint_details,
            **extra,
        }

    def _finish(self, state: StepState, code: int) -> None:
        if self._fail_on_changed_inputs(state, code):
            return
        if code == 0:
            try:
                self._commit(state)
            except Exception as exc:
                self._discard(state)
                self._fail(state, code, f"committing outputs failed: {exc}", exc)
                return
            state.status = StepStatus.FINISHED
            log.info("step %s: Finished", state.node.name)
            return
        self._discard(state)
        reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        tail = _tail(stderr_path(self._step_dir(state)))
        self._fail(
            state,
            code,
            f"step '{state.node.name}' failed ({reason})"
            + (f":\n{tail}" if tail else ""),
        )

    def _commit(self, state: StepState) -> None:
        """Commit the step's outputs, then record them, their lineage, what they
        register and the step's end as Finished, in one catalog transaction.

        Raises:
            StorageError: the outputs could not be written (names datastore and path).
            Exception: recording failed; nothing was recorded, and the moved outputs
                are taken back out.
        """
        places = [output_place(o.spec, state.record.id) for o in state.staged]
        with failures_at(f"step '{state.node.name}'", places):
            committed = commit_outputs(state.staged)
            try:  # what will be registered is checked before anything is recorded
                planned = plan_registrations(self.ws, state.node, committed)
            except Exception:
                undo_commits(state.staged)
                raise
        lineage = [
            {"role": "output"} | {k: c[k] for k in ("name", "datastore", "path")}
            for c in committed
        ]
        commit = StepCommit(
            state.record.id,
            self.run_id,
            exit_code=0,
            outputs=committed,
            lineage=lineage,
            registrations=planned,
            values={"details": self._details(state)},
        )
        try:
            self.store.commit_step(commit)
        except BaseException:
            undo_commits(state.staged)
            raise

    def _fail(
        self, state: StepState, code: int, error: str, exc: Exception | None = None
    ) -> None:
        """End a step that ran as Failed; the rest is cancelled unless the run goes on."""
        typed = {"error_type": type(exc).__name__} if exc is not None else {}
        self._end(state, StepStatus.FAILED, code, error=error, **typed)
        if not self.continue_on_failure:
            self._cancel_all(f"not run: step '{state.node.name}' failed")

    def _fail_on_changed_inputs(self, state: StepState, code: int | None) -> bool:
        """Fail the step if any of its read-only inputs changed while it ran (marking a
        changed committed output damaged); True if it was failed."""
        error = self._check_inputs(state)
        if error is None:
            return False
        self._discard(state)
        message = str(error)
        if code:
            message += f"\nThe step also failed (exit code {code})."
        self._end(
            state,
            StepStatus.FAILED,
            code,
            error=message,
            error_type=type(error).__name__,
        )
        if not self.continue_on_failure:
            self._cancel_all(f"not run: step '{state.node.name}' failed")
        return True

    def _check_inputs(self, state: StepState) -> InputChangedError | None:
        """Check a step's inputs after it ended, then remove the places made for them."""
        guards = [b.guard for b in state.inputs if b.guard is not None]
        error = check_inputs(state.node.name, state.record.id, guards, self.store)
        release_inputs(state.inputs)
        return error

    def _end(
        self, state: StepState, status: StepStatus, code: int | None, **extra: Any
    ) -> None:
        state.status = status
        self.store.move_step(
            state.record.id,
            status,
            ended_at=now(),
            exit_code=code,
            details=self._details(state, **extra),
        )
        log.info(
            "step %s: %s%s",
            state.node.name,
            status,
            f" ({extra['error'].splitlines()[0]})" if extra.get("error") else "",
        )

    def _fail_before_start(self, state: StepState, exc: Exception) -> None:
        """End a step that could not start as Failed; what it had staged is discarded."""
        if isinstance(exc, DataferryError):
            message = str(exc)
        elif isinstance(exc, OSError):
            message = f"could not start: {exc}"
        else:
            message = f"could not start: {type(exc).__name__}: {exc}"
        release_inputs(state.inputs)
        self._discard(state)
        state.status = StepStatus.FAILED
        self.store.move_step(
            state.record.id,
            StepStatus.FAILED,
            started_at=now(),
            ended_at=now(),
            details=self._details(state, error=message, error_type=type(exc).__name__),
        )
        log.info("step %s: Failed before start: %s", state.node.name, message)
        if not self.continue_on_failure:
            self._cancel_all(f"not run: step '{state.node.name}' failed")

    def _skip(self, state: StepState, reason: str) -> None:
        state.status = StepStatus.CANCELED
        self.store.move_step(
            state.record.id,
            StepStatus.CANCELED,
            ended_at=now(),
            details=self._details(state, error=reason),
        )

    def _discard(self, state: StepState) -> None:
        for staged in state.staged:
            discard_output(staged)
        self.store.release_leases(state.record.id)

    def _cancel_all(self, reason: str) -> None:
        for state in self.states.values():
            if state.status == StepStatus.RUNNING and state.handle is not None:
                self.executor.cancel(state.handle)
                self._discard(state)
                changed = self._check_inputs(state)
                error = reason if changed is None else f"{reason}\n{changed}"
                self._end(state, StepStatus.CANCELED, None, error=error)
            elif state.status in (StepStatus.NOT_STARTED, StepStatus.PREPARING):
                self._skip(state, reason)

    def _final_status(self) -> RunStatus:
        if self.cancelled:
            return RunStatus.CANCELED
        if all(s.status == StepStatus.FINISHED for s in self.states.values()):
            return RunStatus.FINISHED
        return RunStatus.FAILED


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    """``python -m dataferry.execution.driver WORKSPACE_DIR RUN_ID``."""
    args = sys.argv[1:] if argv is None else argv
    workspace = Workspace(path=Path(args[0]))
    run_id = args[1]
    log_file = driver_log(workspace, run_id)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("dataferry").addHandler(handler)
    logging.getLogger("dataferry").setLevel(logging.INFO)
    try:
        final = Driver(workspace, run_id).drive()
    except Exception as exc:
        log.exception("driver failed")
        RunStore(workspace.catalog).move_run(
            run_id,
            RunStatus.FAILED,
            strict=False,  # the run may have ended before the driver failed
            ended_at=now(),
            error=f"driver failed: {exc}",
        )
        return 1
    return 0 if final == RunStatus.FINISHED else 1


if __name__ == "__main__":
    raise SystemExit(main())
