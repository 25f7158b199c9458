"""The text-level helpers of the delimited reader, against references, over many
seeded random inputs cut into random pieces (deterministic: fixed seeds)."""

from __future__ import annotations

import io
import itertools
import random

import pandas as pd
import pytest

from dataferry.data import delimited_text
from dataferry.data.delimited_text import (
    DecodedStream,
    find_unclosed_quote,
    first_record,
    unique_names,
)
from dataferry.errors import DataFormatError


def pieces(data: bytes | str, rng: random.Random) -> list[bytes | str]:
    """``data`` cut at up to five random places into non-empty pieces."""
    cuts = sorted(
        rng.sample(range(1, len(data)), min(len(data) - 1, rng.randint(0, 5)))
    )
    bounds = [0, *cuts, len(data)]
    return [data[a:b] for a, b in itertools.pairwise(bounds) if a < b]


def unclosed_line(text: str, separator: str = ",") -> int | None:
    """Reference: a character-by-character CSV quote state machine."""
    quoted, line, opened, i = False, 1, 0, 0
    while i < len(text):
        char = text[i]
        if quoted and char == '"':
            if text[i + 1 : i + 2] == '"':
                i += 2
                continue
            quoted = False
        elif char == '"' and (i == 0 or text[i - 1] in (separator, "\r", "\n")):
            quoted, opened = True, line
        if char == "\n" or (char == "\r" and text[i + 1 : i + 2] != "\n"):
            line += 1
        i += 1
    return opened if quoted else None


@pytest.mark.parametrize("seed", range(5))
def test_unique_names_are_the_names_pandas_gives(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(40):
        names = [rng.choice(["a", "a.1", "a.2", "b", "", "b.1"]) for _ in range(6)]
        header = ",".join(names)
        frame = pd.read_csv(io.StringIO(f"{header}\n{','.join('1' * 6)}\n"))
        assert unique_names(names) == list(frame.columns), header


@pytest.mark.parametrize("separator", [",", "\t", "|"])
def test_find_unclosed_quote_agrees_with_a_state_machine(separator: str) -> None:
    rng = random.Random(7)
    alphabet = ["a", "b", separator, '"', '"', "\n", "\r", " "]
    for _ in range(3000):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30)))
        found = find_unclosed_quote(pieces(text, rng), separator)  # type: ignore[arg-type]
        assert found == unclosed_line(text, separator), repr(text)


def test_find_unclosed_quote_on_the_given_input() -> None:
    assert find_unclosed_quote(['id,x\n1,2\n3,"4\n5,6\n'], ",") == 3
    assert find_unclosed_quote(['id,x\n1,"2\n"\n3,"4""5"\n'], ",") is None


@pytest.mark.parametrize("codec", ["utf8", "utf-16", "latin-1", "utf-8-sig", "cp1252"])
@pytest.mark.parametrize("drop_header", [True, False])
def test_decoded_stream_gives_the_same_utf8_for_any_cut(
    codec: str, drop_header: bool
) -> None:
    rng = random.Random(11)
    wide = codec in ("utf8", "utf-16", "utf-8-sig")
    alphabet = ["a", "é", ",", '"', "\n", "\r", "1"] + (["€", "𝄞"] if wide else [])
    for _ in range(300):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 25)))
        bom = b"\xef\xbb\xbf" if codec == "utf8" and rng.random() < 0.3 else b""
        data = bom + text.encode(codec)
        stream = DecodedStream(codec, ",", drop_header=drop_header, name="t")
        out = b"".join(stream(p) for p in [*pieces(data, rng), b"", b""])

        decoded = data.decode(codec).removeprefix("\ufeff")
        header = first_record(io.BytesIO(data), codec, ",", name="t")
        rest = decoded
        if drop_header:
            assert stream.header == header
            whole = DecodedStream(codec, ",", drop_header=True, name="t")
            rest = (whole(data) + whole(b"")).decode()
        assert out == rest.encode("utf-8"), (data, pieces)
        assert stream.quotes == decoded.count('"')
        assert stream.bytes_in == len(data)


def test_decoded_stream_drops_the_header_and_a_bom() -> None:
    stream = DecodedStream("utf8", ",", drop_header=True, name="t")
    out = stream(b'\xef\xbb\xbf\n"a,b",c\r\n1,2\n') + stream(b"")
    assert (stream.header, out) == (["a,b", "c"], b"1,2\n")


def test_decoded_stream_raises_on_bytes_the_codec_cannot_decode() -> None:
    stream = DecodedStream("utf8", ",", drop_header=False, name="t")
    stream(b"id\n1\n")
    with pytest.raises(UnicodeDecodeError):
        stream(b"Z\xfcrich\n")


@pytest.mark.parametrize(
    ("head", "message"),
    [
        (
            '"id,x\n' + "1,2\n" * 1000,
            r"^t\.csv: a quoted value opens in the first line \(the header\) and does "
            r"not close within 0 MiB; close the quote",
        ),
        (
            "x" * 1000,
            r"^t\.csv: the first line is longer than 0 MiB; check that the file is "
            r"delimited text with its lines ending in \\n or \\r\\n$",
        ),
    ],
    ids=["open-quote", "no-line-break"],
)
def test_a_first_record_too_long_to_hold_is_an_error(
    monkeypatch: pytest.MonkeyPatch, head: str, message: str
) -> None:
    monkeypatch.setattr(delimited_text, "_MAX_HEAD_CHARS", 64)
    with pytest.raises(DataFormatError, match=message):
        first_record(io.BytesIO(head.encode()), "utf8", ",", name="t.csv")
