"""A folder download from Azurite lists and transfers at once, and still obeys the
whole listing: commit markers, skipped and complete files, large files, no ``.part``.

The listing's pages are made small (``LIST_PAGE``) so that a few dozen files arrive
in several pages, as 1,000s do with the real page size.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

import pytest
from servers.azurite import ACCOUNT, KEY

from dataferry import Datastore
from dataferry.errors import DamagedDataError
from dataferry.storage import azure_transfer, streamed_download
from dataferry.storage.commit_marker import MARKER, PENDING, marker_body

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Workspace

pytestmark = pytest.mark.server


@pytest.fixture
def blob(
    workspace: Workspace,
    azurite: Azurite,
    blob_container: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Datastore:
    monkeypatch.setattr(azure_transfer, "LIST_PAGE", 7)
    return Datastore.register_azure_blob_container(
        workspace,
        "paged",
        blob_container,
        ACCOUNT,
        account_key=KEY,
        protocol="http",
        endpoint=f"127.0.0.1:{azurite.port}",
        create_if_not_exists=True,
    )


def put(store: Datastore, files: dict[str, bytes]) -> None:
    for rel, body in files.items():
        store.location.fs.pipe_file(store.location.full_path(rel), body)
    store.location.fs.invalidate_cache()


def on_disk(folder: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(folder)): p.read_bytes()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != ".dataferry-download.json"
    }


def marker(store: Datastore, folder: str, names: list[str]) -> bytes:
    fs, loc = store.location.fs, store.location
    files = {}
    for name in names:
        info = fs.info(loc.full_path(f"{folder}/{name}"))
        files[name] = {"size": info["size"], "etag": str(info["etag"]).strip('"')}
    return marker_body(files)


def test_a_folder_of_many_pages_arrives_exact(blob: Datastore, tmp_path: Path) -> None:
    files = {f"data/sub{i % 4}/f{i:02}.bin": bytes([i]) * (100 + i) for i in range(40)}
    put(blob, files)

    written = blob.download(str(tmp_path / "down"), prefix="data", show_progress=False)

    assert written == 40
    assert on_disk(tmp_path / "down") == files
    assert not [p for p in (tmp_path / "down").rglob("*.part")]


def test_deep_folders_spread_over_pages_are_made_again_on_each_download(
    blob: Datastore, tmp_path: Path
) -> None:
    import shutil

    files = {
        f"t/a{i % 3}/b{i % 2}/c/f{i:02}.bin": bytes([i]) * (20 + i) for i in range(25)
    }
    put(blob, files)
    target = tmp_path / "down"
    assert blob.download(str(target), prefix="t", show_progress=False) == 25
    shutil.rmtree(target / "t")

    written = blob.download(
        str(target), prefix="t", overwrite=True, show_progress=False
    )

    assert written == 25
    assert on_disk(target) == files


def test_only_what_the_markers_show_is_written(blob: Datastore, tmp_path: Path) -> None:
    files = {f"data/done/f{i:02}.bin": b"d" * (50 + i) for i in range(12)}
    files |= {f"data/busy/f{i:02}.bin": b"b" * 40 for i in range(9)}
    files |= {"data/done/stray.bin": b"not committed", "data/top.bin": b"top"}
    put(blob, files)
    body = marker(blob, "data/done", [f"f{i:02}.bin" for i in range(12)])
    put(blob, {f"data/done/{MARKER}": body, f"data/busy/{PENDING}": b""})

    written = blob.download(str(tmp_path / "down"), prefix="data", show_progress=False)

    expected = {k: v for k, v in files.items() if "/f" in k and "busy" not in k}
    expected["data/top.bin"] = b"top"
    assert written == 13
    assert on_disk(tmp_path / "down") == expected
    assert not [p for p in (tmp_path / "down").rglob("*.part")]


def test_a_marker_above_the_folder_governs_it(blob: Datastore, tmp_path: Path) -> None:
    files = {f"out/part/f{i:02}.bin": b"p" * (30 + i) for i in range(10)}
    put(blob, files | {"out/part/stray.bin": b"written after the commit"})
    body = marker(blob, "out", [f"part/f{i:02}.bin" for i in range(10)])
    put(blob, {f"out/{MARKER}": body})

    written = blob.download(
        str(tmp_path / "down"), prefix="out/part", show_progress=False
    )

    assert written == 10
    assert on_disk(tmp_path / "down") == files


def test_a_marker_listing_a_missing_file_is_damage_and_nothing_is_left(
    blob: Datastore, tmp_path: Path
) -> None:
    put(blob, {f"data/f{i:02}.bin": b"x" * 30 for i in range(10)})
    body = marker(blob, "data", [f"f{i:02}.bin" for i in range(10)])
    blob.location.fs.rm(blob.location.full_path("data/f03.bin"))
    put(blob, {f"data/{MARKER}": body})

    with pytest.raises(
        DamagedDataError,
        match=r"data/\.dataferry-committed.* lists 1 file\(s\) that are not there, "
        r"such as 'f03\.bin'",
    ):
        blob.download(str(tmp_path / "down"), prefix="data", show_progress=False)
    assert not (tmp_path / "down").exists() or on_disk(tmp_path / "down") == {}


def test_existing_files_are_skipped_and_complete_ones_not_fetched_again(
    blob: Datastore, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    files = {f"data/f{i:02}.bin": bytes([i]) * 64 for i in range(20)}
    put(blob, files)
    down = tmp_path / "down"
    blob.download(str(down), prefix="data", show_progress=False)
    kept = {p: p.stat().st_mtime_ns for p in (down / "data").iterdir()}

    again = blob.download(str(down), prefix="data", overwrite=True, show_progress=False)
    (down / "data" / "f05.bin").unlink()
    third = blob.download(str(down), prefix="data", show_progress=False)

    assert again == 20  # complete by the manifest: counted, not fetched
    assert all(
        p.stat().st_mtime_ns == t for p, t in kept.items() if p.name != "f05.bin"
    )
    assert third == 1
    assert "19 files already exist in" in caplog.text
    assert on_disk(down) == files


def test_large_files_move_in_blocks_after_the_listing(
    blob: Datastore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(streamed_download, "LARGE_FILE_BYTES", 1000)
    files = {f"data/f{i:02}.bin": os.urandom(500 + 100 * i) for i in range(12)}
    files["data/alone/big.bin"] = os.urandom(5000)  # no small file makes its folder
    put(blob, files)

    written = blob.download(str(tmp_path / "down"), prefix="data", show_progress=False)

    assert written == 13
    assert on_disk(tmp_path / "down") == files


def test_a_file_or_nothing_takes_the_ordinary_way(
    blob: Datastore, tmp_path: Path
) -> None:
    put(blob, {"data/one.csv": b"a,b\n1,2\n"})

    one = blob.download(str(tmp_path / "a"), prefix="data/one.csv", show_progress=False)
    none = blob.download(str(tmp_path / "b"), prefix="nothing", show_progress=False)

    assert (one, none) == (1, 0)
    assert on_disk(tmp_path / "a") == {"data/one.csv": b"a,b\n1,2\n"}


def test_a_whole_read_gets_every_byte_of_the_blob(blob: Datastore) -> None:
    from dataferry.storage.streamed_read import reading_whole

    data = os.urandom(900_000)  # pipe_file warns from 1 MiB on
    put(blob, {"r/blob.bin": data})
    loc = blob.location

    with reading_whole(loc, loc.full_path("r/blob.bin")) as grown:
        reader = grown.reader()
        got = b"".join(iter(lambda: reader.read(1 << 20), b""))

    assert (grown.size, got == data) == (len(data), True)


def test_a_whole_read_of_a_missing_blob_is_file_not_found(blob: Datastore) -> None:
    from dataferry.storage.streamed_read import reading_whole

    loc = blob.location
    with (
        pytest.raises(FileNotFoundError, match=r"no such file on the store"),
        reading_whole(loc, loc.full_path("r/none.bin")),
    ):
        pass
