"""A storage backend that fails with something other than an ``OSError`` (a cloud SDK's
authentication error, say) fails the one step that touched it, with a ``StorageError``
naming the datastore and path; the run ends, every step in a terminal state.

The backend is real: a small fsspec filesystem over a local folder, registered under
the ``locked`` protocol in the test and in the driver process, whose chosen operations
raise (``list``: listing and info; ``get``: downloads; ``write``: uploads).
"""

from __future__ import annotations

import importlib
import re
import sys
from typing import TYPE_CHECKING, Any

import fsspec
import pytest
from pipeline.kit import WAIT_S, ScriptedDriver, step, wait_until, write_script

from dataferry import (
    DataPath,
    Dataset,
    Datastore,
    OutputFileDatasetConfig,
    Pipeline,
    PythonScriptStep,
    Workspace,
)
from dataferry.catalog.run_store import RunStore
from dataferry.execution.processes import step_processes
from dataferry.execution.run_layout import run_dir

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from dataferry import PipelineRun

# every test runs real pipelines: a driver process and step processes each
pytestmark = pytest.mark.slow

LOCKED_FS = '''
"""A local folder served as a cloud store whose credentials fail on chosen operations."""
from fsspec.implementations.local import LocalFileSystem
from fsspec.spec import AbstractFileSystem


class AuthenticationError(Exception):
    """What a cloud SDK raises when its token is refused: not an OSError."""


class CredentialsKeyError(KeyError):
    """A credential missing from a mapping: a LookupError, not an OSError."""


ERRORS = {c.__name__: c for c in (AuthenticationError, CredentialsKeyError)}


class LockedFileSystem(AbstractFileSystem):
    protocol = "locked"
    root_marker = "/"

    def __init__(self, fail="", error="AuthenticationError", **kwargs):
        super().__init__(**kwargs)
        self.fail = set(filter(None, fail.split(",")))
        self.error = ERRORS[error]
        self.local = LocalFileSystem(auto_mkdir=True)

    def _check(self, operation, path):
        if operation in self.fail:
            raise self.error(f"token expired for account 'acme' ({operation} {path})")

    def ls(self, path, detail=True, **kwargs):
        self._check("list", path)
        return self.local.ls(path, detail=detail, **kwargs)

    def info(self, path, **kwargs):
        self._check("list", path)
        return self.local.info(path, **kwargs)

    def _open(self, path, mode="rb", **kwargs):
        self._check("read" if "r" in mode else "write", path)
        return self.local._open(path, mode, **kwargs)

    def get_file(self, rpath, lpath, **kwargs):
        self._check("get", rpath)
        return super().get_file(rpath, lpath, **kwargs)

    def rm_file(self, path):
        self.local.rm_file(path)
'''
# The driver process registers the same filesystem before it runs.
LOCKED_DRIVER = """
import sys
sys.path.insert(0, sys.argv[3])
import fsspec, lockedfs
fsspec.register_implementation("locked", lockedfs.LockedFileSystem, clobber=True)
from dataferry.execution import driver
sys.exit(driver.main(sys.argv[1:3]))
"""
# Each step logs its attempt, then writes a file into every output folder it is given.
STEP = """
import os, sys, time
name, attempts, *outputs = sys.argv[1:]
with open(attempts, "a") as fh:
    fh.write(name + "\\n")
args = iter(outputs)
for out in args:
    if out == "--in":  # an input: read-only, never written
        next(args)
        continue
    if out.startswith("--"):
        continue
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "part-0.txt"), "w") as fh:
        fh.write(name)
if name == "b-slow":
    time.sleep(120)  # stopped by the driver long before
"""
CHECK = (
    r"\. Check that the datastore's credentials are valid and the path can be "
    r"reached, then run the step again\."
)
ERRORS = ["AuthenticationError", "CredentialsKeyError"]


@pytest.fixture
def locked_driver(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> Iterator[ScriptedDriver]:
    """Drivers (and this process) know the ``locked`` protocol."""
    module_dir = tmp_path / "fsmodule"
    write_script(module_dir, "lockedfs.py", LOCKED_FS)
    monkeypatch.syspath_prepend(str(module_dir))
    sys.modules.pop("lockedfs", None)
    lockedfs = importlib.import_module("lockedfs")
    fsspec.register_implementation("locked", lockedfs.LockedFileSystem, clobber=True)
    script = tmp_path / "locked_driver.py"
    script.write_text(LOCKED_DRIVER)
    driver = ScriptedDriver(script, [str(module_dir)])
    driver.install(monkeypatch)
    yield driver
    driver.reap()


def locked_store(
    ws: Workspace, tmp_path: Path, *, fail: str, error: str = "AuthenticationError"
) -> Datastore:
    """A ``locked`` datastore over ``tmp_path/cloud``, holding ``raw/data.csv``."""
    root = tmp_path / "cloud"
    (root / "raw").mkdir(parents=True)
    (root / "raw" / "data.csv").write_text("id\n1\n")
    return Datastore.register_fsspec(
        ws, "locked", f"locked://{root}", fail=fail, error=error
    )


class Chain:
    """``a -> b -> c``: b reads a's output plus what the test gives it."""

    def __init__(self, ws: Workspace, tmp_path: Path) -> None:
        self.ws = ws
        self.code = write_script(tmp_path / "code", "step.py", STEP)
        self.attempts = tmp_path / "attempts.txt"
        self.first = OutputFileDatasetConfig("first")

    def make(self, name: str, *args: Any, **kwargs: Any) -> PythonScriptStep:
        return PythonScriptStep(
            "step.py",
            name=name,
            source_directory=str(self.code),
            arguments=[name, str(self.attempts), *args],
            allow_reuse=False,
            **kwargs,
        )

    def run(self, *, b_inputs: list[Any], b_output: Any, **submit: Any) -> PipelineRun:
        a = self.make("a", self.first)
        b = self.make(
            "b", "--in", self.first.as_input("first"), b_output, inputs=b_inputs
        )
        c = self.make("c", "--in", b_output.as_input("second"))
        extra = submit.pop("extra_steps", [])
        run = Pipeline(self.ws, steps=[a, b, c, *extra]).submit("locked", **submit)
        run.wait_for_completion(
            show_output=False, timeout_seconds=WAIT_S, raise_on_error=False
        )
        return run

    def attempts_made(self) -> list[str]:
        return self.attempts.read_text().split() if self.attempts.exists() else []


def statuses(run: PipelineRun) -> dict[str, str]:
    return {s.name: s.get_status() for s in run.get_steps()}


def assert_nothing_left(ws: Workspace, run: PipelineRun) -> None:
    """No lease held, nothing committed or registered by b, no process of the run."""
    store = RunStore(ws.catalog)
    assert store.leases_of_run(run.id) == []
    assert store.outputs_of(step(run, "b").id) == []
    assert "locked_second" not in ws.datasets
    assert step_processes(run_dir(ws, run.id)) == []


class TestInputs:
    @pytest.mark.parametrize("error", ERRORS)
    def test_listing_an_input_fails(
        self,
        workspace: Workspace,
        tmp_path: Path,
        locked_driver: ScriptedDriver,
        error: str,
    ) -> None:
        """The dataset's files cannot be listed: fingerprinting it fails the step."""
        locked = locked_store(workspace, tmp_path, fail="list", error=error)
        raw = Dataset.File.from_files(DataPath(locked, "raw"), validate=False)
        chain = Chain(workspace, tmp_path)

        run = chain.run(
            b_inputs=[raw.as_named_input("raw").as_mount()],
            b_output=OutputFileDatasetConfig("second"),
        )

        assert run.get_status() == "Failed"
        assert statuses(run) == {"a": "Finished", "b": "Failed", "c": "Canceled"}
        details = step(run, "b").get_details()
        assert details["error_type"] == "StorageError"
        assert re.fullmatch(
            r"step 'b': its inputs could not be read to fingerprint them \(input 'raw': "
            rf"datastore 'locked', path 'raw'\): {error}: .?token expired for account "
            rf"'acme' \(list .*/cloud/raw\).?{CHECK}",
            details["error"],
        ), details["error"]
        assert step(run, "c").get_details()["error"] == "not run: step 'b' failed"
        assert chain.attempts_made() == ["a"]
        assert_nothing_left(workspace, run)

    @pytest.mark.parametrize("mode", ["download", "mount"])
    def test_downloading_an_input_fails(
        self,
        workspace: Workspace,
        tmp_path: Path,
        locked_driver: ScriptedDriver,
        mode: str,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        """Listing works, copying the files does not (without FUSE a mount of a remote
        store is a download too): binding the input fails the step."""
        monkeypatch.setenv("DATAFERRY_FUSE", "off")
        locked = locked_store(workspace, tmp_path, fail="get")
        ref = locked.path("raw/data.csv", data_reference_name="raw")
        ref = ref.as_download() if mode == "download" else ref.as_mount()
        chain = Chain(workspace, tmp_path)

        run = chain.run(b_inputs=[ref], b_output=OutputFileDatasetConfig("second"))

        assert statuses(run) == {"a": "Finished", "b": "Failed", "c": "Canceled"}
        details = step(run, "b").get_details()
        assert details["error_type"] == "StorageError"
        assert re.fullmatch(
            r"step 'b': input 'raw' could not be prepared \(datastore 'locked', path "
            r"'raw/data.csv'\): AuthenticationError: token expired for account 'acme' "
            rf"\(get .*/cloud/raw/data.csv\){CHECK}",
            details["error"],
        ), details["error"]
        assert chain.attempts_made() == ["a"]
        assert_nothing_left(workspace, run)


class TestOutputs:
    @pytest.mark.parametrize("error", ERRORS)
    def test_uploading_an_output_fails(
        self,
        workspace: Workspace,
        tmp_path: Path,
        locked_driver: ScriptedDriver,
        error: str,
    ) -> None:
        """The step ran; its output cannot be written to the store: nothing committed."""
        locked = locked_store(workspace, tmp_path, fail="write", error=error)
        second = (
            OutputFileDatasetConfig("second", destination=(locked, "out/{run-id}"))
            .as_upload()
            .register_on_complete("locked_second")
        )
        chain = Chain(workspace, tmp_path)

        run = chain.run(b_inputs=[], b_output=second)

        assert statuses(run) == {"a": "Finished", "b": "Failed", "c": "Canceled"}
        b = step(run, "b")
        details = b.get_details()
        assert details["error_type"] == "StorageError"
        assert re.fullmatch(
            rf"committing outputs failed: step 'b' \(datastore 'locked', path "
            rf"'out/{b.id}'\): {error}: .?token expired for account 'acme' \(write "
            # an object store is written through its staging prefix, never in place
            rf".*/cloud/\.dataferry-staging/{b.id}/second/part-0.txt\).?{CHECK}",
            details["error"],
        ), details["error"]
        assert details["exitCode"] == 0
        assert chain.attempts_made() == ["a", "b"]
        assert not list((tmp_path / "cloud").rglob("part-0.txt"))
        assert_nothing_left(workspace, run)

    def test_other_steps_go_on_when_asked(
        self, workspace: Workspace, tmp_path: Path, locked_driver: ScriptedDriver
    ) -> None:
        """continue_on_step_failure: the independent step finishes, the run fails."""
        locked = locked_store(workspace, tmp_path, fail="write")
        chain = Chain(workspace, tmp_path)
        alone = chain.make("d", OutputFileDatasetConfig("fourth"))

        run = chain.run(
            b_inputs=[],
            b_output=OutputFileDatasetConfig(
                "second", destination=(locked, "out/{run-id}")
            ),
            continue_on_step_failure=True,
            extra_steps=[alone],
        )

        assert run.get_status() == "Failed"
        assert statuses(run) == {
            "a": "Finished",
            "b": "Failed",
            "c": "Canceled",
            "d": "Finished",
        }
        assert step(run, "c").get_details()["error"] == (
            "not run: upstream step 'b' did not finish"
        )


# A driver whose executor loses track of step b (an error outside any one step).
BROKEN_DRIVER = """
import sys
from dataferry.execution import driver
from dataferry.execution.executors.local import LocalExecutor

real_poll = LocalExecutor.poll
def poll(self, handle):
    if handle.step_run_id.startswith("b"):
        raise RuntimeError("the executor lost track of step b")
    return real_poll(self, handle)
LocalExecutor.poll = poll
sys.exit(driver.main(sys.argv[1:3]))
"""


def test_a_failing_driver_ends_every_step(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An error that escapes the driver's loop stops the running step and ends every
    step row before the run is marked Failed."""
    script = tmp_path / "broken_driver.py"
    script.write_text(BROKEN_DRIVER)
    driver = ScriptedDriver(script)
    driver.install(monkeypatch)
    chain = Chain(workspace, tmp_path)
    try:
        a = chain.make("a", chain.first)
        b = chain.make("b-slow", "--in", chain.first.as_input("first"))
        c = chain.make("c", "--in", chain.first.as_input("first_again"))
        c.run_after(b)
        run = Pipeline(workspace, steps=[a, b, c]).submit("broken")
        (process,) = driver.started
        assert process.wait(timeout=WAIT_S) == 1
    finally:
        driver.reap()

    reason = (
        "stopped: the driver failed (RuntimeError: the executor lost track of step b)"
    )
    assert run.get_status() == "Failed"
    assert RunStore(workspace.catalog).get_run(run.id).error == (
        "driver failed: the executor lost track of step b"
    )
    assert statuses(run) == {"a": "Finished", "b-slow": "Canceled", "c": "Canceled"}
    assert step(run, "b-slow").get_details()["error"] == reason
    assert step(run, "c").get_details()["error"] == reason
    wait_until(
        lambda: step_processes(run_dir(workspace, run.id)) == [],
        "the end of b's process",
    )
