"""The one owner of a run's folder: where its driver log, step folders and files are.

``<workspace>/runs/<run id>/`` holds the driver's log (``driver.log``), what the
driver process itself printed (``driver.out``) and which process drives the run
(``driver.pid``); each step run has a folder ``<run id>/<step run id>/`` with its ``stdout.txt``, ``stderr.txt``, the context file
its process reads (``context.json``), the working folder it runs in (``wd``) and the
files its code uploaded (``files``).

Only ``os`` and ``pathlib`` are imported: the submitting script and the driver's entry
point use this module before anything heavy is loaded.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from dataferry.data.workspace import Workspace

RUNS_DIR = "runs"
DRIVER_LOG = "driver.log"
DRIVER_OUT = "driver.out"
DRIVER_MARK = "driver.pid"
STDOUT = "stdout.txt"
STDERR = "stderr.txt"
CONTEXT_FILE = "context.json"
WORK_DIR = "wd"
FILES_DIR = "files"  # the run's files (run.upload_file, run.log_image), by name
# a step's streams, in the order they are shown
STREAMS = (STDOUT, STDERR)


def _root(workspace: Workspace | str | os.PathLike[str]) -> Path:
    if isinstance(workspace, str | os.PathLike):
        return Path(workspace)
    return workspace.path


def run_dir(workspace: Workspace | str | os.PathLike[str], run_id: str) -> Path:
    """``<workspace>/runs/<run_id>``: where a run keeps its logs and step folders.

    ``workspace`` is a Workspace or the folder it lives in.
    """
    return _root(workspace) / RUNS_DIR / run_id


def driver_log(workspace: Workspace | str | os.PathLike[str], run_id: str) -> Path:
    """The log the run's driver writes (``<run folder>/driver.log``)."""
    return run_dir(workspace, run_id) / DRIVER_LOG


def driver_out(workspace: Workspace | str | os.PathLike[str], run_id: str) -> Path:
    """Where the driver process's own stdout and stderr go (``<run folder>/driver.out``)."""
    return run_dir(workspace, run_id) / DRIVER_OUT


def driver_mark(run_folder: str | os.PathLike[str]) -> Path:
    """The file naming the process that drives the run, and when it started."""
    return Path(run_folder, DRIVER_MARK)


def step_dir(
    workspace: Workspace | str | os.PathLike[str], run_id: str, step_run_id: str
) -> Path:
    """``<run folder>/<step_run_id>``: one step run's logs, context file and work folder."""
    return run_dir(workspace, run_id) / step_run_id


def stdout_path(step_folder: str | os.PathLike[str]) -> Path:
    """The step's stdout file in its folder."""
    return Path(step_folder, STDOUT)


def stderr_path(step_folder: str | os.PathLike[str]) -> Path:
    """The step's stderr file in its folder."""
    return Path(step_folder, STDERR)


def context_file(step_folder: str | os.PathLike[str]) -> Path:
    """The context file the step's process reads (``Run.get_context()``)."""
    return Path(step_folder, CONTEXT_FILE)


def work_dir(step_folder: str | os.PathLike[str]) -> Path:
    """The folder the step's process runs in (its snapshot is copied there)."""
    return Path(step_folder, WORK_DIR)


def files_dir(step_folder: str | os.PathLike[str]) -> Path:
    """Where the run's files (``run.upload_file``, ``run.log_image``) are kept."""
    return Path(step_folder, FILES_DIR)


def run_dir_of_context(context_path: str | os.PathLike[str]) -> str:
    """The run folder a step's context file lies in (its grandparent)."""
    return os.path.dirname(os.path.dirname(os.fspath(context_path)))


def stored_path(workspace: Workspace | str | os.PathLike[str], path: Path) -> str:
    """How the catalog keeps ``path``: relative to the workspace folder when it is
    inside it (every machine opening the catalog resolves it in its own copy of the
    folder), else as it is."""
    try:
        return path.relative_to(_root(workspace)).as_posix()
    except ValueError:
        return str(path)


def resolved_path(workspace: Workspace | str | os.PathLike[str], stored: str) -> Path:
    """The path ``stored`` (by ``stored_path``) names in this machine's workspace
    folder; an absolute one (stored before paths were relative) as it is."""
    return _root(workspace) / stored
