"""One builder per datastore kind: options + secrets -> (fsspec filesystem, root path).

Each is imported lazily through ``spec._KINDS`` so that a cloud SDK is only imported by
a workspace that uses it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from dataferry.errors import DatastoreError, UnknownProtocolError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import fsspec


def local_filesystem(
    options: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[fsspec.AbstractFileSystem, str]:
    """A folder on this machine."""
    from fsspec.implementations.local import LocalFileSystem

    return LocalFileSystem(auto_mkdir=True), str(options["path"]).rstrip("/") or "/"


def _account_url(options: Mapping[str, Any], service: str) -> str:
    """``https://acct.blob.core.windows.net``, or the full URL given (an emulator)."""
    endpoint = options.get("endpoint") or "core.windows.net"
    if endpoint.startswith(("http://", "https://")):
        return str(endpoint).rstrip("/")
    protocol = options.get("protocol") or "https"
    return f"{protocol}://{options['account_name']}.{service}.{endpoint}"


def _connection_string(options: Mapping[str, Any], secrets: Mapping[str, str]) -> str:
    url = _account_url(options, "blob")
    parts = [f"BlobEndpoint={url}", f"AccountName={options['account_name']}"]
    if "account_key" in secrets:
        protocol = url.split(":", 1)[0]
        parts = [f"DefaultEndpointsProtocol={protocol}", *parts]
        parts.append(f"AccountKey={secrets['account_key']}")
    elif "sas_token" in secrets:
        parts.append(f"SharedAccessSignature={secrets['sas_token'].lstrip('?')}")
    return ";".join(parts) + ";"


def azure_blob_filesystem(
    options: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[fsspec.AbstractFileSystem, str]:
    """An Azure Blob container, through adlfs."""
    from adlfs import AzureBlobFileSystem

    if secrets:
        fs = AzureBlobFileSystem(connection_string=_connection_string(options, secrets))
    else:  # a public container: anonymous read access
        fs = AzureBlobFileSystem(
            account_name=options["account_name"],
            account_host=_account_url(options, "blob").split("://", 1)[1],
            anon=True,
        )
    return fs, str(options["container_name"])


def azure_data_lake_gen2_filesystem(
    options: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[fsspec.AbstractFileSystem, str]:
    """An ADLS Gen2 filesystem (container), through adlfs; service principal or key."""
    from adlfs import AzureBlobFileSystem

    if "client_secret" in secrets:
        url = _account_url(options, "dfs")
        fs = AzureBlobFileSystem(
            account_name=options["account_name"],
            account_host=url.split("://", 1)[1],
            tenant_id=options.get("tenant_id"),
            client_id=options.get("client_id"),
            client_secret=secrets["client_secret"],
        )
    else:
        fs = AzureBlobFileSystem(connection_string=_connection_string(options, secrets))
    return fs, str(options["filesystem"])


def azure_file_filesystem(
    options: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[fsspec.AbstractFileSystem, str]:
    """An Azure file share over SMB 3, the protocol Azure Files serves (fsspec ``smb``)."""
    if "account_key" not in secrets:
        raise DatastoreError(
            f"Azure file share '{options['file_share_name']}' is reached over SMB, which "
            "needs the account key; register it with account_key=..."
        )
    from fsspec.implementations.smb import SMBFileSystem

    endpoint = options.get("endpoint") or "core.windows.net"
    host = (
        endpoint.split("://", 1)[-1]
        if "://" in endpoint
        else (f"{options['account_name']}.file.{endpoint}")
    )
    fs = SMBFileSystem(
        host=host, username=options["account_name"], password=secrets["account_key"]
    )
    return fs, f"/{options['file_share_name']}"


def fsspec_filesystem(
    options: Mapping[str, Any], secrets: Mapping[str, str]
) -> tuple[fsspec.AbstractFileSystem, str]:
    """Any fsspec URL (``s3://bucket/prefix``, ``gcs://...``, ``memory://...``)."""
    import fsspec
    from fsspec.core import split_protocol

    protocol = split_protocol(str(options["url"]))[0]
    protocol = protocol or "file"
    try:
        cls = fsspec.get_filesystem_class(protocol)
    except ValueError as exc:
        raise UnknownProtocolError(
            f"protocol {protocol!r} is not known to fsspec"
        ) from exc
    storage_options = {**options.get("storage_options", {}), **secrets}
    fs = cls(**storage_options)
    root = cls._strip_protocol(str(options["url"]))
    return fs, str(root).rstrip("/") if root not in ("", "/") else str(root or "")
