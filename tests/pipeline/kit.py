"""Helpers for pipeline tests: step scripts in a folder, submit-and-wait, reports.

Imported as ``pipeline.kit`` (``tests/`` is on ``sys.path`` through its conftest).
Step scripts that need no run context import nothing from dataferry, so they start in
a few milliseconds; only scripts that call ``Run.get_context()`` pay for the import.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from dataferry import OutputFileDatasetConfig, PipelineData, PythonScriptStep
from dataferry.catalog.run_store import RunStore

if TYPE_CHECKING:
    from collections.abc import Callable

    from dataferry import Pipeline, PipelineRun, StepRun, Workspace
    from dataferry.pipeline import PipelineStep

WAIT_S = 90


def write_script(folder: Path, name: str, body: str) -> Path:
    """Write a step script (dedented) into ``folder``; return the folder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(textwrap.dedent(body).lstrip())
    return folder


def run_pipeline(
    pipeline: Pipeline, experiment: str = "tests", **submit: Any
) -> PipelineRun:
    """Submit and wait for the end (no raise); the run is returned for inspection."""
    run = pipeline.submit(experiment, **submit)
    run.wait_for_completion(
        show_output=False, raise_on_error=False, timeout_seconds=WAIT_S
    )
    return run


def step(run: PipelineRun, name: str) -> StepRun:
    """The one step run named ``name``."""
    (found,) = run.find_step_run(name)
    return found


def report(path: Path) -> Any:
    """The JSON a step script wrote to ``path``."""
    return json.loads(path.read_text())


# A step that records its argv and some environment variables into the JSON file
# given as its first argument, then exits.
ARGV_REPORT = """
import json, os, sys
prefixes = ("AML_PARAMETER_", "AZUREML_DATAREFERENCE_")
env = {k: v for k, v in os.environ.items() if k.startswith(prefixes)}
with open(sys.argv[1], "w") as fh:
    json.dump({"argv": sys.argv[2:], "env": env, "cwd": os.getcwd()}, fh)
"""


def chain(
    n: int, src: Path, link: str = "pipeline_data", script: str = "step.py"
) -> list[PipelineStep]:
    """``n`` steps ``s0 .. s{n-1}``, each waiting for the one before through ``link``.

    ``link``: ``pipeline_data`` (a PipelineData output read by the next step),
    ``output_config`` (an OutputFileDatasetConfig and its ``as_input``), ``run_after``,
    or ``none`` (independent steps).
    """
    steps: list[PipelineStep] = []
    data: list[PipelineData] = []
    configs: list[OutputFileDatasetConfig] = []
    for i in range(n):
        inputs: list[object] = []
        outputs: list[object] = []
        arguments: list[object] = []
        if link == "pipeline_data":
            data.append(PipelineData(f"d{i}"))
            inputs, outputs = data[-2:-1], data[-1:]
        elif link == "output_config":
            configs.append(OutputFileDatasetConfig(name=f"o{i}"))
            reads = [configs[-2].as_input(f"i{i}")] if i else []
            arguments = [*reads, configs[-1]]
        step = PythonScriptStep(
            script,
            name=f"s{i}",
            source_directory=str(src),
            inputs=inputs,
            outputs=outputs,
            arguments=arguments,
        )
        if link == "run_after" and steps:
            step.run_after(steps[-1])
        steps.append(step)
    return steps


def nothing_written(workspace: Workspace) -> bool:
    """True if no run was recorded and no step snapshot taken (submit refused early)."""
    runs = RunStore(workspace.catalog).list_runs()
    return runs == [] and not (workspace.path / "snapshots").exists()


def is_alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, dead but not reaped, counts as gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X")


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Wait until ``condition()`` holds; fail the test, saying ``what``, after WAIT_S."""
    deadline = time.monotonic() + WAIT_S
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen within {WAIT_S} s")
        time.sleep(0.01)


def wait_gone(pid: int, timeout_s: float = WAIT_S) -> None:
    """Wait until ``pid`` has ended; fail the test after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while is_alive(pid):
        if time.monotonic() > deadline:
            pytest.fail(f"process {pid} is still running after {timeout_s} s")
        time.sleep(0.02)


@dataclass
class ScriptedDriver:
    """Stands in for ``start_driver``: runs ``python SCRIPT WORKSPACE RUN_ID *args``.

    The script is a real driver process that changes one thing first (registers a
    filesystem, dies at a chosen point) and then calls ``driver.main``. A last argument,
    ``dataferry.execution.driver``, shows it in the process table as the run's driver,
    as ``python -m dataferry.execution.driver`` shows the real one. ``install`` puts it
    in place of ``start_driver``; ``reap`` at teardown.
    """

    script: Path
    args: list[str] = field(default_factory=list)
    started: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Submit from this process (the local agent would start the real driver) and
        start this one instead of the real driver."""
        from dataferry.execution import driver_start

        monkeypatch.setenv("DATAFERRY_AGENT", "0")
        monkeypatch.setattr(driver_start, "start_driver", self.start)

    def start(self, workspace_dir: Any, run_id: str) -> int:
        folder = Path(workspace_dir, "runs", run_id)
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / "driver.out", "ab") as out:
            process = subprocess.Popen(
                [
                    sys.executable,
                    str(self.script),
                    str(workspace_dir),
                    run_id,
                    *self.args,
                    "dataferry.execution.driver",
                ],
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.started.append(process)
        return process.pid

    def reap(self) -> None:
        """Kill the drivers still running and collect every exit status."""
        for process in self.started:
            if process.poll() is None:
                process.kill()
            process.wait()


# -- acting as a user that is not root ---------------------------------------------------

NOBODY = 65534
needs_root = pytest.mark.skipif(
    not hasattr(os, "geteuid") or os.geteuid() != 0,
    reason="needs root to act as another user",
)


def nobody_folder() -> Path:
    """A new folder under the system temp folder, owned by user nobody (a test's
    ``tmp_path`` is private to root, so nobody could not reach it)."""
    folder = Path(tempfile.mkdtemp(prefix="dataferry-nobody-"))
    os.chmod(folder, 0o755)
    os.chown(folder, NOBODY, NOBODY)
    return folder


def as_nobody(action: Callable[[], object]) -> str:
    """Run ``action`` in a child process that became user nobody: ``"done"``,
    ``"refused"`` (a PermissionError) or ``"failed: <error>"``."""
    read, write = os.pipe()
    with warnings.catch_warnings():  # fork in a threaded process: the child only
        warnings.simplefilter("ignore", DeprecationWarning)  # does file operations
        pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        os.close(read)
        try:
            os.setgid(NOBODY)
            os.setuid(NOBODY)
            action()
            outcome = "done"
        except PermissionError:
            outcome = "refused"
        except BaseException as exc:
            outcome = f"failed: {type(exc).__name__}: {exc}"
        os.write(write, outcome.encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as fh:
        outcome = fh.read().decode()
    os.waitpid(pid, 0)
    return outcome
