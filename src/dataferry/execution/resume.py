"""Continuing a run whose driver died, and rerunning a run from one step.

A run is orphaned when it has not ended but its driver is gone: its process no longer
exists on this host, or its heartbeat in the catalog stopped. Resuming keeps finished
steps, cleans what the steps that were running had written (nothing of it was committed),
and starts a new driver for the rest.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.catalog import now
from dataferry.catalog.run_store import TERMINAL, RunRecord, RunStore, StepRunRecord
from dataferry.data.datastore import Datastore
from dataferry.errors import RunStateError
from dataferry.execution.commit import discard_step_staging, resolve_template
from dataferry.execution.driver import HEARTBEAT_S
from dataferry.execution.pipeline import new_run_id, start_driver
from dataferry.execution.registration import register_outputs

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace

# a heartbeat older than this means the driver is gone (it beats every HEARTBEAT_S)
ORPHAN_AFTER = timedelta(seconds=3 * HEARTBEAT_S + 4)


def _pid_is_driver(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a reused pid that is not a driver does not count
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return True
    return b"dataferry.execution.driver" in cmdline


def driver_state(record: RunRecord) -> tuple[bool, str]:
    """(alive, description) of a run's driver."""
    if record.driver_pid and record.driver_host == socket.gethostname():
        if not _pid_is_driver(record.driver_pid):
            return False, f"its driver (pid {record.driver_pid}) is gone"
    last = record.heartbeat_at or record.created_at
    age = now() - last
    if age > ORPHAN_AFTER:
        return False, f"its driver's last heartbeat was {age.total_seconds():.0f} s ago"
    return True, f"driver pid {record.driver_pid} on {record.driver_host}, heartbeat {age.total_seconds():.1f} s ago"


def is_orphaned(record: RunRecord) -> bool:
    """True for a run that has not ended and whose driver is gone."""
    return record.status not in TERMINAL and not driver_state(record)[0]


def resume_run(workspace: Workspace, run_id: str) -> None:
    """Continue an orphaned run: keep finished steps, restart interrupted ones cleanly.

    Raises:
        RunNotFoundError: no such run.
        RunStateError: the run has ended, or its driver is still alive.
    """
    store = RunStore(workspace.catalog)
    record = store.get_run(run_id)
    if record.status in TERMINAL:
        raise RunStateError(
            f"run {run_id} has ended ({record.status}) and cannot be resumed; to run steps "
            f"again use `dataferry runs rerun {run_id} --from STEP`."
        )
    alive, why = driver_state(record)
    if alive:
        raise RunStateError(f"run {run_id} is still running ({why}); wait for it, or cancel it first.")
    nodes = {n["node_id"]: n for n in record.definition["nodes"]}
    for step in store.step_runs(run_id):
        if step.status in ("Running", "Queued"):
            _recover_step(workspace, store, step, nodes[step.node_id])
    # claim the run before starting a driver, so a second resume sees a fresh heartbeat
    store.update_run(run_id, status="Running", heartbeat_at=now(), driver_host=socket.gethostname(), driver_pid=None, error=None)
    pid = start_driver(workspace.path, run_id)
    store.update_run(run_id, driver_pid=pid)


def _recover_step(workspace: Workspace, store: RunStore, step: StepRunRecord, node: dict[str, Any]) -> None:
    """A step that was running when the driver died: keep it if it was committed, else clean it."""
    _stop_leftover_process(step)
    committed = {o.name for o in store.outputs_of(step.id)}
    if node["outputs"] and committed >= {o["name"] for o in node["outputs"]}:
        # the driver died after the commit: keep it (and finish its registration), never redo it
        rows = [{"name": o.name, "datastore": o.datastore, "path": o.path} for o in store.outputs_of(step.id)]
        if not workspace.catalog.versions_by_producer(step.id):
            register_outputs(workspace, node, rows, step.id)
        store.update_step_run(step.id, status="Finished", ended_at=now())
        return
    leased = {(lease.datastore, lease.path) for lease in store.leases_of_run(step.run_id) if lease.step_run_id == step.id}
    for out in node["outputs"]:
        discard_step_staging(workspace, out["datastore"], step.id)
        path = resolve_template(out["path_template"], run_id=step.id, output_name=out["name"])
        location = Datastore.get(workspace, out["datastore"]).location
        # bytes at a destination this step leased, with no catalog row, are its uncommitted
        # write (the driver died between rename and record); an overwrite target may hold
        # older committed data, so it is left alone
        if out["name"] not in committed and (location.name, path) in leased and not out.get("overwrite"):
            full = location.full_path(path)
            if location.is_local:
                shutil.rmtree(full, ignore_errors=True)
            elif location.fs.exists(full):
                location.fs.rm(full, recursive=True)
    store.release_leases(step.id)
    store.update_step_run(step.id, status="NotStarted", started_at=None, ended_at=None, exit_code=None, details={}, explanation="restarted by resume")


def _stop_leftover_process(step: StepRunRecord) -> None:
    """A step process outlives a killed driver (it has its own session): stop it first, so
    it cannot write into the folder its restart is given."""
    pid = step.details.get("pid")
    if not pid or step.details.get("host") != socket.gethostname():
        return
    try:
        cwd = os.readlink(f"/proc/{pid}/cwd")
    except OSError:
        return  # gone already
    if step.log_dir and cwd.startswith(step.log_dir):  # the pid is still that step's process
        try:
            os.killpg(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def rerun_from(workspace: Workspace, run_id: str, step_name: str) -> str:
    """A new run of the same plan that reruns ``step_name`` and everything downstream of it.

    Steps upstream are reused when their outputs are still there (else they rerun, saying why).

    Raises:
        RunNotFoundError: no such run.
        RunStateError: the run has not ended, or has no step of that name.
    """
    store = RunStore(workspace.catalog)
    record = store.get_run(run_id)
    if record.status not in TERMINAL:
        raise RunStateError(f"run {run_id} has not ended ({record.status}); resume or cancel it before rerunning it")
    nodes = record.definition["nodes"]
    start = [n["node_id"] for n in nodes if n["name"] == step_name or n["node_id"] == step_name]
    if not start:
        names = ", ".join(sorted(n["name"] for n in nodes))
        raise RunStateError(f"run {run_id} has no step named '{step_name}'; its steps are: {names}")
    forced = set(start)
    changed = True
    while changed:
        changed = False
        for n in nodes:
            if n["node_id"] not in forced and forced & set(n["upstream"]):
                forced.add(n["node_id"])
                changed = True
    new_id = new_run_id(record.experiment)
    steps = [(f"{n['node_id']}_{uuid.uuid4().hex[:8]}", n["node_id"], n["name"]) for n in nodes]
    options = {**record.options, "rerun_nodes": sorted(forced), "rerun_of": run_id}
    store.create_run(
        new_id, record.experiment, record.definition, parameters=record.parameters, options=options,
        tags=record.tags, description=record.description, steps=steps,
    )
    start_driver(workspace.path, new_id)
    return new_id
