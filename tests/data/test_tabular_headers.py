"""Column names and types of delimited datasets: duplicate names, header modes across
files, and type inference when the first files are empty or header-only.

Every case reads the dataset whole (``to_arrow``) and streamed (``to_record_batches``)
and expects the same rows from both; names are compared with ``pandas.read_csv``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pytest

from dataferry import DataPath, Dataset, Datastore, DataType, TabularDataset
from dataferry.errors import DataFormatError

if TYPE_CHECKING:
    from pathlib import Path

HEADER_MODES = [
    "ALL_FILES_HAVE_SAME_HEADERS",
    "NO_HEADERS",
    "ONLY_FIRST_FILE_HAS_HEADERS",
    "COMBINE_ALL_FILES_HEADERS",
]


def write(root: Path, relative: str, data: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read(ds: TabularDataset) -> list[dict[str, object]]:
    """The rows, after checking that a streamed read gives the same."""
    table = ds.to_arrow()
    batches = list(ds.to_record_batches())
    assert [r for b in batches for r in b.to_pylist()] == table.to_pylist()
    assert all(b.schema == table.schema for b in batches)
    return table.to_pylist()  # type: ignore[no-any-return]


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]


class TestDuplicateNames:
    @pytest.mark.parametrize(
        "header",
        ["a,a,b", "a,a,a", "x,x,x.1", "a,a.1,a", "x,,", ",,", "a,A,a"],
    )
    def test_names_are_made_unique_as_pandas_makes_them(
        self, blobstore: Datastore, store_root: Path, header: str
    ) -> None:
        path = write(store_root, "d/a.csv", f"{header}\n1,2,3\n4,5,6\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "d/a.csv"))

        frame = pd.read_csv(path)
        names = list(frame.columns)
        assert read(ds) == [
            dict(zip(names, r, strict=True)) for r in ([1, 2, 3], [4, 5, 6])
        ]
        assert ds.to_pandas_dataframe().columns.tolist() == names

    def test_the_given_input(self, blobstore: Datastore, store_root: Path) -> None:
        write(store_root, "d/a.csv", "a,a,b\n1,2,3\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "d/a.csv"))

        assert ds.to_arrow().schema == pa.schema(
            [("a", pa.int64()), ("a.1", pa.int64()), ("b", pa.int64())]
        )
        assert read(ds) == [{"a": 1, "a.1": 2, "b": 3}]

    def test_a_renamed_column_takes_set_column_types(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "d/a.csv", "a,a,b\n1,007,3\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "d/a.csv"),
            set_column_types={"a.1": DataType.to_string()},
        )
        assert read(ds) == [{"a": 1, "a.1": "007", "b": 3}]

    def test_without_type_inference(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "d/a.csv", "a,a,b\n1,2,3\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "d/a.csv"), infer_column_types=False
        )
        assert read(ds) == [{"a": "1", "a.1": "2", "b": "3"}]

    def test_combine_all_files_headers(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "d/1.csv", "a,a,b\n1,2,3\n")
        write(store_root, "d/2.csv", "b,a,c,c\n4,5,6,7\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "d/*.csv"), header="COMBINE_ALL_FILES_HEADERS"
        )
        assert read(ds) == [
            {"a": 1, "a.1": 2, "b": 3, "c": None, "c.1": None},
            {"a": 5, "a.1": None, "b": 4, "c": 6, "c.1": 7},
        ]

    @pytest.mark.parametrize(
        "header", ["ALL_FILES_HAVE_SAME_HEADERS", "ONLY_FIRST_FILE_HAS_HEADERS"]
    )
    def test_other_header_modes(
        self, blobstore: Datastore, store_root: Path, header: str
    ) -> None:
        write(store_root, "d/1.csv", "a,a\n1,2\n")
        second = "a,a\n3,4\n" if header.startswith("ALL") else "3,4\n"
        write(store_root, "d/2.csv", second)
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "d/*.csv"), header=header
        )
        assert read(ds) == [{"a": 1, "a.1": 2}, {"a": 3, "a.1": 4}]


class TestHeadersAcrossFiles:
    def test_files_without_header_rows_read_with_the_default_load(
        self, blobstore: Datastore, store_root: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        # Azure ML: names from the first file's first line, every other first line dropped
        write(store_root, "n/a.csv", "1,x\n2,y\n")
        write(store_root, "n/b.csv", "3,z\n4,w\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "n/*.csv"))

        assert read(ds) == [{"1": 2, "x": "y"}, {"1": 4, "x": "w"}]
        assert warnings_of(caplog)[0].startswith(
            "/b.csv: its first line ['3', 'z'] differs from the header of /a.csv, "
            "['1', 'x']; it is dropped as a header all the same"
        )
        assert {m.split(":")[0] for m in warnings_of(caplog)} == {"/b.csv"}

    def test_a_first_line_with_other_names_is_dropped_with_a_warning(
        self, blobstore: Datastore, store_root: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        write(store_root, "h/1.csv", "id,x\n1,2\n")
        write(store_root, "h/2.csv", "id,x,extra\n3,4\n")
        write(store_root, "h/3.csv", "id,x\n5,6\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "h/*.csv"))

        assert read(ds) == [{"id": 1, "x": 2}, {"id": 3, "x": 4}, {"id": 5, "x": 6}]
        warned = {m.split(":")[0] for m in warnings_of(caplog)}
        assert warned == {"/2.csv"}
        assert "pass header='COMBINE_ALL_FILES_HEADERS'" in warnings_of(caplog)[0]

    def test_the_same_header_written_differently_is_no_warning(
        self, blobstore: Datastore, store_root: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        write(store_root, "h/1.csv", b"\xef\xbb\xbfid,name\r\n1,a\r\n")
        write(store_root, "h/2.csv", '"id","name"\n2,b\n')
        write(
            store_root, "h/3.csv", "\n\nid,name\n3,c"
        )  # blank lines, no final newline
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "h/*.csv"))

        assert read(ds) == [
            {"id": 1, "name": "a"},
            {"id": 2, "name": "b"},
            {"id": 3, "name": "c"},
        ]
        assert warnings_of(caplog) == []

    def test_a_quoted_header_with_the_separator_in_a_name(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        path = write(store_root, "h/1.csv", '"last, first",age\n"Doe, J",40\n')
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "h/1.csv"))
        assert read(ds) == [{"last, first": "Doe, J", "age": 40}]
        assert list(pd.read_csv(path).columns) == ["last, first", "age"]


class TestInferenceFromTheFirstRowsOfTheDataset:
    def test_a_header_only_first_file_does_not_make_every_column_text(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "t/1.csv", "id,score,when\n")
        write(store_root, "t/2.csv", "id,score,when\n1,2.5,2024-01-02 10:00:00\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "t/*.csv"))

        assert ds.to_arrow().schema.types == [
            pa.int64(),
            pa.float64(),
            pa.timestamp("s"),
        ]
        assert [(r["id"], r["score"]) for r in read(ds)] == [(1, 2.5)]

    @pytest.mark.parametrize("validate", [True, False])
    @pytest.mark.parametrize("position", ["first", "middle", "last"])
    def test_a_zero_byte_file_is_zero_rows_and_one_log_line(
        self,
        blobstore: Datastore,
        store_root: Path,
        caplog: pytest.LogCaptureFixture,
        validate: bool,
        position: str,
    ) -> None:
        names = {"first": "0.csv", "middle": "2.csv", "last": "9.csv"}
        write(store_root, "z/1.csv", "id,x\n1,a\n")
        write(store_root, "z/3.csv", "id,x\n2,b\n")
        write(store_root, f"z/{names[position]}", "")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "z/*.csv"), validate=validate
        )
        caplog.clear()
        caplog.set_level(logging.INFO, logger="dataferry.data.delimited")

        assert ds.to_arrow().to_pylist() == [{"id": 1, "x": "a"}, {"id": 2, "x": "b"}]
        assert [r.getMessage() for r in caplog.records] == [
            f"/{names[position]} is empty: it adds no rows"
        ]
        assert [r for b in ds.to_record_batches() for r in b.to_pylist()] == [
            {"id": 1, "x": "a"},
            {"id": 2, "x": "b"},
        ]

    @pytest.mark.parametrize("header", HEADER_MODES)
    @pytest.mark.parametrize(
        "empty", [b"", b"\n\n", b"\xef\xbb\xbf"], ids=["0-bytes", "blank", "bom"]
    )
    def test_empty_files_in_every_header_mode(
        self, blobstore: Datastore, store_root: Path, header: str, empty: bytes
    ) -> None:
        has_header = header != "NO_HEADERS"
        write(store_root, "e/0.csv", empty)
        write(store_root, "e/1.csv", ("id,x\n" if has_header else "") + "1,2.5\n")
        write(store_root, "e/2.csv", empty)
        own_header = header in HEADER_MODES[::3]  # every file has its header
        write(store_root, "e/3.csv", ("id,x\n" if own_header else "") + "2,3.5\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "e/*.csv"), header=header
        )
        names = ["id", "x"] if has_header else ["Column1", "Column2"]
        assert read(ds) == [
            dict(zip(names, r, strict=True)) for r in ([1, 2.5], [2, 3.5])
        ]

    def test_types_come_from_later_files_when_the_first_has_few_rows(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "s/1.csv", "id,x,note\n1,,\n")
        write(store_root, "s/2.csv", "id,x,note\n2,2.5,\n")
        write(store_root, "s/3.csv", "id,x,note\n3,4,hi\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "s/*.csv"))

        assert ds.to_arrow().schema.types == [pa.int64(), pa.float64(), pa.string()]
        assert read(ds) == [
            {"id": 1, "x": None, "note": None},
            {"id": 2, "x": 2.5, "note": None},
            {"id": 3, "x": 4.0, "note": "hi"},
        ]
        frame = pd.concat(pd.read_csv(store_root / f"s/{n}.csv") for n in (1, 2, 3))
        assert str(frame["x"].dtype) == "float64"  # pandas agrees

    def test_int_then_text_across_files_is_text(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "s/1.csv", "code\n1\n")
        write(store_root, "s/2.csv", "code\nA7\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "s/*.csv"))
        assert read(ds) == [{"code": "1"}, {"code": "A7"}]

    def test_a_single_header_only_file_gives_text_columns_and_no_rows(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "s/1.csv", "id,x\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "s/1.csv"))
        assert ds.to_arrow().schema == pa.schema(
            [("id", pa.string()), ("x", pa.string())]
        )
        assert read(ds) == []
        assert ds.to_pandas_dataframe().columns.tolist() == ["id", "x"]

    def test_a_dataset_of_empty_files_names_them(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "s/1.csv", "")
        write(store_root, "s/2.csv", "\n")
        with pytest.raises(
            DataFormatError,
            match=r"^no file has a line to read columns from: /1\.csv, /2\.csv are empty",
        ):
            Dataset.Tabular.from_delimited_files(DataPath(blobstore, "s/*.csv"))
