"""Preparing one step, in a worker thread: reuse decision, source folder, inputs, outputs.

Fingerprinting hashes input files; binding links, copies or downloads them: seconds for
a large or remote input. So it runs off the driver's loop, which goes on polling the
other steps and honouring a cancel meanwhile. The preparation says what it is doing
(``hashing input 'x'``, ``downloading input 'x'``) through ``report``; the loop shows it.

A preparation writes no step row (the loop owns the step's status): it only makes the
step's folder, its inputs' places and its staged outputs (with their leases), and hands
them to the loop when it is done. A cancelled preparation stops at its next stage and
removes what it made itself.
"""

from __future__ import annotations

import logging
import shutil
import threading
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from dataferry.data.listing_scope import one_listing
from dataferry.execution import process_contract
from dataferry.execution.commit import discard_output, stage_output
from dataferry.execution.environments import resolve_environment
from dataferry.execution.executors import PreparedStep
from dataferry.execution.materialise import InputContext, bind_input, release_inputs
from dataferry.execution.node_dispatch import (
    node_spec,
    on_ray_target,
    uses_remote_store,
)
from dataferry.execution.places import failures_at, input_places, output_place
from dataferry.execution.plan_inputs import UpstreamOutputInput
from dataferry.execution.port_identity import reused_names
from dataferry.execution.reuse import judge
from dataferry.execution.run_layout import stderr_path, stdout_path, work_dir
from dataferry.execution.run_listing import run_type_of
from dataferry.execution.shared_snapshots import local_snapshot
from dataferry.execution.step_phases import step_command
from dataferry.storage.integrity import remove_tree

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping
    from pathlib import Path

    from dataferry.catalog.run_store import (
        OutputRecord,
        RunRecord,
        RunStore,
        StepRunRecord,
    )
    from dataferry.data.workspace import Workspace
    from dataferry.execution.commit import StagedOutput
    from dataferry.execution.materialise import BoundInput
    from dataferry.execution.plan_model import PlanNode
    from dataferry.execution.reuse import Decision, Fingerprint, ReuseAdvisor
    from dataferry.storage.transfer_progress import TransferSnapshot

log = logging.getLogger("dataferry.driver")

_KNOWN_LOCAL_TARGETS = {None, "", "local"}


class Cancelled(BaseException):
    """Raised at a preparation's next stage once it is cancelled.

    A ``BaseException``, like ``KeyboardInterrupt``: it is not an error of the step, so
    no handler that turns a storage failure into a ``StorageError`` may catch it.
    """


@dataclass(frozen=True)
class StepJob:
    """What preparing one step needs, taken by the loop when the step begins.

    ``upstream``: the output identity of each finished upstream node (for the
    fingerprint); ``producers``: the step run records of the finished upstream nodes
    (whose committed outputs the inputs read); ``outputs_cache``: committed outputs by
    step run id, shared by the run's preparations (committed outputs never change).
    """

    workspace: Workspace
    store: RunStore
    run: RunRecord
    node: PlanNode
    record: StepRunRecord
    folder: Path
    advisor: ReuseAdvisor
    upstream: Mapping[str, str]
    producers: Mapping[str, StepRunRecord]
    outputs_cache: dict[str, list[OutputRecord]]
    regenerate: bool
    forced: bool


@dataclass
class Preparation:
    """One step's preparation: what it made so far, and how it ended.

    ``step`` is the prepared process (None when the step is reused, or on error);
    ``error`` what stopped it. ``inputs`` and ``staged`` are what it made, which whoever
    ends the step removes if the step does not run.
    """

    job: StepJob
    report: Callable[[str, str], None]  # (node id, stage)
    done: Callable[[Preparation], None]
    fingerprint: Fingerprint | None = None
    decision: Decision | None = None
    inputs: list[BoundInput] = field(default_factory=list)
    staged: list[StagedOutput] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    step: PreparedStep | None = None
    error: Exception | None = None
    _cancel: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _handed_over: bool = False

    @property
    def node_id(self) -> str:
        """The node being prepared."""
        return self.job.node.node_id

    def run(self) -> None:
        """The worker's body: prepare, then hand the result to ``done``; a cancelled
        preparation removes what it made instead and hands nothing over."""
        try:
            self._prepare()
        except Cancelled:
            pass
        except Exception as exc:  # the step fails with it; the loop says how
            self.error = exc
        with self._lock:
            if self._cancel.is_set():
                self.clean_up()
                return
            self._handed_over = True
        self.done(self)

    def cancel(self) -> bool:
        """Ask the preparation to stop at its next stage.

        Returns:
            True if it had already handed its result over: the caller cleans up.
        """
        with self._lock:
            self._cancel.set()
            return self._handed_over

    def clean_up(self) -> None:
        """Remove what the preparation made: input places, staged outputs, leases."""
        release_inputs(self.inputs)
        for staged in self.staged:
            discard_output(staged)
        self.job.store.release_leases(self.job.record.id)

    def stage(self, text: str) -> None:
        """Say what the preparation does now.

        Raises:
            Cancelled: the preparation was cancelled.
        """
        self._checkpoint()
        self.report(self.node_id, text)

    def _checkpoint(self) -> None:
        if self._cancel.is_set():
            raise Cancelled

    # -- the work ---------------------------------------------------------------------

    def _prepare(self) -> None:
        # the inputs are listed once for fingerprint and binding (data.listing_scope)
        with one_listing():
            self._prepare_listed()

    def _prepare_listed(self) -> None:
        if self._decide_reuse():
            return
        job, node = self.job, self.job.node
        cwd = work_dir(job.folder)
        if on_ray_target(job.workspace, node.compute_target) and self._for_node(cwd):
            return
        self.stage("copying the source folder")
        remove_tree(str(cwd))  # an earlier attempt's, read-only views and all
        snapshot = local_snapshot(job.workspace, node.snapshot, node.name)
        shutil.copytree(snapshot, cwd, symlinks=True)
        (cwd / "outputs").mkdir(exist_ok=True)
        (cwd / "logs").mkdir(exist_ok=True)
        self._note_compute()
        self.stage("resolving the environment")
        resolved = resolve_environment(node.environment, job.workspace.path, self.stage)
        self.notes.extend(resolved.notes)
        ctx = InputContext(
            job.workspace,
            job.folder,
            cwd,
            dict(job.run.parameters),
            self._committed(),
            self.notes,
            job.store,
            report=self.stage,
            local_readers=not _on_ray(job.workspace, node.compute_target),
        )
        self._bind_inputs(ctx)
        self._stage_outputs(cwd)
        self.step = self._prepared_step(cwd, resolved.interpreter)

    def _for_node(self, cwd: Path) -> bool:
        """Resolve the inputs and stage the outputs for a step runner on another
        node; True if the step runs that way (it uses a datastore off this machine),
        False with nothing kept if it runs from this machine's folders."""
        job = self.job
        self.stage("resolving inputs")
        ctx = InputContext(
            job.workspace,
            job.folder,
            cwd,
            dict(job.run.parameters),
            self._committed(),
            self.notes,
            job.store,
            report=self.stage,
            resolve_only=True,
        )
        self._bind_inputs(ctx)
        self._stage_outputs(cwd)
        if not uses_remote_store(self.inputs, self.staged):
            self.clean_up()  # a folder every node sees: the shared-folder path
            self.inputs, self.staged = [], []
            return False
        self.stage("publishing the code snapshot")
        spec = node_spec(job, self.inputs, self.staged)
        self.step = replace(self._step_of([], str(cwd)), node_spec=spec)
        return True

    def _decide_reuse(self) -> bool:
        """Fingerprint the step and decide; True if an earlier step run serves it."""
        job, node = self.job, self.job.node
        self._checkpoint()  # "fingerprinting" is shown from the start
        with failures_at(
            f"step '{node.name}': its inputs could not be read to fingerprint them",
            self._read_places(),
        ):
            self.fingerprint, self.decision = judge(
                job.advisor,
                node,
                job.upstream,
                regenerate=job.regenerate,
                forced=job.forced,
                on_input=self._hashing,
            )
        log.info("step %s: %s", node.name, self.decision.explanation)
        return self.decision.reuse

    def _hashing(self, name: str) -> Callable[[TransferSnapshot], None]:
        """Show that input ``name`` is hashed, then how far (``hashing input 'raw':
        12.0 MB of 40.0 MB, 1 of 3 files, 6.0 MB/s, 4.7s left``)."""
        doing = f"hashing input '{name}'"
        self.stage(doing)
        return lambda snap: self.stage(f"{doing}: {snap.describe()}")

    def _read_places(self) -> list[str]:
        """Where fingerprinting reads: the data inputs (an upstream output counts by its
        producer's fingerprint, and is not read)."""
        return [
            f"input '{spec.name}': {place}"
            for spec in self.job.node.inputs
            if not isinstance(spec, UpstreamOutputInput)
            for place in input_places(spec, self.job.run.parameters, {})
        ]

    def _committed(self) -> dict[tuple[str, str], OutputRecord]:
        """The committed outputs of the upstream steps, by (node, output name in this
        run)."""
        committed = {}
        for node_id, record in self.job.producers.items():
            source = record.reused_from or record.id
            cache = self.job.outputs_cache
            if source not in cache:
                cache[source] = self.job.store.outputs_of(source)
            renamed = reused_names(record)
            for rec in cache[source]:
                committed[(node_id, renamed.get(rec.name, rec.name))] = rec
        return committed

    def _bind_inputs(self, ctx: InputContext) -> None:
        """Bind every input (what was made is kept in ``inputs`` for whoever ends the
        step)."""
        node = self.job.node
        for spec in node.inputs:
            self.stage(f"preparing input '{spec.name}'")
            with failures_at(
                f"step '{node.name}': input '{spec.name}' could not be prepared",
                input_places(spec, self.job.run.parameters, ctx.committed),
            ):
                self.inputs.append(bind_input(ctx, spec))

    def _stage_outputs(self, cwd: Path) -> None:
        job, node = self.job, self.job.node
        for spec in node.outputs:
            self.stage(f"staging output '{spec.name}'")
            with failures_at(
                f"step '{node.name}': output '{spec.name}' could not be prepared",
                [output_place(spec, job.record.id)],
            ):
                staged = stage_output(
                    job.workspace,
                    job.store,
                    spec,
                    run_id=job.run.id,
                    step_run_id=job.record.id,
                    step_dir=job.folder,
                    work_dir=cwd,
                )
                self.staged.append(staged)
            self._note_remote_mount_output(staged)

    def _note_remote_mount_output(self, staged: StagedOutput) -> None:
        """Say once that a mount-mode output on a remote datastore is written locally
        and committed at the end: nothing half-written is ever visible there."""
        where = staged.location
        if staged.spec.mode != "mount" or where.local_path(
            where.full_path(staged.path)
        ):
            return
        self.notes.append(
            f"output '{staged.name}': its datastore ({where.name}) is not on this "
            "machine, so the mount is a local folder whose files are committed to "
            f"{where.name}:/{staged.path} when the step succeeds, as in upload mode"
        )

    def _note_compute(self) -> None:
        target = self.job.node.compute_target
        if target in _KNOWN_LOCAL_TARGETS:
            return
        if not _configured(self.job.workspace, target):
            note = (
                f"compute target '{target}' is not configured in this workspace: "
                "step runs on the local executor"
            )
            self.notes.append(note)
            log.info("step %s: %s", self.job.node.name, note)

    def _prepared_step(self, cwd: Path, interpreter: str) -> PreparedStep:
        job, node = self.job, self.job.node
        contract = process_contract.StepProcess(
            job.workspace,
            job.run.id,
            job.run.experiment,
            job.run.parameters,
            node,
            job.record.id,
            self.inputs,
            self.staged,
            run_type=run_type_of(job.run.options),
            run_parent_id=job.run.options.get("parent_run_id"),
        )
        # the runner's contract phase: context file, notes, command line, variables
        command = step_command(
            contract, job.folder, cwd, interpreter=interpreter, notes=self.notes
        )
        return replace(
            self._step_of(command.argv, command.cwd),
            env=command.env,
            stdout_path=command.stdout_path,
            stderr_path=command.stderr_path,
        )

    def _step_of(self, argv: list[str], cwd: str) -> PreparedStep:
        job, node = self.job, self.job.node
        timeout = node.max_duration_s(job.run.parameters)
        return PreparedStep(
            step_run_id=job.record.id,
            name=node.name,
            argv=argv,
            cwd=cwd,
            env={},
            stdout_path=str(stdout_path(job.folder)),
            stderr_path=str(stderr_path(job.folder)),
            timeout_s=float(timeout) if timeout else None,
            compute_target=node.compute_target,
            resources=node.step_resources or None,
        )


def _on_ray(workspace: Workspace, target: str | None) -> bool:
    """True if the step runs on a Ray cluster: its processes may be on other nodes
    (other machines, or other mount namespaces), which see the step's folder through
    a shared folder but not a mount made here."""
    if target in _KNOWN_LOCAL_TARGETS:
        return False
    from dataferry.catalog.compute_store import ComputeStore
    from dataferry.data.compute_ray import RAY_KIND

    records = ComputeStore(workspace.catalog).list()
    return any(r.name == target and r.kind == RAY_KIND for r in records)


def _configured(workspace: Workspace, target: str | None) -> bool:
    """A target made by ``ComputeTarget.create`` (or ``dataferry compute create``), or
    one of the workspace's older ``compute_targets`` setting."""
    from dataferry.catalog.compute_store import ComputeStore

    catalog = workspace.catalog
    if target in (catalog.get_setting("compute_targets", {}) or {}):
        return True
    return any(record.name == target for record in ComputeStore(catalog).list())
