"""Deciding whether a step can reuse an earlier run's outputs, and saying why (not).

A step's fingerprint covers its definition (name, script, arguments, parameter values,
bindings), the content of its source folder, the runtime environment, and the *content*
of every input: datastore files by content hash (cached by signature, so an unchanged
input is not read again), upstream outputs by their producer's fingerprint. A step is
reused when an earlier successful step run has the same fingerprint and all its outputs
are still there.
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dataferry.catalog.hash_cache import HashCache
from dataferry.data.abstract_dataset import build_dataset
from dataferry.data.datastore import Datastore
from dataferry.data.file_dataset import FileDataset
from dataferry.execution.snapshot import read_manifest
from dataferry.storage.hashing import content_hashes, hash_bytes
from dataferry.storage.integrity import differences, tree_signatures

if TYPE_CHECKING:
    from dataferry.catalog.run_store import RunStore, StepRunRecord
    from dataferry.data.sources import ResolvedFile
    from dataferry.data.workspace import Workspace

log = logging.getLogger(__name__)

# an input's per-file hashes are kept for explanations up to this many files
MAX_EXPLAINED_FILES = 10_000
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
    """A step's fingerprint and the parts it is made of (kept to explain reruns)."""

    digest: str
    parts: dict[str, Any]
    source_files: dict[str, str] = field(default_factory=dict)
    input_files: dict[str, dict[str, str]] = field(default_factory=dict)

    def to_details(self) -> dict[str, Any]:
        """What is stored in the step run's details."""
        return {
            "digest": self.digest,
            "parts": self.parts,
            "source_files": self.source_files,
            "input_files": self.input_files,
        }


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


def environment_digest(interpreter: str) -> str:
    """Python version and installed distributions of an interpreter."""
    if Path(interpreter).resolve() == Path(sys.executable).resolve():
        from importlib import metadata

        packages = sorted(
            f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions()
        )
        return _digest([sys.version, packages])
    code = (
        "import sys, json; from importlib import metadata; "
        "print(json.dumps([sys.version, sorted(f\"{d.metadata['Name']}=={d.version}\" for d in metadata.distributions())]))"
    )
    out = subprocess.run(
        [interpreter, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    return _digest(out.stdout if out.returncode == 0 else f"unknown:{interpreter}")


class ReuseAdvisor:
    """Fingerprints steps of one run and finds earlier step runs to reuse."""

    def __init__(
        self, workspace: Workspace, store: RunStore, parameters: dict[str, Any]
    ) -> None:
        self.ws = workspace
        self.store = store
        self.parameters = parameters
        self.cache = HashCache(workspace.catalog)
        self._env: dict[str, str] = {}
        self.step_names: dict[str, str] = {}  # node id -> step name, for explanations
        self.rerun_from: str | None = (
            None  # the step a rerun starts from, for explanations
        )

    # -- fingerprint ------------------------------------------------------------------

    def fingerprint(
        self, node: dict[str, Any], upstream: dict[str, str]
    ) -> Fingerprint:
        """The fingerprint of one plan node; ``upstream`` maps node id -> its fingerprint."""
        used = self._parameters_used(node)
        definition = {
            k: v
            for k, v in node.items()
            if k not in _NOT_HASHED and k not in ("inputs", "arguments", "outputs")
        }
        interpreter = node["interpreter"]
        if interpreter not in self._env:
            self._env[interpreter] = environment_digest(interpreter)
        inputs: dict[str, str] = {}
        input_files: dict[str, dict[str, str]] = {}
        for spec in node["inputs"]:
            digest, files = self._input(spec, upstream)
            inputs[spec["name"]] = digest
            if files is not None:
                input_files[spec["name"]] = files
        parts = {
            "definition": _digest(definition),
            "arguments": _digest(node["arguments"]),
            "parameters": {k: _digest(v) for k, v in used.items()},
            "bindings": _digest(
                [
                    {k: v for k, v in s.items() if k not in ("producer",)}
                    for s in node["inputs"]
                ]
                + node["outputs"]
            ),
            "source": node["snapshot_hash"],
            "environment": self._env[interpreter],
            "inputs": inputs,
        }
        return Fingerprint(
            _digest(parts), parts, read_manifest(Path(node["snapshot"])), input_files
        )

    def _parameters_used(self, node: dict[str, Any]) -> dict[str, Any]:
        names = set()
        for item in [
            *node["arguments"],
            *node["params"].values(),
            *node.get("runconfig_params", {}).values(),
            *node["inputs"],
        ]:
            if isinstance(item, dict) and "param" in item:
                names.add(item["param"])
        return {n: self.parameters.get(n) for n in sorted(names)}

    def _input(
        self, spec: dict[str, Any], upstream: dict[str, str]
    ) -> tuple[str, dict[str, str] | None]:
        if spec["kind"] == "output":
            return _digest(
                [upstream[spec["producer"]], spec["output"], spec.get("view")]
            ), None
        if spec["kind"] == "dataset":
            data = (
                self.parameters[spec["param"]]["dataset"]
                if "param" in spec
                else spec["dataset"]
            )
            dataset = build_dataset(data["kind"], data["definition"], self.ws)
            # a mount of nothing is an empty folder (see materialise): no files
            nothing_ok = spec["mode"] == "mount"
            files = (
                dataset._files(ignore_not_found=nothing_ok)
                if isinstance(dataset, FileDataset)
                else dataset._source_files()
            )
            what = {"kind": data["kind"], "definition": data["definition"]}
        else:
            if "param" in spec:
                value = self.parameters[spec["param"]]["datapath"]
                store, path = value["datastore"], value["path"]
            else:
                store, path = spec["datastore"], spec["path"]
            files = FileDataset(
                {
                    "sources": [{"datastore": store, "path": path}],
                    "format": None,
                    "transforms": [],
                },
                self.ws,
            )._files(ignore_not_found=spec["mode"] == "mount")
            what = {"datastore": store, "path": path}
        hashes = self._hash_files(files)
        digest = _digest([what, sorted(hashes.items())])
        return digest, (hashes if len(hashes) <= MAX_EXPLAINED_FILES else None)

    def _hash_files(self, files: list[ResolvedFile]) -> dict[str, str]:
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
            )
            display = {f.full: f.display for f in group}
            out.update({display[h.signature.path]: h.content_hash for h in hashed})
        return out

    # -- decision ---------------------------------------------------------------------

    def decide(
        self,
        node: dict[str, Any],
        fp: Fingerprint,
        *,
        regenerate: bool,
        forced: bool = False,
    ) -> Decision:
        """Reuse an earlier step run with the same fingerprint and all outputs, or say why not."""
        if not node["allow_reuse"]:
            return Decision(False, "rerun: allow_reuse=False")
        if regenerate:
            return Decision(False, "rerun: regenerate_outputs=True")
        if forced:
            return Decision(False, self._forced_reason(node))
        gone = None
        seen: set[str] = set()
        for candidate in self.store.finished_with_fingerprint(fp.digest):
            original = self._original(candidate)
            if original is None or original.id in seen:
                continue
            seen.add(original.id)
            missing, changed = self._unusable_outputs(original)
            if not missing and not changed:
                return Decision(
                    True,
                    f"reused from run {original.run_id} (step run {original.id})",
                    original,
                )
            gone = gone or (original, missing, changed)
        if gone is not None:
            return Decision(False, _unusable_reason(*gone))
        return Decision(False, self._why_changed(node, fp))

    def _forced_reason(self, node: dict[str, Any]) -> str:
        start = self.rerun_from
        if start is None or start in (node["name"], node["node_id"]):
            return "rerun: asked to rerun from this step"
        return f"rerun: downstream of step '{start}', which was asked to rerun"

    def _original(self, candidate: StepRunRecord) -> StepRunRecord | None:
        """The step run that wrote the outputs (a reuse record points at it)."""
        if candidate.reused_from is None:
            return candidate
        try:
            return self.store.get_step_run(candidate.reused_from)
        except LookupError:
            return None

    def _unusable_outputs(self, original: StepRunRecord) -> tuple[list[str], list[str]]:
        """The outputs of ``original`` that are gone, and those whose files no longer
        match the signatures recorded at commit (size, mtime, inode or etag: nothing is
        read). Both are recorded, so the next look is cheap."""
        source = original.id
        missing: list[str] = []
        changed: list[str] = []
        for rec in self.store.outputs_of(source):
            if rec.deleted_at is not None:
                missing.append(rec.name)
                continue
            if rec.damage is not None:
                changed.append(f"{rec.name}: {rec.damage}")
                continue
            try:
                location = Datastore.get(self.ws, rec.datastore).location
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
                        f"{', '.join(changes)}; found by a reuse check",
                    )
                    changed.append(f"{rec.name}: {', '.join(changes)}")
        return missing, changed

    def _why_changed(self, node: dict[str, Any], fp: Fingerprint) -> str:
        previous = self.store.latest_finished_step(node["name"])
        if previous is None or "fingerprint" not in previous.details:
            return "run: first run of this step, nothing to reuse"
        old = previous.details["fingerprint"]
        old_parts, new_parts = old["parts"], fp.parts
        reasons: list[str] = []
        if old_parts["source"] != new_parts["source"]:
            reasons.append(self._source_reason(previous, fp))
        for name, digest in new_parts["inputs"].items():
            if old_parts["inputs"].get(name) != digest:
                reasons.append(
                    _input_reason(
                        name,
                        old.get("input_files", {}).get(name),
                        fp.input_files.get(name),
                        node,
                        self.step_names,
                    )
                )
        for name, digest in new_parts["parameters"].items():
            if old_parts["parameters"].get(name) != digest:
                reasons.append(f"parameter '{name}' changed")
        for key, label in (
            ("arguments", "arguments changed"),
            ("bindings", "inputs or outputs changed"),
            ("definition", "step definition changed"),
            ("environment", "runtime environment changed"),
        ):
            if old_parts[key] != new_parts[key]:
                reasons.append(label)
        return "rerun: " + (
            "; ".join(reasons) if reasons else "inputs or definition changed"
        )

    def _source_reason(self, previous: StepRunRecord, fp: Fingerprint) -> str:
        old_files: dict[str, str] = previous.details.get("fingerprint", {}).get(
            "source_files", {}
        )
        new_files = fp.source_files
        changed = sorted(
            p for p in new_files if p in old_files and old_files[p] != new_files[p]
        )
        added = sorted(set(new_files) - set(old_files))
        removed = sorted(set(old_files) - set(new_files))
        parts = [f"source file {p} changed" for p in changed[:3]]
        parts += [f"source file {p} added" for p in added[:3]]
        parts += [f"source file {p} removed" for p in removed[:3]]
        extra = len(changed) + len(added) + len(removed) - len(parts)
        if extra > 0:
            parts.append(f"{extra} more source files differ")
        return "; ".join(parts) or "source files changed"


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


def _input_reason(
    name: str,
    old: dict[str, str] | None,
    new: dict[str, str] | None,
    node: dict[str, Any],
    step_names: dict[str, str],
) -> str:
    spec: dict[str, Any] = next((s for s in node["inputs"] if s["name"] == name), {})
    if spec.get("kind") == "output":
        producer = step_names.get(spec["producer"], spec["producer"])
        return f"input '{name}' changed: upstream step '{producer}' produced new output"
    if old is None or new is None:
        return f"input '{name}' changed"
    differ = sum(1 for p in set(old) | set(new) if old.get(p) != new.get(p))
    return f"input '{name}' changed: {differ} file{' differs' if differ == 1 else 's differ'}"
