"""The process that drives one pipeline run: schedules steps, starts them, commits them.

Started detached by ``Pipeline.submit``: forked from the submitting process, or
spawned as ``python -m dataferry.execution.driver WS RUN`` (``driver_start``), so a run
goes on when the submitting script ends, and any process can watch it through
the catalog. It beats a heartbeat into the run's row while it lives.

What runs next is the scheduler's to say (``scheduler``). Preparing a step (reuse
decision, inputs, staged outputs) runs in worker threads (``preparation``), so the loop
never waits on a hash or a download: it polls processes, honours a cancel, and sleeps
until a process ends, a preparation has news, or its short timeout passes (``wakeup``).
"""

from __future__ import annotations

import logging
import os
import queue
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.catalog import now
from dataferry.catalog.run_store import OutputRecord, RunStore, StepRunRecord
from dataferry.catalog.status import EventKind, RunStatus, StepStatus
from dataferry.catalog.step_commit import StepCommit
from dataferry.data.workspace import Workspace
from dataferry.errors import DataferryError, InputChangedError
from dataferry.execution.commit import (
    StagedOutput,
    commit_outputs,
    discard_output,
    undo_commits,
)
from dataferry.execution.executors import Executor, LocalExecutor, StepHandle
from dataferry.execution.input_guard import check_inputs
from dataferry.execution.materialise import BoundInput, release_inputs
from dataferry.execution.places import failures_at, output_place
from dataferry.execution.plan_model import PlanNode, plan_of
from dataferry.execution.port_identity import reused_output_names
from dataferry.execution.preparation import Preparation, StepJob
from dataferry.execution.processes import NUDGE_SIGNAL, mark_driver
from dataferry.execution.registration import plan_registrations
from dataferry.execution.reuse import ReuseAdvisor, output_identity
from dataferry.execution.run_layout import driver_log, run_dir, stderr_path, step_dir
from dataferry.execution.scheduler import Change, Phase, Scheduler
from dataferry.execution.stage_board import StageBoard
from dataferry.execution.wakeup import Wakeup

if TYPE_CHECKING:
    from types import FrameType

log = logging.getLogger("dataferry.driver")

# the loop sleeps at most this long: how soon a cancel asked for in the catalog is seen
# when no nudge comes with it (a nudge, sent by a canceller on this host, wakes it now)
CANCEL_CHECK_S = 1.0
HEARTBEAT_S = 2.0
# a preparation's stage is shown once it has lasted this long (see stage_board)
STAGE_SHOWN_AFTER_S = 0.1
_INITIAL_PHASES = {
    StepStatus.FINISHED: Phase.FINISHED,
    StepStatus.FAILED: Phase.FAILED,
    StepStatus.CANCELED: Phase.CANCELLED,
}


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
    explanation: str | None = None
    stop_reason: str = ""

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
        self.scheduler = Scheduler(
            {n.node_id: n.upstream for n in self.plan.nodes},
            continue_on_failure=self.continue_on_failure,
            max_active=self.max_concurrency,
            phases={
                n: _INITIAL_PHASES[s.status]
                for n, s in self.states.items()
                if s.status in _INITIAL_PHASES
            },
        )
        self.advisor = ReuseAdvisor(workspace, self.store, dict(self.run.parameters))
        self.advisor.use_plan(self.plan.nodes)
        self.advisor.rerun_from = self.run.options.get("rerun_from")
        self.rerun_nodes = set(self.run.options.get("rerun_nodes") or [])
        self._stop = threading.Event()
        self._wakeup = Wakeup()
        self._nudged = False
        # (node id, stage, since) from the preparations, or a Preparation that is done
        self._news: queue.SimpleQueue[tuple[str, str, float] | Preparation] = (
            queue.SimpleQueue()
        )
        self._stages = StageBoard(STAGE_SHOWN_AFTER_S)
        self._workers = ThreadPoolExecutor(
            self.max_concurrency, thread_name_prefix="dataferry-prepare"
        )
        self._preparing: dict[str, Preparation] = {}
        self._running: dict[str, StepState] = {}  # has a process (running, stopping)
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
        """Run every step that can run; return the run's final status.

        Raises:
            Exception: whatever stopped the loop; every step it started has been
                stopped and every step row ended before it is raised.
        """
        # before the pid is on record: whoever reads it may nudge this process
        self._listen_for_nudges()
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
            # no step may go on, and no row stay unended, once its driver is gone
            self._abort(f"stopped: the driver failed ({type(exc).__name__}: {exc})")
            raise
        finally:
            self._stop.set()
            self._wakeup.close()
            # a cancelled preparation still running removes what it made, then its
            # thread ends; the process waits for it before it exits
            self._workers.shutdown(wait=False, cancel_futures=True)
        final = self.scheduler.final_status()
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
        for skip in self.scheduler.take_skips():
            self._apply(Change(skipped=(skip,)), "")
        next_check = 0.0
        while True:
            if self._nudged or time.monotonic() >= next_check:
                self._nudged = False
                next_check = time.monotonic() + CANCEL_CHECK_S
                self._check_cancel()
            self._take_news()
            self._poll_processes()
            for node_id in self.scheduler.next_to_prepare():
                self._begin(self.states[node_id])
            if self.scheduler.done:
                return
            self._show_stages()
            fds = (self.executor.exit_fd(s.handle) for s in self._running.values())
            wake_at = min(next_check, self._stages.next_due() or next_check)
            self._wakeup.wait(
                [fd for fd in fds if fd is not None], wake_at - time.monotonic()
            )

    def _listen_for_nudges(self) -> None:
        """Wake on ``NUDGE_SIGNAL`` (a cancel asked for on this host) and check the run's
        row at once. Only a driver in its main thread can (a signal goes there)."""
        if threading.current_thread() is not threading.main_thread():
            return
        signal.signal(NUDGE_SIGNAL, self._on_nudge)
        self._wakeup.wake_on_signals()

    def _on_nudge(self, signum: int, frame: FrameType | None) -> None:
        self._nudged = True

    def _check_cancel(self) -> None:
        if self.scheduler.cancelled:
            return
        if self.store.run_status(self.run_id) == RunStatus.CANCEL_REQUESTED:
            log.info("run %s: cancel requested", self.run_id)
            self._apply(self.scheduler.cancel(), "the run was cancelled")

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self.store.update_run(self.run_id, heartbeat_at=now())
            except (
                Exception
            ):  # a busy catalog must not kill the run; the next beat retries
                log.exception("heartbeat failed")

    def _apply(self, change: Change, reason: str) -> None:
        """Carry out what the scheduler decided: end the skipped and cancelled steps,
        ask the ones to stop to stop (``_poll_processes`` ends them once they have)."""
        ended: list[tuple[StepState, str]] = []
        for skip in change.skipped:
            upstream = self.states[skip.because].node.name
            because = f"not run: upstream step '{upstream}' did not finish"
            ended.append((self.states[skip.node_id], because))
        for node_id in change.cancelled:
            prep = self._preparing.pop(node_id, None)
            if prep is not None and prep.cancel():
                prep.clean_up()  # it was done, its news not yet taken
            ended.append((self.states[node_id], reason))
        self._skip(ended)
        for node_id in change.to_stop:
            state = self.states[node_id]
            assert state.handle is not None
            state.stop_reason = reason
            self.executor.cancel(state.handle)

    def _after(self, state: StepState) -> None:
        """Tell the scheduler how a step that began has ended (its row says so)."""
        if state.status == StepStatus.FINISHED:
            self.scheduler.finished(state.node_id)
        elif state.status == StepStatus.FAILED:
            change = self.scheduler.failed(state.node_id)
            self._apply(change, f"not run: step '{state.node.name}' failed")

    # -- preparing a step (off the loop) ------------------------------------------------

    def _begin(self, state: StepState) -> None:
        """Show the step as Preparing (its duration counts from here) and hand its
        preparation to a worker thread."""
        self.store.move_step(
            state.record.id,
            StepStatus.PREPARING,
            note={"doing": "fingerprinting"},
            started_at=now(),
            details=self._details(state, stage="fingerprinting"),
        )
        state.status = StepStatus.PREPARING
        ups = [self.states[u] for u in state.node.upstream]
        job = StepJob(
            workspace=self.ws,
            store=self.store,
            run=self.run,
            node=state.node,
            record=state.record,
            folder=self._step_dir(state),
            advisor=self.advisor,
            upstream={
                u.node_id: output_identity(u.fingerprint, u.record)
                for u in ups
                if u.fingerprint
            },
            producers={u.node_id: u.record for u in ups},
            outputs_cache=self._outputs,
            regenerate=bool(self.run.options.get("regenerate_outputs")),
            forced=state.node_id in self.rerun_nodes,
        )
        prep = Preparation(job, report=self._tell, done=self._tell_done)
        self._preparing[state.node_id] = prep
        self._workers.submit(prep.run)

    def _tell(self, node_id: str, stage: str) -> None:
        """A preparation's stage (from its worker thread)."""
        self._news.put((node_id, stage, time.monotonic()))
        self._wakeup.wake()

    def _tell_done(self, prep: Preparation) -> None:
        """A preparation is done (from its worker thread)."""
        self._news.put(prep)
        self._wakeup.wake()

    def _take_news(self) -> None:
        """Note the stages the preparations reported, and start (or end) the steps
        whose preparation is done."""
        done: list[Preparation] = []
        while True:
            try:
                news = self._news.get_nowait()
            except queue.Empty:
                break
            if isinstance(news, Preparation):
                done.append(news)
            else:
                self._stages.report(*news)
        for prep in done:
            self._stages.forget(prep.node_id)
            if self._preparing.pop(prep.node_id, None) is prep:
                self._prepared(self.states[prep.node_id], prep)

    def _show_stages(self) -> None:
        """Show the stages that have lasted, of the steps still preparing."""
        for node_id, stage in self._stages.due(time.monotonic()):
            if node_id in self._preparing:
                state = self.states[node_id]
                self.store.update_step_run(
                    state.record.id, details=self._details(state, stage=stage)
                )
                self.store.record_event(
                    self.run_id,
                    EventKind.PREPARING,
                    {"doing": stage},
                    step_run_id=state.record.id,
                )

    def _prepared(self, state: StepState, prep: Preparation) -> None:
        """Reuse the step, start its process, or fail it, as its preparation ended."""
        state.inputs, state.staged, state.notes = prep.inputs, prep.staged, prep.notes
        if prep.fingerprint is not None and prep.decision is not None:
            state.fingerprint = prep.fingerprint.digest
            state.fingerprint_details = prep.fingerprint.to_details()
            state.explanation = prep.decision.explanation
        try:
            if prep.error is not None:
                raise prep.error
            if prep.decision is not None and prep.decision.reuse:
                self._record_reuse(state, prep)
            else:
                assert prep.step is not None
                self.executor.prepare(prep.step)
                state.handle = self.executor.start(
                    prep.step,
                    before_run=lambda handle: self._record_start(state, handle),
                )
        except Exception as exc:
            self._fail_before_start(state, exc)
            self._after(state)
            return
        if state.handle is None:  # reused
            self._after(state)
            return
        state.status = StepStatus.RUNNING
        self.scheduler.started(state.node_id)
        self._running[state.node_id] = state
        log.info(
            "step %s (%s) started, pid %s",
            state.node.name,
            state.record.id,
            self.executor.pid(state.handle),
        )

    def _record_reuse(self, state: StepState, prep: Preparation) -> None:
        """Record the step as Finished with the outputs of the step run it reuses."""
        assert prep.decision is not None and prep.decision.reused_from is not None
        source = prep.decision.reused_from
        stamp = now()
        self.store.move_step(
            state.record.id,
            StepStatus.FINISHED,
            reuse={
                **self._reuse_event(state, reuse=True),
                "reused_from": source.reused_from or source.id,
            },
            fingerprint=state.fingerprint,
            reused_from=source.reused_from or source.id,
            explanation=state.explanation,
            # a reused step ran nothing: it shows no time of its own, as before
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

    def _reuse_event(self, state: StepState, *, reuse: bool) -> dict[str, Any]:
        return {"reuse": reuse, "explanation": state.explanation}

    def _record_start(self, state: StepState, handle: StepHandle) -> None:
        """Record the step as Running with its pid, what it reads and why it was not
        reused, before its process may run."""
        inputs = [
            {"role": "input", "name": b.name, "mode": b.mode, "value": b.value}
            | {k: b.lineage.get(k) for k in ("dataset_id", "datastore", "path")}
            for b in state.inputs
        ]
        self.store.move_step(
            state.record.id,
            StepStatus.RUNNING,
            inputs=inputs,
            reuse=self._reuse_event(state, reuse=False),
            fingerprint=state.fingerprint,
            explanation=state.explanation,
            log_dir=str(self._step_dir(state)),
            details=self._details(
                state, pid=self.executor.pid(handle), host=socket.gethostname()
            ),
        )

    def _step_dir(self, state: StepState) -> Path:
        return step_dir(self.ws, self.run_id, state.record.id)

    # -- a step's process ---------------------------------------------------------------

    def _poll_processes(self) -> None:
        """End the steps whose process has ended: finished, failed, or stopped."""
        for state in list(self._running.values()):
            assert state.handle is not None
            code = self.executor.poll(state.handle)
            if code is None:
                continue
            del self._running[state.node_id]
            if self.scheduler.phase(state.node_id) is Phase.STOPPING:
                self._end_stopped(state)
                self.scheduler.stopped(state.node_id)
            else:
                self._finish(state, code)
                self._after(state)

    def _end_stopped(self, state: StepState) -> None:
        """End a step whose process was stopped: nothing it wrote is kept."""
        self._discard(state)
        changed = self._check_inputs(state)
        reason = state.stop_reason
        error = reason if changed is None else f"{reason}\n{changed}"
        self._end(state, StepStatus.CANCELED, None, error=error)

    def _abort(self, reason: str) -> None:
        """The loop failed: stop every preparation and process, then end every row.

        Processes are stopped first and waited for (the loop that would reap them is
        gone), so a catalog that fails too cannot leave a step running.
        """
        for prep in self._preparing.values():
            if prep.cancel():
                prep.clean_up()
        stopping = list(self._running.values())
        for state in stopping:
            assert state.handle is not None
            self.executor.cancel(state.handle)  # all at once: one grace period in all
        for state in stopping:
            assert state.handle is not None
            self.executor.stop(state.handle)
        self._running.clear()
        for state in stopping:
            state.stop_reason = reason
            self._end_stopped(state)
        self._skip(
            [
                (state, reason)
                for state in self.states.values()
                if state.status in (StepStatus.NOT_STARTED, StepStatus.PREPARING)
            ]
        )

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
        """End a step that ran as Failed (what follows is the scheduler's to say)."""
        typed = {"error_type": type(exc).__name__} if exc is not None else {}
        self._end(state, StepStatus.FAILED, code, error=error, **typed)

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
            fingerprint=state.fingerprint,
            explanation=state.explanation,
            ended_at=now(),
            details=self._details(state, error=message, error_type=type(exc).__name__),
        )
        log.info("step %s: Failed before start: %s", state.node.name, message)

    def _skip(self, ended: list[tuple[StepState, str]]) -> None:
        """End steps that will not run (each with why) in one transaction: a cancelled
        10,000-step run took a transaction per step, 15 s in all."""
        if not ended:
            return
        for state, _ in ended:
            state.status = StepStatus.CANCELED
        stamp = now()
        self.store.move_steps(
            StepStatus.CANCELED,
            [
                (
                    state.record.id,
                    {"ended_at": stamp, "details": self._details(state, error=why)},
                )
                for state, why in ended
            ],
        )

    def _discard(self, state: StepState) -> None:
        for staged in state.staged:
            discard_output(staged)
        self.store.release_leases(state.record.id)


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])


def main(argv: list[str] | None = None) -> int:
    """``python -m dataferry.execution.driver WORKSPACE_DIR RUN_ID``; a forked driver
    calls it with those two arguments. Returns the exit status (0: the run finished).

    The process first records itself in the run's ``driver.pid``, which identifies it
    whatever its command line.
    """
    args = sys.argv[1:] if argv is None else argv
    workspace = Workspace(path=Path(args[0]))
    run_id = args[1]
    mark_driver(run_dir(workspace, run_id))
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
