"""A file a download fills in any order, read in order while it fills."""

from __future__ import annotations

import os
import random
import threading
import time
from typing import TYPE_CHECKING

import pytest

from dataferry.storage.growing_file import DownloadCancelled, GrowingFile

if TYPE_CHECKING:
    from dataferry.storage.growing_file import _Writer


def blocks_shuffled(data: bytes, block: int, seed: int) -> list[tuple[int, bytes]]:
    pieces = [(i, data[i : i + block]) for i in range(0, len(data), block)]
    first, rest = pieces[0], pieces[1:]
    random.Random(seed).shuffle(rest)
    return [first, *rest]  # the SDK writes its first block first, then any order


def read_all(grown: GrowingFile, chunk: int = 777) -> bytes:
    reader, out = grown.reader(), bytearray()
    while True:
        got = reader.read(chunk)
        if not got:
            return bytes(out)
        out += got


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_blocks_written_in_any_order_are_read_in_order(seed: int) -> None:
    data = os.urandom(50_000)
    grown = GrowingFile(len(data))

    def download(sink: _Writer) -> None:
        for offset, piece in blocks_shuffled(data, 4096, seed):
            sink.seek(offset)
            sink.write(piece)
            time.sleep(0.001)  # the reader waits for some of them

    thread = grown.run(download)
    try:
        assert read_all(grown) == data
        assert read_all(grown) == data  # a second reader starts from the start
    finally:
        grown.close()
    thread.join(5)


def test_a_failed_download_is_raised_where_the_reader_reaches_it() -> None:
    data = os.urandom(10_000)
    grown = GrowingFile(len(data))

    def download(sink: _Writer) -> None:
        sink.write(data[:4000])
        raise ConnectionError("no answer for c/t.csv")

    grown.run(download)
    reader = grown.reader()
    try:
        assert reader.read(4000) == data[:4000]
        with pytest.raises(ConnectionError, match=r"no answer for c/t\.csv"):
            reader.read(10)
    finally:
        grown.close()


def test_a_download_that_ends_short_is_an_error() -> None:
    grown = GrowingFile(100)
    grown.run(lambda sink: sink.write(b"x" * 60))
    try:
        with pytest.raises(
            ConnectionError, match=r"the download ended after 60 of 100 bytes"
        ):
            read_all(grown)
    finally:
        grown.close()


def test_a_reader_that_leaves_stops_the_download() -> None:
    grown = GrowingFile(1000)
    seen: list[BaseException] = []
    left = threading.Event()

    def download(sink: _Writer) -> None:
        sink.write(b"a" * 10)
        left.wait(5)
        try:
            sink.write(b"b" * 10)
        except DownloadCancelled as exc:
            seen.append(exc)
            raise

    thread = grown.run(download)
    assert grown.reader().read(10) == b"a" * 10
    grown.close()
    left.set()
    thread.join(5)
    assert [str(e) for e in seen] == ["the reader has left"]
