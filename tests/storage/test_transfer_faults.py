"""Transfers and commits against an Azurite that is stopped, restarted or paused
in the middle: retried with backoff, resumed, checked, or a typed error."""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

import pytest

from dataferry import Datastore
from dataferry.errors import (
    PathNotFoundError,
    StorageUnavailableError,
    TransferIncompleteError,
)
from dataferry.storage import location as location_module
from dataferry.storage.download_manifest import MANIFEST_NAME
from dataferry.storage.retry import RETRY_WINDOW_ENV
from dataferry.storage.staging import StagedPlace

if TYPE_CHECKING:
    from collections.abc import Callable
    from pathlib import Path

    from servers.azurite import RestartableAzurite

    from dataferry import Workspace
    from dataferry.storage.transfer_progress import TransferSnapshot

pytestmark = [pytest.mark.server, pytest.mark.slow]

FILES = 80
SIZE = 256 << 10


@pytest.fixture
def store(
    workspace: Workspace,
    restartable_azurite: RestartableAzurite,
    monkeypatch: pytest.MonkeyPatch,
) -> Datastore:
    """A blob datastore on the test's own Azurite, saved to its disk (``settle``)."""
    from servers.azurite import ACCOUNT, KEY

    monkeypatch.setenv(RETRY_WINDOW_ENV, "90")  # a restart takes ~10 s when loaded
    monkeypatch.setattr(location_module, "REPORT_EVERY_S", 0.0)  # every file reports
    ds = Datastore.register_azure_blob_container(
        workspace,
        "faulty",
        "faults",
        ACCOUNT,
        account_key=KEY,
        protocol="http",
        endpoint=f"127.0.0.1:{restartable_azurite.port}",
        create_if_not_exists=True,
    )
    restartable_azurite.settle()
    return ds


def files(folder: Path, count: int = FILES) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for i in range(count):
        path = folder / f"f{i:03}.bin"
        path.write_bytes(bytes([i % 251]) * (SIZE + i))
        made.append(path)
    return made


def outage(
    server: RestartableAzurite, *, after_files: int, then: str
) -> tuple[Callable[[TransferSnapshot], None], list[int]]:
    """A transfer's ``report`` that stops the server once ``after_files`` moved, then
    ``then``: "restart" it at once (back in ~10 s), "pause" it for 2 s, or "stay"."""
    hit: list[int] = []

    def report(snap: TransferSnapshot) -> None:
        if hit or snap.files_done < after_files:
            return
        hit.append(snap.files_done)
        if then == "pause":
            server.pause()
            threading.Timer(2.0, server.resume).start()
            return
        server.stop()
        if then == "restart":
            threading.Thread(target=server.start).start()

    return report, hit


def listed_sizes(store: Datastore, prefix: str) -> dict[str, int]:
    fs = store.location.fs
    fs.invalidate_cache()
    found = fs.find(store.location.full_path(prefix), detail=True)
    return {os.path.basename(p): int(i["size"]) for p, i in found.items()}


class TestUpload:
    def test_a_restart_in_the_middle_is_ridden_out(
        self, store: Datastore, restartable_azurite: RestartableAzurite, tmp_path: Path
    ) -> None:
        local = files(tmp_path / "up")
        report, hit = outage(restartable_azurite, after_files=10, then="restart")
        written = store.location.put_files(
            [(str(p), f"data/{p.name}") for p in local],
            overwrite=True,
            show_progress=False,
            report=report,
        )
        assert hit and hit[0] < FILES
        assert len(written) == FILES
        assert listed_sizes(store, "data") == {p.name: p.stat().st_size for p in local}

    def test_a_store_that_stays_down_is_a_typed_error_and_nothing_half_written(
        self,
        store: Datastore,
        restartable_azurite: RestartableAzurite,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv(RETRY_WINDOW_ENV, "3")
        local = files(tmp_path / "up")
        report, _ = outage(restartable_azurite, after_files=10, then="stay")
        with pytest.raises(
            StorageUnavailableError,
            match=r"datastore 'faulty': cannot upload 80 file\(s\) to 'data': the store "
            r"did not answer, retried with backoff for 3 s",
        ):
            store.location.put_files(
                [(str(p), f"data/{p.name}") for p in local],
                overwrite=True,
                show_progress=False,
                report=report,
            )
        restartable_azurite.start()
        sizes = {p.name: p.stat().st_size for p in local}
        # a blob is all or nothing: whatever is listed is whole
        assert all(sizes[n] == s for n, s in listed_sizes(store, "data").items())


class TestDownload:
    def upload(self, store: Datastore, server: RestartableAzurite, tmp: Path) -> None:
        local = files(tmp / "src")
        store.upload_files([str(p) for p in local], target_path="data", overwrite=True)
        server.settle()

    @pytest.mark.parametrize("then", ["restart", "pause"])
    def test_an_outage_or_a_slow_store_is_ridden_out(
        self,
        store: Datastore,
        restartable_azurite: RestartableAzurite,
        tmp_path: Path,
        then: str,
    ) -> None:
        self.upload(store, restartable_azurite, tmp_path)
        loc = store.location
        target = tmp_path / "down"
        pairs = [(f, str(target / os.path.basename(f))) for f in loc.resolve("data")]
        report, hit = outage(restartable_azurite, after_files=10, then=then)
        loc.get_files(
            pairs,
            overwrite=True,
            show_progress=False,
            report=report,
            resume_in=str(target),
        )
        assert hit and hit[0] < FILES
        for p in (tmp_path / "src").iterdir():
            assert (target / p.name).read_bytes() == p.read_bytes()
        assert sorted(os.listdir(target)) == sorted(
            [MANIFEST_NAME] + [p.name for p in (tmp_path / "src").iterdir()]
        )

    def test_a_store_that_stays_down_fails_and_a_re_download_resumes(
        self,
        store: Datastore,
        restartable_azurite: RestartableAzurite,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        self.upload(store, restartable_azurite, tmp_path)
        loc = store.location
        target = tmp_path / "down"
        pairs = [(f, str(target / loc.relative_path(f))) for f in loc.resolve("data")]
        monkeypatch.setenv(RETRY_WINDOW_ENV, "3")
        report, _ = outage(restartable_azurite, after_files=10, then="stay")
        with pytest.raises(
            StorageUnavailableError,
            match=r"datastore 'faulty': cannot download 80 file\(s\) from 'data': the "
            r"store did not answer",
        ):
            loc.get_files(
                pairs,
                overwrite=True,
                show_progress=False,
                report=report,
                resume_in=str(target),
            )
        data = target / "data"
        assert not [n for n in os.listdir(data) if n.endswith(".part")]
        kept = {n: (data / n).stat().st_mtime_ns for n in os.listdir(data)}
        assert 0 < len(kept) < FILES  # what finished stays; the rest is not there
        restartable_azurite.start()
        store.download(str(target), prefix="data", overwrite=True, show_progress=False)
        for name, mtime in kept.items():  # verified and skipped, not fetched again
            assert (data / name).stat().st_mtime_ns == mtime
        for p in (tmp_path / "src").iterdir():
            assert (data / p.name).read_bytes() == p.read_bytes()


def stage(store: Datastore, tmp: Path, path: str, count: int) -> StagedPlace:
    loc = store.location
    folder = loc.staging.stage(path, "step-1", "out", tmp / "scratch")
    files(folder, count)
    return StagedPlace(path, folder, "step-1", "out")


def outage_when_staged(
    server: RestartableAzurite, store: Datastore, *, then: str
) -> threading.Thread:
    """A watcher that stops the server once 10 files sit under the staging prefix
    (the commit is under way), then restarts it if ``then`` is "restart"."""
    from azure.storage.blob import ContainerClient

    client = ContainerClient.from_connection_string(
        server.server.connection_string, "faults"
    )

    def watch() -> None:
        while len(list(client.list_blobs(name_starts_with=".dataferry-staging/"))) < 10:
            threading.Event().wait(0.05)
        server.stop()
        if then == "restart":
            server.start()

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    return watcher


class TestCommit:
    def test_a_restart_during_a_commit_is_ridden_out(
        self, store: Datastore, restartable_azurite: RestartableAzurite, tmp_path: Path
    ) -> None:
        staged = stage(store, tmp_path, "outputs/o1", 200)
        watcher = outage_when_staged(restartable_azurite, store, then="restart")
        store.location.staging.commit(staged, merge=False)
        watcher.join(timeout=60)
        assert not watcher.is_alive()  # the outage did happen, mid-commit
        got = store.location.resolve("outputs/o1")
        assert len(got) == 200
        assert listed_sizes(store, "outputs/o1")["f199.bin"] == SIZE + 199

    def test_a_store_that_stays_down_leaves_no_output_visible(
        self,
        store: Datastore,
        restartable_azurite: RestartableAzurite,
        tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setenv(RETRY_WINDOW_ENV, "3")
        staged = stage(store, tmp_path, "outputs/o2", 200)
        watcher = outage_when_staged(restartable_azurite, store, then="stay")
        with pytest.raises(
            StorageUnavailableError,
            match=r"datastore 'faulty': cannot upload 200 file\(s\) to "
            r"'.dataferry-staging/step-1/out': the store did not answer",
        ):
            store.location.staging.commit(staged, merge=False)
        watcher.join(timeout=60)
        restartable_azurite.start()
        with pytest.raises(PathNotFoundError, match=r"path 'outputs/o2' matches no"):
            store.location.resolve("outputs/o2")


class TestListingCheck:
    def test_a_file_removed_after_listing_is_named(
        self, store: Datastore, tmp_path: Path
    ) -> None:
        local = files(tmp_path / "src", 6)
        store.upload_files([str(p) for p in local], target_path="data", overwrite=True)
        loc = store.location
        fulls = loc.resolve("data")
        loc.fs.rm_file(fulls[2])
        with pytest.raises(
            TransferIncompleteError,
            match=r"datastore 'faulty': 'data/f002.bin' is no longer on the datastore",
        ):
            loc.get_files(
                [(f, str(tmp_path / "down" / os.path.basename(f))) for f in fulls],
                overwrite=True,
                show_progress=False,
            )
        assert not (tmp_path / "down" / "f000.bin").exists()  # checked before any copy

    def test_a_file_of_another_size_than_listed_is_named(
        self, store: Datastore, tmp_path: Path
    ) -> None:
        from dataferry.storage.download_manifest import DownloadManifest
        from dataferry.storage.remote_transfer import get_remote, listing
        from dataferry.storage.transfer_progress import TransferProgress

        local = files(tmp_path / "src", 3)
        store.upload_files([str(p) for p in local], target_path="data", overwrite=True)
        loc = store.location
        fulls = loc.resolve("data")
        listed = listing(loc, fulls)  # then the file changes: the listing is stale
        loc.fs.pipe_file(fulls[1], b"shorter")
        target = tmp_path / "down"
        target.mkdir()
        pairs = [(f, str(target / os.path.basename(f))) for f in fulls]
        progress = TransferProgress(
            "downloading", "downloaded", total_bytes=0, total_files=3, show=False
        )
        with pytest.raises(
            TransferIncompleteError,
            match=rf"datastore 'faulty': downloaded 'data/f001.bin' has 7 bytes, the "
            rf"store lists {SIZE + 1} bytes",
        ):
            get_remote(loc, pairs, listed, progress, DownloadManifest(None))
        assert not [n for n in os.listdir(target) if n.endswith(".part")]
