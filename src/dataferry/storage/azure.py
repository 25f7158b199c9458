"""Azure Blob and ADLS Gen2 datastores: addresses, bounded clients, registration checks.

Every client made here has a connect timeout, a read timeout and a short retry policy,
so a closed port or an unreachable host is a typed error within seconds, not minutes of
the SDK's default retries. Secret values are only ever handed to the Azure clients;
every message built from a server's answer goes through ``redact`` first.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import re
from typing import TYPE_CHECKING, Any

from dataferry.errors import (
    DatastoreAuthenticationError,
    DatastoreError,
    DatastoreUnreachableError,
    StorageError,
)
from dataferry.storage.secrets import redact

if TYPE_CHECKING:
    from collections.abc import Mapping

    import fsspec

CONNECT_TIMEOUT_S = 3
READ_TIMEOUT_S = 60
IO_RETRIES = 3  # transfers ride out a short outage
CHECK_RETRIES = 1  # a registration check answers quickly


def account_url(options: Mapping[str, Any]) -> str:
    """The blob service URL of a registration.

    ``endpoint`` None gives ``https://<account>.blob.core.windows.net``; a suffix gives
    ``<protocol>://<account>.blob.<suffix>``; a host that is an IP address or
    ``localhost`` (an emulator, e.g. ``127.0.0.1:10000`` with ``protocol="http"``) gives
    the path-style ``<protocol>://<host>/<account>``; a full URL is used as given.

    Raises:
        DatastoreError: ``protocol`` is neither http nor https.
    """
    endpoint = str(options.get("endpoint") or "core.windows.net").rstrip("/")
    if endpoint.startswith(("http://", "https://")):
        return endpoint
    protocol = str(options.get("protocol") or "https").lower()
    if protocol not in ("http", "https"):
        raise DatastoreError(
            f"protocol {options.get('protocol')!r} is not supported: use 'https' "
            "(or 'http' for a local emulator)."
        )
    account = options["account_name"]
    if _is_emulator_host(endpoint):
        return f"{protocol}://{endpoint}/{account}"
    return f"{protocol}://{account}.blob.{endpoint}"


def _is_emulator_host(endpoint: str) -> bool:
    if endpoint.startswith("["):  # [IPv6]:port
        host = endpoint[1 : endpoint.find("]")]
    elif endpoint.count(":") == 1:  # host:port (a bare IPv6 address has more)
        host = endpoint.rsplit(":", 1)[0]
    else:
        host = endpoint
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def connection_string(options: Mapping[str, Any], secrets: Mapping[str, str]) -> str:
    """A connection string for key or SAS access (a given one is used as it is)."""
    if "connection_string" in secrets:
        return secrets["connection_string"]
    url = account_url(options)
    parts = [f"BlobEndpoint={url}", f"AccountName={options['account_name']}"]
    if "account_key" in secrets:
        protocol = url.split(":", 1)[0]
        parts = [f"DefaultEndpointsProtocol={protocol}", *parts]
        parts.append(f"AccountKey={secrets['account_key']}")
    elif "sas_token" in secrets:
        parts.append(f"SharedAccessSignature={secrets['sas_token'].lstrip('?')}")
    return ";".join(parts) + ";"


def client_kwargs(retries: int, *, asynchronous: bool) -> dict[str, Any]:
    """Timeouts and a linear retry policy for an Azure storage client."""
    from azure.storage.blob import LinearRetry as SyncRetry
    from azure.storage.blob.aio import LinearRetry as AsyncRetry

    kind = AsyncRetry if asynchronous else SyncRetry
    policy = kind(backoff=1, retry_total=retries, random_jitter_range=0)
    return {
        "connection_timeout": CONNECT_TIMEOUT_S,
        "read_timeout": READ_TIMEOUT_S,
        "retry_policy": policy,
    }


def azure_blob_filesystem(
    options: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[fsspec.AbstractFileSystem, str]:
    """An Azure Blob container through adlfs, with bounded timeouts and retries."""
    from dataferry.storage.azure_fs import BoundedBlobFileSystem

    fs = BoundedBlobFileSystem.create(options, secrets)
    return fs, str(options["container_name"])


def azure_data_lake_gen2_filesystem(
    options: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[fsspec.AbstractFileSystem, str]:
    """An ADLS Gen2 filesystem (container) through adlfs; service principal or key."""
    from dataferry.storage.azure_fs import BoundedBlobFileSystem

    fs = BoundedBlobFileSystem.create(options, secrets)
    return fs, str(options["filesystem"])


_SIGNATURE = re.compile(r"(sig=)[^&\s\"']+", re.IGNORECASE)


class RedactSignatures(logging.Filter):
    """Replaces a SAS signature in a log record: urllib3 logs every request line, with
    its query string, at DEBUG."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the record's message without the signature; keep the record."""
        message = record.getMessage()
        if "sig=" in message.lower():
            record.msg, record.args = _SIGNATURE.sub(r"\1REDACTED", message), ()
        return True


def _guard_request_logs() -> None:
    logger = logging.getLogger("urllib3.connectionpool")
    if not any(isinstance(f, RedactSignatures) for f in logger.filters):
        logger.addFilter(RedactSignatures())


def _sync_container_client(
    options: Mapping[str, Any], secrets: Mapping[str, str], container: str
) -> Any:
    from azure.storage.blob import BlobServiceClient

    _guard_request_logs()
    kwargs = client_kwargs(CHECK_RETRIES, asynchronous=False)
    if "client_secret" in secrets:
        from azure.identity import ClientSecretCredential

        credential = ClientSecretCredential(
            options["tenant_id"], options["client_id"], secrets["client_secret"]
        )
        service = BlobServiceClient(account_url(options), credential, **kwargs)
    elif secrets:
        service = BlobServiceClient.from_connection_string(
            connection_string(options, secrets), **kwargs
        )
    else:
        service = BlobServiceClient(account_url(options), **kwargs)
    return service.get_container_client(container)


def check_container(
    name: str, options: Mapping[str, Any], secrets: Mapping[str, str], create: bool
) -> None:
    """Check that the container exists and the credentials are accepted (or create it).

    Raises:
        DatastoreAuthenticationError: the store refused the credentials (403).
        DatastoreUnreachableError: no answer within the timeouts (after one retry).
        StorageError: the container is missing and ``create`` is False, or another
            error answer.
    """
    from azure.core.exceptions import (
        ClientAuthenticationError,
        HttpResponseError,
        ResourceExistsError,
        ResourceNotFoundError,
        ServiceRequestError,
        ServiceResponseError,
    )

    container = str(options.get("container_name") or options.get("filesystem"))
    url = account_url(options)
    client = _sync_container_client(options, secrets, container)
    try:
        with client:
            try:
                # a listing, not get_container_properties: a container SAS may list
                # but never read the container's properties
                next(iter(client.list_blobs(results_per_page=1).by_page()), None)
            except ResourceNotFoundError:
                if not create:
                    raise StorageError(
                        f"datastore '{name}': container '{container}' does not exist "
                        f"at {url}; pass create_if_not_exists=True to create it, or "
                        "skip_validation=True to register it as it is."
                    ) from None
                # created meanwhile by someone else: what we wanted
                with contextlib.suppress(ResourceExistsError):
                    client.create_container()
    except ClientAuthenticationError as exc:
        raise _refused(name, url, exc, secrets) from None
    except HttpResponseError as exc:
        if exc.status_code in (401, 403):
            raise _refused(name, url, exc, secrets) from None
        raise StorageError(
            f"datastore '{name}': {url} answered {exc.status_code}: "
            f"{redact(_reason(exc), secrets)}"
        ) from None
    except (ServiceRequestError, ServiceResponseError) as exc:
        raise unreachable(name, url, exc, secrets) from None


def _reason(exc: Any) -> str:
    return str(getattr(exc, "reason", None) or exc).splitlines()[0]


def _refused(
    name: str, url: str, exc: Any, secrets: Mapping[str, str]
) -> DatastoreAuthenticationError:
    # no status: the service principal got no token (azure-identity)
    status = f"HTTP {exc.status_code}: " if exc.status_code else ""
    return DatastoreAuthenticationError(
        f"datastore '{name}': {url} refused its credentials ({status}"
        f"{redact(_reason(exc), secrets)}); check the account key, SAS token or "
        "service principal and register again (nothing was registered)."
    )


def unreachable(
    name: str, url: str, exc: BaseException, secrets: Mapping[str, str]
) -> DatastoreUnreachableError:
    """The typed error for a store that did not answer (secrets redacted)."""
    return DatastoreUnreachableError(
        f"datastore '{name}': no answer from {url} within {CONNECT_TIMEOUT_S} s "
        f"(connect) / {READ_TIMEOUT_S} s (read): {redact(str(exc), secrets)}; check "
        "the endpoint and protocol, and that the store is running."
    )
