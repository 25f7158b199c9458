"""TabularDataset outputs (pandas, Arrow, polars, batches) and row/column transforms."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pytest

import dataferry.data.delimited as delimited
from dataferry import DataPath, Dataset, Datastore, TabularDataset
from dataferry.errors import DatasetValidationError, PathNotFoundError

if TYPE_CHECKING:
    from pathlib import Path


def write_ids(root: Path, relative: str, ids: range) -> Path:
    """A CSV with an id column, a float and a text column."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "id,value,label\n" + "".join(f"{i},{i * 0.5},item{i}\n" for i in ids)
    )
    return path


@pytest.fixture
def dataset(blobstore: Datastore, store_root: Path) -> TabularDataset:
    """30 rows in three files: ids 0-9, 10-19, 20-29."""
    for n in range(3):
        write_ids(store_root, f"rows/part{n}.csv", range(n * 10, n * 10 + 10))
    return Dataset.Tabular.from_delimited_files(DataPath(blobstore, "rows/*.csv"))


def ids(ds: TabularDataset) -> list[int]:
    return ds.to_arrow().column("id").to_pylist()  # type: ignore[no-any-return]


class TestOutputs:
    def test_to_pandas_dataframe(self, dataset: TabularDataset) -> None:
        frame = dataset.to_pandas_dataframe()
        assert isinstance(frame, pd.DataFrame)
        assert list(frame.columns) == ["id", "value", "label"]
        assert frame.shape == (30, 3)
        assert str(frame["id"].dtype) == "int64"
        assert str(frame["value"].dtype) == "float64"
        assert frame.iloc[29].tolist() == [29, 14.5, "item29"]

    def test_to_arrow(self, dataset: TabularDataset) -> None:
        table = dataset.to_arrow()
        assert isinstance(table, pa.Table)
        assert table.schema == pa.schema(
            [("id", pa.int64()), ("value", pa.float64()), ("label", pa.string())]
        )
        assert table.column("id").to_pylist() == list(range(30))

    def test_to_polars(self, dataset: TabularDataset) -> None:
        pl = pytest.importorskip("polars")
        frame = dataset.to_polars()
        assert isinstance(frame, pl.DataFrame)
        assert frame.columns == ["id", "value", "label"]
        assert frame["id"].to_list() == list(range(30))
        assert frame.dtypes == [pl.Int64, pl.Float64, pl.String]

    def test_to_record_batches_streams_in_small_batches(
        self, dataset: TabularDataset, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(delimited, "STREAM_BLOCK_BYTES", 64)
        batches = list(dataset.to_record_batches())
        assert all(isinstance(b, pa.RecordBatch) for b in batches)
        assert len(batches) > 3  # more than one per file
        assert {b.schema for b in batches} == {dataset.to_arrow().schema}
        assert [i for b in batches for i in b.column("id").to_pylist()] == list(
            range(30)
        )

    def test_reading_is_lazy(self, blobstore: Datastore, store_root: Path) -> None:
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "later/*.csv"), validate=False
        )
        with pytest.raises(
            PathNotFoundError, match=r"glob 'later/\*\.csv' matches no file"
        ):
            ds.to_arrow()
        write_ids(store_root, "later/a.csv", range(3))
        assert ids(ds) == [0, 1, 2]
        write_ids(store_root, "later/b.csv", range(3, 5))
        assert ids(ds) == [0, 1, 2, 3, 4]  # the definition is read again on every call


class TestRows:
    @pytest.mark.parametrize("block", [64, 16 << 20], ids=["small-blocks", "one-block"])
    @pytest.mark.parametrize(
        ("build", "expected"),
        [
            (lambda d: d.take(5), list(range(5))),
            (lambda d: d.take(15), list(range(15))),  # across a file boundary
            (lambda d: d.take(100), list(range(30))),
            (lambda d: d.skip(25), list(range(25, 30))),
            (lambda d: d.skip(8).take(4), list(range(8, 12))),
            (lambda d: d.take(12).skip(10), [10, 11]),
            (lambda d: d.skip(30), []),
        ],
        ids=[
            "take5",
            "take15",
            "take-more",
            "skip25",
            "skip-take",
            "take-skip",
            "skip-all",
        ],
    )
    def test_take_and_skip(
        self,
        dataset: TabularDataset,
        monkeypatch: pytest.MonkeyPatch,
        block: int,
        build: object,
        expected: list[int],
    ) -> None:
        monkeypatch.setattr(delimited, "STREAM_BLOCK_BYTES", block)
        result = build(dataset)  # type: ignore[operator]
        assert ids(result) == expected
        assert [
            i for b in result.to_record_batches() for i in b.column("id").to_pylist()
        ] == expected
        assert result.to_pandas_dataframe()["id"].tolist() == expected

    def test_take_zero_keeps_the_schema(self, dataset: TabularDataset) -> None:
        table = dataset.take(0).keep_columns(["label", "id"]).to_arrow()
        assert table.num_rows == 0
        assert table.schema == pa.schema([("label", pa.string()), ("id", pa.int64())])

    def test_transforms_leave_the_receiver_unchanged(
        self, dataset: TabularDataset
    ) -> None:
        dataset.take(3)
        dataset.drop_columns("value")
        assert dataset.definition["transforms"] == []
        assert ids(dataset) == list(range(30))


class TestColumns:
    def test_keep_columns_in_the_order_given(self, dataset: TabularDataset) -> None:
        table = dataset.keep_columns(["label", "id"]).to_arrow()
        assert table.schema.names == ["label", "id"]
        assert table.num_rows == 30

    def test_keep_one_column_by_name(self, dataset: TabularDataset) -> None:
        assert dataset.keep_columns("value").to_pandas_dataframe().columns.tolist() == [
            "value"
        ]

    def test_drop_columns(self, dataset: TabularDataset) -> None:
        assert dataset.drop_columns(["value"]).to_arrow().schema.names == [
            "id",
            "label",
        ]
        assert dataset.drop_columns("label").to_pandas_dataframe().columns.tolist() == [
            "id",
            "value",
        ]

    def test_keep_columns_validate_rejects_a_missing_column(
        self, dataset: TabularDataset
    ) -> None:
        with pytest.raises(
            DatasetValidationError,
            match=r"keep_columns: no column\(s\) \['nope'\]; "
            r"the columns are \['id', 'value', 'label'\]",
        ):
            dataset.keep_columns(["id", "nope"], validate=True)

    def test_keep_columns_without_validate_ignores_a_missing_column(
        self, dataset: TabularDataset
    ) -> None:
        assert dataset.keep_columns(["id", "nope"]).to_arrow().schema.names == ["id"]

    def test_keep_columns_validate_sees_path_and_partition_columns(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write_ids(store_root, "part/2024/a.csv", range(2))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "part/**/*.csv"),
            include_path=True,
            partition_format="/{year}/*.csv",
        )
        kept = ds.keep_columns(["Path", "year", "id"], validate=True).to_arrow()
        assert kept.to_pylist() == [
            {"Path": "/2024/a.csv", "year": "2024", "id": i} for i in range(2)
        ]


def test_a_row_longer_than_a_block_is_read_whole_and_streamed(
    blobstore: Datastore, store_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(delimited, "STREAM_BLOCK_BYTES", 64)
    long_text = "x" * 2048
    rows = [f"{i},short{i}" for i in range(50)]
    rows[20] = f"20,{long_text}"
    (store_root / "long").mkdir()
    (store_root / "long" / "rows.csv").write_text("id,text\n" + "\n".join(rows) + "\n")
    ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "long/rows.csv"))

    whole = ds.to_pandas_dataframe()
    streamed = pa.Table.from_batches(list(ds.to_record_batches())).to_pandas()

    for frame in (whole, streamed):
        assert list(frame["id"]) == list(range(50))
        assert frame.loc[20, "text"] == long_text
