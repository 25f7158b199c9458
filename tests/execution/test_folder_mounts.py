"""A mounted input that is a whole local folder is one read-only bind mount (made and
removed in O(1), refused by the kernel even to root); a filtered set of files, or a
process that may not mount, gets the view of one link per file as before."""

from __future__ import annotations

import errno
import os
from typing import TYPE_CHECKING

import pytest

from dataferry import Dataset
from dataferry.execution.materialise import (
    BoundInput,
    InputContext,
    bind_input,
    release_inputs,
)
from dataferry.execution.plan_inputs import DataPathInput, DatasetInput
from dataferry.execution.plan_values import DataPathRef, DatasetRef
from dataferry.storage.bind_mount import (
    BIND_ENV,
    BindMount,
    bind_unavailable,
    is_mounted,
)
from dataferry.storage.fuse_mount import clean_recorded_mounts

if TYPE_CHECKING:
    from pathlib import Path

    from dataferry import Workspace

pytestmark = pytest.mark.skipif(
    bind_unavailable() is not None, reason=str(bind_unavailable())
)


@pytest.fixture
def data(store_root: Path) -> Path:
    """``many/`` on the default datastore: 30 files, 5 of them in ``sub/``, one .csv."""
    folder = store_root / "many"
    (folder / "sub").mkdir(parents=True)
    for i in range(25):
        (folder / f"f{i:02d}.txt").write_text(f"file {i}\n")
    for i in range(4):
        (folder / "sub" / f"s{i}.txt").write_text(f"sub {i}\n")
    (folder / "sub" / "t.csv").write_text("n\n1\n")
    return folder


def _context(workspace: Workspace, tmp_path: Path) -> InputContext:
    step_dir = tmp_path / "step_run_x"
    step_dir.mkdir()
    return InputContext(workspace, step_dir, step_dir / "wd", {}, {}, [])


def _dataset_input(workspace: Workspace, pattern: str) -> DatasetInput:
    store = workspace.get_default_datastore()
    ds = Dataset.File.from_files((store, pattern))
    ref = DatasetRef("file", ds.definition, ds.id)
    return DatasetInput(name="data", mode="mount", style="dataset", source=ref)


def _listing(folder: str) -> list[str]:
    return sorted(
        os.path.relpath(os.path.join(d, n), folder)
        for d, _, names in os.walk(folder)
        for n in names
    )


def _refused(action: object) -> int:
    try:
        action()  # type: ignore[operator]
    except OSError as exc:
        return exc.errno or 0
    return 0


@pytest.mark.parametrize("pattern", ["many", "many/**", "many/**/*"])
def test_a_whole_folder_is_one_read_only_mount(
    workspace: Workspace, tmp_path: Path, data: Path, pattern: str
) -> None:
    ctx = _context(workspace, tmp_path)
    spec = (
        DataPathInput(
            name="data",
            mode="mount",
            style="dataref",
            source=DataPathRef("workspaceblobstore", pattern),
        )
        if "*" not in pattern
        else _dataset_input(workspace, pattern)
    )

    bound = bind_input(ctx, spec)

    place = ctx.step_dir / "inputs" / "data"
    assert (bound.value, is_mounted(place)) == (str(place), True)
    assert _listing(bound.value) == _listing(str(data))
    assert len(_listing(bound.value)) == 30
    # read-only in the kernel, for root too: nothing reaches the data
    assert _refused(lambda: (place / "new.txt").write_text("x")) == errno.EROFS
    assert _refused(lambda: (place / "f00.txt").unlink()) == errno.EROFS
    assert _refused(lambda: open(place / "f01.txt", "a").close()) == errno.EROFS
    assert (data / "f00.txt").read_text() == "file 0\n"
    release_inputs([bound])
    assert not is_mounted(place) and not os.path.lexists(place)
    assert not list((ctx.step_dir / "mounts").glob("*.json"))
    assert len(_listing(str(data))) == 30


@pytest.mark.parametrize(
    ("pattern", "seen"),
    [
        ("many/*.txt", [f"f{i:02d}.txt" for i in range(25)]),
        (
            "many/**/*.txt",
            sorted(
                [f"f{i:02d}.txt" for i in range(25)]
                + [f"sub/s{i}.txt" for i in range(4)]
            ),
        ),
        ("many/sub/*.csv", ["t.csv"]),
    ],
)
def test_a_filtered_set_is_links_to_exactly_its_files(
    workspace: Workspace, tmp_path: Path, data: Path, pattern: str, seen: list[str]
) -> None:
    ctx = _context(workspace, tmp_path)

    bound = bind_input(ctx, _dataset_input(workspace, pattern))

    place = ctx.step_dir / "inputs" / "data"
    assert (bound.bind, is_mounted(place)) == (None, False)
    assert _listing(str(place)) == seen
    assert all(os.path.islink(place / name) for name in seen)
    release_inputs([bound])
    assert not os.path.lexists(place)


def test_bind_mounts_turned_off_give_links(
    workspace: Workspace,
    tmp_path: Path,
    data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(BIND_ENV, "off")
    ctx = _context(workspace, tmp_path)

    bound = bind_input(ctx, _dataset_input(workspace, "many/**"))

    place = ctx.step_dir / "inputs" / "data"
    assert (bound.bind, is_mounted(place)) == (None, False)
    assert os.path.islink(place / "sub" / "t.csv")
    assert len(_listing(str(place))) == 30
    release_inputs([bound])
    assert not os.path.lexists(place)


def test_a_mount_left_by_a_dead_driver_is_removed(tmp_path: Path, data: Path) -> None:
    point, records = tmp_path / "step" / "inputs" / "data", tmp_path / "step" / "mounts"
    assert BindMount(point, records / "data.json").start(str(data))
    assert is_mounted(point)

    # the driver died: only the record is left to find the mount by
    assert clean_recorded_mounts(records) == [str(point)]

    assert not is_mounted(point)
    assert not list(records.glob("*.json"))
    assert len(_listing(str(data))) == 30


def test_a_new_attempt_replaces_the_last_ones_mount(
    workspace: Workspace, tmp_path: Path, data: Path
) -> None:
    ctx = _context(workspace, tmp_path)
    spec = _dataset_input(workspace, "many/**")
    first: BoundInput = bind_input(ctx, spec)  # never released: the driver died

    again = bind_input(ctx, spec)

    assert is_mounted(again.value)
    assert _listing(again.value) == _listing(str(data))
    release_inputs([again])
    assert first.bind is not None and not is_mounted(first.value)
    assert len(_listing(str(data))) == 30


def test_a_step_on_other_nodes_gets_links_they_can_see(
    workspace: Workspace, tmp_path: Path, data: Path
) -> None:
    # a Ray step's processes may run in another mount namespace or on another
    # machine: they see the step's folder through a shared folder, not a mount
    ctx = _context(workspace, tmp_path)
    ctx.local_readers = False

    bound = bind_input(ctx, _dataset_input(workspace, "many/**"))

    place = ctx.step_dir / "inputs" / "data"
    assert (bound.bind, is_mounted(place)) == (None, False)
    assert os.readlink(place / "sub" / "t.csv") == str(data / "sub" / "t.csv")
    assert len(_listing(str(place))) == 30
    release_inputs([bound])
    assert not os.path.lexists(place)
