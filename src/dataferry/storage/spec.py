"""What a datastore is (its registration), and how one becomes an fsspec filesystem.

A registration is a kind plus plain options (stored in the catalog) plus the *names* of
its secret options. Secret values come from the workspace's secrets file or from the
environment variables the registration names, never from the catalog.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from dataferry._lazy import LazyPattern
from dataferry._record import field, record
from dataferry.errors import (
    DatastoreError,
    InvalidNameError,
    SecretNotFoundError,
    UnknownProtocolError,
)
from dataferry.storage.kinds import kind_entry
from dataferry.storage.secrets import redact

if TYPE_CHECKING:
    import fsspec

    from dataferry.storage.location import StorageLocation
    from dataferry.storage.secrets import SecretStore

_NAME_RE = LazyPattern(r"^[A-Za-z0-9_]{1,255}$")


def validate_datastore_name(name: object) -> str:
    """Return the datastore name lower-cased; names are case-insensitive, as in Azure ML.

    Raises:
        InvalidNameError: the name is empty or holds anything but letters, digits and ``_``.
    """
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidNameError(
            f"invalid datastore name {name!r}: use 1-255 letters, digits and '_' "
            "(for example 'training_data')."
        )
    return name.lower()


@record(frozen=True, slots=True)
class DatastoreSpec:
    """A datastore registration as the catalog stores it (no secret values)."""

    name: str
    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)
    secret_keys: tuple[str, ...] = ()
    secret_env: Mapping[str, str] = field(default_factory=dict)

    def secrets(self, store: SecretStore) -> dict[str, str]:
        """Collect the secret values this datastore needs.

        Raises:
            SecretNotFoundError: a named environment variable is unset, or a stored
                secret is missing from the secrets file.
        """
        values: dict[str, str] = {}
        for option, var in self.secret_env.items():
            value = os.environ.get(var)
            if value is None:
                raise SecretNotFoundError(
                    f"datastore '{self.name}' reads its {option} from the environment "
                    f"variable {var}, which is not set; export {var}=... and try again."
                )
            values[option] = value
        if self.secret_keys:
            stored = store.get(self.name)
            for option in self.secret_keys:
                if option not in stored:
                    raise SecretNotFoundError(
                        f"datastore '{self.name}' needs its {option}, but it is missing "
                        f"from {store.path}; register the datastore again with "
                        "overwrite=True to store it."
                    )
                values[option] = stored[option]
        return values


_Builder = Callable[
    [Mapping[str, Any], Mapping[str, str]], tuple["fsspec.AbstractFileSystem", str]
]
_Validator = Callable[[str, Mapping[str, Any], Mapping[str, str], bool], None]

# Where two spellings differing only in case name one file: SMB shares (Azure Files, an
# fsspec smb:// URL) and the default filesystems of macOS and Windows. Blob stores and
# local folders on Linux tell case apart.
_CASE_INSENSITIVE_PROTOCOLS = frozenset({"smb"})
_CASE_INSENSITIVE_PLATFORMS = frozenset({"darwin", "win32"})


def is_case_insensitive(spec: DatastoreSpec, *, platform: str = sys.platform) -> bool:
    """True if the datastore's paths ignore case, so places are compared case-folded.

    Args:
        spec: the registration (its kind, and for ``fsspec`` its URL's protocol).
        platform: the ``sys.platform`` a local folder is on.
    """
    if kind_entry(spec.kind).case_insensitive:
        return True
    if spec.kind == "local":
        return platform in _CASE_INSENSITIVE_PLATFORMS
    if spec.kind == "fsspec":
        protocol = str(spec.options.get("url", "")).partition("://")[0]
        return protocol.lower() in _CASE_INSENSITIVE_PROTOCOLS
    return False


def _load(target: str) -> Any:
    """A ``module:function`` of the registry, imported on first use so that
    ``import dataferry`` never pulls in a cloud SDK."""
    module, func = target.split(":")
    return getattr(importlib.import_module(module), func)


def _missing_package(spec: DatastoreSpec, exc: ImportError) -> DatastoreError:
    hint = kind_entry(spec.kind).install_hint or "install it"
    return DatastoreError(
        f"datastore '{spec.name}' ({spec.kind}) needs a package that is not "
        f"installed: {exc.name or exc}; {hint} and try again."
    )


def open_location(spec: DatastoreSpec, store: SecretStore) -> StorageLocation:
    """Turn a registration into a ``StorageLocation`` (filesystem + root).

    Makes no remote call: clients connect on first use, with bounded timeouts.

    Raises:
        SecretNotFoundError: a credential is missing.
        DatastoreError: unknown kind, or the backend package is not installed (the
            message says which and how to install it).
    """
    entry = kind_entry(spec.kind)
    secrets = spec.secrets(store)
    try:
        builder: _Builder = _load(entry.builder)
        fs, root = builder(spec.options, secrets)
    except ImportError as exc:
        raise _missing_package(spec, exc) from None
    except (UnknownProtocolError, DatastoreError):
        raise
    except ValueError as exc:
        raise DatastoreError(
            f"datastore '{spec.name}': {redact(str(exc), secrets)}"
        ) from None
    from dataferry.storage.location import StorageLocation  # fsspec: on first use

    return StorageLocation(
        spec.name, fs, root, is_case_insensitive=is_case_insensitive(spec)
    )


def check_registration(
    spec: DatastoreSpec, secrets: Mapping[str, str], *, create: bool
) -> None:
    """Run the kind's registration check: the store answers, accepts the credentials,
    and the container exists (created first with ``create``). Kinds without a check
    (local folders, fsspec URLs) pass.

    Raises:
        DatastoreAuthenticationError: the credentials were refused.
        DatastoreUnreachableError: the store did not answer within the timeouts.
        StorageError: the container is missing (and ``create`` is False).
        DatastoreError: the backend package is not installed.
    """
    entry = kind_entry(spec.kind)
    if not entry.validator:
        return
    try:
        validator: _Validator = _load(entry.validator)
    except ImportError as exc:
        raise _missing_package(spec, exc) from None
    validator(spec.name, spec.options, secrets, create)
