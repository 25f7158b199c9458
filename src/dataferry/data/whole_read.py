"""Reading a dataset's files as one version: old or new, never a mix.

A dataset's files are listed, then read. On an object store an overwrite of an output
publishes file by file, so a read that overlapped it could mix old and new files; each
file carries the pin of its listing (``storage.read_pin``), checked once the files are
read. A whole read (``to_pandas_dataframe``, ``download``) then lists and reads
again; a streamed one has handed out its rows already, so it raises.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, TypeVar

from dataferry.data.listing_scope import forget_listings
from dataferry.errors import PathNotFoundError, TransferIncompleteError
from dataferry.storage.read_pin import READ_ATTEMPTS, changed_error, changed_outputs

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from dataferry.data.sources import ResolvedFile

log = logging.getLogger(__name__)

T = TypeVar("T")


def changed_since_listed(files: Sequence[ResolvedFile]) -> list[str]:
    """``datastore:/output`` of each output among ``files`` overwritten since listed."""
    return changed_outputs(f.pin for f in files if f.pin is not None)


def check_unchanged(files: Sequence[ResolvedFile], what: str) -> None:
    """Raise if an output among ``files`` was overwritten since they were listed.

    Raises:
        OutputChangedError: the message names the output(s) and ``what`` read them.
    """
    changed = changed_since_listed(files)
    if changed:
        raise changed_error(changed, what, 1)


def read_whole(
    list_files: Callable[[], list[ResolvedFile]],
    read: Callable[[list[ResolvedFile]], T],
    what: str,
) -> T:
    """``read(list_files())``, listed and read again while an output among the files
    was overwritten meanwhile (``READ_ATTEMPTS`` in all). A file that changed size
    or went during a read counts as such an overwrite when a pin says so.

    Raises:
        OutputChangedError: an output changed during every attempt.
        Whatever ``list_files`` and ``read`` raise.
    """
    changed: list[str] = []
    for attempt in range(1, READ_ATTEMPTS + 1):
        if attempt > 1:
            forget_listings()  # the listing kept for this preparation is the old one
        files = list_files()
        try:
            result = read(files)
        except (TransferIncompleteError, PathNotFoundError):
            # a file changed or went during the read: an overwrite, if a pin says so
            changed = changed_since_listed(files)
            if not changed:
                raise
            continue
        changed = changed_since_listed(files)
        if not changed:
            return result
        log.info("%s: %s changed while read (attempt %d)", what, changed, attempt)
    raise changed_error(changed, what, READ_ATTEMPTS)
