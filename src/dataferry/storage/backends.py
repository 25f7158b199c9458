"""Builders of the kinds without a module of their own: options + secrets -> (fsspec
filesystem, root path). Azure Blob and ADLS Gen2 are in ``storage.azure``.

Each is imported lazily through the registry (``storage.kinds``) so that a cloud SDK is
only imported by a workspace that uses it.
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
    from dataferry.storage.azure import CONNECT_TIMEOUT_S

    fs = SMBFileSystem(
        host=host,
        username=options["account_name"],
        password=secrets["account_key"],
        timeout=CONNECT_TIMEOUT_S,
    )
    return fs, f"/{options['file_share_name']}"


def check_file_share(
    name: str, options: Mapping[str, Any], secrets: Mapping[str, str], create: bool
) -> None:
    """Connect to the share over SMB (bounded by the connect timeout) and check it
    exists, creating its root folder with ``create``.

    Raises:
        DatastoreAuthenticationError: the server refused the account key.
        DatastoreUnreachableError: no answer within the timeout.
        StorageError: the share is missing and ``create`` is False.
    """
    from dataferry.errors import DatastoreAuthenticationError, StorageError
    from dataferry.storage.azure import unreachable
    from dataferry.storage.secrets import redact

    where = f"{options['account_name']}/{options['file_share_name']}"
    try:
        fs, root = azure_file_filesystem(options, secrets)
        if not fs.exists(root):
            if not create:
                raise StorageError(
                    f"datastore '{name}': file share {where} does not exist; pass "
                    "create_if_not_exists=True or skip_validation=True."
                )
            fs.mkdir(root)
    except (StorageError, DatastoreError):
        raise
    except OSError as exc:  # smbprotocol: connection refused, timed out
        raise unreachable(name, where, exc, secrets) from None
    except Exception as exc:  # smbprotocol's logon failures are no OSError
        if type(exc).__name__ in (
            "LogonFailure",
            "AccessDenied",
            "SMBAuthenticationError",
        ):
            raise DatastoreAuthenticationError(
                f"datastore '{name}': {where} refused the account key "
                f"({redact(str(exc), secrets)}); check it and register again."
            ) from None
        raise


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
