"""A FUSE mount keeps the pin its files were listed under: once the output's commit
marker changes (an overwrite), every further open and read of the mount fails with
EIO and one line names the output and says to run the step again; reads that finished
before saw the old files whole; a killed starter still leaves no mount.

The store is a real folder behind fsspec's ``dir://`` filesystem; an "overwrite" here
rewrites the marker and the files on disk, as an object-store publish does.
"""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from typing import TYPE_CHECKING

import fsspec
import pytest

from dataferry.storage.fuse_mount import (
    FuseMount,
    MountedFile,
    clean_recorded_mounts,
    fuse_unavailable,
)
from dataferry.storage.read_pin import MountPin

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

NO_FUSE = fuse_unavailable()
needs_fuse = pytest.mark.skipif(NO_FUSE is not None, reason=f"no FUSE: {NO_FUSE}")

MARKER = "/data/out/.dataferry-committed"
PIN = MountPin({MARKER: b"commit 1"}, {MARKER: "blob:/data/out"})
FILES = [
    MountedFile("a.csv", "/data/out/a.csv"),
    MountedFile("sub/b.csv", "/data/out/sub/b.csv"),
    MountedFile("free.csv", "/data/free.csv"),  # under no marker: never checked
]
SAID = (
    "dataferry: input mounted at {point}: output blob:/data/out was overwritten "
    "while this step read it, so its files could mix the old and new version; every "
    "further read of the mount fails with EIO (Input/output error). Run the step "
    "again to read the new version.\n"
)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    folder = tmp_path / "store"
    (folder / "data" / "out" / "sub").mkdir(parents=True)
    (folder / "data" / "out" / ".dataferry-committed").write_bytes(b"commit 1")
    (folder / "data" / "out" / "a.csv").write_text("n\n1\n")
    (folder / "data" / "out" / "sub" / "b.csv").write_text("n\n2\n")
    (folder / "data" / "free.csv").write_text("n\n0\n")
    return folder


@pytest.fixture
def mounted(root: Path, tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    """The mount point of ``FILES`` pinned by ``PIN``, and the step's log."""
    point, log = tmp_path / "m" / "in", tmp_path / "stderr.txt"
    log.write_text("the step's own line\n")
    mount = FuseMount(point, tmp_path / "rec" / "in.json")
    mount.start(fsspec.filesystem("dir", path=str(root)), FILES, PIN, log)
    try:
        yield point, log
    finally:
        mount.stop()
    assert not os.path.ismount(point)


def overwrite(root: Path, marker: bytes | None = b"commit 2") -> None:
    """What a publish does to the store: new files, a new marker (or none yet)."""
    out = root / "data" / "out"
    (out / ".dataferry-committed").unlink()
    (out / "a.csv").write_text("n\n10\n")
    (out / "sub" / "b.csv").write_text("n\n20\n")
    if marker is not None:
        (out / ".dataferry-committed").write_bytes(marker)


def eio(path: Path) -> None:
    with pytest.raises(OSError, match=r"Input/output error") as caught:
        path.read_text()
    assert caught.value.errno == errno.EIO


@needs_fuse
def test_reads_after_an_overwrite_fail_with_eio_and_one_log_line(
    root: Path, mounted: tuple[Path, Path]
) -> None:
    point, log = mounted
    assert (point / "a.csv").read_text() == "n\n1\n"
    overwrite(root)
    time.sleep(1.1)  # past the open's freshness window: the open itself checks
    eio(point / "sub" / "b.csv")
    eio(point / "a.csv")  # read before, in the kernel's cache or not: failed too
    eio(point / "free.csv")  # the whole mount is failed, not just that output
    assert log.read_text() == "the step's own line\n" + SAID.format(point=point)


@needs_fuse
@pytest.mark.parametrize("marker", [b"commit 2", None], ids=["committed", "publishing"])
def test_a_file_opened_before_the_overwrite_and_read_after_fails(
    root: Path, mounted: tuple[Path, Path], marker: bytes | None
) -> None:
    point, log = mounted
    with open(point / "sub" / "b.csv", "rb") as fh:
        overwrite(root, marker)  # the fetch comes after: its bytes are the new ones
        with pytest.raises(OSError, match=r"Input/output error"):
            fh.read()
    assert log.read_text().endswith(SAID.format(point=point))


@needs_fuse
def test_a_reader_done_before_the_overwrite_saw_the_old_files_whole(
    root: Path, mounted: tuple[Path, Path]
) -> None:
    point, log = mounted
    seen = {
        rel: (point / rel).read_text() for rel in ("a.csv", "sub/b.csv", "free.csv")
    }
    overwrite(root)
    assert seen == {"a.csv": "n\n1\n", "sub/b.csv": "n\n2\n", "free.csv": "n\n0\n"}
    assert log.read_text() == "the step's own line\n"


@needs_fuse
def test_an_unchanged_marker_never_fails_a_read(
    root: Path, mounted: tuple[Path, Path]
) -> None:
    point, log = mounted
    (root / "data" / "free.csv").write_text("n\n5\n")  # not in a pinned output
    for _ in range(3):
        assert (point / "a.csv").read_text() == "n\n1\n"
        assert (point / "free.csv").read_text() == "n\n5\n"
    assert log.read_text() == "the step's own line\n"


STARTER = """
import os, sys, fsspec
from pathlib import Path
from dataferry.storage.fuse_mount import FuseMount, MountedFile
from dataferry.storage.read_pin import MountPin
marker = "/data/out/.dataferry-committed"
FuseMount(Path(sys.argv[2]), Path(sys.argv[3])).start(
    fsspec.filesystem("dir", path=sys.argv[1]),
    [MountedFile("a.csv", "/data/out/a.csv")],
    MountPin({marker: b"commit 1"}, {marker: "blob:/data/out"}),
    Path(sys.argv[4]),
)
print(open(os.path.join(sys.argv[2], "a.csv")).read(), flush=True)
os.kill(os.getpid(), 9)
"""


@needs_fuse
@pytest.mark.slow
def test_a_killed_reader_of_a_pinned_mount_leaves_no_mount(
    root: Path, tmp_path: Path
) -> None:
    point, record = tmp_path / "m" / "in", tmp_path / "rec" / "in.json"
    args = [str(root), str(point), str(record), str(tmp_path / "stderr.txt")]
    done = subprocess.run(
        [sys.executable, "-c", STARTER, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    assert done.returncode == -signal.SIGKILL and done.stdout == "n\n1\n\n"
    deadline = time.monotonic() + 10
    while os.path.ismount(point) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not os.path.ismount(point)
    assert clean_recorded_mounts(record.parent) == [str(point)]
    assert not record.exists()
