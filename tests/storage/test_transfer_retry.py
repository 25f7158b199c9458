"""Bounded retries (storage.retry) and the download manifest, without a server."""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING

import pytest

from dataferry.errors import StorageSettingError, StorageUnavailableError
from dataferry.storage.download_manifest import MANIFEST_NAME, DownloadManifest
from dataferry.storage.retry import RETRY_WINDOW_ENV, retry_window_s, with_retries

if TYPE_CHECKING:
    from pathlib import Path


class Flaky:
    """Fails ``failures`` times with ``error``, then returns "done"."""

    def __init__(self, failures: int, error: Exception) -> None:
        self.failures, self.error, self.calls = failures, error, 0

    def __call__(self) -> str:
        self.calls += 1
        if self.calls <= self.failures:
            raise self.error
        return "done"


class TestWithRetries:
    def test_no_answer_is_retried_until_it_answers(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(RETRY_WINDOW_ENV, "30")
        call, cleaned = Flaky(2, ConnectionError("refused")), []
        got = with_retries(
            call,
            datastore="d",
            path="p",
            action="upload to",
            after_failed_attempt=lambda: cleaned.append(1),
        )
        assert (got, call.calls, len(cleaned)) == ("done", 3, 2)

    @pytest.mark.parametrize("error", [ConnectionResetError("reset"), TimeoutError()])
    def test_after_the_window_it_is_a_typed_error_naming_datastore_and_path(
        self, monkeypatch: pytest.MonkeyPatch, error: Exception
    ) -> None:
        monkeypatch.setenv(RETRY_WINDOW_ENV, "0")
        with pytest.raises(
            StorageUnavailableError,
            match=r"datastore 'blob1': cannot download 'data/x.csv': the store did "
            r"not answer, retried with backoff for 0 s",
        ):
            with_retries(
                Flaky(5, error), datastore="blob1", path="data/x.csv", action="download"
            )

    @pytest.mark.parametrize(
        "error", [PermissionError("403"), FileNotFoundError("gone"), ValueError("x")]
    )
    def test_other_failures_are_not_retried(
        self, monkeypatch: pytest.MonkeyPatch, error: Exception
    ) -> None:
        monkeypatch.setenv(RETRY_WINDOW_ENV, "30")
        call = Flaky(5, error)
        with pytest.raises(type(error)):
            with_retries(call, datastore="d", path="p", action="list")
        assert call.calls == 1

    def test_an_inner_window_that_ran_out_is_not_retried_again(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv(RETRY_WINDOW_ENV, "30")
        call = Flaky(5, StorageUnavailableError("inner"))
        with pytest.raises(StorageUnavailableError, match=r"^inner$"):
            with_retries(call, datastore="d", path="p", action="list")
        assert call.calls == 1

    @pytest.mark.parametrize("raw", ["soon", "-1", "nan-ish"])
    def test_a_bad_window_setting_is_a_typed_error(
        self, monkeypatch: pytest.MonkeyPatch, raw: str
    ) -> None:
        monkeypatch.setenv(RETRY_WINDOW_ENV, raw)
        with pytest.raises(
            StorageSettingError,
            match=rf"DATAFERRY_STORAGE_RETRY_S='{raw}' is not a number of seconds >= 0",
        ):
            retry_window_s()

    def test_the_default_window(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.delenv(RETRY_WINDOW_ENV, raising=False)
        assert retry_window_s() == 60.0


class TestDownloadManifest:
    def test_a_recorded_file_is_complete_until_it_or_its_source_changes(
        self, tmp_path: Path
    ) -> None:
        local = tmp_path / "sub" / "a.bin"
        local.parent.mkdir()
        local.write_bytes(b"abc")
        manifest = DownloadManifest(str(tmp_path))
        manifest.record(str(local), "c/a.bin", 3, "e1")
        manifest.save()
        again = DownloadManifest.load(str(tmp_path))
        assert again.is_complete(str(local), "c/a.bin", 3, "e1")
        assert not again.is_complete(str(local), "c/a.bin", 3, "e2")  # new version
        assert not again.is_complete(str(local), "c/other.bin", 3, "e1")
        assert not again.is_complete(str(local), "c/a.bin", 3, "")  # unverifiable
        local.write_bytes(b"xyz")  # same size, changed on disk
        os.utime(local, ns=(1, 1))
        assert not again.is_complete(str(local), "c/a.bin", 3, "e1")
        assert (
            json.loads((tmp_path / MANIFEST_NAME).read_text())["files"][
                os.path.join("sub", "a.bin")
            ]["etag"]
            == "e1"
        )

    @pytest.mark.parametrize("text", ["{not json", "[]", '{"version": 99}'])
    def test_an_unreadable_manifest_means_fetch_again(
        self, tmp_path: Path, text: str
    ) -> None:
        (tmp_path / MANIFEST_NAME).write_text(text)
        (tmp_path / "a").write_bytes(b"abc")
        manifest = DownloadManifest.load(str(tmp_path))
        assert not manifest.is_complete(str(tmp_path / "a"), "c/a", 3, "e1")

    def test_no_folder_keeps_nothing(self, tmp_path: Path) -> None:
        (tmp_path / "a").write_bytes(b"abc")
        manifest = DownloadManifest(None)
        manifest.record(str(tmp_path / "a"), "c/a", 3, "e1")
        manifest.save()
        assert not manifest.is_complete(str(tmp_path / "a"), "c/a", 3, "e1")
        assert os.listdir(tmp_path) == ["a"]
