"""Mount-mode inputs of a datastore that is not on this machine: a read-only FUSE mount
of exactly the input's files, gone when the step ends (also when it is killed); where
FUSE is not available, a download (the step's log says so) or, by the workspace's
``mount_fallback``, a typed error before the step runs.

The remote datastore is a real folder behind fsspec's ``dir://`` filesystem: the step
process and the mount helper both reach it, and dataferry treats it as an object store.
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest
from pipeline.kit import run_pipeline, step, write_script
from servers.azurite import ACCOUNT, KEY

from dataferry import DataPath, Dataset, Datastore, Pipeline, PythonScriptStep
from dataferry.data.file_dataset import FileDataset
from dataferry.data.mount import mount_fallback, set_mount_fallback
from dataferry.errors import FuseUnavailableError, MountSettingError
from dataferry.execution.materialise import (
    InputContext,
    bind_input,
    release_inputs,
)
from dataferry.execution.plan_inputs import DatasetInput
from dataferry.execution.plan_values import DatasetRef
from dataferry.storage.fuse_mount import FUSE_ENV, fuse_unavailable

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Workspace

NO_FUSE = fuse_unavailable()
needs_fuse = pytest.mark.skipif(NO_FUSE is not None, reason=f"no FUSE: {NO_FUSE}")

# looks at its mounted input, says what it saw, and is killed (SIGKILL) by itself
LOOK_AND_DIE = """
import json, os, sys
folder = sys.argv[2]
seen = {
    "mount": os.path.ismount(folder),
    "files": sorted(
        os.path.relpath(os.path.join(d, n), folder)
        for d, _, names in os.walk(folder) for n in names
    ),
    "text": open(os.path.join(folder, "a.csv")).read(),
}
try:
    open(os.path.join(folder, "new.csv"), "w")
    seen["write"] = "written"
except OSError as exc:
    seen["write"] = exc.strerror
with open(sys.argv[1], "w") as fh:
    json.dump(seen, fh)
os.kill(os.getpid(), 9)
"""


@pytest.fixture
def remote(workspace: Workspace, tmp_path: Path) -> Datastore:
    root = tmp_path / "bucket"
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("n\n1\n")
    (root / "data" / "sub" / "b.csv").write_text("n\n2\n")
    (root / "data" / "c.txt").write_text("not matched by the glob\n")
    (root / "other.csv").write_text("outside the dataset\n")
    return Datastore.register_fsspec(
        workspace, "remote", "dir://", path=str(root), target_protocol="file"
    )


def mounted_lines(under: str) -> list[str]:
    with open("/proc/mounts", encoding="utf-8") as fh:
        return [line for line in fh if under in line.split()[1]]


@needs_fuse
@pytest.mark.slow
def test_a_killed_step_leaves_no_mount(
    workspace: Workspace, remote: Datastore, tmp_path: Path
) -> None:
    data = Dataset.File.from_files(DataPath(remote, "data/**/*.csv"))
    code = write_script(tmp_path / "code", "look.py", LOOK_AND_DIE)
    seen = tmp_path / "seen.json"
    look = PythonScriptStep(
        "look.py",
        name="look",
        source_directory=str(code),
        arguments=[str(seen), data.as_named_input("data").as_mount()],
    )
    run = run_pipeline(Pipeline(workspace, steps=[look]))
    looked = step(run, "look")
    assert looked.get_status() == "Failed"
    assert json.loads(seen.read_text()) == {
        "mount": True,
        "files": ["a.csv", "sub/b.csv"],
        "text": "n\n1\n",
        "write": "Read-only file system",
    }
    stdout = looked.get_details()["logFiles"]["stdout.txt"]
    folder = os.path.dirname(stdout)
    place = os.path.join(folder, "inputs", "data")
    assert not os.path.ismount(place) and not os.path.exists(place)
    assert mounted_lines(folder) == []
    assert os.listdir(os.path.join(folder, "mounts")) == []


def bind(workspace: Workspace, tmp_path: Path, dataset: FileDataset) -> Any:
    step_dir = tmp_path / "step"
    (step_dir / "wd").mkdir(parents=True)
    notes: list[str] = []
    ctx = InputContext(workspace, step_dir, step_dir / "wd", {}, {}, notes)
    source = DatasetRef("file", dataset.definition)
    spec = DatasetInput(name="data", mode="mount", style="dataset", source=source)
    return bind_input(ctx, spec), notes


def saved(workspace: Workspace, remote: Datastore, path: str) -> FileDataset:
    data = Dataset.File.from_files(DataPath(remote, path))
    assert isinstance(data, FileDataset)
    return data


@needs_fuse
def test_a_bound_mount_is_the_files_and_released(
    workspace: Workspace, remote: Datastore, tmp_path: Path
) -> None:
    bound, notes = bind(workspace, tmp_path, saved(workspace, remote, "data/a.csv"))
    try:
        assert notes == []
        assert bound.value == str(tmp_path / "step" / "inputs" / "data" / "a.csv")
        assert os.path.ismount(tmp_path / "step" / "inputs" / "data")
        assert os.listdir(tmp_path / "step" / "inputs" / "data") == ["a.csv"]
    finally:
        release_inputs([bound])
    assert not os.path.exists(tmp_path / "step" / "inputs" / "data")
    assert mounted_lines(str(tmp_path)) == []


def test_without_fuse_the_input_is_downloaded_and_the_log_says_so(
    workspace: Workspace,
    remote: Datastore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(FUSE_ENV, "off")
    bound, notes = bind(workspace, tmp_path, saved(workspace, remote, "data/*.csv"))
    place = tmp_path / "step" / "inputs" / "data"
    assert notes == [
        "input 'data': its datastore is not on this machine and FUSE is turned off "
        "by DATAFERRY_FUSE=off, so the mount is a read-only downloaded copy"
    ]
    assert not os.path.ismount(place)
    assert sorted(os.listdir(place)) == ["a.csv"]
    assert os.stat(place).st_mode & 0o222 == 0  # sealed (root writes all the same)
    release_inputs([bound])
    assert not place.exists()


def test_mount_fallback_error_fails_before_anything_is_made(
    workspace: Workspace,
    remote: Datastore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(FUSE_ENV, "0")
    set_mount_fallback(workspace, "error")
    assert mount_fallback(workspace) == "error"
    with pytest.raises(
        FuseUnavailableError,
        match=r"input 'data' is to be mounted from a datastore that is not on this "
        r"machine, but FUSE is turned off by DATAFERRY_FUSE=0; the workspace's "
        r"mount_fallback is 'error'",
    ):
        bind(workspace, tmp_path, saved(workspace, remote, "data"))
    assert not (tmp_path / "step" / "inputs").exists()


def test_a_local_datastore_is_linked_whatever_the_setting(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(FUSE_ENV, "off")
    set_mount_fallback(workspace, "error")
    store = workspace.get_default_datastore()
    folder = tmp_path / "project" / "local.csv"
    folder.write_text("n\n1\n")
    store.upload_files([str(folder)], target_path="x", show_progress=False)
    data = saved(workspace, store, "x/local.csv")
    bound, notes = bind(workspace, tmp_path, data)
    assert notes == [] and os.path.islink(bound.value)
    release_inputs([bound])


@pytest.mark.parametrize("value", ["mount", "", "Download"])
def test_an_unknown_mount_fallback_is_refused(workspace: Workspace, value: str) -> None:
    with pytest.raises(
        MountSettingError, match=rf"mount_fallback {value!r} is not known"
    ):
        set_mount_fallback(workspace, value)
    assert mount_fallback(workspace) == "download"


@needs_fuse
@pytest.mark.server
def test_a_blob_input_is_mounted_from_azurite(
    workspace: Workspace, azurite: Azurite, blob_container: str, tmp_path: Path
) -> None:
    blob = Datastore.register_azure_blob_container(
        workspace,
        "blob",
        blob_container,
        ACCOUNT,
        account_key=KEY,
        protocol="http",
        endpoint=f"127.0.0.1:{azurite.port}",
        create_if_not_exists=True,
    )
    fs, root = blob.location.fs, blob.location.root
    fs.pipe_file(f"{root}/data/a.csv", b"n\n1\n")
    fs.pipe_file(f"{root}/data/deep/b.csv", b"n\n2\n")
    fs.pipe_file(f"{root}/elsewhere.csv", b"not in the dataset\n")
    bound, notes = bind(workspace, tmp_path, saved(workspace, blob, "data"))
    place = tmp_path / "step" / "inputs" / "data"
    try:
        assert notes == [] and os.path.ismount(place)
        assert sorted(os.listdir(place)) == ["a.csv", "deep"]
        assert (place / "deep" / "b.csv").read_bytes() == b"n\n2\n"
        with pytest.raises(OSError, match="Read-only file system"):
            (place / "a.csv").write_text("changed")
    finally:
        release_inputs([bound])
    assert mounted_lines(str(tmp_path)) == [] and not place.exists()
    assert fs.cat_file(f"{root}/data/a.csv") == b"n\n1\n"
