"""Dataset.Tabular.from_delimited_files over real files in the default datastore."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pytest

import dataferry.data.delimited as delimited
from dataferry import DataPath, Dataset, Datastore, DataType, TabularDataset
from dataferry.errors import DataFormatError, DatasetValidationError

if TYPE_CHECKING:
    from pathlib import Path


def write(root: Path, relative: str, text: str, encoding: str = "utf-8") -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def rows(dataset: TabularDataset) -> list[dict[str, object]]:
    return dataset.to_arrow().to_pylist()  # type: ignore[no-any-return]


class TestSeparator:
    @pytest.mark.parametrize(
        "separator", [",", ";", "\t"], ids=["comma", "semicolon", "tab"]
    )
    def test_splits_on_the_separator(
        self, blobstore: Datastore, store_root: Path, separator: str
    ) -> None:
        body = "\n".join(
            separator.join(r)
            for r in [["id", "score", "name"], ["1", "2.5", "a,b"], ["2", "3.5", "c"]]
        )
        if separator == ",":
            body = body.replace("a,b", '"a,b"')
        write(store_root, "sep/data.csv", body + "\n")

        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "sep/*.csv"), separator=separator
        )

        table = ds.to_arrow()
        assert table.schema.names == ["id", "score", "name"]
        assert table.schema.types == [pa.int64(), pa.float64(), pa.string()]
        assert table.to_pylist() == [
            {"id": 1, "score": 2.5, "name": "a,b"},
            {"id": 2, "score": 3.5, "name": "c"},
        ]


class TestHeader:
    def test_true_takes_names_from_the_first_line(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "h/a.csv", "id,label\n1,x\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "h/a.csv"), header=True
        )
        assert rows(ds) == [{"id": 1, "label": "x"}]

    @pytest.mark.parametrize("header", [False, "NO_HEADERS"])
    def test_no_header_names_columns_column1_and_on(
        self, blobstore: Datastore, store_root: Path, header: bool | str
    ) -> None:
        write(store_root, "h/a.csv", "1,x,2.5\n2,y,3.5\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "h/a.csv"), header=header
        )
        assert rows(ds) == [
            {"Column1": 1, "Column2": "x", "Column3": 2.5},
            {"Column1": 2, "Column2": "y", "Column3": 3.5},
        ]

    def test_only_first_file_has_headers(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "h/1.csv", "id,label\n1,a\n2,b\n")
        write(store_root, "h/2.csv", "3,c\n4,d\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "h/*.csv"), header="ONLY_FIRST_FILE_HAS_HEADERS"
        )
        expected = [
            {"id": i, "label": c} for i, c in zip(range(1, 5), "abcd", strict=True)
        ]
        assert rows(ds) == expected
        streamed = [r for b in ds.to_record_batches() for r in b.to_pylist()]
        assert streamed == expected

    def test_combine_all_files_headers_fills_missing_columns_with_null(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "h/1.csv", "id,colour\n1,red\n")
        write(store_root, "h/2.csv", "size,id\n2.5,2\n")
        write(store_root, "h/3.csv", "id\n3\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "h/*.csv"), header="COMBINE_ALL_FILES_HEADERS"
        )
        expected = [
            {"id": 1, "colour": "red", "size": None},
            {"id": 2, "colour": None, "size": 2.5},
            {"id": 3, "colour": None, "size": None},
        ]
        table = ds.to_arrow()
        assert table.schema.names == ["id", "colour", "size"]
        assert table.to_pylist() == expected
        assert [r for b in ds.to_record_batches() for r in b.to_pylist()] == expected
        frame = ds.to_pandas_dataframe()
        assert frame["colour"].isna().tolist() == [False, True, True]

    def test_same_headers_mode_takes_the_first_files_names_and_drops_each_first_line(
        self, blobstore: Datastore, store_root: Path, caplog: pytest.LogCaptureFixture
    ) -> None:
        # as in Azure ML: the first line of every other file is dropped uncompared
        write(store_root, "h/1.csv", "id,colour\n1,red\n")
        write(store_root, "h/2.csv", "id,size\n2,2.5\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "h/*.csv"))
        expected = [{"id": 1, "colour": "red"}, {"id": 2, "colour": "2.5"}]
        assert rows(ds) == expected
        assert [r for b in ds.to_record_batches() for r in b.to_pylist()] == expected
        assert "/2.csv: its first line ['id', 'size'] differs from the header" in (
            caplog.text
        )


class TestEncoding:
    @pytest.mark.parametrize(
        ("encoding", "codec", "city"),
        [
            ("latin1", "latin-1", "Zürich"),
            ("iso88591", "iso-8859-1", "Genève"),
            ("utf16", "utf-16", "Kraków €"),
            ("utf32", "utf-32", "Kraków €"),
            ("utf8bom", "utf-8-sig", "Kraków €"),
            ("windows1252", "cp1252", "Œuvre €"),
        ],
    )
    def test_decodes_non_ascii_text(
        self,
        blobstore: Datastore,
        store_root: Path,
        encoding: str,
        codec: str,
        city: str,
    ) -> None:
        write(store_root, "enc/a.csv", f"id,Straße\n1,{city}\n2,Köln\n", codec)
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "enc/a.csv"), encoding=encoding
        )
        expected = [{"id": 1, "Straße": city}, {"id": 2, "Straße": "Köln"}]
        assert rows(ds) == expected  # no BOM left in the first column's name
        assert [
            r for b in ds.take(10).to_record_batches() for r in b.to_pylist()
        ] == expected

    def test_utf16_streams_in_small_blocks(
        self, blobstore: Datastore, store_root: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write(
            store_root,
            "enc/a.csv",
            "name\n" + "".join(f"José{i}\n" for i in range(300)),
            "utf-16",
        )
        monkeypatch.setattr(delimited, "STREAM_BLOCK_BYTES", 256)
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "enc/a.csv"), encoding="utf16"
        )
        batches = list(ds.to_record_batches())
        assert len(batches) > 1
        assert [r["name"] for b in batches for r in b.to_pylist()] == [
            f"José{i}" for i in range(300)
        ]


class TestColumnTypes:
    def test_infer_column_types_false_reads_every_column_as_text(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "t/a.csv", "id,score,when,flag\n1,2.5,2024-01-02,true\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "t/a.csv"), infer_column_types=False
        )
        table = ds.to_arrow()
        assert table.schema.types == [pa.string()] * 4
        assert table.to_pylist() == [
            {"id": "1", "score": "2.5", "when": "2024-01-02", "flag": "true"}
        ]

    def test_inferred_types(self, blobstore: Datastore, store_root: Path) -> None:
        write(
            store_root,
            "t/a.csv",
            "id,score,when,flag,name\n1,2.5,2024-01-02 03:04:05,true,x\n",
        )
        table = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "t/a.csv")
        ).to_arrow()
        assert [str(t) for t in table.schema.types] == [
            "int64",
            "double",
            "timestamp[s]",
            "bool",
            "string",
        ]

    def test_datatype_builders(self, blobstore: Datastore, store_root: Path) -> None:
        write(
            store_root,
            "t/a.csv",
            "id,score,code,when,flag\n"
            "1,2,007,02/01/2024 10:30,1\n"
            "2,3,010,13/01/2024 23:59,0\n",
        )
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "t/a.csv"),
            set_column_types={
                "id": DataType.to_long(),
                "score": DataType.to_float(),
                "code": DataType.to_string(),
                "when": DataType.to_datetime("%d/%m/%Y %H:%M"),
                "flag": DataType.to_bool(),
            },
        )
        table = ds.to_arrow()
        assert table.schema.types == [
            pa.int64(),
            pa.float64(),
            pa.string(),
            pa.timestamp("ns"),
            pa.bool_(),
        ]
        assert table.to_pylist() == [
            {
                "id": 1,
                "score": 2.0,
                "code": "007",
                "when": dt.datetime(2024, 1, 2, 10, 30),
                "flag": True,
            },
            {
                "id": 2,
                "score": 3.0,
                "code": "010",
                "when": dt.datetime(2024, 1, 13, 23, 59),
                "flag": False,
            },
        ]

    def test_datetime_format_is_kept_when_a_bad_value_forces_the_fallback(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        # one unparsable value sends the column through the slow path; day-first must
        # still be day-first there (it was parsed month-first before)
        write(
            store_root, "t/a.csv", "id,when\n1,02/01/2024\n2,not a date\n3,13/01/2024\n"
        )
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "t/a.csv"),
            set_column_types={"when": DataType.to_datetime("%d/%m/%Y")},
        )
        assert ds.to_arrow().column("when").to_pylist() == [
            dt.datetime(2024, 1, 2),
            None,
            dt.datetime(2024, 1, 13),
        ]

    def test_a_date_only_column_reads_as_timestamps(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        path = write(store_root, "t/a.csv", "id,day\n1,2024-01-02\n2,2024-02-29\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "t/a.csv"))

        days = [dt.datetime(2024, 1, 2), dt.datetime(2024, 2, 29)]
        assert ds.to_arrow().schema.field("day").type == pa.timestamp("s")
        assert rows(ds) == [{"id": 1, "day": days[0]}, {"id": 2, "day": days[1]}]
        batches = list(ds.to_record_batches())
        assert [b.schema.field("day").type for b in batches] == [pa.timestamp("s")]
        frame = ds.to_pandas_dataframe()
        assert str(frame["day"].dtype) == "datetime64[s]"
        assert frame["day"].dt.day.tolist() == [2, 29]
        parsed = pd.read_csv(path, parse_dates=["day"])  # what pandas gives, asked
        assert frame["day"].tolist() == parsed["day"].tolist()

    def test_a_date_column_takes_times_in_later_files(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "t/1.csv", "day\n2024-01-02\n")
        write(store_root, "t/2.csv", "day\n2024-01-03 10:30:00\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "t/*.csv"))
        assert ds.to_arrow().column("day").to_pylist() == [
            dt.datetime(2024, 1, 2),
            dt.datetime(2024, 1, 3, 10, 30),
        ]

    def test_a_column_typed_date_is_datetime64_in_pandas(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "t/a.csv", "day\n2024-01-02\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "t/a.csv"), set_column_types={"day": "date"}
        )
        assert ds.to_arrow().schema.field("day").type == pa.date32()
        frame = ds.to_pandas_dataframe()
        assert frame["day"].dtype.kind == "M"
        assert frame["day"].dt.year.tolist() == [2024]

    @pytest.mark.parametrize(
        ("name", "arrow", "value"),
        [
            ("int", pa.int64(), 7),
            ("long", pa.int64(), 7),
            ("float", pa.float64(), 7.0),
            ("double", pa.float64(), 7.0),
            ("str", pa.string(), "7"),
            ("string", pa.string(), "7"),
            ("bool", pa.bool_(), True),
        ],
    )
    def test_plain_type_names(
        self,
        blobstore: Datastore,
        store_root: Path,
        name: str,
        arrow: pa.DataType,
        value: object,
    ) -> None:
        write(
            store_root, "t/a.csv", "id,v\n1,7\n" if name != "bool" else "id,v\n1,true\n"
        )
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "t/a.csv"), set_column_types={"v": name}
        )
        table = ds.to_arrow()
        assert table.schema.field("v").type == arrow
        assert table.column("v").to_pylist() == [value]


class TestExtraColumns:
    def test_include_path_adds_a_path_column(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "p/a.csv", "id\n1\n2\n")
        write(store_root, "p/b.csv", "id\n3\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "p/*.csv"), include_path=True
        )
        assert rows(ds) == [
            {"id": 1, "Path": "/a.csv"},
            {"id": 2, "Path": "/a.csv"},
            {"id": 3, "Path": "/b.csv"},
        ]

    @pytest.mark.parametrize("validate", [True, False])
    def test_include_path_on_data_with_a_path_column_is_refused(
        self, blobstore: Datastore, store_root: Path, validate: bool
    ) -> None:
        write(store_root, "p/a.csv", "Path,x\n/raw/1,1\n")
        message = (
            r"^include_path=True adds a column 'Path', and the data \(/a\.csv\) has "
            r"a column 'Path' too; rename that column, or read the files without "
            r"include_path=True$"
        )
        path = DataPath(blobstore, "p/*.csv")
        if validate:
            with pytest.raises(DatasetValidationError, match=message):
                Dataset.Tabular.from_delimited_files(path, include_path=True)
            return
        ds = Dataset.Tabular.from_delimited_files(
            path, include_path=True, validate=False
        )
        with pytest.raises(DatasetValidationError, match=message):
            ds.to_arrow()
        with pytest.raises(DatasetValidationError, match=message):
            list(ds.to_record_batches())
        with pytest.raises(DatasetValidationError, match=message):
            ds.take(1).to_pandas_dataframe()
        with pytest.raises(DatasetValidationError, match=message):
            ds.keep_columns(["x"], validate=True)

    def test_a_column_named_path_in_another_case_is_no_clash(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "p/a.csv", "path,x\n/raw/1,1\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "p/*.csv"), include_path=True
        )
        assert rows(ds) == [{"path": "/raw/1", "x": 1, "Path": "/a.csv"}]

    def test_a_partition_column_the_data_has_is_refused(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "p/2024/a.csv", "year,x\n1999,1\n")
        with pytest.raises(
            DatasetValidationError,
            match=r"^partition_format '/\{year\}/\*\.csv' adds a column 'year', and "
            r"the data \(/2024/a\.csv\) has a column 'year' too; give it another "
            r"name in partition_format, e\.g\. '\{year_part\}'$",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "p/**/*.csv"), partition_format="/{year}/*.csv"
            )

    def test_a_partition_column_named_path_with_include_path_is_refused(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "p/raw/a.csv", "x\n1\n")
        with pytest.raises(
            DatasetValidationError,
            match=r"^include_path=True adds a column 'Path', and partition_format "
            r"'/\{Path\}/\*\.csv' has a column 'Path' too",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "p/**/*.csv"),
                partition_format="/{Path}/*.csv",
                include_path=True,
            )

    def test_partition_format_gives_columns_from_the_path(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "sales/us/2023/q.csv", "amount\n10\n")
        write(store_root, "sales/de/2024/q.csv", "amount\n20\n30\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "sales/**/*.csv"),
            partition_format="/{country}/{year}/*.csv",
        )
        assert rows(ds) == [
            {"amount": 20, "country": "de", "year": "2024"},
            {"amount": 30, "country": "de", "year": "2024"},
            {"amount": 10, "country": "us", "year": "2023"},
        ]

    def test_partition_format_with_a_date_part(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "logs/2024/03/a.csv", "n\n1\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "logs/**/*.csv"),
            partition_format="/{day:yyyy/MM}/*.csv",
        )
        assert rows(ds) == [{"n": 1, "day": dt.datetime(2024, 3, 1)}]

    @pytest.mark.parametrize(
        ("fmt", "name"),
        [("/{y}/{y}/*.csv", "y"), ("/{day:yyyy}/{day}/*.csv", "day")],
    )
    def test_a_column_named_twice_in_partition_format_is_refused(
        self, blobstore: Datastore, store_root: Path, fmt: str, name: str
    ) -> None:
        # was re.error ("redefinition of group name") from the pattern it compiles to
        write(store_root, "p/2024/01/a.csv", "x\n1\n")
        with pytest.raises(
            DatasetValidationError,
            match=rf"^partition_format '{re.escape(fmt)}' names the column "
            rf"\{{{name}\}} twice; give each \{{column\}} its own name$",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "p/**/*.csv"), partition_format=fmt
            )

    def test_a_partition_column_name_need_not_be_an_identifier(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "p/2024/a.csv", "x\n1\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "p/**/*.csv"), partition_format="/{1st}/*.csv"
        )
        assert rows(ds) == [{"x": 1, "1st": "2024"}]

    def test_the_clash_names_the_file_that_has_the_column(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        # COMBINE_ALL_FILES_HEADERS: 'Path' is only in the second file's header
        write(store_root, "p/a.csv", "a\n1\n")
        write(store_root, "p/b.csv", "Path,a\nx,2\n")
        with pytest.raises(
            DatasetValidationError,
            match=r"^include_path=True adds a column 'Path', and the data \(/b\.csv\) "
            r"has a column 'Path' too",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "p/*.csv"),
                include_path=True,
                header="COMBINE_ALL_FILES_HEADERS",
            )


class TestParsingOptions:
    def test_support_multi_line_keeps_quoted_newlines(
        self, blobstore: Datastore, store_root: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        body = "".join(f'{i},"first line {i}\nsecond, line"\n' for i in range(200))
        write(store_root, "ml/a.csv", "id,text\n" + body)
        monkeypatch.setattr(
            delimited, "STREAM_BLOCK_BYTES", 256
        )  # blocks end inside quotes
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "ml/a.csv"), support_multi_line=True
        )
        expected = [
            {"id": i, "text": f"first line {i}\nsecond, line"} for i in range(200)
        ]
        assert [r for b in ds.to_record_batches() for r in b.to_pylist()] == expected
        assert rows(ds) == expected

    def test_quoted_newlines_without_support_multi_line_say_what_to_pass(
        self, blobstore: Datastore, store_root: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        write(
            store_root,
            "ml/a.csv",
            "id,text\n" + "".join(f'{i},"a\nb"\n' for i in range(200)),
        )
        monkeypatch.setattr(delimited, "STREAM_BLOCK_BYTES", 256)
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "ml/a.csv"), validate=False
        )
        with pytest.raises(
            DataFormatError, match=r"/a\.csv: .*support_multi_line=True"
        ):
            list(ds.to_record_batches())

    @pytest.mark.parametrize(("empty_as_string", "empty"), [(False, None), (True, "")])
    def test_empty_as_string(
        self,
        blobstore: Datastore,
        store_root: Path,
        empty_as_string: bool,
        empty: str | None,
    ) -> None:
        write(store_root, "e/a.csv", 'id,text\n1,\n2,""\n3,x\n')
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "e/a.csv"), empty_as_string=empty_as_string
        )
        assert ds.to_arrow().column("text").to_pylist() == [empty, empty, "x"]


class TestManyFiles:
    def test_recursive_glob_reads_files_in_sorted_path_order(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "many/c.csv", "id\n3\n")
        write(store_root, "many/b/0.csv", "id\n2\n")
        write(store_root, "many/a/sub/2.csv", "id\n1\n")
        write(store_root, "many/a/1.csv", "id\n0\n")
        write(store_root, "many/a/notes.txt", "not,a,csv\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "many/**/*.csv"), include_path=True
        )
        expected = [
            {"id": 0, "Path": "/a/1.csv"},
            {"id": 1, "Path": "/a/sub/2.csv"},
            {"id": 2, "Path": "/b/0.csv"},
            {"id": 3, "Path": "/c.csv"},
        ]
        assert rows(ds) == expected
        assert rows(ds) == expected  # stable from one read to the next

    def test_a_list_of_paths(self, blobstore: Datastore, store_root: Path) -> None:
        write(store_root, "l/x.csv", "id\n1\n")
        write(store_root, "l/y.csv", "id\n2\n")
        ds = Dataset.Tabular.from_delimited_files(
            [DataPath(blobstore, "l/y.csv"), (blobstore, "l/x.csv")]
        )
        assert [r["id"] for r in rows(ds)] == [2, 1]
