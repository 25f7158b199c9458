"""Inputs are read-only: what a step was given is compared with what is there after it.

The system refuses most writes (committed outputs are sealed, a mount is a folder of
links the step cannot change), but a step running as root ignores permissions. So when
a step ends, every input is checked without reading a byte: the committed output it
read against the signatures recorded at commit, a datastore's files against their
signatures when the step started, and a mount's view against what was put in it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from dataferry.errors import InputChangedError
from dataferry.storage.integrity import differences, tree_signatures

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry.catalog.run_store import OutputRecord, RunStore
    from dataferry.storage.location import FileSignature, StorageLocation


@dataclass
class InputChanges:
    """What changed under one input while its step ran; empty lists: nothing."""

    name: str
    output: OutputRecord | None  # the committed output the input reads, if any
    data: list[str] = field(default_factory=list)  # the bytes the input points at
    view: list[str] = field(default_factory=list)  # only the step's own view of them
    # changed datastore files (of an input that is not an output): where and which
    files: list[tuple[StorageLocation, str]] = field(default_factory=list)
    damaged: list[OutputRecord] = field(default_factory=list)  # outputs now damaged

    @property
    def any(self) -> bool:
        """True if anything changed."""
        return bool(self.data or self.view)


@dataclass
class InputGuard:
    """What one input was when its step started, to compare with when it ends."""

    name: str
    location: StorageLocation | None = None
    output: OutputRecord | None = None  # the committed output it reads, if any
    # local source files: full path -> (their datastore, signature)
    sources: dict[str, tuple[StorageLocation, FileSignature]] = field(
        default_factory=dict
    )
    view: Path | None = None  # the read-only view (mount), if one was made
    view_entries: dict[str, str] = field(default_factory=dict)

    def watch_files(self, location: StorageLocation, fulls: list[str]) -> None:
        """Remember the signatures of local source files (other ones are copied for the
        step, which can therefore not reach them)."""
        if location.reads_in_place:
            for full in fulls:
                self.sources[full] = (location, location.signature(full))

    def watch_view(self, view: Path) -> None:
        """Remember what a read-only view holds right after it was made."""
        self.view = view
        self.view_entries = view_entries(view)

    def changes(self) -> InputChanges:
        """Compare now with when the step started."""
        found = InputChanges(self.name, self.output)
        if self.output is not None and self.output.signatures is not None:
            assert self.location is not None
            now = tree_signatures(self.location, self.output.path)
            found.data = differences(
                self.output.signatures, now, root_name=_leaf(self.output.path)
            )
        else:
            for location, full, phrase in self._source_changes():
                found.data.append(phrase)
                found.files.append((location, full))
        if self.view is not None:
            found.view = _entry_changes(self.view_entries, view_entries(self.view))
        return found

    def _source_changes(self) -> list[tuple[StorageLocation, str, str]]:
        """(datastore, full path, what happened) of each watched file that changed."""
        changes = []
        for full, (location, old) in sorted(self.sources.items()):
            label = f"'{location.name}:/{location.relative_path(full)}'"
            try:
                st = os.stat(full)
            except FileNotFoundError:
                changes.append((location, full, f"{label} deleted"))
                continue
            if (st.st_size, st.st_mtime_ns, st.st_ino) != (
                old.size,
                old.mtime_ns,
                old.inode,
            ):
                how = (
                    f" ({old.size} -> {st.st_size} bytes)"
                    if old.size != st.st_size
                    else ""
                )
                changes.append((location, full, f"{label} changed{how}"))
        return changes


def _leaf(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def view_entries(root: Path) -> dict[str, str]:
    """``{path below root: what it is}``: a link's target, or a copied file's signature.

    A view that is a single link is keyed ``""``; a missing view is empty.
    """
    if os.path.islink(root):
        return {"": "-> " + os.readlink(root)}
    found = {}
    for dirpath, dirs, names in os.walk(root):
        for name in names + [d for d in dirs if os.path.islink(f"{dirpath}/{d}")]:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, root).replace(os.sep, "/")
            if os.path.islink(path):
                found[rel] = "-> " + os.readlink(path)
            else:
                st = os.lstat(path)
                found[rel] = f"{st.st_size} bytes, {st.st_mtime_ns}, {st.st_ino}"
    return found


def _entry_changes(before: dict[str, str], after: dict[str, str]) -> list[str]:
    changes = []
    for rel in sorted(set(before) | set(after)):
        label = f"'{rel or 'the mounted file'}'"
        if rel not in after:
            changes.append(f"{label} deleted")
        elif rel not in before:
            changes.append(f"{label} added")
        elif before[rel] != after[rel]:
            changes.append(f"{label} changed")
    return changes


def describe(step: str, found: InputChanges) -> str:
    """The error a step fails with when one of its inputs changed."""
    what = f"step '{step}': input '{found.name}' is read-only, but "
    if found.data:
        what += f"its data changed while the step ran: {', '.join(found.data)}. "
        if found.damaged:
            named = ", ".join(
                f"output '{o.name}' of step run {o.step_run_id}" for o in found.damaged
            )
            verb = "is" if len(found.damaged) == 1 else "are"
            what += (
                f"{named[0].upper()}{named[1:]} {verb} marked damaged: reuse will not "
                "serve it and datasets that read it refuse to; run the pipeline again "
                "to write it anew. "
            )
        else:
            what += "Those are datastore files, not a pipeline output: check them. "
    else:
        what += (
            f"the step changed its mounted view: {', '.join(found.view)} (the data "
            "itself is unchanged). "
        )
    return what + (
        "A step that needs to change input files should read them with as_download() "
        "(its own writable copy) and write results to an output."
    )


def check_inputs(
    step: str, step_run_id: str, guards: list[InputGuard], store: RunStore
) -> InputChangedError | None:
    """Compare every input of an ended step with its start; mark changed outputs damaged.

    Returns:
        The error the step fails with (naming each changed input and file), or None.
    """
    messages = []
    for guard in guards:
        found = guard.changes()
        if not found.any:
            continue
        if found.data:
            found.damaged = (
                [found.output]
                if found.output is not None
                else _outputs_holding(store, found.files)
            )
        for output in found.damaged:
            store.mark_output_damaged(
                output.step_run_id,
                output.name,
                f"{', '.join(found.data)}; found when step '{step}' (step run "
                f"{step_run_id}) ended",
            )
        messages.append(describe(step, found))
    return InputChangedError("\n".join(messages)) if messages else None


def _outputs_holding(
    store: RunStore, files: list[tuple[StorageLocation, str]]
) -> list[OutputRecord]:
    """The committed outputs that hold any of ``files``: an input that is a dataset
    (a registered version, say) may read an output's files without being that output."""
    found: dict[tuple[str, str], OutputRecord] = {}
    live: dict[str, list[OutputRecord]] = {}
    for location, full in files:
        if location.name not in live:
            live[location.name] = store.live_outputs(location.name)
        for rec in live[location.name]:
            root = location.full_path(rec.path).rstrip("/")
            if full == root or full.startswith(root + "/"):
                found[(rec.step_run_id, rec.name)] = rec
    return list(found.values())
