"""Whole-file transfers to and from an Azure container through the SDK's own
``upload_blob``/``download_blob``, from the caller's threads.

Why not adlfs's ``put_file``/``get_file``: each of those hops from the caller's thread
to fsspec's one event loop, where every file's request, response and callback is
handled in that single thread by the asynchronous SDK pipeline. With many small files
that loop thread is the bottleneck (measured: 0.45-0.65x the SDK's threads at the same
concurrency). The synchronous client runs each file in the thread that asked for it,
over one connection pool sized for the transfers in flight, exactly as the SDK's own
threads do. Listing, reading, staging and commits stay on adlfs.

The client has the bounded timeouts and retries of ``storage.azure``; its failures come
out as the ``OSError`` kinds the storage layer reports: ``ConnectionError`` (no answer:
retried by ``storage.retry``), ``PermissionError`` (credentials refused) and
``FileNotFoundError`` (no such blob or container).
"""

from __future__ import annotations

import errno
import threading
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from dataferry.storage.azure import (
    CONNECT_TIMEOUT_S,
    IO_RETRIES,
    READ_TIMEOUT_S,
    account_url,
    client_kwargs,
    connection_string,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping
    from typing import IO

    from dataferry.storage.location import StorageLocation

CONNECTIONS = 80  # files (64) or blocks (2 x 8) in flight, with room to spare
LIST_PAGE = 250  # blobs a listing page asks for (the store sends up to 5,000): the
# first transfers start after a quarter of a 1,000-file listing, not after all of it


class BlobTransfers:
    """Upload and download whole files of one registration's account (thread-safe).

    ``options`` and ``secrets`` are the registration's (as for ``BoundedBlobFileSystem``);
    the client is made on first use and shared by every thread.
    """

    def __init__(self, options: Mapping[str, Any], secrets: Mapping[str, str]) -> None:
        self._options, self._secrets = dict(options), dict(secrets)
        self._service: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:  # never the secrets
        return f"BlobTransfers({account_url(self._options)})"

    def put_file(
        self,
        local: str,
        container: str,
        blob: str,
        *,
        progress: Callable[[int], None],
        max_concurrency: int,
    ) -> None:
        """Upload ``local`` to ``blob`` in ``container`` (replacing it); ``progress``
        is told the bytes sent so far.

        Raises:
            ConnectionError: no answer within the timeouts and retries.
            PermissionError: the credentials were refused.
            FileNotFoundError: the container does not exist.
            OSError: another error answer, or ``local`` could not be read.
        """
        with _as_oserror(f"{container}/{blob}", upload=True), open(local, "rb") as fh:
            self._client().get_blob_client(container, blob).upload_blob(
                fh,
                overwrite=True,
                metadata={"is_directory": "false"},  # as adlfs writes a file
                max_concurrency=max_concurrency,
                progress_hook=lambda done, _total: progress(done),
            )

    def get_file(
        self,
        container: str,
        blob: str,
        local: str,
        *,
        progress: Callable[[int], None],
        max_concurrency: int,
    ) -> None:
        """Download ``blob`` of ``container`` into ``local`` (created or truncated);
        ``progress`` is told the bytes received so far.

        Raises:
            ConnectionError, PermissionError: as for ``put_file``.
            FileNotFoundError: no such blob or container.
            OSError: another error answer, or ``local`` could not be written.
        """
        with _as_oserror(f"{container}/{blob}", upload=False):
            stream = (
                self._client()
                .get_blob_client(container, blob)
                .download_blob(
                    max_concurrency=max_concurrency,
                    progress_hook=lambda done, _total: progress(done),
                )
            )
            with open(local, "wb") as fh:
                stream.readinto(fh)

    def open_download(
        self, container: str, blob: str, *, max_concurrency: int, etag: str = ""
    ) -> tuple[int, str, Callable[[IO[bytes]], object]]:
        """Start downloading ``blob`` (its first block is asked now): its size, its
        etag, and a call writing all of it into a seekable sink, ``max_concurrency``
        blocks at once, each on condition of that etag. ``etag``: only this version
        (another one raises ``TransferIncompleteError``).

        Raises:
            ConnectionError, PermissionError, FileNotFoundError: as for ``get_file``.
            TransferIncompleteError: the blob is not (or no longer) version ``etag``.
        """
        path = f"{container}/{blob}"
        condition: dict[str, Any] = {}
        if etag:
            from azure.core import MatchConditions

            condition = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
        with _as_oserror(path, upload=False):
            stream = (
                self._client()
                .get_blob_client(container, blob)
                .download_blob(max_concurrency=max_concurrency, **condition)
            )

        def into(sink: IO[bytes]) -> object:
            with _as_oserror(path, upload=False):
                return stream.readinto(sink)

        return int(stream.size), str(stream.properties.etag), into

    def list_pages(
        self, container: str, prefix: str
    ) -> Iterator[list[tuple[str, int, str]]]:
        """The blobs of ``container`` whose names start with ``prefix``, page by page
        as the store sends them (``LIST_PAGE`` a page): ``(name, size, etag)`` each,
        folder placeholders left out (as adlfs's listing leaves them out).

        Raises:
            ConnectionError, PermissionError, FileNotFoundError: as for ``get_file``
                (FileNotFoundError: no such container).
        """
        with _as_oserror(f"{container}/{prefix}", upload=False):
            pages = (
                self._client()
                .get_container_client(container)
                .list_blobs(
                    name_starts_with=prefix or None,
                    include=["metadata"],
                    results_per_page=LIST_PAGE,
                )
                .by_page()
            )
            for page in pages:
                yield [
                    (b.name, int(b.size or 0), str(b.etag or "").strip('"'))
                    for b in page
                    if not _is_folder(b.metadata)
                ]

    def _client(self) -> Any:
        with self._lock:
            if self._service is None:
                self._service = _service_client(self._options, self._secrets)
            return self._service


def _service_client(options: Mapping[str, Any], secrets: Mapping[str, str]) -> Any:
    import requests
    from azure.storage.blob import BlobServiceClient

    # requests keeps 10 connections per host by default: with more threads than
    # that, every extra request would open (and drop) a connection of its own
    session = requests.Session()
    adapter = requests.adapters.HTTPAdapter(
        pool_connections=4, pool_maxsize=CONNECTIONS
    )
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    kwargs = client_kwargs(IO_RETRIES, asynchronous=False)
    kwargs["session"] = session
    if "client_secret" in secrets:
        from azure.identity import ClientSecretCredential

        credential = ClientSecretCredential(
            options["tenant_id"], options["client_id"], secrets["client_secret"]
        )
        return BlobServiceClient(account_url(options), credential, **kwargs)
    if secrets:
        return BlobServiceClient.from_connection_string(
            connection_string(options, secrets), **kwargs
        )
    return BlobServiceClient(account_url(options), **kwargs)


@contextmanager
def _as_oserror(path: str, *, upload: bool) -> Iterator[None]:
    """Turn the SDK's outcomes into the ``OSError`` kinds named in the module doc."""
    try:
        yield
    except Exception as exc:
        mapped = _mapped(exc, path, upload=upload)
        if mapped is None:
            raise
        raise mapped from None


def _mapped(exc: BaseException, path: str, *, upload: bool) -> OSError | None:
    from azure.core.exceptions import (
        HttpResponseError,
        ResourceModifiedError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    if isinstance(exc, (ServiceRequestError, ServiceResponseError)):
        return ConnectionError(
            f"no answer for {path} within {CONNECT_TIMEOUT_S} s (connect) / "
            f"{READ_TIMEOUT_S} s (read): {type(exc).__name__}; check the endpoint "
            "and that the store is running"
        )
    if isinstance(exc, ResourceModifiedError):
        from dataferry.errors import TransferIncompleteError

        return TransferIncompleteError(
            f"'{path}' was overwritten during the read (its etag changed); read it "
            "again"
        )
    if isinstance(exc, ResourceNotFoundError):
        container = path.split("/", 1)[0]
        if upload:
            return FileNotFoundError(
                errno.ENOENT,
                f"container '{container}' does not exist (removed since the datastore "
                "was registered?); register the datastore again with "
                "create_if_not_exists=True",
                path,
            )
        return FileNotFoundError(errno.ENOENT, "no such file on the store", path)
    if isinstance(exc, HttpResponseError):
        status = exc.status_code
        if status in (401, 403):
            return PermissionError(
                errno.EACCES,
                f"the store refused the datastore's credentials (HTTP {status}); "
                "check its key, SAS token or service principal and register it again",
                path,
            )
        return OSError(errno.EIO, f"the store answered HTTP {status}", path)
    return None


def _is_folder(metadata: Mapping[str, str] | None) -> bool:
    # adlfs marks a folder it made with ``is_directory``, ADLS Gen2 with ``hdi_isfolder``
    meta = {k.lower(): str(v).lower() for k, v in (metadata or {}).items()}
    return "true" in (meta.get("is_directory"), meta.get("hdi_isfolder"))


def split(loc: StorageLocation, full: str) -> tuple[str, str]:
    """Container and blob name of a full adlfs path (``container/a/b.csv``).

    The path is stripped through the location's cache: adlfs's ``split_path`` parses
    it as a URL on every call (measured: 60 us a file, in every transfer thread).
    A path naming a blob version (``?versionid=``) is left to adlfs.
    """
    path = loc._strip(full).lstrip("/")
    if "?" in path:
        container, blob, _version = loc.fs.split_path(path)
        return str(container), str(blob)
    container, _, blob = path.partition("/")
    return container, blob
