"""Datasets and transfers on an Azure Blob datastore served by a real Azurite."""

from __future__ import annotations

import gc
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from servers.azurite import ACCOUNT, KEY

from dataferry import DataPath, Dataset, Datastore
from dataferry.errors import PathNotFoundError

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

    from servers.azurite import Azurite

    from dataferry import Workspace

pytestmark = pytest.mark.server


@pytest.fixture
def blob(workspace: Workspace, azurite: Azurite, blob_container: str) -> Datastore:
    """A blob datastore on Azurite holding data/{2023,2024}/part-N.csv and notes.txt."""
    store = Datastore.register_azure_blob_container(
        workspace,
        "blob",
        blob_container,
        ACCOUNT,
        account_key=KEY,
        protocol="http",
        endpoint=f"127.0.0.1:{azurite.port}",
        create_if_not_exists=True,
    )
    fs, root = store.location.fs, store.location.root
    for year, start in (("2023", 0), ("2024", 3)):
        for part in range(2):
            rows = [
                f"{i},{year},item{i}" for i in range(start + part, start + part + 1)
            ]
            fs.pipe_file(
                f"{root}/data/{year}/part-{part}.csv",
                ("id,year,label\n" + "\n".join(rows) + "\n").encode(),
            )
    fs.pipe_file(f"{root}/data/notes.txt", b"not a csv")
    return store


def open_blob_files() -> list[object]:
    """adlfs file handles that are still open (none may be left after a read).

    Without a collection first: a handle left to the garbage collector (only closed
    by its finaliser, whenever that runs) counts as left open.
    """
    from adlfs.spec import AzureBlobFile

    return [
        o for o in gc.get_objects() if isinstance(o, AzureBlobFile) and not o.closed
    ]


@pytest.fixture(autouse=True)
def no_collection() -> Iterator[None]:
    """No cyclic garbage collection while a test reads: handles must be closed."""
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


EXPECTED = pd.DataFrame(
    {
        "id": [0, 1, 3, 4],
        "year": [2023, 2023, 2024, 2024],
        "label": ["item0", "item1", "item3", "item4"],
    }
)


class TestTabular:
    def test_glob_of_csv_files_to_pandas(self, blob: Datastore) -> None:
        ds = Dataset.Tabular.from_delimited_files(DataPath(blob, "data/**/*.csv"))

        df = ds.to_pandas_dataframe()

        pd.testing.assert_frame_equal(df, EXPECTED, check_dtype=False)
        assert list(df.dtypes.astype(str)) == ["int64", "int64", "str"]
        assert open_blob_files() == []

    def test_streaming_a_sample_closes_every_handle(self, blob: Datastore) -> None:
        ds = Dataset.Tabular.from_delimited_files((blob, "data/*/part-*.csv"))

        assert ds.take(2).to_pandas_dataframe()["id"].tolist() == [0, 1]
        assert ds.skip(3).to_pandas_dataframe()["id"].tolist() == [4]
        assert open_blob_files() == []

    def test_parquet_from_blob(self, blob: Datastore, tmp_path: Path) -> None:
        local = tmp_path / "t.parquet"
        pq.write_table(pa.table({"a": [1, 2, 3], "b": ["x", "y", "z"]}), local)
        blob.upload_files([str(local)], target_path="pq", show_progress=False)

        ds = Dataset.Tabular.from_parquet_files(DataPath(blob, "pq/*.parquet"))

        assert ds.to_pandas_dataframe().to_dict("list") == {
            "a": [1, 2, 3],
            "b": ["x", "y", "z"],
        }
        assert open_blob_files() == []

    def test_register_and_get_by_name(
        self, blob: Datastore, workspace: Workspace
    ) -> None:
        ds = Dataset.Tabular.from_delimited_files(DataPath(blob, "data/2024/*.csv"))
        ds.register(workspace, "sales")

        again = Dataset.get_by_name(workspace, "sales")

        assert again.to_pandas_dataframe()["id"].tolist() == [3, 4]

    def test_a_glob_matching_nothing(self, blob: Datastore) -> None:
        with pytest.raises(
            PathNotFoundError,
            match=r"glob 'data/\*\*/\*\.tsv' matches no file on datastore 'blob'",
        ):
            Dataset.Tabular.from_delimited_files(DataPath(blob, "data/**/*.tsv"))


class TestFiles:
    def test_file_dataset_from_a_glob(self, blob: Datastore, tmp_path: Path) -> None:
        ds = Dataset.File.from_files(DataPath(blob, "data/2023/*"))

        assert ds.to_path() == ["/part-0.csv", "/part-1.csv"]
        got = ds.download(str(tmp_path / "out"))
        assert sorted(p.replace(str(tmp_path / "out"), "") for p in got) == [
            "/part-0.csv",
            "/part-1.csv",
        ]
        assert (tmp_path / "out" / "part-1.csv").read_text() == (
            "id,year,label\n1,2023,item1\n"
        )

    def test_upload_download_round_trip(self, blob: Datastore, tmp_path: Path) -> None:
        src = tmp_path / "src"
        (src / "sub").mkdir(parents=True)
        (src / "a.txt").write_text("a")
        (src / "sub" / "b.txt").write_text("b")

        blob.upload(str(src), target_path="up", show_progress=False)
        blob.upload(str(src), target_path="up", show_progress=False)  # skipped
        count = blob.download(str(tmp_path / "back"), prefix="up", show_progress=False)

        assert count == 2
        assert (tmp_path / "back" / "up" / "a.txt").read_text() == "a"
        assert (tmp_path / "back" / "up" / "sub" / "b.txt").read_text() == "b"
        assert blob.location.resolve("up") == [
            f"{blob.location.root}/up/a.txt",
            f"{blob.location.root}/up/sub/b.txt",
        ]


class TestAzureUrls:
    @pytest.mark.parametrize(
        "form",
        [
            "wasbs://{c}@devstoreaccount1.blob.core.windows.net/data/2024/*.csv",
            "abfss://{c}@devstoreaccount1.dfs.core.windows.net/data/2024/*.csv",
            "az://{c}/data/2024/*.csv",
        ],
    )
    def test_a_url_gets_the_datastore_credentials(
        self,
        blob: Datastore,
        workspace: Workspace,
        monkeypatch: pytest.MonkeyPatch,
        form: str,
    ) -> None:
        monkeypatch.chdir(workspace.path.parent)  # Workspace.from_config() finds it
        url = form.format(c=blob.location.root)

        ds = Dataset.Tabular.from_delimited_files(url)

        assert ds.to_pandas_dataframe()["id"].tolist() == [3, 4]
        assert open_blob_files() == []
