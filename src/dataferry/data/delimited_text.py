"""Delimited files as text: encodings, the first record, column names, and the scans
that find where a file is broken.

``DecodedStream`` sits between a file's bytes and pyarrow's CSV reader: it decodes every
byte with the declared codec (so an undecodable byte fails wherever it is), drops a
byte-order mark and, if asked, the header record, and counts quote characters on the
way. The scans (``find_unclosed_quote``, ``find_undecodable``) read a file again and
run only once something is wrong, to say where.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from typing import TYPE_CHECKING, Any

import numpy as np

from dataferry.errors import DataFormatError, DatasetValidationError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import BinaryIO

_ENCODINGS = {
    "utf8": "utf8",
    "iso88591": "iso-8859-1",
    "latin1": "latin-1",
    "ascii": "ascii",
    "utf16": "utf-16",
    "utf32": "utf-32",
    "utf8bom": "utf-8-sig",
    "windows1252": "cp1252",
}
_HEAD_BYTES = 64 << 10  # read a first record this much at a time
_MAX_HEAD_CHARS = 16 << 20  # a first record longer than this is an error
_SCAN_CHARS = 1 << 20  # what the scans decode at a time
_HEAD_TOKENS = re.compile(r'["\r\n]')
_QUOTE_CHAR = re.compile('"')
_QUOTE = ord('"')
_MARK = "dataferry.mark-undecodable"
_MARKED = re.compile("[\udc00-\udcff]+")


def python_encoding(name: str) -> str:
    """The Python codec for one of the original SDK's encoding names.

    Raises:
        DatasetValidationError: the encoding is not one of them.
    """
    key = name.lower().replace("-", "").replace("_", "")
    if key not in _ENCODINGS:
        raise DatasetValidationError(
            f"unknown encoding {name!r}; use one of {sorted(_ENCODINGS)}"
        )
    return _ENCODINGS[key]


def unique_names(names: Sequence[str]) -> list[str]:
    """Header names made unique the way ``pandas.read_csv`` makes them.

    A repeated name gets ``.1``, ``.2``... (skipping a suffix another column already
    has: ``x, x, x.1`` gives ``x, x.2, x.1``); an empty name becomes ``Unnamed: i`` (its
    0-based position), and those are numbered after the named columns.
    """
    out = [n if n else f"Unnamed: {i}" for i, n in enumerate(names)]
    order = [i for i, n in enumerate(names) if n] + [
        i for i, n in enumerate(names) if not n
    ]
    counts: dict[str, int] = {}
    for i in order:
        name = original = out[i]
        count = counts.get(name, 0)
        while count > 0:
            counts[original] = count + 1
            name = f"{original}.{count}"
            count = count + 1 if name in out else counts.get(name, 0)
        out[i] = name
        counts[name] = count + 1
    return out


class _FirstRecord:
    """Finds where a file's first non-blank record ends, fed text a piece at a time.

    The text is held until the record ends, so a record longer than
    ``_MAX_HEAD_CHARS`` is an error rather than a whole file held in memory.
    """

    def __init__(self, separator: str, name: str) -> None:
        self.separator = separator
        self.name = name
        self.text = ""
        self._start = 0  # where the record starts (after blank lines)
        self._pos = 0  # where scanning resumes
        self._quoted = False

    def feed(self, text: str, final: bool) -> tuple[list[str] | None, int] | None:
        """``(fields, end)`` once the record is complete, else None (needs more text).

        ``end`` is where the text after the record starts, in all the text fed so far.
        ``fields`` is None when the text (``final``: all of it) has no record at all.
        """
        self.text += text
        end = self._scan(final)
        if end is None:
            if not final:
                self._check_length()
                return None
            end = len(self.text)
        record = self.text[self._start : end]
        if not record:
            return None, end
        fields = next(csv.reader(io.StringIO(record), delimiter=self.separator), [])
        return fields, end

    def _next_token(self, text: str, pos: int) -> re.Match[str] | None:
        """The next character that may change the state: only a quote inside quotes."""
        return (_QUOTE_CHAR if self._quoted else _HEAD_TOKENS).search(text, pos)

    def _check_length(self) -> None:
        if len(self.text) <= _MAX_HEAD_CHARS:
            return
        mib = _MAX_HEAD_CHARS >> 20
        if self._quoted:
            raise DataFormatError(
                f"{self.name}: a quoted value opens in the first line (the header) and "
                f"does not close within {mib} MiB; close the quote (a quote inside a "
                'quoted value is written twice: "")'
            )
        raise DataFormatError(
            f"{self.name}: the first line is longer than {mib} MiB; check that the "
            "file is delimited text with its lines ending in \\n or \\r\\n"
        )

    def _scan(self, final: bool) -> int | None:
        text, pos = self.text, self._pos
        while (m := self._next_token(text, pos)) is not None:
            i, char = m.start(), m.group()
            if i + 1 == len(text) and not final and char in '"\r':
                break  # a doubled quote or a \r\n may go on in the next piece
            pos = i + 1
            if char == '"':
                if not self._quoted:
                    self._quoted = i == 0 or text[i - 1] in (self.separator, "\r", "\n")
                elif text[i + 1 : i + 2] == '"':
                    pos = i + 2  # a doubled quote inside a quoted value
                else:
                    self._quoted = False
            elif not self._quoted:
                end = i + 2 if text[i : i + 2] == "\r\n" else i + 1
                if i > self._start:
                    return end
                self._start = pos = end  # a blank line before the record
        self._pos = pos
        return None


class DecodedStream:
    """The transform pyarrow reads a delimited file through (``pa.TransformInputStream``).

    It decodes the bytes with ``codec`` (an undecodable byte raises
    ``UnicodeDecodeError``), drops a byte-order mark and, with ``drop_header``, the
    first record (its fields go to ``header``; one longer than 16 MiB raises
    ``DataFormatError`` naming the file ``name``), and returns UTF-8: UTF-8 input as
    it is, other encodings re-encoded. ``quotes`` counts quote characters (an odd count
    means a quote that never closes, or a stray one); ``bytes_in`` and ``bytes_out``
    count what went through.
    """

    def __init__(
        self, codec: str, separator: str, *, drop_header: bool, name: str
    ) -> None:
        self._decoder = codecs.getincrementaldecoder(codec)()
        self._utf8 = codecs.lookup(codec).name == "utf-8"
        self._first = _FirstRecord(separator, name) if drop_header else None
        self._head: bytearray | None = bytearray()  # the bytes before the data
        self._text = ""  # their text, after a byte-order mark
        self._bom: bool | None = None  # None: no character seen yet
        self.header: list[str] | None = None
        self.header_found = False
        self.quotes = 0
        self.bytes_in = 0
        self.bytes_out = 0

    def __call__(self, buf: Any) -> Any:
        """The UTF-8 for the next piece of the file (an empty ``buf`` is the end)."""
        final = len(buf) == 0
        text = self._decoder.decode(buf, final)
        self.bytes_in += len(buf)
        if self._head is not None:
            out = self._after_head(self._head, buf, text, final)
        else:
            out = buf if self._utf8 else text.encode("utf-8")
        self.quotes += _quotes(out)
        self.bytes_out += len(out)
        return out

    def _after_head(self, head: bytearray, buf: Any, text: str, final: bool) -> bytes:
        """What follows the byte-order mark and the header once both were read."""
        head += buf
        if self._bom is None:
            if not text and not final:
                return b""  # a byte-order mark may still be coming
            self._bom = text.startswith("\ufeff")
            text = text.removeprefix("\ufeff")
        self._text += text
        end = 0
        if self._first is not None:
            found = self._first.feed(text, final)
            if found is None:
                return b""
            self.header, end = found
            self.header_found = True
        dropped = self._text[:end]
        self.quotes += dropped.count('"')
        if self._utf8:  # pass the bytes on as they are, from where the data starts
            skip = (3 if self._bom else 0) + len(dropped.encode("utf-8"))
            out = bytes(head[skip:])
        else:
            out = self._text[end:].encode("utf-8")
        self._head, self._text = None, ""
        return out


def _quotes(data: Any) -> int:
    """How many ``"`` bytes ``data`` holds (numpy: several times faster than count)."""
    return int(np.count_nonzero(np.frombuffer(data, dtype=np.uint8) == _QUOTE))


def first_record(
    raw: BinaryIO, codec: str, separator: str, *, name: str
) -> list[str] | None:
    """The fields of the first non-blank record of ``raw``; None if it has none.

    Raises:
        UnicodeError: the bytes read are not valid ``codec`` (``UnicodeDecodeError``),
            or a UTF-16/32 file has no byte-order mark to tell its byte order.
        DataFormatError: the record is longer than 16 MiB (``name`` is the file).
    """
    stream = DecodedStream(codec, separator, drop_header=True, name=name)
    size = _HEAD_BYTES
    while not stream.header_found:
        chunk = raw.read(size)
        stream(chunk)
        if not chunk:
            break
        size *= 2  # a long record is read in few pieces: held text is copied per piece
    return stream.header


def _plain(separator: str) -> re.Pattern[str]:
    """Text outside quoted values, and quoted values that close: runs of plain text,
    line breaks, a quote at the start of a field up to its closing quote (``""``
    inside), and quotes inside unquoted values (which are just characters)."""
    s = re.escape(separator)
    opens = rf"(?:\A|(?<=[{s}\r\n]))"
    return re.compile(
        rf'(?:[^"\r\n]++|[\r\n]++|{opens}"(?:[^"]++|"")*+"|(?<=[^{s}\r\n])")*+'
    )


_QUOTED_BODY = re.compile(r'(?:[^"]++|"")*+')  # inside a quoted value, to its end


class _QuoteScan:
    """Follows whether a file's text is inside a quoted value, a piece at a time.

    A piece is scanned up to its last character that is not a quote: a run of quotes
    at the end is carried into the next piece, so a closing quote and the first half
    of a doubled one are never told apart too early.
    """

    def __init__(self, separator: str) -> None:
        self._plain = _plain(separator)
        self._before = ""  # the character before the text still to scan
        self._carry = ""
        self.line = 1
        self.quoted = False
        self.opened = 0  # the line where the open quoted value started

    def feed(self, chunk: str, *, final: bool) -> None:
        text = self._before + self._carry + chunk
        start = pos = len(self._before)
        limit = len(text) if final else max(len(text.rstrip('"')), start)
        while pos < limit:
            if self.quoted:
                pos = _end(_QUOTED_BODY.match(text, pos, limit), pos)
                if pos == limit:
                    break
                self.quoted = False
            else:
                pos = _end(self._plain.match(text, pos, limit), pos)
                if pos == limit:
                    break
                self.opened = self.line + _line_breaks(text, start, pos)
                self.quoted = True
            pos += 1  # the closing or opening quote
        self.line += _line_breaks(text, start, pos)
        self._carry = text[pos:]
        self._before = text[pos - 1 : pos]


def _end(match: re.Match[str] | None, pos: int) -> int:
    return match.end() if match is not None else pos


def find_unclosed_quote(chunks: Iterable[str], separator: str) -> int | None:
    """The 1-based line where a quoted value opens that is never closed, or None.

    ``chunks`` is the file's text in order; memory holds one chunk at a time.
    """
    scan = _QuoteScan(separator)
    for chunk in chunks:
        scan.feed(chunk, final=False)
    scan.feed("", final=True)
    return scan.opened if scan.quoted else None


def _line_breaks(text: str, start: int, end: int) -> int:
    """Line breaks (``\\n``, ``\\r\\n`` or ``\\r``) in ``text[start:end]``."""
    count = text.count("\n", start, end) + text.count("\r", start, end)
    count -= text.count("\r\n", max(start - 1, 0), end)
    return count


def text_chunks(raw: BinaryIO, codec: str) -> Iterable[str]:
    """``raw`` decoded a chunk at a time (undecodable bytes replaced)."""
    with io.TextIOWrapper(raw, encoding=codec, errors="replace", newline="") as text:
        while chunk := text.read(_SCAN_CHARS):
            yield chunk


def _mark_undecodable(exc: UnicodeError) -> tuple[str, int]:
    """Decode each bad byte as a lone surrogate (U+DC00 + byte), which text never holds."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    bad = exc.object[exc.start : exc.end]
    return "".join(chr(0xDC00 + b) for b in bad), exc.end


def find_undecodable(
    open_raw: Callable[[], BinaryIO], codec: str, separator: str
) -> tuple[int, int, bytes, list[str]] | None:
    """``(row, field, bytes, first row)`` of the first bytes ``codec`` cannot decode.

    ``row`` is 1-based and counts the header; ``field`` is 0-based; the first row's
    fields are there to name the column. None if every byte decodes. The file is read
    twice: once for the line of the bad bytes, then to the row that holds that line.
    """
    try:
        codecs.lookup_error(_MARK)
    except LookupError:
        codecs.register_error(_MARK, _mark_undecodable)
    line = _first_marked_line(open_raw(), codec)
    if line is None:
        return None
    first: list[str] = []
    with io.TextIOWrapper(open_raw(), encoding=codec, errors=_MARK, newline="") as text:
        rows = csv.reader(text, delimiter=separator)
        for number, fields in enumerate(rows, start=1):
            first = first or fields
            if rows.line_num < line:
                continue
            for index, value in enumerate(fields):
                m = _MARKED.search(value)
                if m:
                    bad = bytes(ord(c) - 0xDC00 for c in m.group())
                    return number, index, bad, first
    return None


def _first_marked_line(raw: BinaryIO, codec: str) -> int | None:
    """The 1-based line of the first bytes ``codec`` cannot decode, or None."""
    breaks = 0
    with io.TextIOWrapper(raw, encoding=codec, errors=_MARK, newline="") as text:
        before = ""
        while chunk := text.read(_SCAN_CHARS):
            m = _MARKED.search(chunk)
            piece = before + chunk[: m.start() if m else len(chunk)]
            breaks += _line_breaks(piece, len(before), len(piece))
            if m:
                return breaks + 1
            before = chunk[-1:]
    return None
