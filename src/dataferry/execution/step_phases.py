"""The phases of one step run that every executor shares, around its process.

A step run is: prepare (bind inputs, stage outputs), then the contract (the context
file, the notes at the top of its log, its command line and ``AZUREML_*``
environment: ``step_command``), then its process, then, once that exited, the hand
over (each output's files put at its datastore's staging prefix) and the small result
the driver commits from (``finish``). The step runner on a Ray node
(``step_runner.run_on_node``) and the local executor's preparation and commit call
these same functions; only how the process is started and waited for differs (a
Ray task runs it in-line, the driver's loop polls a local one).
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.execution import process_contract
from dataferry.execution.node_spec import NodeResult, StagedOnNode
from dataferry.execution.run_layout import stderr_path, stdout_path

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence

    from dataferry.execution.commit import StagedOutput


@dataclass(frozen=True)
class StepCommand:
    """A step's process as the contract makes it: command line, working folder,
    environment (``AZUREML_*`` and the rest) and log files."""

    argv: list[str]
    cwd: str
    env: dict[str, str]
    stdout_path: str
    stderr_path: str


def step_command(
    contract: process_contract.StepProcess,
    folder: Path,
    cwd: Path,
    *,
    interpreter: str,
    notes: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> StepCommand:
    """Write the step's context file and its ``notes`` (what binding and staging
    said: the first lines of its stdout log), and return its command.

    Args:
        contract: what the step's process is given (``process_contract``).
        folder: the step's folder (logs, context file); ``cwd`` its working folder.
        interpreter: the Python its environment resolved to.
        extra_env: set on top of the contract's variables (a Ray cluster's address).

    Raises:
        OSError: the step's folder cannot be written.
    """
    process_contract.write_context(contract, folder)
    out = stdout_path(folder)
    out.parent.mkdir(parents=True, exist_ok=True)
    if notes:
        with open(out, "a", encoding="utf-8") as fh:
            fh.writelines(f"dataferry: {note}\n" for note in notes)
    return StepCommand(
        argv=process_contract.argv(contract, cwd, interpreter=interpreter),
        cwd=str(cwd),
        env={**process_contract.environment(contract, folder), **(extra_env or {})},
        stdout_path=str(out),
        stderr_path=str(stderr_path(folder)),
    )


def finish(
    code: int,
    staged: Iterable[StagedOutput],
    folder: Path,
    *,
    snapshot_fetched: bool = False,
    notes: Sequence[str] = (),
) -> NodeResult:
    """The step's result once its process exited with ``code``: when it succeeded,
    each output handed over (``hand_over``); when it failed, nothing (whoever ends
    the step discards what it staged).

    Raises:
        StorageError: a datastore failed while an output was put at its staging
            prefix (nothing is committed; the caller discards).
    """
    handed = tuple(hand_over(o) for o in staged) if code == 0 else ()
    return NodeResult(code, handed, snapshot_fetched, str(folder), tuple(notes))


def hand_over(staged: StagedOutput) -> StagedOnNode:
    """Put what the step wrote at its datastore's staging prefix for this output
    (already there on a local-folder datastore, which stages in place, or in the
    output's ``source`` folder, which its commit moves), keeping only the files its
    ``source_globs`` name; return where it is and which files it has.

    Raises:
        StorageError: the datastore failed while the files were put there.
    """
    location, write_dir = staged.location, staged.write_dir
    prefix = location.staging.staging_prefix(staged.step_run_id, staged.name)
    if not os.path.lexists(write_dir):
        write_dir.mkdir(parents=True)  # nothing written: an empty output, not an error
    _keep_globs(write_dir, staged.spec.source_globs)
    files = _listed(write_dir)
    if location.local_path(location.full_path(prefix)) is None:
        pairs = [
            (
                str(write_dir / rel) if rel else str(write_dir),
                f"{prefix}/{rel}".rstrip("/"),
            )
            for rel in files
        ]
        location.put_files(pairs, overwrite=True, show_progress=False)
    return StagedOnNode(staged.name, location.name, staged.path, prefix, files)


def discard(staged: Iterable[StagedOutput]) -> None:
    """Remove what a step that did not succeed staged, here and on its datastores."""
    for one in staged:
        with contextlib.suppress(OSError):
            one.location.staging.discard(one.place)


def _keep_globs(write_dir: Path, globs: Sequence[str] | None) -> None:
    """Delete the files of the output that none of ``source_globs`` names (a glob
    matches the file's full path, its path in the output or its name)."""
    if not globs:
        return
    if write_dir.is_file():
        if not _kept(write_dir.as_posix(), write_dir.name, globs):
            write_dir.unlink()
        return
    for dirpath, _dirs, names in os.walk(write_dir):
        for name in names:
            full = Path(dirpath, name)
            rel = full.relative_to(write_dir).as_posix()
            if not _kept(full.as_posix(), rel, globs):
                full.unlink()


def _kept(full: str, rel: str, globs: Sequence[str]) -> bool:
    return any(fnmatch.fnmatch(full, g) or fnmatch.fnmatch(rel, g) for g in globs)


def _listed(write_dir: Path) -> dict[str, int]:
    """``{relative path: size}`` of the output's files (``{"": size}``: one file)."""
    if os.path.isfile(write_dir):
        return {"": os.path.getsize(write_dir)}
    files = {}
    for dirpath, _dirs, names in os.walk(write_dir):
        for name in names:
            full = os.path.join(dirpath, name)
            rel = os.path.relpath(full, write_dir).replace(os.sep, "/")
            files[rel] = os.path.getsize(full)
    return files
