"""Optional packages: importing one on use, and the install hint of a missing one.

A feature whose package is an extra (``pip install 'dataferry[conda]'``) imports it
through ``import_extra`` where it is used, so a missing package is an
``ExtraNotInstalledError`` naming the extra, not a bare ``ModuleNotFoundError``.
Imports nothing from dataferry but ``errors``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from dataferry.errors import ExtraNotInstalledError

if TYPE_CHECKING:
    from types import ModuleType

# fsspec protocols whose backend comes with one of our extras
_PROTOCOL_EXTRAS = {
    "http": "http",
    "https": "http",
    "s3": "s3",
    "s3a": "s3",
    "gs": "gcs",
    "gcs": "gcs",
    "az": "azure",
    "abfs": "azure",
    "abfss": "azure",
}


def import_extra(module: str, extra: str, needed_for: str) -> ModuleType:
    """``module``, imported; ``needed_for`` says what wants it (for the message).

    Raises:
        ExtraNotInstalledError: ``module`` is not installed (an ``ImportError``); the
            message names the extra that installs it.
    """
    try:
        return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module.split(".")[0]:
            raise  # the package is there but broken: its own error says more
        raise ExtraNotInstalledError(
            f"{needed_for} needs the package {module!r}, which is not installed; "
            f"install it with: pip install 'dataferry[{extra}]'"
        ) from exc


def protocol_hint(protocol: str | None) -> str:
    """``"; install it with: pip install 'dataferry[http]'"`` for a protocol an extra
    serves, else ``""`` (appended to an error about that protocol)."""
    extra = _PROTOCOL_EXTRAS.get((protocol or "").lower())
    return f"; install it with: pip install 'dataferry[{extra}]'" if extra else ""
