"""adlfs's filesystem with the service client dataferry needs: bounded and addressable.

adlfs builds its service client with the SDK's default retries (about 86 s against a
closed port) and always as ``https://<host>``; this subclass builds it with the
timeouts and retry policy of ``storage.azure`` and the registration's own URL (``http``
for an emulator). Imported only when an Azure datastore is opened.
"""

from __future__ import annotations

import errno
import functools
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from adlfs import AzureBlobFileSystem
from azure.core.exceptions import ServiceRequestError, ServiceResponseError
from azure.storage.blob.aio import LinearRetry

from dataferry.storage.azure import (
    CONNECT_TIMEOUT_S,
    IO_RETRIES,
    READ_TIMEOUT_S,
    account_url,
    client_kwargs,
    connection_string,
)
from dataferry.storage.azure_transfer import BlobTransfers

if TYPE_CHECKING:
    from collections.abc import Mapping

    from azure.core.pipeline import PipelineRequest, PipelineResponse


# set while one upload runs: adlfs retries an upload answered "not found" by calling
# itself again for as long as it believes the container exists, which it always does
# with ``assume_container_exists`` (a container removed since registration: forever)
_UPLOADING: ContextVar[bool] = ContextVar("_UPLOADING", default=False)


class _Unanswered(Exception):
    """No answer after the retries. Not an OSError while inside adlfs, which reads
    every OSError as "no such file" (``isdir``/``isfile`` return False)."""


class _Refused(Exception):
    """The store refused the credentials (401/403); not an OSError inside adlfs."""


class OutcomeRetry(LinearRetry):  # type: ignore[misc]
    """The retry policy, which also says how retrying ended: still no answer, or a
    refused credential. It is the one place of an Azure storage client's pipeline
    that can be replaced and sees every attempt's outcome."""

    async def send(self, request: PipelineRequest) -> PipelineResponse:
        url = request.http_request.url.split("?", 1)[0]  # never a SAS token
        try:
            response = await super().send(request)
        except (ServiceRequestError, ServiceResponseError) as exc:
            raise _Unanswered(
                f"no answer from {url} within {CONNECT_TIMEOUT_S} s (connect) / "
                f"{READ_TIMEOUT_S} s (read): {type(exc).__name__}; check the endpoint "
                "and that the store is running"
            ) from None
        status = response.http_response.status_code
        if status in (401, 403):
            raise _Refused(
                f"{url} refused the datastore's credentials (HTTP {status}); check its "
                "key, SAS token or service principal and register it again"
            )
        return response


def _as_oserror(call: Any) -> Any:
    """``call``, raising ConnectionError/PermissionError (which the storage layer
    reports naming the datastore and path) for the outcomes above."""

    @functools.wraps(call)
    def method(*args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except _Unanswered as exc:
            raise ConnectionError(str(exc)) from None
        except _Refused as exc:
            raise PermissionError(str(exc)) from None

    return method


# the synchronous calls dataferry makes (listing, reading, transfers, removal)
_SYNC_CALLS = (
    "ls", "info", "exists", "isdir", "isfile", "find", "glob", "du", "walk",
    "cat_file", "pipe_file", "put_file", "get_file", "open", "rm", "rm_file",
    "mkdir", "makedirs", "put", "get", "cat", "size", "copy",
)  # fmt: skip


class BoundedBlobFileSystem(AzureBlobFileSystem):  # type: ignore[misc]
    """An ``AzureBlobFileSystem`` whose service client has bounded timeouts/retries;
    whole files move through its ``blob_transfers`` (``storage.azure_transfer``)."""

    blob_transfers: BlobTransfers

    def __init__(self, *args: Any, service_url: str = "", **kwargs: Any) -> None:
        self._service_url = service_url  # read by do_connect, which __init__ calls
        super().__init__(*args, **kwargs)

    @classmethod
    def create(
        cls, options: Mapping[str, Any], secrets: Mapping[str, str]
    ) -> BoundedBlobFileSystem:
        """The filesystem of a registration: key/SAS/connection string, service
        principal, or anonymous (a public container) when no secret is given."""
        url = account_url(options)
        # the container was checked (or created) at registration; asking again before
        # every write needs a permission a container SAS does not give
        common: dict[str, Any] = {
            "account_name": str(options["account_name"]),
            "service_url": url,
            "assume_container_exists": True,
        }
        if "client_secret" in secrets:
            fs = cls(
                **common,
                tenant_id=options.get("tenant_id"),
                client_id=options.get("client_id"),
                client_secret=secrets["client_secret"],
            )
        elif secrets:
            fs = cls(**common, connection_string=connection_string(options, secrets))
        else:
            fs = cls(**common, anon=True)
        if not fs.__dict__.get("_oserrors"):  # fsspec hands out cached instances
            # per instance, after fsspec has made its sync methods on the instance
            for call in _SYNC_CALLS:
                setattr(fs, call, _as_oserror(getattr(fs, call)))
            fs._oserrors = True
            fs.blob_transfers = BlobTransfers(options, secrets)
        return fs

    async def _put_file(self, lpath: str, rpath: str, *args: Any, **kwargs: Any) -> Any:
        """adlfs's upload of one file, failing instead of calling itself again when
        the store answers that the container does not exist."""
        if _UPLOADING.get():
            container = rpath.split("/", 1)[0]
            raise FileNotFoundError(
                errno.ENOENT,
                f"container '{container}' does not exist (removed since the datastore "
                "was registered?); register the datastore again with "
                "create_if_not_exists=True",
                rpath,
            )
        token = _UPLOADING.set(True)
        try:
            return await super()._put_file(lpath, rpath, *args, **kwargs)
        finally:
            _UPLOADING.reset(token)

    def do_connect(self) -> None:
        """Make the service client (called by adlfs's ``__init__``)."""
        from azure.storage.blob.aio import BlobServiceClient

        kwargs = client_kwargs(IO_RETRIES, asynchronous=True)
        kwargs["retry_policy"] = OutcomeRetry(
            backoff=1, retry_total=IO_RETRIES, random_jitter_range=0
        )
        if self.connection_string is not None:
            self.service_client = BlobServiceClient.from_connection_string(
                self.connection_string, **kwargs
            )
        else:
            self.account_url = self._service_url
            self.service_client = BlobServiceClient(
                self._service_url, credential=self.credential, **kwargs
            )
