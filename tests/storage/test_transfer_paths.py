"""The fast transfer paths on a real Azurite: whole files through the SDK's own
threads (``storage.azure_transfer``), uploads with ``overwrite=True`` that do not list
first, downloads that list once, and CSV reads that fetch the file whole."""

from __future__ import annotations

import json
import os
import tempfile
from typing import TYPE_CHECKING

import pandas as pd
import pytest
from servers.azurite import ACCOUNT, KEY

from dataferry import Dataset, Datastore
from dataferry.data.arrow_input import whole_input
from dataferry.errors import PathNotFoundError, StorageError
from dataferry.storage import remote_transfer
from dataferry.storage.azure_transfer import BlobTransfers, split
from dataferry.storage.download_manifest import MANIFEST_NAME

if TYPE_CHECKING:
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Workspace
    from dataferry.storage.transfer_progress import TransferSnapshot

pytestmark = pytest.mark.server


@pytest.fixture
def blob(workspace: Workspace, azurite: Azurite, blob_container: str) -> Datastore:
    return Datastore.register_azure_blob_container(
        workspace,
        "fast",
        blob_container,
        ACCOUNT,
        account_key=KEY,
        protocol="http",
        endpoint=f"127.0.0.1:{azurite.port}",
        create_if_not_exists=True,
    )


def options(azurite: Azurite, container: str) -> dict[str, object]:
    return {
        "account_name": ACCOUNT,
        "container_name": container,
        "protocol": "http",
        "endpoint": f"127.0.0.1:{azurite.port}",
    }


def made(folder: Path, fill: int, count: int = 12, size: int = 3000) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"f{i:02}.bin"
        path.write_bytes(bytes([(fill + i) % 256]) * (size + i))
        paths.append(path)
    return paths


def stored(store: Datastore, rel: str) -> bytes:
    return bytes(store.location.fs.cat_file(store.location.full_path(rel)))


class TestUploads:
    def test_an_overwrite_of_same_sized_files_replaces_every_byte(
        self, blob: Datastore, tmp_path: Path
    ) -> None:
        # the same sizes: only the content tells old from new (no listing first)
        old = made(tmp_path / "old", fill=1)
        new = made(tmp_path / "new", fill=7)
        blob.upload_files([str(p) for p in old], target_path="d", show_progress=False)
        blob.upload_files(
            [str(p) for p in new], target_path="d", overwrite=True, show_progress=False
        )
        for path in new:
            assert stored(blob, f"d/{path.name}") == path.read_bytes()

    def test_without_overwrite_existing_files_are_skipped(
        self, blob: Datastore, tmp_path: Path
    ) -> None:
        old = made(tmp_path / "old", fill=1, count=3)
        new = made(tmp_path / "new", fill=9, count=5)
        blob.upload_files([str(p) for p in old], target_path="d", show_progress=False)
        blob.upload_files([str(p) for p in new], target_path="d", show_progress=False)
        assert [stored(blob, f"d/f{i:02}.bin")[0] for i in range(5)] == [
            1,
            2,
            3,
            12,
            13,
        ]

    def test_progress_counts_every_byte_and_file(
        self, blob: Datastore, tmp_path: Path
    ) -> None:
        paths = made(tmp_path / "up", fill=3, count=20)
        seen: list[TransferSnapshot] = []
        blob.location.put_files(
            [(str(p), f"p/{p.name}") for p in paths],
            overwrite=True,
            show_progress=False,
            report=seen.append,
        )
        total = sum(p.stat().st_size for p in paths)
        last = seen[-1]
        assert (last.bytes_done, last.files_done) == (total, 20)
        assert [s.bytes_done for s in seen] == sorted(s.bytes_done for s in seen)


class TestDownloads:
    def test_a_download_is_exact_and_a_second_one_skips_complete_files(
        self, blob: Datastore, tmp_path: Path
    ) -> None:
        paths = made(tmp_path / "up", fill=5, count=30)
        blob.upload_files(
            [str(p) for p in paths], target_path="many", show_progress=False
        )
        target = tmp_path / "down"
        assert blob.download(str(target), prefix="many", show_progress=False) == 30
        for path in paths:
            assert (target / "many" / path.name).read_bytes() == path.read_bytes()
        assert (target / MANIFEST_NAME).exists()
        stamps = {p.name: p.stat().st_mtime_ns for p in (target / "many").iterdir()}
        blob.download(str(target), prefix="many", overwrite=True, show_progress=False)
        again = {p.name: p.stat().st_mtime_ns for p in (target / "many").iterdir()}
        assert again == stamps  # verified by size and etag, not fetched again

    def test_a_file_changed_since_the_last_download_is_fetched_again(
        self, blob: Datastore, tmp_path: Path
    ) -> None:
        paths = made(tmp_path / "up", fill=5, count=4)
        blob.upload_files(
            [str(p) for p in paths], target_path="few", show_progress=False
        )
        target = tmp_path / "down"
        blob.download(str(target), prefix="few", show_progress=False)
        changed = tmp_path / "changed" / "f02.bin"
        changed.parent.mkdir()
        changed.write_bytes(b"new and longer content" * 50)
        blob.upload_files(
            [str(changed)], target_path="few", overwrite=True, show_progress=False
        )
        blob.download(str(target), prefix="few", overwrite=True, show_progress=False)
        assert (target / "few" / "f02.bin").read_bytes() == changed.read_bytes()
        assert (target / "few" / "f01.bin").read_bytes() == paths[1].read_bytes()

    @pytest.mark.parametrize("every", [1, 7, 1000])
    def test_the_manifest_is_kept_every_few_files_and_at_the_end(
        self,
        blob: Datastore,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
        every: int,
    ) -> None:
        monkeypatch.setattr(remote_transfer, "BATCH_FILES", every)
        paths = made(tmp_path / "up", fill=9, count=23)
        blob.upload_files([str(p) for p in paths], target_path="w", show_progress=False)
        target = tmp_path / "down"
        assert blob.download(str(target), prefix="w", show_progress=False) == 23
        entries = json.loads((target / MANIFEST_NAME).read_text())["files"]
        assert sorted(entries) == [f"w/{p.name}" for p in paths]
        assert sorted(os.listdir(target / "w")) == [p.name for p in paths]  # no .part
        for path in paths:
            assert (target / "w" / path.name).read_bytes() == path.read_bytes()

    @pytest.mark.parametrize("gone", [0, 5, 11])
    def test_a_file_gone_since_the_listing_fails_and_what_finished_is_kept(
        self, blob: Datastore, tmp_path: Path, gone: int
    ) -> None:
        paths = made(tmp_path / "up", fill=3, count=12)
        blob.upload_files([str(p) for p in paths], target_path="g", show_progress=False)
        loc = blob.location
        files, pin = loc.resolve_pinned("g")
        loc.fs.rm_file(files[gone])
        target = tmp_path / "down"
        pairs = [(f, str(target / loc.relative_path(f))) for f in files]
        with pytest.raises(
            StorageError,
            match=rf"datastore 'fast': cannot download 'g/f{gone:02}\.bin': .*no such "
            "file on the store",
        ):
            loc.get_files(
                pairs,
                overwrite=True,
                show_progress=False,
                resume_in=str(target),
                listed=pin.listed,
            )
        # files not started when it failed are not started; each one that finished
        # is whole, in place and noted in the manifest; nothing half-written is left
        kept = sorted(os.listdir(target / "g"))
        manifest = target / MANIFEST_NAME  # none if no file had finished
        entries = json.loads(manifest.read_text())["files"] if kept else {}
        assert sorted(entries) == [f"g/{name}" for name in kept]
        assert paths[gone].name not in kept
        for name in kept:
            assert (target / "g" / name).read_bytes() == (
                tmp_path / "up" / name
            ).read_bytes()

    def test_a_location_strips_each_path_as_its_filesystem_does(
        self, blob: Datastore
    ) -> None:
        loc = blob.location
        root = loc.root.split("/")[0]
        for path in [f"{root}/a/b.csv", f"abfs://{root}/a/b.csv", f"/{root}/a/", root]:
            assert loc._strip(path) == loc.fs._strip_protocol(path)
            assert loc._strip(path) == loc.fs._strip_protocol(path)  # kept: the same

    def test_a_path_splits_as_adlfs_splits_it(self, blob: Datastore) -> None:
        loc = blob.location
        root = loc.root.split("/")[0]
        for path in [
            f"{root}/a/b.csv",
            f"abfs://{root}/a/b.csv",
            f"az://{root}/deep/er/c d.bin",
            f"/{root}/a/",
            f"{root}/name#with%hash.bin",
            root,
            "",
        ]:
            container, blob_name, _version = loc.fs.split_path(path)
            assert split(loc, path) == (container, blob_name), path

    def test_files_reached_through_a_link_keep_their_own_paths(
        self, blob: Datastore, tmp_path: Path
    ) -> None:
        paths = made(tmp_path / "real" / "sub", fill=4, count=3)
        (tmp_path / "link").symlink_to(tmp_path / "real")
        linked = [tmp_path / "link" / "sub" / p.name for p in paths]
        blob.upload_files(
            linked,
            relative_root=tmp_path / "link",
            target_path="l",
            show_progress=False,
        )
        target = tmp_path / "down"
        assert blob.download(str(target), prefix="l", show_progress=False) == 3
        for path in paths:
            assert (target / "l" / "sub" / path.name).read_bytes() == path.read_bytes()

    def test_a_file_beside_the_relative_root_is_not_under_it(
        self, blob: Datastore, tmp_path: Path
    ) -> None:
        # "/x/sub2/f" starts with the text "/x/sub" but is not under that folder
        made(tmp_path / "sub", fill=1, count=1)
        (other,) = made(tmp_path / "sub2", fill=2, count=1)
        with pytest.raises(
            StorageError, match=r"f00\.bin: it is not under relative_root .*sub$"
        ):
            blob.upload_files(
                [other], relative_root=tmp_path / "sub", show_progress=False
            )
        assert not blob.location.fs.exists(blob.location.full_path("f00.bin"))


class TestBlobTransfers:
    def test_a_missing_blob_is_file_not_found(
        self, azurite: Azurite, blob: Datastore, tmp_path: Path
    ) -> None:
        container = blob.location.root.split("/")[0]
        moves = BlobTransfers(options(azurite, container), {"account_key": KEY})
        with pytest.raises(FileNotFoundError, match="no such file on the store"):
            moves.get_file(
                container,
                "absent.bin",
                str(tmp_path / "x"),
                progress=lambda _n: None,
                max_concurrency=1,
            )

    def test_a_missing_container_is_named_on_upload(
        self, azurite: Azurite, tmp_path: Path
    ) -> None:
        source = tmp_path / "a.bin"
        source.write_bytes(b"abc")
        moves = BlobTransfers(options(azurite, "nocontainer"), {"account_key": KEY})
        with pytest.raises(
            FileNotFoundError, match="container 'nocontainer' does not exist"
        ):
            moves.put_file(
                str(source),
                "nocontainer",
                "a.bin",
                progress=lambda _n: None,
                max_concurrency=1,
            )

    def test_a_wrong_key_is_a_permission_error_and_never_shown(
        self, azurite: Azurite, blob: Datastore, tmp_path: Path
    ) -> None:
        source = tmp_path / "a.bin"
        source.write_bytes(b"abc")
        container = blob.location.root.split("/")[0]
        wrong = "d3Jvbmcta2V5LW5vdC10aGUtb25l" * 3
        moves = BlobTransfers(options(azurite, container), {"account_key": wrong})
        with pytest.raises(
            PermissionError, match=r"refused .* credentials \(HTTP 403\)"
        ):
            moves.put_file(
                str(source), container, "a.bin", progress=print, max_concurrency=1
            )
        assert wrong not in repr(moves)

    def test_a_closed_port_is_a_connection_error(self, tmp_path: Path) -> None:
        import socket

        with socket.socket() as sock:  # a port nobody listens on
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        opts = {
            "account_name": ACCOUNT,
            "container_name": "gone",
            "protocol": "http",
            "endpoint": f"127.0.0.1:{port}",
        }
        moves = BlobTransfers(opts, {"account_key": KEY})
        with pytest.raises(ConnectionError, match=r"no answer for gone/a\.bin"):
            moves.get_file(
                "gone",
                "a.bin",
                str(tmp_path / "a"),
                progress=print,
                max_concurrency=1,
            )


class TestWholeReads:
    def test_a_csv_is_read_whole_and_its_download_removed(
        self,
        blob: Datastore,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        spool = tmp_path / "spool"
        spool.mkdir()
        monkeypatch.setattr(tempfile, "tempdir", str(spool))
        csv = tmp_path / "t.csv"
        csv.write_text("id,name\n" + "".join(f"{i},n{i}\n" for i in range(5000)))
        blob.upload_files([str(csv)], target_path="csv", show_progress=False)
        frame = Dataset.Tabular.from_delimited_files(
            [(blob, "csv/t.csv")]
        ).to_pandas_dataframe()
        expected = pd.DataFrame(
            {"id": range(5000), "name": [f"n{i}" for i in range(5000)]}
        )
        pd.testing.assert_frame_equal(frame, expected, check_dtype=False)
        assert str(frame["id"].dtype) == "int64"
        assert os.listdir(spool) == []

    def test_a_file_removed_before_the_read_is_named(
        self, blob: Datastore, tmp_path: Path
    ) -> None:
        from dataferry.data.sources import ResolvedFile

        csv = tmp_path / "gone.csv"
        csv.write_text("a\n1\n")
        blob.upload_files([str(csv)], target_path="g", show_progress=False)
        full = blob.location.full_path("g/gone.csv")
        resolved = ResolvedFile(blob.location, full, "/gone.csv")
        blob.location.fs.rm(full)
        with (
            pytest.raises(
                PathNotFoundError, match=r"'fast': no file '/gone\.csv' \(removed since"
            ),
            whole_input(resolved),
        ):
            pass
