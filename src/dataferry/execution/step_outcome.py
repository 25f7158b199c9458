"""What a step's row says, from Preparing to its end: the one place a step is ended.

The driver decides when (``driver``, ``scheduler``); ``StepOutcomes`` records it: a
step shown Preparing or Running, reused, finished (its outputs committed in one
catalog transaction), failed, stopped, or never run. Every method updates the step's
``StepState`` to match its row.
"""

from __future__ import annotations

import logging
import socket
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from dataferry.catalog import now, pending_commits
from dataferry.catalog.run_store import committed_outputs
from dataferry.catalog.status import EventKind, StepStatus
from dataferry.catalog.step_commit import StepCommit
from dataferry.data.commit_settling import this_writer
from dataferry.data.machine_paths import home_of
from dataferry.errors import (
    CatalogUnavailableError,
    DataferryError,
    InputChangedError,
)
from dataferry.execution import run_layout
from dataferry.execution.commit import commit_outputs, discard_output, undo_commits
from dataferry.execution.input_guard import check_inputs
from dataferry.execution.materialise import release_inputs
from dataferry.execution.places import failures_at, output_place
from dataferry.execution.port_identity import reused_output_names
from dataferry.execution.registration import plan_registrations
from dataferry.execution.run_layout import stderr_path, step_dir

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from pathlib import Path

    from dataferry.catalog.run_store import OutputRecord, RunStore, StepRunRecord
    from dataferry.data.workspace import Workspace
    from dataferry.execution.plan_model import PlanNode
    from dataferry.execution.preparation import Preparation
    from dataferry.execution.step_state import StepState

log = logging.getLogger("dataferry.driver")


class StepOutcomes:
    """Records the steps of one run as they begin and end.

    Args:
        workspace: the run's workspace (its step folders, what outputs register).
        run_id: the run whose steps these are.
        store: the catalog's run store every row is written through.
        executor_name: shown in each step run's details.
        outputs_cache: step run id -> its committed outputs; each step this commits
            is added, so its downstream steps need not read them back.
    """

    def __init__(
        self,
        workspace: Workspace,
        run_id: str,
        store: RunStore,
        executor_name: str,
        outputs_cache: dict[str, list[OutputRecord]],
    ) -> None:
        self.ws = workspace
        self.run_id = run_id
        self.store = store
        self.executor_name = executor_name
        self.outputs_cache = outputs_cache

    def details(self, state: StepState, **extra: Any) -> dict[str, Any]:
        """What only the step run's row holds; its inputs, outputs and registrations
        are in their tables."""
        return step_details(
            self.ws,
            state.node,
            self.executor_name,
            notes=state.notes,
            fingerprint=state.fingerprint_details,
            **extra,
        )

    def step_dir(self, state: StepState) -> Path:
        """The step run's folder (its logs, its staged outputs)."""
        return step_dir(self.ws, self.run_id, state.record.id)

    # -- a step that begins -------------------------------------------------------------

    def preparing(self, state: StepState) -> None:
        """Note that the step begins preparing now (its duration counts from here).

        Nothing is written yet: most steps prepare in milliseconds, and their move to
        Preparing is recorded in the transaction of the move that ends it (to Running,
        Finished or Failed), with its own event of this time. One that takes longer is
        shown Preparing by ``show_preparing``.
        """
        state.preparing_since = now()
        state.status = StepStatus.PREPARING

    def show_preparing(self, state: StepState) -> None:
        """Record the step's move to Preparing now, if its row does not say so yet."""
        since = state.preparing_since
        if since is None:
            return
        self.store.move_step(
            state.record.id,
            StepStatus.PREPARING,
            note=PREPARING_NOTE,
            at=since,
            started_at=since,
            details=self.details(state, stage=PREPARING_NOTE["doing"]),
        )
        state.preparing_since = None

    def stage(self, state: StepState, stage: str) -> None:
        """Show what a step still preparing is doing (a stage that has lasted)."""
        self.show_preparing(state)
        self.store.update_step_run(
            state.record.id, details=self.details(state, stage=stage)
        )
        self.store.record_event(
            self.run_id,
            EventKind.PREPARING,
            {"doing": stage},
            step_run_id=state.record.id,
        )

    def _preparing_move(self, state: StepState) -> dict[str, Any]:
        """The keywords of ``RunStore.move_step`` that record a move to Preparing not
        on record yet, in the same transaction; the step's row then says it."""
        since, state.preparing_since = state.preparing_since, None
        if since is None:
            return {}
        return {"preparing_since": since, "preparing_note": PREPARING_NOTE}

    def started(self, state: StepState, pid: int | None) -> None:
        """Record the step as Running, what it reads, why it was not reused and the
        commits of its staged outputs (this driver is their writer: killed before the
        step ends, they are settled once it is gone), before its process may run;
        ``pid`` where the executor knows one that early (a local step is recorded
        before its process exists: None)."""
        inputs = [
            {"role": "input", "name": b.name, "mode": b.mode, "value": b.value}
            | {k: b.lineage.get(k) for k in ("dataset_id", "datastore", "path")}
            for b in state.inputs
        ]
        self.store.move_step(
            state.record.id,
            StepStatus.RUNNING,
            **self._preparing_move(state),
            inputs=inputs,
            reuse=_reuse_event(state, reuse=False),
            commits=self._commits(state),
            fingerprint=state.fingerprint,
            explanation=state.explanation,
            log_dir=run_layout.stored_path(self.ws, self.step_dir(state)),
            details=self.details(state, pid=pid, host=socket.gethostname()),
        )

    def _commits(self, state: StepState) -> list[dict[str, Any]]:
        """The records of the step's output commits, for its move to Running."""
        if not state.staged:
            return []
        places = [(o.location.name, o.path) for o in state.staged]
        return pending_commits.rows(this_writer(), state.record.id, places, now())

    def reused(self, state: StepState, prep: Preparation) -> None:
        """Record the step as Finished with the outputs of the step run it reuses."""
        assert prep.decision is not None and prep.decision.reused_from is not None
        assert state.fingerprint is not None and state.explanation is not None
        values, reuse = reused_values(
            state.node,
            prep.decision.reused_from,
            fingerprint=state.fingerprint,
            explanation=state.explanation,
            details=self.details(state),
        )
        self.store.move_step(
            state.record.id,
            StepStatus.FINISHED,
            **self._preparing_move(state),
            reuse=reuse,
            **values,
        )
        # what the row now says (the steps reading its outputs look there), unread
        state.record = replace(state.record, status=str(StepStatus.FINISHED), **values)
        state.status = StepStatus.FINISHED

    # -- a step that ends ---------------------------------------------------------------

    def finished(self, state: StepState, code: int) -> None:
        """End a step whose process exited with ``code``: Finished with its outputs
        committed, or Failed (changed inputs, a non-zero code, a failed commit)."""
        if self._fail_on_changed_inputs(state, code):
            return
        if code == 0:
            try:
                self._commit(state)
            except CatalogUnavailableError:
                # waited out for the whole window (``catalog_patience``): the driver
                # fails; what the commit moved is settled once it is gone
                raise
            except Exception as exc:
                self._discard(state)
                self._fail(state, code, f"committing outputs failed: {exc}", exc)
                return
            state.status = StepStatus.FINISHED
            log.info("step %s: Finished", state.node.name)
            return
        self._discard(state)
        # an executor that failed the step itself (a lost or missing node) says why
        failure = getattr(state.handle, "failure", None)
        if isinstance(failure, Exception):
            self._fail(state, code, str(failure), failure)
            return
        reason = f"killed by signal {-code}" if code < 0 else f"exit code {code}"
        # an executor that enforces the time limit says so on its handle
        if getattr(state.handle, "timed_out", False):
            reason = (
                "stopped: it ran longer than its time limit (max_run_duration_seconds);"
                " raise the limit if it needs longer"
            )
        tail = _tail(stderr_path(self.step_dir(state)))
        self._fail(
            state,
            code,
            f"step '{state.node.name}' failed ({reason})"
            + (f":\n{tail}" if tail else ""),
        )

    def stopped(self, state: StepState) -> None:
        """End a step whose process was stopped as Canceled: nothing it wrote is kept."""
        self._discard(state)
        changed = self._check_inputs(state)
        reason = state.stop_reason
        error = reason if changed is None else f"{reason}\n{changed}"
        self._end(state, StepStatus.CANCELED, None, error=error)

    def failed_before_start(self, state: StepState, exc: Exception) -> None:
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
            **self._preparing_move(state),
            fingerprint=state.fingerprint,
            explanation=state.explanation,
            forget_commits=bool(state.staged),  # on record if it got to Running
            ended_at=now(),
            details=self.details(state, error=message, error_type=type(exc).__name__),
        )
        log.info("step %s: Failed before start: %s", state.node.name, message)

    def skipped(self, ended: list[tuple[StepState, str]]) -> None:
        """End steps that will not run (each with why) as Canceled in one transaction:
        a cancelled 10,000-step run took a transaction per step, 15 s in all."""
        if not ended:
            return
        for state, _ in ended:  # began preparing: its history says so first
            self.show_preparing(state)
        for state, _ in ended:
            state.status = StepStatus.CANCELED
        stamp = now()
        self.store.move_steps(
            StepStatus.CANCELED,
            [
                (
                    state.record.id,
                    {"ended_at": stamp, "details": self.details(state, error=why)},
                )
                for state, why in ended
            ],
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
            values={"details": self.details(state)},
        )
        try:
            self.store.commit_step(commit)
        except CatalogUnavailableError:
            # whether the transaction was recorded is unknown: the outputs stay where
            # they are, and the commit's record settles them (``commit_settling``)
            raise
        except BaseException:
            undo_commits(state.staged)
            raise
        self.outputs_cache[state.record.id] = committed_outputs(commit)

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
            forget_commits=bool(state.staged),  # discarded by this driver
            ended_at=now(),
            exit_code=code,
            details=self.details(state, **extra),
        )
        log.info(
            "step %s: %s%s",
            state.node.name,
            status,
            f" ({extra['error'].splitlines()[0]})" if extra.get("error") else "",
        )

    def _discard(self, state: StepState) -> None:
        for staged in state.staged:
            discard_output(staged)
        self.store.release_leases(state.record.id)


# what a step's Preparing event says it does first
PREPARING_NOTE = {"doing": "fingerprinting"}


def step_details(
    workspace: Workspace,
    node: PlanNode,
    executor_name: str,
    *,
    notes: Sequence[str],
    fingerprint: Mapping[str, Any] | None,
    **extra: Any,
) -> dict[str, Any]:
    """What only a step run's row holds (its inputs, outputs and registrations are in
    their tables): its notes, compute target, executor, the folder holding its logs,
    its fingerprint's details, and ``extra``."""
    return {
        "notes": list(notes),
        "compute_target": node.compute_target or "local",
        "executor": executor_name,
        # whose folder holds its logs: another folder sharing the catalog reads
        # the datastore copy instead (``shared_logs``)
        "ran_in": home_of(workspace.path),
        "fingerprint": fingerprint,
        **extra,
    }


def reused_values(
    node: PlanNode,
    source: StepRunRecord,
    *,
    fingerprint: str,
    explanation: str,
    details: Mapping[str, Any],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The columns a step reusing ``source``'s outputs gets as it moves to Finished,
    and its reuse event's payload; ``details`` are the step's (``step_details``)."""
    stamp = now()
    reused_from = source.reused_from or source.id
    values: dict[str, Any] = {
        "fingerprint": fingerprint,
        "reused_from": reused_from,
        "explanation": explanation,
        # a reused step ran nothing: it shows no time of its own, as before
        "started_at": stamp,
        "ended_at": stamp,
        "details": {
            **details,
            "reused_run_id": source.run_id,
            # this run may have generated other names for the same outputs
            "reused_output_names": reused_output_names(node, source),
        },
    }
    reuse = {"reuse": True, "explanation": explanation, "reused_from": reused_from}
    return values, reuse


def _reuse_event(state: StepState, *, reuse: bool) -> dict[str, Any]:
    return {"reuse": reuse, "explanation": state.explanation}


def _tail(path: Path, lines: int = 20) -> str:
    try:
        text = path.read_text("utf-8", errors="replace")
    except OSError:
        return ""
    return "\n".join(text.rstrip().splitlines()[-lines:])
