"""The process that drives one pipeline run: schedules its steps and starts them.

Started detached by ``Pipeline.submit``: forked from the submitting process, or
spawned as ``python -m dataferry.execution.driver WS RUN`` (``driver_start``), so a run
goes on when the submitting script ends, and any process can watch it through
the catalog. It beats a heartbeat into the run's row while it lives.

What runs next is the scheduler's to say (``scheduler``). Preparing a step (reuse
decision, inputs, staged outputs) runs in worker threads (``preparation``), so the loop
never waits on a hash or a download: it polls processes, honours a cancel, and sleeps
until a process ends, a preparation has news, or its short timeout passes (``wakeup``).
What a step's row says as it begins and ends, its commit included, is recorded in one
place (``step_outcome``).
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
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.catalog import now
from dataferry.catalog.run_store import OutputRecord, RunStore
from dataferry.catalog.status import RunStatus, StepStatus
from dataferry.data.workspace import Workspace
from dataferry.errors import (
    CatalogError,
    CatalogUnavailableError,
    DataferryError,
    StepSpecError,
)
from dataferry.execution.catalog_patience import (
    CatalogPatience,
    PatientRunStore,
    outage_window,
)
from dataferry.execution.commit import renew_output
from dataferry.execution.compute_limits import concurrency_limit
from dataferry.execution.driver_profile import profiled
from dataferry.execution.executors.per_step import executor_for_run
from dataferry.execution.node_dispatch import take_result
from dataferry.execution.plan_model import plan_of
from dataferry.execution.preparation import Preparation, StepJob
from dataferry.execution.processes import NUDGE_SIGNAL, mark_driver
from dataferry.execution.reuse import ReuseAdvisor, output_identity
from dataferry.execution.run_layout import driver_log, run_dir, stderr_path
from dataferry.execution.scheduler import Change, Phase, Scheduler
from dataferry.execution.shared_logs import share_driver_log, share_step_logs
from dataferry.execution.stage_board import StageBoard
from dataferry.execution.step_outcome import StepOutcomes
from dataferry.execution.step_state import StepState
from dataferry.execution.wakeup import Wakeup

if TYPE_CHECKING:
    from types import FrameType

    from dataferry.execution.executors import Executor

log = logging.getLogger("dataferry.driver")

# the loop sleeps at most this long: how soon a cancel asked for in the catalog is seen
# when no nudge comes with it (a nudge, sent by a canceller on this host, wakes it now)
CANCEL_CHECK_S = 1.0
HEARTBEAT_S = 2.0
# a preparation's stage is shown once it has lasted this long (see stage_board), and a
# step is shown Preparing once its preparation has (before, its begin is not written:
# the move that ends the preparation records it, in the same transaction)
STAGE_SHOWN_AFTER_S = 0.1
_INITIAL_PHASES = {
    StepStatus.FINISHED: Phase.FINISHED,
    StepStatus.FAILED: Phase.FAILED,
    StepStatus.CANCELED: Phase.CANCELLED,
}


class Driver:
    """Runs the plan of one pipeline run to its end."""

    def __init__(
        self, workspace: Workspace, run_id: str, executor: Executor | None = None
    ) -> None:
        self.ws = workspace
        self.run_id = run_id
        # its writes wait out a catalog outage; the heartbeat's skip a beat instead
        self.store = PatientRunStore(
            workspace.catalog, CatalogPatience(outage_window(workspace.catalog))
        )
        self._beat_store = RunStore(workspace.catalog)
        self.run = self.store.get_run(run_id)
        self.plan = plan_of(self.run)
        # local processes, or an executor per step when a step is on a Ray target
        self.executor: Executor = executor or executor_for_run(
            workspace, run_id, self.plan, self._fresh_attempt
        )
        self.continue_on_failure = bool(
            self.run.options.get("continue_on_step_failure")
        )
        self.max_concurrency = concurrency_limit(
            workspace.catalog,
            (n.compute_target for n in self.plan.nodes),
            int(
                workspace.catalog.get_setting("max_concurrency", 0)
                or os.cpu_count()
                or 1
            ),
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
        # node id -> when a preparation not yet shown Preparing is to be (monotonic)
        self._unshown: dict[str, float] = {}
        self._running: dict[str, StepState] = {}  # has a process (running, stopping)
        self._outputs: dict[
            str, list[OutputRecord]
        ] = {}  # step run id -> its committed outputs
        self.outcomes = StepOutcomes(
            workspace, run_id, self.store, self.executor.name, self._outputs
        )

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
        if final == RunStatus.CANCELED and self.store.get_run(self.run_id).error:
            # fail() asked for the stop and recorded why: the run ends Failed (B.10)
            final = RunStatus.FAILED
        if final == RunStatus.FINISHED and self.run.options.get(
            "delete_intermediate_outputs"
        ):
            self._delete_intermediate_outputs()  # before the end is visible
        log.info("run %s: %s", self.run_id, final)
        share_driver_log(self.ws, self.run_id)  # complete before the run reads ended
        self.store.move_run(self.run_id, final, ended_at=now(), heartbeat_at=now())
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
            self._show_preparing()
            self._show_stages()
            fds = (self.executor.exit_fd(s.handle) for s in self._running.values())
            wake_at = min(
                next_check,
                self._stages.next_due() or next_check,
                *self._unshown.values(),
            )
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
        try:
            status = self.store.run_status(self.run_id)
        except CatalogUnavailableError as exc:
            # a server restart outlasts the catalog's retries: the steps run on, and
            # the next check (or their end, which must record them) asks again
            log.warning("could not check for a cancel: %s", exc)
            return
        if status == RunStatus.CANCEL_REQUESTED:
            log.info("run %s: cancel requested", self.run_id)
            self._apply(self.scheduler.cancel(), "the run was canceled")

    def _heartbeat(self) -> None:
        while not self._stop.wait(HEARTBEAT_S):
            try:
                self._beat_store.update_run(self.run_id, heartbeat_at=now())
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
            self._unshown.pop(node_id, None)  # ``skipped`` shows it first
            prep = self._preparing.pop(node_id, None)
            if prep is not None and prep.cancel():
                prep.clean_up()  # it was done, its news not yet taken
            ended.append((self.states[node_id], reason))
        self.outcomes.skipped(ended)
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
        """Begin the step's preparation (its duration counts from here; it is shown
        Preparing once it lasts) and hand it to a worker thread."""
        self.outcomes.preparing(state)
        self._unshown[state.node_id] = time.monotonic() + STAGE_SHOWN_AFTER_S
        ups = [self.states[u] for u in state.node.upstream]
        job = StepJob(
            workspace=self.ws,
            store=self.store,
            run=self.run,
            node=state.node,
            record=state.record,
            folder=self.outcomes.step_dir(state),
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
        """A preparation's stage (from its worker thread). It wakes the loop only once
        the step is shown Preparing: before, nothing of it is shown, and the loop wakes
        when it is due to be (each wake-up cost the worker a GIL hand-off, up to 5 ms,
        four or five times per step)."""
        self._news.put((node_id, stage, time.monotonic()))
        if node_id not in self._unshown:
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

    def _show_preparing(self) -> None:
        """Show as Preparing the steps whose preparation has lasted."""
        moment = time.monotonic()
        for node_id, due in list(self._unshown.items()):
            if due <= moment:
                del self._unshown[node_id]
                self.outcomes.show_preparing(self.states[node_id])

    def _show_stages(self) -> None:
        """Show the stages that have lasted, of the steps still preparing."""
        for node_id, stage in self._stages.due(time.monotonic()):
            if node_id in self._preparing:
                self._unshown.pop(node_id, None)
                self.outcomes.stage(self.states[node_id], stage)

    def _prepared(self, state: StepState, prep: Preparation) -> None:
        """Reuse the step, start its process, or fail it, as its preparation ended."""
        self._unshown.pop(state.node_id, None)  # the move that ends it shows it
        state.inputs, state.staged, state.notes = prep.inputs, prep.staged, prep.notes
        if prep.fingerprint is not None and prep.decision is not None:
            state.fingerprint = prep.fingerprint.digest
            state.fingerprint_details = prep.fingerprint.to_details()
            state.explanation = prep.decision.explanation
        try:
            if prep.error is not None:
                raise prep.error
            if prep.decision is not None and prep.decision.reuse:
                self.outcomes.reused(state, prep)
            else:
                assert prep.step is not None
                self.executor.prepare(prep.step)
                state.handle = self.executor.start(
                    prep.step,
                    before_run=lambda handle: self.outcomes.started(
                        state, self.executor.pid(handle)
                    ),
                )
        except Exception as exc:
            self.outcomes.failed_before_start(state, exc)
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

    # -- a step's process ---------------------------------------------------------------

    def _poll_processes(self) -> None:
        """End the steps whose process has ended: finished, failed, or stopped."""
        for state in list(self._running.values()):
            assert state.handle is not None
            code = self.executor.poll(state.handle)
            if code is None:
                continue
            del self._running[state.node_id]
            # stored before the step ends: whoever sees it ended can read its logs
            share_step_logs(self.ws, self.outcomes.step_dir(state))
            if self.scheduler.phase(state.node_id) is Phase.STOPPING:
                self.outcomes.stopped(state)
                self.scheduler.stopped(state.node_id)
            else:
                self.outcomes.finished(state, self._from_node(state, code))
                self._after(state)

    def _from_node(self, state: StepState, code: int) -> int:
        """Mark the outputs a step runner staged on its node for the commit; a
        result that does not match the step's outputs fails the step (code 1)."""
        result = getattr(state.handle, "node_result", None)
        if code != 0 or result is None:
            return code
        try:
            take_result(state.staged, result)
        except StepSpecError as exc:  # in the step's log, where its reader looks
            with open(stderr_path(self.outcomes.step_dir(state)), "a") as err:
                err.write(f"dataferry: {exc}\n")
            return 1
        return code

    def _fresh_attempt(self, step_run_id: str) -> list[str]:
        """Before a step whose node was lost runs again: discard what the lost
        attempt staged (through storage) and stage its outputs again, empty; return
        the names of the outputs emptied."""
        for state in self._running.values():
            if state.record.id == step_run_id:
                for staged in state.staged:
                    renew_output(staged, self.outcomes.step_dir(state))
                return [staged.name for staged in state.staged]
        return []

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
        try:
            for state in stopping:
                share_step_logs(self.ws, self.outcomes.step_dir(state))
                state.stop_reason = reason
                self.outcomes.stopped(state)
            self.outcomes.skipped(
                [
                    (state, reason)
                    for state in self.states.values()
                    if state.status in (StepStatus.NOT_STARTED, StepStatus.PREPARING)
                ]
            )
        except CatalogError as exc:
            # the catalog that stopped the loop may stop this too: the processes are
            # stopped all the same, and ``runs resume`` ends the rows left
            log.error("could not record the stopped steps: %s", exc)


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
    return profiled(lambda: drive_run(workspace, run_id))


def drive_run(workspace: Workspace, run_id: str) -> int:
    """Drive ``run_id`` to its end in this process, which has recorded itself as its
    driver (``mark_driver``); its log goes to the run's ``driver.log``. Returns the
    exit status: 0 if the run finished, 1 if not or if the driver failed (the run is
    then marked failed)."""
    log_file = driver_log(workspace, run_id)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(log_file)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logging.getLogger("dataferry").addHandler(handler)
    logging.getLogger("dataferry").setLevel(logging.INFO)
    workspace.catalog.keep_datastores()  # read once per run, not per step
    try:
        final = Driver(workspace, run_id).drive()
    except Exception as exc:
        log.exception("driver failed")
        share_driver_log(workspace, run_id)
        try:
            RunStore(workspace.catalog).move_run(
                run_id,
                RunStatus.FAILED,
                strict=False,  # the run may have ended before the driver failed
                ended_at=now(),
                error=f"driver failed: {exc}",
            )
        except CatalogError as still:
            # the run stays Running with no driver: ``runs resume`` carries it on
            log.error(
                "could not mark run %s Failed: %s; once the catalog is back, "
                "`dataferry runs resume %s` carries it on",
                run_id,
                still,
                run_id,
            )
        return 1
    return 0 if final == RunStatus.FINISHED else 1


if __name__ == "__main__":
    raise SystemExit(main())
