"""Input hashing reports its progress as the bytes are read, inside a large file too,
and a step's ``Preparing`` stage is told it through the reuse advisor's ``on_input``."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

import fsspec
import pytest

from dataferry import DataPath, Dataset, Pipeline, PythonScriptStep
from dataferry.catalog.run_store import RunStore
from dataferry.execution.plan import PlanCompiler
from dataferry.execution.reuse import ReuseAdvisor
from dataferry.storage.hashing import content_hashes, hash_file
from dataferry.storage.location import StorageLocation

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from dataferry import Datastore, Workspace
    from dataferry.storage.location import FileSignature
    from dataferry.storage.transfer_progress import TransferSnapshot

MB = 1 << 20
BIG = 40 * MB  # five of hashing's 8 MB blocks


def _no_cache(_store: str, _sigs: list[FileSignature]) -> dict[str, str]:
    return {}


def _forget(_store: str, _hashed: object) -> None:
    return None


def _big(path: Path, size: int = BIG) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as fh:
        fh.write(bytes(range(256)) * (size // 256))
    os.utime(path, (1e9, 1e9))  # long settled: its hash may be cached (not "racy")
    return path


@pytest.mark.parametrize("backend", ["file", "memory"])
def test_progress_moves_inside_one_large_file(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    local = _big(tmp_path / "data" / "big.bin")
    if backend == "file":
        location = StorageLocation("s", fsspec.filesystem("file"), str(tmp_path))
        full = str(local)
    else:  # no local path: the file is read as a stream
        fs = fsspec.filesystem("memory")
        full = f"/{tmp_path.name}/data/big.bin"
        fs.pipe(full, local.read_bytes())
        location = StorageLocation("s", fs, f"/{tmp_path.name}")
        request.addfinalizer(lambda: fs.rm(f"/{tmp_path.name}", recursive=True))
    seen: list[TransferSnapshot] = []
    (hashed,) = content_hashes(
        location,
        [full],
        cached=_no_cache,
        remember=_forget,
        report=seen.append,
        report_every_s=0.0,
    )
    assert hashed.content_hash == hash_file(str(local))
    inside = [(s.bytes_done, s.files_done) for s in seen if s.files_done == 0]
    assert inside == [(n * 8 * MB, 0) for n in range(1, 6)]
    assert (seen[-1].bytes_done, seen[-1].files_done) == (BIG, 1)
    assert {(s.total_bytes, s.total_files) for s in seen} == {(BIG, 1)}
    assert re.fullmatch(
        r"40\.0 MB of 40\.0 MB, 1 of 1 files, [\d.]+ [KMG]?B/s(, 0\.0s left)?",
        seen[-1].describe(),
    )


def test_cached_files_are_not_counted(tmp_path: Path) -> None:
    _big(tmp_path / "a.bin", 2 * MB)
    _big(tmp_path / "b.bin", 3 * MB)
    location = StorageLocation("s", fsspec.filesystem("file"), str(tmp_path))

    def a_is_known(_store: str, sigs: list[FileSignature]) -> dict[str, str]:
        return {s.path: "known" for s in sigs if s.path.endswith("a.bin")}

    seen: list[TransferSnapshot] = []
    content_hashes(
        location,
        [str(tmp_path / "a.bin"), str(tmp_path / "b.bin")],
        cached=a_is_known,
        remember=_forget,
        report=seen.append,
        report_every_s=0.0,
    )
    assert {(s.total_bytes, s.total_files) for s in seen} == {(3 * MB, 1)}
    assert seen[-1].bytes_done == 3 * MB


def test_a_report_that_raises_stops_the_hashing(tmp_path: Path) -> None:
    _big(tmp_path / "big.bin")
    location = StorageLocation("s", fsspec.filesystem("file"), str(tmp_path))

    class Stop(Exception):
        pass

    def stop(_snap: TransferSnapshot) -> None:
        raise Stop

    with pytest.raises(Stop):
        content_hashes(
            location,
            [str(tmp_path / "big.bin")],
            cached=_no_cache,
            remember=_forget,
            report=stop,
            report_every_s=0.0,
        )


@pytest.mark.slow
def test_the_advisor_tells_the_preparing_stage_each_inputs_progress(
    workspace: Workspace, blobstore: Datastore, store_root: Path, tmp_path: Path
) -> None:
    _big(store_root / "big" / "part-0.bin")
    _big(store_root / "big" / "part-1.bin", 8 * MB)
    (tmp_path / "code").mkdir()
    (tmp_path / "code" / "s.py").write_text("")
    big = Dataset.File.from_files(DataPath(blobstore, "big"))
    step = PythonScriptStep(
        name="use",
        script_name="s.py",
        source_directory=str(tmp_path / "code"),
        inputs=[big.as_named_input("big").as_mount()],
    )
    compiler = PlanCompiler(Pipeline(workspace, steps=[step]), workspace)
    parameters = compiler.parameters(None)
    (node,) = compiler.compile().nodes
    advisor = ReuseAdvisor(workspace, RunStore(workspace.catalog), parameters)
    advisor.use_plan([node])
    stages: list[str] = []

    def on_input(name: str) -> Callable[[TransferSnapshot], None]:
        stages.append(f"hashing input '{name}'")
        return lambda snap: stages.append(f"hashing input '{name}': {snap.describe()}")

    advisor.fingerprint(node, {}, on_input=on_input)
    assert stages[0] == "hashing input 'big'"
    assert re.fullmatch(
        r"hashing input 'big': 48\.0 MB of 48\.0 MB, 2 of 2 files, .*", stages[-1]
    )
    stages.clear()
    advisor.fingerprint(node, {}, on_input=on_input)
    assert stages == ["hashing input 'big'"], "unchanged files are not read again"
