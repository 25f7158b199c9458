"""Two runs compared: which steps were added, removed or changed (and why), and
which parameters, input dataset versions, code-snapshot files and metrics differ.

Most of it is read from the reuse fingerprints the steps recorded: a step whose
fingerprint digest differs changed, and ``why_changed`` names each difference (the
same words a rerun's explanation uses); a fingerprint's ``source_files`` is its
code snapshot's manifest (file -> hash). Steps are matched by name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dataferry.catalog.run_store import RunStore
from dataferry.execution.reuse_explain import why_changed

if TYPE_CHECKING:
    from collections.abc import Mapping

    from dataferry.catalog.run_store import StepRunRecord
    from dataferry.data.workspace import Workspace

ADDED, REMOVED, CHANGED, SAME = "added", "removed", "changed", "same"


@dataclass(frozen=True, slots=True)
class StepChange:
    """A step by name: ``added`` (only in the right run), ``removed`` (only in the
    left), ``changed`` (fingerprints differ; ``reasons`` say how) or ``same``."""

    name: str
    change: str
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ValueChange:
    """A value that differs: ``key`` in the left run and in the right one (None where
    that run has none)."""

    key: str
    left: Any
    right: Any


@dataclass(frozen=True, slots=True)
class FileChange:
    """A file of a step's code snapshot: ``added``, ``removed`` or ``changed``."""

    step: str
    path: str
    change: str


@dataclass(frozen=True, slots=True)
class RunComparison:
    """What differs from run ``left`` to run ``right``; only differences are listed,
    except ``steps``, which lists every step of either run: the left run's in the
    order its step runs were created, then those only the right run has."""

    left: str
    right: str
    steps: tuple[StepChange, ...]
    parameters: tuple[ValueChange, ...]
    inputs: tuple[ValueChange, ...]
    files: tuple[FileChange, ...]
    metrics: tuple[ValueChange, ...]


def compare_runs(workspace: Workspace, left: str, right: str) -> RunComparison:
    """Compare run ``left`` (the older, usually) with run ``right``.

    Raises:
        RunNotFoundError: either id names no run.
    """
    store = RunStore(workspace.catalog)
    a, b = store.get_run(left), store.get_run(right)
    sa, sb = _by_name(store.step_runs(left)), _by_name(store.step_runs(right))
    both = [n for n in sa if n in sb]
    return RunComparison(
        left,
        right,
        tuple(_step_change(n, sa.get(n), sb.get(n)) for n in {**sa, **sb}),
        _differences(a.parameters, b.parameters),
        _differences(_inputs(workspace, sa, both), _inputs(workspace, sb, both)),
        tuple(f for n in both for f in _file_changes(n, sa[n], sb[n])),
        _differences(_metrics(store, left, sa), _metrics(store, right, sb)),
    )


def _by_name(records: list[StepRunRecord]) -> dict[str, StepRunRecord]:
    # a step retried after its node was lost has several step runs: the last counts
    return {r.step_name: r for r in records}


def _step_change(
    name: str, a: StepRunRecord | None, b: StepRunRecord | None
) -> StepChange:
    if a is None:
        return StepChange(name, ADDED)
    if b is None:
        return StepChange(name, REMOVED)
    if a.fingerprint is not None and a.fingerprint == b.fingerprint:
        return StepChange(name, SAME)
    new = b.details.get("fingerprint")
    if a.fingerprint is None or not isinstance(new, dict):
        return StepChange(name, CHANGED, ("no fingerprint recorded to compare",))
    why = why_changed(new, a).removeprefix("rerun: ")
    return StepChange(name, CHANGED, tuple(why.split("; ")))


def _differences(
    left: Mapping[str, Any], right: Mapping[str, Any]
) -> tuple[ValueChange, ...]:
    keys = sorted({*left, *right})
    return tuple(
        ValueChange(k, left.get(k), right.get(k))
        for k in keys
        if left.get(k) != right.get(k)
    )


def _inputs(
    workspace: Workspace, steps: Mapping[str, StepRunRecord], names: list[str]
) -> dict[str, str]:
    """``step/input`` -> what it read (``dataset name:version``, else the path) for
    the steps of both runs, from the lineage their step runs recorded."""
    store = RunStore(workspace.catalog)
    read: dict[str, str] = {}
    for name in names:
        source = steps[name].reused_from or steps[name].id
        for row in store.lineage_of(source):
            if row["role"] == "input":
                read[f"{name}/{row['name']}"] = _what(workspace, row)
    return read


def _what(workspace: Workspace, row: Mapping[str, Any]) -> str:
    dataset_id = row.get("dataset_id")
    if dataset_id:
        versions = workspace.catalog.versions_of_dataset(dataset_id)
        if versions:
            return ", ".join(f"{v.name}:{v.version}" for v in versions)
        return f"dataset {dataset_id}"  # an unregistered definition
    return f"{row.get('datastore')}/{row.get('path')}"


def _file_changes(name: str, a: StepRunRecord, b: StepRunRecord) -> list[FileChange]:
    old, new = _source_files(a), _source_files(b)
    changes = [FileChange(name, p, REMOVED) for p in sorted(old.keys() - new.keys())]
    changes += [FileChange(name, p, ADDED) for p in sorted(new.keys() - old.keys())]
    changes += [
        FileChange(name, p, CHANGED)
        for p in sorted(old.keys() & new.keys())
        if old[p] != new[p]
    ]
    return sorted(changes, key=lambda f: f.path)


def _source_files(record: StepRunRecord) -> dict[str, str]:
    fingerprint = record.details.get("fingerprint")
    files = fingerprint.get("source_files") if isinstance(fingerprint, dict) else None
    return dict(files) if isinstance(files, dict) else {}


def _metrics(
    store: RunStore, run_id: str, steps: Mapping[str, StepRunRecord]
) -> dict[str, Any]:
    """``name`` (a run's) or ``step/name`` (a step's) -> its last logged value; a
    reused step shows the metrics of the step run it reused."""
    label = {run_id: ""}
    label.update({r.reused_from or r.id: f"{n}/" for n, r in steps.items()})
    last: dict[str, Any] = {}
    for m in store.metrics_of(list(label)):
        last[f"{label[m.run_id]}{m.name}"] = m.value
    return last
