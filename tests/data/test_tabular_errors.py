"""Bad values and bad input to tabular datasets: nulls, or typed errors saying where."""

from __future__ import annotations

import datetime as dt
import re
from typing import TYPE_CHECKING

import pytest

from dataferry import DataPath, Dataset, Datastore, DataType, TabularDataset
from dataferry.errors import DataFormatError, DatasetValidationError, PathNotFoundError

if TYPE_CHECKING:
    from pathlib import Path


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def streamed(ds: TabularDataset, on_error: str = "null") -> list[dict[str, object]]:
    return [r for b in ds.to_record_batches(on_error=on_error) for r in b.to_pylist()]


@pytest.fixture
def late_bad_value(blobstore: Datastore, store_root: Path) -> TabularDataset:
    """An int column whose one bad value is far past the rows type inference reads."""
    lines = [
        f"{i},{i}" for i in range(120_000)
    ]  # ~1.3 MB: more than the inference sample
    lines[100_000] = "100000,oops"
    write(store_root, "late/data.csv", "id,n\n" + "\n".join(lines) + "\n")
    return Dataset.Tabular.from_delimited_files(DataPath(blobstore, "late/*.csv"))


class TestOnError:
    def test_inferred_type_null(self, late_bad_value: TabularDataset) -> None:
        table = late_bad_value.to_arrow()
        assert str(table.schema.field("n").type) == "int64"
        assert table.num_rows == 120_000
        assert table.column("n").null_count == 1
        assert table.column("n")[100_000].as_py() is None
        assert table.column("n")[100_001].as_py() == 100_001
        frame = late_bad_value.to_pandas_dataframe(on_error="null")
        assert frame["n"].isna().sum() == 1

    def test_inferred_type_fail_names_file_row_and_column(
        self, late_bad_value: TabularDataset
    ) -> None:
        # line 1 is the header, so id 100000 is on line 100002
        message = r"/data\.csv: row 100002, column 'n': value 'oops' is not int64"
        with pytest.raises(DataFormatError, match=message):
            late_bad_value.to_pandas_dataframe(on_error="fail")
        with pytest.raises(DataFormatError, match=message):
            list(late_bad_value.to_record_batches(on_error="fail"))

    @pytest.mark.parametrize(
        ("kind", "good", "bad", "value"),
        [
            (DataType.to_long(), "1", "1.5", 1),
            (DataType.to_float(), "1", "n/a?", 1.0),
            (DataType.to_bool(), "true", "maybe", True),
            (
                DataType.to_datetime("%Y-%m-%d"),
                "2024-01-02",
                "2024-13-45",
                dt.datetime(2024, 1, 2),
            ),
        ],
        ids=["long", "float", "bool", "datetime"],
    )
    def test_explicit_type(
        self,
        blobstore: Datastore,
        store_root: Path,
        kind: DataType,
        good: str,
        bad: str,
        value: object,
    ) -> None:
        write(store_root, "x/data.csv", f"id,v\n1,{good}\n2,{bad}\n3,{good}\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "x/data.csv"), set_column_types={"v": kind}
        )
        values = ds.to_arrow().column("v").to_pylist()
        assert values == [value, None, value]
        assert [r["v"] for r in streamed(ds)] == values
        with pytest.raises(
            DataFormatError,
            match=rf"/data\.csv: row 3, column 'v': value '{re.escape(bad)}' is not",
        ):
            ds.to_arrow(on_error="fail")

    def test_validation_does_not_fail_on_a_value_that_reading_turns_into_null(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "x/data.csv", "id,v\n1,2\n2,abc\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "x/data.csv"),
            validate=True,
            set_column_types={"v": "int"},
        )
        assert ds.to_arrow().column("v").to_pylist() == [2, None]

    def test_fail_in_a_file_without_its_own_header(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "h/1.csv", "id,v\n1,2\n")
        write(store_root, "h/2.csv", "2,bad\n3,4\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "h/*.csv"),
            header="ONLY_FIRST_FILE_HAS_HEADERS",
            set_column_types={"v": "int"},
        )
        assert ds.to_arrow().column("v").to_pylist() == [2, None, 4]
        with pytest.raises(
            DataFormatError, match=r"/2\.csv: row 1, column 'v': value 'bad'"
        ):
            ds.to_arrow(on_error="fail")

    def test_on_error_must_be_null_or_fail(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "x/data.csv", "id\n1\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "x/data.csv"))
        with pytest.raises(
            ValueError, match=r"on_error must be 'null' or 'fail', not 'skip'"
        ):
            ds.to_pandas_dataframe(on_error="skip")


class TestBadInput:
    def test_glob_matching_nothing(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "x/data.txt", "id\n1\n")
        with pytest.raises(
            PathNotFoundError,
            match=r"glob 'x/\*\.csv' matches no file on datastore 'workspaceblobstore'",
        ):
            Dataset.Tabular.from_delimited_files(DataPath(blobstore, "x/*.csv"))

    def test_missing_file(self, blobstore: Datastore) -> None:
        with pytest.raises(
            PathNotFoundError, match=r"path 'nope\.csv' matches no file"
        ):
            Dataset.Tabular.from_delimited_files(DataPath(blobstore, "nope.csv"))

    @pytest.mark.parametrize("validate", [True, False])
    def test_row_with_an_extra_field(
        self, blobstore: Datastore, store_root: Path, validate: bool
    ) -> None:
        write(store_root, "bad/data.csv", "a,b\n1,2\n3,4\n5,6,7\n8,9\n")
        message = r"/data\.csv: row 4 has 3 fields where the header has 2"
        if validate:
            with pytest.raises(DataFormatError, match=message):
                Dataset.Tabular.from_delimited_files(DataPath(blobstore, "bad/*.csv"))
        else:
            ds = Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "bad/*.csv"), validate=False
            )
            with pytest.raises(DataFormatError, match=message):
                ds.to_pandas_dataframe()
            with pytest.raises(DataFormatError, match=message):
                ds.to_pandas_dataframe(on_error="null")  # a broken row is never a null

    def test_extra_field_in_a_file_without_its_own_header(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "bad/1.csv", "a,b\n1,2\n")
        write(store_root, "bad/2.csv", "3,4,5\n")
        path = DataPath(blobstore, "bad/*.csv")
        message = r"/2\.csv: row 1 has 3 fields"
        with pytest.raises(DataFormatError, match=message):  # types are inferred from
            Dataset.Tabular.from_delimited_files(  # the first rows of both files
                path, header="ONLY_FIRST_FILE_HAS_HEADERS"
            )
        ds = Dataset.Tabular.from_delimited_files(
            path, header="ONLY_FIRST_FILE_HAS_HEADERS", validate=False
        )
        with pytest.raises(DataFormatError, match=message):
            ds.to_arrow()

    def test_wrong_separator_suggests_the_right_one(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "semi/data.csv", "id;value;label\n1;2.5;a\n")
        with pytest.raises(
            DatasetValidationError,
            match=r"/data\.csv: the header has one column .*pass separator=';'",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "semi/*.csv"), validate=True
            )

    def test_unknown_encoding(self, blobstore: Datastore, store_root: Path) -> None:
        write(store_root, "x/data.csv", "id\n1\n")
        with pytest.raises(
            DatasetValidationError,
            match=r"unknown encoding 'ebcdic'; use one of \['ascii'",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "x/data.csv"), encoding="ebcdic"
            )

    @pytest.mark.parametrize("separator", [";;", "", ", "])
    def test_separator_must_be_one_character(
        self, blobstore: Datastore, store_root: Path, separator: str
    ) -> None:
        write(store_root, "x/data.csv", "id\n1\n")
        with pytest.raises(
            DatasetValidationError, match=r"separator must be a single character"
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "x/data.csv"), separator=separator
            )

    def test_unknown_column_type(self, blobstore: Datastore, store_root: Path) -> None:
        write(store_root, "x/data.csv", "id\n1\n")
        with pytest.raises(
            DatasetValidationError,
            match=r"set_column_types: unknown type 'complex' for column 'id'",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "x/data.csv"), set_column_types={"id": "complex"}
            )

    def test_column_type_for_a_missing_column(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "x/data.csv", "id\n1\n")
        with pytest.raises(
            DatasetValidationError,
            match=r"set_column_types names column 'idx'.*columns are \['id'\]",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "x/data.csv"), set_column_types={"idx": "int"}
            )

    def test_unknown_header_mode(self, blobstore: Datastore, store_root: Path) -> None:
        write(store_root, "x/data.csv", "id\n1\n")
        with pytest.raises(
            DatasetValidationError, match=r"header must be True, False or one of"
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "x/data.csv"), header="SOMETIMES"
            )

    def test_path_that_does_not_fit_partition_format(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "x/data.csv", "id\n1\n")
        with pytest.raises(
            DatasetValidationError,
            match=r"file /data\.csv does not match partition_format",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "x/*.csv"), partition_format="/{a}/{b}/*.csv"
            )

    def test_local_path_string_is_a_type_error_only_for_bad_types(
        self, blobstore: Datastore
    ) -> None:
        with pytest.raises(TypeError, match=r"Invalid argument type for `path`: int"):
            Dataset.Tabular.from_delimited_files(42)

    def test_a_dataset_of_one_empty_file_has_no_columns(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "x/data.csv", "")
        message = (
            r"^no file has a line to read columns from: /data\.csv is empty; point "
            r"the dataset at files with data$"
        )
        with pytest.raises(DataFormatError, match=message):
            Dataset.Tabular.from_delimited_files(DataPath(blobstore, "x/data.csv"))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "x/data.csv"), validate=False
        )
        with pytest.raises(DataFormatError, match=message):
            ds.to_pandas_dataframe()


class TestBadTransformArguments:
    @pytest.fixture
    def ds(self, blobstore: Datastore, store_root: Path) -> TabularDataset:
        write(store_root, "x/data.csv", "id\n1\n2\n")
        return Dataset.Tabular.from_delimited_files(DataPath(blobstore, "x/data.csv"))

    @pytest.mark.parametrize("count", [-1, 1.5, "3", True])
    def test_take_needs_a_non_negative_int(
        self, ds: TabularDataset, count: object
    ) -> None:
        with pytest.raises(ValueError, match=r"take: count must be an int >= 0"):
            ds.take(count)  # type: ignore[arg-type]

    def test_skip_needs_a_non_negative_int(self, ds: TabularDataset) -> None:
        with pytest.raises(
            ValueError, match=r"skip: count must be an int >= 0, not -2"
        ):
            ds.skip(-2)

    @pytest.mark.parametrize("probability", [1.5, -0.1, "0.5"])
    def test_take_sample_probability(
        self, ds: TabularDataset, probability: object
    ) -> None:
        with pytest.raises(ValueError, match=r"probability must be between 0 and 1"):
            ds.take_sample(probability)  # type: ignore[arg-type]

    @pytest.mark.parametrize("percentage", [1.5, -0.1])
    def test_random_split_percentage(
        self, ds: TabularDataset, percentage: float
    ) -> None:
        with pytest.raises(ValueError, match=r"percentage must be between 0 and 1"):
            ds.random_split(percentage)

    @pytest.mark.parametrize("seed", [-1, 1.5, "42"])
    def test_seed(self, ds: TabularDataset, seed: object) -> None:
        with pytest.raises(ValueError, match=r"seed must be a non-negative int"):
            ds.take_sample(0.5, seed=seed)  # type: ignore[arg-type]
