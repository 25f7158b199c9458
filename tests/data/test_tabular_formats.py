"""Dataset.Tabular.from_parquet_files and from_json_lines_files over real files."""

from __future__ import annotations

import datetime as dt
import json
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from dataferry import DataPath, Dataset, Datastore, DataType
from dataferry.errors import DataFormatError, DatasetValidationError, PathNotFoundError

if TYPE_CHECKING:
    from pathlib import Path


def write_parquet(root: Path, relative: str, table: pa.Table) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


def write_jsonl(root: Path, relative: str, records: list[dict[str, object]]) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    return path


def streamed(dataset: object) -> list[dict[str, object]]:
    return [r for b in dataset.to_record_batches() for r in b.to_pylist()]  # type: ignore[attr-defined]


class TestParquet:
    def test_reads_many_files_in_order_with_their_schema(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write_parquet(
            store_root,
            "pq/b.parquet",
            pa.table({"id": [3], "score": [3.5], "name": ["c"]}),
        )
        write_parquet(
            store_root,
            "pq/a.parquet",
            pa.table({"id": [1, 2], "score": [1.5, 2.5], "name": ["a", "b"]}),
        )
        ds = Dataset.Tabular.from_parquet_files(DataPath(blobstore, "pq/*.parquet"))
        table = ds.to_arrow()
        assert table.schema.types == [pa.int64(), pa.float64(), pa.string()]
        expected = [
            {"id": 1, "score": 1.5, "name": "a"},
            {"id": 2, "score": 2.5, "name": "b"},
            {"id": 3, "score": 3.5, "name": "c"},
        ]
        assert table.to_pylist() == expected
        assert streamed(ds) == expected
        assert ds.to_pandas_dataframe()["name"].tolist() == ["a", "b", "c"]

    def test_set_column_types(self, blobstore: Datastore, store_root: Path) -> None:
        write_parquet(
            store_root,
            "pq/a.parquet",
            pa.table(
                {
                    "id": [1, 2],
                    "code": [7, 8],
                    "when": ["2024-01-02", "2024-01-03"],
                    "n": ["1", "2"],
                }
            ),
        )
        ds = Dataset.Tabular.from_parquet_files(
            DataPath(blobstore, "pq/a.parquet"),
            set_column_types={
                "id": DataType.to_float(),
                "code": "str",
                "when": DataType.to_datetime(),
                "n": "int",
            },
        )
        table = ds.to_arrow()
        assert table.schema.types == [
            pa.float64(),
            pa.string(),
            pa.timestamp("ns"),
            pa.int64(),
        ]
        assert table.to_pylist()[0] == {
            "id": 1.0,
            "code": "7",
            "when": dt.datetime(2024, 1, 2),
            "n": 1,
        }
        assert streamed(ds) == table.to_pylist()

    def test_include_path_and_partition_format(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write_parquet(store_root, "events/fr/part.parquet", pa.table({"n": [1]}))
        write_parquet(store_root, "events/it/part.parquet", pa.table({"n": [2]}))
        ds = Dataset.Tabular.from_parquet_files(
            DataPath(blobstore, "events/**/*.parquet"),
            include_path=True,
            partition_format="/{country}/*.parquet",
        )
        assert ds.to_arrow().to_pylist() == [
            {"n": 1, "country": "fr", "Path": "/fr/part.parquet"},
            {"n": 2, "country": "it", "Path": "/it/part.parquet"},
        ]

    def test_a_value_that_does_not_cast_is_null_or_named(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write_parquet(
            store_root,
            "pq/a.parquet",
            pa.table({"id": [1, 2, 3], "n": ["1", "two", "3"]}),
        )
        ds = Dataset.Tabular.from_parquet_files(
            DataPath(blobstore, "pq/a.parquet"), set_column_types={"n": "int"}
        )
        assert ds.to_arrow().column("n").to_pylist() == [1, None, 3]
        with pytest.raises(
            DataFormatError,
            match=r"/a\.parquet: row 2, column 'n': value 'two' is not int64",
        ):
            ds.to_arrow(on_error="fail")
        with pytest.raises(DataFormatError, match=r"/a\.parquet: row 2, column 'n'"):
            list(ds.to_record_batches(on_error="fail"))

    def test_nested_column_cannot_be_a_number(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write_parquet(store_root, "pq/a.parquet", pa.table({"v": [[1, 2]]}))
        path = DataPath(blobstore, "pq/a.parquet")
        message = r"/a\.parquet: column 'v' \(list<.*cannot be read as int64"
        with pytest.raises(DataFormatError, match=message):
            Dataset.Tabular.from_parquet_files(path, set_column_types={"v": "int"})

    def test_not_parquet(self, blobstore: Datastore, store_root: Path) -> None:
        (store_root / "pq").mkdir()
        (store_root / "pq" / "a.parquet").write_text("id,value\n1,2\n")
        with pytest.raises(DataFormatError, match=r"/a\.parquet: not a Parquet file"):
            Dataset.Tabular.from_parquet_files(DataPath(blobstore, "pq/a.parquet"))

    def test_a_later_file_without_a_column(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write_parquet(store_root, "pq/a.parquet", pa.table({"id": [1], "x": [1]}))
        write_parquet(store_root, "pq/b.parquet", pa.table({"id": [2]}))
        ds = Dataset.Tabular.from_parquet_files(DataPath(blobstore, "pq/*.parquet"))
        with pytest.raises(
            DataFormatError, match=r"/b\.parquet: lacks column\(s\) \['x'\]"
        ):
            ds.to_arrow()

    def test_glob_matching_nothing(self, blobstore: Datastore) -> None:
        with pytest.raises(
            PathNotFoundError, match=r"glob 'none/\*\.parquet' matches no file"
        ):
            Dataset.Tabular.from_parquet_files(DataPath(blobstore, "none/*.parquet"))


class TestJsonLines:
    def test_reads_many_files(self, blobstore: Datastore, store_root: Path) -> None:
        write_jsonl(
            store_root,
            "js/1.jsonl",
            [
                {"id": 1, "score": 1.5, "tags": "a"},
                {"id": 2, "score": 2.5, "tags": "b"},
            ],
        )
        write_jsonl(store_root, "js/2.jsonl", [{"id": 3, "score": 3.5, "tags": "c"}])
        ds = Dataset.Tabular.from_json_lines_files(DataPath(blobstore, "js/*.jsonl"))
        table = ds.to_arrow()
        assert table.schema.types == [pa.int64(), pa.float64(), pa.string()]
        assert table.column("id").to_pylist() == [1, 2, 3]
        assert streamed(ds) == table.to_pylist()

    def test_set_column_types_converts_after_parsing(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        # pyarrow's JSON parser cannot read a number as a string: types are cast after
        write_jsonl(
            store_root,
            "js/1.jsonl",
            [{"id": 1, "score": 1.5, "when": "2024-01-02T03:04:05"}],
        )
        write_jsonl(
            store_root,
            "js/2.jsonl",
            [{"id": 2, "score": 2, "when": "2024-01-03T00:00:00"}],
        )
        ds = Dataset.Tabular.from_json_lines_files(
            DataPath(blobstore, "js/*.jsonl"),
            set_column_types={
                "id": DataType.to_float(),
                "score": DataType.to_string(),
                "when": DataType.to_datetime(),
            },
        )
        table = ds.to_arrow()
        assert table.schema.types == [pa.float64(), pa.string(), pa.timestamp("ns")]
        assert table.to_pylist() == [
            {"id": 1.0, "score": "1.5", "when": dt.datetime(2024, 1, 2, 3, 4, 5)},
            {
                "id": 2.0,
                "score": "2",
                "when": dt.datetime(2024, 1, 3),
            },  # pyarrow prints 2.0 as "2"
        ]
        assert streamed(ds) == table.to_pylist()

    def test_a_value_that_does_not_cast_is_null_or_named(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write_jsonl(store_root, "js/a.jsonl", [{"n": "1"}, {"n": "1"}, {"n": "x"}])
        ds = Dataset.Tabular.from_json_lines_files(
            DataPath(blobstore, "js/a.jsonl"), set_column_types={"n": "int"}
        )
        assert ds.to_arrow().column("n").to_pylist() == [1, 1, None]
        with pytest.raises(
            DataFormatError,
            match=r"/a\.jsonl: row 3, column 'n': value 'x' is not int64",
        ):
            ds.to_pandas_dataframe(on_error="fail")

    def test_not_json(self, blobstore: Datastore, store_root: Path) -> None:
        (store_root / "js").mkdir()
        (store_root / "js" / "a.jsonl").write_text("id,value\n1,2\n")
        with pytest.raises(DataFormatError, match=r"/a\.jsonl: not JSON lines"):
            Dataset.Tabular.from_json_lines_files(DataPath(blobstore, "js/a.jsonl"))

    def test_set_column_types_on_a_missing_column(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write_jsonl(store_root, "js/a.jsonl", [{"id": 1}])
        with pytest.raises(
            DatasetValidationError,
            match=r"set_column_types names column\(s\) \['nope'\]",
        ):
            Dataset.Tabular.from_json_lines_files(
                DataPath(blobstore, "js/a.jsonl"), set_column_types={"nope": "int"}
            )

    def test_only_utf8(self, blobstore: Datastore, store_root: Path) -> None:
        write_jsonl(store_root, "js/a.jsonl", [{"id": 1}])
        with pytest.raises(
            DatasetValidationError, match=r"JSON lines are read as UTF-8"
        ):
            Dataset.Tabular.from_json_lines_files(
                DataPath(blobstore, "js/a.jsonl"), encoding="latin1"
            )


class TestDateColumns:
    def test_a_parquet_date_column_is_datetime64_in_pandas(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        day = dt.date(2024, 1, 2)
        write_parquet(store_root, "pq/a.parquet", pa.table({"day": [day]}))
        ds = Dataset.Tabular.from_parquet_files(DataPath(blobstore, "pq/*.parquet"))
        frame = ds.to_pandas_dataframe()
        assert frame["day"].dtype.kind == "M"
        assert frame["day"].tolist() == [pd.Timestamp(day)]


class TestExtraColumns:
    def test_include_path_on_parquet_with_a_path_column_is_refused(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write_parquet(store_root, "pq/a.parquet", pa.table({"Path": ["x"], "n": [1]}))
        with pytest.raises(
            DatasetValidationError,
            match=r"^include_path=True adds a column 'Path', and the data "
            r"\(/a\.parquet\) has a column 'Path' too",
        ):
            Dataset.Tabular.from_parquet_files(
                DataPath(blobstore, "pq/*.parquet"), include_path=True
            )
