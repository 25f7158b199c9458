"""Deciding whether a step can reuse an earlier run's outputs, and saying why (not).

A step's fingerprint covers its definition (name, script, arguments, parameter values,
bindings), the content of its source folder, the runtime environment, and the *content*
of every input: datastore files by content hash (cached by signature, so an unchanged
input is not read again), upstream outputs by their producer's fingerprint. Generated
port names stay out of it: a port is seen by its place, or by the name the user gave
(``port_identity``). A step is reused when an earlier successful step run has the same
fingerprint and all its outputs are still there.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from dataferry.catalog.hash_cache import HashCache
from dataferry.data.abstract_dataset import build_dataset
from dataferry.data.datastore import Datastore
from dataferry.data.file_dataset import FileDataset
from dataferry.execution.environment_digest import environment_digest
from dataferry.execution.environments import environment_key
from dataferry.execution.plan_inputs import (
    DatasetInput,
    InputBinding,
    UpstreamOutputInput,
)
from dataferry.execution.port_identity import (
    NameTokens,
    canonical_node,
    hashable_port,
    output_tokens,
    port_names,
    positional_arguments,
)
from dataferry.execution.reuse_explain import why_changed
from dataferry.execution.shared_snapshots import fetch_snapshot
from dataferry.execution.snapshot import read_manifest
from dataferry.storage.hashing import content_hashes, hash_bytes
from dataferry.storage.integrity import differences, tree_signatures
from dataferry.storage.location import REPORT_EVERY_S

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence

    from dataferry.catalog.run_store import OutputRecord, RunStore, StepRunRecord
    from dataferry.data.sources import ResolvedFile
    from dataferry.data.workspace import Workspace
    from dataferry.execution.plan_json import StoredNodes
    from dataferry.execution.plan_model import PlanNode
    from dataferry.storage.location import FileSignature, StorageLocation
    from dataferry.storage.transfer_progress import TransferSnapshot

    # told the bytes and files hashed of one input as they are read
    HashReport = Callable[[TransferSnapshot], None]

log = logging.getLogger(__name__)

# an input's per-file hashes are kept for explanations up to this many files
MAX_EXPLAINED_FILES = 10_000
# the end of a damage a reuse check records (the catalog keeps where it was found)
FOUND_BY_CHECK = "; found by a reuse check"
# allow_reuse says whether to look for an earlier run, not what the step computes: a run
# made with allow_reuse=False serves a later run with allow_reuse=True
_NOT_HASHED = (
    "snapshot",
    "snapshot_hash",
    "interpreter",
    "upstream",
    "node_id",
    "compute_target",
    "allow_reuse",
)


def _digest(value: Any) -> str:
    return hash_bytes(
        json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    )


@dataclass
class Fingerprint:
    """A step's fingerprint and the parts it is made of (kept to explain reruns).

    ``digest`` is made of ``parts`` alone. The rest is kept for explanations and for
    reuse: per-file hashes and what each input reads (by input identity), the ports as
    the fingerprint sees them with the names they have in this run, and the arguments
    with port references as positions.
    """

    digest: str
    parts: dict[str, Any]
    source_files: dict[str, str] = field(default_factory=dict)
    input_files: dict[str, dict[str, str]] = field(default_factory=dict)
    input_sources: dict[str, dict[str, Any]] = field(default_factory=dict)
    ports: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    port_names: dict[str, list[str]] = field(default_factory=dict)
    arguments: list[Any] = field(default_factory=list)

    def to_details(self) -> dict[str, Any]:
        """What is stored in the step run's details."""
        return {
            "digest": self.digest,
            "parts": self.parts,
            "source_files": self.source_files,
            "input_files": self.input_files,
            "input_sources": self.input_sources,
            "ports": self.ports,
            "port_names": self.port_names,
            "arguments": self.arguments,
        }


@dataclass
class _InputSeen:
    """One input as the fingerprint sees it: its digest, its files' hashes, what it reads."""

    digest: str
    files: dict[str, str] | None
    source: dict[str, Any]


@dataclass
class Decision:
    """Reuse ``reused_from``'s outputs (the step run that wrote them), or run; ``explanation`` says why."""

    reuse: bool
    explanation: str
    reused_from: StepRunRecord | None = None


def output_identity(fingerprint: str, producer: StepRunRecord) -> str:
    """What a downstream step's fingerprint takes from the step whose outputs it reads.

    The producer's fingerprint *and* the step run whose bytes are read (the original
    one, for a reused step): when a step runs again with an unchanged fingerprint
    (allow_reuse=False, or its earlier output was deleted), it writes new bytes, so the
    steps reading them run again too instead of reusing results computed from bytes
    that are gone.
    """
    return _digest([fingerprint, producer.reused_from or producer.id])


def judge(
    advisor: ReuseAdvisor,
    node: PlanNode,
    upstream: Mapping[str, str],
    *,
    regenerate: bool,
    forced: bool,
    on_input: Callable[[str], HashReport | None] | None = None,
) -> tuple[Fingerprint, Decision]:
    """Fingerprint ``node`` and decide whether an earlier step run serves it: the one
    reuse decision, made by a driver's preparation and by the agent for a run it
    records as wholly reused (``reused_run``).

    Args:
        advisor: the run's advisor (its plan and parameters known).
        node: the step to decide.
        upstream: node id -> ``output_identity`` of each upstream step it reads.
        regenerate: the run's ``regenerate_outputs``.
        forced: the step is to run again (a rerun from it or from upstream).
        on_input: as ``ReuseAdvisor.fingerprint``.

    Returns:
        The fingerprint and the decision.

    Raises:
        Exception: whatever reading or hashing the inputs raised (``StorageError``,
            ``OSError``, a dataset's error).
    """
    fp = advisor.fingerprint(node, dict(upstream), on_input=on_input)
    return fp, advisor.decide(node, fp, regenerate=regenerate, forced=forced)


class ReuseAdvisor:
    """Fingerprints steps of one run and finds earlier step runs to reuse."""

    def __init__(
        self, workspace: Workspace, store: RunStore, parameters: dict[str, Any]
    ) -> None:
        self.ws = workspace
        self.store = store
        self.parameters = parameters
        self.cache = HashCache(workspace.catalog)
        self._env: dict[tuple[str, str], str] = {}
        self._locations: dict[str, StorageLocation] = {}
        self.step_names: dict[str, str] = {}  # node id -> step name, for explanations
        # generated port names and the tokens the fingerprint sees instead
        self.tokens = NameTokens({})
        self.rerun_from: str | None = (
            None  # the step a rerun starts from, for explanations
        )

    # -- fingerprint ------------------------------------------------------------------

    def use_plan(self, nodes: Sequence[PlanNode]) -> None:
        """Learn the run's step names and generated port names from its plan nodes."""
        self.step_names = {n.node_id: n.name for n in nodes}
        self.tokens = NameTokens.of_nodes(nodes)

    def use_stored_plan(self, stored: StoredNodes) -> None:
        """As ``use_plan``, from a stored plan's nodes, without building them: the
        agent builds them one by one, and only until a step cannot be reused.

        Raises:
            KeyError, TypeError, AttributeError: a malformed node.
        """
        self.step_names = {n["node_id"]: n["name"] for n in stored.nodes}
        self.tokens = NameTokens(output_tokens(stored.generated_outputs()))

    def fingerprint(
        self,
        node: PlanNode,
        upstream: dict[str, str],
        *,
        on_input: Callable[[str], HashReport | None] | None = None,
    ) -> Fingerprint:
        """The fingerprint of one plan node; ``upstream`` maps node id -> its fingerprint.

        Generated port names are replaced by the ports' places first (``use_plan``
        gives the names), so the same pipeline built again has the same fingerprint.
        ``on_input(name)`` is called before each input whose files are read (hashed,
        or their hashes looked up); whatever it raises stops the fingerprint there. What
        it returns, if not None, is told the input's hashing progress as the bytes are
        read (bytes and files of those not cached, rate, time left; per datastore).
        """
        canon = canonical_node(node, self.tokens.of(node))
        # another folder's run: its snapshot (and manifest) fetched from the shared store
        fetch_snapshot(self.ws, node.snapshot)
        fp = Fingerprint("", {}, read_manifest(self.ws.path / node.snapshot))
        inputs: dict[str, str] = {}
        for spec, seen_as in zip(node.inputs, canon["inputs"], strict=True):
            key = seen_as["name"]
            report = None
            if on_input is not None and not isinstance(spec, UpstreamOutputInput):
                report = on_input(spec.name)
            seen = self._input(spec, seen_as.get("output"), upstream, report)
            inputs[key] = seen.digest
            fp.input_sources[key] = seen.source
            if seen.files is not None:
                fp.input_files[key] = seen.files
        fp.parts = self._parts(node, canon, inputs)
        fp.digest = _digest(fp.parts)
        fp.ports = {"inputs": canon["inputs"], "outputs": canon["outputs"]}
        fp.port_names = port_names(node)
        fp.arguments = positional_arguments(canon)
        return fp

    def _parts(
        self, node: PlanNode, canon: dict[str, Any], inputs: dict[str, str]
    ) -> dict[str, Any]:
        definition = {
            k: v
            for k, v in canon.items()
            if k not in _NOT_HASHED and k not in ("inputs", "arguments", "outputs")
        }
        interpreter = node.environment.resolve_interpreter()
        # a venv built for the environment's packages counts by its key (nothing is
        # built to fingerprint); without one the digest is the interpreter's alone
        venv = environment_key(node.environment)
        if (interpreter, venv) not in self._env:
            digest = environment_digest(interpreter)
            self._env[(interpreter, venv)] = _digest([digest, venv]) if venv else digest
        used = {n: self.parameters.get(n) for n in sorted(node.parameters_used())}
        return {
            "definition": _digest(definition),
            "arguments": _digest(canon["arguments"]),
            "parameters": {k: _digest(v) for k, v in used.items()},
            "bindings": _digest(
                [hashable_port(s, drop=("producer",)) for s in canon["inputs"]]
                + [hashable_port(o) for o in canon["outputs"]]
            ),
            "source": node.snapshot_hash,
            "environment": self._env[(interpreter, venv)],
            "inputs": inputs,
        }

    def _input(
        self,
        spec: InputBinding,
        output_id: str | None,
        upstream: dict[str, str],
        report: HashReport | None = None,
    ) -> _InputSeen:
        """``output_id``: for another step's output, the output's identity (not its name)."""
        if isinstance(spec, UpstreamOutputInput):
            view = spec.view.to_json()
            source = {
                "producer": self.step_names.get(spec.producer, spec.producer),
                "output": spec.output,
                "output_id": output_id,
                "view": view,
            }
            digest = _digest([upstream[spec.producer], output_id, view])
            return _InputSeen(digest, None, source)
        # a mount of nothing is an empty folder (see materialise): no files
        nothing_ok = spec.mode == "mount"
        what: dict[str, Any]
        if isinstance(spec, DatasetInput):
            data = spec.resolve(self.parameters)
            dataset = build_dataset(data.kind, data.definition, self.ws)
            files = (
                dataset._files(ignore_not_found=nothing_ok)
                if isinstance(dataset, FileDataset)
                else dataset._source_files()
            )
            what = {"kind": data.kind, "definition": data.definition}
        else:
            ref = spec.resolve(self.parameters)
            files = FileDataset(
                {"sources": [ref.to_json()], "format": None, "transforms": []},
                self.ws,
            )._files(ignore_not_found=nothing_ok)
            what = ref.to_json()
        hashes = self._hash_files(files, report)
        digest = _digest([what, sorted(hashes.items())])
        kept = hashes if len(hashes) <= MAX_EXPLAINED_FILES else None
        return _InputSeen(digest, kept, what)

    def _hash_files(
        self, files: list[ResolvedFile], report: HashReport | None = None
    ) -> dict[str, str]:
        by_location: dict[str, list[ResolvedFile]] = {}
        for f in files:
            by_location.setdefault(f.location.name, []).append(f)
        out: dict[str, str] = {}
        for group in by_location.values():
            location = group[0].location
            if location.name in (
                "http",
                "https",
            ):  # no listing signature: hash the URL itself
                out.update({f.display: hash_bytes(f.full.encode()) for f in group})
                continue
            hashed = content_hashes(
                location,
                [f.full for f in group],
                cached=self.cache.lookup,
                remember=self.cache.remember,
                report=report,
                report_every_s=REPORT_EVERY_S,
                listed=_listed_signatures(group),
            )
            display = {f.full: f.display for f in group}
            out.update({display[h.signature.path]: h.content_hash for h in hashed})
        return out

    # -- decision ---------------------------------------------------------------------

    def decide(
        self,
        node: PlanNode,
        fp: Fingerprint,
        *,
        regenerate: bool,
        forced: bool = False,
    ) -> Decision:
        """Reuse an earlier step run with the same fingerprint and all outputs, or say why not."""
        if not node.allow_reuse:
            return Decision(False, "rerun: allow_reuse=False")
        if regenerate:
            return Decision(False, "rerun: regenerate_outputs=True")
        if forced:
            return Decision(False, self._forced_reason(node))
        gone = None
        candidates, latest = self.store.reuse_lookup(fp.digest, node.name)
        for original, committed in candidates:
            missing, changed = self._unusable_outputs(original, committed)
            if not missing and not changed:
                return Decision(
                    True,
                    f"reused from run {original.run_id} (step run {original.id})",
                    original,
                )
            gone = gone or (original, missing, changed)
        if gone is not None:
            return Decision(False, _unusable_reason(*gone))
        return Decision(False, why_changed(fp.to_details(), latest))

    def _forced_reason(self, node: PlanNode) -> str:
        start = self.rerun_from
        if start is None or start in (node.name, node.node_id):
            return "rerun: asked to rerun from this step"
        return f"rerun: downstream of step '{start}', which was asked to rerun"

    def _unusable_outputs(
        self, original: StepRunRecord, committed: list[OutputRecord]
    ) -> tuple[list[str], list[str]]:
        """The outputs ``committed`` by ``original`` that are gone, and those whose
        files no longer match the signatures recorded at commit (size, mtime, inode or
        etag: nothing is read). Both are recorded, so the next look is cheap."""
        source = original.id
        missing: list[str] = []
        changed: list[str] = []
        for rec in committed:
            if rec.deleted_at is not None:
                missing.append(rec.name)
                continue
            if rec.damage is not None:
                # what changed, whoever found it: an earlier check (the agent's look
                # before it forks a driver) recorded it with where it was found
                changed.append(f"{rec.name}: {rec.damage.removesuffix(FOUND_BY_CHECK)}")
                continue
            try:
                location = self._location(rec.datastore)
                present = location.exists(rec.path)
            except LookupError:
                present = False
            if not present:  # deleted behind our back
                self.store.mark_output_deleted(source, rec.name)
                missing.append(rec.name)
            elif rec.signatures is not None:
                now = tree_signatures(location, rec.path)
                leaf = rec.path.rstrip("/").rsplit("/", 1)[-1]
                changes = differences(rec.signatures, now, root_name=leaf)
                if changes:
                    self.store.mark_output_damaged(
                        source,
                        rec.name,
                        f"{', '.join(changes)}{FOUND_BY_CHECK}",
                    )
                    changed.append(f"{rec.name}: {', '.join(changes)}")
        return missing, changed

    def _location(self, datastore: str) -> StorageLocation:
        """Where a datastore's files are, looked up once per run (a catalog read each
        time was a third of a reused step's decision).

        Raises:
            LookupError: no datastore has that name.
        """
        if datastore not in self._locations:
            self._locations[datastore] = Datastore.get(self.ws, datastore).location
        return self._locations[datastore]


def _unusable_reason(
    original: StepRunRecord, missing: list[str], changed: list[str]
) -> str:
    reasons = []
    if missing:
        reasons.append(
            f"earlier output was deleted ({', '.join(missing)} of run {original.run_id})"
        )
    if changed:
        reasons.append(
            "earlier output was changed after it was committed "
            f"({'; '.join(changed)}; run {original.run_id})"
        )
    return "rerun: " + "; ".join(reasons)


def _listed_signatures(files: list[ResolvedFile]) -> dict[str, FileSignature]:
    """The signatures the files' listings gave (etags on an object store): the
    fingerprint then asks the store nothing more."""
    return {
        f.full: f.pin.listed[f.full]
        for f in files
        if f.pin is not None and f.full in f.pin.listed
    }
