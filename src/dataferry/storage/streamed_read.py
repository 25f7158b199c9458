"""Reading a whole file of an Azure datastore while it downloads.

``reading_whole`` starts the SDK's parallel download of a blob into a ``GrowingFile``
and hands it over at once: the caller (a CSV parser) reads the bytes in order as they
arrive instead of waiting for the last block. The download runs with the retries of
``storage.retry``: an attempt cut short starts again on condition of the first
attempt's etag, so the bytes are of one version; a blob overwritten meanwhile is a
``TransferIncompleteError`` at the reader (a whole read then lists and reads again
when the output's pin says it was overwritten, ``data.whole_read``).
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dataferry.storage.azure_transfer import split
from dataferry.storage.growing_file import GrowingFile
from dataferry.storage.remote_transfer import CONCURRENCY
from dataferry.storage.retry import with_retries

if TYPE_CHECKING:
    from collections.abc import Iterator

    from dataferry.storage.location import StorageLocation


def can_read_while_downloading(loc: StorageLocation) -> bool:
    """True where ``reading_whole`` applies (an Azure store)."""
    return getattr(loc.fs, "blob_transfers", None) is not None


@contextmanager
def reading_whole(loc: StorageLocation, full: str) -> Iterator[GrowingFile]:
    """``full`` arriving in a ``GrowingFile`` (read it with ``reader()``) while the
    context lasts; its download stops and its file goes on leaving.

    Raises:
        FileNotFoundError: no such file on the store.
        StorageUnavailableError: the store did not answer within the retry window.
        OSError: another failure of the store. Readers raise the download's failure
            (``TransferIncompleteError``: the blob was overwritten meanwhile).
    """
    transfers: Any = getattr(loc.fs, "blob_transfers")  # noqa: B009
    container, blob = split(loc, full)
    where = loc.relative_path(loc._strip(full))

    def start(etag: str = "") -> tuple[int, str, Any]:
        return transfers.open_download(  # type: ignore[no-any-return]
            container, blob, max_concurrency=CONCURRENCY, etag=etag
        )

    def retried(etag: str = "") -> tuple[int, str, Any]:
        return with_retries(
            lambda: start(etag), datastore=loc.name, path=where, action="read"
        )

    size, etag, first = retried()
    grown = GrowingFile(size)
    calls = iter([first])

    def attempt(sink: Any) -> None:
        # the first attempt's download is open already; a retry opens one of the
        # same version (a sink's bytes are rewritten at their offsets: the same)
        into = next(calls, None) or start(etag)[2]
        sink.seek(0)
        into(sink)

    grown.run(
        lambda sink: with_retries(
            lambda: attempt(sink), datastore=loc.name, path=where, action="read"
        )
    )
    try:
        yield grown
    finally:
        grown.close()
