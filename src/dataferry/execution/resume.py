"""Continuing a run whose driver died, and rerunning a run from one step.

A run is orphaned when it has not ended but its driver is gone: no process drives it on
this host, or (for a driver on another host) its heartbeat in the catalog stopped.
Resuming stops what its steps left running, keeps finished steps, cleans what the
interrupted ones had written (nothing of it was committed), and starts a new driver.
"""

from __future__ import annotations

import socket
import uuid
from datetime import timedelta
from typing import TYPE_CHECKING

from dataferry.catalog import now
from dataferry.catalog.run_store import RunRecord, RunStore, StepRunRecord
from dataferry.catalog.status import TERMINAL, RunStatus, StepStatus
from dataferry.data.datastore import Datastore
from dataferry.errors import RunStateError, StepNotFoundError, did_you_mean
from dataferry.execution.commit import discard_step_staging, resolve_template
from dataferry.execution.driver import HEARTBEAT_S
from dataferry.execution.driver_start import record_driver, start_driver
from dataferry.execution.input_places import mount_records
from dataferry.execution.lifecycle import remove_output
from dataferry.execution.pipeline import new_run_id
from dataferry.execution.plan_model import plan_of
from dataferry.execution.processes import (
    find_driver,
    forget_driver,
    holds_driver_log,
    marked_pid,
    pid_is_driver,
    step_processes,
    stop_processes,
)
from dataferry.execution.run_layout import run_dir, step_dir
from dataferry.storage.fuse_mount import clean_recorded_mounts
from dataferry.storage.places import physical_place

if TYPE_CHECKING:
    import os
    from datetime import datetime
    from pathlib import Path

    from dataferry.data.workspace import Workspace
    from dataferry.execution.plan_model import PlanNode

# a heartbeat older than this means the driver is gone (it beats every HEARTBEAT_S)
ORPHAN_AFTER = timedelta(seconds=3 * HEARTBEAT_S + 4)
_STOP_WAIT_S = 10.0


def driver_state(
    record: RunRecord, workspace: Workspace | str | os.PathLike[str]
) -> tuple[bool, str]:
    """(alive, description) of a run's driver; the description says what is waited for.

    ``workspace`` (a Workspace or its folder) holds the run's folder, where the driver
    records itself (``driver.pid``: its pid and start time).

    On this host the process table decides at once: the driver is alive exactly while a
    process drives the run (the recorded pid, or the one ``driver.pid`` names, or one
    found by its command line), whether or not it has written a heartbeat yet. Only in
    the moment between submitting (or claiming) a run and its driver recording itself
    is there nothing to look at; then, as for a driver on another host, a heartbeat (or
    submission) older than ``ORPHAN_AFTER`` means gone.
    """
    age = (now() - (record.heartbeat_at or record.created_at)).total_seconds()
    here = socket.gethostname()
    folder = run_dir(workspace, record.id)
    pid = _local_driver(record, folder) if record.driver_host in (None, here) else None
    if pid is not None:
        return True, _alive_here(record, pid, age)
    recorded = record.driver_pid
    if recorded is None and record.heartbeat_at is None:
        # submitted, never claimed nor beaten: a forked driver is on record in
        # driver.pid before its first write to the row
        recorded = marked_pid(folder)
    if record.driver_host == here and recorded is not None:
        return False, f"its driver (pid {recorded}) is gone"
    limit = ORPHAN_AFTER.total_seconds()
    if record.driver_host == here:
        if age > limit:
            return False, (
                f"no driver runs it on this host, and none was recorded {age:.0f} s "
                "after it was submitted or claimed"
            )
        return True, (
            f"waiting for its driver to start on this host: none runs or is recorded "
            f"yet, {age:.1f} s after the run was submitted or claimed; it counts as "
            f"gone after {limit:.0f} s"
        )
    return _by_heartbeat(record, age, limit)


def _local_driver(record: RunRecord, folder: Path) -> int | None:
    """The pid of the process on this host that drives the run, if one does: also
    one started from another folder of a shared workspace (it holds the run's log)."""
    pid = record.driver_pid
    if pid and (
        pid_is_driver(pid, record.id, folder) or holds_driver_log(pid, record.id)
    ):
        return pid
    return find_driver(record.id, folder)


def _alive_here(record: RunRecord, pid: int, age: float) -> str:
    who = f"its driver (pid {pid} on this host)"
    if record.heartbeat_at is None:
        return (
            f"{who} is starting: no heartbeat yet, {age:.1f} s after it was submitted"
        )
    if age > ORPHAN_AFTER.total_seconds():
        return (
            f"{who} still runs but its heartbeat is {age:.0f} s old; if it is stuck, "
            f"stop it (kill {pid}) and resume"
        )
    return f"{who} is alive, last heartbeat {age:.1f} s ago"


def _by_heartbeat(record: RunRecord, age: float, limit: float) -> tuple[bool, str]:
    """A driver on another host (or on none recorded yet): its heartbeat decides."""
    if record.driver_host is None:
        who = "its driver (no host recorded yet)"
    elif record.driver_pid is None:
        who = f"its driver on host '{record.driver_host}'"
    else:
        who = f"its driver (pid {record.driver_pid} on host '{record.driver_host}')"
    if record.heartbeat_at is None:
        if age > limit:
            return False, f"{who} never wrote a heartbeat in {age:.0f} s"
        return True, (
            f"waiting for the first heartbeat of {who}: {age:.1f} s after the run was "
            f"submitted; it counts as gone after {limit:.0f} s without one"
        )
    if age > limit:
        return False, f"its driver's last heartbeat was {age:.0f} s ago"
    return True, (
        f"waiting for the next heartbeat of {who}: the last was {age:.1f} s ago; it "
        f"counts as gone after {limit:.0f} s without one"
    )


def is_orphaned(
    record: RunRecord, workspace: Workspace | str | os.PathLike[str]
) -> bool:
    """True for a run that has not ended and whose driver is gone (see ``driver_state``)."""
    return record.status not in TERMINAL and not driver_state(record, workspace)[0]


def resume_run(workspace: Workspace, run_id: str) -> None:
    """Continue an orphaned run: keep finished steps, restart interrupted ones cleanly.

    Every process the run's steps started on this host is stopped first, whatever the
    catalog says about its step (the driver may have died before recording it).

    Raises:
        RunNotFoundError: no such run.
        RunStateError: the run has ended, its driver is still alive, another process
            resumes it, or a process of its steps could not be stopped.
        PlanVersionError: the run was stored by a newer dataferry.
        PlanFormatError: the run's stored plan cannot be read.
    """
    store = RunStore(workspace.catalog)
    record = store.get_run(run_id)
    if record.status in TERMINAL:
        ended = f"run {run_id} has ended ({record.status}) and cannot be resumed"
        raise RunStateError(
            f"{ended}; to run its steps again, use run.rerun(from_step='STEP').",
            cli_message=f"{ended}; to run its steps again, use "
            f"`dataferry runs rerun {run_id} --from STEP`.",
        )
    alive, why = driver_state(record, workspace)
    if alive:
        raise RunStateError(
            f"run {run_id} is still running ({why}); wait for it, or cancel it first."
        )
    # read before anything is written: a plan of a newer dataferry is refused
    nodes = {n.node_id: n for n in plan_of(record).nodes}
    # claim the run before touching it: of two processes resuming it at once, one goes on.
    # Its status stays: the new driver moves a NotStarted run to Running, and carries out
    # a cancel asked for before the old one died.
    beat = now()
    claimed = store.claim_run(
        run_id,
        seen_heartbeat=record.heartbeat_at,
        heartbeat_at=beat,
        driver_host=socket.gethostname(),
        driver_pid=None,
        error=None,
    )
    if not claimed:
        raise RunStateError(f"run {run_id} is being resumed by another process")
    folder = run_dir(workspace, run_id)
    forget_driver(folder)  # the dead driver's: the new one records itself
    _stop_step_processes(run_id, folder)
    beat = _renew_claim(store, run_id, beat)
    leased = {lease.step_run_id for lease in store.leases_of_run(run_id)}
    for step in store.step_runs(run_id):
        if _was_begun(step, folder, leased):
            _recover_step(workspace, store, step, nodes[step.node_id])
            beat = _renew_claim(store, run_id, beat)
    # on the row at once (the claim's heartbeat hides a driver.pid): a driver that dies
    # before it writes anything is seen as gone
    store.update_run(run_id, driver_pid=start_driver(workspace.path, run_id))


def carry_out_cancel(workspace: Workspace, run_id: str) -> bool:
    """Resume a run whose cancel was asked for but whose driver is gone, so that a new
    driver carries the cancel out (it stops what the steps left running, and ends the
    run Canceled); no other process would. True if this call resumed it.

    Raises:
        RunNotFoundError: no such run.
        RunStateError: a process of its steps could not be stopped, or the run could not
            be resumed for another reason while it is still orphaned.
    """
    store = RunStore(workspace.catalog)
    record = store.get_run(run_id)
    if record.status != RunStatus.CANCEL_REQUESTED or not is_orphaned(
        record, workspace
    ):
        return False
    try:
        resume_run(workspace, run_id)
    except RunStateError:
        # another process resumed it (a second cancel, say) or its driver ended it
        if is_orphaned(store.get_run(run_id), workspace):
            raise
        return False
    return True


def _stop_step_processes(run_id: str, folder: Path) -> None:
    """Stop every process of the run's steps on this host (it has its own session, so it
    outlived the driver), so none writes into the folders the restarts are given.

    Raises:
        RunStateError: some are still running after SIGKILL and a wait.
    """
    left = stop_processes(step_processes(folder), wait_s=_STOP_WAIT_S)
    if left:
        pids = " ".join(str(p) for p in left)
        raise RunStateError(
            f"run {run_id}: processes of its steps still run {_STOP_WAIT_S:.0f} s after "
            f"SIGKILL (pids {pids}); resume once they have ended (check them with "
            f"`ps -o pid,stat,cmd -p {pids}`)."
        )


def _renew_claim(store: RunStore, run_id: str, seen: datetime) -> datetime:
    """Keep the claim fresh while resuming, so no second process takes the run over.

    Raises:
        RunStateError: another process claimed the run meanwhile.
    """
    beat = now()
    if not store.claim_run(run_id, seen_heartbeat=seen, heartbeat_at=beat):
        raise RunStateError(f"run {run_id} is being resumed by another process")
    return beat


def _was_begun(step: StepRunRecord, folder: Path, leased: set[str]) -> bool:
    """True for a step the dead driver had begun: recorded as such, or not yet recorded
    but with a folder or a lease of its own."""
    if step.status in TERMINAL:
        return False
    return (
        step.status != StepStatus.NOT_STARTED
        or step.id in leased
        or (folder / step.id).exists()
    )


def _recover_step(
    workspace: Workspace, store: RunStore, step: StepRunRecord, node: PlanNode
) -> None:
    """Clean a step the dead driver had begun but not finished, for a restart.

    A step's commit is one transaction that also makes it Finished, so a step that is
    not Finished has recorded no output: bytes at a destination it leased are its
    uncommitted write (the driver died between the rename and the record). An
    overwrite target may hold older committed data, so it is left alone. FUSE mounts
    the dead driver's helpers left (recorded in the step's folder) are removed.
    """
    clean_recorded_mounts(mount_records(step_dir(workspace, step.run_id, step.id)))
    leased = {
        (lease.datastore, lease.path)
        for lease in store.leases_of_run(step.run_id)
        if lease.step_run_id == step.id
    }
    for out in node.outputs:
        discard_step_staging(workspace, out.datastore, step.id)
        path = resolve_template(out.path_template, run_id=step.id, output_name=out.name)
        location = Datastore.get(workspace, out.datastore).location
        if physical_place(location, path) in leased and not out.overwrite:
            remove_output(workspace, out.datastore, path)
    store.restart_step(step.id, "restarted by resume")


def rerun_from(workspace: Workspace, run_id: str, step_name: str) -> str:
    """A new run of the same plan that reruns ``step_name`` and everything downstream of it.

    Steps upstream are reused when their outputs are still there (else they rerun, saying why).

    Raises:
        RunNotFoundError: no such run.
        StepNotFoundError: the run has no step of that name (the closest is named).
        RunStateError: the run has not ended.
        PlanVersionError: the run was stored by a newer dataferry.
        PlanFormatError: the run's stored plan cannot be read.
    """
    store = RunStore(workspace.catalog)
    record = store.get_run(run_id)
    if record.status not in TERMINAL:
        raise RunStateError(
            f"run {run_id} has not ended ({record.status}); resume or cancel it before rerunning it"
        )
    plan = plan_of(record)
    nodes = plan.nodes
    start = [n.node_id for n in nodes if step_name in (n.name, n.node_id)]
    if not start:
        names = sorted(n.name for n in nodes)
        raise StepNotFoundError(
            f"run {run_id} has no step named '{step_name}'; its steps are: "
            f"{', '.join(names)}.{did_you_mean(step_name, names)}"
        )
    forced = set(start)
    changed = True
    while changed:
        changed = False
        for n in nodes:
            if n.node_id not in forced and forced & set(n.upstream):
                forced.add(n.node_id)
                changed = True
    new_id = new_run_id(record.experiment)
    steps = [(f"{n.node_id}_{uuid.uuid4().hex[:8]}", n.node_id, n.name) for n in nodes]
    options = {
        **record.options,
        "rerun_nodes": sorted(forced),
        "rerun_of": run_id,
        "rerun_from": step_name,
    }
    store.create_run(
        new_id,
        record.experiment,
        plan.to_json(),  # a rerun of an older run stores the plan in today's version
        parameters=record.parameters,
        options=options,
        tags=record.tags,
        description=record.description,
        steps=steps,
        driver_host=socket.gethostname(),
    )
    record_driver(store, workspace.path, new_id, start_driver(workspace.path, new_id))
    return new_id
