"""The FUSE mount of a set of files: exactly those files, read-only, gone when stopped,
and gone when whoever started it dies (``kill -9``) or its helper does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import fsspec
import pytest

from dataferry.storage.fuse_mount import (
    FUSE_ENV,
    FuseMount,
    MountedFile,
    clean_recorded_mounts,
    fuse_unavailable,
)

if TYPE_CHECKING:
    from pathlib import Path

NO_FUSE = fuse_unavailable()
needs_fuse = pytest.mark.skipif(NO_FUSE is not None, reason=f"no FUSE: {NO_FUSE}")


def in_proc_mounts(point: Path) -> bool:
    with open("/proc/mounts", encoding="utf-8") as fh:
        return any(line.split()[1] == str(point) for line in fh)


@pytest.fixture
def store(tmp_path: Path) -> fsspec.AbstractFileSystem:
    root = tmp_path / "store"
    (root / "data" / "sub").mkdir(parents=True)
    (root / "data" / "a.csv").write_text("n\n1\n")
    (root / "data" / "sub" / "b.csv").write_text("n\n2\n")
    (root / "data" / "secret.csv").write_text("not in the dataset\n")
    return fsspec.filesystem("dir", path=str(root))


FILES = [
    MountedFile("a.csv", "/data/a.csv"),
    MountedFile("sub/b.csv", "/data/sub/b.csv"),
]


@needs_fuse
def test_only_the_files_read_only_and_gone_when_stopped(
    store: fsspec.AbstractFileSystem, tmp_path: Path
) -> None:
    point, record = tmp_path / "m" / "in", tmp_path / "rec" / "in.json"
    mount = FuseMount(point, record)
    mount.start(store, FILES)
    try:
        assert os.path.ismount(point) and record.exists()
        found = sorted(
            os.path.relpath(os.path.join(d, n), point)
            for d, _, names in os.walk(point)
            for n in names
        )
        assert found == ["a.csv", "sub/b.csv"]
        assert (point / "sub" / "b.csv").read_text() == "n\n2\n"
        assert os.path.getsize(point / "a.csv") == 4
        for attempt in (
            lambda: (point / "new.csv").write_text("x"),
            lambda: open(point / "a.csv", "a").close(),
            lambda: (point / "a.csv").unlink(),
            lambda: (point / "dir").mkdir(),
        ):
            with pytest.raises(OSError, match="Read-only file system"):
                attempt()
        assert store.cat("/data/a.csv") == b"n\n1\n"
    finally:
        mount.stop()
    assert not os.path.ismount(point) and not in_proc_mounts(point)
    assert not record.exists()
    mount.stop()  # twice is harmless


STARTER = """
import os, sys, fsspec
from pathlib import Path
from dataferry.storage.fuse_mount import FuseMount, MountedFile
fs = fsspec.filesystem("dir", path=sys.argv[1])
FuseMount(Path(sys.argv[2]), Path(sys.argv[3])).start(
    fs, [MountedFile("a.csv", "/data/a.csv")]
)
print("mounted", flush=True)
os.kill(os.getpid(), 9)
"""


@needs_fuse
@pytest.mark.slow
def test_a_killed_starter_leaves_no_mount(
    store: fsspec.AbstractFileSystem, tmp_path: Path
) -> None:
    point, record = tmp_path / "m" / "in", tmp_path / "rec" / "in.json"
    done = subprocess.run(
        [sys.executable, "-c", STARTER, store.path, str(point), str(record)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == -signal.SIGKILL and "mounted" in done.stdout
    deadline = time.monotonic() + 10
    while os.path.ismount(point) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.ismount(point) and not in_proc_mounts(point)
    # the record stays for the next driver, which finds nothing left to undo
    assert record.exists()
    assert clean_recorded_mounts(record.parent) == [str(point)]
    assert not record.exists()


@needs_fuse
def test_a_dead_helpers_mount_is_cleaned_from_its_record(
    store: fsspec.AbstractFileSystem, tmp_path: Path
) -> None:
    point, record = tmp_path / "m" / "in", tmp_path / "rec" / "in.json"
    mount = FuseMount(point, record)
    mount.start(store, FILES)
    assert mount._process is not None
    os.kill(mount._process.pid, signal.SIGKILL)  # a stale mount stays behind
    mount._process.wait()
    assert in_proc_mounts(point)
    assert clean_recorded_mounts(record.parent) == [str(point)]
    assert not os.path.ismount(point) and not in_proc_mounts(point)
    assert not record.exists()


def test_the_env_var_turns_fuse_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FUSE_ENV, "off")
    assert fuse_unavailable() == "FUSE is turned off by DATAFERRY_FUSE=off"


def test_clean_of_a_folder_without_records_is_nothing(tmp_path: Path) -> None:
    assert clean_recorded_mounts(tmp_path / "none") == []
