"""Step logs and driver logs every workspace folder sharing a catalog can read.

While a run goes its logs are written in the folder of the machine that drives it
(``run_layout``). In a shared workspace (``data.machine_paths.is_shared``) with a shared
default datastore they are also stored there when they are complete, under
``dataferry/logs/<run id>/`` (``<step run id>/stdout.txt``, ``stderr.txt``, and
``driver.log``): a step's when its process has ended, the driver's when the run ends.
The read model reads a log from this folder when it is here, and otherwise fetches the
datastore copy of an ended step or run into ``<workspace>/cache/logs/`` (complete
copies only, so the cache never goes stale).
"""

from __future__ import annotations

import contextlib
import logging
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from dataferry.data.machine_paths import home_of, is_shared, shared_default_location
from dataferry.errors import DataferryError
from dataferry.execution import run_layout

if TYPE_CHECKING:
    from collections.abc import Sequence

    from dataferry.data.workspace import Workspace

log = logging.getLogger(__name__)

PREFIX = "dataferry/logs"  # on the default datastore
CACHE = Path("cache") / "logs"  # in the workspace folder


def shared_log_path(workspace: Workspace, local: Path) -> str:
    """Where the log file ``local`` (in this folder's ``runs/``) is kept on the
    datastore: ``dataferry/logs/<path below runs/>``.

    Raises:
        ValueError: ``local`` is not below the workspace's ``runs/`` folder.
    """
    below = local.relative_to(workspace.path / run_layout.RUNS_DIR)
    return f"{PREFIX}/{below.as_posix()}"


def share_step_logs(workspace: Workspace, step_folder: Path) -> list[str]:
    """Store an ended step's stdout and stderr on the shared default datastore;
    return the datastore paths written (none when the workspace is not shared).

    A store that fails is logged, not raised: the step's outcome does not depend on
    it, and its logs are still in this folder.
    """
    files = [run_layout.stdout_path(step_folder), run_layout.stderr_path(step_folder)]
    return _share(workspace, [f for f in files if f.is_file()])


def share_driver_log(workspace: Workspace, run_id: str) -> list[str]:
    """Store the run's driver log on the shared default datastore (as
    ``share_step_logs``)."""
    found = run_layout.driver_log(workspace, run_id)
    return _share(workspace, [found] if found.is_file() else [])


def _share(workspace: Workspace, files: list[Path]) -> list[str]:
    if not files or not is_shared(workspace):
        return []
    try:
        location = shared_default_location(workspace)
        if location is None:
            return []
        pairs = [(str(f), shared_log_path(workspace, f)) for f in files]
        return location.put_files(pairs, overwrite=True, show_progress=False)
    except (DataferryError, OSError) as exc:  # the store, its credentials, a file
        log.warning("could not store logs on the default datastore: %s", exc)
        return []


def readable_folder(
    workspace: Workspace, local: Path, *, ran_in: object = None
) -> Path:
    """The folder holding an ended step run's logs on this machine: ``local`` when the
    step ran in this workspace folder (``ran_in``: the ``home_of`` record of the folder
    it ran in, None if unknown) or it is here, else the cached datastore copy (fetched
    now if need be), else ``local`` (no copy anywhere: its reads find nothing). A step
    that ran elsewhere (resumed there, say) may have left an older attempt's logs here.

    Raises:
        StorageError: the datastore failed while a copy was fetched.
        DatastoreError: the default datastore cannot be opened (its credentials).
    """
    if not is_shared(workspace):
        return local
    elsewhere = isinstance(ran_in, dict) and ran_in != home_of(workspace.path)
    if local.is_dir() and not elsewhere:
        return local
    below = local.relative_to(workspace.path / run_layout.RUNS_DIR)
    cached = workspace.path / CACHE / below
    if cached.is_dir():
        return cached
    tmp = cached.with_name(f".{cached.name}.fetch")
    if not _fetch(workspace, below, run_layout.STREAMS, tmp):
        return local
    # both streams at once: a read never sees one without the other; a reader that
    # renamed its own copy first has put the same files there
    with contextlib.suppress(OSError):
        tmp.rename(cached)
    shutil.rmtree(tmp, ignore_errors=True)
    return cached


def readable_driver_log(workspace: Workspace, run_id: str) -> Path:
    """The driver log of an ended run on this machine: in a shared workspace the
    cached datastore copy (fetched now if need be), else the run folder's (not shared,
    or no copy stored: its reads find what is here).

    Raises:
        StorageError: the datastore failed while a copy was fetched.
        DatastoreError: the default datastore cannot be opened (its credentials).
    """
    local = run_layout.driver_log(workspace, run_id)
    if not is_shared(workspace):
        return local
    cached = workspace.path / CACHE / run_id / run_layout.DRIVER_LOG
    if cached.is_file():
        return cached
    tmp = cached.parent / f".{run_layout.DRIVER_LOG}.fetch"
    # the copy stored when the run ended is the whole log, wherever it was driven last
    # (a run resumed in another folder leaves this one's log unfinished)
    if not _fetch(workspace, Path(run_id), [run_layout.DRIVER_LOG], tmp):
        return local
    (tmp / run_layout.DRIVER_LOG).replace(cached)
    tmp.rmdir()
    return cached


def _fetch(workspace: Workspace, below: Path, names: Sequence[str], into: Path) -> bool:
    """Download the files ``names`` of the datastore folder for ``below`` (a run's
    or step run's folder below ``runs/``) into the folder ``into``; False when the
    datastore has none of them (or the workspace has no shared datastore)."""
    location = shared_default_location(workspace)
    if location is None:
        return False
    base = f"{PREFIX}/{below.as_posix()}"
    there = [name for name in names if location.exists(f"{base}/{name}")]
    if not there:
        return False
    pairs = [(location.full_path(f"{base}/{name}"), str(into / name)) for name in there]
    location.get_files(pairs, overwrite=True, show_progress=False)
    return True
