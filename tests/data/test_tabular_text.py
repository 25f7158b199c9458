"""Delimited files at the text level: byte-order marks, bytes the declared encoding
cannot decode, and quotes that never close.

Each case reads whole (``to_arrow``) and streamed (``to_record_batches``), since both
must behave the same.
"""

from __future__ import annotations

import codecs
import re
from typing import TYPE_CHECKING

import pandas as pd
import pyarrow as pa
import pytest

import dataferry.data.delimited as delimited
from dataferry import (
    DataPath,
    Dataset,
    Datastore,
    DataType,
    OutputFileDatasetConfig,
    TabularDataset,
    Workspace,
)
from dataferry.errors import DataEncodingError, DataFormatError

if TYPE_CHECKING:
    from pathlib import Path


def write(root: Path, relative: str, data: str | bytes) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    return path


def read(ds: TabularDataset) -> list[dict[str, object]]:
    """The rows, after checking that a streamed read gives the same."""
    table = ds.to_arrow()
    assert [r for b in ds.to_record_batches() for r in b.to_pylist()] == (
        table.to_pylist()
    )
    return table.to_pylist()  # type: ignore[no-any-return]


def fails_alike(ds: TabularDataset, error: type[Exception], message: str) -> None:
    """Whole and streamed reads raise the same error, and no streamed row is wrong."""
    with pytest.raises(error, match=message):
        ds.to_arrow()
    with pytest.raises(error, match=message):
        ds.to_pandas_dataframe()
    with pytest.raises(error, match=message):
        list(ds.to_record_batches())


class TestByteOrderMark:
    @pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["plain", "bom"])
    def test_infer_column_types_false_keeps_every_column_text(
        self, blobstore: Datastore, store_root: Path, bom: str
    ) -> None:
        write(store_root, "b/a.csv", f"{bom}zip,city\n01234,Springfield\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "b/a.csv"), infer_column_types=False
        )
        assert ds.to_arrow().schema == pa.schema(
            [("zip", pa.string()), ("city", pa.string())]
        )
        assert read(ds) == [{"zip": "01234", "city": "Springfield"}]

    @pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["plain", "bom"])
    def test_read_delimited_files_keeps_every_column_text(
        self, workspace: Workspace, blobstore: Datastore, store_root: Path, bom: str
    ) -> None:
        # the view a later step gets of an output: infer_column_types=False, as in Azure ML
        write(store_root, "b/a.csv", f"{bom}zip,city\n01234,Springfield\n")
        view = OutputFileDatasetConfig(name="places").read_delimited_files()
        definition = {
            "sources": [{"datastore": blobstore.name, "path": "b/a.csv"}],
            "format": view._tabular["format"],  # type: ignore[index]
            "transforms": [],
        }
        ds = TabularDataset(definition, workspace)
        assert read(ds) == [{"zip": "01234", "city": "Springfield"}]

    @pytest.mark.parametrize("bom", ["", "\ufeff"], ids=["plain", "bom"])
    def test_set_column_types_names_the_first_column(
        self, blobstore: Datastore, store_root: Path, bom: str
    ) -> None:
        write(store_root, "b/a.csv", f"{bom}zip,n\n01234,5\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "b/a.csv"),
            set_column_types={"zip": DataType.to_string()},
        )
        assert read(ds) == [{"zip": "01234", "n": 5}]

    @pytest.mark.parametrize("encoding", ["utf8", "utf8bom"])
    def test_a_bom_before_data_without_a_header(
        self, blobstore: Datastore, store_root: Path, encoding: str
    ) -> None:
        write(store_root, "b/a.csv", "\ufeff01234,x\n05678,y\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "b/a.csv"),
            header=False,
            infer_column_types=False,
            encoding=encoding,
        )
        assert read(ds) == [
            {"Column1": "01234", "Column2": "x"},
            {"Column1": "05678", "Column2": "y"},
        ]


LATIN1_MESSAGE = (
    r"pass the file's encoding, e\.g\. encoding='latin1' or "
    r"encoding='windows1252'$"
)


class TestUndecodableBytes:
    @pytest.mark.parametrize("validate", [True, False])
    def test_latin1_in_the_first_rows_read_as_utf8(
        self, blobstore: Datastore, store_root: Path, validate: bool
    ) -> None:
        write(store_root, "u/a.csv", "id,city\n1,Zürich\n".encode("latin-1"))
        message = (
            r"^/a\.csv: row 2, column 'city': bytes b'\\xfc' are not valid utf8; "
            + LATIN1_MESSAGE
        )
        path = DataPath(blobstore, "u/a.csv")
        if validate:
            with pytest.raises(DataEncodingError, match=message):
                Dataset.Tabular.from_delimited_files(path)
        ds = Dataset.Tabular.from_delimited_files(path, validate=False)
        fails_alike(ds, DataEncodingError, message)

    def test_the_suggested_encoding_reads_the_file(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "u/a.csv", "id,city\n1,Zürich\n".encode("latin-1"))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "u/a.csv"), encoding="latin1"
        )
        assert read(ds) == [{"id": 1, "city": "Zürich"}]

    def test_past_the_first_mebibyte_in_a_number_column(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        lines = [f"{i},{i},n{i}" for i in range(90_000)]  # 1.5 MB: past the sample
        lines[88_000] = "88000,88\xb500,n"  # µ in latin-1, in an int column
        text = "id,n,label\n" + "\n".join(lines) + "\n"
        write(store_root, "u/a.csv", text.encode("latin-1"))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "u/a.csv"), validate=False
        )
        message = (
            r"^/a\.csv: row 88002, column 'n': bytes b'\\xb5' are not valid utf8; "
            + LATIN1_MESSAGE
        )
        fails_alike(ds, DataEncodingError, message)
        with pytest.raises(DataEncodingError, match=message):
            ds.to_arrow(on_error="fail")

    def test_in_the_header(self, blobstore: Datastore, store_root: Path) -> None:
        write(store_root, "u/a.csv", "id,Straße\n1,x\n".encode("cp1252"))
        with pytest.raises(
            DataEncodingError,
            match=r"^/a\.csv: row 1 \(the header\), field 2: bytes b'\\xdf' are not "
            r"valid utf8",
        ):
            Dataset.Tabular.from_delimited_files(DataPath(blobstore, "u/a.csv"))

    def test_in_a_later_file(self, blobstore: Datastore, store_root: Path) -> None:
        write(store_root, "u/1.csv", "id,city\n1,Paris\n")
        write(store_root, "u/2.csv", "id,city\n2,Köln\n3,Zürich\n".encode("cp1252"))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "u/*.csv"), validate=False
        )
        fails_alike(
            ds,
            DataEncodingError,
            r"^/2\.csv: row 2, column 'city': bytes b'\\xf6' are not valid utf8",
        )

    def test_without_a_header(self, blobstore: Datastore, store_root: Path) -> None:
        write(store_root, "u/a.csv", "1,Paris\n2,Köln\n".encode("latin-1"))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "u/a.csv"), header=False, validate=False
        )
        fails_alike(
            ds,
            DataEncodingError,
            r"^/a\.csv: row 2, column 'Column2': bytes b'\\xf6' are not valid utf8",
        )

    def test_utf8_declared_as_ascii_suggests_utf8(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "u/a.csv", "id,city\n1,Kraków\n")
        with pytest.raises(
            DataEncodingError,
            match=r"^/a\.csv: row 2, column 'city': bytes b'\\xc3\\xb3' are not valid "
            r"ascii; pass the file's encoding, e\.g\. encoding='utf8', "
            r"encoding='latin1' or encoding='windows1252'$",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "u/a.csv"), encoding="ascii"
            )

    def test_a_byte_windows1252_leaves_undefined(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "u/a.csv", b"id,code\n1,A\x81B\n")
        with pytest.raises(
            DataEncodingError,
            match=r"^/a\.csv: row 2, column 'code': bytes b'\\x81' are not valid "
            r"windows1252",
        ):
            Dataset.Tabular.from_delimited_files(
                DataPath(blobstore, "u/a.csv"), encoding="windows1252"
            )

    def test_the_error_is_a_format_error_and_a_unicode_error(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "u/a.csv", b"id\n\xff\n")
        with pytest.raises(DataEncodingError) as caught:
            Dataset.Tabular.from_delimited_files(DataPath(blobstore, "u/a.csv"))
        assert isinstance(caught.value, DataFormatError)
        assert isinstance(caught.value, UnicodeError)
        assert caught.value.exit_code == 2


UNMARKED = (
    r"does not start with a byte-order mark, which encoding='{enc}' needs to know the "
    r"order of its bytes; if the file is UTF-16/32, save it again with the mark \(or as "
    r"UTF-8\); if it is not, pass its encoding, e\.g\. encoding='utf8' or "
    r"encoding='latin1'$"
)


class TestWideEncodings:
    """UTF-16/32 files: read with their mark; a missing or other mark is named."""

    @pytest.mark.parametrize("codec", ["utf-16", "utf-32"])
    def test_a_marked_file_reads(
        self, blobstore: Datastore, store_root: Path, codec: str
    ) -> None:
        write(store_root, "w/a.csv", "zip,city\n01234,Köln\n".encode(codec))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "w/a.csv"),
            encoding=codec.replace("-", ""),
            infer_column_types=False,
        )
        assert read(ds) == [{"zip": "01234", "city": "Köln"}]

    @pytest.mark.parametrize(
        ("data", "encoding"),
        [
            ("zip,city\n01234,Köln\n".encode("utf-16-le"), "utf16"),
            ("zip,city\n01234,Köln\n".encode("utf-16-be"), "utf16"),
            ("zip,city\n01234,Köln\n".encode("utf-32-le"), "utf32"),
            (b"zip,city\n01234,Paris\n", "utf16"),  # UTF-8 declared as UTF-16
        ],
        ids=["utf16le", "utf16be", "utf32le", "utf8"],
    )
    def test_a_file_without_the_mark_is_refused(
        self, blobstore: Datastore, store_root: Path, data: bytes, encoding: str
    ) -> None:
        # Python's UTF-16/32 codecs cannot tell the byte order without the mark, and
        # pandas.read_csv refuses these files too; the codec's bare UnicodeError escaped
        write(store_root, "w/a.csv", data)
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "w/a.csv"), encoding=encoding, validate=False
        )
        fails_alike(
            ds, DataEncodingError, "^/a\\.csv: " + UNMARKED.format(enc=encoding)
        )

    def test_in_a_later_file_of_a_glob(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "w/1.csv", "a,b\n1,2\n".encode("utf-16"))
        write(store_root, "w/2.csv", "a,b\n3,4\n".encode("utf-16-le"))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "w/*.csv"), encoding="utf16", validate=False
        )
        fails_alike(ds, DataEncodingError, "^/2\\.csv: " + UNMARKED.format(enc="utf16"))

    @pytest.mark.parametrize(
        ("codec", "mark", "wide"),
        [
            ("utf-16-le", codecs.BOM_UTF16_LE, "utf16"),
            ("utf-16-be", codecs.BOM_UTF16_BE, "utf16"),
            ("utf-32-le", codecs.BOM_UTF32_LE, "utf32"),
        ],
    )
    def test_a_marked_file_read_as_utf8_suggests_its_encoding(
        self, blobstore: Datastore, store_root: Path, codec: str, mark: bytes, wide: str
    ) -> None:
        write(store_root, "w/a.csv", mark + "zip,city\n01234,Köln\n".encode(codec))
        # utf8 cannot decode the mark's first two bytes (a UTF-32 mark's 00 00 are NULs)
        with pytest.raises(
            DataEncodingError,
            match=rf"^/a\.csv: row 1 \(the header\), field 1: bytes {re.escape(repr(mark[:2]))} "
            rf"are not valid utf8; pass the file's encoding, encoding='{wide}' \(the "
            rf"file starts with a {wide} byte-order mark\)$",
        ):
            Dataset.Tabular.from_delimited_files(DataPath(blobstore, "w/a.csv"))

    def test_the_other_wide_mark_is_named(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "w/a.csv", "a,b\n1,2\n".encode("utf-16"))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "w/a.csv"), encoding="utf32", validate=False
        )
        fails_alike(
            ds,
            DataEncodingError,
            r"^/a\.csv: starts with a utf16 byte-order mark, not a utf32 one; pass "
            r"encoding='utf16'$",
        )


QUOTE_MESSAGE = (
    r": a quoted value opens there and is never closed, so it would run to the end "
    r"of the file; close the quote"
)


class TestUnclosedQuote:
    @pytest.mark.parametrize("multi_line", [False, True])
    @pytest.mark.parametrize("validate", [True, False])
    def test_the_given_input(
        self, blobstore: Datastore, store_root: Path, multi_line: bool, validate: bool
    ) -> None:
        path = write(store_root, "q/a.csv", 'id,x\n1,2\n3,"4\n5,6\n')
        message = r"^/a\.csv: row 3" + QUOTE_MESSAGE
        with pytest.raises(pd.errors.ParserError, match="EOF inside string"):
            pd.read_csv(path)  # pandas refuses it too
        dp = DataPath(blobstore, "q/a.csv")
        if validate:
            with pytest.raises(DataFormatError, match=message):
                Dataset.Tabular.from_delimited_files(dp, support_multi_line=multi_line)
        ds = Dataset.Tabular.from_delimited_files(
            dp, support_multi_line=multi_line, validate=False
        )
        fails_alike(ds, DataFormatError, message)

    @pytest.mark.parametrize(
        ("body", "row"),
        [
            ('id,x\n1,2\n"3,4\n5,6\n', 3),  # in the first column
            ('id,x\n1,2\n3,"4', 3),  # no newline at the end
            ('id,x\n1,2\n3,"4""\n', 3),  # a doubled quote is not a closing one
            ('id,x\n1,"a\nb"\n3,"4\n', 4),  # after a value that spans lines
            ('id,x\r\n1,2\r\n3,"4\r\n5,6\r\n', 3),  # Windows line ends
            ('"id,x\n1,2\n', 1),  # in the header
        ],
        ids=[
            "first-column",
            "no-newline",
            "doubled",
            "after-multi-line",
            "crlf",
            "header",
        ],
    )
    def test_variants(
        self, blobstore: Datastore, store_root: Path, body: str, row: int
    ) -> None:
        write(store_root, "q/a.csv", body)
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "q/a.csv"), support_multi_line=True, validate=False
        )
        with pytest.raises(
            DataFormatError, match=rf"^/a\.csv: row {row}" + QUOTE_MESSAGE
        ):
            ds.to_arrow()

    @pytest.mark.parametrize("multi_line", [False, True])
    def test_early_in_a_file_of_many_blocks(
        self,
        blobstore: Datastore,
        store_root: Path,
        monkeypatch: pytest.MonkeyPatch,
        multi_line: bool,
    ) -> None:
        # pyarrow's threaded reader used to drop the rows of the rest of that block
        monkeypatch.setattr(delimited, "STREAM_BLOCK_BYTES", 4096)
        lines = [f"{i},{i}" for i in range(20_000)]
        lines[5] = '5,"5'
        write(store_root, "q/a.csv", "id,x\n" + "\n".join(lines) + "\n")
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "q/a.csv"),
            support_multi_line=multi_line,
            validate=False,
        )
        fails_alike(ds, DataFormatError, r"^/a\.csv: row 7" + QUOTE_MESSAGE)

    def test_at_the_end_of_a_file_with_a_number_column(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        # the swallowed rows used to become one null in an int column, with a warning
        lines = [f"{i},{i}" for i in range(100_000)] + ['100000,"7', "100001,8"]
        write(store_root, "q/a.csv", "id,x\n" + "\n".join(lines) + "\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "q/a.csv"))
        fails_alike(ds, DataFormatError, r"^/a\.csv: row 100002" + QUOTE_MESSAGE)

    def test_in_a_later_file_and_in_utf16(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        write(store_root, "q/1.csv", "id,x\n1,2\n".encode("utf-16"))
        write(store_root, "q/2.csv", 'id,x\n3,"4\n'.encode("utf-16"))
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "q/*.csv"), encoding="utf16", validate=False
        )
        fails_alike(ds, DataFormatError, r"^/2\.csv: row 2" + QUOTE_MESSAGE)

    def test_quotes_that_close_read_as_pandas_reads_them(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        body = (
            'id,text,size\n1,"say ""hi""",5" screen\n2,"a,b",x"y\n'
            '3,"",""""\n4,"two\nlines",7\n'
        )
        path = write(store_root, "q/a.csv", body)
        ds = Dataset.Tabular.from_delimited_files(
            DataPath(blobstore, "q/a.csv"),
            support_multi_line=True,
            empty_as_string=True,
        )
        expected = pd.read_csv(path, keep_default_na=False, dtype=str)
        got = read(ds)
        assert got == [
            {"id": 1, "text": 'say "hi"', "size": '5" screen'},
            {"id": 2, "text": "a,b", "size": 'x"y'},
            {"id": 3, "text": "", "size": '"'},
            {"id": 4, "text": "two\nlines", "size": "7"},
        ]
        assert [r["text"] for r in got] == expected["text"].tolist()
        assert [r["size"] for r in got] == expected["size"].tolist()

    def test_a_stray_quote_in_a_large_file_is_read_as_text(
        self, blobstore: Datastore, store_root: Path
    ) -> None:
        lines = [f"{i},item {i}" for i in range(100_000)]
        lines[50_000] = '50000,a 5" screen'  # an odd number of quotes, none unclosed
        write(store_root, "q/a.csv", "id,label\n" + "\n".join(lines) + "\n")
        ds = Dataset.Tabular.from_delimited_files(DataPath(blobstore, "q/a.csv"))
        table = ds.to_arrow()
        assert table.num_rows == 100_000
        assert table.column("label")[50_000].as_py() == 'a 5" screen'
